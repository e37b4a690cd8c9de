import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import {
  BulkWriteError,
  Bundoc,
  DuplicateKeyError,
  IndexNotFoundError,
  InvalidCollectionNameError,
  InvalidDocumentError,
  InvalidIndexError,
  InvalidOptionError,
  InvalidSecuritySpecError,
} from '../src/db/index.js';
import { InvalidFilterError, InvalidUpdateError, UpdateConflictError } from '../src/query/errors.js';
import { Storage } from '../src/storage/index.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-db-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'db');
}

async function openDb(t: Test): Promise<{ db: Bundoc; dir: string }> {
  const dir = await tempDir(t);
  const db = await Bundoc.open(dir, { durability: 'off' });
  t.teardown(() => db.close());
  return { db, dir };
}

t.test('open, reopen: catalog, documents and indexes persist in the store itself', async (t) => {
  const dir = await tempDir(t);
  let db = await Bundoc.open(dir);
  const posts = db.collection('users/u1/posts');
  await posts.insertOne({ _id: 'p1', title: 'hello', n: 3 });
  await posts.createIndex({ n: 1 }, { name: 'by_n' });
  await db.createCollection('empty');
  t.same(db.listCollections(), ['empty', 'users/u1/posts']);
  await db.close();
  db = await Bundoc.open(dir);
  t.teardown(() => db.close());
  t.same(db.listCollections(), ['empty', 'users/u1/posts']);
  t.same(await db.collection('users/u1/posts').get('p1'), { _id: 'p1', title: 'hello', n: 3 });
  const idx = await db.collection('users/u1/posts').listIndexes();
  t.same(
    idx.map((i) => i.name),
    ['_id_', 'by_n'],
  );
  const ex = await db.collection('users/u1/posts').find({ n: 3 }).explain();
  t.equal(ex.plan, 'IXSCAN');
  t.equal(ex.index, 'by_n');
  t.equal(ex.nReturned, 1);
});

t.test(':memory: uses a temporary directory removed at close', async (t) => {
  const db = await Bundoc.open(':memory:');
  const dir = db.storage.dir;
  t.ok(existsSync(dir));
  await db.collection('a').insertOne({ x: 1 });
  t.equal(await db.collection('a').countDocuments(), 1);
  await db.close();
  t.notOk(existsSync(dir), 'directory removed');
  await t.rejects(db.collection('a').insertOne({ x: 2 }), { code: 'CLOSED' });
});

t.test('collection names', async (t) => {
  const { db } = await openDb(t);
  for (const ok of ['users', 'users/u1/posts', 'a.b', 'ünïcode', 'x'.repeat(200)]) {
    t.doesNotThrow(() => db.collection(ok), ok);
  }
  const bad: unknown[] = [
    '',
    'x'.repeat(201),
    '$cmd',
    'system.users',
    '__bundoc/catalog',
    'a\u0000b',
    'a\nb',
    'a//b',
    '/a',
    'a/',
    'a/../b',
    ' a',
    'a\uD800',
    42,
    null,
  ];
  for (const name of bad) {
    t.throws(() => db.collection(name as string), InvalidCollectionNameError, JSON.stringify(name));
  }
  await t.rejects(db.createCollection(''), InvalidCollectionNameError);
  await t.rejects(db.dropCollection('$x'), InvalidCollectionNameError);
  t.same(db.listCollections(), []);
});

