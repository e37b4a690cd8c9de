import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { keyHash, MIN_CACHED_BYTES } from '../src/document/decoded-cache.js';
import { Bundoc, DocumentCache, encodeDocument, InvalidArgumentError } from '../src/index.js';

// The decoded-document cache: reads through it return exactly what decoding the stored bytes returns
// (differential against a database without the cache, through random writes, evictions and snapshots),
// every result is the caller's own object, and the budget and per-database spaces hold. Documents
// smaller than MIN_CACHED_BYTES bypass it (unless compressed): most documents here carry PAD.

/** A field that takes a document over the size from which it goes through the cache. */
const PAD = 'p'.repeat(MIN_CACHED_BYTES);

async function tmp(t: Test): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'bundoc-doccache-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

t.test('results are the caller’s own: mutating one never changes a later read', async (t) => {
  const db = await Bundoc.open(path.join(await tmp(t), 'db'), {
    durability: 'off',
    documentCacheBytes: 1 << 20,
  });
  t.teardown(() => db.close());
  const c = db.collection('c');
  const when = new Date('2026-01-02T03:04:05.678Z');
  const doc = JSON.parse('{"_id":"a","n":1,"tags":["x",{"y":[1,2]}],"at":null,"__proto__":{"p":1}}');
  await c.insertOne({ ...doc, when, pad: PAD });
  for (let i = 0; i < 8; i++) {
    // biome-ignore lint/suspicious/noExplicitAny: the test reaches into nested fields it just wrote
    const got = (await c.get('a')) as Record<string, any>;
    t.same(Object.keys(got), ['_id', 'n', 'tags', 'at', '__proto__', 'when', 'pad']);
    t.ok(Object.hasOwn(got, '__proto__'), 'a field named __proto__ stays an own field');
    t.equal(Object.getPrototypeOf(got), Object.prototype);
    t.ok(got.when instanceof Date && got.when.getTime() === when.getTime());
    t.same(got.tags, ['x', { y: [1, 2] }]);
    got.n = 99;
    got.tags[1].y.push(3);
    got.when.setTime(0);
    (Object.getOwnPropertyDescriptor(got, '__proto__')!.value as { p: number }).p = 2;
  }
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const [viaFind] = (await c.find({ n: 1 }).toArray()) as Record<string, any>[];
  t.equal(viaFind.n, 1);
  t.same(viaFind.tags[1].y, [1, 2]);
  t.equal(viaFind.when.getTime(), when.getTime());
  t.ok(db.documentCacheStats().hits > 0, 'the repeated reads were served by the cache');
});

t.test('an update, a delete and an older snapshot all see their own version', async (t) => {
  const db = await Bundoc.open(path.join(await tmp(t), 'db'), {
    durability: 'off',
    documentCacheBytes: 1 << 20,
  });
  t.teardown(() => db.close());
  const c = db.collection('c');
  await c.insertOne({ _id: 1, v: 'old', pad: PAD });
  for (let i = 0; i < 3; i++) t.same(await c.get(1), { _id: 1, v: 'old', pad: PAD });
  await db.transaction(async (tx) => {
    const inTx = tx.collection('c');
    t.same(await inTx.get(1), { _id: 1, v: 'old', pad: PAD });
    // committed meanwhile by another writer: this snapshot keeps the old version, others see the new
    await c.updateOne({ _id: 1 }, { $set: { v: 'new' } });
    for (let i = 0; i < 3; i++) {
      t.same(await c.get(1), { _id: 1, v: 'new', pad: PAD });
      t.same(await inTx.get(1), { _id: 1, v: 'old', pad: PAD });
      t.same(await inTx.find({}).toArray(), [{ _id: 1, v: 'old', pad: PAD }]);
    }
  });
  await c.deleteOne({ _id: 1 });
  t.equal(await c.get(1), null);
  await c.insertOne({ _id: 1, v: 'again', pad: PAD });
  t.same(await c.get(1), { _id: 1, v: 'again', pad: PAD });
});

