/**
 * Compatibility with the real thing: RDB files written by redis-server load in our reader with the same
 * contents, and RDB files written by us pass redis-check-rdb and load into redis-server.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import type { StoredEntry } from '../src/persistence/model.js';
import { readRdb, readRdbFile } from '../src/persistence/rdb-reader.js';
import { writeRdbFile } from '../src/persistence/rdb-writer.js';
import {
  arbEntries,
  type BufferClient,
  canonEntries,
  fetchAll,
  hasBinary,
  run,
  startRedis,
  tempDir,
} from './fixtures/persistence/helpers.js';

const skip = hasBinary('redis-server') ? false : 'redis-server is not installed';

function client(port: number): Redis & BufferClient {
  return new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1 }) as Redis &
    BufferClient;
}

/** Fills a Redis with every type in both its compact and its large encoding. Returns what it expects. */
async function fill(r: Redis): Promise<void> {
  const future = Date.now() + 86_400_000;
  const rnd = (n: number, seed: number) =>
    Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) % 256));
  // strings: int, small, long compressible (LZF), long random, binary key, expiries
  await r.set('str:int', '12345');
  await r.set('str:neg', '-7');
  await r.set('str:int64', '9223372036854775807');
  await r.set('str:notint', '007');
  await r.set('str:small', 'hello');
  await r.set('str:empty', '');
  await r.set('str:lzf', 'abcdefgh'.repeat(1000));
  await r.set('str:random', rnd(5000, 1));
  await r.set(Buffer.from([0, 255, 13, 10]), 'binary key');
  await r.set('str:ttl', 'expiring', 'PXAT', future);
  // lists: one listpack node, many nodes, a big element, integers
  await r.rpush('list:small', 'a', '1', '-5', 'hello', '123456789012');
  await r.rpush(
    'list:big',
    ...Array.from({ length: 5000 }, (_, i) => (i % 3 ? `item-${i}` : String(i * 1000))),
  );
  await r.rpush('list:huge-el', 'x'.repeat(20_000), 'y', rnd(9000, 2));
  await r.pexpireat('list:small', future + 1);
  // sets: intset, intset too big → hashtable, strings → hashtable
  await r.sadd('set:intset', '1', '2', '-3', '100000', '5000000000');
  await r.sadd('set:bigints', ...Array.from({ length: 600 }, (_, i) => String(i * 17)));
  await r.sadd('set:strings', 'a', 'b', 'c', rnd(100, 3));
  // sorted sets: listpack (with inf and fractions), skiplist by count, skiplist by member size
  await r.zadd(
    'zset:small',
    '1',
    'one',
    '2.5',
    'two.5',
    '-inf',
    'minf',
    'inf',
    'pinf',
    '0',
    'zero',
    '-3',
    'neg',
  );
  await r.zadd('zset:big', ...Array.from({ length: 300 }, (_, i) => [String(i / 7), `m${i}`]).flat());
  await r.zadd('zset:longmember', '1', 'x'.repeat(100), '2', 'short');
  // hashes: listpack, hashtable by count, hashtable by value size
  await r.hset('hash:small', 'f1', 'v1', 'n', '42', 'neg', '-1', 'e', '');
  await r.hset('hash:big', ...Array.from({ length: 300 }, (_, i) => [`f${i}`, String(i)]).flat());
  await r.hset('hash:longvalue', 'f', 'v'.repeat(200), 'g', 'short');
  // streams: several nodes, deletions, two field layouts, groups with pending entries and an idle consumer
  for (let i = 1; i <= 250; i++) {
    const fields =
      i % 10 === 0 ? ['other', String(i), 'extra', 'x'] : ['sensor', `s${i % 4}`, 'value', String(i)];
    await r.xadd('stream:main', `${1_700_000_000_000 + i}-${i % 3}`, ...fields);
  }
  await r.xdel('stream:main', `${1_700_000_000_005}-2`, `${1_700_000_000_100}-1`);
  await r.xgroup('CREATE', 'stream:main', 'g1', '0');
  await r.xreadgroup('GROUP', 'g1', 'alice', 'COUNT', 7, 'STREAMS', 'stream:main', '>');
  await r.xreadgroup('GROUP', 'g1', 'bob', 'COUNT', 5, 'STREAMS', 'stream:main', '>');
  await r.xack('stream:main', 'g1', `${1_700_000_000_002}-2`);
  await r.call('XGROUP', 'CREATECONSUMER', 'stream:main', 'g1', 'carol');
  await r.xgroup('CREATE', 'stream:main', 'g2', `${1_700_000_000_050}-2`);
  await r.xadd('stream:empty', '5-5', 'a', 'b');
  await r.xdel('stream:empty', '5-5');
  await r.xadd('stream:trimmed', '1-1', 'a', '1');
  await r.xadd('stream:trimmed', '2-1', 'a', '2');
  await r.xadd('stream:trimmed', '3-1', 'a', '3');
  await r.xtrim('stream:trimmed', 'MAXLEN', 1);
  // another database
  await r.select(3);
  await r.set('db3:key', 'in db 3');
  await r.hset('db3:hash', 'a', '1');
  await r.select(0);
}