t.test('insertOne: ids, duplicates, validation', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('c');
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) ids.push((await c.insertOne({ i }))._id as string);
  t.equal(new Set(ids).size, 200, 'generated ids are unique');
  t.same([...ids].sort(), ids, 'generated ids sort in insertion order');
  t.match(ids[0], /^[0-9a-f]{24}$/);
  const all = await c.find({}, { sort: { _id: 1 } }).toArray();
  t.same(
    all.map((d) => d.i),
    [...Array(200).keys()],
    'documents come back in _id order',
  );

  await c.insertOne({ _id: 7, v: 'first' });
  const dup = await c.insertOne({ _id: 7, v: 'second' }).catch((e) => e);
  t.type(dup, DuplicateKeyError);
  t.equal(dup.index, '_id_');
  t.same(await c.get(7), { _id: 7, v: 'first' }, 'never overwritten');
  await t.rejects(
    c.insertOne({ _id: -0, v: 'zero' }).then(() => c.insertOne({ _id: 0 })),
    DuplicateKeyError,
  );

  const before = await c.countDocuments();
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  // [document, path of the offending value, what the message says]
  const cases: Array<[unknown, string, RegExp]> = [
    [{ f: () => 1 }, 'f', /function/],
    [{ a: { b: undefined } }, 'a.b', /undefined/],
    [{ n: Number.NaN }, 'n', /NaN/],
    [{ n: Number.POSITIVE_INFINITY }, 'n', /Infinity/],
    [{ deep: { arr: [1, 2, undefined] } }, 'deep.arr.2', /undefined/],
    [circular, 'self', /circular/],
    [{ m: new Map() }, 'm', /Map/],
    [{ $bad: 1 }, '$bad', /\$bad/],
    [{ 'a.b': 1 }, 'a.b', /"a\.b"/],
    [{ _id: { x: 1 } }, '_id', /_id/],
    [{ _id: [1] }, '_id', /_id/],
    [{ _id: null }, '_id', /_id/],
    [{ s: Symbol('x') }, 's', /symbol/],
    [{ b: 10n }, 'b', /bigint/],
    [[1, 2], '', /array/],
    ['text', '', /string/],
  ];
  for (const [doc, path, message] of cases) {
    const e = await c.insertOne(doc as never).catch((x) => x);
    t.type(e, InvalidDocumentError, path);
    t.equal(e.path, path, `path of ${path}`);
    t.match(e.message, message);
  }
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 150; i++) deep = { d: deep };
  await t.rejects(c.insertOne(deep), InvalidDocumentError);
  const big = { blob: 'x'.repeat(16 * 1024 * 1024) };
  await t.rejects(c.insertOne(big), { name: 'DocumentTooLargeError', message: /over the limit/ });
  t.equal(await c.countDocuments(), before, 'nothing written by rejected documents');
  await t.rejects(db.collection('never').insertOne({ f: () => 1 } as never), InvalidDocumentError);
  t.notOk(db.listCollections().includes('never'), 'a rejected first write does not create the collection');

  const dated = await c.insertOne({ _id: 'd', at: new Date('2020-01-02T03:04:05.000Z') });
  t.equal(dated._id, 'd');
  const back = await c.get('d');
  t.type(back?.at, Date, 'Dates are stored as typed values and come back as Dates');
  t.same(back, { _id: 'd', at: new Date('2020-01-02T03:04:05.000Z') });
  const nearBig = { _id: 'big', blob: 'y'.repeat(1024 * 1024) };
  await c.insertOne(nearBig);
  t.equal(((await c.get('big')) as { blob: string }).blob.length, 1024 * 1024, 'large documents round-trip');
});

t.test('insertMany ordered is all-or-nothing, unordered keeps the valid ones', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('c');
  await c.insertOne({ _id: 2 });
  await t.rejects(c.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]), DuplicateKeyError);
  t.equal(await c.countDocuments(), 1, 'ordered batch rolled back whole');
  const bad = await c.insertMany([{ _id: 10 }, { f: Number.NaN }]).catch((e) => e);
  t.type(bad, InvalidDocumentError);
  t.equal(bad.batchIndex, 1, 'the error names the position in the batch');
  t.equal(bad.path, 'f');
  t.match(bad.message, /document \[1\] at "f"/);
  t.equal(await c.countDocuments(), 1);
  const err = await c
    .insertMany([{ _id: 1 }, { _id: 2 }, { n: Number.NaN }, { _id: 3 }, { _id: 1 }], { ordered: false })
    .catch((e) => e);
  t.type(err, BulkWriteError);
  t.same(
    err.writeErrors.map((w: { index: number }) => w.index),
    [1, 2, 4],
  );
  t.same(err.insertedIds, [1, 3]);
  t.same(
    (await c.find({}, { sort: { _id: 1 } }).toArray()).map((d) => d._id),
    [1, 2, 3],
  );
  t.same(await c.insertMany([{ _id: 'a' }, { _id: 'b' }]), { insertedIds: ['a', 'b'], insertedCount: 2 });
  await t.rejects(c.insertMany('nope' as never), InvalidDocumentError);
});

