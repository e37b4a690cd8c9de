import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { Storage, ValueRange } from '../src/storage/index.js';
import type { RangeOptions } from '../src/storage/validate.js';

// Transaction.eachView (the callback scan behind document scans) against rangeViews (the iterator):
// the same entries in the same order for any bounds, direction and limit, stopping where the visit
// says, over a tree with snapshot versions (writes after the reader began) and the reader's own writes,
// and, for a reader that began after every write, straight from the tree (Storage.eachAt).

const key = (i: number) => Buffer.from(`k${String(i).padStart(4, '0')}`);
const str = (b: Uint8Array) => Buffer.from(b).toString('latin1');
// The sieve of some scans: judges a value by its content, so it must be handed exactly the value's bytes.
const keep = (v: string) => v.charCodeAt(v.length - 1) % 3 !== 0;
// Some values overflow their leaf (stored on pages of their own).
const value = (prefix: string, i: number) =>
  Buffer.from(i % 37 === 0 ? `${prefix}${i}`.repeat(900) : `${prefix}${i}`);

t.test('eachView visits what rangeViews yields, in order, and stops when told', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-each-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Small pages: a few hundred keys span many leaves and scan batches.
  const st = await Storage.open(dir, { durability: 'off', checkpointIntervalMs: 0, pageSize: 4096 });
  t.teardown(() => st.close());
  // Counts the scans served straight from the tree.
  let direct = 0;
  const eachAt = st.eachAt.bind(st);
  st.eachAt = (...args) => {
    const walked = eachAt(...args);
    if (walked) direct++;
    return walked;
  };
  let checked = 0;
  const boundArb = fc.option(fc.integer({ min: -5, max: 1205 }), { nil: undefined });
  const optsArb = fc.record({
    lo: boundArb,
    loInclusive: fc.boolean(),
    hi: boundArb,
    hiInclusive: fc.boolean(),
    reverse: fc.boolean(),
    limit: fc.option(fc.integer({ min: 0, max: 700 }), { nil: undefined }),
    stopAt: fc.option(fc.integer({ min: 0, max: 800 }), { nil: undefined }),
    sieve: fc.boolean(),
    // keys false: a visitor of values only (keys may come as empty arrays): the same values
    keys: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 50, maxLength: 900 }),
      fc.array(fc.integer({ min: 0, max: 1200 }), { maxLength: 200 }),
      fc.array(fc.integer({ min: 0, max: 1200 }), { maxLength: 60 }),
      fc.array(optsArb, { minLength: 1, maxLength: 8 }),
      async (base, later, own, ranges) => {
        const tree = `t${checked}`;
        await st.transaction((tx) => {
          for (const i of base) tx.put(tree, key(i), value('v', i));
        });
        // Written leaves are packed (read in their pages); the later writes unpack some again.
        if (checked % 2 === 0) await st.checkpoint();
        const reader = st.begin();
        // Changes after the reader's snapshot: it must see the versions from before them.
        await st.transaction((tx) => {
          for (const i of later) {
            if (i % 3 === 0) tx.delete(tree, key(i));
            else tx.put(tree, key(i), value('w', i));
          }
        });
        for (const i of own) {
          if (i % 4 === 0) reader.delete(tree, key(i));
          else reader.put(tree, key(i), value('o', i));
        }
        // Began after every write, while the first reader still holds versions: no own writes, nothing
        // changed since its snapshot.
        const late = st.begin();
        for (const r of ranges) {
          const opts: RangeOptions = { reverse: r.reverse };
          if (r.lo !== undefined) opts[r.loInclusive ? 'gte' : 'gt'] = key(r.lo);
          if (r.hi !== undefined) opts[r.hiInclusive ? 'lte' : 'lt'] = key(r.hi);
          if (r.limit !== undefined) opts.limit = r.limit;
          for (const tx of [reader, late]) {
            let want = [...tx.rangeViews(tree, opts)].map(([k, v]) => `${str(k)}=${str(v)}`);
            if (r.sieve) {
              // Only the entries the sieve accepts are visited, and count towards the limit.
              const all = [...tx.rangeViews(tree, { ...opts, limit: undefined })];
              want = all.filter(([, v]) => keep(str(v))).map(([k, v]) => `${str(k)}=${str(v)}`);
              if (opts.limit !== undefined) want = want.slice(0, opts.limit);
            }
            const got: string[] = [];
            tx.eachView(
              tree,
              opts,
              (k, v) => {
                got.push(r.keys ? `${str(k)}=${str(v)}` : `=${str(v)}`);
                return r.stopAt === undefined || got.length <= r.stopAt;
              },
              r.sieve ? (b, start, end) => keep(str(b.subarray(start, end))) : undefined,
              r.keys,
            );
            if (!r.keys) want = want.map((e) => e.slice(e.indexOf('=')));
            const expected = r.stopAt === undefined ? want : want.slice(0, r.stopAt + 1);
            if (JSON.stringify(got) !== JSON.stringify(expected)) {
              t.same(got, expected, `range ${JSON.stringify(r)} (${tx === late ? 'late' : 'first'} reader)`);
              return false;
            }
            checked++;
          }
        }
        reader.abort();
        late.abort();
        return true;
      },
    ),
    { numRuns: 60 },
  );
  t.ok(checked >= 120, `${checked} ranges compared`);
  t.ok(direct >= 60, `${direct} scans straight from the tree`);
});

