import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { coveredStats } from '../src/db/covered.js';
import { Bundoc, type Collection, type FindOptions } from '../src/index.js';

// Index/scan agreement: the same random documents in a collection without indexes and in collections
// with each index (and with all of them); random filters, sorts, skip/limit and keyset pages must give
// the same results everywhere. The indexes cover single, compound, nested, multikey, sparse and unique;
// some are built over existing documents, some maintained from the first insert, and the collections
// then go through the same random updates and deletes.

const stress = process.env.BUNBASE_STRESS === '1';
const seed = Number(process.env.BUNBASE_SEED ?? 20261130);
const DOCS = stress ? 400 : 150;
const QUERIES = stress ? 3000 : 500;

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

class Gen {
  constructor(readonly random: () => number) {}
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  scalar(): unknown {
    switch (this.int(9)) {
      case 0:
      case 1:
        return this.int(7) - 3;
      case 2:
        return this.pick([0.5, -1.5, 2.25, 1e9, -0]);
      case 3:
      case 4:
        return this.pick(['', 'a', 'ab', 'b', 'B', 'é', 'z']);
      case 5:
        return null;
      case 6:
        return this.chance(0.5);
      case 7:
        return new Date(Date.UTC(2020, 0, 1 + this.int(4)));
      default:
        return this.pick([{ x: 1 }, { x: 'a' }, {}, { y: [1] }]);
    }
  }
  /** A scalar, sometimes an array of them (empty included). */
  value(arrays: boolean): unknown {
    if (arrays && this.chance(0.25)) return Array.from({ length: this.int(4) }, () => this.scalar());
    return this.scalar();
  }
  doc(id: number, u: number | undefined): Record<string, unknown> {
    const d: Record<string, unknown> = { _id: id };
    if (this.chance(0.9)) d.a = this.value(true);
    if (this.chance(0.9)) d.b = this.value(false); // never an array: {a, b} and {b, n.x} would be parallel
    if (this.chance(0.3)) d.c = this.value(true); // sparse index
    if (this.chance(0.8)) {
      d.tags = this.chance(0.8)
        ? Array.from({ length: this.int(4) }, () => this.pick(['t1', 't2', 't3', 5, null]))
        : this.pick(['t1', 7, null]);
    }
    if (this.chance(0.8)) {
      d.n = this.chance(0.2)
        ? [{ x: this.scalar() }, { x: this.scalar(), y: 1 }]
        : this.chance(0.9)
          ? { x: this.value(true), y: this.scalar() }
          : this.scalar();
    }
    // Arrays only of subdocuments, never at s.x itself: the index on s.x is multikey through them alone.
    if (this.chance(0.8)) {
      d.s = this.chance(0.3)
        ? Array.from({ length: 1 + this.int(3) }, () => ({ x: this.pick(['a', 'b', 'z', 1, 2, null]) }))
        : { x: this.pick(['a', 'b', 'z', 1, 2, null]) };
    }
    if (u !== undefined) d.u = u; // unique, sparse
    return d;
  }
  /** A value to compare with: usually one documents hold. */
  operand(): unknown {
    return this.scalar();
  }
  leaf(): Record<string, unknown> {
    const field = this.pick(['a', 'a', 'b', 'b', 'c', 'tags', 'n.x', 'n', 's.x', 'u', '_id']);
    const v = field === '_id' || field === 'u' ? this.int(DOCS + 5) : this.operand();
    switch (this.int(16)) {
      case 0:
      case 1:
        return { [field]: v };
      case 2:
        return { [field]: { $eq: v } };
      case 3:
        return { [field]: { $ne: v } };
      case 4:
      case 5: {
        const op = this.pick(['$gt', '$gte', '$lt', '$lte']);
        return { [field]: { [op]: v } };
      }
      case 6: {
        // a two-sided range, or two bounds of different types
        const lo = typeof v === 'number' ? v : this.operand();
        return {
          [field]: { [this.pick(['$gt', '$gte'])]: lo, [this.pick(['$lt', '$lte'])]: this.operand() },
        };
      }
      case 7:
        return { [field]: { $in: Array.from({ length: 1 + this.int(4) }, () => this.operand()) } };
      case 8:
        return { [field]: { $nin: Array.from({ length: 1 + this.int(3) }, () => this.operand()) } };
      case 9:
        return { [field]: { $exists: this.chance(0.5) } };
      case 10:
        return {
          [field]: { $type: this.pick(['number', 'string', 'null', 'array', 'object', 'bool', 'date']) },
        };
      case 11:
        return { [field]: { $not: { [this.pick(['$gt', '$lte', '$eq'])]: v } } };
      case 12:
        return { [field]: { $size: this.int(3) } };
      case 13:
        return { [field]: { $elemMatch: { [this.pick(['$gt', '$lt', '$eq'])]: v } } };
      case 14:
        return { [field]: { $all: [this.operand(), this.operand()].slice(0, 1 + this.int(2)) } };
      default:
        return { [field]: { $regex: this.pick(['^a', 'b', '^$', 'É']), $options: this.pick(['', 'i']) } };
    }
  }
  filter(depth = 0): Record<string, unknown> {
    const r = this.int(10);
    if (depth < 2 && r === 0) return { $or: [this.filter(depth + 1), this.filter(depth + 1)] };
    if (depth < 2 && r === 1) return { $and: [this.filter(depth + 1), this.filter(depth + 1)] };
    if (depth < 2 && r === 2) return { $nor: [this.filter(depth + 1)] };
    if (r === 3) return {};
    if (r <= 5) return { ...this.leaf(), ...this.leaf() }; // two fields (or one, overwritten)
    return this.leaf();
  }
  options(): FindOptions {
    const o: FindOptions = {};
    if (this.chance(0.7)) {
      const sort: Record<string, 1 | -1> = {};
      const n = 1 + this.int(3);
      for (let i = 0; i < n; i++)
        sort[this.pick(['a', 'b', 'c', 'n.x', 's.x', 'tags', 'u', '_id'])] = this.pick([1, -1]);
      o.sort = sort;
    }
    if (this.chance(0.3)) o.skip = this.int(10);
    if (this.chance(0.4)) o.limit = 1 + this.int(20);
    return o;
  }
}

