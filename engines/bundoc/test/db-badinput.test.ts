import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import {
  BulkWriteError,
  Bundoc,
  type Collection,
  DocumentDecodeError,
  DocumentTooLargeError,
  DuplicateKeyError,
  InvalidCollectionNameError,
  InvalidDocumentError,
  InvalidFilterError,
  InvalidIndexError,
  InvalidOptionError,
  InvalidProjectionError,
  InvalidSortError,
  InvalidUpdateError,
  MAX_DOCUMENT_BYTES,
  UpdateConflictError,
} from '../src/index.js';
import { checkIndexes } from './db-security-fixtures.js';

// Every bad call must fail with a typed error that names the problem and leave the store byte for byte
// as it was: documents, every index tree and the catalog.

async function openDb(t: Test): Promise<Bundoc> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-bad-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

/** Every tree of the store, key → value, as hex. */
function dump(db: Bundoc, skipCatalog = false): Record<string, Record<string, string>> {
  const tx = db.storage.begin({ readOnly: true });
  try {
    const out: Record<string, Record<string, string>> = {};
    for (const tree of db.storage.trees().sort()) {
      if (skipCatalog && tree === '__bundoc/catalog') continue;
      const entries: Record<string, string> = {};
      for (const [k, v] of tx.range(tree))
        entries[Buffer.from(k).toString('hex')] = Buffer.from(v).toString('hex');
      out[tree] = entries;
    }
    return out;
  } finally {
    tx.abort();
  }
}

async function seeded(t: Test): Promise<{ db: Bundoc; c: Collection }> {
  const db = await openDb(t);
  const c = db.collection('users');
  await c.insertMany([
    { _id: 1, email: 'a@x', name: 'ann', tags: ['t1', 't2'], address: { city: 'Oslo' }, n: 1, s: 'str' },
    { _id: 2, email: 'b@x', name: 'bob', tags: ['t2'], address: { city: 'Rome' }, n: 2 },
    { _id: 3, name: 'cid', address: { city: 'Oslo' }, n: 3, at: new Date(1000) },
  ]);
  await c.createIndex({ email: 1 }, { unique: true, sparse: true });
  await c.createIndex({ 'address.city': 1, n: -1 });
  await c.createIndex({ tags: 1 });
  await c.createIndex({ at: 1 }, { sparse: true });
  return { db, c };
}

/** Runs `op`, expects `type` with a message matching `message`, and checks nothing changed. */
async function refused(
  t: Test,
  db: Bundoc,
  what: string,
  op: () => unknown,
  type: new (...args: never[]) => Error,
  message: RegExp,
): Promise<Error | undefined> {
  const before = dump(db);
  const collections = db.listCollections();
  let error: unknown;
  try {
    await op();
  } catch (e) {
    error = e;
  }
  if (!(error instanceof type)) {
    t.fail(`${what}: expected ${type.name}, got ${error === undefined ? 'success' : String(error)}`);
    return undefined;
  }
  t.match(error.message, message, `${what}: ${error.message.slice(0, 160)}`);
  t.same(dump(db), before, `${what}: store unchanged`);
  t.same(db.listCollections(), collections, `${what}: no collection created or dropped`);
  return error;
}

class Point {
  x = 1;
}
const circular: Record<string, unknown> = { a: { b: 1 } };
(circular.a as Record<string, unknown>).back = circular;
const sparseArray: unknown[] = [1];
sparseArray[2] = 3;
let tooDeep: Record<string, unknown> = { leaf: 1 };
for (let i = 0; i < 120; i++) tooDeep = { d: tooDeep };

