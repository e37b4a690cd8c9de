import t, { type Test } from 'tap';
import {
  BulkWriteError,
  type Bundoc,
  CollectionReferencedError,
  DanglingReferenceError,
  type Document,
  ReferenceRestrictedError,
  SchemaValidationError,
} from '../src/index.js';
import { caught, checkIndexes, dump, openDb, refused } from './db-security-fixtures.js';

// References through the public API: existence checked on every write path, deletes planned over
// everything they reach (restrict, setNull, cascade; multi-level, across collections, cycles) and
// applied in one transaction with index maintenance; any failure leaves every tree byte for byte.

const ref = (collection: string, onDelete: 'restrict' | 'setNull' | 'cascade') => ({
  'x-bundoc-ref': { collection, onDelete },
});
const nullable = (collection: string, onDelete: 'restrict' | 'setNull' | 'cascade') => ({
  type: ['string', 'number', 'null'],
  ...ref(collection, onDelete),
});

/**
 * users ← posts.author (cascade), posts.editors[] (setNull, unique items)
 * posts ← comments.post (cascade); users ← comments.author (restrict)
 * comments ← likes.comment (cascade); likes ← flags.like (restrict)
 */
async function blog(t: Test) {
  const h = await openDb(t);
  const db = h.db;
  await db.createCollection('users');
  await db.createCollection('posts', {
    schema: {
      type: 'object',
      required: ['author'],
      properties: {
        author: { type: 'string', ...ref('users', 'cascade') },
        editors: { type: 'array', uniqueItems: true, items: nullable('users', 'setNull') },
      },
    },
  });
  await db.createCollection('comments', {
    schema: {
      type: 'object',
      properties: { post: ref('posts', 'cascade'), author: ref('users', 'restrict') },
    },
  });
  await db.createCollection('likes', { schema: { properties: { comment: ref('comments', 'cascade') } } });
  await db.createCollection('flags', { schema: { properties: { like: ref('likes', 'restrict') } } });
  await db.collection('posts').createIndex({ author: 1 });
  await db.collection('posts').createIndex({ editors: 1 });
  await db.collection('comments').createIndex({ post: 1, author: 1 });
  await db.collection('likes').createIndex({ comment: 1 });
  await db.collection('users').insertMany([
    { _id: 'u1', name: 'ann' },
    { _id: 'u2', name: 'bob' },
    { _id: 'u3', name: 'cid' },
  ]);
  await db.collection('posts').insertMany([
    { _id: 'p1', author: 'u1', editors: ['u2', 'u3'] },
    { _id: 'p2', author: 'u2', editors: ['u1'] },
    { _id: 'p3', author: 'u3', editors: [] },
  ]);
  await db.collection('comments').insertMany([
    { _id: 'c1', post: 'p1', author: 'u1' }, // on u1's own post: deleted with it
    { _id: 'c2', post: 'p1', author: 'u2' }, // deleted with p1 (cascade), its restrict does not block
    { _id: 'c3', post: 'p2', author: 'u3' },
  ]);
  await db.collection('likes').insertMany([
    { _id: 'l1', comment: 'c1' },
    { _id: 'l2', comment: 'c2' },
    { _id: 'l3', comment: 'c3' },
  ]);
  return { ...h, db };
}

async function ids(db: Bundoc, name: string): Promise<unknown[]> {
  return (
    await db
      .collection(name)
      .find({}, { sort: { _id: 1 } })
      .toArray()
  ).map((d) => d._id);
}

