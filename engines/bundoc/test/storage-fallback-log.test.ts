import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { Storage, type StorageOptions } from '../src/storage/index.js';
import { copyStore, flipByte, mapStore } from './fixtures-storage/format-reader.js';

// The log before the newest checkpoint is kept for the fallback meta page until the next checkpoint.
// After a load that is never followed by another write, a pause (or close) checkpoints the unchanged
// state once more, and that log goes: the store is then on disk once, not twice. Either meta page must
// still give every commit without it.

const PAGE = 4096;
const CHECKPOINT_BYTES = 256 * 1024;
const key = (i: number) => Buffer.from(`key-${String(i).padStart(6, '0')}`);
const value = (i: number) => Buffer.alloc(200 + (i % 50), i & 255);

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-fallback-log-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const walBytes = (dir: string) =>
  fs.readdirSync(path.join(dir, 'wal')).reduce((n, f) => n + fs.statSync(path.join(dir, 'wal', f)).size, 0);

/** Loads `count` keys in commits of 100: ~5x the idle share of CHECKPOINT_BYTES logged. */
async function load(st: Storage, count: number): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    await st.transaction((tx) => {
      for (let j = i; j < Math.min(count, i + 100); j++) tx.put('w', key(j), value(j));
    });
  }
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens a copy of `image` with meta slot `damaged` (if any) flipped and checks it holds keys 0..count-1. */
async function holdsAll(t: Test, image: string, count: number, damaged: number | undefined, label: string) {
  const dir = `${image}-open-${damaged ?? 'none'}`;
  copyStore(image, dir);
  if (damaged !== undefined) flipByte(path.join(dir, 'data.bdb'), damaged * PAGE + 40, 0x04);
  const st = await Storage.open(dir, { pageSize: PAGE });
  const tx = st.begin({ readOnly: true });
  let n = 0;
  let wrong = 0;
  for (const [k, v] of tx.range('w')) {
    if (!Buffer.from(k).equals(key(n)) || !Buffer.from(v).equals(value(n))) wrong++;
    n++;
  }
  tx.abort();
  t.equal(n, count, `${label}: every key`);
  t.equal(wrong, 0, `${label}: every value`);
  st.verify();
  await st.close();
}

/** Both meta pages, each damaged in turn, give every commit. */
async function bothFallbacks(t: Test, image: string, count: number, label: string) {
  const newest = mapStore(image, PAGE).meta.slot;
  await holdsAll(t, image, count, undefined, `${label}, as is`);
  await holdsAll(t, image, count, newest, `${label}, newest meta damaged`);
  await holdsAll(t, image, count, 1 - newest, `${label}, older meta damaged`);
}

const options: StorageOptions = {
  pageSize: PAGE,
  checkpointBytes: CHECKPOINT_BYTES,
  checkpointIntervalMs: 60_000,
};

t.test('a pause after a load checkpoints twice and drops the log the fallback needed', async (t) => {
  const base = tmp(t);
  const dir = path.join(base, 'db');
  const st = await Storage.open(dir, options);
  const count = 400;
  await load(st, count);
  const logged = walBytes(dir);
  t.ok(logged * 16 >= CHECKPOINT_BYTES, `the load logged ${logged} bytes, past the idle share`);
  t.equal(st.stats().checkpoints, 0, 'no checkpoint during the load');
  // The idle checkpoint, then the one of the unchanged state that drops the log before the first.
  await until('two checkpoints', () => st.stats().checkpoints >= 2);
  // (The current segment's file is longer: zeros written ahead of its records.)
  await until('the log to go', () => st.stats().wal.bytes < 4096);
  t.equal(st.stats().checkpoints, 2, 'one checkpoint of the load, one of the same state');
  t.same(fs.readdirSync(path.join(dir, 'wal')).length, 1, 'only the current segment is left');
  // No more checkpoints while nothing changes.
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(st.stats().checkpoints, 2, 'a clean store with no log behind it is left alone');
  // A crash now (a copy of the running store) loses nothing, whichever meta page survives.
  const image = path.join(base, 'image');
  copyStore(dir, image);
  await bothFallbacks(t, image, count, 'after the pause');
  // Writes go on as before; their log is kept behind the next checkpoint as always.
  await st.transaction((tx) => tx.put('w', key(count), value(count)));
  await st.close();
  await bothFallbacks(t, dir, count + 1, 'closed after one more write');
});

t.test('close drops the log the fallback needed, and both meta pages still give every commit', async (t) => {
  const base = tmp(t);
  const dir = path.join(base, 'db');
  const st = await Storage.open(dir, { ...options, checkpointIntervalMs: 0 });
  const count = 400;
  await load(st, count);
  await st.close();
  t.ok(walBytes(dir) < 4096, `the log left is ${walBytes(dir)} bytes`);
  await bothFallbacks(t, dir, count, 'closed');
  // A little log (under the share) is left to the next checkpoint, as before.
  const st2 = await Storage.open(dir, { ...options, checkpointIntervalMs: 0 });
  await st2.transaction((tx) => tx.put('w', key(count), value(count)));
  await st2.close();
  t.ok(walBytes(dir) > 32, 'a few hundred bytes of log stay for the fallback');
  await bothFallbacks(t, dir, count + 1, 'closed after a small write');
});

t.test('history kept for change streams (walRetentionBytes) is not dropped', async (t) => {
  const dir = path.join(tmp(t), 'db');
  const retained = { ...options, walRetentionBytes: 64 * 1024 * 1024 };
  const st = await Storage.open(dir, retained);
  const count = 400;
  await load(st, count);
  await until('the idle checkpoint', () => st.stats().checkpoints >= 1);
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(st.stats().checkpoints, 1, 'no checkpoint of the unchanged state: it would drop nothing');
  let commits = 0;
  for await (const c of st.commitsSince(0)) commits += c.ops.length > 0 ? 1 : 0;
  t.equal(commits, count / 100, 'every commit can still be read back');
  await st.close();
  const again = await Storage.open(dir, retained);
  commits = 0;
  for await (const _ of again.commitsSince(0)) commits++;
  t.equal(commits, count / 100, 'and after close');
  await again.close();
});
