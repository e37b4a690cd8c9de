import fc from 'fast-check';
import t from 'tap';
import { seededRandom, shuffledIndexes } from '../src/rng.js';
import { percentile, Samples } from '../src/stats.js';

t.test('percentile is the nearest-rank value', async (t) => {
  t.ok(Number.isNaN(percentile([], 50)));
  t.equal(percentile([7], 99), 7);
  t.equal(percentile([1, 2, 3, 4], 50), 2);
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  fc.assert(
    fc.property(
      fc.array(fc.double({ noNaN: true }), { minLength: 1 }),
      fc.integer({ min: 1, max: 100 }),
      (xs, p) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const v = percentile(sorted, p);
        const below = sorted.filter((x) => x <= v).length;
        return below / sorted.length >= p / 100 && sorted.includes(v);
      },
    ),
  );
});

t.test('Samples keeps every sample across chunk boundaries, sorted', async (t) => {
  const s = new Samples();
  const n = 65536 * 2 + 17;
  for (let i = n; i > 0; i--) s.add(i);
  t.equal(s.count, n);
  const sorted = s.sorted();
  t.equal(sorted.length, n);
  t.equal(sorted[0], 1);
  t.equal(sorted[n - 1], n);
  t.ok(sorted.every((v, i) => i === 0 || sorted[i - 1]! <= v));
});

t.test('seeded random is reproducible and shuffles are permutations', async (t) => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const xs = Array.from({ length: 5 }, () => a());
  t.same(
    xs,
    Array.from({ length: 5 }, () => b()),
  );
  t.ok(xs.every((x) => x >= 0 && x < 1));
  const p = shuffledIndexes(1000, seededRandom(1));
  t.same(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
});
