/**
 * Blocking XREAD / XREADGROUP over real sockets, each scenario run against the real Redis on
 * 127.0.0.1:6379 (database 14) and against bunder, with the transcripts (every reply, in order)
 * compared: wake-up by XADD, `$`, timeouts, several readers, consumer groups handing each entry to one
 * blocked consumer, a destroyed group, NOACK, MULTI (never blocks) and the RESP3 map reply.
 */
import t from 'tap';
import { Bunder } from '../src/index.js';
import { REDIS_PORT, redisSkip } from './helpers/diff-kit.js';
import { RespClient, type RespValue } from './helpers/resp-client.js';

type Open = () => Promise<RespClient>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A reply that has not arrived after `ms` is reported as "pending". */
async function within(p: Promise<RespValue>, ms: number): Promise<RespValue | 'pending'> {
  return Promise.race([p, sleep(ms).then(() => 'pending' as const)]);
}

/** Zeroes idle times in XPENDING's extended form. */
function noIdle(v: RespValue): RespValue {
  if (v.t !== 'array' || !v.v) return v;
  return {
    t: 'array',
    v: v.v.map((e) =>
      e.t === 'array' && e.v?.length === 4
        ? { t: 'array', v: [e.v[0]!, e.v[1]!, { t: 'int', v: '0' }, e.v[3]!] }
        : e,
    ),
  };
}

