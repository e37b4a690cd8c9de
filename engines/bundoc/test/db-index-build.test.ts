import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { indexBuildTuning } from '../src/db/schema-ops.js';
import {
  Bundoc,
  type Collection,
  type Document,
  DuplicateKeyError,
  IndexBuildAbortedError,
  InvalidIndexError,
} from '../src/index.js';

// Online index builds (schema-ops.ts createIndex): a collection larger than one batch is indexed in
// batches of their own transactions while other writes go on. Whatever the interleaving, the finished
// index must be byte for byte the index that maintenance alone gives for the final documents; while it
// is being built no query may use it; failures (duplicates, drops, a close) must leave no index behind.
// The batch is lowered to a few documents so that builds take many batches.

const BATCH = 4;
indexBuildTuning.batch = BATCH;

const SPECS: Array<{ spec: Record<string, 1 | -1>; unique?: boolean; sparse?: boolean }> = [
  { spec: { a: 1 } },
  { spec: { b: 1, c: -1 } },
  { spec: { tags: 1 } },
  { spec: { 'n.x': 1 }, sparse: true },
];

const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('p', 'q', null, true));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
const doc = fc.record(
  {
    a: value,
    b: scalar,
    c: scalar,
    n: fc.oneof(fc.record({ x: value }, { requiredKeys: [] }), scalar),
    tags: fc.array(scalar, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

type Op =
  | { kind: 'insert'; doc: Record<string, unknown> }
  | { kind: 'set'; id: number; field: 'a' | 'b' | 'tags' | 'n'; value: unknown }
  | { kind: 'replace'; id: number; doc: Record<string, unknown> }
  | { kind: 'delete'; id: number }
  | { kind: 'query' };

const id = fc.integer({ min: 0, max: 70 });
const op: fc.Arbitrary<Op> = fc.oneof(
  doc.map((d): Op => ({ kind: 'insert', doc: d })),
  fc
    .tuple(id, fc.constantFrom('a' as const, 'b' as const, 'tags' as const, 'n' as const), value)
    .map(([i, field, v]): Op => ({ kind: 'set', id: i, field, value: field === 'n' ? { x: v } : v })),
  fc.tuple(id, doc).map(([i, d]): Op => ({ kind: 'replace', id: i, doc: d })),
  id.map((i): Op => ({ kind: 'delete', id: i })),
  fc.constant<Op>({ kind: 'query' }),
);

async function openDb(t: Test, name: string): Promise<{ db: Bundoc; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), `bundoc-ixb-${name}-`));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { db, dir };
}

