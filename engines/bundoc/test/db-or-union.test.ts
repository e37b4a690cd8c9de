import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { Bundoc, type Collection, type Document, type FindOptions } from '../src/index.js';

// A top-level $or (or one inside a top-level $and) whose branches each have an index is planned as the
// union of their index scans (planner.ts unionPlan, exec.ts branchPredicates and scan): a document
// several branches find must come back once, the rest of the filter must still apply, and sort, skip,
// limit, counts, distinct and writes must agree with a collection without indexes holding the same
// documents.

const scalar = fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constantFrom('x', 'y', null, true));
const doc = fc.record(
  {
    a: fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })),
    b: scalar,
    tags: fc.array(fc.constantFrom('t1', 't2', 't3', 1), { maxLength: 3 }),
    n: fc.record({ x: scalar }, { requiredKeys: [] }),
    u: fc.integer({ min: 0, max: 1_000_000 }),
    z: scalar,
  },
  { requiredKeys: [] },
);

/** A predicate some index can serve (or, on z, none can). */
const leaf = fc.oneof(
  fc.tuple(fc.constantFrom('a', 'b', 'tags', 'n.x', 'u', '_id', 'z'), scalar).map(([f, v]) => ({ [f]: v })),
  fc
    .tuple(fc.constantFrom('a', 'b', 'n.x', '_id'), fc.array(scalar, { minLength: 1, maxLength: 3 }))
    .map(([f, vs]) => ({ [f]: { $in: vs } })),
  fc
    .tuple(
      fc.constantFrom('a', 'b', 'u', '_id'),
      fc.constantFrom('$gt', '$gte', '$lt', '$lte'),
      fc.integer({ min: -2, max: 30 }),
    )
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc.constantFrom('t1', 't2').map((v) => ({ tags: { $all: [v] } })),
);

/** A top-level $or with the rest beside it, or the same inside a top-level $and (with one more $or). */
const filter = fc
  .tuple(
    fc.array(leaf, { minLength: 1, maxLength: 4 }),
    fc.option(leaf, { nil: undefined }),
    fc.constantFrom('top', 'and', 'and2'),
    fc.array(leaf, { minLength: 1, maxLength: 2 }),
  )
  .map(([branches, rest, form, other]): Document => {
    if (form === 'top') return { ...(rest ?? {}), $or: branches };
    if (form === 'and') return { $and: [...(rest ? [rest] : []), { $or: branches }] };
    return { $and: [{ $or: branches }, { $or: other }, ...(rest ? [rest] : [])] };
  });

const options = fc.record(
  {
    sort: fc.constantFrom<Record<string, 1 | -1>>({ b: 1 }, { a: -1, _id: 1 }, { u: -1 }, { _id: -1 }),
    skip: fc.integer({ min: 0, max: 5 }),
    limit: fc.integer({ min: 1, max: 10 }),
  },
  { requiredKeys: [] },
);

async function openDb(t: Test): Promise<Bundoc> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-or-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

const byId = (docs: Document[]) =>
  JSON.stringify([...docs].sort((p, q) => (p._id as number) - (q._id as number)));