// [label, document, error class, message]
const badDocuments: Array<[string, unknown, new (...args: never[]) => Error, RegExp]> = [
  ['function', { _id: 10, f: () => 1 }, InvalidDocumentError, /"f": a function is not a JSON value/],
  ['undefined value', { _id: 10, a: { u: undefined } }, InvalidDocumentError, /"a\.u": undefined/],
  ['undefined in array', { _id: 10, a: [1, undefined] }, InvalidDocumentError, /"a\.1": undefined/],
  ['array hole', { _id: 10, a: sparseArray }, InvalidDocumentError, /"a\.1": arrays must not have holes/],
  ['NaN', { _id: 10, n: Number.NaN }, InvalidDocumentError, /"n": NaN is not a finite number/],
  ['Infinity', { _id: 10, n: Number.NEGATIVE_INFINITY }, InvalidDocumentError, /"n": -Infinity/],
  ['circular', { _id: 10, c: circular }, InvalidDocumentError, /"c\.a\.back": circular reference/],
  ['symbol value', { _id: 10, s: Symbol('s') }, InvalidDocumentError, /"s": a symbol/],
  ['symbol key', { _id: 10, [Symbol('k')]: 1 }, InvalidDocumentError, /symbol keys/],
  ['bigint', { _id: 10, b: 1n }, InvalidDocumentError, /"b": a bigint/],
  ['class instance', { _id: 10, p: new Point() }, InvalidDocumentError, /"p": an instance of Point/],
  ['Map', { _id: 10, m: new Map() }, InvalidDocumentError, /an instance of Map/],
  ['Uint8Array', { _id: 10, u: new Uint8Array(1) }, InvalidDocumentError, /an instance of Uint8Array/],
  ['RegExp', { _id: 10, r: /x/ }, InvalidDocumentError, /an instance of RegExp/],
  ['invalid Date', { _id: 10, d: new Date('nope') }, InvalidDocumentError, /"d": invalid Date/],
  [
    '$ field',
    { _id: 10, a: { $set: 1 } },
    InvalidDocumentError,
    /"a\.\$set": field name "\$set" must not start/,
  ],
  ['dotted field', { _id: 10, 'a.b': 1 }, InvalidDocumentError, /must not contain "\."/],
  ['NUL in field', { _id: 10, 'a\0': 1 }, InvalidDocumentError, /NUL/],
  ['too deep', { _id: 10, deep: tooDeep }, InvalidDocumentError, /nested deeper than 100 levels/],
  ['object _id', { _id: { a: 1 } }, InvalidDocumentError, /"_id": _id must be a string or a number/],
  ['null _id', { _id: null }, InvalidDocumentError, /_id must be a string or a number, not null/],
  ['Date _id', { _id: new Date(0) }, InvalidDocumentError, /not a Date/],
  ['long _id', { _id: 'i'.repeat(600) }, InvalidDocumentError, /_id is longer than 512/],
  ['NaN _id', { _id: Number.NaN }, InvalidDocumentError, /finite number/],
  ['array', [1, 2], InvalidDocumentError, /at the root: a document must be a plain object, not an array/],
  ['string', 'doc', InvalidDocumentError, /not a string/],
  ['null', null, InvalidDocumentError, /not null/],
  ['class document', new Point(), InvalidDocumentError, /not an instance of Point/],
  [
    'oversize',
    { _id: 10, big: 'x'.repeat(MAX_DOCUMENT_BYTES) },
    DocumentTooLargeError,
    /over the limit of 16777216/,
  ],
  [
    'oversize index key',
    { _id: 10, address: { city: 'c'.repeat(3000) } },
    InvalidDocumentError,
    /index "address\.city_1_n_-1" would be \d+ bytes/,
  ],
  [
    'parallel arrays',
    { _id: 10, address: [{ city: 'a' }, { city: 'b' }], n: [1, 2] },
    InvalidDocumentError,
    /parallel arrays: "address\.city" and "n"/,
  ],
  ['duplicate _id', { _id: 2 }, DuplicateKeyError, /index "_id_": 2 already exists/],
  [
    'duplicate unique key',
    { _id: 10, email: 'a@x' },
    DuplicateKeyError,
    /index "email_1": "a@x" already exists/,
  ],
];