/** The entries of a tree as hex strings, in order. */
function entries(db: Bundoc, tree: string): string[] {
  const tx = db.storage.begin({ readOnly: true });
  try {
    return [...tx.range(tree)].map(
      ([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`,
    );
  } finally {
    tx.abort();
  }
}

/** Runs `create` and returns the trees it made. */
async function newTrees(db: Bundoc, create: () => Promise<unknown>): Promise<string[]> {
  const before = new Set(db.storage.trees());
  await create();
  return db.storage.trees().filter((x) => !before.has(x));
}

t.test(
  'an index built while writes go on equals the one maintenance gives the final documents',
  async (t) => {
    const { db } = await openDb(t, 'prop');
    let run = 0;
    let sawBuilding = 0;
    let queriesWhileBuilding = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(doc, { minLength: BATCH + 1, maxLength: 40 }),
        fc.constantFrom(...SPECS),
        fc.array(fc.array(op, { maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        async (docs, ix, workers) => {
          run++;
          const c: Collection<Document> = db.collection(`live${run}`);
          await c.insertMany(docs.map((d, i) => ({ _id: i, ...d })));
          let nextId = 1000;
          const name = Object.entries(ix.spec)
            .map(([k, v]) => `${k}_${v}`)
            .join('_');
          const apply = async (o: Op): Promise<void> => {
            switch (o.kind) {
              case 'insert':
                await c.insertOne({ _id: nextId++, ...o.doc });
                return;
              case 'set':
                await c.updateOne({ _id: o.id }, { $set: { [o.field]: o.value } });
                return;
              case 'replace':
                await c.replaceOne({ _id: o.id }, o.doc);
                return;
              case 'delete':
                await c.deleteOne({ _id: o.id });
                return;
              case 'query': {
                const listed = (await c.listIndexes()).find((x) => x.name === name);
                if (listed?.building !== true) return;
                sawBuilding++;
                const field = Object.keys(ix.spec)[0]!;
                const q = c.find({ [field]: 1 });
                const ex = await q.explain();
                if (ex.index === name) throw new Error('a query used an index still being built');
                queriesWhileBuilding++;
                return;
              }
            }
          };
          const trees = newTrees(db, () => c.createIndex(ix.spec, { sparse: ix.sparse ?? false }));
          // Writers start in the same tick: they wait behind the build's first step, then interleave.
          const done = workers.map(async (ops) => {
            for (const o of ops) await apply(o);
          });
          const [made] = await Promise.all([trees, ...done]);
          // A tree exists once it holds an entry (none: every document skipped by a sparse index).
          if (made!.length > 1) throw new Error(`the build made ${made!.length} trees`);
          const listed = (await c.listIndexes()).find((x) => x.name === name);
          if (listed === undefined || listed.building !== undefined)
            throw new Error('index not ready after the build');

          const final = await c.find({}, { sort: { _id: 1 } }).toArray();
          const ref = db.collection(`ref${run}`);
          const refTrees = await newTrees(db, async () => {
            await ref.createIndex(ix.spec, { sparse: ix.sparse ?? false });
            await ref.insertMany(final);
          });
          const a = made!.length === 0 ? [] : entries(db, made![0]!);
          const refIndex = refTrees.filter((x) => x.includes('/x/'));
          const b = refIndex.length === 0 ? [] : entries(db, refIndex[0]!);
          if (JSON.stringify(a) !== JSON.stringify(b)) {
            throw new Error(
              `index ${name} differs from maintenance alone: ${a.length} vs ${b.length} entries`,
            );
          }
          // Sticky: an array some earlier version held keeps it set, so only this way round.
          if (!listed.multikey && (await ref.listIndexes()).find((x) => x.name === name)!.multikey) {
            throw new Error('the built index holds arrays but is not marked multikey');
          }
          await db.dropCollection(c.name);
          await db.dropCollection(ref.name);
        },
      ),
      { numRuns: 80, seed: Number(process.env.BUNBASE_SEED ?? 20261201) },
    );
    t.ok(sawBuilding > 0, `queries ran while an index was building (${queriesWhileBuilding} of them)`);
  },
);

/** A collection of `n` documents {_id: i, u: i, v: i % 7}. */
async function filled(db: Bundoc, name: string, n: number): Promise<Collection<Document>> {
  const c: Collection<Document> = db.collection(name);
  await c.insertMany(Array.from({ length: n }, (_, i) => ({ _id: i, u: i, v: i % 7 })));
  return c;
}

t.test('queries during a build do not use the index, and use it once createIndex resolved', async (t) => {
  const { db } = await openDb(t, 'plan');
  const c = await filled(db, 'c', 60);
  const build = c.createIndex({ v: 1 });
  await c.insertOne({ _id: 1000, u: 1000, v: 3 }); // runs between the build's steps
  t.same(
    (await c.listIndexes()).map((x) => [x.name, x.building ?? false]),
    [
      ['_id_', false],
      ['v_1', true],
    ],
    'listed as building',
  );
  const during = c.find({ v: 3 });
  t.equal((await during.explain()).plan, 'COLLSCAN');
  t.equal((await during.toArray()).length, 10);
  t.equal(await build, 'v_1');
  const after = await c.find({ v: 3 }).explain();
  t.equal(after.plan, 'IXSCAN');
  t.equal(after.index, 'v_1');
  t.equal(after.nReturned, 10);
  t.same(
    (await c.listIndexes()).map((x) => [x.name, x.building ?? false]),
    [
      ['_id_', false],
      ['v_1', false],
    ],
  );
});

t.test('a duplicate written during a unique build fails the build and leaves no index', async (t) => {
  const { db } = await openDb(t, 'unique');
  const c = await filled(db, 'c', 60);
  const treesBefore = db.storage.trees();
  const build = c.createIndex({ u: 1 }, { unique: true });
  // u: 59 belongs to the last batch: the partial index cannot refuse this insert; the batch finds it.
  await c.insertOne({ _id: 1000, u: 59 });
  await t.rejects(build, DuplicateKeyError);
  t.same(
    (await c.listIndexes()).map((x) => x.name),
    ['_id_'],
    'the index is gone',
  );
  t.same(db.storage.trees(), treesBefore, 'its tree is gone');
  t.equal(await c.countDocuments({ u: 59 }), 2, 'the writes stay');
  // Once the duplicate goes, the same index builds (online again).
  await c.deleteOne({ _id: 1000 });
  t.equal(await c.createIndex({ u: 1 }, { unique: true }), 'u_1');
  await t.rejects(c.insertOne({ _id: 1001, u: 3 }), DuplicateKeyError);

  // A duplicate of a document the build has already indexed is refused at once.
  const d = await filled(db, 'd', 60);
  const second = d.createIndex({ u: 1 }, { unique: true });
  await d.insertOne({ _id: 2000, u: 59 }); // lands before the last batch: the build will fail on it
  let refused = 0;
  for (let i = 0; i < 40; i += 2) {
    // Each write waits for its commit, and the build's batches of 4 run meanwhile: it falls behind them.
    await d.insertOne({ _id: 2001 + i, u: i }).catch((e) => {
      if (!(e instanceof DuplicateKeyError)) throw e;
      refused++;
    });
  }
  await second.then(
    () => t.fail('the build should fail on the duplicate that landed first'),
    (e) => t.ok(e instanceof DuplicateKeyError, 'the build fails on the duplicate that landed first'),
  );
  t.ok(refused > 0, `inserts of values already indexed were refused (${refused})`);
  t.same(
    (await d.listIndexes()).map((x) => x.name),
    ['_id_'],
  );
});

t.test('dropping the index or its collection stops the build', async (t) => {
  const { db } = await openDb(t, 'drop');
  const c = await filled(db, 'c', 40);
  const build = c.createIndex({ v: 1 });
  await c.dropIndex('v_1');
  await t.rejects(build, IndexBuildAbortedError);
  t.same(
    (await c.listIndexes()).map((x) => x.name),
    ['_id_'],
  );

  const again = c.createIndex({ v: 1 });
  await db.dropCollection('c');
  const e = await again.then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(e instanceof IndexBuildAbortedError, 'dropCollection stops it');
  t.match((e as IndexBuildAbortedError).message, /index "v_1" of collection "c" stopped/);
  t.same(db.storage.trees(), ['__bundoc/catalog'], 'no tree left behind');
});

t.test(
  'createIndex of an index being built waits for that build; a different definition is refused',
  async (t) => {
    const { db } = await openDb(t, 'twice');
    const c = await filled(db, 'c', 40);
    const first = c.createIndex({ v: 1 });
    const second = c.createIndex({ v: 1 });
    await t.rejects(c.createIndex({ u: 1 }, { name: 'v_1' }), InvalidIndexError);
    t.equal(await second, 'v_1');
    t.equal(
      (await c.listIndexes()).find((x) => x.name === 'v_1')?.building,
      undefined,
      'ready when it resolves',
    );
    t.equal(await first, 'v_1');
  },
);

t.test('a build the close interrupts is dropped when the database opens again', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-ixb-close-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'db');
  let db = await Bundoc.open(file, { durability: 'full' });
  const c = await filled(db, 'c', 80);
  const treesBefore = db.storage.trees();
  const build = c.createIndex({ v: 1 });
  const caught = build.then(
    () => undefined,
    (e: unknown) => e,
  );
  await c.insertOne({ _id: 1000, v: 1 }); // the build is under way
  t.equal((await c.listIndexes()).find((x) => x.name === 'v_1')?.building, true);
  await db.close();
  t.ok((await caught) instanceof Error, 'createIndex rejects');
  db = await Bundoc.open(file, { durability: 'full' });
  const reopened = db.collection('c');
  t.same(
    (await reopened.listIndexes()).map((x) => x.name),
    ['_id_'],
    'the half-built index is gone',
  );
  t.same(db.storage.trees(), treesBefore, 'and so is its tree');
  t.equal(await reopened.createIndex({ v: 1 }), 'v_1');
  const ex = await reopened.find({ v: 1 }).explain();
  t.equal(ex.index, 'v_1');
  t.equal(ex.nReturned, 13);
  await db.close();
});

t.test(
  'two indexes of one collection built at once, with writes going on, both equal maintenance',
  async (t) => {
    const { db } = await openDb(t, 'pair');
    const c = await filled(db, 'c', 90);
    const trees = newTrees(db, () => Promise.all([c.createIndex({ v: 1 }), c.createIndex({ u: -1 })]));
    for (let i = 0; i < 30; i++) {
      await c.updateOne({ _id: (i * 7) % 90 }, { $set: { v: i % 5, u: 1000 + i } });
      if (i % 3 === 0) await c.deleteOne({ _id: (i * 11) % 90 });
      if (i % 4 === 0) await c.insertOne({ _id: 500 + i, u: 2000 + i, v: [i % 2, 7] });
    }
    const made = await trees;
    t.equal(made.length, 2);
    t.same(
      (await c.listIndexes()).map((x) => [x.name, x.building ?? false, x.multikey]),
      [
        ['_id_', false, false],
        ['v_1', false, true],
        ['u_-1', false, false],
      ],
    );
    const ref = db.collection('ref');
    const refTrees = await newTrees(db, async () => {
      await ref.createIndex({ v: 1 });
      await ref.createIndex({ u: -1 });
      await ref.insertMany(await c.find({}, { sort: { _id: 1 } }).toArray());
    });
    const ixOf = (list: string[]) =>
      list
        .filter((x) => x.includes('/x/'))
        .sort((a, b) => Number(a.split('/').pop()) - Number(b.split('/').pop()));
    const [mv, mu] = ixOf(made);
    const [rv, ru] = ixOf(refTrees);
    t.same(entries(db, mv!), entries(db, rv!), 'v_1');
    t.same(entries(db, mu!), entries(db, ru!), 'u_-1');
  },
);
