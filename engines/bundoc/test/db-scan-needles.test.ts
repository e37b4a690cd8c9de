import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Bundoc } from '../src/index.js';
import { compileFilter } from '../src/query/filter.js';

// Scans skip parsing documents whose stored JSON lacks a string the filter requires. Through the whole
// read path (stored bytes, LZ4-compressed documents, non-ASCII and escaped strings, Dates, index scans and
// collection scans), every query must return exactly the documents the filter matches.
// Seeded (BUNBASE_SEED), seed printed on failure.

const seed = Number(process.env.BUNBASE_SEED ?? Date.now() % 1e9);

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const WORDS = ['Paris', 'Oslo', 'a"b', 'c\\d', 'é', '日本', '\u0007', 'Par', 'x\ud800', ''];

t.test(`scans return exactly the matching documents (seed ${seed})`, async (t) => {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-needles-'));
  const db = await Bundoc.open(dir, { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const c = db.collection('c');
  await c.createIndex({ tag: 1 });
  const docs = Array.from({ length: 300 }, (_, i) => {
    const d: Record<string, unknown> = {
      _id: i,
      city: pick(WORDS),
      tag: r() < 0.3 ? [pick(WORDS), pick(WORDS)] : pick(WORDS),
      nested: { city: pick(WORDS), at: new Date(i * 1000) },
    };
    // Some documents compress (LZ4 above 1 KiB); the word may sit inside the long text only.
    if (r() < 0.2) d.long = `${pick(WORDS)} `.repeat(300);
    return d;
  });
  await c.insertMany(docs);
  let checked = 0;
  for (let q = 0; q < 300; q++) {
    const w = pick(WORDS);
    const field = pick(['city', 'tag', 'nested.city', 'long']);
    const filter = pick<Record<string, unknown>>([
      { [field]: w },
      { [field]: { $in: [w, pick(WORDS)] } },
      { $or: [{ city: w }, { 'nested.city': pick(WORDS) }] },
      { tag: { $all: [w] }, city: { $ne: pick(WORDS) } },
      { [field]: { $eq: w }, _id: { $gte: Math.floor(r() * 300) } },
    ]);
    const match = compileFilter(filter);
    const want = docs.filter((d) => match(d)).map((d) => d._id);
    const got = (await c.find(filter, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.fail(
        `seed ${seed}: ${JSON.stringify(filter)} returned ${got.length} documents, expected ${want.length}`,
      );
      return;
    }
    checked += want.length;
  }
  t.ok(checked > 1000, `matching documents checked: ${checked}`);
});
