import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { InvalidArgumentError, MAX_VALUE_BYTES, maxKeyBytes, Storage } from '../src/storage/index.js';

// Space: many keys, bounded files under churn (free-list reuse), 16 MiB values, 2 KiB keys, merges and
// rebalancing on delete (checked with verify()), and a WAL kept bounded by automatic checkpoints.

const STRESS = process.env.BUNBASE_STRESS === '1';
const seed = Number(process.env.BUNDOC_SEED ?? Date.now() % 1_000_000);
t.comment(`seed ${seed} (BUNDOC_SEED=${seed} to replay)`);
let state = seed || 1;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-space-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
const u32 = (i: number) => {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(i, 12);
  return b;
};

t.test(`${STRESS ? '1M' : '200k'} keys: bulk load, verify, point reads, range count, reopen`, async (t) => {
  const n = STRESS ? 1_000_000 : 200_000;
  const dir = tmp(t);
  const started = Date.now();
  let st = await Storage.open(dir, { durability: 'normal', cacheBytes: 128 * 1024 * 1024 });
  const value = Buffer.alloc(100, 0x61);
  for (let b = 0; b < n; b += 20_000) {
    const tx = st.begin();
    for (let i = b; i < b + 20_000; i++) tx.put('kv', u32(i), value);
    await tx.commit();
  }
  const loaded = Date.now();
  const rep = st.verify();
  t.equal(rep.keys, n);
  const tx = st.begin({ readOnly: true });
  for (let j = 0; j < 2000; j++) {
    const i = Math.floor(rand() * n);
    if (!tx.get('kv', u32(i))?.every((c) => c === 0x61)) t.fail(`key ${i}`);
  }
  let count = 0;
  for (const _ of tx.range('kv')) count++;
  t.equal(count, n, 'full range scan');
  t.same(
    [...tx.range('kv', { gte: u32(n - 3), reverse: true })].map(([k]) => Buffer.from(k).readUInt32BE(12)),
    [n - 1, n - 2, n - 3],
  );
  tx.abort();
  await st.close();
  st = await Storage.open(dir);
  t.equal(st.verify().keys, n, 'after reopen');
  const s = st.stats();
  t.ok(s.fileBytes < n * 300, `file ${(s.fileBytes / 1e6).toFixed(1)} MB for ${n} entries of 116 bytes`);
  await st.close();
  t.comment(`${n} keys: load ${loaded - started} ms, total ${Date.now() - started} ms`);
});

t.test('churn of inserts and deletes keeps the file size bounded (free pages are reused)', async (t) => {
  const dir = tmp(t);
  const st = await Storage.open(dir, {
    pageSize: 4096,
    checkpointIntervalMs: 0,
    checkpointBytes: 256 * 1024,
  });
  const live: number[] = [];
  let next = 0;
  const val = (i: number) => Buffer.alloc(i % 23 === 0 ? 6000 : 50 + (i % 200), i & 255);
  const sizes: number[] = [];
  const rounds = STRESS ? 100 : 30;
  for (let round = 0; round < rounds; round++) {
    await st.transaction((tx) => {
      // Delete a random third, then insert back up to 3000 keys.
      shuffle(live);
      for (const i of live.splice(0, Math.floor(live.length / 3))) tx.delete('c', u32(i));
      while (live.length < 3000) {
        tx.put('c', u32(next), val(next));
        live.push(next++);
      }
    });
    if (round % 3 === 2) await st.checkpoint();
    sizes.push(st.stats().fileBytes);
  }
  const early = Math.max(...sizes.slice(0, 10));
  const late = Math.max(...sizes.slice(-10));
  t.ok(
    late <= early * 1.25,
    `file ${early} bytes after 10 rounds, ${late} after ${rounds} (${next} keys written)`,
  );
  t.equal(st.verify().keys, 3000);
  t.ok(st.stats().freePages > 0, 'free list in use');
  await st.close();
});