const scenarios: Record<string, (open: Open) => Promise<unknown[]>> = {
  async 'XADD wakes XREAD blocked on $ (only the new entry)'(open) {
    const [a, b] = [await open(), await open()];
    const log: unknown[] = [await b.call('XADD', 'k', '1-1', 'old', 'x')];
    const waiting = a.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '$');
    log.push(await within(waiting, 100));
    log.push(await b.call('XADD', 'k', '2-1', 'f', 'v'));
    log.push(await within(waiting, 1000));
    return log;
  },
  async 'XREAD times out with a null array'(open) {
    const a = await open();
    const started = Date.now();
    const r = await a.call('XREAD', 'BLOCK', '150', 'STREAMS', 'k', '0');
    const waited = Date.now() - started;
    return [r, waited >= 140 && waited < 1500];
  },
  async 'XREAD on several keys is served by the key that received data'(open) {
    const [a, b] = [await open(), await open()];
    const waiting = a.call('XREAD', 'COUNT', '5', 'BLOCK', '0', 'STREAMS', 'k1', 'k2', '$', '$');
    const log: unknown[] = [await within(waiting, 100)];
    log.push(await b.call('XADD', 'k2', '5-0', 'a', '1'));
    log.push(await within(waiting, 1000));
    return log;
  },
  async 'every blocked XREAD reader gets the entry'(open) {
    const [a, b, w] = [await open(), await open(), await open()];
    const p1 = a.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '0');
    const p2 = b.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '0');
    await sleep(50);
    return [await w.call('XADD', 'k', '3-3', 'x', 'y'), await within(p1, 1000), await within(p2, 1000)];
  },
  async 'a group hands each new entry to one blocked consumer'(open) {
    const [a, b, w] = [await open(), await open(), await open()];
    const log: unknown[] = [await w.call('XGROUP', 'CREATE', 'k', 'g', '$', 'MKSTREAM')];
    const p1 = a.call('XREADGROUP', 'GROUP', 'g', 'alice', 'BLOCK', '0', 'STREAMS', 'k', '>');
    await sleep(30);
    const p2 = b.call('XREADGROUP', 'GROUP', 'g', 'bob', 'BLOCK', '0', 'STREAMS', 'k', '>');
    await sleep(30);
    log.push(await w.call('XADD', 'k', '1-0', 'job', '1'));
    log.push(await within(p1, 1000), await within(p2, 100));
    log.push(await w.call('XADD', 'k', '2-0', 'job', '2'));
    log.push(await within(p2, 1000));
    log.push(noIdle(await w.call('XPENDING', 'k', 'g', '-', '+', '10')));
    return log;
  },
  async 'NOACK blocked reads leave nothing pending'(open) {
    const [a, w] = [await open(), await open()];
    const log: unknown[] = [await w.call('XGROUP', 'CREATE', 'k', 'g', '$', 'MKSTREAM')];
    const p = a.call('XREADGROUP', 'GROUP', 'g', 'c', 'NOACK', 'BLOCK', '0', 'STREAMS', 'k', '>');
    await sleep(30);
    log.push(
      await w.call('XADD', 'k', '1-0', 'a', 'b'),
      await within(p, 1000),
      await w.call('XPENDING', 'k', 'g'),
    );
    return log;
  },
  async 'destroying the group unblocks its readers with NOGROUP'(open) {
    const [a, w] = [await open(), await open()];
    const log: unknown[] = [await w.call('XGROUP', 'CREATE', 'k', 'g', '$', 'MKSTREAM')];
    const p = a.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 'k', '>');
    await sleep(30);
    log.push(await w.call('XGROUP', 'DESTROY', 'k', 'g'));
    log.push(await within(p, 300));
    log.push(await w.call('XADD', 'k', '9-0', 'a', 'b'));
    log.push(await within(p, 300));
    return log;
  },
  async 'RESTORE of a stream wakes its blocked readers'(open) {
    const [a, w] = [await open(), await open()];
    await w.call('XADD', 'src', '4-4', 'r', 's');
    const payload = await w.call('DUMP', 'src');
    const p = a.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '0');
    await sleep(30);
    return [await w.call('RESTORE', 'k', '0', (payload as { v: string }).v), await within(p, 1000)];
  },
  async 'SORT … STORE wakes a BLPOP on the destination'(open) {
    const [a, w] = [await open(), await open()];
    await w.call('RPUSH', 'src', '3', '1', '2');
    const p = a.call('BLPOP', 'dst', '0');
    await sleep(30);
    return [
      await w.call('SORT', 'src', 'STORE', 'dst'),
      await within(p, 1000),
      await w.call('LRANGE', 'dst', '0', '-1'),
    ];
  },
  async 'deleting the stream ends blocked group reads with UNBLOCKED'(open) {
    const [a, w] = [await open(), await open()];
    const log: unknown[] = [await w.call('XGROUP', 'CREATE', 'k', 'g', '$', 'MKSTREAM')];
    const p = a.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 'k', '>');
    await sleep(30);
    log.push(await w.call('DEL', 'k'), await within(p, 200));
    log.push(await w.call('XADD', 'k', '1-1', 'a', 'b'), await within(p, 500));
    return log;
  },
  async 'a stream overwritten by another type: XREAD keeps waiting, XREADGROUP is told'(open) {
    const [a, b, w] = [await open(), await open(), await open()];
    const log: unknown[] = [await w.call('XGROUP', 'CREATE', 'k', 'g', '$', 'MKSTREAM')];
    const p1 = a.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '$');
    const p2 = b.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 'k', '>');
    await sleep(30);
    log.push(await w.call('SET', 'k', 'x'), await within(p1, 200), await within(p2, 200));
    log.push(await w.call('DEL', 'k'), await w.call('XADD', 'k', '1-1', 'a', 'b'));
    log.push(await within(p1, 500), await within(p2, 200));
    return log;
  },
  async 'inside MULTI a blocking read returns at once'(open) {
    const a = await open();
    return [
      await a.call('MULTI'),
      await a.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '$'),
      await a.call('XREADGROUP', 'GROUP', 'nog', 'c', 'BLOCK', '0', 'STREAMS', 'k', '>'),
      await a.call('EXEC'),
    ];
  },
  async 'RESP3 clients get a map keyed by stream'(open) {
    const [a, w] = [await open(), await open()];
    await a.call('HELLO', '3');
    await w.call('XADD', 'k', '1-1', 'a', 'b');
    const direct = await a.call('XREAD', 'STREAMS', 'k', '0');
    const p = a.call('XREAD', 'BLOCK', '0', 'STREAMS', 'k', '$');
    await sleep(30);
    await w.call('XADD', 'k', '2-2', 'c', 'd');
    return [direct, await within(p, 1000)];
  },
};

const skip = await redisSkip();

t.test('blocking stream reads behave as in Redis', { skip }, async (t) => {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const clients: RespClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    const r = await RespClient.connect(REDIS_PORT);
    await r.call('SELECT', '14');
    await r.call('FLUSHDB');
    r.close();
    await kv.close();
  });
  const opener = (p: number) => async () => {
    const c = await RespClient.connect(p);
    clients.push(c);
    await c.call('SELECT', '14');
    return c;
  };
  for (const [name, scenario] of Object.entries(scenarios)) {
    for (const p of [REDIS_PORT, port]) {
      const c = await opener(p)();
      await c.call('FLUSHDB');
    }
    const expected = await scenario(opener(REDIS_PORT));
    const actual = await scenario(opener(port));
    t.same(actual, expected, name);
    if (process.env.SHOW) t.comment(JSON.stringify(expected));
  }
});
