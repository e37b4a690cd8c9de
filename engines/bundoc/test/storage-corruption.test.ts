import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { CorruptionError, Storage } from '../src/storage/index.js';
import {
  copyStore,
  flipByte,
  mapStore,
  PAGE_TYPES,
  type PageKind,
  walRecords,
} from './fixtures-storage/format-reader.js';

// Corruption: bytes flipped in pages of every type and in WAL records must give a CorruptionError that
// names the file and page (or segment), never a wrong answer; a torn or truncated WAL tail recovers to
// the last good record; a damaged meta page falls back to the other one without losing a commit.

const seed = Number(process.env.BUNDOC_SEED ?? Date.now() % 1_000_000);
t.comment(`seed ${seed} (BUNDOC_SEED=${seed} to replay)`);
let state = seed || 1;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];

const PAGE = 4096;
const key = (i: number) => Buffer.from(`key-${String(i).padStart(6, '0')}`);
function value(i: number, gen = 0): Buffer {
  const size = i % 97 === 0 ? 10_000 + i : 40 + ((i * 7) % 150);
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 31 + j + gen) & 255;
  return b;
}

function tmp(t: Test, name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `bundoc-corrupt-${name}-`));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A closed store with two trees, branches, leaves, overflow chains and a multi-page catalog. */
async function buildStore(dir: string, n: number): Promise<Map<string, Buffer>> {
  const expected = new Map<string, Buffer>();
  const st = await Storage.open(dir, { pageSize: PAGE });
  for (let b = 0; b < n; b += 500) {
    await st.transaction((tx) => {
      for (let i = b; i < Math.min(n, b + 500); i++) {
        tx.put('main', key(i), value(i));
        expected.set(key(i).toString('hex'), value(i));
      }
    });
  }
  await st.transaction((tx) => tx.put('side', Buffer.from('x'), Buffer.from('y')));
  await st.close();
  return expected;
}

/** Reads everything a user could read; returns the first error, after checking every value it saw. */
async function readAll(dir: string, expected: Map<string, Buffer>): Promise<unknown> {
  let st: Storage | undefined;
  try {
    st = await Storage.open(dir, { pageSize: PAGE });
    const tx = st.begin({ readOnly: true });
    for (const [k, v] of tx.range('main')) {
      const want = expected.get(Buffer.from(k).toString('hex'));
      if (!want?.equals(Buffer.from(v))) return new Error(`wrong answer for ${Buffer.from(k)}`);
    }
    for (const [k, want] of expected) {
      const v = tx.get('main', Buffer.from(k, 'hex'));
      if (!v || !want.equals(Buffer.from(v))) return new Error(`wrong answer for ${k}`);
    }
    st.verify();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await st?.close().catch(() => {});
  }
}

t.test('the independent format reader sees exactly what the store holds', async (t) => {
  const dir = tmp(t, 'map');
  const expected = await buildStore(dir, 3000);
  const map = mapStore(dir, PAGE);
  t.same([...map.trees.keys()].sort(), ['main', 'side']);
  const main = map.trees.get('main')!;
  t.equal(main.size, expected.size);
  for (const [k, v] of expected) if (!main.get(k)?.equals(v)) t.fail(`reader disagrees on ${k}`);
  for (const kind of Object.keys(PAGE_TYPES) as PageKind[])
    t.ok(map.pages[kind].length > 0, `has ${kind} pages`);
});

t.test('a flipped byte in any page type is a CorruptionError naming data.bdb and the page', async (t) => {
  const base = tmp(t, 'pages');
  const expected = await buildStore(path.join(base, 'orig'), 3000);
  const map = mapStore(path.join(base, 'orig'), PAGE);
  let n = 0;
  for (const kind of Object.keys(PAGE_TYPES) as PageKind[]) {
    for (let rep = 0; rep < 4; rep++) {
      const pgno = pick(map.pages[kind]);
      // Anywhere in the page: the checksum itself, the header, or the payload.
      const offset = rep === 0 ? 0 : rep === 1 ? 4 + Math.floor(rand() * 16) : Math.floor(rand() * PAGE);
      const dir = path.join(base, `c${n++}`);
      copyStore(path.join(base, 'orig'), dir);
      flipByte(path.join(dir, 'data.bdb'), pgno * PAGE + offset, 1 + Math.floor(rand() * 255));
      const e = await readAll(dir, expected);
      t.ok(e instanceof CorruptionError, `${kind} page ${pgno} byte ${offset}: ${String(e)}`);
      if (e instanceof CorruptionError) {
        t.equal(e.file, 'data.bdb');
        t.equal(e.page, pgno, `names page ${pgno}`);
        t.match(e.message, new RegExp(`data\\.bdb page ${pgno}`));
      }
    }
  }
});