t.test('insertOne: bad documents are refused whole', async (t) => {
  const { db, c } = await seeded(t);
  for (const [label, doc, type, message] of badDocuments) {
    await refused(t, db, `insertOne ${label}`, () => c.insertOne(doc as never), type, message);
  }
  // A first write that fails does not create the collection.
  await refused(
    t,
    db,
    'new collection',
    () => db.collection('fresh').insertOne({ f: () => 1 } as never),
    InvalidDocumentError,
    /function/,
  );
  // Inside a transaction the failed insert leaves the transaction usable and writes nothing.
  const before = dump(db);
  await db.transaction(async (tx) => {
    const tc = tx.collection('users');
    for (const [label, doc, type] of badDocuments) {
      await t.rejects(tc.insertOne(doc as never), type, `in a transaction: ${label}`);
    }
  });
  t.same(dump(db), before, 'the transaction committed nothing');
});

t.test(
  'insertMany: ordered refuses the whole batch, unordered keeps exactly the valid documents',
  async (t) => {
    const { db, c } = await seeded(t);
    for (const [label, doc, type, message] of badDocuments) {
      const batch = [{ _id: 20, name: 'ok', email: 'new@x' }, { _id: 21, tags: ['t9'] }, doc];
      const e = await refused(t, db, `ordered ${label}`, () => c.insertMany(batch as never), type, message);
      if (e) t.equal((e as InvalidDocumentError).batchIndex, 2, `${label}: error names document [2]`);
    }
    // Unordered: compare the store with one where only the valid documents were inserted.
    const { db: ref, c: refC } = await seeded(t);
    const valid = [
      { _id: 30, name: 'ok', email: 'u@x', tags: ['t1', 't5'], address: { city: 'Lima' }, n: 7 },
      { _id: 31, at: new Date(5), n: 8 },
    ];
    const batch: unknown[] = [];
    const expectedErrors: number[] = [];
    for (const [, doc] of badDocuments) {
      expectedErrors.push(batch.length);
      batch.push(doc);
    }
    batch.splice(3, 0, valid[0]);
    batch.push(valid[1]);
    batch.push({ _id: 30 }); // duplicate of a document inserted earlier in the same batch
    const bad = new Set(expectedErrors.map((i) => (i >= 3 ? i + 1 : i)));
    bad.add(batch.length - 1);
    let error: unknown;
    try {
      await c.insertMany(batch as never, { ordered: false });
    } catch (e) {
      error = e;
    }
    t.type(error, BulkWriteError);
    const bw = error as BulkWriteError;
    t.same(
      bw.writeErrors.map((w) => w.index),
      [...bad].sort((a, b) => a - b),
      'every invalid document is reported, at its position',
    );
    t.same(bw.insertedIds, [30, 31]);
    for (const w of bw.writeErrors) {
      t.equal((w.error as InvalidDocumentError).batchIndex, w.index, `error of [${w.index}] says so`);
    }
    await refC.insertMany(valid);
    t.same(
      dump(db, true),
      dump(ref, true),
      'documents and index trees equal a clean insert of the valid ones',
    );
    t.same(await c.listIndexes(), await refC.listIndexes());
    await refused(
      t,
      db,
      'not an array',
      () => c.insertMany('docs' as never),
      InvalidDocumentError,
      /needs an array/,
    );
    await refused(
      t,
      db,
      'ordered option',
      () => c.insertMany([{}], { ordered: 'no' } as never),
      InvalidOptionError,
      /ordered must be a boolean/,
    );
  },
);

