/**
 * Real Redis clients against bunder: ioredis and node-redis run the same scenario against bunder and a
 * private real redis-server, and every result must agree; redis-cli mass insertion (--pipe) and snapshot
 * download (--rdb), and redis-benchmark, run without errors. Skips with a message when redis-server or
 * the tools are absent.
 */
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import t, { type Test } from 'tap';
import { Bunder } from '../src/index.js';
import { readRdbFile } from '../src/persistence/rdb-reader.js';
import { hasBinary, run, startRedis, tempDir } from './fixtures/persistence/helpers.js';

const haveRedis = hasBinary('redis-server');
const haveCli = hasBinary('redis-cli');
const haveBenchmark = hasBinary('redis-benchmark');

async function startBunder(t: Test): Promise<number> {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  t.teardown(() => kv.close());
  return port;
}

async function startReference(t: Test): Promise<number> {
  const redis = await startRedis(tempDir(t, 'bunder-clients-ref-'));
  t.teardown(() => redis.stop());
  return redis.port;
}

/** Runs `steps` in order, recording each result or error message, so two servers can be compared. */
async function record(steps: Array<() => Promise<unknown>>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const step of steps) {
    try {
      out.push(normalize(await step()));
    } catch (e) {
      out.push(`error: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Buffers as hex, objects with sorted keys (null prototypes too), so results compare structurally. */
function normalize(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return `hex:${v.toString('hex')}`;
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof Map) return normalize(Object.fromEntries(v));
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) o[k] = normalize((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}

const sorted = async <T>(p: Promise<T[]>): Promise<T[]> => [...(await p)].sort();
const BIN_KEY = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
const BIN_VAL = Buffer.from([255, 0, 128, 13, 10, 7]);

function ioredisSteps(r: Redis): Array<() => Promise<unknown>> {
  return [
    () => r.set('s', 'hello', 'EX', 100),
    () => r.get('s'),
    () => r.ttl('s'),
    () => r.append('s', ' world'),
    () => r.strlen('s'),
    () => r.getrange('s', 0, 4),
    () => r.set(BIN_KEY, BIN_VAL),
    () => r.getBuffer(BIN_KEY),
    () => r.incr('n'),
    () => r.incrby('n', 41),
    () => r.incrbyfloat('f', 1.5),
    () => r.mset({ a: '1', b: '2', c: '3' }),
    () => r.mget('a', 'b', 'nope', 'c'),
    () => r.setnx('a', 'x'),
    () => r.hset('h', { f1: 'v1', f2: 'v2', n: '5' }),
    () => r.hgetall('h'),
    () => r.hincrby('h', 'n', 10),
    () => r.hdel('h', 'f1', 'nope'),
    () => sorted(r.hkeys('h')),
    () => r.rpush('l', 'a', 'b', 'c', 'd'),
    () => r.lpush('l', 'z'),
    () => r.lrange('l', 0, -1),
    () => r.lpop('l', 2),
    () => r.linsert('l', 'BEFORE', 'c', 'bb'),
    () => r.lrange('l', 0, -1),
    () => r.blpop('empty-list', 0.05),
    () => r.sadd('set', 'x', 'y', 'z', 'x'),
    () => sorted(r.smembers('set')),
    () => r.sismember('set', 'y'),
    () => r.scard('set'),
    () => r.zadd('z', 1, 'one', 2, 'two', 3, 'three'),
    () => r.zrange('z', 0, -1, 'WITHSCORES'),
    () => r.zrangebyscore('z', '(1', '+inf'),
    () => r.zincrby('z', 10, 'one'),
    () => r.zrank('z', 'one'),
    () => r.zrevrange('z', 0, 1),
    () => r.pipeline().set('p1', 'a').incr('p2').get('p1').lpush('s', 'x').exec(),
    () => r.multi().incr('m').incr('m').get('m').exec(),
    () => r.lpush('s', 'x'),
    () => r.expire('a', 100),
    () => r.persist('a'),
    () => r.ttl('a'),
    () => r.type('h'),
    () => r.exists('a', 'b', 'nope'),
    () => r.del('a', 'b', 'nope'),
    () => sorted(r.keys('*')),
    () =>
      new Promise<string[]>((resolve, reject) => {
        const keys: string[] = [];
        r.scanStream({ count: 3 })
          .on('data', (batch: string[]) => keys.push(...batch))
          .on('end', () => resolve([...new Set(keys)].sort()))
          .on('error', reject);
      }),
    () => r.call('OBJECT', 'ENCODING', 'n'),
    () => r.dbsize(),
    () =>
      r
        .select(2)
        .then(() => r.set('in2', 'x'))
        .then(() => r.dbsize()),
    () => r.flushdb(),
    () => r.select(0).then(() => r.dbsize()),
  ];
}

t.test(
  'ioredis: the same scenario gives the same results on bunder and on Redis',
  { skip: !haveRedis && 'redis-server not found' },
  async (t) => {
    const results: unknown[][] = [];
    for (const port of [await startBunder(t), await startReference(t)]) {
      const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      results.push(await record(ioredisSteps(r)));
      // pub/sub through a second connection, as apps do
      const sub = r.duplicate();
      const got = new Promise<[string, string]>((resolve) =>
        sub.on('message', (ch: string, msg: string) => resolve([ch, msg])),
      );
      await sub.subscribe('news');
      results.at(-1)!.push(await r.publish('news', 'hi'), await got);
      sub.disconnect();
      await r.quit();
    }
    t.strictSame(results[0], results[1]);
    t.ok(results[0]!.length > 50, `${results[0]!.length} results compared`);
    t.equal(results[0]![1], 'hello', 'the results are real replies');
    t.match(String(results[1]![38]), /WRONGTYPE/, 'errors are compared too');
  },
);

t.test(
  'node-redis: the same scenario gives the same results on bunder and on Redis',
  { skip: !haveRedis && 'redis-server not found' },
  async (t) => {
    const results: unknown[][] = [];
    for (const port of [await startBunder(t), await startReference(t)]) {
      const c = createClient({ url: `redis://127.0.0.1:${port}` });
      c.on('error', () => {});
      await c.connect();
      results.push(
        await record([
          () => c.set('k', 'v', { EX: 50 }),
          () => c.get('k'),
          () => c.ttl('k'),
          () => c.hSet('h', { a: '1', b: '2' }),
          () => c.hGetAll('h'),
          () => c.hIncrBy('h', 'a', 5),
          () => c.lPush('l', ['1', '2', '3']),
          () => c.lRange('l', 0, -1),
          () => c.rPop('l'),
          () => c.sAdd('s', ['a', 'b']),
          () => sorted(c.sMembers('s')),
          () =>
            c.zAdd('z', [
              { score: 2, value: 'b' },
              { score: 1, value: 'a' },
            ]),
          () => c.zRangeWithScores('z', 0, -1),
          () => c.zScore('z', 'b'),
          () => c.multi().incr('m').incrBy('m', 2).get('m').exec(),
          () => c.sendCommand(['PING', 'hello']),
          () => c.sendCommand(['LPUSH', 'k', 'x']),
          () => c.exists(['k', 'h', 'nope']),
          () => c.del(['k', 'nope']),
          () => c.incrByFloat('f', 0.25),
          () => c.getDel('f'),
        ]),
      );
      const sub = c.duplicate();
      sub.on('error', () => {});
      await sub.connect();
      const got = new Promise<string>((resolve) => void sub.subscribe('ch', (msg) => resolve(msg)));
      await new Promise((r) => setTimeout(r, 50));
      results.at(-1)!.push(await c.publish('ch', 'hello'), await got);
      await sub.quit();
      await c.quit();
    }
    t.strictSame(results[0], results[1]);
  },
);