t.test('a page copied over another page is detected (misplaced page)', async (t) => {
  const base = tmp(t, 'moved');
  const expected = await buildStore(path.join(base, 'orig'), 3000);
  const map = mapStore(path.join(base, 'orig'), PAGE);
  const dir = path.join(base, 'c');
  copyStore(path.join(base, 'orig'), dir);
  const [a, b] = [map.pages.leaf[0], map.pages.leaf[1]];
  const file = path.join(dir, 'data.bdb');
  const data = fs.readFileSync(file);
  data.copy(data, b * PAGE, a * PAGE, (a + 1) * PAGE);
  fs.writeFileSync(file, data);
  const e = await readAll(dir, expected);
  t.ok(e instanceof CorruptionError && e.page === b, String(e));
});

/** A store left as by a crash, with `n` sequential commits only in the WAL (nothing checkpointed). */
async function crashedStore(dir: string, n: number, segmentBytes = 32 * 1024 * 1024): Promise<string> {
  const live = path.join(dir, 'live');
  const st = await Storage.open(live, {
    pageSize: PAGE,
    checkpointIntervalMs: 0,
    checkpointBytes: 1 << 30,
    walSegmentBytes: segmentBytes,
  });
  for (let i = 0; i < n; i++) await st.transaction((tx) => tx.put('w', key(i), value(i)));
  const image = path.join(dir, 'image');
  copyStore(live, image);
  await st.close();
  return image;
}

async function present(dir: string, n: number): Promise<number> {
  const st = await Storage.open(dir, { pageSize: PAGE });
  try {
    st.verify();
    const tx = st.begin();
    let count = 0;
    for (let i = 0; i < n; i++) {
      const v = tx.get('w', key(i));
      if (v === undefined) break;
      if (!value(i).equals(Buffer.from(v))) throw new Error(`wrong value ${i}`);
      count++;
    }
    // The commits present must form a prefix: nothing after the first missing one.
    if ([...tx.range('w')].length !== count) throw new Error('commits present do not form a prefix');
    return count;
  } finally {
    await st.close();
  }
}

t.test(
  'WAL: a damaged record that later records prove durable is a CorruptionError naming the segment',
  async (t) => {
    const base = tmp(t, 'walmid');
    const image = await crashedStore(base, 40);
    const recs = walRecords(image);
    t.equal(recs.length, 40);
    for (let rep = 0; rep < 3; rep++) {
      const r = recs[Math.floor(rand() * 35)];
      const dir = path.join(base, `c${rep}`);
      copyStore(image, dir);
      const file = path.join(dir, 'wal', path.basename(r.file));
      flipByte(file, r.offset + Math.floor(rand() * r.length), 0x10);
      const e = await Storage.open(dir, { pageSize: PAGE }).then(
        (s) => s.close(),
        (err) => err,
      );
      t.ok(e instanceof CorruptionError, `lsn ${r.lsn}: ${String(e)}`);
      if (e instanceof CorruptionError) t.equal(e.file, `wal/${path.basename(r.file)}`);
    }
  },
);

t.test('WAL: damage in a segment that is not the last one is a CorruptionError', async (t) => {
  const base = tmp(t, 'walseg');
  const image = await crashedStore(base, 60, 4096);
  const recs = walRecords(image);
  const files = [...new Set(recs.map((r) => r.file))];
  t.ok(files.length >= 3, `${files.length} segments`);
  // The last record of a middle segment: no later record in that segment vouches for it.
  const mid = recs.filter((r) => r.file === files[1]).at(-1)!;
  const dir = path.join(base, 'c');
  copyStore(image, dir);
  flipByte(path.join(dir, 'wal', path.basename(mid.file)), mid.offset + 30, 0x01);
  const e = await Storage.open(dir, { pageSize: PAGE }).then(
    (s) => s.close(),
    (err) => err,
  );
  t.ok(e instanceof CorruptionError, String(e));
});

