import t from 'tap';
import { readAll } from '../src/db/catalog.js';
import {
  BulkWriteError,
  type Bundoc,
  CollectionExistsError,
  CollectionNotFoundError,
  InvalidRuleError,
  InvalidSchemaError,
  InvalidSecuritySpecError,
  SchemaValidationError,
} from '../src/index.js';
import { caught, checkIndexes, dump, openDb, refused } from './db-security-fixtures.js';

// The schema through the public API: every write path validates before writing, and a failure leaves
// the store byte for byte as it was.

const itemSchema = {
  type: 'object',
  required: ['name', 'qty'],
  additionalProperties: false,
  properties: {
    _id: { type: ['string', 'number'] },
    name: { type: 'string', maxLength: 10 },
    qty: { type: 'number', minimum: 0 },
    tags: { type: 'array', items: { type: 'string' } },
    at: { 'x-bundoc-type': 'date' },
  },
};

async function items(t: Parameters<typeof openDb>[0], validationLevel?: 'strict' | 'moderate' | 'off') {
  const h = await openDb(t);
  await h.db.createCollection('items', {
    schema: itemSchema,
    ...(validationLevel ? { validationLevel } : {}),
  });
  const c = h.db.collection('items');
  await c.createIndex({ name: 1 }, { unique: true });
  await c.createIndex({ tags: 1 });
  await c.insertMany([
    { _id: 1, name: 'bolt', qty: 10, tags: ['metal'] },
    { _id: 2, name: 'nut', qty: 5, tags: ['metal', 'small'] },
    { _id: 3, name: 'glue', qty: 0, at: new Date(1000) },
  ]);
  return { ...h, c };
}

t.test('every write path validates the schema before writing', async (t) => {
  const { db, c } = await items(t);
  const bad = SchemaValidationError;
  await refused(t, db, 'insertOne missing field', () => c.insertOne({ name: 'x' }), bad, {
    collection: 'items',
    issues: [{ path: 'qty', keyword: 'required' }],
  });
  await refused(t, db, 'insertOne extra field', () => c.insertOne({ name: 'x', qty: 1, zz: 1 }), bad);
  await refused(
    t,
    db,
    'insertOne wrong nested type',
    () => c.insertOne({ name: 'x', qty: 1, tags: ['a', 2] }),
    bad,
    {
      issues: [{ path: 'tags.1', keyword: 'type' }],
    },
  );
  await refused(
    t,
    db,
    'insertOne string date',
    () => c.insertOne({ name: 'x', qty: 1, at: '2020-01-01' }),
    bad,
  );
  await refused(
    t,
    db,
    'insertMany ordered, bad document last',
    () =>
      c.insertMany([
        { _id: 10, name: 'a', qty: 1 },
        { _id: 11, name: 'b', qty: 1 },
        { _id: 12, name: 'c', qty: -1 },
      ]),
    bad,
    { issues: [{ path: 'qty', keyword: 'minimum' }], batchIndex: 2, message: /document \[2\] fails/ },
  );
  await refused(t, db, '$set', () => c.updateOne({ _id: 1 }, { $set: { qty: -1 } }), bad);
  await refused(t, db, '$inc', () => c.updateOne({ _id: 3 }, { $inc: { qty: -1 } }), bad);
  await refused(t, db, '$unset required', () => c.updateOne({ _id: 1 }, { $unset: { name: 1 } }), bad);
  await refused(
    t,
    db,
    '$rename to unknown',
    () => c.updateOne({ _id: 1 }, { $rename: { name: 'title' } }),
    bad,
  );
  await refused(t, db, '$push', () => c.updateOne({ _id: 1 }, { $push: { tags: 5 } }), bad);
  await refused(
    t,
    db,
    '$currentDate into a number',
    () => c.updateOne({ _id: 1 }, { $currentDate: { qty: true } }),
    bad,
  );
  await refused(
    t,
    db,
    'updateMany: the last document fails, none is updated',
    () => c.updateMany({}, { $inc: { qty: -5 } }),
    bad,
  );
  await refused(t, db, 'replaceOne', () => c.replaceOne({ _id: 1 }, { name: 'bolt' }), bad);
  await refused(
    t,
    db,
    'upsert inserting an invalid document',
    () => c.updateOne({ name: 'new' }, { $set: { qty: -3 } }, { upsert: true }),
    bad,
  );
  await refused(
    t,
    db,
    'replaceOne upsert inserting an invalid document',
    () => c.replaceOne({ _id: 99 }, { name: 'new' }, { upsert: true }),
    bad,
  );
  await refused(
    t,
    db,
    'admin does not bypass the schema',
    () => c.insertOne({ name: 5, qty: 1 }, { ctx: { auth: null, admin: true } }),
    bad,
  );

  // The same paths succeed with valid documents.
  await c.insertOne({ _id: 4, name: 'tape', qty: 2 });
  t.same((await c.updateOne({ _id: 4 }, { $inc: { qty: 1 }, $push: { tags: 'roll' } })).modifiedCount, 1);
  t.same((await c.replaceOne({ _id: 4 }, { name: 'tape2', qty: 0 })).modifiedCount, 1);
  const up = await c.updateOne({ name: 'pin' }, { $set: { qty: 7 } }, { upsert: true });
  t.ok(up.upsertedId, 'valid upsert inserts');
  t.same(await c.findOne({ name: 'pin' }, { projection: { _id: 0 } }), { name: 'pin', qty: 7 });
  t.same(
    await c.get(3),
    { _id: 3, name: 'glue', qty: 0, at: new Date(1000) },
    'Dates validate as x-bundoc-type date',
  );
  checkIndexes(t, db, 'after the valid writes');
});

