import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { Storage } from '../src/storage/index.js';

// backup(toDir) while writes continue: the copy must open, pass verify(), and equal the store exactly as
// it was after one commit m — with m at least the last commit acknowledged before backup() was called.

const KEYS = 400;
const key = (i: number) => Buffer.from(`key-${String(i).padStart(4, '0')}`);
const val = (i: number) => Buffer.alloc(i % 41 === 0 ? 7000 : 20 + (i % 90), i & 255);

/** Commit i of the ordered writer: puts one key and the counter, sometimes deletes another key. */
function commitOps(i: number): Array<[Buffer, Buffer | undefined]> {
  const ops: Array<[Buffer, Buffer | undefined]> = [[key(i % KEYS), val(i)]];
  if (i % 3 === 0) ops.push([key((i * 7 + 1) % KEYS), undefined]);
  ops.push([Buffer.from('counter'), Buffer.from(String(i))]);
  return ops;
}

/** The ordered tree after commits 0..m. */
function modelAfter(m: number): Map<string, Buffer> {
  const model = new Map<string, Buffer>();
  for (let i = 0; i <= m; i++) {
    for (const [k, v] of commitOps(i)) {
      if (v) model.set(k.toString(), v);
      else model.delete(k.toString());
    }
  }
  return model;
}

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-backup-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function backupsDuringWrites(t: Test, encryptionKey: Uint8Array | undefined): Promise<void> {
  const base = tmp(t);
  const st = await Storage.open(path.join(base, 'live'), {
    pageSize: 4096,
    cacheBytes: 64 * 4096,
    checkpointBytes: 96 * 1024,
    walSegmentBytes: 32 * 1024,
    checkpointIntervalMs: 0,
    encryptionKey,
  });
  let acked = -1;
  let stop = false;
  const ordered = (async () => {
    for (let i = 0; !stop; i++) {
      await st.transaction((tx) => {
        for (const [k, v] of commitOps(i)) {
          if (v) tx.put('ordered', k, v);
          else tx.delete('ordered', k);
        }
      });
      acked = i;
    }
  })();
  // Unordered churn in another tree, so pages are freed and reused while backups copy.
  const noise = (async () => {
    for (let i = 0; !stop; i++) {
      await Promise.all(
        Array.from({ length: 8 }, (_, j) =>
          st.transaction((tx) => {
            tx.put('noise', key((i * 8 + j) % 300), val(i + j));
            tx.delete('noise', key((i * 13 + j) % 300));
          }),
        ),
      );
    }
  })();
  const results: Array<{ dir: string; minM: number }> = [];
  for (let b = 0; b < 5; b++) {
    await new Promise((r) => setTimeout(r, 30 + b * 20));
    const dir = path.join(base, `backup-${b}`);
    const minM = acked;
    await st.backup(dir);
    results.push({ dir, minM });
  }
  stop = true;
  await Promise.all([ordered, noise]);
  await st.close();
  for (const { dir, minM } of results) {
    const bk = await Storage.open(dir, { encryptionKey, checkpointIntervalMs: 0 });
    bk.verify();
    const tx = bk.begin();
    const got = new Map<string, Buffer>();
    for (const [k, v] of tx.range('ordered')) got.set(Buffer.from(k).toString(), Buffer.from(v));
    const m = Number(got.get('counter')?.toString() ?? -1);
    t.ok(m >= minM, `${path.basename(dir)}: holds commit ${m}, acknowledged before the call: ${minM}`);
    t.same(got, modelAfter(m), `${path.basename(dir)} equals the store right after commit ${m}`);
    t.same(bk.trees(), ['noise', 'ordered']);
    // The copy is a working store of its own.
    await bk.transaction((tx2) => tx2.put('ordered', Buffer.from('after'), Buffer.from('x')));
    bk.verify();
    await bk.close();
  }
}

t.test('backups taken while writes continue are consistent snapshots', async (t) => {
  await backupsDuringWrites(t, undefined);
});

t.test('backups of an encrypted store are encrypted with the same key', async (t) => {
  await backupsDuringWrites(t, new Uint8Array(32).fill(3));
});