t.test('WAL: a missing segment is a CorruptionError, not a silent gap', async (t) => {
  const base = tmp(t, 'walgone');
  const image = await crashedStore(base, 60, 4096);
  const files = [...new Set(walRecords(image).map((r) => path.basename(r.file)))];
  for (const [what, victim, pattern] of [
    ['first segment', files[0], /records are missing/],
    ['middle segment', files[1], /segment \d+ is missing/],
  ] as const) {
    const dir = path.join(base, what.replace(' ', '-'));
    copyStore(image, dir);
    fs.rmSync(path.join(dir, 'wal', victim));
    const e = await Storage.open(dir, { pageSize: PAGE }).then(
      (s) => s.close(),
      (err) => err,
    );
    t.ok(e instanceof CorruptionError, `${what}: ${String(e)}`);
    t.match(String(e), pattern);
  }
});

t.test('WAL: a torn or truncated tail recovers to the last good record', async (t) => {
  const base = tmp(t, 'waltail');
  const image = await crashedStore(base, 30);
  const recs = walRecords(image);
  const last = recs.at(-1)!;
  const cases: Array<[string, (file: string) => void, number]> = [
    [
      'cut inside the last record',
      (f) => fs.truncateSync(f, last.offset + Math.floor(rand() * last.length)),
      29,
    ],
    ['cut inside the header of the last record', (f) => fs.truncateSync(f, last.offset + 5), 29],
    ['cut exactly after a record', (f) => fs.truncateSync(f, recs[19].offset + recs[19].length), 20],
    ['garbage appended', (f) => fs.appendFileSync(f, Buffer.alloc(700, 0xab)), 30],
    ['zeros appended', (f) => fs.appendFileSync(f, Buffer.alloc(5000)), 30],
    ['last record damaged', (f) => flipByte(f, last.offset + last.length - 1), 29],
  ];
  for (const [name, damage, want] of cases) {
    const dir = path.join(base, name.replace(/\W+/g, '-'));
    copyStore(image, dir);
    damage(path.join(dir, 'wal', path.basename(last.file)));
    t.equal(await present(dir, 30), want, name);
    // Recovery is idempotent and the store keeps working at the cut point.
    const st = await Storage.open(dir, { pageSize: PAGE });
    await st.transaction((tx) => tx.put('w', key(want), value(want)));
    await st.close();
    t.equal(await present(dir, 31), want + 1, `${name}: writable after recovery`);
  }
});

t.test('a damaged meta page: the other one is used and no commit is lost', async (t) => {
  const base = tmp(t, 'meta');
  const orig = path.join(base, 'orig');
  // A small cache, so pages changed after the last checkpoint reach the file before the "crash".
  const st = await Storage.open(orig, { pageSize: PAGE, checkpointIntervalMs: 0, cacheBytes: 16 * PAGE });
  // Several checkpoints with churn, then churn after the last one: free pages are reused all along.
  for (let round = 0; round < 7; round++) {
    await st.transaction((tx) => {
      for (let i = 0; i < 400; i++) {
        if ((i + round) % 3 === 0) tx.delete('w', key(i));
        else tx.put('w', key(i), value(i, round));
      }
    });
    if (round < 6) await st.checkpoint();
  }
  const expected = new Map<string, Buffer>();
  {
    const tx = st.begin();
    for (const [k, v] of tx.range('w')) expected.set(Buffer.from(k).toString('hex'), Buffer.from(v));
  }
  const image = path.join(base, 'image');
  copyStore(orig, image);
  await st.close();
  const newest = mapStore(image, PAGE).meta.slot;
  for (const slot of [newest, 1 - newest]) {
    const dir = path.join(base, `slot${slot}`);
    copyStore(image, dir);
    flipByte(path.join(dir, 'data.bdb'), slot * PAGE + 40, 0x04);
    const s2 = await Storage.open(dir, { pageSize: PAGE });
    const tx = s2.begin();
    const got = new Map<string, Buffer>();
    for (const [k, v] of tx.range('w')) got.set(Buffer.from(k).toString('hex'), Buffer.from(v));
    t.same(got, expected, `meta slot ${slot} damaged (${slot === newest ? 'newest' : 'older'}): same data`);
    s2.verify();
    await s2.close();
  }
  const dir = path.join(base, 'both');
  copyStore(image, dir);
  flipByte(path.join(dir, 'data.bdb'), 40, 0x04);
  flipByte(path.join(dir, 'data.bdb'), PAGE + 40, 0x04);
  const e = await Storage.open(dir, { pageSize: PAGE }).then(
    (s) => s.close(),
    (err) => err,
  );
  t.ok(e instanceof CorruptionError && e.file === 'data.bdb' && e.page === 0, String(e));
});