t.test('find: filter, sort, skip, limit, projection, count, next, async iteration', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('people');
  const docs = [...Array(30).keys()].map((i) => ({
    _id: i,
    name: `p${i}`,
    age: 20 + (i % 7),
    address: { city: ['Oslo', 'Rome', 'Lima'][i % 3] },
    tags: i % 2 ? ['odd'] : ['even', 'x'],
  }));
  await c.insertMany(docs);
  const q = c.find(
    { 'address.city': 'Rome', age: { $gte: 22 } },
    { sort: { age: -1, name: 1 }, skip: 1, limit: 3, projection: { name: 1, age: 1 } },
  );
  const expected = docs
    .filter((d) => d.address.city === 'Rome' && d.age >= 22)
    .sort((a, b) => b.age - a.age || a.name.localeCompare(b.name))
    .slice(1, 4)
    .map((d) => ({ _id: d._id, name: d.name, age: d.age }));
  t.same(await q.toArray(), expected);
  t.equal(await q.count(), expected.length);
  const ex = await q.explain();
  t.equal(ex.plan, 'COLLSCAN');
  t.equal(ex.docsExamined, 30);
  const cur = c.find({ tags: 'odd' }, { sort: { _id: -1 } });
  t.same((await cur.next())?._id, 29);
  const rest: number[] = [];
  for await (const d of cur) rest.push(d._id as number);
  t.equal(rest.length, 14);
  t.equal(await cur.next(), null);
  t.same(await c.findOne({ name: 'p5' }, { projection: { _id: 0, name: 1 } }), { name: 'p5' });
  t.equal(await c.findOne({ name: 'none' }), null);
  t.equal(await c.get(99), null);
  t.equal(await db.collection('nothing').findOne({}), null);
  t.equal(await c.countDocuments({ age: { $in: [20, 21] } }), docs.filter((d) => d.age <= 21).length);
  t.same(await c.distinct('address.city'), ['Lima', 'Oslo', 'Rome']);
  t.same(await c.distinct('tags', { _id: { $lt: 2 } }), ['even', 'odd', 'x']);
  t.throws(() => c.find({ age: { $bogus: 1 } }), InvalidFilterError);
  t.throws(() => c.find({}, { limit: -1 }), InvalidOptionError);
  t.throws(() => c.find({}, { skip: 1.5 }), InvalidOptionError);
  t.throws(() => c.find({}, { sorted: 1 } as never), InvalidOptionError);
  t.throws(() => c.find({}, { after: 'garbage!' }), InvalidOptionError);
  await t.rejects(c.distinct('$x'), InvalidOptionError);
  await t.rejects(c.get({} as never), InvalidDocumentError);
});

t.test('updates: operators, replace, upsert, immutability, atomic rejection', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('c');
  await c.insertMany([
    { _id: 1, n: 1, tags: ['a'] },
    { _id: 2, n: 2, tags: [] },
    { _id: 3, n: 3, s: 'x' },
  ]);
  t.same(await c.updateOne({ n: { $gte: 2 } }, { $inc: { n: 10 } }), {
    matchedCount: 1,
    modifiedCount: 1,
    upsertedId: null,
  });
  t.same(await c.updateMany({}, { $set: { seen: true }, $push: { tags: 'z' } }), {
    matchedCount: 3,
    modifiedCount: 3,
    upsertedId: null,
  });
  t.same(await c.get(1), { _id: 1, n: 1, tags: ['a', 'z'], seen: true });
  t.same(
    await c.updateMany({ seen: true }, { $set: { seen: true } }),
    { matchedCount: 3, modifiedCount: 0, upsertedId: null },
    'no-op updates do not count as modified',
  );
  t.same(await c.replaceOne({ _id: 2 }, { fresh: 1 }), {
    matchedCount: 1,
    modifiedCount: 1,
    upsertedId: null,
  });
  t.same(await c.get(2), { _id: 2, fresh: 1 });
  const up = await c.updateOne({ _id: 9, kind: 'new' }, { $set: { v: 1 } }, { upsert: true });
  t.same(up, { matchedCount: 0, modifiedCount: 0, upsertedId: 9 });
  t.same(await c.get(9), { _id: 9, kind: 'new', v: 1 });
  const up2 = await c.updateOne({ kind: 'other' }, { $set: { v: 2 } }, { upsert: true });
  t.type(up2.upsertedId, 'string');
  t.same(await c.get(up2.upsertedId!), { _id: up2.upsertedId, kind: 'other', v: 2 });

  const snapshot = await c.find({}, { sort: { _id: 1 } }).toArray();
  await t.rejects(c.updateOne({}, { $set: { _id: 5 } }), InvalidUpdateError, '_id paths are refused whole');
  await t.rejects(c.replaceOne({ _id: 1 }, { _id: 5 }), UpdateConflictError);
  await t.rejects(c.updateOne({}, { $bogus: { a: 1 } }), InvalidUpdateError);
  await t.rejects(c.updateOne({}, { $set: { a: 1 }, $inc: { a: 1 } }), InvalidUpdateError);
  await t.rejects(c.updateOne({}, { plain: 1 }), InvalidUpdateError, 'updateOne needs operators');
  await t.rejects(c.replaceOne({}, { $set: { a: 1 } }), InvalidUpdateError);
  await t.rejects(c.updateMany({}, { $set: { bad: Number.NaN } }), {
    name: 'InvalidUpdateError',
    message: /NaN/,
  });
  // n is a string in one document only: the whole updateMany fails and nothing is changed.
  await t.rejects(c.updateMany({}, { $inc: { s: 1 } }), UpdateConflictError);
  await t.rejects(c.updateOne({}, { $set: { x: 1 } }, { upsert: 'yes' } as never), InvalidOptionError);
  t.same(await c.find({}, { sort: { _id: 1 } }).toArray(), snapshot, 'rejected updates changed nothing');

  t.same(await c.deleteOne({ n: { $exists: true } }), { deletedCount: 1 });
  t.same(await c.deleteMany({ seen: true }), { deletedCount: 1 }, 'document 2 was replaced without "seen"');
  t.same(await c.deleteMany({ nothing: 1 }), { deletedCount: 0 });
  t.equal(await c.countDocuments(), 3);
});

