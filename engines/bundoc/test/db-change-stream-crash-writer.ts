// Child process of db-change-stream-crash.test.ts: inserts, updates and deletes documents of one
// collection, printing each acknowledged write ("A op id v"), until killed.
import { Bundoc } from '../src/index.js';

const [dir, seedText] = process.argv.slice(2);
let state = Number(seedText);
const rand = (n: number) => {
  state = (state * 1103515245 + 12345) & 0x7fffffff;
  return state % n;
};
const db = await Bundoc.open(dir!, {
  durability: 'full',
  walRetentionBytes: 1 << 30,
  walSegmentBytes: 64 * 1024,
  changeStreamPreImages: true,
});
const c = db.collection('c');
process.stdout.write('READY\n');
const writers = Array.from({ length: 4 }, async (_, w) => {
  for (let i = 0; ; i++) {
    const id = `w${w}-${rand(40)}`;
    const v = Number(seedText) * 1e6 + w * 1e5 + i;
    const op = rand(3);
    if (op === 0) {
      const r = await c.updateOne({ _id: id }, { $set: { v } }, { upsert: true });
      process.stdout.write(`A ${r.upsertedId !== null ? 'insert' : 'update'} ${id} ${v}\n`);
    } else if (op === 1) {
      const r = await c.updateOne({ _id: id }, { $set: { v } });
      if (r.modifiedCount === 1) process.stdout.write(`A update ${id} ${v}\n`);
    } else {
      const r = await c.deleteOne({ _id: id });
      if (r.deletedCount === 1) process.stdout.write(`A delete ${id} -\n`);
    }
  }
});
await Promise.all(writers);
