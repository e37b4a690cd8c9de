import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { Storage } from '../src/storage/index.js';

// Buffer pool: it stays within its byte budget, and a one-pass scan does not flush the hot set
// (2Q: a scan only churns the probation queue). Old versions are released once no snapshot needs them.

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-cache-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
const k = (i: number) => Buffer.from(`k${String(i).padStart(7, '0')}`);

t.test('the pool stays within budget and a full scan leaves the hot set cached', async (t) => {
  const dir = tmp(t);
  let st = await Storage.open(dir, { pageSize: 4096, checkpointIntervalMs: 0 });
  for (let b = 0; b < 40_000; b += 5000) {
    await st.transaction((tx) => {
      for (let i = b; i < b + 5000; i++) tx.put('t', k(i), Buffer.alloc(60, i & 255));
    });
  }
  await st.close();
  const budget = 96 * 4096;
  st = await Storage.open(dir, { pageSize: 4096, cacheBytes: budget, checkpointIntervalMs: 0 });
  const hot = Array.from({ length: 300 }, (_, j) => j * 7);
  const tx = st.begin({ readOnly: true });
  const readHot = () => {
    for (const i of hot) tx.get('t', k(i));
  };
  readHot();
  readHot(); // second touch: promoted to the protected queue
  const before = st.stats().cache;
  let n = 0;
  for (const _ of tx.range('t')) n++;
  t.equal(n, 40_000);
  const afterScan = st.stats().cache;
  t.ok(
    afterScan.pages <= afterScan.capacityPages,
    `${afterScan.pages} cached pages within ${afterScan.capacityPages}`,
  );
  t.equal(afterScan.capacityPages, budget / 4096);
  t.ok(afterScan.misses - before.misses > 100, 'the scan itself read from disk');
  readHot();
  const afterHot = st.stats().cache;
  t.equal(afterHot.misses, afterScan.misses, 'hot keys still cached after a scan of the whole tree');
  tx.abort();
  await st.close();
});

t.test('old versions are kept exactly as long as a snapshot needs them', async (t) => {
  const st = await Storage.open(tmp(t), { checkpointIntervalMs: 0 });
  await st.transaction((tx) => tx.put('t', k(1), Buffer.from('v0')));
  const old = st.begin({ readOnly: true });
  for (let i = 1; i <= 50; i++) await st.transaction((tx) => tx.put('t', k(1), Buffer.from(`v${i}`)));
  t.equal(st.stats().retainedVersions, 50, 'versions retained for the open snapshot');
  t.equal(Buffer.from(old.get('t', k(1))!).toString(), 'v0', 'the snapshot still reads its version');
  const mid = st.begin({ readOnly: true });
  await st.transaction((tx) => tx.put('t', k(1), Buffer.from('v51')));
  old.abort();
  t.equal(st.stats().retainedVersions, 1, 'only the version the newer snapshot needs is left');
  t.equal(Buffer.from(mid.get('t', k(1))!).toString(), 'v50');
  mid.abort();
  t.equal(st.stats().retainedVersions, 0, 'all released');
  await st.close();
});

t.test('written values live in write arenas until their node is written, then in its page', async (t) => {
  const st = await Storage.open(tmp(t), { pageSize: 4096, checkpointIntervalMs: 0 });
  // Lengths around the arena's limits: on-heap (<= 64), arena (65..4096), own allocation and overflow.
  const lengths = [1, 64, 65, 300, 1000, 4096, 4097, 9000];
  const value = (i: number) => Buffer.alloc(lengths[i % lengths.length]!, (i * 31) & 255);
  const mine = Buffer.alloc(9000);
  await st.transaction((tx) => {
    for (let i = 0; i < 400; i++) {
      // One caller buffer reused for every put: the store must have copied each value.
      const v = value(i);
      v.copy(mine);
      tx.put('t', k(i), mine.subarray(0, v.length));
    }
  });
  mine.fill(0xee);
  const check = (label: string) => {
    const tx = st.begin({ readOnly: true });
    let bad = 0;
    for (let i = 0; i < 400; i++) if (!value(i).equals(Buffer.from(tx.get('t', k(i))!))) bad++;
    tx.abort();
    t.equal(bad, 0, `${label}: every value reads back`);
  };
  // verify() checks every cached node: arena views only in dirty nodes.
  t.equal(st.verify().keys, 400, 'dirty nodes may hold arena views');
  check('before the checkpoint');
  await st.checkpoint();
  t.equal(st.verify().keys, 400, 'written nodes were rebased onto their pages');
  check('after the checkpoint');
  // Updates after the checkpoint dirty some nodes again; a second checkpoint rebases them too.
  await st.transaction((tx) => {
    for (let i = 0; i < 400; i += 3) tx.put('t', k(i), value(i));
  });
  t.equal(st.verify().keys, 400);
  await st.checkpoint();
  t.equal(st.verify().keys, 400);
  check('after updates and a second checkpoint');
  await st.close();
});