t.test('index unions agree with a scan of the same documents', async (t) => {
  const db = await openDb(t);
  let run = 0;
  let unions = 0;
  let queries = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(doc, { minLength: 5, maxLength: 40 }),
      fc.array(fc.tuple(filter, options), { minLength: 1, maxLength: 8 }),
      async (docs, queriesOf) => {
        run++;
        const base: Collection<Document> = db.collection(`base${run}`);
        const ixd: Collection<Document> = db.collection(`ixd${run}`);
        await ixd.createIndex({ a: 1 });
        await ixd.createIndex({ b: -1, z: 1 });
        await ixd.createIndex({ tags: 1 });
        await ixd.createIndex({ 'n.x': 1 }, { sparse: true });
        await ixd.createIndex({ u: 1 }, { unique: true, sparse: true });
        const rows = docs.map((d, i) => ({
          _id: i,
          ...d,
          ...(d.u === undefined ? {} : { u: d.u * 100 + i }),
        }));
        await base.insertMany(rows);
        await ixd.insertMany(rows);
        for (const [f, o] of queriesOf) {
          queries++;
          const what = `find(${JSON.stringify(f)}, ${JSON.stringify(o)})`;
          const cur = ixd.find(f, o as FindOptions);
          const got = await cur.toArray();
          const ex = await cur.explain();
          if (ex.plan === 'OR') unions++;
          if (o.sort) {
            const want = await base.find(f, o as FindOptions).toArray();
            if (JSON.stringify(got) !== JSON.stringify(want))
              throw new Error(`${what}: ${JSON.stringify(got)}`);
          } else {
            const all = await base.find(f).toArray();
            if (o.skip === undefined && o.limit === undefined) {
              if (byId(got) !== byId(all)) throw new Error(`${what}: ${byId(got)} vs ${byId(all)}`);
            } else {
              const ids = new Set(all.map((d) => d._id));
              const size = Math.max(0, Math.min(all.length - (o.skip ?? 0), o.limit ?? all.length));
              if (
                got.length !== size ||
                new Set(got.map((d) => d._id)).size !== size ||
                !got.every((d) => ids.has(d._id))
              )
                throw new Error(`${what}: ${got.length} documents, not a page of ${all.length}`);
            }
          }
          if ((await ixd.countDocuments(f)) !== (await base.countDocuments(f)))
            throw new Error(`count ${what}`);
          const dv = JSON.stringify(await base.distinct('b', f));
          if (JSON.stringify(await ixd.distinct('b', f)) !== dv) throw new Error(`distinct ${what}`);
        }
        // Writes through the same plans.
        const [wf] = queriesOf[0]!;
        const r1 = await base.updateMany(wf, { $inc: { k: 1 } });
        const r2 = await ixd.updateMany(wf, { $inc: { k: 1 } });
        if (r1.matchedCount !== r2.matchedCount) throw new Error(`updateMany ${JSON.stringify(wf)}`);
        const d1 = await base.deleteMany(queriesOf[queriesOf.length - 1]![0]);
        const d2 = await ixd.deleteMany(queriesOf[queriesOf.length - 1]![0]);
        if (d1.deletedCount !== d2.deletedCount) throw new Error('deleteMany');
        const left = await base.find({}, { sort: { _id: 1 } }).toArray();
        if (JSON.stringify(await ixd.find({}, { sort: { _id: 1 } }).toArray()) !== JSON.stringify(left))
          throw new Error('documents differ after the writes');
        await db.dropCollection(base.name);
        await db.dropCollection(ixd.name);
      },
    ),
    { numRuns: 60, seed: Number(process.env.BUNBASE_SEED ?? 20261201) },
  );
  t.ok(unions > queries / 6, `${unions} of ${queries} queries ran as index unions`);
});

t.test(
  'explain shows the union; a branch without an index, or a better single index, means no union',
  async (t) => {
    const db = await openDb(t);
    const c = db.collection('c');
    await c.createIndex({ a: 1 });
    await c.createIndex({ b: 1 });
    await c.createIndex({ e: 1 }, { unique: true });
    await c.insertMany(
      Array.from({ length: 100 }, (_, i) => ({ _id: i, a: i % 10, b: i % 7, e: i, z: i % 3 })),
    );

    const ex = await c.find({ $or: [{ a: 1 }, { b: { $in: [2, 3] } }] }).explain();
    t.equal(ex.plan, 'OR');
    t.same(ex.branches, [
      { plan: 'IXSCAN', index: 'a_1', bounds: { a: ['[1, 1]'] } },
      { plan: 'IXSCAN', index: 'b_1', bounds: { b: ['[2, 2]', '[3, 3]'] } },
    ]);
    const ids = Array.from({ length: 100 }, (_, i) => i);
    const expected = ids.filter((i) => i % 10 === 1 || i % 7 === 2 || i % 7 === 3);
    const inBoth = ids.filter((i) => i % 10 === 1 && (i % 7 === 2 || i % 7 === 3));
    t.ok(inBoth.length > 0);
    t.equal(ex.nReturned, expected.length, 'each document once');
    t.equal(ex.keysExamined, expected.length + inBoth.length, 'documents both branches find are read twice');
    t.same(
      (await c.find({ $or: [{ a: 1 }, { b: { $in: [2, 3] } }] }, { sort: { _id: 1 } }).toArray()).map(
        (d) => d._id,
      ),
      expected,
    );

    t.equal((await c.find({ $or: [{ a: 1 }, { z: 2 }] }).explain()).plan, 'COLLSCAN', 'z has no index');
    const single = await c.find({ e: 5, $or: [{ a: 1 }, { b: 2 }] }).explain();
    t.equal(single.plan, 'IXSCAN', 'the unique equality outside the $or beats the union');
    t.equal(single.index, 'e_1');
    // The rest of the filter (no index of its own) is applied to what every branch finds.
    const rest = c.find({ z: 1, $or: [{ a: 1 }, { b: 2 }] }, { sort: { _id: 1 } });
    t.equal((await rest.explain()).plan, 'OR');
    t.same(
      (await rest.toArray()).map((d) => d._id),
      ids.filter((i) => i % 3 === 1 && (i % 10 === 1 || i % 7 === 2)),
    );
    // The same conjunction written with $and: the $or inside it is split alike.
    const nested = c.find({ $and: [{ z: 1 }, { $or: [{ a: 1 }, { b: 2 }] }] }, { sort: { _id: 1 } });
    t.equal((await nested.explain()).plan, 'OR', 'an $or inside a top-level $and');
    t.same(
      (await nested.toArray()).map((d) => d._id),
      ids.filter((i) => i % 3 === 1 && (i % 10 === 1 || i % 7 === 2)),
    );
  },
);