const INDEXES: Array<[Record<string, 1 | -1>, { unique?: boolean; sparse?: boolean }]> = [
  [{ a: 1 }, {}],
  [{ a: 1, b: -1 }, {}],
  [{ b: -1, 'n.x': 1 }, {}],
  [{ tags: 1 }, {}],
  [{ 'n.x': -1 }, {}],
  [{ c: 1 }, { sparse: true }],
  [{ u: 1 }, { unique: true, sparse: true }],
  [{ b: 1 }, { sparse: true }],
  [{ 's.x': 1 }, {}],
];

async function openDb(t: Test): Promise<Bundoc> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-agree-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

const show = (v: unknown) =>
  JSON.stringify(v, function (this: Record<string, unknown>, k, x) {
    return this[k] instanceof Date ? { $date: (this[k] as Date).getTime() } : x;
  });

t.test(`index/scan agreement (seed ${seed})`, async (t) => {
  const g = new Gen(rng(seed));
  const db = await openDb(t);
  const base = db.collection('base');
  const all = db.collection('all');
  const single = INDEXES.map((_, i) => db.collection(`ix${i}`));
  const indexed: Collection[] = [all, ...single];
  for (const [spec, opts] of INDEXES) await all.createIndex(spec, opts); // maintained from the start
  const docs = Array.from({ length: DOCS }, (_, i) => g.doc(i, g.chance(0.6) ? i * 3 : undefined));
  const half = DOCS / 2;
  for (const c of [base, ...indexed]) await c.insertMany(docs.slice(0, half));
  for (let i = 0; i < INDEXES.length; i++) await single[i]!.createIndex(...INDEXES[i]!); // built over data
  for (const c of [base, ...indexed]) for (const d of docs.slice(half)) await c.insertOne(d);

  // The same random updates and deletes everywhere: index maintenance on changes.
  for (let i = 0; i < 60; i++) {
    const filter = g.leaf();
    const kind = g.int(5);
    const field = g.pick(['a', 'b', 'c', 'tags', 'n.x', 'n']);
    // An update leaves the indexes on fields it does not touch alone (writes.ts): $rename touches two.
    const target = g.pick(['a', 'c', 'z', 'n.x', 'n.w']);
    const update =
      kind === 0
        ? { $set: { [field]: field === 'b' ? g.scalar() : g.value(field !== 'n.x') } }
        : kind === 1
          ? { $unset: { [field]: '' } }
          : kind === 2
            ? { $push: { tags: g.pick(['t1', 't4', 3]) } }
            : kind === 3
              ? { $inc: { 'n.y': 1 } }
              : { $rename: { [field === 'n' ? 'b' : field]: target }, $inc: { k: 1 } };
    const results: string[] = [];
    for (const c of [base, ...indexed]) {
      const r = await c.updateMany(filter, update).then(
        (x) => `ok ${x.matchedCount}/${x.modifiedCount}`,
        (e: Error) => `${e.name}`,
      );
      results.push(r);
    }
    t.equal(
      new Set(results).size,
      1,
      `update ${show(filter)} ${show(update)} behaves alike: ${results.join(', ')}`,
    );
    if (i % 10 === 9) {
      const del = g.leaf();
      const counts = await Promise.all(
        [base, ...indexed].map((c) => c.deleteMany(del).then((r) => r.deletedCount)),
      );
      t.equal(new Set(counts).size, 1, `deleteMany ${show(del)} deletes alike: ${counts.join(', ')}`);
    }
  }

  const reference = await base.find({}, { sort: { _id: 1 } }).toArray();
  for (const c of indexed)
    t.same(await c.find({}, { sort: { _id: 1 } }).toArray(), reference, `${c.name}: same documents`);

  const used = new Map<string, number>();
  const fromKeysBefore = coveredStats.scans;
  let failures = 0;
  const fail = (msg: string) => {
    failures++;
    if (failures <= 10) t.fail(`seed ${seed}: ${msg}`);
  };
  for (let q = 0; q < QUERIES; q++) {
    const filter = g.filter();
    const options = g.options();
    const what = `find(${show(filter)}, ${show(options)})`;
    let expected: unknown[];
    try {
      expected = await base.find(filter, options).toArray();
    } catch (e) {
      for (const c of indexed) {
        const other = await c
          .find(filter, options)
          .toArray()
          .then(
            () => 'success',
            (x: Error) => x.name,
          );
        if (other !== (e as Error).name)
          fail(`${c.name}: ${what} gave ${other}, the scan ${(e as Error).name}`);
      }
      continue;
    }
    // countDocuments: from index keys alone where that is exact (count.ts), else by reading documents.
    const count = await base.countDocuments(filter);
    for (const c of indexed) {
      const got = await c.countDocuments(filter);
      if (got !== count) fail(`${c.name}: countDocuments(${show(filter)}) = ${got}, the scan ${count}`);
    }
    const full = options.sort ? undefined : new Set((await base.find(filter).toArray()).map((d) => show(d)));
    for (const c of indexed) {
      const cur = c.find(filter, options);
      const got = await cur.toArray();
      const plan = await cur.explain();
      if (plan.index) used.set(plan.index, (used.get(plan.index) ?? 0) + 1);
      if (plan.plan === 'OR') used.set('OR', (used.get('OR') ?? 0) + 1);
      if (options.sort) {
        if (show(got) !== show(expected))
          fail(`${c.name} (${plan.index ?? plan.plan}): ${what}\n got ${show(got)}\nwant ${show(expected)}`);
      } else if (options.skip === undefined && options.limit === undefined) {
        const byId = (x: unknown[]) =>
          show([...x].sort((p, r) => (p as { _id: number })._id - (r as { _id: number })._id));
        if (byId(got) !== byId(expected))
          fail(`${c.name} (${plan.index ?? plan.plan}): ${what}\n got ${byId(got)}\nwant ${byId(expected)}`);
      } else {
        // Without an order a page may be any subset of the right size.
        if (got.length !== expected.length || !got.every((d) => full!.has(show(d))))
          fail(
            `${c.name} (${plan.index ?? plan.plan}): ${what} returned ${got.length} documents, not a page of the result`,
          );
      }
    }
    if (q % 5 === 0) {
      const field = g.pick(['a', 'tags', 'n.x', 'c']);
      const dv = show(await base.distinct(field, filter));
      for (const c of indexed) {
        const other = show(await c.distinct(field, filter));
        if (other !== dv) fail(`${c.name}: distinct(${field}, ${show(filter)}) = ${other}, scan says ${dv}`);
      }
    }
    if (q % 10 === 0 && options.sort) {
      // Keyset pages of 7 visit the sorted result exactly once.
      const sort = options.sort;
      const whole = show(await base.find(filter, { sort }).toArray());
      for (const c of [base, ...indexed]) {
        const pages: unknown[] = [];
        let after: string | undefined;
        for (let p = 0; p < 100; p++) {
          const cur = c.find(filter, { sort, limit: 7, ...(after ? { after } : {}) });
          const page = await cur.toArray();
          pages.push(...page);
          after = cur.token;
          if (page.length < 7 || !after) break;
        }
        if (show(pages) !== whole) fail(`${c.name}: keyset pages of ${what} differ from the sorted result`);
      }
    }
  }
  t.equal(failures, 0, `seed ${seed}: ${QUERIES} queries agree on ${indexed.length} indexed collections`);
  t.comment(`index use: ${show(Object.fromEntries(used))}`);
  for (const [spec] of INDEXES) {
    const name = Object.entries(spec)
      .map(([p, d]) => `${p}_${d}`)
      .join('_');
    t.ok((used.get(name) ?? 0) > 5, `index ${name} was chosen by the planner ${used.get(name) ?? 0} times`);
  }
  t.ok((used.get('OR') ?? 0) > 5, `a $or was planned as a union of index scans ${used.get('OR') ?? 0} times`);
  const fromKeys = coveredStats.scans - fromKeysBefore;
  t.ok(fromKeys > 20, `${fromKeys} counts were answered from index keys alone`);
});
