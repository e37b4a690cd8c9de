/**
 * Redis 7 multi-part AOF: we read the appendonlydir real Redis writes (before and after BGREWRITEAOF),
 * and real Redis loads the appendonlydir we write (after a rewrite with an RDB or a command base).
 */

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import t from 'tap';
import { MultiPartAof } from '../src/persistence/aof-multipart.js';
import type { AofItem } from '../src/persistence/aof-reader.js';
import type { StoredEntry } from '../src/persistence/model.js';
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
  return new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }) as Redis & BufferClient;
}

function loadAll(aof: MultiPartAof): { entries: StoredEntry[]; commands: string[][] } {
  const entries: StoredEntry[] = [];
  const commands: string[][] = [];
  const gen = aof.load();
  let r: IteratorResult<AofItem, unknown> = gen.next();
  while (!r.done) {
    if (r.value.kind === 'entry') entries.push(r.value.entry);
    else commands.push(r.value.argv.map(String));
    r = gen.next();
  }
  return { entries, commands };
}

async function waitForRewrite(r: Redis): Promise<void> {
  for (;;) {
    const info = await r.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

t.test('the appendonlydir written by real Redis replays in our reader', { skip }, async (t) => {
  const dir = tempDir(t);
  const redis = await startRedis(dir, ['--appendonly', 'yes', '--appendfsync', 'always']);
  t.teardown(() => redis.stop());
  const r = client(redis.port);
  t.teardown(() => r.disconnect());
  await r.set('a', '1');
  await r.rpush('l', 'x', Buffer.from([0, 13, 10]));
  await r.multi().incr('n').hset('h', 'f', 'v').exec();
  await r.select(2);
  await r.sadd('s', 'm');
  await r.select(0);
  await r.zadd('z', '1.5', 'm');
  const aofDir = join(dir, 'appendonlydir');
  let aof = MultiPartAof.open(aofDir);
  let loaded = loadAll(aof);
  await aof.close();
  t.same(loaded.entries, [], 'the initial base is empty');
  t.same(
    loaded.commands.map((c) => c.map((a, i) => (i === 0 ? a.toLowerCase() : a))),
    [
      ['select', '0'],
      ['set', 'a', '1'],
      ['rpush', 'l', 'x', '\0\r\n'],
      ['multi'],
      ['incr', 'n'],
      ['hset', 'h', 'f', 'v'],
      ['exec'],
      ['select', '2'],
      ['sadd', 's', 'm'],
      ['select', '0'],
      ['zadd', 'z', '1.5', 'm'],
    ],
    'every command, in order, including the transaction',
  );

  await r.bgrewriteaof();
  await waitForRewrite(r);
  const expected = await fetchAll(r);
  await r.set('after', 'rewrite');
  aof = MultiPartAof.open(aofDir);
  t.match(
    aof.files.map((f) => f.file),
    ['appendonly.aof.2.base.rdb', 'appendonly.aof.2.incr.aof'],
  );
  loaded = loadAll(aof);
  await aof.close();
  t.same(canonEntries(loaded.entries), canonEntries(expected), 'the rewritten RDB base holds the dataset');
  t.same(
    loaded.commands.map((c) => [c[0]!.toLowerCase(), ...c.slice(1)]),
    [
      ['select', '0'],
      ['set', 'after', 'rewrite'],
    ],
    'commands after the rewrite are in the new incremental file',
  );
});

/** What Redis holds after replaying: canonical form, minus what a command base cannot carry. */
function comparable(entries: Iterable<StoredEntry>, commandBase: boolean): Record<string, unknown> {
  const canon = canonEntries(entries) as Record<
    string,
    { value: { stream?: { groups: Array<{ consumers: unknown[] }> } } }
  >;
  if (commandBase) {
    // XCLAIM / XGROUP CREATECONSUMER set a consumer's seen-time to "now": only the names survive.
    for (const v of Object.values(canon)) {
      for (const g of v.value.stream?.groups ?? [])
        g.consumers = (g.consumers as Array<[string, number]>).map(([n]) => n);
    }
  }
  return canon;
}

for (const format of ['rdb', 'aof'] as const) {
  t.test(`real Redis loads our appendonlydir (${format} base after a rewrite)`, { skip }, async (t) => {
    const dir = tempDir(t);
    const aofDir = join(dir, 'appendonlydir');
    const future = Date.now() + 86_400_000;
    const snapshot: StoredEntry[] = fc
      .sample(arbEntries, { numRuns: 4, seed: format === 'rdb' ? 11 : 12 })
      .flat()
      .map((e, i) => ({ ...e, key: Buffer.concat([Buffer.from(`${i}:`), e.key]) }))
      .map((e) => ({ ...e, expireAtMs: e.expireAtMs === null ? null : future + e.expireAtMs }));
    snapshot.sort((a, b) => a.db - b.db);
    const aof = MultiPartAof.open(aofDir, { fsync: 'always' });
    await aof.append(0, ['SET', 'before', 'rewrite']);
    const rewriting = aof.rewrite(snapshot, format);
    // Appends while the base is being written land in the new incremental file.
    const during = [
      aof.append(0, ['SET', 'during', 'rewrite']),
      aof.append(5, ['RPUSH', 'during:list', 'a', 'b']),
    ];
    await rewriting;
    await Promise.all(during);
    await aof.append(0, ['SET', 'after', 'rewrite']);
    await aof.close();
    t.same(readdirSync(aofDir).sort(), [
      'appendonly.aof.1.base.' + format,
      'appendonly.aof.2.incr.aof',
      'appendonly.aof.manifest',
    ]);
    t.notOk(existsSync(join(aofDir, 'appendonly.aof.1.incr.aof')), 'the superseded incremental file is gone');

    const check = await run('redis-check-aof', [join(aofDir, 'appendonly.aof.manifest')]);
    t.equal(check.code, 0, 'redis-check-aof accepts the manifest and every file');
    if (check.code !== 0) t.comment(check.out);

    const expected: StoredEntry[] = [
      ...snapshot,
      {
        db: 0,
        key: Buffer.from('during'),
        value: { type: 'string', value: Buffer.from('rewrite') },
        expireAtMs: null,
      },
      {
        db: 5,
        key: Buffer.from('during:list'),
        value: { type: 'list', value: [Buffer.from('a'), Buffer.from('b')] },
        expireAtMs: null,
      },
      {
        db: 0,
        key: Buffer.from('after'),
        value: { type: 'string', value: Buffer.from('rewrite') },
        expireAtMs: null,
      },
    ];
    const redis = await startRedis(dir, ['--appendonly', 'yes']);
    t.teardown(() => redis.stop());
    const r = client(redis.port);
    t.teardown(() => r.disconnect());
    const got = await fetchAll(r);
    const ok = isDeepStrictEqual(comparable(got, format === 'aof'), comparable(expected, format === 'aof'));
    t.ok(ok, `${expected.length} keys replayed by redis-server match`);
    if (!ok) t.same(comparable(got, format === 'aof'), comparable(expected, format === 'aof'));

    // And our own loader agrees with Redis.
    const again = MultiPartAof.open(aofDir);
    const loaded = loadAll(again);
    await again.close();
    const tail = [
      ['SELECT', '0'],
      ['SET', 'during', 'rewrite'],
      ['SELECT', '5'],
      ['RPUSH', 'during:list', 'a', 'b'],
      ['SELECT', '0'],
      ['SET', 'after', 'rewrite'],
    ];
    t.same(loaded.commands.slice(-tail.length), tail, 'our loader replays the new incremental file');
    if (format === 'rdb') {
      t.same(canonEntries(loaded.entries), canonEntries(snapshot), 'and the RDB base holds the snapshot');
      t.equal(loaded.commands.length, tail.length);
    } else {
      t.equal(loaded.entries.length, 0);
      t.ok(loaded.commands.length > tail.length, 'the command base comes first');
    }
  });
}