t.test('random writes and reads agree with a database without the cache', async (t) => {
  const dir = await tmp(t);
  let run = 0;
  let hits = 0;
  const ids = fc.integer({ min: 0, max: 11 });
  const value = fc.oneof(
    fc.integer(),
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
    fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
  );
  const op = fc.oneof(
    {
      arbitrary: fc.record({
        k: fc.constant('put' as const),
        id: ids,
        a: value,
        // small (bypassing the cache), large, and compressed (LZ4 from 1 KiB, when it saves enough)
        b: fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ minLength: MIN_CACHED_BYTES, maxLength: 950 }),
          fc.integer({ min: 500, max: 700 }).map((n) => 'ab'.repeat(n)),
        ),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ k: fc.constant('inc' as const), id: ids }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('del' as const), id: ids }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('get' as const), id: ids, mutate: fc.boolean() }), weight: 8 },
    { arbitrary: fc.record({ k: fc.constant('find' as const), lt: ids }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('snap' as const), id: ids }), weight: 1 },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 60, maxLength: 150 }), async (ops) => {
      run++;
      // A tiny budget (entries of up to 3 KiB): generations turn over and entries are evicted all the time.
      const cached = await Bundoc.open(path.join(dir, `c${run}`), {
        durability: 'off',
        documentCacheBytes: 49_152,
      });
      const plain = await Bundoc.open(path.join(dir, `p${run}`), {
        durability: 'off',
        documentCacheBytes: 0,
      });
      try {
        const [a, b] = [cached.collection('x'), plain.collection('x')];
        for (const o of ops) {
          if (o.k === 'put') {
            const doc = { _id: o.id, a: o.a, b: o.b, n: 0 };
            for (const c of [a, b]) await c.replaceOne({ _id: o.id }, doc, { upsert: true });
          } else if (o.k === 'inc') {
            for (const c of [a, b]) await c.updateOne({ _id: o.id }, { $inc: { n: 1 } });
          } else if (o.k === 'del') {
            for (const c of [a, b]) await c.deleteOne({ _id: o.id });
          } else if (o.k === 'get') {
            const got = await a.get(o.id);
            t.same(got, await b.get(o.id));
            if (o.mutate && got) (got as Record<string, unknown>).n = 'mutated';
          } else if (o.k === 'find') {
            t.same(
              await a.find({ _id: { $lt: o.lt } }).toArray(),
              await b.find({ _id: { $lt: o.lt } }).toArray(),
            );
          } else {
            // a snapshot taken now, read after a concurrent update
            await cached.transaction(async (tx) => {
              const before = await tx.collection('x').get(o.id);
              await a.updateOne({ _id: o.id }, { $inc: { n: 10 } });
              await b.updateOne({ _id: o.id }, { $inc: { n: 10 } });
              t.same(await tx.collection('x').get(o.id), before);
              t.same(await a.get(o.id), await b.get(o.id));
            });
          }
        }
        const stats = cached.documentCacheStats();
        hits += stats.hits;
        t.ok(stats.usedBytes <= stats.bytes, `usedBytes ${stats.usedBytes} within ${stats.bytes}`);
      } finally {
        await cached.close();
        await plain.close();
      }
    }),
    { numRuns: 40, seed: 20261130 },
  );
  t.ok(hits > 100, `the cache served reads (${hits} hits)`);
});

t.test('entries are trusted by content: a hash collision returns the right document', async (t) => {
  // two keys of one tree with the same hash
  const seen = new Map<number, Buffer>();
  let pair: [Buffer, Buffer] | undefined;
  for (let i = 0; !pair; i++) {
    const k = Buffer.from(`k${i}`);
    const h = keyHash(12345, k);
    const prev = seen.get(h);
    if (prev) pair = [prev, k];
    else seen.set(h, k);
  }
  const cache = new DocumentCache(1 << 20);
  const space = cache.space();
  const docA = encodeDocument({ _id: 'a', v: 1, pad: PAD });
  const docB = encodeDocument({ _id: 'b', v: 2, pad: PAD });
  for (let i = 0; i < 3; i++) {
    t.same(space.decode(12345, pair[0], docA), { _id: 'a', v: 1, pad: PAD });
    t.same(space.decode(12345, pair[1], docB), { _id: 'b', v: 2, pad: PAD });
  }
  t.ok(cache.stats().misses >= 6);
});

