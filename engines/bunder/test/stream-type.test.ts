/**
 * Model tests of the stream data structures (fast-check, seeded; the seed is printed on failure):
 * IdIndex against a sorted array (enough operations to split and empty many chunks), and Stream
 * against a plain array of entries through appends, deletions, exact and approximate trims, range
 * reads in both directions, point lookups and the first/last bookkeeping.
 */
import fc from 'fast-check';
import t from 'tap';
import { cmpId, IdIndex, MAX_ID, MIN_ID, Stream, type StreamID } from '../src/types/stream.js';

const SEED = Number(process.env.BUNDER_PROP_SEED ?? 20261130);
const RUNS = Number(process.env.BUNDER_PROP_RUNS ?? 60);

const arbId = fc.record({
  ms: fc.oneof(fc.bigInt({ min: 0n, max: 40n }), fc.constant(2n ** 64n - 1n)),
  seq: fc.bigInt({ min: 0n, max: 30n }),
});

const key = (id: StreamID) => `${id.ms}-${id.seq}`;

t.test('IdIndex behaves as a sorted map', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), id: arbId, v: fc.integer() }),
    fc.record({ kind: fc.constant('delete' as const), id: arbId }),
    fc.record({ kind: fc.constant('ceiling' as const), id: arbId }),
    fc.record({ kind: fc.constant('range' as const), a: arbId, b: arbId }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 200, maxLength: 2500 }), (ops) => {
      const idx = new IdIndex<number>();
      const model = new Map<string, { id: StreamID; v: number }>();
      const sorted = () => [...model.values()].sort((x, y) => cmpId(x.id, y.id));
      for (const o of ops) {
        if (o.kind === 'set') {
          idx.set(o.id, o.v);
          model.set(key(o.id), { id: o.id, v: o.v });
        } else if (o.kind === 'delete') {
          if (idx.delete(o.id) !== model.delete(key(o.id))) return false;
        } else if (o.kind === 'ceiling') {
          const got = idx.ceiling(o.id);
          const want = sorted().find((e) => cmpId(e.id, o.id) >= 0);
          if (key(got?.[0] ?? MIN_ID) !== key(want?.id ?? MIN_ID) || got?.[1] !== want?.v) return false;
        } else {
          const got = [...idx.range(o.a, o.b)].map(([id, v]) => `${key(id)}=${v}`);
          const want = sorted()
            .filter((e) => cmpId(e.id, o.a) >= 0 && cmpId(e.id, o.b) <= 0)
            .map((e) => `${key(e.id)}=${e.v}`);
          if (got.join() !== want.join()) return false;
        }
        if (idx.size !== model.size) return false;
      }
      const all = sorted();
      return (
        key(idx.first()?.[0] ?? MIN_ID) === key(all[0]?.id ?? MIN_ID) &&
        key(idx.last()?.[0] ?? MIN_ID) === key(all[all.length - 1]?.id ?? MIN_ID) &&
        [...idx.range()].length === all.length
      );
    }),
    { seed: SEED, numRuns: RUNS },
  );
  t.pass('IdIndex matches the model');
});

type StreamOp =
  | { kind: 'append'; n: number; size: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'trim'; maxlen: number; approx: boolean; limit: number }
  | { kind: 'minid'; pick: number; approx: boolean }
  | { kind: 'range'; a: number; b: number; rev: boolean };

