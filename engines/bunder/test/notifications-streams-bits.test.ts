/**
 * Keyspace notifications of the stream, bitmap, SORT and RESTORE commands compared with the real Redis
 * on 127.0.0.1:6379 (database 15): with notify-keyspace-events KEA on both servers, the same commands
 * must publish the same keyspace and keyevent messages in the same order. Redis's setting is restored
 * afterwards.
 */
import t from 'tap';
import { Bunder } from '../src/index.js';
import { REDIS_PORT, redisSkip } from './helpers/diff-kit.js';
import { RespClient, type RespValue } from './helpers/resp-client.js';

const COMMANDS: string[][] = [
  ['XADD', 'n:s', '1-1', 'a', '1'],
  ['XADD', 'n:s', 'MAXLEN', '1', '2-1', 'a', '2'],
  ['XADD', 'n:s', 'NOMKSTREAM', '3-1', 'a', '3'],
  ['XADD', 'n:none', 'NOMKSTREAM', '3-1', 'a', '3'],
  ['XDEL', 'n:s', '3-1', '9-9'],
  ['XTRIM', 'n:s', 'MAXLEN', '0'],
  ['XSETID', 'n:s', '10-0'],
  ['XGROUP', 'CREATE', 'n:s', 'g', '0'],
  ['XGROUP', 'CREATE', 'n:new', 'g', '$', 'MKSTREAM'],
  ['XADD', 'n:s', '11-0', 'b', '1'],
  ['XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', 'n:s', '>'],
  ['XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', 'n:s', '0'],
  ['XCLAIM', 'n:s', 'g', 'bob', '0', '11-0'],
  ['XAUTOCLAIM', 'n:s', 'g', 'carol', '0', '0'],
  ['XACK', 'n:s', 'g', '11-0'],
  ['XGROUP', 'CREATECONSUMER', 'n:s', 'g', 'dave'],
  ['XGROUP', 'DELCONSUMER', 'n:s', 'g', 'dave'],
  ['XGROUP', 'SETID', 'n:s', 'g', '0'],
  ['XGROUP', 'DESTROY', 'n:s', 'g'],
  ['SETBIT', 'n:b', '7', '1'],
  ['SETBIT', 'n:b', '7', '1'],
  ['BITFIELD', 'n:b', 'SET', 'u8', '8', '255', 'GET', 'u4', '0'],
  ['BITFIELD', 'n:b', 'GET', 'u4', '0'],
  ['BITOP', 'NOT', 'n:c', 'n:b'],
  ['BITOP', 'AND', 'n:c', 'n:nothing'],
  ['RPUSH', 'n:l', '3', '1', '2'],
  ['SORT', 'n:l', 'STORE', 'n:sorted'],
  ['SORT', 'n:nothing', 'STORE', 'n:sorted'],
  ['DEL', 'n:l'],
];

function messages(c: RespClient): string[] {
  const out: string[] = [];
  for (const p of c.pushes.splice(0)) {
    if (p.t === 'array' && p.v) out.push(p.v.map((x) => (x as { v: string }).v).join(' '));
  }
  return out;
}

async function transcript(port: number, dump: string | null): Promise<string[]> {
  const sub = await RespClient.connect(port);
  const c = await RespClient.connect(port);
  await c.call('SELECT', '15');
  await c.call('FLUSHDB');
  await sub.call('PSUBSCRIBE', '__key*@15__:*');
  for (const cmd of COMMANDS) await c.call(...cmd);
  if (dump !== null) {
    await c.call('RESTORE', 'n:r', '0', dump);
    await c.call('RESTORE', 'n:r', '0', dump, 'REPLACE');
    await c.call('RESTORE', 'n:r', '1', dump, 'REPLACE', 'ABSTTL');
  }
  await c.call('PING');
  await new Promise((r) => setTimeout(r, 100));
  const out = messages(sub);
  sub.close();
  c.close();
  return out;
}

const skip = await redisSkip();

t.test('stream, bitmap, SORT and RESTORE notifications match Redis', { skip }, async (t) => {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const redis = await RespClient.connect(REDIS_PORT);
  const bunder = await RespClient.connect(port);
  const before = await redis.call('CONFIG', 'GET', 'notify-keyspace-events');
  const previous = before.t === 'array' && before.v ? (before.v[1] as { v: string }).v : '';
  t.teardown(async () => {
    await redis.call('CONFIG', 'SET', 'notify-keyspace-events', previous);
    await redis.call('SELECT', '15');
    await redis.call('FLUSHDB');
    redis.close();
    bunder.close();
    await kv.close();
  });
  await redis.call('CONFIG', 'SET', 'notify-keyspace-events', 'KEA');
  await bunder.call('CONFIG', 'SET', 'notify-keyspace-events', 'KEA');
  await redis.call('SELECT', '15');
  await redis.call('RPUSH', 'n:src', 'x');
  const dump = (await redis.call('DUMP', 'n:src')) as RespValue & { v: string };
  const expected = await transcript(REDIS_PORT, dump.v);
  const actual = await transcript(port, dump.v);
  t.ok(expected.length > 40, `Redis published ${expected.length} messages`);
  t.same(actual, expected, 'the same messages in the same order');
});
