import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { coveredStats } from '../src/db/covered.js';
import { Bundoc, type Collection, type FindOptions } from '../src/index.js';

type Doc = { _id: unknown };

// countDocuments from index keys alone (count.ts) against counting by reading the documents: random
// documents whose indexed fields never hold arrays (numbers, strings, booleans, Dates, null, missing,
// objects), indexes of every kind but multikey, and random filters, most of them of the forms counted
// from keys (equalities, $in, one- and two-sided ranges, bounds of different types, $and), the rest not.
// A collection without indexes counts by reading every document; find() must agree too. Then the
// same inside a transaction that wrote documents and deleted some, not yet committed.

const stress = process.env.BUNBASE_STRESS === '1';
const seed = Number(process.env.BUNBASE_SEED ?? 20261201);
const DOCS = stress ? 600 : 250;
const FILTERS = stress ? 3000 : 600;

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const random = rng(seed);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number) => random() < p;

const scalar = (): unknown =>
  pick([
    () => int(9) - 4,
    () => pick([0.5, -2.5, 1e9, -0]),
    () => pick(['', 'a', 'ab', 'b', 'B', 'é', 'z']),
    () => chance(0.5),
    () => new Date(Date.UTC(2024, 0, 1 + int(4))),
    () => null,
  ])();

function doc(id: number): Record<string, unknown> {
  const d: Record<string, unknown> = { _id: id };
  if (chance(0.9)) d.a = scalar();
  if (chance(0.9)) d.b = scalar();
  if (chance(0.7)) d.n = chance(0.85) ? { x: scalar(), y: int(3) } : pick([{ z: 1 }, 'text', 7]);
  if (chance(0.5)) d.u = id * 7; // unique, sparse
  if (chance(0.2)) d.o = { k: int(3) }; // an object value in an indexed field
  return d;
}

const FIELDS = ['a', 'b', 'n.x', 'u', 'o', '_id'];
const operand = (field: string): unknown => (field === 'u' || field === '_id' ? int(DOCS * 8) : scalar());

/** A condition on one field; `covered` asks for one of the forms counted from keys. */
function condition(field: string, covered: boolean): unknown {
  const v = operand(field);
  if (covered && v === null) return condition(field, covered);
  const op = pick(['$gt', '$gte', '$lt', '$lte']);
  switch (int(covered ? 6 : 9)) {
    case 0:
      return v;
    case 1:
      return { $eq: v };
    case 2:
      return {
        $in: Array.from({ length: 1 + int(3) }, () => operand(field)).filter((x) => !covered || x !== null),
      };
    case 3:
    case 4:
      return { [op]: v };
    case 5: {
      // two bounds, sometimes of different types
      const w = operand(field);
      return { [pick(['$gt', '$gte'])]: v, [pick(['$lt', '$lte'])]: covered && w === null ? v : w };
    }
    case 6:
      return { $ne: v };
    case 7:
      return { $exists: chance(0.5) };
    default:
      return null;
  }
}

function filter(): Record<string, unknown> {
  const covered = chance(0.8);
  const r = int(10);
  if (r === 0) return {};
  const one = () => {
    const f = pick(FIELDS);
    return { [f]: condition(f, covered) };
  };
  if (r === 1) return { $and: [one(), one()] };
  if (r <= 3) return { ...one(), ...one() };
  return one();
}

const INDEXES: Array<[Record<string, 1 | -1>, { unique?: boolean; sparse?: boolean }]> = [
  [{ a: 1 }, {}],
  [{ b: -1 }, {}],
  [{ a: 1, b: -1 }, {}],
  [{ 'n.x': 1 }, {}],
  [{ b: 1, 'n.x': -1 }, {}],
  [{ u: 1 }, { unique: true, sparse: true }],
  [{ a: 1 }, { sparse: true }],
  [{ o: 1 }, {}],
];

const show = (v: unknown) =>
  JSON.stringify(v, function (this: Record<string, unknown>, k, x) {
    return this[k] instanceof Date ? { $date: (this[k] as Date).getTime() } : x;
  });

async function openDb(t: Test): Promise<Bundoc> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-count-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