t.test('writes: referenced documents must exist, on every write path', async (t) => {
  const { db } = await blog(t);
  const posts = db.collection('posts');
  const comments = db.collection('comments');
  const dangling = DanglingReferenceError;
  await refused(t, db, 'insertOne', () => posts.insertOne({ author: 'nobody' }), dangling, {
    collection: 'posts',
    path: 'author',
    targetCollection: 'users',
    missing: ['nobody'],
  });
  await refused(
    t,
    db,
    'array item',
    () => posts.insertOne({ author: 'u1', editors: ['u2', 'zz'] }),
    dangling,
    {
      path: 'editors[]',
      missing: ['zz'],
    },
  );
  await refused(
    t,
    db,
    'number is not a string id',
    () => comments.insertOne({ post: 'p1', author: 1 }),
    dangling,
  );
  await refused(
    t,
    db,
    'insertMany ordered, last one dangling',
    () => comments.insertMany([{ post: 'p1' }, { post: 'p2' }, { post: 'p9' }]),
    dangling,
    { batchIndex: 2, message: /document \[2\] in collection "comments"/ },
  );
  await refused(t, db, '$set', () => posts.updateOne({ _id: 'p3' }, { $set: { author: 'u9' } }), dangling);
  await refused(t, db, '$push', () => posts.updateOne({ _id: 'p3' }, { $push: { editors: 'u9' } }), dangling);
  await refused(t, db, 'replaceOne', () => posts.replaceOne({ _id: 'p3' }, { author: 'u9' }), dangling);
  await refused(
    t,
    db,
    'upsert',
    () => posts.updateOne({ _id: 'p9' }, { $set: { author: 'u9' } }, { upsert: true }),
    dangling,
  );
  await refused(
    t,
    db,
    'updateMany: nothing is updated',
    () => posts.updateMany({ _id: { $in: ['p1', 'p2'] } }, { $set: { author: 'u9' } }),
    dangling,
  );
  // Null, a missing field and existing ids are fine; an update keeping a reference does not re-check it.
  await comments.insertOne({ _id: 'c9', post: null });
  await comments.insertOne({ _id: 'c10' });
  await posts.updateOne({ _id: 'p3' }, { $push: { editors: 'u1' } });
  await posts.updateOne({ _id: 'p3' }, { $set: { author: 'u1' } });
  t.same(await posts.get('p3'), { _id: 'p3', author: 'u1', editors: ['u1'] });
  checkIndexes(t, db, 'after valid writes');
});

t.test('batches: a document may reference itself and documents before it', async (t) => {
  const h = await openDb(t);
  await h.db.createCollection('nodes', {
    schema: { properties: { parent: nullable('nodes', 'cascade') } },
  });
  const nodes = h.db.collection('nodes');
  await nodes.insertMany([
    { _id: 'root', parent: 'root' },
    { _id: 'a', parent: 'root' },
    { _id: 'b', parent: 'a' },
  ]);
  await refused(
    t,
    h.db,
    'ordered: reference to a later document',
    () =>
      nodes.insertMany([
        { _id: 'c', parent: 'd' },
        { _id: 'd', parent: 'root' },
      ]),
    DanglingReferenceError,
  );
  const e = await caught(() =>
    nodes.insertMany(
      [
        { _id: 'c', parent: 'd' },
        { _id: 'd', parent: 'root' },
        { _id: 'e', parent: 'c' },
        { _id: 'f', parent: 'd' },
      ],
      { ordered: false },
    ),
  );
  t.type(e, BulkWriteError);
  t.same(
    (e as BulkWriteError).writeErrors.map((w) => [w.index, w.error.constructor.name]),
    [
      [0, 'DanglingReferenceError'],
      [2, 'DanglingReferenceError'],
    ],
  );
  t.same((e as BulkWriteError).insertedIds, ['d', 'f']);
  // Transactions: the referenced document may be written earlier in the same transaction.
  await h.db.transaction(async (tx) => {
    await tx.collection('nodes').insertOne({ _id: 'g', parent: 'root' });
    await tx.collection('nodes').insertOne({ _id: 'h', parent: 'g' });
  });
  t.same(await nodes.get('h'), { _id: 'h', parent: 'g' });
  // Deleting the root cascades through the tree (and through the root's reference to itself).
  t.same(await nodes.deleteOne({ _id: 'root' }), { deletedCount: 1 });
  t.same(await nodes.countDocuments(), 0);
});

t.test('cascade, setNull and restrict over several levels and collections', async (t) => {
  const { db } = await blog(t);
  // Deleting u1: p1 (author, cascade) → c1, c2 (post, cascade) → l1, l2 (comment, cascade);
  // p2.editors: u1 → null (setNull); c1's restrict reference to u1 is deleted with it.
  t.same(await db.collection('users').deleteOne({ _id: 'u1' }), { deletedCount: 1 });
  t.same(await ids(db, 'users'), ['u2', 'u3']);
  t.same(await ids(db, 'posts'), ['p2', 'p3']);
  t.same(await ids(db, 'comments'), ['c3']);
  t.same(await ids(db, 'likes'), ['l3']);
  t.same(await db.collection('posts').get('p2'), { _id: 'p2', author: 'u2', editors: [null] });
  t.same(await db.collection('posts').find({ editors: null }).toArray(), [
    { _id: 'p2', author: 'u2', editors: [null] },
  ]);
  t.same((await db.collection('posts').find({ editors: null }).explain()).plan, 'IXSCAN');
  checkIndexes(t, db, 'after the cascade');

  // u3 is referenced with restrict by c3, which survives: refused, nothing changes.
  const e = await refused(
    t,
    db,
    'restrict',
    () => db.collection('users').deleteOne({ _id: 'u3' }),
    ReferenceRestrictedError,
    {
      collection: 'users',
      id: 'u3',
      referencingCollection: 'comments',
      referencingId: 'c3',
      path: 'author',
    },
  );
  t.match(e?.message, /onDelete: restrict/);
  // Deleting c3 first unblocks it: then p3 cascades; p2's editors keep their null.
  await db.collection('comments').deleteOne({ _id: 'c3' });
  t.same(await ids(db, 'likes'), []);
  await db.collection('users').deleteOne({ _id: 'u3' });
  t.same(await ids(db, 'posts'), ['p2']);
  checkIndexes(t, db, 'after the second delete');
});

