import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Bundoc } from '../src/index.js';

// The multikey flag of an index is set in memory as soon as a write puts an array into it (planners
// then stop using the index for sort order) and written to the catalog with that write. A write that
// conflicts and runs again must still write it: the first attempt already set the flag in memory, and
// a catalog left without it makes the reopened database sort through the index, returning a document
// once per array element.

t.test('the multikey flag survives a conflict retry of the write that set it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-multikey-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'db');
  let db = await Bundoc.open(file, { durability: 'full' });
  const c = db.collection('c');
  await c.createIndex({ a: 1 });
  await c.insertMany([
    { _id: 1, a: 5 },
    { _id: 2, a: 1 },
  ]);
  let attempts = 0;
  await db.transaction(async (tx) => {
    attempts++;
    await tx.collection('c').updateOne({ _id: 1 }, { $set: { a: [2, 9] } });
    // A write of the same document outside the transaction commits first: the transaction conflicts.
    if (attempts === 1) await c.updateOne({ _id: 1 }, { $set: { b: 1 } });
  });
  t.equal(attempts, 2, 'the transaction ran again');
  t.equal((await c.listIndexes())[1]?.multikey, true);
  await db.close();

  db = await Bundoc.open(file, { durability: 'full' });
  const r = db.collection('c');
  t.equal((await r.listIndexes())[1]?.multikey, true, 'multikey after reopening');
  t.same(
    (await r.find({ a: { $gt: 0 } }, { sort: { a: 1 } }).toArray()).map((d) => d._id),
    [2, 1],
    'each document once, in sort order',
  );
  await db.close();
});

t.test('a path through an array of subdocuments makes the index multikey', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-multikey-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const db = await Bundoc.open(path.join(dir, 'db'));
  const c = db.collection('c');
  await c.createIndex({ 'address.city': 1 });
  await c.insertMany([
    { _id: 1, address: [{ city: 'x' }, { city: 'y' }] },
    { _id: 2, address: { city: 'x' } },
    { _id: 3, address: [{ city: 'w' }] },
  ]);
  t.equal((await c.listIndexes())[1]?.multikey, true);
  // Each condition may hold for another city of document 1 (as in MongoDB without $elemMatch): bounds
  // intersected as for single values, ("x", "y"), found nothing.
  const filter = { 'address.city': { $gt: 'x', $lt: 'y' } };
  t.same(
    (await c.find(filter).toArray()).map((d) => d._id),
    [1],
  );
  t.equal(await c.countDocuments(filter), 1);
  t.same(
    (await c.find({ 'address.city': { $gte: 'w' } }, { sort: { 'address.city': 1 } }).toArray()).map(
      (d) => d._id,
    ),
    [3, 1, 2],
    'each document once, sorted by its smallest city',
  );
  await db.close();
});