t.test(`countDocuments from index keys agrees with reading the documents (seed ${seed})`, async (t) => {
  const db = await openDb(t);
  const base = db.collection('base');
  const indexed = INDEXES.map((_, i) => db.collection(`ix${i}`));
  const docs = Array.from({ length: DOCS }, (_, i) => doc(i));
  for (const c of [base, ...indexed]) await c.insertMany(docs);
  for (let i = 0; i < INDEXES.length; i++) await indexed[i]!.createIndex(...INDEXES[i]!);
  for (const c of indexed) {
    const ix = (await c.listIndexes())[1]!;
    t.equal(ix.multikey, false, `${ix.name} is not multikey`);
  }
  let failures = 0;
  const fail = (msg: string) => {
    if (++failures <= 10) t.fail(`seed ${seed}: ${msg}`);
  };
  const before = coveredStats.scans;
  const check = async (cols: Collection[], reference: Collection, label: string) => {
    for (let q = 0; q < FILTERS; q++) {
      const f = filter();
      const want = (await reference.find(f).toArray()).length;
      const scanned = await reference.countDocuments(f);
      if (scanned !== want) fail(`${label}: the scan counts ${scanned} for ${show(f)}, finds ${want}`);
      for (const c of cols) {
        const got = await c.countDocuments(f);
        if (got !== want) fail(`${label} ${c.name}: countDocuments(${show(f)}) = ${got}, find ${want}`);
      }
      // distinct: from keys where the plan's index holds the field (or for _id), until a null turns up.
      const field = pick(FIELDS);
      const docsFound = await reference.find(f).toArray();
      const values = new Map<string, unknown>();
      for (const d of docsFound) {
        let v: unknown = d;
        for (const p of field.split('.'))
          v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
        if (v !== undefined) values.set(show(v), v);
      }
      const distinct = await reference.distinct(field, f);
      if (show([...distinct.map(show)].sort()) !== show([...values.keys()].sort()))
        fail(
          `${label}: the scan's distinct(${field}, ${show(f)}) = ${show(distinct)}, want ${show([...values.values()])}`,
        );
      for (const c of cols) {
        const got = await c.distinct(field, f);
        if (show(got) !== show(distinct))
          fail(`${label} ${c.name}: distinct(${field}, ${show(f)}) = ${show(got)}, want ${show(distinct)}`);
      }
      // find with { _id: 1 } alone: the ids from index keys where covered, in _id order when asked.
      const opts = pick<FindOptions>([
        {},
        { sort: { _id: 1 } },
        { sort: { _id: -1 } },
        { sort: { _id: 1 }, skip: int(5), limit: 1 + int(10) },
        { limit: 0 },
      ]);
      const ids = (await reference.find(f, opts).toArray()).map((d) => ({ _id: d._id }));
      const unordered = (xs: unknown[]) =>
        show([...xs].sort((a, b) => Number((a as Doc)._id) - Number((b as Doc)._id)));
      for (const c of cols) {
        const got = await c.find(f, { ...opts, projection: { _id: 1 } }).toArray();
        const same = opts.sort ? show(got) === show(ids) : unordered(got) === unordered(ids);
        if (!same)
          fail(`${label} ${c.name}: find(${show(f)}, ${show(opts)}) ids ${show(got)}, want ${show(ids)}`);
      }
    }
  };
  await check(indexed, base, 'committed');
  const fromKeys = coveredStats.scans - before;
  t.ok(
    fromKeys > FILTERS * 4,
    `${fromKeys} counts, distinct values and id queries of ${3 * FILTERS * INDEXES.length} from index keys alone`,
  );

  // Inside a transaction: its own inserts, updates and deletes count, nothing else's.
  const extra = Array.from({ length: 40 }, (_, i) => doc(DOCS + i));
  const changes = Array.from({ length: 20 }, () => ({ _id: int(DOCS), b: scalar() }));
  const gone = Array.from({ length: 20 }, () => int(DOCS));
  await t.rejects(
    db.transaction(async (tx) => {
      const all = [tx.collection('base'), ...indexed.map((c) => tx.collection(c.name))];
      for (const c of all) {
        await c.insertMany(extra);
        for (const ch of changes) await c.updateOne({ _id: ch._id }, { $set: { b: ch.b } });
        await c.deleteMany({ _id: { $in: gone } });
      }
      const before = coveredStats.scans;
      await check(all.slice(1), all[0]!, 'in a transaction');
      t.ok(coveredStats.scans - before > FILTERS * 2, 'from keys inside the transaction too');
      throw new Error('roll back');
    }),
    /roll back/,
  );
  t.equal(await indexed[0]!.countDocuments({}), DOCS, 'nothing of the rolled back transaction stays');
  t.equal(failures, 0, 'every count agreed');
});

t.test('a list rule is applied per document, so such counts read the documents', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ a: 1 });
  await c.insertMany(
    Array.from({ length: 30 }, (_, i) => ({ _id: i, a: i % 3, owner: i % 2 ? 'u1' : 'u2' })),
  );
  await db.setCollectionSecurity('c', {
    rules: { read: 'request.auth != null && resource.data.owner == request.auth.uid' },
  });
  const before = coveredStats.scans;
  t.equal(await c.countDocuments({ a: 1 }, { ctx: { auth: { uid: 'u1', claims: {} } } }), 5);
  t.equal(coveredStats.scans, before, 'not from keys');
  t.equal(
    await c.countDocuments({ a: 1 }, { ctx: { auth: null, admin: true } }),
    10,
    'admin: every document',
  );
  t.equal(coveredStats.scans, before + 1, 'an admin count is from keys');
});