t.test('a restrict deep in a cascade fails the whole delete, byte for byte', async (t) => {
  const { db } = await blog(t);
  // users u1 → posts p1 → comments c1, c2 → likes l1, l2; flag f1 references l2 with restrict.
  await db.collection('flags').insertOne({ _id: 'f1', like: 'l2' });
  const before = dump(db);
  await refused(
    t,
    db,
    'deep restrict',
    () => db.collection('users').deleteOne({ _id: 'u1' }),
    ReferenceRestrictedError,
    {
      collection: 'likes',
      id: 'l2',
      referencingCollection: 'flags',
      referencingId: 'f1',
    },
  );
  await refused(
    t,
    db,
    'deep restrict, deleteMany',
    () => db.collection('users').deleteMany({}),
    ReferenceRestrictedError,
  );
  // The same inside a transaction that wrote before: the transaction fails whole.
  const e = await caught(() =>
    db.transaction(async (tx) => {
      await tx.collection('users').insertOne({ _id: 'u4' });
      await tx.collection('posts').updateOne({ _id: 'p3' }, { $push: { editors: 'u4' } });
      await tx.collection('users').deleteOne({ _id: 'u1' });
    }),
  );
  t.type(e, ReferenceRestrictedError);
  t.same(dump(db), before, 'the transaction left nothing');
  // A setNull result that breaks the schema (two nulls in a uniqueItems array) fails the delete too:
  // deleting u2 and u3 cascades p2, c3, l3 and p3, and turns p1.editors [u2, u3] into [null, null].
  await db.collection('flags').deleteOne({ _id: 'f1' });
  await db.collection('comments').deleteOne({ _id: 'c2' }); // its restrict on u2 would block first
  await refused(
    t,
    db,
    'setNull breaking uniqueItems',
    () => db.collection('users').deleteMany({ _id: { $in: ['u2', 'u3'] } }),
    SchemaValidationError,
    { collection: 'posts' },
  );
  checkIndexes(t, db, 'after the refused deletes');
});

t.test('a failure while the plan is being written (unique index) applies nothing', async (t) => {
  const h = await openDb(t);
  const db = h.db;
  await db.createCollection('owners');
  await db.createCollection('cars', { schema: { properties: { owner: nullable('owners', 'setNull') } } });
  await db.createCollection('wheels', { schema: { properties: { car: ref('cars', 'cascade') } } });
  await db.collection('cars').createIndex({ owner: 1 }, { unique: true });
  await db.collection('wheels').createIndex({ car: 1 });
  await db.collection('owners').insertMany([{ _id: 'o1' }, { _id: 'o2' }, { _id: 'o3' }]);
  await db.collection('cars').insertMany([
    { _id: 'c1', owner: 'o1' },
    { _id: 'c2', owner: 'o2' },
  ]);
  await db.collection('wheels').insertMany([
    { _id: 'w1', car: 'c1' },
    { _id: 'w2', car: 'c2' },
  ]);
  // Both cars' owners become null: the second update collides with the first on the unique index,
  // after the first was written into the transaction.
  await refused(
    t,
    db,
    'setNull collision',
    () => db.collection('owners').deleteMany({ _id: { $in: ['o1', 'o2'] } }),
    Error,
    { code: 'DUPLICATE_KEY' },
  );
  const before = dump(db);
  const e = await caught(() =>
    db.transaction(async (tx) => {
      await tx.collection('owners').deleteOne({ _id: 'o3' });
      await tx.collection('owners').deleteMany({ _id: { $in: ['o1', 'o2'] } });
    }),
  );
  t.match(e, { code: 'DUPLICATE_KEY' });
  t.same(dump(db), before, 'the transaction applied nothing');
  // One at a time works, and the index follows.
  await db.collection('owners').deleteOne({ _id: 'o1' });
  t.same(await db.collection('cars').find({ owner: null }).toArray(), [{ _id: 'c1', owner: null }]);
  await db.collection('cars').deleteOne({ _id: 'c2' });
  t.same(await ids(db, 'wheels'), ['w1']);
  checkIndexes(t, db, 'after the deletes');
});

