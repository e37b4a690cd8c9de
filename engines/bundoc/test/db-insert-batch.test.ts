import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BulkWriteError, Bundoc, DuplicateKeyError } from '../src/index.js';

// insertMany learns which _ids are taken with one range read when the batch's key range holds few
// documents, and with one lookup each otherwise: random batches (dense and sparse key ranges, duplicates
// inside a batch and against stored documents, ordered and unordered, inside db.transaction after other
// inserts) must give exactly the results of a model. Seeded (BUNBASE_SEED), seed printed on failure.

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

t.test(`insertMany duplicate detection agrees with a model (seed ${seed})`, async (t) => {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-insert-batch-'));
  const db = await Bundoc.open(dir, { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const c = db.collection<{ _id: number | string; v: number }>('c');
  await c.createIndex({ v: 1 });
  const model = new Map<number | string, number>();
  const id = () => {
    // Dense runs (range read succeeds) and ids spread over everything stored (it falls back).
    const base = r() < 0.5 ? 1000 + int(40) : int(3000);
    return r() < 0.1 ? `s${base}` : base;
  };
  for (let round = 0; round < 150; round++) {
    const n = 1 + int(r() < 0.5 ? 5 : 60);
    const batch = Array.from({ length: n }, (_, i) => ({ _id: id(), v: round * 100 + i }));
    const ordered = r() < 0.5;
    const inTx = r() < 0.2;
    // The model: which positions fail (taken before, or earlier in the same batch).
    const seen = new Set(model.keys());
    const failed: number[] = [];
    const inserted: Array<number | string> = [];
    batch.forEach((d, i) => {
      if (seen.has(d._id)) failed.push(i);
      else {
        seen.add(d._id);
        inserted.push(d._id);
      }
    });
    const run = async () => {
      if (!inTx) return c.insertMany(batch, { ordered });
      return db.transaction(async (tx) => {
        const tc = tx.collection<{ _id: number | string; v: number }>('c');
        // A write of this transaction the batch must see as taken.
        const extra = { _id: `tx${round}`, v: -1 };
        await tc.insertOne(extra);
        batch.push(extra); // inserting it again fails, exactly as the model says below
        return tc.insertMany(batch, { ordered });
      });
    };
    if (inTx) {
      failed.push(batch.length);
      seen.add(`tx${round}`);
    }
    const result = await run().catch((e: unknown) => e);
    const where = `seed ${seed} round ${round} (${ordered ? 'ordered' : 'unordered'}${inTx ? ', in tx' : ''})`;
    if (failed.length === 0) {
      t.same(result, { insertedIds: inserted, insertedCount: inserted.length }, where);
      for (const d of batch) model.set(d._id, d.v);
    } else if (ordered) {
      if (!(result instanceof DuplicateKeyError)) {
        t.fail(`${where}: expected DuplicateKeyError, got ${String(result)}`);
        return;
      }
      t.equal(result.batchIndex, failed[0], `${where}: first duplicate`);
    } else {
      // Unordered: the valid documents are written, the error lists the others. Inside a transaction
      // the error escapes the callback, which aborts the whole transaction.
      if (!(result instanceof BulkWriteError)) {
        t.fail(`${where}: expected BulkWriteError, got ${String(result)}`);
        return;
      }
      t.same(
        result.writeErrors.map((w) => w.index),
        failed,
        `${where}: failed positions`,
      );
      t.same(result.insertedIds, inserted, `${where}: inserted ids`);
      if (!inTx) {
        batch.forEach((d, i) => {
          if (!failed.includes(i) && !model.has(d._id)) model.set(d._id, d.v);
        });
      }
    }
    if (round % 10 === 9 || round === 149) {
      const stored = await c.find({}).toArray();
      t.equal(stored.length, model.size, `${where}: document count`);
      const bad = stored.find((d) => model.get(d._id) !== d.v);
      t.equal(bad, undefined, `${where}: stored documents match the model`);
      t.equal(await c.countDocuments({ v: { $gte: -1 } }), model.size, `${where}: index entries`);
    }
  }
});