t.test('a multikey index is counted by reading the documents (one has several entries)', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ tags: 1 });
  await c.insertMany([
    { _id: 1, tags: ['a', 'b', 'c'] },
    { _id: 2, tags: 'b' },
    { _id: 3, tags: [] },
    { _id: 4 },
  ]);
  const before = coveredStats.scans;
  t.equal(await c.countDocuments({ tags: { $gte: 'a' } }), 2);
  t.equal(await c.countDocuments({ tags: { $in: ['a', 'b'] } }), 2);
  t.equal(coveredStats.scans, before, 'not from keys');
  t.equal(await c.countDocuments({}), 4, 'all documents, from the primary keys');
  t.equal(coveredStats.scans, before + 1);
});

t.test('fields named like those of Object.prototype are counted from keys alike', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ toString: 1 } as Record<string, 1>);
  await c.createIndex({ 'constructor.x': 1 });
  await c.insertMany([
    { _id: 1, toString: 5, constructor: { x: 'a' } },
    { _id: 2, toString: 6, constructor: { x: 'b' } },
    { _id: 3, toString: 5 },
  ]);
  const before = coveredStats.scans;
  t.equal(await c.countDocuments({ toString: 5 }), 2);
  t.equal(await c.countDocuments({ 'constructor.x': { $gte: 'a' } }), 2);
  t.equal(coveredStats.scans, before + 2, 'both from keys');
});

t.test('a covered find reads no document and says so in explain()', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ a: 1 });
  await c.insertMany(
    Array.from({ length: 50 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, a: i % 5 })),
  );
  const cur = c.find({ a: 3 }, { projection: { _id: 1 } });
  t.same(
    await cur.toArray(),
    ['d03', 'd08', 'd13', 'd18', 'd23', 'd28', 'd33', 'd38', 'd43', 'd48'].map((_id) => ({ _id })),
  );
  const ex = await cur.explain();
  t.match(ex, { plan: 'IXSCAN', index: 'a_1', docsExamined: 0, nReturned: 10, covered: true });
  // Anything else in the projection, a sort on another field or a filter beyond the index reads them.
  for (const [f, o] of [
    [{ a: 3 }, { projection: { _id: 1, a: 1 } }],
    [{ a: 3 }, { projection: { _id: 1 }, sort: { a: 1 } }],
    [{ a: 3, b: 1 }, { projection: { _id: 1 } }],
    [{ a: { $ne: 3 } }, { projection: { _id: 1 } }],
  ] as Array<[Record<string, unknown>, FindOptions]>) {
    const e = await c.find(f, o).explain();
    t.equal(e.covered, undefined, `${JSON.stringify(f)} ${JSON.stringify(o)}: not covered`);
  }
  // Several ranges of the primary key in descending order.
  for (const dir of [1, -1] as const) {
    const ids = ['d07', 'd02', 'd31', 'd99'];
    const want = (await c.find({ _id: { $in: ids } }, { sort: { _id: dir } }).toArray()).map((d) => ({
      _id: d._id,
    }));
    const got = c.find({ _id: { $in: ids } }, { projection: { _id: 1 }, sort: { _id: dir } });
    t.same(await got.toArray(), want, `ids in $in, sorted ${dir}`);
    t.equal((await got.explain()).covered, true);
  }
  // Keyset pages in _id order from a covered query.
  const pages: unknown[] = [];
  let after: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = c.find(
      { a: { $gte: 3 } },
      { projection: { _id: 1 }, sort: { _id: 1 }, limit: 7, ...(after ? { after } : {}) },
    );
    const got = await page.toArray();
    pages.push(...got);
    after = page.token;
    if (got.length < 7) break;
  }
  t.same(
    pages,
    (await c.find({ a: { $gte: 3 } }, { sort: { _id: 1 } }).toArray()).map((d) => ({ _id: d._id })),
  );
});

t.test('an index path with a numeric part is not answered from keys', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ 'n.0': 1 });
  await c.insertMany([
    { _id: 1, n: ['a', 'b'] },
    { _id: 2, n: { 0: 'a' } },
    { _id: 3, n: ['b'] },
  ]);
  const before = coveredStats.scans;
  const found = (await c.find({ 'n.0': 'a' }).toArray()).length;
  t.equal(await c.countDocuments({ 'n.0': 'a' }), found);
  t.equal(coveredStats.scans, before, 'not from keys');
});