t.test('indexes: unique, sparse, compound, nested, multikey, list and drop', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('users');
  await c.insertMany([
    { _id: 1, email: 'a@x', address: { city: 'Oslo' }, age: 30, tags: ['t1', 't2'] },
    { _id: 2, email: 'b@x', address: { city: 'Rome' }, age: 25, tags: ['t2'] },
    { _id: 3, address: { city: 'Oslo' }, age: 41 },
  ]);
  t.equal(await c.createIndex({ email: 1 }, { unique: true, sparse: true }), 'email_1');
  t.equal(await c.createIndex({ email: 1 }, { unique: true, sparse: true }), 'email_1', 'idempotent');
  await c.createIndex({ 'address.city': 1, age: -1 });
  await c.createIndex({ tags: 1 }, { name: 'tags' });

  const dup = await c.insertOne({ _id: 4, email: 'a@x' }).catch((e) => e);
  t.type(dup, DuplicateKeyError);
  t.equal(dup.index, 'email_1');
  t.match(dup.message, /a@x/);
  t.equal(await c.get(4), null, 'duplicate index key leaves no document behind');
  await c.insertOne({ _id: 5 }); // sparse: missing emails do not collide
  await t.rejects(c.updateOne({ _id: 2 }, { $set: { email: 'a@x' } }), DuplicateKeyError);
  t.same(await c.get(2), { _id: 2, email: 'b@x', address: { city: 'Rome' }, age: 25, tags: ['t2'] });
  await c.updateOne({ _id: 1 }, { $set: { email: 'c@x' } });
  await c.insertOne({ _id: 6, email: 'a@x' }); // the old key was released

  const ex = await c.find({ 'address.city': 'Oslo', age: { $gt: 35 } }).explain();
  t.equal(ex.plan, 'IXSCAN');
  t.equal(ex.index, 'address.city_1_age_-1');
  t.same(ex.bounds, { 'address.city': ['["Oslo", "Oslo"]'], age: ['(35, "")'] });
  t.equal(ex.nReturned, 1);
  t.equal(ex.keysExamined, 1, 'the bounds exclude other keys');

  const mk = c.find({ tags: 't2' });
  t.same((await mk.toArray()).map((d) => d._id).sort(), [1, 2]);
  t.equal((await mk.explain()).index, 'tags');
  const list = await c.listIndexes();
  t.same(
    list.map((i) => [i.name, i.unique, i.sparse, i.multikey]),
    [
      ['_id_', true, false, false],
      ['email_1', true, true, false],
      ['address.city_1_age_-1', false, false, false],
      ['tags', false, false, true],
    ],
  );
  await c.dropIndex('tags');
  t.equal((await c.find({ tags: 't2' }).explain()).plan, 'COLLSCAN');
  await t.rejects(c.dropIndex('tags'), IndexNotFoundError);
  await t.rejects(c.dropIndex('_id_'), InvalidIndexError);

  for (const [spec, opts] of [
    [{}, undefined],
    [{ a: 2 }, undefined],
    [{ a: 'text' }, undefined],
    [{ $a: 1 }, undefined],
    [{ 'a..b': 1 }, undefined],
    [{ _id: 1 }, undefined],
    [{ a: 1 }, { unique: 'yes' }],
    [{ a: 1 }, { weights: 1 }],
    [{ a: 1 }, { name: '' }],
    [{ a: 1 }, { name: '_id_' }],
    [{ email: -1 }, { name: 'email_1' }],
    [{ email: 1 }, { name: 'other' }],
    [[1], undefined],
  ] as Array<[unknown, unknown]>) {
    await t.rejects(
      c.createIndex(spec as never, opts as never),
      InvalidIndexError,
      JSON.stringify([spec, opts]),
    );
  }

  // A unique index cannot be built over duplicate data; the failed build leaves nothing behind.
  await c.insertOne({ _id: 7, age: 30 });
  await t.rejects(c.createIndex({ age: 1 }, { unique: true }), DuplicateKeyError);
  t.notOk((await c.listIndexes()).some((i) => i.name === 'age_1'));
  t.equal(
    db.storage.trees().filter((n) => n.startsWith('__bundoc/x/')).length,
    2,
    'no half-built index tree',
  );

  await t.rejects(
    c.insertOne({ _id: 8, address: { city: 'x'.repeat(3000) } }),
    InvalidDocumentError,
    'oversize index key',
  );
  await t.rejects(
    c.insertOne({ _id: 9, address: [{ city: 'a' }, { city: 'b' }], age: [1, 2] }),
    InvalidDocumentError,
    'parallel arrays',
  );
  t.equal(await c.get(8), null);
  t.equal(await c.get(9), null);
});