t.test(
  'insertMany unordered: invalid documents are per-document errors, the others are written',
  async (t) => {
    const { c, db } = await items(t);
    const e = await caught(() =>
      c.insertMany(
        [
          { _id: 20, name: 'ok1', qty: 1 },
          { _id: 21, name: 'bad', qty: 'many' },
          { _id: 22, name: 'ok2', qty: 2 },
          { _id: 1, name: 'dup', qty: 1 },
          { _id: 23, qty: 2 },
        ],
        { ordered: false },
      ),
    );
    t.type(e, BulkWriteError);
    const bw = e as BulkWriteError;
    t.same(
      bw.writeErrors.map((w) => [w.index, w.error.constructor.name]),
      [
        [1, 'SchemaValidationError'],
        [3, 'DuplicateKeyError'],
        [4, 'SchemaValidationError'],
      ],
    );
    t.same(bw.insertedIds, [20, 22]);
    t.same(
      (await c.find({ _id: { $gte: 20 } }).toArray()).map((d) => d._id),
      [20, 22],
    );
    checkIndexes(t, db, 'unordered batch');
  },
);

t.test('transactions: a refused write leaves the transaction usable and writes nothing', async (t) => {
  const { db, c } = await items(t);
  const before = dump(db);
  const r = await db.transaction(async (tx) => {
    const ic = tx.collection('items');
    await ic.insertOne({ _id: 30, name: 'tx1', qty: 1 });
    const e1 = await caught(() => ic.insertOne({ _id: 31, name: 'tx2', qty: -1 }));
    const e2 = await caught(() => ic.updateOne({ _id: 30 }, { $set: { qty: 'x' } }));
    const e3 = await caught(() => ic.insertMany([{ _id: 32, name: 'a', qty: 1 }, { _id: 33 }]));
    await ic.updateOne({ _id: 30 }, { $inc: { qty: 1 } });
    return [e1, e2, e3].map((e) => (e as Error).constructor.name);
  });
  t.same(r, ['SchemaValidationError', 'SchemaValidationError', 'SchemaValidationError']);
  t.same(await c.get(30), { _id: 30, name: 'tx1', qty: 2 });
  t.same(await c.countDocuments({ _id: { $in: [31, 32, 33] } }), 0);
  // A transaction whose function throws a schema error commits nothing.
  const mid = dump(db);
  t.not(JSON.stringify(mid), JSON.stringify(before));
  const e = await caught(() =>
    db.transaction(async (tx) => {
      await tx.collection('items').insertOne({ _id: 40, name: 'ok', qty: 1 });
      await tx.collection('items').insertOne({ _id: 41, name: 'bad' });
    }),
  );
  t.type(e, SchemaValidationError);
  t.same(dump(db), mid, 'the failed transaction left the store byte for byte');
});