t.test('RDB written by real Redis loads with identical contents', { skip }, async (t) => {
  const dir = tempDir(t);
  const redis = await startRedis(dir);
  t.teardown(() => redis.stop());
  const r = client(redis.port);
  t.teardown(() => r.disconnect());
  await fill(r);

  const encodings = new Set<string>();
  for (const key of await r.keys('*')) encodings.add(String(await r.object('ENCODING', key)));
  for (const e of [
    'int',
    'embstr',
    'raw',
    'listpack',
    'intset',
    'hashtable',
    'skiplist',
    'quicklist',
    'stream',
  ]) {
    t.ok(encodings.has(e), `fixture covers encoding ${e}`);
  }

  const expected = await fetchAll(r);
  t.equal(await r.save(), 'OK');
  const path = join(dir, 'dump.rdb');
  const check = await run('redis-check-rdb', [path]);
  t.equal(check.code, 0, 'redis-check-rdb accepts the reference file');

  const fromFile = readRdbFile(path);
  const loaded: StoredEntry[] = [];
  let r2 = fromFile.next();
  while (!r2.done) {
    loaded.push(r2.value);
    r2 = fromFile.next();
  }
  t.equal(r2.value.checksum, 'verified');
  t.equal(r2.value.version, 10);
  t.ok(r2.value.aux.find(([k]) => k === 'redis-ver'));
  t.same(canonEntries(loaded), canonEntries(expected), 'every key, value, expiry and stream group matches');
  t.same(canonEntries(readRdb(readFileSync(path))), canonEntries(expected), 'Buffer and file readers agree');
  t.equal(loaded.length, 27, 'all 27 keys of the fill were read');
  t.equal(expected.length, 27);
});

async function loadIntoRedis(t: Test, entries: StoredEntry[]): Promise<StoredEntry[]> {
  const dir = tempDir(t);
  const path = join(dir, 'bunder.rdb');
  await writeRdbFile(path, entries);
  const check = await run('redis-check-rdb', [path]);
  t.equal(check.code, 0, 'redis-check-rdb accepts our file');
  if (check.code !== 0) t.comment(check.out);
  const redis = await startRedis(dir, ['--dbfilename', 'bunder.rdb']);
  const r = client(redis.port);
  try {
    return await fetchAll(r);
  } finally {
    r.disconnect();
    await redis.stop();
  }
}

t.test('RDB written by us passes redis-check-rdb and loads into real Redis', { skip }, async (t) => {
  // Start from exactly what Redis holds after the reference fill…
  const dir = tempDir(t);
  const redis = await startRedis(dir);
  const r = client(redis.port);
  let reference: StoredEntry[];
  try {
    await fill(r);
    reference = await fetchAll(r);
  } finally {
    r.disconnect();
    await redis.stop();
  }
  const reloaded = await loadIntoRedis(t, reference);
  t.same(canonEntries(reloaded), canonEntries(reference), 'the reference dataset survives our writer');

  // …then random datasets (expiries moved to the future: Redis drops keys already expired on load).
  const samples = fc.sample(arbEntries, { numRuns: 10, seed: 20261125 });
  for (const [n, sample] of samples.entries()) {
    const entries = sample.map((e) => ({
      ...e,
      expireAtMs: e.expireAtMs === null ? null : Date.now() + 86_400_000 + e.expireAtMs,
    }));
    const back = await loadIntoRedis(t, entries);
    const ok = isDeepStrictEqual(canonEntries(back), canonEntries(entries));
    const types = [...new Set(entries.map((e) => e.value.type))].join(',');
    t.ok(ok, `random dataset ${n} (${entries.length} keys: ${types}) loads into Redis unchanged`);
    if (!ok) t.same(canonEntries(back), canonEntries(entries));
  }
});
