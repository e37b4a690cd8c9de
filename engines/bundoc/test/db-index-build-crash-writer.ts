// Child process of db-index-build-crash.test.ts: builds the index v_1 of a collection online (batches of
// 50), drops it and builds it again, while writes go on; prints each acknowledged write and each
// finished build (and each update before it is made), until killed.
import { indexBuildTuning } from '../src/db/schema-ops.js';
import { Bundoc } from '../src/index.js';

indexBuildTuning.batch = 50;
const [dir, seedText] = process.argv.slice(2);
let state = Number(seedText);
const rand = (n: number) => {
  state = (state * 1103515245 + 12345) & 0x7fffffff;
  return state % n;
};
const db = await Bundoc.open(dir!, { durability: 'full' });
const c = db.collection('c');
if ((await c.countDocuments({})) === 0) {
  await c.insertMany(Array.from({ length: 600 }, (_, i) => ({ _id: `d${i}`, v: i % 13, tags: [i % 3] })));
}
process.stdout.write('READY\n');
let writing = true;
const writer = (async () => {
  for (let i = 0; writing; i++) {
    const op = rand(3);
    if (op === 0) {
      const id = `s${seedText}-${i}`;
      await c.insertOne({ _id: id, v: rand(13), tags: rand(2) === 0 ? [1, 2] : 5 });
      process.stdout.write(`A insert ${id}\n`);
    } else if (op === 1) {
      const id = `d${rand(600)}`;
      const v = rand(13);
      // Tried, then acknowledged: a kill between the commit and the second line leaves v stored unacknowledged.
      process.stdout.write(`T set ${id} ${v}\n`);
      await c.updateOne({ _id: id }, { $set: { v } });
      process.stdout.write(`A set ${id} ${v}\n`);
    } else {
      await c.deleteOne({ _id: `d${rand(600)}` });
    }
  }
})();
for (let round = 0; ; round++) {
  const ix = (await c.listIndexes()).find((x) => x.name === 'v_1');
  if (ix) await c.dropIndex('v_1');
  await c.createIndex({ v: 1 });
  process.stdout.write(`A built ${round}\n`);
  if (round > 1000) break;
}
writing = false;
await writer;
