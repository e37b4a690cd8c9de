import t from 'tap';
import { Bundoc } from '../src/index.js';

// Query bounds longer than any index key can be (a value of thousands of characters): equalities on
// them match nothing, ranges match what they match without an index, on _id, single and compound
// indexes, alone and in $in lists. Such bounds used to fail with "range bound gte is N bytes".

t.test('bounds longer than the key limit: same results with and without indexes', async (t) => {
  const db = await Bundoc.open(':memory:'); // 4 KiB pages: the smallest key limit (1024 bytes)
  t.teardown(() => db.close());
  const plain = db.collection('plain');
  const indexed = db.collection('indexed');
  await indexed.createIndex({ name: 1 });
  await indexed.createIndex({ tag: 1, n: -1 });
  const Z = (n: number) => 'Z'.repeat(n);
  // names around the long bounds: shorter, sharing their first 1000 characters, past them
  const names = ['x', 'Za', Z(10), Z(900), `${Z(900)}a`, `${Z(1000)}`, 'A', '', `${Z(5)}A`];
  const docs = names.flatMap((name, i) => [
    { _id: `${i}`, name, tag: name, n: i },
    { _id: `${Z(150)}${i}`, name: `${name}!`, tag: i % 2 ? name : 'q', n: -i },
  ]);
  await plain.insertMany(docs);
  await indexed.insertMany(docs);
  const huge = Z(3000);
  const huge2 = `${Z(3000)}b`;
  const filters: Array<Record<string, unknown>> = [
    { name: huge },
    { name: { $in: [huge, huge2, 'x', 'Za'] } },
    { name: { $gt: huge } },
    { name: { $gte: huge, $lt: huge2 } },
    { name: { $lt: huge } },
    { name: { $lte: huge2, $gt: 'A' } },
    { name: { $in: [huge, huge2] } },
    { tag: huge, n: { $gt: 0 } },
    { tag: { $in: [huge, 'q', `${Z(900)}a`] }, n: { $lte: 5 } },
    { tag: { $gt: huge } },
    { _id: { $gt: huge } },
    { _id: { $lt: huge2, $gte: huge } },
    { _id: { $in: [huge, '3', huge2] } },
  ];
  for (const f of filters) {
    for (const sort of [undefined, { n: 1 as const }]) {
      const want = await plain.find(f, { sort }).toArray();
      const got = await indexed.find(f, { sort }).toArray();
      const ex = await indexed.find(f).explain();
      const label = JSON.stringify(f, (_, v) =>
        typeof v === 'string' && v.length > 20 ? `${v.slice(0, 8)}…(${v.length})` : v,
      );
      if (sort) t.same(got, want, `${label} sorted (${ex.plan} ${ex.index ?? ''})`);
      else
        t.same(
          got.map((d) => d._id).sort(),
          want.map((d) => d._id).sort(),
          `${label} (${ex.plan} ${ex.index ?? ''})`,
        );
    }
  }
  // the plans used the indexes (the point of the test)
  t.equal((await indexed.find({ name: { $gt: huge } }).explain()).index, 'name_1');
  t.equal((await indexed.find({ tag: huge, n: { $gt: 0 } }).explain()).index, 'tag_1_n_-1');
  t.equal(
    await indexed.countDocuments({ name: { $gt: huge } }),
    await plain.countDocuments({ name: { $gt: huge } }),
  );
});
