import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { Storage } from '../src/storage/index.js';

// A checkpoint writes its dirty pages a slice at a time while commits go on (they copy captured pages
// instead of changing them, and evictions may write captured pages first). Checked: the checkpoint's own
// image (its data file opened without the log after it) holds exactly the commits up to its LSN, every
// read during it sees the latest commit, the store after reopening holds every commit, and the event
// loop is never held for long.

const seed = Number(process.env.BUNDOC_SEED ?? Date.now() % 1_000_000);
t.comment(`seed ${seed} (BUNDOC_SEED=${seed} to replay)`);
let state = seed || 1;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-cpslices-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
const keyOf = (i: number) => Buffer.from(`k${String(i).padStart(8, '0')}`);
const valueFor = (i: number, version: number) => {
  const b = Buffer.alloc(600 + (i % 400), 0x61 + (version % 26));
  b.writeUInt32BE(i, 0);
  b.writeUInt32BE(version, 4);
  return b;
};

type Op = { key: number; value: Buffer | undefined };

function contents(st: Storage): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const tx = st.begin({ readOnly: true });
  for (const [k, v] of tx.range('t')) out.set(Buffer.from(k).toString('latin1'), Buffer.from(v));
  tx.abort();
  return out;
}

function sameContents(t: Test, got: Map<string, Buffer>, want: Map<number, Buffer>, what: string): void {
  let bad = 0;
  if (got.size !== want.size) bad++;
  for (const [i, v] of want) {
    const g = got.get(keyOf(i).toString('latin1'));
    if (!g?.equals(v)) bad++;
  }
  t.equal(bad, 0, `${what}: ${got.size} keys, ${want.size} expected, ${bad} differences`);
}

for (const cacheMiB of [64, 6]) {
  t.test(`commits during a sliced checkpoint (cache ${cacheMiB} MiB)`, async (t) => {
    const dir = tmp(t);
    const st = await Storage.open(dir, {
      checkpointIntervalMs: 0,
      checkpointBytes: 1024 * 1024 * 1024,
      cacheBytes: cacheMiB * 1024 * 1024,
    });
    // ~30k values of 600-1000 bytes: thousands of dirty pages, many slices to write.
    const n = 30_000;
    const model = new Map<number, Buffer>();
    for (let b = 0; b < n; b += 1000) {
      const tx = st.begin();
      for (let i = b; i < b + 1000; i++) {
        const v = valueFor(i, 0);
        tx.put('t', keyOf(i), v);
        model.set(i, v);
      }
      await tx.commit();
    }
    const base = new Map(model);
    const baseLsn = st.stats().wal.lastLsn;

    let done = false;
    const cp = st.checkpoint().then(() => {
      done = true;
    });
    // Commits while the checkpoint writes: overwrites (captured leaves copied), deletes, new keys (splits).
    const log: Array<{ lsn: number; ops: Op[] }> = [];
    let version = 1;
    let next = n;
    let readsChecked = 0;
    // Commits that found the checkpoint still writing its pages (the page counter moved past them).
    const written: number[] = [];
    while (!done) {
      const tx = st.begin();
      const ops: Op[] = [];
      for (let j = 0; j < 8; j++) {
        const r = rand();
        const i = r < 0.2 ? next++ : Math.floor(rand() * next);
        const value = r > 0.9 ? undefined : valueFor(i, version++);
        if (value) tx.put('t', keyOf(i), value);
        else tx.delete('t', keyOf(i));
        ops.push({ key: i, value });
      }
      await tx.commit();
      for (const op of ops) {
        if (op.value) model.set(op.key, op.value);
        else model.delete(op.key);
      }
      log.push({ lsn: st.stats().wal.lastLsn, ops });
      written.push(st.stats().pagesWritten);
      const rtx = st.begin({ readOnly: true });
      for (let j = 0; j < 20; j++) {
        const i = Math.floor(rand() * next);
        const got = rtx.get('t', keyOf(i));
        const want = model.get(i);
        if (want === undefined ? got !== undefined : !want.equals(got ?? Buffer.alloc(0)))
          t.fail(`read of key ${i}`);
        readsChecked++;
      }
      rtx.abort();
    }
    await cp;
    t.ok(log.length > 0, `${log.length} commits ran during the checkpoint`);
    t.ok(readsChecked > 0);
    const during = written.filter((w, i) => i > 0 && w > written[i - 1]!).length;
    t.ok(during >= 2, `pages were written between ${during} pairs of commits (the write is sliced)`);

    // The checkpoint's image: its data file with an empty log is exactly the state at its LSN.
    const cpLsn = st.stats().lastCheckpointLsn;
    t.ok(cpLsn >= baseLsn && cpLsn <= (log.at(-1)?.lsn ?? baseLsn), `checkpoint at lsn ${cpLsn}`);
    const atCp = new Map(base);
    for (const c of log) {
      if (c.lsn > cpLsn) break;
      for (const op of c.ops) {
        if (op.value) atCp.set(op.key, op.value);
        else atCp.delete(op.key);
      }
    }
    const image = tmp(t);
    fs.copyFileSync(path.join(dir, 'data.bdb'), path.join(image, 'data.bdb'));
    fs.mkdirSync(path.join(image, 'wal'));
    const img = await Storage.open(image);
    t.equal(img.verify().keys, atCp.size, 'the image verifies');
    sameContents(t, contents(img), atCp, 'checkpoint image');
    await img.close();

    sameContents(t, contents(st), model, 'live store');
    await st.close();
    const again = await Storage.open(dir);
    t.equal(again.verify().keys, model.size);
    sameContents(t, contents(again), model, 'after reopening');
    await again.close();
  });
}