t.test('databases sharing one cache keep apart; closing one drops its entries', async (t) => {
  const dir = await tmp(t);
  Bundoc.configure({ documentCacheBytes: 1 << 20 });
  t.teardown(() => Bundoc.configure({ documentCacheBytes: null }));
  const one = await Bundoc.open(path.join(dir, 'one'), { durability: 'off' });
  const two = await Bundoc.open(path.join(dir, 'two'), { durability: 'off' });
  await one.collection('c').insertOne({ _id: 1, db: 'one', pad: PAD });
  await two.collection('c').insertOne({ _id: 1, db: 'two', pad: PAD });
  // admitted on a repeated read (one in four): read enough times for both to be in
  for (let i = 0; i < 8; i++) {
    t.same(await one.collection('c').get(1), { _id: 1, db: 'one', pad: PAD });
    t.same(await two.collection('c').get(1), { _id: 1, db: 'two', pad: PAD });
  }
  t.equal(Bundoc.sharedDocumentCache?.stats().entries, 2, 'one entry per database');
  t.equal(one.documentCacheStats().hits, two.documentCacheStats().hits, 'the same cache');
  await one.close();
  t.equal(Bundoc.sharedDocumentCache?.stats().entries, 1, 'the closed database’s entry is dropped');
  await two.close();
  t.equal(Bundoc.sharedDocumentCache?.stats().entries, 0);
});

t.test('a dropped collection leaves no decoder shapes behind', async (t) => {
  const db = await Bundoc.open(path.join(await tmp(t), 'db'), { durability: 'off' });
  t.teardown(() => db.close());
  for (let round = 0; round < 3; round++) {
    await db.collection('a').insertOne({ _id: round, v: round });
    await db.collection('b').insertOne({ _id: round, w: round });
    t.same(await db.collection('a').find({ v: round }).toArray(), [{ _id: round, v: round }]);
    t.same(await db.collection('b').find({}).toArray(), [{ _id: round, w: round }]);
    t.equal(db.documentCacheStats().shapeTrees, 2, 'one shape trie per collection read');
    await db.dropCollection('b');
    t.equal(db.documentCacheStats().shapeTrees, 1, "the dropped collection's is gone");
    await db.dropCollection('a');
    t.equal(db.documentCacheStats().shapeTrees, 0);
  }
});

t.test('small plain documents bypass the cache; small compressed ones go through it', async (t) => {
  const db = await Bundoc.open(path.join(await tmp(t), 'db'), {
    durability: 'off',
    documentCacheBytes: 1 << 20,
  });
  t.teardown(() => db.close());
  const c = db.collection('c');
  const small = { _id: 1, v: 'x'.repeat(MIN_CACHED_BYTES - 40) };
  await c.insertOne(small);
  for (let i = 0; i < 8; i++) t.same(await c.get(1), small);
  t.same(db.documentCacheStats().hits + db.documentCacheStats().misses, 0, 'never looked up');
  // 2 KB of JSON that LZ4 stores in far fewer bytes than MIN_CACHED_BYTES
  const packed = { _id: 2, v: 'ab'.repeat(1000) };
  t.ok(encodeDocument(packed).length < MIN_CACHED_BYTES, 'stored compressed, under the size');
  await c.insertOne(packed);
  for (let i = 0; i < 8; i++) t.same(await c.get(2), packed);
  t.ok(db.documentCacheStats().hits > 0, 'the compressed document was served by the cache');
});

t.test('invalid budgets are refused', async (t) => {
  const dir = await tmp(t);
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
    await t.rejects(Bundoc.open(path.join(dir, 'x'), { documentCacheBytes: bad }), InvalidArgumentError);
    t.throws(() => Bundoc.configure({ documentCacheBytes: bad }), InvalidArgumentError);
    t.throws(() => new DocumentCache(bad), InvalidArgumentError);
  }
  t.equal(Bundoc.sharedDocumentCache, undefined, 'a refused configure changes nothing');
  const byDefault = await Bundoc.open(path.join(dir, 'default'), { durability: 'off' });
  t.equal(byDefault.documentCacheStats().bytes, 0, 'off unless asked for');
  await byDefault.close();
  const db = await Bundoc.open(path.join(dir, 'ok'), { durability: 'off', documentCacheBytes: 0 });
  await db.collection('c').insertOne({ _id: 1 });
  for (let i = 0; i < 3; i++) t.same(await db.collection('c').get(1), { _id: 1 });
  t.same(db.documentCacheStats(), { bytes: 0, usedBytes: 0, entries: 0, hits: 0, misses: 0, shapeTrees: 1 });
  await db.close();
});