t.test('getRange points at exactly the bytes getView returns, for every kind of read', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-getrange-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const st = await Storage.open(dir, { durability: 'off', checkpointIntervalMs: 0, pageSize: 4096 });
  t.teardown(() => st.close());
  const out = new ValueRange();
  let compared = 0;
  let packed = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 20, maxLength: 500 }),
      fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 60 }),
      fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 40 }),
      fc.boolean(),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 30 }),
      async (base, later, own, checkpoint, quiet, replace) => {
        const tree = `g${compared}`;
        await st.transaction((tx) => {
          for (const i of base) tx.put(tree, key(i), value('v', i));
        });
        // Checkpointed leaves are read in their pages (ranges of the page); the others hold views.
        if (checkpoint) await st.checkpoint();
        // Values replaced, nothing inserted or deleted: a packed leaf stays packed, patched (LeafNode).
        await st.transaction((tx) => {
          for (const j of replace) {
            const i = base[j % base.length]!;
            tx.put(tree, key(i), value(j % 2 === 0 ? 'r' : 'longer replacement', i));
          }
        });
        const reader = st.begin();
        // `quiet`: no later writes, so checkpointed leaves stay packed.
        await st.transaction((tx) => {
          for (const i of quiet ? [] : later) {
            if (i % 3 === 0) tx.delete(tree, key(i));
            else tx.put(tree, key(i), value('w', i));
          }
        });
        for (const i of own) {
          if (i % 4 === 0) reader.delete(tree, key(i));
          else reader.put(tree, key(i), value('o', i));
        }
        const late = st.begin();
        for (const tx of [reader, late]) {
          for (let i = -1; i <= 601; i++) {
            const view = tx.getView(tree, key(i));
            const found = tx.getRange(tree, key(i), out);
            const got = found ? str(out.buf.subarray(out.start, out.end)) : undefined;
            const want = view === undefined ? undefined : str(view);
            if (got !== want || (found && out.overflow !== undefined)) {
              t.equal(got, want, `key ${i} (${tx === late ? 'late' : 'first'} reader)`);
              return false;
            }
            if (found && out.end - out.start < out.buf.length) packed++;
            compared++;
          }
        }
        reader.abort();
        late.abort();
        return true;
      },
    ),
    { numRuns: 40 },
  );
  t.ok(compared >= 40 * 2 * 603, `${compared} reads compared`);
  t.ok(packed > 100, `${packed} values read as a range of a larger buffer (a page)`);
  // Absent tree, bad arguments: as getView.
  const tx = st.begin();
  t.equal(tx.getRange('no-such-tree', key(1), out), false);
  t.throws(() => tx.getRange('', key(1), out));
  tx.abort();
});