t.test('cycles end: self references and collections referencing each other', async (t) => {
  const h = await openDb(t);
  const db = h.db;
  await db.createCollection('a', {
    schema: { properties: { b: nullable('b', 'cascade'), next: nullable('a', 'cascade') } },
  });
  await db.createCollection('b', { schema: { properties: { a: nullable('a', 'cascade') } } });
  await db.collection('a').createIndex({ b: 1 });
  // A ring a1 → a2 → a3 → a1 through `next` (written in one transaction), and a ↔ b pairs.
  await db.transaction(async (tx) => {
    await tx.collection('a').insertMany([{ _id: 1 }, { _id: 2, next: 1 }, { _id: 3, next: 2 }]);
    await tx.collection('a').updateOne({ _id: 1 }, { $set: { next: 3 } });
    await tx.collection('b').insertOne({ _id: 'x', a: 1 });
    await tx.collection('a').updateOne({ _id: 2 }, { $set: { b: 'x' } });
    await tx.collection('a').insertOne({ _id: 4 });
    await tx.collection('b').insertOne({ _id: 'y', a: 4 });
  });
  await db.collection('a').deleteOne({ _id: 3 });
  t.same(await ids(db, 'a'), [4]);
  t.same(await ids(db, 'b'), ['y']);
  await db.collection('b').deleteOne({ _id: 'y' });
  t.same(await ids(db, 'a'), [4], 'y referenced 4, not the reverse');
  checkIndexes(t, db, 'after the cycles');
});

t.test('dropCollection refuses a referenced collection unless forced', async (t) => {
  const { db } = await blog(t);
  const e = await refused(t, db, 'drop users', () => db.dropCollection('users'), CollectionReferencedError, {
    collection: 'users',
    referencedBy: ['comments', 'posts'],
  });
  t.match(e?.message, /force: true/);
  t.equal(await db.dropCollection('flags'), true, 'nothing references flags');
  await db.createCollection('self', { schema: { properties: { p: nullable('self', 'cascade') } } });
  t.equal(await db.dropCollection('self'), true, 'a collection referencing only itself');
  t.equal(await db.dropCollection('users', { force: true }), true);
  // The references now point at a collection that does not exist.
  await refused(
    t,
    db,
    'insert after the forced drop',
    () => db.collection('posts').insertOne({ author: 'u2' }),
    DanglingReferenceError,
  );
  await db.collection('posts').updateOne({ _id: 'p3' }, { $set: { title: 'kept reference not re-checked' } });
  // Recreated, it is referenced again.
  await db.collection('users').insertOne({ _id: 'u7' });
  await db.collection('posts').insertOne({ _id: 'p4', author: 'u7' });
  await db.collection('users').deleteOne({ _id: 'u7' });
  t.equal(await db.collection('posts').get('p4'), null, 'the cascade works again');
});

t.test('reopening keeps the reference graph', async (t) => {
  const h = await blog(t);
  const db = await h.reopen();
  await refused(
    t,
    db,
    'dangling after reopen',
    () => db.collection('posts').insertOne({ author: 'zz' }),
    DanglingReferenceError,
  );
  await refused(
    t,
    db,
    'restrict after reopen',
    () => db.collection('users').deleteOne({ _id: 'u3' }),
    ReferenceRestrictedError,
  );
  await db.collection('users').deleteOne({ _id: 'u1' });
  t.same(await ids(db, 'likes'), ['l3']);
  checkIndexes(t, db, 'after reopen and cascade');
});