t.test('redis-cli --pipe mass insertion', { skip: !haveCli && 'redis-cli not found' }, async (t) => {
  const port = await startBunder(t);
  const dir = tempDir(t, 'bunder-pipe-');
  const n = 20_000;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = `key:${i}`;
    const v = `value:${i}`;
    parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
  }
  const file = join(dir, 'mass.txt');
  writeFileSync(file, parts.join(''));
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('sh', ['-c', `redis-cli -p ${port} --pipe < ${file}`]);
    let text = '';
    p.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      text += d.toString();
    });
    p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
  });
  t.match(out, new RegExp(`errors: 0, replies: ${n}`));
  const { out: size } = await run('redis-cli', ['-p', String(port), 'DBSIZE']);
  t.equal(size.trim(), String(n));
});

t.test(
  'redis-cli --rdb downloads a snapshot that redis-check-rdb accepts',
  { skip: !haveCli && 'redis-cli not found' },
  async (t) => {
    const kv = await Bunder.open();
    const { port } = await kv.listen({ port: 0 });
    t.teardown(() => kv.close());
    for (let i = 0; i < 1000; i++) await kv.call('SET', `k${i}`, String(i));
    await kv.call('RPUSH', 'list', 'a', 'b');
    await kv.call('ZADD', 'z', '1', 'm');
    const file = join(tempDir(t, 'bunder-rdb-'), 'snap.rdb');
    const got = await run('redis-cli', ['-p', String(port), '--rdb', file]);
    t.equal(got.code, 0, got.out);
    const entries = [...readRdbFile(file)];
    t.equal(entries.length, 1002);
    if (hasBinary('redis-check-rdb')) {
      const check = await run('redis-check-rdb', [file]);
      t.match(check.out, /RDB looks OK/);
    }
    t.equal(await kv.call('PING'), 'PONG', 'the server is still serving');
  },
);

t.test(
  'redis-benchmark runs against bunder without errors',
  { skip: !haveBenchmark && 'redis-benchmark not found' },
  async (t) => {
    const port = await startBunder(t);
    const tests = 'ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset';
    const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        'redis-benchmark',
        ['-p', String(port), '-n', '2000', '-c', '10', '-P', '4', '-t', tests, '-q', '--csv'],
        { timeout: 120_000 },
        (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
      ),
    );
    t.notMatch(out.stdout + out.stderr, /error/i);
    const rows = out.stdout.trim().split('\n').slice(1);
    t.ok(rows.length >= 15, `${rows.length} result rows`);
    for (const row of rows) {
      const rps = Number(JSON.parse(`[${row}]`)[1]);
      t.ok(rps > 0, `${row.split(',')[0]} ran (${rps} requests/s)`);
    }
  },
);