t.test('the WAL stays bounded by automatic checkpoints', async (t) => {
  const dir = tmp(t);
  const checkpointBytes = 128 * 1024;
  const walSegmentBytes = 32 * 1024;
  const st = await Storage.open(dir, {
    checkpointIntervalMs: 0,
    checkpointBytes,
    walSegmentBytes,
    durability: 'off',
  });
  let maxWal = 0;
  let maxFiles = 0;
  const v = Buffer.alloc(1000, 1);
  for (let i = 0; i < 3000; i++) {
    await st.transaction((tx) => tx.put('w', u32(i % 500), v));
    maxWal = Math.max(maxWal, st.stats().wal.bytes);
    if (i % 100 === 0) maxFiles = Math.max(maxFiles, fs.readdirSync(path.join(dir, 'wal')).length);
  }
  // Commits wait for a checkpoint once the log holds 3 x checkpointBytes; segments are dropped whole, so
  // one partly covered segment may stay, plus the record that reached the limit.
  const bound = 3 * checkpointBytes + 2 * walSegmentBytes + 4096;
  t.ok(maxWal <= bound, `WAL peaked at ${maxWal} bytes (bound ${bound}) over ~3 MB written`);
  t.ok(maxFiles <= Math.ceil(bound / walSegmentBytes) + 2, `at most ${maxFiles} segment files`);
  t.ok(st.stats().checkpoints >= 10, `${st.stats().checkpoints} automatic checkpoints`);
  await st.close();
  // And by time: a checkpoint follows commits within checkpointIntervalMs.
  const st2 = await Storage.open(dir, { checkpointIntervalMs: 100 });
  const c0 = st2.stats().checkpoints;
  await st2.transaction((tx) => tx.put('w', u32(1), v));
  await new Promise((r) => setTimeout(r, 600));
  t.ok(st2.stats().checkpoints > c0, 'timed checkpoint ran');
  t.equal(st2.stats().lastCheckpointLsn, st2.stats().wal.lastLsn);
  await st2.close();
});

t.test('a pause in the writes checkpoints once enough was logged, not while writes go on', async (t) => {
  // 1 MiB of checkpointBytes: an idle checkpoint needs 64 KiB logged since the last one (1/16).
  const checkpointBytes = 1024 * 1024;
  const st = await Storage.open(tmp(t), { checkpointBytes, checkpointIntervalMs: 60_000, durability: 'off' });
  const v = Buffer.alloc(1000, 7);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Below the share: a pause changes nothing.
  for (let i = 0; i < 20; i++) await st.transaction((tx) => tx.put('w', u32(i), v));
  await pause(2600);
  t.equal(st.stats().checkpoints, 0, 'no checkpoint for ~20 KB logged');
  // Above it, with a commit every 200 ms for 2.4 s: never idle for a second, no checkpoint.
  for (let i = 0; i < 80; i++) await st.transaction((tx) => tx.put('w', u32(i), v));
  for (let i = 0; i < 12; i++) {
    await st.transaction((tx) => tx.put('w', u32(i), v));
    await pause(200);
  }
  t.equal(st.stats().checkpoints, 0, 'no checkpoint while writes go on');
  // Then a pause: checkpointed within ~2 s (the check runs every second), everything logged included.
  const deadline = Date.now() + 5000;
  while (st.stats().checkpoints === 0 && Date.now() < deadline) await pause(50);
  t.equal(st.stats().checkpoints, 1, 'checkpointed in the pause');
  t.equal(st.stats().lastCheckpointLsn, st.stats().wal.lastLsn);
  // Nothing logged since: the next pause checkpoints the same state once more, only to drop the log the
  // fallback meta page needed (storage-fallback-log.test.ts), and then no more.
  await pause(2200);
  t.equal(st.stats().checkpoints, 2, 'one more checkpoint, of the same state');
  t.equal(st.stats().lastCheckpointLsn, st.stats().wal.lastLsn);
  await pause(2200);
  t.equal(st.stats().checkpoints, 2, 'none while nothing is written and no log is left behind');
  await st.close();
});

t.test(
  'the timed checkpoint counts from the oldest commit not checkpointed, not from the last checkpoint',
  async (t) => {
    // A store idle for longer than the interval does not checkpoint in the first second of its next
    // writes (which would share the disk with them), but once their oldest is checkpointIntervalMs old.
    const st = await Storage.open(tmp(t), { checkpointIntervalMs: 1500, durability: 'off' });
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await pause(1600);
    await st.transaction((tx) => tx.put('w', u32(1), Buffer.alloc(100, 1)));
    await pause(1200);
    t.equal(st.stats().checkpoints, 0, 'not checkpointed 1.2 s after the first commit');
    const deadline = Date.now() + 4000;
    while (st.stats().checkpoints === 0 && Date.now() < deadline) await pause(50);
    t.equal(st.stats().checkpoints, 1, 'checkpointed once the commit was 1.5 s old');
    t.equal(st.stats().lastCheckpointLsn, st.stats().wal.lastLsn);
    await st.close();
  },
);

