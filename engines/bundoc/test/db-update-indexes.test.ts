import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { Bundoc, type Document } from '../src/index.js';

// Index maintenance under updates: an update leaves alone the indexes on top-level fields it does not
// touch (writes.ts), so every index an update may change must still be rewritten. Random updates (every
// operator, nested and renamed paths, several operators at once) go through a collection whose indexes
// are maintained from the start; its index trees must then be byte for byte the trees a fresh build
// over the final documents gives.

const INDEXES: Array<Record<string, 1 | -1>> = [
  { a: 1 },
  { 'n.x': 1 },
  { b: 1, c: -1 },
  { tags: 1 },
  { n: 1 },
];
const PATHS = ['a', 'b', 'c', 'n', 'n.x', 'n.y', 'tags', 'tags.0', 'z'];

const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('p', 'q', null, true));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.record({ x: scalar }));
const numeric = fc.integer({ min: -2, max: 2 });

/** One operator on one path, as [operator, path, operand]. */
const step = fc.oneof(
  fc.tuple(fc.constant('$set'), fc.constantFrom(...PATHS), value),
  fc.tuple(fc.constant('$unset'), fc.constantFrom(...PATHS), fc.constant('')),
  fc.tuple(fc.constantFrom('$inc', '$mul', '$min', '$max'), fc.constantFrom(...PATHS), numeric),
  fc.tuple(
    fc.constant('$rename'),
    fc.constantFrom('a', 'b', 'c', 'n', 'z'),
    fc.constantFrom('a', 'c', 'k', 'n.x', 'm'),
  ),
  fc.tuple(fc.constantFrom('$push', '$addToSet', '$pull'), fc.constantFrom('tags', 'n.x', 'z'), scalar),
  fc.tuple(fc.constant('$pop'), fc.constantFrom('tags', 'n.x'), fc.constantFrom(1, -1)),
  fc.tuple(fc.constant('$currentDate'), fc.constantFrom(...PATHS), fc.constant(true)),
);

function updateOf(steps: Array<[string, string, unknown]>): Document {
  const u: Record<string, Record<string, unknown>> = {};
  for (const [op, p, operand] of steps) {
    u[op] ??= {};
    u[op][p] = operand;
  }
  return u;
}

const doc = fc.record(
  {
    a: value,
    b: scalar,
    c: scalar,
    n: fc.oneof(fc.record({ x: value, y: numeric }, { requiredKeys: [] }), scalar),
    tags: fc.array(scalar, { maxLength: 3 }),
    k: numeric,
  },
  { requiredKeys: ['k'] },
);

t.test('updates keep every index equal to a fresh build', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-upd-ix-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  let run = 0;
  let skipped = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(doc, { minLength: 4, maxLength: 12 }),
      fc.array(fc.tuple(fc.array(step, { minLength: 1, maxLength: 3 }), numeric), {
        minLength: 1,
        maxLength: 8,
      }),
      async (docs, updates) => {
        run++;
        const kept = db.collection(`kept${run}`);
        const treesOf = async (create: () => Promise<unknown>) => {
          const before = new Set(db.storage.trees());
          await create();
          return db.storage.trees().filter((x) => !before.has(x));
        };
        const keptTrees: string[] = [];
        await kept.insertOne({ _id: 0, k: 0 });
        for (const spec of INDEXES) keptTrees.push(...(await treesOf(() => kept.createIndex(spec))));
        await kept.insertMany(docs.map((d, i) => ({ _id: i + 1, ...d })));
        for (const [steps, below] of updates) {
          // Conflicting paths or values an operator refuses: the update fails whole, which is fine.
          const r = await kept.updateMany({ k: { $lte: below } }, updateOf(steps)).catch(() => undefined);
          if (r === undefined) skipped++;
        }
        const final = await kept.find({}, { sort: { _id: 1 } }).toArray();
        const built = db.collection(`built${run}`);
        await built.insertMany(final);
        const builtTrees: string[] = [];
        for (const spec of INDEXES) builtTrees.push(...(await treesOf(() => built.createIndex(spec))));
        const tx = db.storage.begin({ readOnly: true });
        try {
          for (let i = 0; i < INDEXES.length; i++) {
            const a = [...tx.range(keptTrees[i]!)].map(
              ([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`,
            );
            const b = [...tx.range(builtTrees[i]!)].map(
              ([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`,
            );
            if (JSON.stringify(a) !== JSON.stringify(b)) {
              throw new Error(`index ${JSON.stringify(INDEXES[i])} differs from a fresh build`);
            }
          }
        } finally {
          tx.abort();
        }
        await db.dropCollection(kept.name);
        await db.dropCollection(built.name);
      },
    ),
    { numRuns: 60, seed: Number(process.env.BUNBASE_SEED ?? 20261201) },
  );
  t.ok(skipped < run * 4, `most updates apply (${skipped} of the updates failed whole)`);
});
