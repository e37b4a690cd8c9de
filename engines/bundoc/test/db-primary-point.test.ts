import fc from 'fast-check';
import t from 'tap';
import { Bundoc } from '../src/index.js';

// Equalities on _id are read with point lookups instead of range scans: the same documents, order,
// limits and explain counts as the documents themselves say, for present and absent ids of every type.

t.test('_id equalities and $in lists by point lookups', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const c = db.collection('c');
  const ids: Array<string | number> = [];
  for (let i = 0; i < 60; i++) ids.push(i % 3 === 0 ? i : i % 3 === 1 ? `s${i}` : i + 0.5);
  await c.insertMany(ids.map((id, i) => ({ _id: id, i, odd: i % 2 === 1 })));
  const byId = new Map(ids.map((id, i) => [id, { _id: id, i, odd: i % 2 === 1 }]));
  const probe = fc.oneof(
    fc.constantFrom(...ids),
    fc.integer({ min: -5, max: 70 }),
    fc.constantFrom('s1', 's2', 'nope', '', 'a\u0000b'),
    fc.double({ noNaN: true, min: -10, max: 70 }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(probe, { maxLength: 6 }),
      fc.constantFrom(1, -1),
      fc.boolean(),
      async (vals, dir, oddOnly) => {
        const want = [...new Set(vals)].filter((v) => byId.has(v)).map((v) => byId.get(v)!);
        const expected = want.filter((d) => !oddOnly || d.odd);
        const filter = { _id: { $in: vals }, ...(oddOnly ? { odd: true } : {}) };
        const got = await c.find(filter, { sort: { _id: dir } }).toArray();
        t.same(
          got.map((d) => d._id),
          sortIds(
            expected.map((d) => d._id),
            dir,
          ),
        );
        const ex = await c.find(filter).explain();
        if (vals.length > 0) {
          t.equal(ex.index, '_id_', JSON.stringify(vals));
          t.equal(ex.keysExamined, want.length, 'one key per present id');
        }
        t.equal(ex.nReturned, expected.length);
        if (vals.length > 0) {
          const one = await c.findOne({ _id: vals[0] });
          t.same(one, byId.get(vals[0]!) ?? null);
        }
      },
    ),
    { numRuns: 300, seed: 20261130 },
  );
  // writes addressed by _id
  t.same(await c.updateOne({ _id: 's1' }, { $set: { x: 1 } }), {
    matchedCount: 1,
    modifiedCount: 1,
    upsertedId: null,
  });
  t.same(await c.updateOne({ _id: 'nope' }, { $set: { x: 1 } }), {
    matchedCount: 0,
    modifiedCount: 0,
    upsertedId: null,
  });
  t.same(await c.get('s1'), { _id: 's1', i: 1, odd: true, x: 1 });
  t.same(await c.deleteOne({ _id: 3 }), { deletedCount: 1 });
  t.equal(await c.findOne({ _id: 3 }), null);
  t.same((await c.find({ _id: 0 }, { skip: 1 }).toArray()).length, 0);
});

/** A call's result, or its error's class and message. */
async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await fn() };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Bundoc's order of ids: numbers before strings, numbers numerically, strings by code point. */
function sortIds(xs: Array<string | number>, dir: 1 | -1): Array<string | number> {
  const rank = (v: string | number) => (typeof v === 'number' ? 0 : 1);
  const out = [...xs].sort((a, b) => (rank(a) !== rank(b) ? rank(a) - rank(b) : a < b ? -1 : a > b ? 1 : 0));
  return dir === 1 ? out : out.reverse();
}