t.test('updates: unknown operators, wrong operands and documents they cannot apply to', async (t) => {
  const { db, c } = await seeded(t);
  const cases: Array<[string, unknown, new (...args: never[]) => Error, RegExp, unknown?]> = [
    [
      'unknown operator',
      { $frobnicate: { a: 1 } },
      InvalidUpdateError,
      /unknown update operator \$frobnicate/,
    ],
    ['mixed operators and fields', { $set: { a: 1 }, b: 2 }, InvalidUpdateError, /cannot mix operators/],
    ['$inc of a string', { $inc: { n: '1' } }, InvalidUpdateError, /\$inc\.n: needs a finite number/],
    ['$inc NaN', { $inc: { n: Number.NaN } }, InvalidUpdateError, /finite number/],
    ['$set a function', { $set: { f: () => 1 } }, InvalidUpdateError, /\$set\.f.*function/],
    ['$set NaN', { $set: { x: Number.NaN } }, InvalidUpdateError, /NaN/],
    ['$set circular', { $set: { c: circular } }, InvalidUpdateError, /circular/],
    ['$set class instance', { $set: { p: new Point() } }, InvalidUpdateError, /Point/],
    ['$set _id', { $set: { _id: 9 } }, InvalidUpdateError, /_id is immutable/],
    ['$rename to _id', { $rename: { n: '_id' } }, InvalidUpdateError, /_id is immutable/],
    ['conflicting paths', { $set: { a: 1 }, $unset: { 'a.b': '' } }, InvalidUpdateError, /conflict/],
    ['$pop 2', { $pop: { tags: 2 } }, InvalidUpdateError, /\$pop needs 1 or -1/],
    ['$push bad $each', { $push: { tags: { $each: 1 } } }, InvalidUpdateError, /\$each needs an array/],
    [
      '$push unknown modifier',
      { $push: { tags: { $each: [], $bogus: 1 } } },
      InvalidUpdateError,
      /unknown \$push modifier/,
    ],
    ['$pull bad condition', { $pull: { tags: { $gt: /x/ } } }, InvalidUpdateError, /\$pull/],
    ['$currentDate', { $currentDate: { d: 'yes' } }, InvalidUpdateError, /\$currentDate needs true/],
    ['$ in path', { $set: { 'tags.$': 1 } }, InvalidUpdateError, /positional/],
    ['empty path', { $set: { '': 1 } }, InvalidUpdateError, /invalid field path/],
    ['not an object', 'set', InvalidUpdateError, /plain object/],
    ['operators in updateOne only', { plain: 1 }, InvalidUpdateError, /use replaceOne/],
    // Valid updates that cannot apply to one of the matched documents: nothing is changed at all.
    ['$inc on a string field', { $inc: { s: 1 } }, UpdateConflictError, /\$inc needs a number/],
    ['$push on a non-array', { $push: { name: 'x' } }, UpdateConflictError, /\$push needs an array/],
    [
      'path through a scalar',
      { $set: { 'name.first': 'x' } },
      UpdateConflictError,
      /cannot create field "first"/,
    ],
    ['$inc overflow', { $mul: { n: Number.MAX_VALUE } }, UpdateConflictError, /overflows/],
    // Valid updates whose results violate an index: nothing is changed.
    ['unique violation on the second document', { $set: { email: 'same@x' } }, DuplicateKeyError, /email_1/],
    [
      'result too large for an index key',
      { $set: { address: { city: 'c'.repeat(3000) } } },
      InvalidDocumentError,
      /would be \d+ bytes/,
    ],
    [
      'result too large',
      { $set: { big: 'x'.repeat(MAX_DOCUMENT_BYTES) } },
      DocumentTooLargeError,
      /over the limit/,
    ],
  ];
  for (const [label, update, type, message] of cases) {
    await refused(t, db, `updateMany ${label}`, () => c.updateMany({}, update as never), type, message);
  }
  const replaceCases: Array<[string, unknown, new (...args: never[]) => Error, RegExp]> = [
    ['function', { f: () => 1 }, InvalidUpdateError, /function/],
    ['NaN', { n: Number.NaN }, InvalidUpdateError, /NaN/],
    ['operators', { $set: { a: 1 } }, InvalidUpdateError, /cannot contain update operators/],
    ['other _id', { _id: 99, a: 1 }, UpdateConflictError, /cannot change _id/],
    ['duplicate unique key', { email: 'b@x' }, DuplicateKeyError, /email_1/],
  ];
  for (const [label, doc, type, message] of replaceCases) {
    await refused(t, db, `replaceOne ${label}`, () => c.replaceOne({ _id: 1 }, doc as never), type, message);
  }
  // Upserts that cannot insert.
  await refused(
    t,
    db,
    'upsert with a filter matching a path twice',
    () => c.updateOne({ 'a.b': 1, a: { $eq: 2 } }, { $set: { x: 1 } }, { upsert: true }),
    InvalidUpdateError,
    /matched twice/,
  );
  await refused(
    t,
    db,
    'upsert duplicating a unique key',
    () => c.updateOne({ name: 'zed' }, { $set: { email: 'a@x' } }, { upsert: true }),
    DuplicateKeyError,
    /email_1/,
  );
  await refused(
    t,
    db,
    'upsert option',
    () => c.updateOne({}, { $set: { x: 1 } }, { upsert: 1 } as never),
    InvalidOptionError,
    /upsert must be a boolean/,
  );
  // In a transaction, an update that failed after writing part of its documents is taken back (a
  // savepoint); the transaction goes on and commits the rest.
  const users = async () =>
    (await c.find({}).toArray()).sort((x, y) => (x._id as number) - (y._id as number));
  const before = await users();
  const failed = await db.transaction(async (tx) => {
    const tc = tx.collection('users');
    await tc.insertOne({ _id: 50 });
    const e = await tc.updateMany({}, { $set: { email: 'same@x' } }).catch((e: unknown) => e);
    t.same(await tc.countDocuments({ email: 'same@x' }), 0, 'the transaction no longer sees any of it');
    return e;
  });
  t.type(failed, DuplicateKeyError, 'the updateMany failed half-way');
  t.same(await users(), [...before, { _id: 50 }], 'the transaction committed its other write only');
  checkIndexes(t, db, 'after the savepoint');
});