t.test(
  '16 MiB values round trip and are replaced without growing the file; 16 MiB + 1 is refused',
  async (t) => {
    const dir = tmp(t);
    let st = await Storage.open(dir, { checkpointIntervalMs: 0 });
    const big = (gen: number) => {
      const b = Buffer.allocUnsafe(MAX_VALUE_BYTES);
      for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2654435761 + gen) >>> 0, i);
      return b;
    };
    await st.transaction((tx) => tx.put('b', Buffer.from('big'), big(0)));
    t.ok(big(0).equals(Buffer.from(st.begin().get('b', Buffer.from('big'))!)), 'read back');
    t.throws(
      () => st.begin().put('b', Buffer.from('x'), new Uint8Array(MAX_VALUE_BYTES + 1)),
      InvalidArgumentError,
    );
    const sizes: number[] = [];
    for (let gen = 1; gen <= 4; gen++) {
      await st.transaction((tx) => tx.put('b', Buffer.from('big'), big(gen)));
      await st.checkpoint();
      sizes.push(st.stats().fileBytes);
    }
    st.verify();
    await st.close();
    st = await Storage.open(dir);
    t.ok(big(4).equals(Buffer.from(st.begin().get('b', Buffer.from('big'))!)), 'latest value after reopen');
    // Live copy, the one held for the previous checkpoint, and one being replaced.
    t.ok(sizes[3] <= 3.3 * MAX_VALUE_BYTES, `file ${sizes.map((s) => (s / 2 ** 20).toFixed(1))} MiB`);
    t.ok(sizes[3] <= sizes[2] * 1.01, 'no growth once pages are recycled');
    st.verify();
    await st.close();
  },
);

t.test('keys up to the limit (2 KiB on 8 KiB pages, 1 KiB on 4 KiB pages) in random order', async (t) => {
  for (const pageSize of [8192, 4096] as const) {
    const limit = maxKeyBytes(pageSize);
    t.equal(limit, pageSize === 8192 ? 2048 : 1024);
    const st = await Storage.open(tmp(t), { pageSize, checkpointIntervalMs: 0 });
    const model = new Map<string, Buffer>();
    const longKey = (i: number) => {
      const len = i % 5 === 0 ? limit : 1 + Math.floor(rand() * limit);
      const b = Buffer.alloc(Math.max(4, len), i & 255);
      b.writeUInt32BE(i, 0);
      return b.subarray(0, len);
    };
    for (let round = 0; round < 6; round++) {
      await st.transaction((tx) => {
        for (let j = 0; j < 300; j++) {
          const k = longKey(Math.floor(rand() * 2000));
          if (rand() < 0.35) {
            tx.delete('k', k);
            model.delete(k.toString('hex'));
          } else {
            const v = Buffer.alloc(Math.floor(rand() * 3000), j);
            tx.put('k', k, v);
            model.set(k.toString('hex'), v);
          }
        }
      });
      t.equal(st.verify().keys, model.size, `page ${pageSize} round ${round}: verify`);
    }
    const got = [...st.begin().range('k')].map(([k]) => Buffer.from(k).toString('hex'));
    t.same(got, [...model.keys()].sort(), 'range order equals byte order');
    t.throws(() => st.begin().put('k', Buffer.alloc(limit + 1), Buffer.alloc(1)), InvalidArgumentError);
    await st.close();
  }
});

t.test('mass deletes in random order merge and rebalance nodes (verify after every batch)', async (t) => {
  for (const [pageSize, keyLen] of [
    [4096, 16],
    [4096, 900],
    [8192, 2000],
  ] as const) {
    const st = await Storage.open(tmp(t), { pageSize, checkpointIntervalMs: 0, cacheBytes: 1 << 20 });
    const n = keyLen > 100 ? (STRESS ? 10_000 : 2000) : STRESS ? 100_000 : 12_000;
    const keyOf = (i: number) => {
      const b = Buffer.alloc(keyLen > 100 ? keyLen - (i % 200) : keyLen, 0x6b);
      b.writeUInt32BE(i, 0);
      return b;
    };
    const ids = shuffle(Array.from({ length: n }, (_, i) => i));
    for (let b = 0; b < n; b += 1000) {
      await st.transaction((tx) => {
        for (const i of ids.slice(b, b + 1000))
          tx.put('m', keyOf(i), Buffer.alloc(i % 97 === 0 ? 9000 : i % 60));
      });
    }
    const peak = st.verify().reachablePages;
    shuffle(ids);
    const batch = Math.ceil(n / 20);
    let at90 = 0;
    for (let b = 0; b < n; b += batch) {
      await st.transaction((tx) => {
        for (const i of ids.slice(b, b + batch))
          if (!tx.delete('m', keyOf(i))) throw new Error(`key ${i} missing`);
      });
      if (b % (3 * batch) === 0 && b > 0) await st.checkpoint();
      const rep = st.verify();
      if (rep.keys !== Math.max(0, n - b - batch))
        t.fail(`${rep.keys} keys left after deleting ${b + batch}`);
      if (b + batch === Math.round(n * 0.9)) at90 = rep.reachablePages;
    }
    const end = st.verify();
    t.equal(end.keys, 0, `${pageSize}/${keyLen}: all deleted`);
    t.equal(end.reachablePages, 1, 'an empty tree is a single leaf');
    t.ok(at90 > 0 && at90 <= peak * 0.3, `pages shrink with merges: ${peak} at peak, ${at90} with 10% left`);
    await st.close();
  }
});
