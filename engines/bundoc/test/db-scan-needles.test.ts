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
  // Every document is examined by a collection scan, sieved or not.
  const examined = async (filter: Record<string, unknown>, label: string) => {
    const ex = await c.find(filter).explain();
    if (ex.plan === 'COLLSCAN' && ex.docsExamined !== docs.length) {
      t.fail(`${label}: ${JSON.stringify(filter)} examined ${ex.docsExamined} of ${docs.length} documents`);
      return false;
    }
    return true;
  };
  const queries = async (label: string, read: (f: Record<string, unknown>) => Promise<unknown[]>) => {
    for (let q = 0; q < 150; q++) {
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
      const got = (await read(filter)).map((d) => (d as { _id: number })._id);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        t.fail(
          `seed ${seed}, ${label}: ${JSON.stringify(filter)} returned ${got.length} documents, expected ${want.length}`,
        );
        return;
      }
      if (q % 10 === 0 && !(await examined({ city: w }, label))) return;
      checked += want.length;
    }
  };
  const find = (f: Record<string, unknown>) => c.find(f, { sort: { _id: 1 } }).toArray();
  // Just written (dirty nodes), then written out (packed leaves, sieved in their pages), then inside a
  // transaction with a write of its own (the scan merges it: batches instead of the direct walk).
  await queries('dirty', find);
  await db.storage.checkpoint();
  await queries('packed', find);
  const rollback = new Error('rollback');
  await queries('own write', async (f) => {
    let out: Record<string, unknown>[] = [];
    await db
      .transaction(async (tx) => {
        await tx.collection('c').insertOne({ _id: 'extra', city: 'nowhere' });
        out = await tx
          .collection('c')
          .find(f, { sort: { _id: 1 } })
          .toArray();
        throw rollback;
      })
      .catch((e) => {
        if (e !== rollback) throw e;
      });
    return out.filter((d) => d._id !== 'extra');
  });
  t.ok(checked > 1000, `matching documents checked: ${checked}`);
});

t.test('updates and deletes through an index sieve the documents as they are stored', async (t) => {
  // The sieve searches ahead of a document in the memory that follows it. Updates and deletes used to
  // copy each document the index scan found into the result arena before sieving it: the search ahead
  // of a document without the needle covered the arena where the next document's copy then landed, so
  // that document was skipped (updateMany/deleteMany matched fewer documents than find).
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-needles-w-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const c = db.collection('c');
  await c.createIndex({ u: 1 });
  // In index order the documents without the tag come first; longer than the sieve's shortest
  // searched-ahead array.
  const note = 'n'.repeat(100);
  await c.insertMany(
    Array.from({ length: 20 }, (_, i) => ({ _id: i, u: i, note, tags: i % 4 === 3 ? ['t1', 't2'] : ['t1'] })),
  );
  const filter = { u: { $gte: 0 }, tags: { $all: ['t2'] } };
  t.equal((await c.find(filter).explain()).index, 'u_1');
  const want = [3, 7, 11, 15, 19];
  t.same(
    (await c.find(filter, { sort: { _id: 1 } }).toArray()).map((d) => d._id),
    want,
  );
  t.equal((await c.updateMany(filter, { $set: { hit: true } })).matchedCount, want.length);
  t.same(
    (await c.find({ hit: true }, { sort: { _id: 1 } }).toArray()).map((d) => d._id),
    want,
  );
  t.equal((await c.deleteMany(filter)).deletedCount, want.length);
  t.equal(await c.countDocuments({}), 20 - want.length);
});

t.test('documents stored in overflow pages are sieved where no later read can land', async (t) => {
  // 4 KiB pages put a ~1.6 KB incompressible document in an overflow chain. Reading chains into Node's
  // shared Buffer pool put each document right after the previous one, in memory the sieve had already
  // searched (and found nothing in): find/countDocuments missed matching documents.
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-needles-ovf-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off', pageSize: 4096 });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const c = db.collection('c');
  const r = rng(seed);
  // Incompressible: stored as plain JSON, so the sieve reads the chain's bytes.
  const noise = () =>
    Array.from({ length: 1600 }, () => String.fromCharCode(33 + Math.floor(r() * 90))).join('');
  await c.createIndex({ u: 1 });
  await c.insertMany(
    Array.from({ length: 24 }, (_, i) => ({
      _id: i,
      u: i,
      blob: noise(),
      tag: i % 4 === 3 ? 'hit' : 'miss',
    })),
  );
  await db.storage.checkpoint(); // the documents now come from their overflow pages
  const want = [3, 7, 11, 15, 19, 23];
  t.same(
    (await c.find({ tag: 'hit' }, { sort: { _id: 1 } }).toArray()).map((d) => d._id),
    want,
    'scan',
  );
  t.equal(await c.countDocuments({ tag: 'hit' }), want.length);
  t.equal(await c.countDocuments({ u: { $gte: 0 }, tag: 'hit' }), want.length, 'index scan');
  t.equal((await c.updateMany({ tag: 'hit' }, { $set: { seen: 1 } })).matchedCount, want.length);
});
