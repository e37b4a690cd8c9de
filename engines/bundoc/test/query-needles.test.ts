import fc from 'fast-check';
import t from 'tap';
import { documentJson, encodeDocument } from '../src/document/codec.js';
import { compileFilter } from '../src/query/filter.js';
import { filterNeedles, mayMatch, NeedleSieve } from '../src/query/needles.js';

// Soundness of the scan pre-check: whenever a filter matches a document, the document's stored text
// contains the byte strings the filter requires. Seeded (BUNBASE_SEED overrides); the seed is printed on failure.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// Strings JSON escapes in different ways: quotes, backslashes, control characters, lone surrogates,
// non-ASCII, and strings that are substrings of others.
const STRINGS = [
  'a',
  'ab',
  'b',
  '',
  'a"b',
  'a\\b',
  '\u0001',
  '\n',
  'é',
  '日本',
  '\ud800',
  '\udc00x',
  '😀',
  'x y',
];

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  scalar(): unknown {
    switch (this.int(5)) {
      case 0:
        return this.int(3);
      case 1:
        return null;
      case 2:
        return this.chance(0.5);
      case 3:
        return new Date(this.int(3) * 1000);
      default:
        return this.pick(STRINGS);
    }
  }
  value(depth: number): unknown {
    const k = this.int(8);
    if (depth < 3 && k === 0) return this.object(depth + 1);
    if (depth < 3 && k === 1) return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
    return this.scalar();
  }
  object(depth: number): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (const f of ['a', 'b', this.pick(STRINGS) || 'c']) if (this.chance(0.5)) o[f] = this.value(depth);
    return o;
  }
  path(): string {
    const top = this.pick(['a', 'b', 'c']);
    return this.chance(0.6) ? top : `${top}.${this.pick(['a', 'b', '0', '1'])}`;
  }
  condition(depth: number): unknown {
    const s = () => this.pick(STRINGS);
    switch (this.int(11)) {
      case 0:
        return s();
      case 1:
        return { $eq: s() };
      case 2:
        return { $in: Array.from({ length: 1 + this.int(3) }, s) };
      case 3:
        return { $in: [s(), this.scalar()] };
      case 4:
        return { $all: [s(), this.chance(0.5) ? s() : this.scalar()] };
      case 5:
        return { $ne: s() };
      case 6:
        return { $nin: [s()] };
      case 7:
        return { $not: { $eq: s() } };
      case 8:
        return depth < 2 ? { $elemMatch: { $eq: s() } } : s();
      case 9:
        return { a: s() }; // a literal object value
      default:
        return this.scalar();
    }
  }
  filter(depth: number): Record<string, unknown> {
    const f: Record<string, unknown> = {};
    const n = 1 + this.int(2);
    for (let i = 0; i < n; i++) f[this.path()] = this.condition(depth);
    if (depth < 2 && this.chance(0.3)) {
      const op = this.pick(['$and', '$or', '$nor']);
      f[op] = Array.from({ length: 1 + this.int(3) }, () => this.filter(depth + 1));
    }
    return f;
  }
}

t.test('a matching document always contains the needles of its filter', async (t) => {
  const seed = Number(process.env.BUNBASE_SEED ?? Date.now() % 1e9);
  const g = new Gen(rng(seed));
  let matches = 0;
  let skipped = 0;
  for (let i = 0; i < 20_000; i++) {
    const doc: Record<string, unknown> = { _id: i, ...g.object(0) };
    if (g.chance(0.05)) doc.pad = `${g.pick(STRINGS)}-`.repeat(400); // compressed (LZ4) documents too
    const filter = g.filter(0);
    const needles = filterNeedles(filter);
    const body = documentJson(encodeDocument(doc));
    const match = compileFilter(filter)(doc);
    const may = needles === undefined || mayMatch(body, needles);
    if (match) matches++;
    if (!may) skipped++;
    if (match && !may) {
      t.fail(
        `seed ${seed}: ${JSON.stringify(filter)} matches ${JSON.stringify(doc)} but needles ${JSON.stringify(needles)} reject it`,
      );
      return;
    }
  }
  // The generator must exercise both sides, or the property says nothing.
  t.ok(matches > 500, `matches: ${matches}`);
  t.ok(skipped > 2000, `rejected by needles: ${skipped}`);
});