t.test('validationLevel moderate and off', async (t) => {
  const h = await openDb(t);
  const c = h.db.collection('m');
  await c.insertMany([
    { _id: 1, name: 'valid', qty: 1 },
    { _id: 2, name: 'invalid', qty: -1 },
  ]);
  // Setting a schema does not re-validate existing documents.
  await h.db.setCollectionSecurity('m', { schema: itemSchema, validationLevel: 'moderate' });
  t.same(await c.countDocuments(), 2);
  // moderate: a document that was invalid may be updated (even into another invalid state)...
  await c.updateOne({ _id: 2 }, { $set: { qty: -2 } });
  t.same((await c.get(2))?.qty, -2);
  // ...a valid one may not become invalid, and inserts are always validated.
  await refused(
    t,
    h.db,
    'moderate: valid → invalid',
    () => c.updateOne({ _id: 1 }, { $set: { qty: -1 } }),
    SchemaValidationError,
  );
  await refused(
    t,
    h.db,
    'moderate: insert',
    () => c.insertOne({ name: 'x', qty: -1 }),
    SchemaValidationError,
  );
  // strict: the invalid one cannot be updated unless the update makes it valid.
  await h.db.setCollectionSecurity('m', { schema: itemSchema });
  await refused(
    t,
    h.db,
    'strict: invalid → invalid',
    () => c.updateOne({ _id: 2 }, { $set: { qty: -3 } }),
    SchemaValidationError,
  );
  await c.updateOne({ _id: 2 }, { $set: { qty: 3 } });
  // off: nothing is validated.
  await h.db.setCollectionSecurity('m', { schema: itemSchema, validationLevel: 'off' });
  await c.insertOne({ _id: 5, whatever: true });
  t.same(await c.get(5), { _id: 5, whatever: true });
  // Removing the spec: {} or undefined.
  await h.db.setCollectionSecurity('m', { schema: itemSchema });
  await refused(t, h.db, 'strict again', () => c.insertOne({ nope: 1 }), SchemaValidationError);
  await h.db.setCollectionSecurity('m', {});
  t.equal(h.db.getCollectionSecurity('m'), undefined);
  await c.insertOne({ _id: 6, nope: 1 });
});

