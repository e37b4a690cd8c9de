/**
 * ioredis and node-redis (RESP2 and RESP3) using streams, bitmaps, SORT and DUMP/RESTORE against
 * bunder and against a private real redis-server: each client library parses the replies into its own
 * structures, and the results must agree between the two servers. Skips when redis-server is absent.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import t, { type Test } from 'tap';
import { Bunder } from '../src/index.js';
import { hasBinary, startRedis, tempDir } from './fixtures/persistence/helpers.js';

const skip = hasBinary('redis-server') ? false : 'redis-server is not installed';

async function servers(t: Test): Promise<[number, number]> {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  t.teardown(() => kv.close());
  const redis = await startRedis(tempDir(t, 'bunder-clients-streams-'));
  t.teardown(() => redis.stop());
  return [redis.port, port];
}

/** Each step's result (or error message), Buffers as hex and Maps as sorted objects. */
async function record(steps: Array<() => Promise<unknown>>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const step of steps) {
    try {
      out.push(plain(await step()));
    } catch (e) {
      out.push(`error: ${(e as Error).message}`);
    }
  }
  return out;
}

function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return `hex:${v.toString('hex')}`;
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return plain(Object.fromEntries(v));
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) o[k] = plain((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}

function ioredisSteps(r: Redis): Array<() => Promise<unknown>> {
  return [
    () => r.xadd('s', '1-1', 'temp', '20', 'hum', '5'),
    () => r.xadd('s', 'MAXLEN', '~', '100', '2-1', 'temp', '21', 'hum', '6'),
    () => r.xadd('s', '3-*', 'other', 'x'),
    () => r.xlen('s'),
    () => r.xrange('s', '-', '+'),
    () => r.xrevrange('s', '+', '(1-1', 'COUNT', 1),
    () => r.xread('COUNT', 2, 'STREAMS', 's', '0'),
    () => r.xgroup('CREATE', 's', 'g', '0'),
    () => r.xreadgroup('GROUP', 'g', 'alice', 'COUNT', 2, 'STREAMS', 's', '>'),
    () => r.xpending('s', 'g'),
    () => r.xack('s', 'g', '1-1'),
    () => r.xclaim('s', 'g', 'bob', 0, '2-1', 'JUSTID'),
    () => r.xautoclaim('s', 'g', 'carol', 0, '0', 'COUNT', 5),
    () => r.xinfo('STREAM', 's'),
    () => r.xinfo('GROUPS', 's'),
    () => r.xdel('s', '3-0'),
    () => r.xtrim('s', 'MINID', '2-0'),
    () => r.xadd('s', '0-0', 'bad', 'id'),
    () => r.setbit('b', 7, 1),
    () => r.getbit('b', 7),
    () => r.bitcount('b', 0, -1, 'BIT'),
    () => r.bitpos('b', 1),
    () => r.call('BITFIELD', 'b', 'OVERFLOW', 'SAT', 'INCRBY', 'u4', '#1', '20', 'GET', 'i8', '0'),
    () => r.bitop('NOT', 'nb', 'b'),
    () => r.getBuffer('nb'),
    () => r.rpush('l', '3', '1', '2'),
    () => r.mset('w_1', '30', 'w_2', '10', 'w_3', '20'),
    () => r.sort('l', 'BY', 'w_*', 'GET', '#', 'GET', 'w_*'),
    () => r.sort('l', 'ALPHA', 'DESC', 'LIMIT', 0, 2, 'STORE', 'dst'),
    async () => r.restore('copy', 0, (await r.dumpBuffer('s'))!),
    () => r.xrange('copy', '-', '+'),
  ];
}

t.test('ioredis gets the same results from bunder and Redis', { skip }, async (t) => {
  const [refPort, ourPort] = await servers(t);
  const results = [];
  for (const port of [refPort, ourPort]) {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: false });
    results.push(await record(ioredisSteps(r)));
    r.disconnect();
  }
  t.same(results[1], results[0], 'same results');
  t.notOk(JSON.stringify(results[0]).includes('error: ERR unknown'), 'every command exists');
});

function nodeRedisSteps(c: ReturnType<typeof createClient>): Array<() => Promise<unknown>> {
  return [
    () => c.xAdd('s', '1-1', { temp: '20', hum: '5' }),
    () =>
      c.xAdd(
        's',
        '2-1',
        { temp: '21' },
        { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 100 } },
      ),
    () => c.xRange('s', '-', '+'),
    () => c.xRevRange('s', '+', '-', { COUNT: 1 }),
    () => c.xRead({ key: 's', id: '0' }, { COUNT: 5 }),
    () => c.xGroupCreate('s', 'g', '0'),
    () => c.xReadGroup('g', 'alice', { key: 's', id: '>' }, { COUNT: 1 }),
    () => c.xPending('s', 'g'),
    () => c.xInfoStream('s'),
    () => c.xInfoGroups('s'),
    async () => {
      // A blocked read served by an XADD from another connection.
      const other = c.duplicate();
      await other.connect();
      const pending = other.xRead({ key: 's', id: '$' }, { BLOCK: 2000 });
      await new Promise((r) => setTimeout(r, 50));
      await c.xAdd('s', '9-9', { late: 'yes' });
      const got = await pending;
      await other.quit();
      return got;
    },
    () => c.setBit('b', 9, 1),
    () => c.bitCount('b'),
    () => c.bitPos('b', 1),
    () => c.bitField('b', [{ operation: 'GET', encoding: 'u8', offset: 0 }]),
    () => c.rPush('l', ['b', 'a', 'c']),
    () => c.sort('l', { ALPHA: true, DIRECTION: 'DESC' }),
  ];
}

for (const RESP of [2, 3] as const) {
  t.test(`node-redis (RESP${RESP}) gets the same results from bunder and Redis`, { skip }, async (t) => {
    const [refPort, ourPort] = await servers(t);
    const results = [];
    for (const port of [refPort, ourPort]) {
      const c = createClient({ socket: { port, host: '127.0.0.1' }, RESP, unstableResp3: true });
      await c.connect();
      results.push(await record(nodeRedisSteps(c)));
      await c.quit();
    }
    t.same(results[1], results[0], 'same results');
    t.notOk(
      JSON.stringify(results[0]).includes('error:'),
      `no step failed: ${JSON.stringify(results[0]).slice(0, 300)}`,
    );
  });
}