t.test('Stream matches an array model', async (t) => {
  const op: fc.Arbitrary<StreamOp> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('append' as const),
        n: fc.integer({ min: 1, max: 60 }),
        size: fc.constantFrom(1, 10, 300, 2000),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('trim' as const),
        maxlen: fc.nat({ max: 400 }),
        approx: fc.boolean(),
        limit: fc.constantFrom(0, 0, 50, 250),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('minid' as const), pick: fc.nat(), approx: fc.boolean() }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('range' as const),
        a: fc.nat(),
        b: fc.nat(),
        rev: fc.boolean(),
      }),
    },
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 10, maxLength: 120 }), (ops) => {
      const s = new Stream();
      let model: StreamID[] = [];
      let clock = 0n;
      const idAt = (pick: number): StreamID =>
        model.length ? model[pick % model.length]! : { ms: clock, seq: 0n };
      for (const o of ops) {
        if (o.kind === 'append') {
          for (let i = 0; i < o.n; i++) {
            clock += BigInt(i % 3);
            const id = { ms: clock, seq: BigInt(i) };
            if (cmpId(id, s.lastId) <= 0) continue;
            s.append(id, ['f', 'x'.repeat(o.size), ...(i % 4 === 0 ? ['g', '1'] : [])]);
            model.push(id);
          }
        } else if (o.kind === 'delete') {
          const id = idAt(o.pick);
          const had = model.some((m) => cmpId(m, id) === 0);
          if (s.delete(id) !== had) return false;
          model = model.filter((m) => cmpId(m, id) !== 0);
        } else if (o.kind === 'trim' || o.kind === 'minid') {
          const before = model.length;
          const minid = o.kind === 'minid' ? idAt(o.pick) : MIN_ID;
          const exactWould =
            o.kind === 'trim'
              ? Math.max(0, before - o.maxlen)
              : model.filter((m) => cmpId(m, minid) < 0).length;
          const removed = s.trim({
            strategy: o.kind === 'trim' ? 'maxlen' : 'minid',
            maxlen: o.kind === 'trim' ? o.maxlen : 0,
            minid,
            approx: o.approx,
            limit: o.kind === 'trim' ? o.limit : 0,
          });
          // Trimming only ever removes a prefix, never more than the exact trim would.
          if (
            removed > exactWould ||
            (!o.approx && (o.kind === 'minid' || !o.limit) && removed !== exactWould)
          )
            return false;
          model = model.slice(removed);
        } else {
          const a = idAt(o.a);
          const b = idAt(o.b);
          const got = [...s.range(a, b, o.rev)].map((e) => key(e.id));
          const want = model.filter((m) => cmpId(m, a) >= 0 && cmpId(m, b) <= 0).map(key);
          if (o.rev) want.reverse();
          if (got.join() !== want.join()) return false;
        }
        if (s.length !== model.length) return false;
        if (key(s.edge(true)?.id ?? MIN_ID) !== key(model[0] ?? MIN_ID)) return false;
        if (key(s.lastValidId()) !== key(model[model.length - 1] ?? MIN_ID)) return false;
      }
      const all = [...s.range(MIN_ID, MAX_ID)].map((e) => key(e.id));
      const back = [...s.range(MIN_ID, MAX_ID, true)].map((e) => key(e.id)).reverse();
      return (
        all.join() === model.map(key).join() && back.join() === all.join() && model.every((m) => s.get(m))
      );
    }),
    { seed: SEED, numRuns: RUNS },
  );
  t.pass('Stream matches the model');
});

t.test('range seeks stay fast on a large stream', async (t) => {
  const s = new Stream();
  const n = 200_000;
  for (let i = 1; i <= n; i++) s.append({ ms: BigInt(i), seq: 0n }, ['v', String(i)]);
  const started = performance.now();
  let seen = 0;
  for (let i = 0; i < 20_000; i++) {
    const at = BigInt(1 + ((i * 7919) % n));
    for (const e of s.range({ ms: at, seq: 0n }, MAX_ID)) {
      seen += e.fields.length;
      break;
    }
  }
  const ms = performance.now() - started;
  t.equal(seen, 40_000);
  t.ok(ms < 2000, `20k seeks into ${n} entries took ${ms.toFixed(0)} ms`);
  t.equal(s.nodeCount, n / 100, 'nodes hold 100 entries each');
  const trimStart = performance.now();
  const removed = s.trim({ strategy: 'maxlen', maxlen: 10, minid: MIN_ID, approx: false, limit: 0 });
  t.equal(removed, n - 10);
  t.equal(s.length, 10);
  t.ok(performance.now() - trimStart < 500, 'trimming 2000 nodes at once is linear');
});

t.test('IdIndex stays fast with many IDs that share a sequence number', async (t) => {
  const idx = new IdIndex<number>();
  const n = 100_000;
  const started = performance.now();
  for (let i = 0; i < n; i++) idx.set({ ms: BigInt(i), seq: 0n }, i);
  let found = 0;
  for (let i = 0; i < n; i++) if (idx.get({ ms: BigInt(i), seq: 0n }) === i) found++;
  for (let i = 0; i < n; i += 2) idx.delete({ ms: BigInt(i), seq: 0n });
  const ms = performance.now() - started;
  t.equal(found, n);
  t.equal(idx.size, n / 2);
  t.same(idx.ceiling({ ms: 10n, seq: 1n })?.[0], { ms: 11n, seq: 0n });
  t.ok(ms < 3000, `${n} inserts, lookups and ${n / 2} deletes took ${ms.toFixed(0)} ms`);
});