t.test('specs are checked when set; a bad one changes nothing', async (t) => {
  const h = await openDb(t);
  const db = h.db;
  await db.createCollection('kept', { schema: { type: 'object' } });
  const cases: Array<[string, unknown, new (...a: never[]) => Error]> = [
    ['unknown keyword', { schema: { type: 'object', requried: ['a'] } }, InvalidSchemaError],
    ['unknown format', { schema: { properties: { a: { format: 'ipv9' } } } }, InvalidSchemaError],
    ['rule syntax', { rules: { read: 'request.auth ==' } }, InvalidRuleError],
    ['rule type', { rules: { read: 'request.time > 5' } }, InvalidRuleError],
    ['unknown rule', { rules: { reed: 'true' } }, InvalidSecuritySpecError],
    ['unknown spec key', { schema: {}, capped: true }, InvalidSecuritySpecError],
    ['bad validationLevel', { validationLevel: 'lax' }, InvalidSecuritySpecError],
    ['not an object', 'strict', InvalidSecuritySpecError],
    [
      'reference to a reserved collection name',
      { schema: { properties: { a: { 'x-bundoc-ref': { collection: '__catalog' } } } } },
      InvalidSchemaError,
    ],
    [
      'reference to an invalid collection name',
      { schema: { properties: { a: { 'x-bundoc-ref': { collection: 'a//b' } } } } },
      InvalidSchemaError,
    ],
    [
      'reference on a property no document can have',
      { schema: { properties: { $x: { 'x-bundoc-ref': { collection: 'u' } } } } },
      InvalidSchemaError,
    ],
    [
      'reference on a dotted property',
      { schema: { properties: { o: { properties: { 'a.b': { 'x-bundoc-ref': { collection: 'u' } } } } } } },
      InvalidSchemaError,
    ],
    [
      'setNull on a non-nullable property',
      {
        schema: {
          properties: { a: { type: 'string', 'x-bundoc-ref': { collection: 'u', onDelete: 'setNull' } } },
        },
      },
      InvalidSchemaError,
    ],
  ];
  for (const [what, spec, type] of cases) {
    await refused(
      t,
      db,
      `createCollection: ${what}`,
      () => db.createCollection('fresh', spec as never),
      type,
    );
    await refused(
      t,
      db,
      `setCollectionSecurity: ${what}`,
      () => db.setCollectionSecurity('kept', spec as never),
      type,
    );
  }
  const e = await refused(
    t,
    db,
    'reference target name',
    () =>
      db.createCollection('x', { schema: { properties: { a: { 'x-bundoc-ref': { collection: '$x' } } } } }),
    InvalidSchemaError,
  );
  t.match(e?.message, /x-bundoc-ref at "a".*reserved prefix/);
  t.same(db.getCollectionSecurity('kept'), { schema: { type: 'object' } });
  await refused(
    t,
    db,
    'setCollectionSecurity on a missing collection',
    () => db.setCollectionSecurity('nope', {}),
    CollectionNotFoundError,
  );
  // createCollection: same spec is a no-op, a different one an error, none leaves it as it is.
  await db.createCollection('kept', { schema: { type: 'object' } });
  await db.createCollection('kept');
  await refused(
    t,
    db,
    'createCollection with another spec',
    () => db.createCollection('kept', { rules: {} }),
    CollectionExistsError,
  );
  await refused(
    t,
    db,
    'createCollection with no spec over a spec',
    () => db.createCollection('kept', {}),
    CollectionExistsError,
  );
});

async function catalogOf(db: Bundoc) {
  const tx = db.storage.begin({ readOnly: true });
  try {
    return Object.fromEntries(readAll(tx).map((m) => [m.name, m.security]));
  } finally {
    tx.abort();
  }
}

t.test('the spec lives in the catalog and survives reopening', async (t) => {
  const h = await openDb(t);
  const spec = {
    schema: itemSchema,
    rules: { read: 'request.auth != null', write: "request.auth.claims.role == 'staff'" },
    validationLevel: 'moderate' as const,
  };
  await h.db.createCollection('items', spec);
  await h.db.createCollection('plain');
  t.same(await catalogOf(h.db), { items: spec, plain: undefined }, 'stored in the catalog tree');
  const staff = { auth: { uid: 's', claims: { role: 'staff' } } };
  await h.db.collection('items').insertOne({ _id: 1, name: 'a', qty: 1 }, { ctx: staff });
  await h.db.collection('items').createIndex({ qty: 1 });

  const db = await h.reopen();
  t.same(db.getCollectionSecurity('items'), spec);
  t.equal(db.getCollectionSecurity('plain'), undefined);
  const c = db.collection('items');
  await refused(
    t,
    db,
    'schema after reopen',
    () => c.insertOne({ name: 'b' }, { ctx: staff }),
    SchemaValidationError,
  );
  await refused(t, db, 'rules after reopen', () => c.insertOne({ name: 'b', qty: 1 }), Error, {
    code: 'PERMISSION_DENIED',
  });
  t.same(await c.find({}).toArray(), [], 'list rule after reopen: anonymous sees nothing');
  t.same(await c.find({}, { ctx: staff }).toArray(), [{ _id: 1, name: 'a', qty: 1 }]);
  // An index build keeps the spec (the catalog entry is rewritten).
  t.same((await catalogOf(db)).items, spec);
  // A change survives reopening too.
  await db.setCollectionSecurity('items', { schema: { type: 'object' } });
  const db2 = await h.reopen();
  t.same(db2.getCollectionSecurity('items'), { schema: { type: 'object' } });
  await db2.collection('items').insertOne({ _id: 2, anything: true });
});