// `{ _id: v }` alone is compiled and planned directly (exec.ts idEquality, planner.ts idPointPlan); the
// same filter written `{ _id: { $eq: v } }` goes through the filter compiler and the planner. Both must
// give the same documents, counts, explain and write results, whatever the id, options and contents.
t.test('{ _id: v } alone agrees with the general path', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const c = db.collection('c');
  await c.createIndex({ k: 1 });
  const long = 'L'.repeat(160); // key within MAX_ID_KEY_BYTES: the direct path
  const longer = 'M'.repeat(200); // could exceed it: the general path
  const ids: Array<string | number> = [0, 1, 2.5, -7, 1e300, 's', '', 'a\u0000b', 'é', long, longer];
  await c.insertMany(ids.map((id, i) => ({ _id: id, k: i % 3, tags: [i, 's'] })));
  const probe = fc.oneof(
    fc.constantFrom<unknown>(...ids, -0, 3, 'nope', 'S', `${long}x`, 'Z'.repeat(3000), NaN, Infinity),
    fc.constantFrom<unknown>(null, true, [0], { a: 1 }, new Date(0)),
    fc.double({ noNaN: true, min: -10, max: 10 }),
  );
  const options = fc.record(
    {
      sort: fc.constantFrom<Record<string, 1 | -1>>({ _id: 1 }, { _id: -1 }, { k: 1 }, { k: -1, _id: -1 }),
      skip: fc.nat(2),
      limit: fc.nat(2),
      projection: fc.constantFrom<Record<string, 0 | 1>>({ k: 1 }, { tags: 0 }, { _id: 0, k: 1 }),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(probe, options, async (v, o) => {
      const fast = { _id: v } as Record<string, unknown>;
      const general = { _id: { $eq: v } } as Record<string, unknown>;
      const label = JSON.stringify({ v: typeof v === 'string' ? v.slice(0, 20) : String(v), o });
      const both = async (f: (filter: Record<string, unknown>) => Promise<unknown>, what: string) =>
        t.same(await outcome(() => f(fast)), await outcome(() => f(general)), `${what} ${label}`);
      await both((f) => c.find(f, o).toArray(), 'find');
      await both((f) => c.find(f, o).explain(), 'explain');
      await both((f) => c.findOne(f), 'findOne');
      await both((f) => c.countDocuments(f), 'countDocuments');
    }),
    { numRuns: 200, seed: 20261201 },
  );
  // An _id whose key is longer than any stored one can be matches nothing (it used to make the lookup
  // throw "key is 3003 bytes"), alone or in a list.
  const huge = 'Z'.repeat(3000);
  t.same(await c.find({ _id: huge }).toArray(), []);
  t.equal((await c.find({ _id: huge }).explain()).keysExamined, 0);
  t.same(
    (await c.find({ _id: { $in: [huge, 's'] } }).toArray()).map((d) => d._id),
    ['s'],
  );
  t.same(await c.deleteOne({ _id: huge }), { deletedCount: 0 });
  t.same(await c.updateOne({ _id: huge }, { $set: { n: 1 } }), {
    matchedCount: 0,
    modifiedCount: 0,
    upsertedId: null,
  });
  // writes: each id updated through the direct path, then deleted through it
  for (const id of [...ids, -0, 'nope']) {
    const r = await c.updateOne({ _id: id }, { $inc: { n: 1 } });
    const present = ids.includes(id);
    t.same(
      r,
      { matchedCount: present ? 1 : 0, modifiedCount: present ? 1 : 0, upsertedId: null },
      String(id),
    );
  }
  t.same(await c.updateOne({ _id: 'up' }, { $set: { n: 5 } }, { upsert: true }), {
    matchedCount: 0,
    modifiedCount: 0,
    upsertedId: 'up',
  });
  t.same(await c.get('up'), { _id: 'up', n: 5 });
  // -0 is the key of 0: that document was updated twice, every other one once
  for (const id of ids) t.equal((await c.get(id))?.n, id === 0 ? 2 : 1, String(id));
  for (const id of [...ids, 'up']) t.same(await c.deleteOne({ _id: id }), { deletedCount: 1 }, String(id));
  t.equal(await c.countDocuments({}), 0);
});