t.test('filters, options, names and index specs', async (t) => {
  const { db, c } = await seeded(t);
  const filters: Array<[string, unknown]> = [
    ['unknown field operator', { n: { $foo: 1 } }],
    ['unknown top-level operator', { $where: 'x' }],
    ['$in without an array', { n: { $in: 1 } }],
    ['$and empty', { $and: [] }],
    ['$exists not boolean', { n: { $exists: 'yes' } }],
    ['$size negative', { tags: { $size: -1 } }],
    ['$regex number', { name: { $regex: 5 } }],
    ['$mod bad', { n: { $mod: [0] } }],
    ['$elemMatch not object', { tags: { $elemMatch: 1 } }],
    ['not an object', 'filter'],
    ['array', [1]],
  ];
  for (const [label, filter] of filters) {
    t.throws(() => c.find(filter as never), InvalidFilterError, `find ${label}`);
    await refused(t, db, `deleteMany ${label}`, () => c.deleteMany(filter as never), InvalidFilterError, /./);
    await refused(
      t,
      db,
      `updateMany ${label}`,
      () => c.updateMany(filter as never, { $set: { z: 1 } }),
      InvalidFilterError,
      /./,
    );
    await t.rejects(c.countDocuments(filter as never), InvalidFilterError, `count ${label}`);
    await t.rejects(c.distinct('n', filter as never), InvalidFilterError, `distinct ${label}`);
  }
  t.throws(() => c.find({}, { sort: { n: 2 } } as never), InvalidSortError);
  t.throws(() => c.find({}, { projection: { a: 1, b: 0 } }), InvalidProjectionError);
  t.throws(() => c.find({}, { limit: -1 }), /limit must be a non-negative integer/);
  t.throws(() => c.find({}, { skip: Number.NaN }), InvalidOptionError);
  t.throws(() => c.find({}, { hint: 'x' } as never), /unknown find option "hint"/);
  t.throws(() => c.find({}, { after: 'bm90IGEgdG9rZW4' }), /not a valid cursor token/);

  const names: unknown[] = [
    '',
    '$x',
    'system.x',
    '__x',
    'a//b',
    'a/',
    '/a',
    'a/./b',
    'a\u0000',
    'x'.repeat(201),
    5,
    null,
    {},
  ];
  for (const name of names) {
    t.throws(
      () => db.collection(name as string),
      InvalidCollectionNameError,
      `collection(${JSON.stringify(name)})`,
    );
    await refused(
      t,
      db,
      `createCollection ${JSON.stringify(name)}`,
      () => db.createCollection(name as string),
      InvalidCollectionNameError,
      /invalid collection name/,
    );
    await refused(
      t,
      db,
      `dropCollection ${JSON.stringify(name)}`,
      () => db.dropCollection(name as string),
      InvalidCollectionNameError,
      /invalid collection name/,
    );
  }
  await t.rejects(
    db.transaction((tx) => {
      tx.collection('$bad');
    }),
    InvalidCollectionNameError,
  );

  const specs: Array<[string, unknown, unknown, RegExp]> = [
    ['empty', {}, undefined, /has no fields/],
    ['direction 2', { a: 2 }, undefined, /direction must be 1 or -1/],
    ['text index', { a: 'text' }, undefined, /direction must be 1 or -1, got "text"/],
    ['$ path', { $a: 1 }, undefined, /not a valid field path/],
    ['empty segment', { 'a..b': 1 }, undefined, /not a valid field path/],
    ['_id alone', { _id: 1 }, undefined, /always indexed/],
    ['not an object', 'a', undefined, /must be an object/],
    ['array spec', [1], undefined, /must be an object/],
    ['unique not boolean', { a: 1 }, { unique: 1 }, /unique must be a boolean/],
    ['unknown option', { a: 1 }, { expireAfterSeconds: 5 }, /unknown index option "expireAfterSeconds"/],
    ['reserved name', { a: 1 }, { name: '_id_' }, /reserved/],
    ['empty name', { a: 1 }, { name: '' }, /non-empty string/],
    ['long name', { a: 1 }, { name: 'n'.repeat(129) }, /longer than 128/],
    ['same name, other keys', { a: 1 }, { name: 'email_1' }, /already exists with a different definition/],
    ['same keys, other name', { email: 1 }, { name: 'mail' }, /same keys already exists/],
    [
      'too many fields',
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, 1])),
      undefined,
      /limit is 32/,
    ],
  ];
  for (const [label, spec, options, message] of specs) {
    await refused(
      t,
      db,
      `createIndex ${label}`,
      () => c.createIndex(spec as never, options as never),
      InvalidIndexError,
      message,
    );
  }
  // Building a unique index over duplicate values, or over values that cannot be keys, leaves nothing.
  await refused(
    t,
    db,
    'unique over duplicates',
    () => c.createIndex({ 'address.city': 1 }, { unique: true }),
    DuplicateKeyError,
    /"Oslo" already exists/,
  );
  await c.insertOne({ _id: 60, tags: ['t', 'u'], name: ['x', 'y'] });
  await refused(
    t,
    db,
    'compound over parallel arrays',
    () => c.createIndex({ tags: 1, name: 1 }),
    InvalidDocumentError,
    /parallel arrays/,
  );
  await refused(t, db, 'dropIndex unknown', () => c.dropIndex('nope'), Error, /no index named "nope"/);
  await refused(t, db, 'dropIndex _id_', () => c.dropIndex('_id_'), InvalidIndexError, /cannot be dropped/);
});

t.test('stored bytes that are not a document raise DocumentDecodeError through the API', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.insertOne({ _id: 1, a: 1 });
  await c.insertOne({ _id: 2, a: 'x'.repeat(5000) }); // compressed
  const docTree = db.storage.trees().find((n) => n.startsWith('__bundoc/d/'))!;
  const tx = db.storage.begin({ readOnly: true });
  const [[key1], [key2, big]] = [...tx.range(docTree)] as Array<[Uint8Array, Uint8Array]>;
  tx.abort();
  const corrupt = big!.slice();
  corrupt[corrupt.length - 3]! ^= 0xff;
  await db.storage.transaction((w) => {
    w.put(docTree, key1!, Buffer.from('{"_id":1,"a":1}')); // no header
    w.put(docTree, key2!, corrupt);
  });
  await t.rejects(c.get(1), DocumentDecodeError);
  await t.rejects(c.find({}).toArray(), DocumentDecodeError);
  await t.rejects(c.countDocuments({ a: 1 }), DocumentDecodeError);
  await t.rejects(c.get(2), { name: 'DocumentDecodeError', message: /cannot decode stored document/ });
});