t.test('keyset pagination visits every document once, in order', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('c');
  const docs = [...Array(57).keys()].map((i) => ({ _id: i, g: i % 5, s: `k${i % 11}` }));
  await c.insertMany(docs);
  await c.createIndex({ g: 1 });
  const sorts: (Record<string, 1 | -1> | undefined)[] = [{ g: 1 }, { g: -1, s: 1 }, { _id: -1 }, undefined];
  for (const sort of sorts) {
    const expected = await c.find({}, { sort: sort ?? { _id: 1 } }).toArray();
    const seen: unknown[] = [];
    let token: string | undefined;
    for (let page = 0; page < 20; page++) {
      const cur = c.find({}, { sort, limit: 10, ...(token ? { after: token } : {}) });
      const got = await cur.toArray();
      seen.push(...got);
      if (got.length < 10) break;
      token = cur.token;
      if (!token) break;
    }
    if (sort === undefined) {
      t.equal(c.find({}).token, undefined, 'no token without an order');
      continue;
    }
    t.same(seen, expected, JSON.stringify(sort));
  }
  const first = c.find({}, { sort: { g: 1 }, limit: 5 });
  await first.toArray();
  t.throws(
    () => c.find({}, { sort: { s: 1 }, after: first.token }),
    InvalidOptionError,
    'token of another order',
  );
});

t.test('dropCollection removes documents and index trees; open drops orphaned trees', async (t) => {
  const dir = await tempDir(t);
  let db = await Bundoc.open(dir, { durability: 'off' });
  const c = db.collection('gone');
  await c.insertOne({ _id: 1, a: 1 });
  await c.createIndex({ a: 1 });
  t.equal(await db.dropCollection('gone'), true);
  t.equal(await db.dropCollection('gone'), false);
  t.same(db.listCollections(), []);
  t.same(db.storage.trees(), ['__bundoc/catalog']);
  t.equal(await db.collection('gone').countDocuments(), 0);
  await db.collection('gone').insertOne({ _id: 1 });
  t.equal(
    await db.collection('gone').countDocuments(),
    1,
    'a new collection under the old name starts empty',
  );
  await db.close();
  // A crash between the catalog commit and the tree drop leaves an unreferenced tree.
  const st = await Storage.open(dir);
  await st.transaction((tx) => tx.put('__bundoc/d/999', new Uint8Array([1]), new Uint8Array([2])));
  await st.close();
  db = await Bundoc.open(dir);
  t.teardown(() => db.close());
  t.notOk(db.storage.trees().includes('__bundoc/d/999'));
  t.equal(await db.collection('gone').countDocuments(), 1);
});

t.test('createCollection options that do not exist are refused, not ignored', async (t) => {
  const { db } = await openDb(t);
  await t.rejects(db.createCollection('s', { capped: true } as never), InvalidSecuritySpecError);
  await db.createCollection('s');
  await db.createCollection('s');
  t.same(db.listCollections(), ['s']);
});

