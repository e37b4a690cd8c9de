import fc from 'fast-check';
import t from 'tap';
import {
  compareBytes,
  compareStrings,
  compareValues,
  type Direction,
  decodeCompoundKey,
  decodeKey,
  encodeCompoundKey,
  encodeKey,
  KeyEncodingError,
  MaxKey,
  MinKey,
} from '../src/keys/index.js';

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
// Inside properties a throw (not a tap assertion per run) reports the counterexample fast-check shrank.
function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

// Strings mix ASCII, NUL, BMP, astral and lone surrogates: the cases where UTF-16 and code point order differ.
const tricky = fc.constantFrom(
  '',
  '\0',
  '\0\0',
  'a',
  'a\0',
  'ab',
  '\uffff',
  '\ud800',
  '\udc00',
  '\u{1f600}',
  'é',
);
const str = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.string({ unit: fc.constantFrom('\0', 'a', '\ud83d', '\ude00', '\ue000'), maxLength: 4 }),
  tricky,
);
const num = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1, -1, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE),
  fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN),
);
const scalar = fc.oneof(
  num,
  str,
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 4 }),
  fc.constantFrom(MinKey, MaxKey),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom('a', 'b', '', '\0', 'a\0', 'ü'), tie('value'), { maxKeys: 3 }),
}));

t.test('byte order of encodings agrees with the reference comparator', async (t) => {
  fc.assert(
    fc.property(value, value, (a, b) => {
      expect(sign(compareBytes(encodeKey(a), encodeKey(b))) === sign(compareValues(a, b)), 'order differs');
    }),
    { numRuns: 5000 },
  );
  t.pass('5000 random pairs agree');
});

t.test('keys decode to a value equal to the original', async (t) => {
  fc.assert(
    fc.property(value, (a) => {
      const back = decodeKey(encodeKey(a));
      expect(compareValues(back, a) === 0, 'decoded value differs');
      expect(compareBytes(encodeKey(back), encodeKey(a)) === 0, 're-encoding differs');
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random values round-trip');
});

t.test('compound keys honour per-field direction and decode back', async (t) => {
  const dirs = fc.array(fc.constantFrom<Direction>(1, -1), { minLength: 1, maxLength: 3 });
  fc.assert(
    fc.property(
      dirs.chain((d) =>
        fc.tuple(
          fc.constant(d),
          fc.array(value, { minLength: d.length, maxLength: d.length }),
          fc.array(value, { minLength: d.length, maxLength: d.length }),
        ),
      ),
      ([d, a, b]) => {
        let expected = 0;
        for (let i = 0; i < d.length && expected === 0; i++)
          expected = sign(compareValues(a[i], b[i])) * d[i]!;
        const ka = encodeCompoundKey(a, d);
        expect(sign(compareBytes(ka, encodeCompoundKey(b, d))) === expected, 'compound order differs');
        const back = decodeCompoundKey(ka, d);
        for (let i = 0; i < d.length; i++) expect(compareValues(back[i], a[i]) === 0, 'component differs');
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('2000 random compound pairs agree');
});

t.test('the documented type order and number/string details', async (t) => {
  const ordered = [
    MinKey,
    null,
    Number.NaN,
    Number.NEGATIVE_INFINITY,
    -1e300,
    -1,
    -Number.MIN_VALUE,
    0,
    Number.MIN_VALUE,
    1,
    2 ** 53,
    Number.POSITIVE_INFINITY,
    '',
    '\0',
    'a',
    '\ud800',
    '\uffff',
    '\u{10000}',
    {},
    { a: 1 },
    [],
    [1],
    new Uint8Array([9]),
    new Uint8Array([0, 0]),
    false,
    true,
    new Date(-1),
    new Date(0),
    MaxKey,
  ];
  for (let i = 0; i + 1 < ordered.length; i++) {
    t.equal(compareValues(ordered[i], ordered[i + 1]), -1, `${i}`);
    t.equal(compareBytes(encodeKey(ordered[i]), encodeKey(ordered[i + 1])), -1, `bytes ${i}`);
  }
  t.equal(compareValues(-0, 0), 0);
  t.same(encodeKey(-0), encodeKey(0));
  t.same(encodeKey(undefined), encodeKey(null), 'missing indexes as null');
  t.equal(compareStrings('\uffff', '\u{10000}'), -1, 'code point order, not UTF-16 order');
  t.equal(compareValues({ a: 1, b: 2 }, { b: 2, a: 1 }) !== 0, true, 'field order matters');
  t.equal(compareValues({ a: 'x' }, { b: 1 }), 1, 'value type is compared before the field name');
});

t.test('bad input gives typed errors', async (t) => {
  t.throws(() => encodeKey(() => 1), KeyEncodingError);
  t.throws(() => encodeKey(new Map()), KeyEncodingError);
  t.throws(() => encodeKey(10n), KeyEncodingError);
  t.throws(() => encodeKey(new Date(Number.NaN)), KeyEncodingError);
  let deep: unknown = 1;
  for (let i = 0; i < 200; i++) deep = [deep];
  t.throws(() => encodeKey(deep), KeyEncodingError);
  t.throws(() => decodeKey(new Uint8Array([0x10, 0x61])), KeyEncodingError);
  t.throws(() => decodeKey(new Uint8Array([0x99])), KeyEncodingError);
  t.throws(() => decodeKey(new Uint8Array([0x06, 0x06])), KeyEncodingError);
  t.throws(() => encodeCompoundKey([1], [1, -1]), KeyEncodingError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      try {
        decodeKey(bytes);
      } catch (e) {
        expect(e instanceof KeyEncodingError, `untyped error ${e}`);
      }
    }),
    { numRuns: 2000 },
  );
  t.pass('random bytes decode or fail with KeyEncodingError');
});