t.test('needles of simple filters', async (t) => {
  const show = (n: Uint8Array[][] | undefined) =>
    n?.map((alts) => alts.map((b) => Buffer.from(b).toString()));
  t.same(show(filterNeedles({ 'address.city': 'Paris' })), [['Paris"']]);
  t.same(show(filterNeedles({ a: { $in: ['x', 'é'] }, b: { $eq: 'q"' } })), [['x"', 'é"'], ['q\\""']]);
  t.same(show(filterNeedles({ $or: [{ a: 'x' }, { b: 'y' }] })), [['x"', 'y"']]);
  t.equal(filterNeedles({ $or: [{ a: 'x' }, { b: 1 }] }), undefined, 'a branch without strings');
  t.same(show(filterNeedles({ $and: [{ a: 'x' }], b: { $all: ['p', 1] } })), [['x"'], ['p"']]);
  t.equal(filterNeedles({ a: { $ne: 'x' }, b: { $nin: ['y'] }, c: { $not: { $eq: 'z' } } }), undefined);
  t.equal(filterNeedles({ a: { $in: ['x', null] } }), undefined, '$in with null also matches missing');
  t.equal(filterNeedles({ a: { b: 'x' } }), undefined, 'literal objects are left to the matcher');
  t.equal(filterNeedles({ $nor: [{ a: 'x' }] }), undefined);
  const body = (s: string) => new Uint8Array(Buffer.from(s));
  t.ok(mayMatch(body('{"a":"x"}'), filterNeedles({ a: { $in: ['y', 'x'] } })!));
  t.notOk(mayMatch(body('{"a":"xy"}'), filterNeedles({ a: 'x' })!));
  t.ok(mayMatch(body('{"a":"日本"}'), filterNeedles({ a: '日本' })!), 'non-ASCII needle');
});

// The sieve searches ahead over the memory that follows a document (the rest of its page). Documents
// here lie in shared blocks with gaps of the same few bytes between them, so occurrences straddle their
// ends and fill the gaps; each is visited in scan order, reversed or shuffled, and must get mayMatch's
// answer.
t.test('NeedleSieve answers as mayMatch for documents laid out in shared memory', async (t) => {
  const alphabet = fc.constantFrom(...'ab"x');
  const bytes = (min: number, max: number) =>
    fc
      .array(alphabet, { minLength: min, maxLength: max, size: 'max' })
      .map((cs) => Buffer.from(cs.join(''), 'latin1'));
  const needlesArb = fc.array(fc.array(bytes(1, 4), { minLength: 1, maxLength: 2 }), {
    minLength: 1,
    maxLength: 2,
  });
  const layoutArb = fc.record({
    docs: fc.array(fc.record({ body: bytes(20, 200), gap: bytes(0, 12), block: fc.nat(2) }), {
      minLength: 10,
      maxLength: 80,
    }),
    order: fc.constantFrom('forward', 'reverse', 'shuffled'),
    seed: fc.nat(),
  });
  let visited = 0;
  let sieved = 0;
  let long = 0; // searched ahead (shorter documents are searched on their own)
  fc.assert(
    fc.property(needlesArb, layoutArb, (needles, { docs, order, seed }) => {
      // Three blocks; each document at the next offset of its block, after its gap.
      const blocks = [0, 1, 2].map(() => new ArrayBuffer(80 * 190));
      const used = [0, 0, 0];
      const views = docs.map(({ body, gap, block }) => {
        const mem = new Uint8Array(blocks[block]!);
        mem.set(gap, used[block]);
        const at = used[block]! + gap.length;
        mem.set(body, at);
        used[block] = at + body.length;
        return new Uint8Array(blocks[block]!, at, body.length);
      });
      // Fill the rest of each block too: a search ahead may run into it.
      for (let b = 0; b < 3; b++) new Uint8Array(blocks[b]!, used[b]).fill(b === 0 ? 98 : 34);
      if (order === 'reverse') views.reverse();
      if (order === 'shuffled') {
        const random = rng(seed);
        for (let i = views.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [views[i], views[j]] = [views[j]!, views[i]!];
        }
      }
      const sieve = new NeedleSieve(needles);
      for (const v of views) {
        const want = mayMatch(v, needles);
        if (sieve.mayMatch(v) !== want) return false;
        visited++;
        if (!want) sieved++;
        if (v.length >= 65) long++;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.ok(visited > 20_000, `${visited} documents compared`);
  t.ok(long > 10_000, `${long} of them long enough to search ahead`);
  t.ok(sieved > 2000, `${sieved} rejected`);
});

t.test('NeedleSieve searches again past the end of what it searched ahead', async (t) => {
  const mem = Buffer.alloc(10_000, 'a');
  mem.write('zz', 4250, 'latin1');
  const needles = [[Buffer.from('zz')]];
  const sieve = new NeedleSieve(needles);
  t.notOk(sieve.mayMatch(mem.subarray(0, 100)), 'no needle in the first document or 4 KiB after it');
  t.ok(sieve.mayMatch(mem.subarray(4000, 4300)), 'a document running past that window');
  t.notOk(sieve.mayMatch(mem.subarray(4252, 4400)));
  t.ok(sieve.mayMatch(mem.subarray(4100, 4252)), 'out of order: searched on its own');
  t.notOk(sieve.mayMatch(mem.subarray(4100, 4251)), 'an occurrence must lie wholly inside');
});
