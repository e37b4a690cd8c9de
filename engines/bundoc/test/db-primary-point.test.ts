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

/** Bundoc's order of ids: numbers before strings, numbers numerically, strings by code point. */
function sortIds(xs: Array<string | number>, dir: 1 | -1): Array<string | number> {
  const rank = (v: string | number) => (typeof v === 'number' ? 0 : 1);
  const out = [...xs].sort((a, b) => (rank(a) !== rank(b) ? rank(a) - rank(b) : a < b ? -1 : a > b ? 1 : 0));
  return dir === 1 ? out : out.reverse();
}