t.test('Dates are typed values end to end: queries, sorts, indexes, updates, keyset pages', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('events');
  const day = (d: number) => new Date(Date.UTC(2024, 0, d));
  await c.insertMany([
    { _id: 1, at: day(3), label: 'c' },
    { _id: 2, at: day(1), label: 'a' },
    { _id: 3, at: '2024-01-02T00:00:00.000Z', label: 'string, not a date' },
    { _id: 4, at: day(2), label: 'b' },
  ]);
  const ids = async (filter: Record<string, unknown>, sort?: Record<string, 1 | -1>) =>
    (await c.find(filter, sort ? { sort } : {}).toArray()).map((d) => d._id);
  t.same(await ids({ at: { $gt: day(1) } }, { at: 1 }), [4, 1], 'a Date range matches Dates only');
  t.same(await ids({ at: day(2) }), [4]);
  t.same(await ids({ at: { $type: 'date' } }, { _id: 1 }), [1, 2, 4]);
  t.same(await ids({ at: { $type: 'string' } }), [3]);
  t.same(await ids({}, { at: 1 }), [3, 2, 4, 1], 'strings sort before dates');
  await c.createIndex({ at: 1 });
  t.same(await ids({ at: { $gte: day(2) } }, { at: -1 }), [1, 4], 'same through the index');
  const range = await c.find({ at: { $gte: day(2), $lt: day(3) } }).explain();
  t.equal(range.index, 'at_1', 'a Date range uses the index');
  t.equal(range.keysExamined, 1, 'bounded to the Dates in range');
  const eq = await c.find({ at: { $in: [day(1), day(3)] } }).explain();
  t.same([eq.index, eq.keysExamined, eq.nReturned], ['at_1', 2, 2], 'Date points too');
  const page1 = c.find({}, { sort: { at: 1 }, limit: 2 });
  t.same(
    (await page1.toArray()).map((d) => d._id),
    [3, 2],
  );
  const page2 = await c.find({}, { sort: { at: 1 }, after: page1.token }).toArray();
  t.same(
    page2.map((d) => d._id),
    [4, 1],
    'a keyset token keeps the Date it ends on',
  );
  const before = Date.now();
  await c.updateOne({ _id: 3 }, { $currentDate: { at: true }, $set: { label: 'now' } });
  const now = (await c.get(3))?.at;
  t.type(now, Date, '$currentDate writes a Date');
  t.ok((now as Date).getTime() >= before);
  t.same(await ids({ at: { $gt: day(5) } }), [3], 'and the index sees it');
  await c.updateOne({ _id: 2 }, { $max: { at: day(9) } });
  t.same((await c.get(2))?.at, day(9));
  t.same(await c.distinct('at', { _id: { $in: [1, 2] } }), [day(3), day(9)]);
});

t.test('a document mutated after insertOne() is stored and indexed as it was at the call', async (t) => {
  const { db } = await openDb(t);
  const c = db.collection('c');
  await c.insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, v: i })));
  // An index build holds the schema lock, so these inserts wait, and the caller changes the objects.
  const build = c.createIndex({ v: 1 });
  const docs = Array.from({ length: 20 }, (_, i) => ({ _id: 1000 + i, v: -1 - i, nested: { w: i } }));
  const inserts = docs.map((d) => c.insertOne(d));
  const batch = { _id: 2000, v: -100 };
  const many = c.insertMany([batch]);
  for (const d of docs) {
    d.v = 5000;
    d.nested.w = 5000;
  }
  batch.v = 5000;
  await Promise.all([build, ...inserts, many]);
  t.equal(await c.countDocuments({ v: 5000 }), 0, 'nothing stored with the later value');
  t.equal((await c.find({ v: 5000 }).explain()).plan, 'IXSCAN');
  const viaIndex = await c.find({ v: { $lt: 0 } }, { sort: { v: 1 } }).toArray();
  t.same(
    viaIndex.map((d) => d._id),
    [2000, ...docs.map((d) => d._id).reverse()],
    'index keys are the values at the call',
  );
  t.same(await c.get(1003), { _id: 1003, v: -4, nested: { w: 3 } });
});

t.test('collections take interface types, as apps declare them', async (t) => {
  interface User {
    _id?: string;
    name: string;
    tags: string[];
  }
  const { db } = await openDb(t);
  const users = db.collection<User>('users');
  const { _id } = await users.insertOne({ name: 'ada', tags: ['x'] });
  const back: User | null = await users.get(_id);
  t.equal(back?.name, 'ada');
  const all: User[] = await users.find({ tags: 'x' }).toArray();
  t.equal(all.length, 1);
});