t.test(
  'concurrent inserts referencing a document and its delete never leave a dangling reference',
  async (t) => {
    // Under snapshot isolation both would commit unless they conflict: the insert rewrites the document it
    // references, so the delete and the insert write the same key and one of them retries.
    const h = await openDb(t);
    const db = h.db;
    await db.createCollection('parents');
    await db.createCollection('kids', { schema: { properties: { p: ref('parents', 'restrict') } } });
    await db.createCollection('cascading', { schema: { properties: { p: ref('parents', 'cascade') } } });
    const rounds = 40;
    let restricted = 0;
    let dangling = 0;
    for (let r = 0; r < rounds; r++) {
      const pid = `p${r}`;
      await db.collection('parents').insertOne({ _id: pid });
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        ops.push(
          db
            .collection('kids')
            .insertOne({ p: pid })
            .catch((e) => e),
        );
        ops.push(
          db
            .collection('cascading')
            .insertOne({ p: pid })
            .catch((e) => e),
        );
        if (i === r % 4)
          ops.push(
            db
              .collection('parents')
              .deleteOne({ _id: pid })
              .catch((e) => e),
          );
      }
      for (const res of await Promise.all(ops)) {
        if (res instanceof ReferenceRestrictedError) restricted++;
        else if (res instanceof DanglingReferenceError) dangling++;
        else if (res instanceof Error) throw res;
      }
      const parent = await db.collection('parents').get(pid);
      const kids = await db.collection('kids').countDocuments({ p: pid });
      const casc = await db.collection('cascading').countDocuments({ p: pid });
      if (parent === null) {
        t.equal(kids, 0, `round ${r}: no kid references the deleted parent`);
        t.equal(casc, 0, `round ${r}: no cascading kid survives the deleted parent`);
      }
    }
    t.comment(`restricted ${restricted}, dangling ${dangling} of ${rounds} rounds`);
    t.ok(restricted + dangling > 0, 'the races happened');
  },
);

/** Seeded random operations: after each, no reference dangles and a failure changed nothing. */
t.test('random operations keep every reference valid', async (t) => {
  const seed = Number(process.env.BUNDOC_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (BUNDOC_SEED=${seed} to replay)`);
  let state = seed;
  const rand = (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const h = await openDb(t);
  const db = h.db;
  const modes = ['restrict', 'setNull', 'cascade'] as const;
  const names = ['r0', 'r1', 'r2'];
  const edges: Array<[string, string, string, (typeof modes)[number]]> = [];
  for (const from of names) {
    const properties: Record<string, unknown> = {};
    for (let k = 0; k < 2; k++) {
      const target = names[rand(names.length)]!;
      const mode = modes[rand(3)]!;
      const field = `f${k}`;
      properties[field] = k === 0 ? nullable(target, mode) : { type: 'array', items: nullable(target, mode) };
      edges.push([from, field, target, mode]);
    }
    await db.createCollection(from, { schema: { properties } });
    await db.collection(from).createIndex({ f0: 1 });
  }
  t.comment(JSON.stringify(edges));
  const idsOf = async (c: string) => (await db.collection(c).find({}).toArray()).map((d) => d._id as number);
  const randomRefs = async (doc: Document, from: string) => {
    for (const [f, field, target] of edges) {
      if (f !== from || rand(3) === 0) continue;
      const pool = await idsOf(target);
      const pick = () => (pool.length === 0 || rand(8) === 0 ? 1000 + rand(5) : pool[rand(pool.length)]!);
      doc[field] = field === 'f0' ? pick() : [pick(), pick()];
    }
    return doc;
  };
  const steps = process.env.BUNBASE_STRESS ? 1500 : 200;
  let next = 1;
  let failures = 0;
  for (let i = 0; i < steps; i++) {
    const c = names[rand(names.length)]!;
    const before = dump(db);
    const op = rand(10);
    let error: unknown;
    if (op < 5) {
      error = await caught(async () => db.collection(c).insertOne(await randomRefs({ _id: next++ }, c)));
    } else if (op < 7) {
      const pool = await idsOf(c);
      if (pool.length === 0) continue;
      const id = pool[rand(pool.length)]!;
      const doc = await randomRefs({ _id: id }, c);
      error = await caught(() => db.collection(c).replaceOne({ _id: id }, doc));
    } else {
      const pool = await idsOf(c);
      if (pool.length === 0) continue;
      const victims = [pool[rand(pool.length)]!, pool[rand(pool.length)]!];
      error = await caught(() => db.collection(c).deleteMany({ _id: { $in: victims } }));
    }
    if (error !== undefined) {
      if (!(error instanceof DanglingReferenceError || error instanceof ReferenceRestrictedError))
        throw error;
      failures++;
      if (JSON.stringify(dump(db)) !== JSON.stringify(before))
        t.fail(`step ${i}: a failed operation changed the store`);
    }
    // Invariant: every reference points at an existing document.
    for (const [from, field, target] of edges) {
      const have = new Set(await idsOf(target));
      for (const d of await db.collection(from).find({}).toArray()) {
        const v = d[field];
        for (const x of Array.isArray(v) ? v : [v]) {
          if (x !== null && x !== undefined && !have.has(x as number) && !(from === target && x === d._id))
            t.fail(`step ${i}: ${from}/${String(d._id)}.${field} references missing ${target}/${String(x)}`);
        }
      }
    }
  }
  t.comment(`${failures} of ${steps} operations refused`);
  checkIndexes(t, db, 'after the random operations');
});
