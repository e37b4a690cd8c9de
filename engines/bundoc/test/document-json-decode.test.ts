import fc from 'fast-check';
import t from 'tap';
import { DecodeShapes, decodeJson, jsonDecodeStats } from '../src/document/json-decode.js';

// decodeJson must return exactly what JSON.parse returns for the bytes decoded as UTF-8 (strictly), or
// throw the same kind of error: differential against JSON.parse, over valid JSON, mutated JSON and
// bytes, and the cases where a literal-built object could differ (__proto__, repeated keys, integer
// keys, -0, long numbers).

const stress = process.env.BUNBASE_STRESS === '1';
const seed = process.env.BUNBASE_SEED === undefined ? undefined : Number(process.env.BUNBASE_SEED);
const params = (numRuns: number) => ({ numRuns: stress ? numRuns * 10 : numRuns, ...(seed ? { seed } : {}) });

/** Why a and b differ (key order, -0, prototypes and own "__proto__" fields included), or null. */
function difference(a: unknown, b: unknown, path = '$'): string | null {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (a === null || b === null || typeof a !== 'object') {
    return Object.is(a, b) ? null : `${path}: ${String(a)} vs ${String(b)}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: prototypes differ`;
  if (Array.isArray(a)) {
    const y = b as unknown[];
    if (a.length !== y.length) return `${path}: length ${a.length} vs ${y.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = difference(a[i], y[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const kx = Object.keys(x);
  const ky = Object.keys(y);
  if (kx.join('\0') !== ky.join('\0')) return `${path}: keys ${JSON.stringify(kx)} vs ${JSON.stringify(ky)}`;
  for (const k of kx) {
    const dx = Object.getOwnPropertyDescriptor(x, k)!;
    const dy = Object.getOwnPropertyDescriptor(y, k)!;
    if (
      dx.writable !== dy.writable ||
      dx.configurable !== dy.configurable ||
      dx.enumerable !== dy.enumerable
    ) {
      return `${path}.${k}: property attributes differ`;
    }
    const d = difference(dx.value, dy.value, `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Outcome = { value: unknown } | { error: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { value: f() };
  } catch (e) {
    return { error: (e as Error).constructor.name };
  }
}

/** Decodes bytes[start, end) both ways; throws describing any difference. */
function check(bytes: Uint8Array, start = 0, end = bytes.length): void {
  const text = outcome(() => strictUtf8.decode(bytes.subarray(start, end)));
  const expected = 'error' in text ? text : outcome(() => JSON.parse(text.value as string));
  // Three times: built field by field, then by the shape's compiled constructor, made and kept.
  for (let round = 0; round < 3; round++) {
    const got = outcome(() => decodeJson(bytes, start, end));
    if ('error' in expected || 'error' in got) {
      if ('error' in expected && 'error' in got && got.error === expected.error) continue;
      throw new Error(
        `${JSON.stringify(text)}: JSON.parse ${JSON.stringify(expected)}, decodeJson ${JSON.stringify(got)}`,
      );
    }
    const d = difference(got.value, expected.value);
    if (d) throw new Error(`${JSON.stringify(text)}: ${d}`);
  }
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

t.test('valid JSON: the same value as JSON.parse', async (t) => {
  const gaveUp = jsonDecodeStats.gaveUp;
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      check(utf8(JSON.stringify(v)));
    }),
    params(3000),
  );
  // All of Unicode, lone surrogates included (JSON.stringify escapes those).
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), (v) => {
      check(utf8(JSON.stringify(v)));
    }),
    params(2000),
  );
  t.equal(jsonDecodeStats.gaveUp, gaveUp, 'what JSON.stringify writes never leaves the fast path');
  t.pass('checked');
});

t.test('documents of one shape, then of shapes that share prefixes', async (t) => {
  const shape = fc.record(
    {
      _id: fc.string({ maxLength: 12 }),
      name: fc.string(),
      age: fc.integer(),
      score: fc.double({ noNaN: true, noDefaultInfinity: true }),
      tags: fc.array(fc.constantFrom('a', 'b', 'vip'), { maxLength: 3 }),
      address: fc.record({ city: fc.string(), zip: fc.string() }, { requiredKeys: [] }),
      active: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.array(shape, { minLength: 1, maxLength: 20 }), (docs) => {
      for (const d of docs) check(utf8(JSON.stringify(d)));
    }),
    params(500),
  );
  t.pass('checked');
});

const alphabet = '{}[]":,0123456789.eE+- \\/utfnrlsa\u0001\u007f\u00e9\u20ac\ud83d\ude00x';

t.test('decimal numbers: the fast path rounds as JSON.parse does', async (t) => {
  const gaveUp = jsonDecodeStats.gaveUp;
  // Digits, a point placed anywhere in them (leading zeros included), a sign; 15 digits or fewer take
  // the division, more go to Number().
  const decimal = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.nat(20), fc.boolean(), fc.nat(3))
    .map(([m, f, negative, zeros]) => {
      let digits = '0'.repeat(zeros) + m.toString();
      if (f > 0) {
        digits = digits.padStart(f + 1, '0');
        digits = `${digits.slice(0, digits.length - f)}.${digits.slice(digits.length - f)}`;
      }
      digits = digits.replace(/^0+(?=\d)/, ''); // JSON allows no leading zeros
      return (negative ? '-' : '') + digits;
    });
  fc.assert(
    fc.property(fc.array(decimal, { minLength: 1, maxLength: 20 }), (xs) => {
      check(utf8(`[${xs.join(',')}]`));
      check(utf8(`{"x":${xs[0]},"y":[${xs.join(',')}]}`));
    }),
    params(3000),
  );
  for (const x of [
    '0.1',
    '0.2',
    '0.3',
    '6247.45',
    '-0.0',
    '-0',
    '0.000000000000001',
    '999999999999999',
    '99999999999999.9',
  ]) {
    check(utf8(`[${x}]`));
  }
  t.equal(jsonDecodeStats.gaveUp, gaveUp, 'no number left the fast path');
});

t.test('mutated JSON: the same value or the same error as JSON.parse', async (t) => {
  const mutation = fc.record({
    at: fc.nat(),
    op: fc.constantFrom('replace', 'insert', 'delete', 'truncate'),
    char: fc.constantFrom(...alphabet),
  });
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 4 }),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      (v, ms) => {
        let s = JSON.stringify(v);
        for (const m of ms) {
          const at = s.length === 0 ? 0 : m.at % (s.length + 1);
          if (m.op === 'replace') s = s.slice(0, at) + m.char + s.slice(at + 1);
          else if (m.op === 'insert') s = s.slice(0, at) + m.char + s.slice(at);
          else if (m.op === 'delete') s = s.slice(0, at) + s.slice(at + 1);
          else s = s.slice(0, at);
        }
        check(utf8(s));
      },
    ),
    params(5000),
  );
  t.pass('checked');
});

t.test('mutated bytes: any byte anywhere, invalid UTF-8 included', async (t) => {
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
      fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
      (v, ms) => {
        const bytes = utf8(JSON.stringify(v));
        for (const m of ms) bytes[m.at % bytes.length] = m.byte;
        check(bytes);
      },
    ),
    params(5000),
  );
  const invalid = [
    [0xc0, 0x80], // overlong NUL
    [0xe0, 0x80, 0x80], // overlong
    [0xed, 0xa0, 0x80], // UTF-16 surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xe2, 0x82], // truncated
    [0x80], // lone continuation
    [0xef, 0xbb, 0xbf], // a BOM inside a string: valid, kept
  ];
  for (const seq of invalid) {
    for (const [before, after] of [
      ['{"a":"', '"}'],
      ['{"a":"x\\n', 'y"}'],
      ['{"', '":1}'],
      ['["', '\\u0041"]'],
    ]) {
      check(Buffer.concat([utf8(before!), Buffer.from(seq), utf8(after!)]));
    }
  }
  check(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('{"a":1}')])); // a BOM before the text
  t.pass('checked');
});

t.test('a range of a larger array: nothing past the end is read into the value', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.jsonValue({ maxDepth: 2 }), (v, cut, after) => {
      const s = JSON.stringify(v);
      const bytes = utf8(`x${s}${JSON.stringify(after)}`);
      check(bytes, 1, 1 + (cut % (s.length + 1)));
      check(bytes, 1, 1 + s.length);
    }),
    params(2000),
  );
  t.pass('checked');
});

t.test('cases where building objects differs from JSON.parse', async (t) => {
  const cases = [
    '{"__proto__":{"polluted":true},"a":1}',
    '{"a":1,"__proto__":[1,2]}',
    '{"__proto__":null}',
    '{"constructor":1,"toString":2,"hasOwnProperty":3,"valueOf":{"x":1}}',
    '{"a":1,"b":2,"a":3}',
    '{"a":1,"a":{"b":1},"a":[]}',
    '{"b":1,"2":2,"a":3,"1":4,"4294967295":5,"-1":6,"01":7}',
    '[-0,0,-0.0,1e400,-1e400,1e-400,123456789012345,1234567890123456,12345678901234567890,-999999999999999]',
    '[0.1,1.5e3,1E+2,2e-2,9007199254740993,-9007199254740993,1.7976931348623157e308,5e-324]',
    '["\\"","\\\\","\\/","\\b\\f\\n\\r\\t","\\u0041\\u00e9\\ud83d\\ude00","\\ud800","x\\u0000y","\\uDFFF\\uD800"]',
    '{"k\\u0065y":1,"key":2}',
    '["123456789abcdef","123456789abcdefg","123456789abcdefgh",""]',
    '{}',
    '[]',
    '[{},[],{"":""},[[]]]',
    '{"":1,"":2}',
    'true',
    'null',
    '"s"',
    '12',
    ' {"a":1}',
    '{"a":1} ',
    '{"a" :1}',
    '01',
    '-',
    '1.',
    '.5',
    '1e',
    '+1',
    'tru',
    'nul',
    'falsey',
    '{"a":1,}',
    '[1,]',
    '"\\x"',
    '"\\u12"',
    '"\\u12G4"',
    '"a\u0001"',
    '"a\u007f"',
    '',
  ];
  for (const c of cases) check(utf8(c));
  const proto = decodeJson(utf8('{"__proto__":{"polluted":true}}'), 0, 31) as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(proto), Object.prototype, '"__proto__" is an own field, not the prototype');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  t.pass('checked');
});

t.test('deep nesting and wide objects go to JSON.parse; many shapes do not', async (t) => {
  check(utf8(`${'['.repeat(500)}1${']'.repeat(500)}`));
  check(utf8(`${'{"a":'.repeat(300)}1${'}'.repeat(300)}`));
  const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, i]));
  check(utf8(JSON.stringify(wide)));
  // More shapes than the table holds: it starts over, and every document still takes the fast path.
  const { gaveUp, restarts } = jsonDecodeStats;
  for (let i = 0; i < 12_000; i++) check(utf8(`{"k${i}":${i},"x":[{"k${i}":true,"__proto__":${i}}]}`));
  check(utf8('{"k1":2,"x":[{"k1":false}]}'));
  t.ok(jsonDecodeStats.restarts > restarts, 'the shape table started over');
  t.equal(jsonDecodeStats.gaveUp, gaveUp, 'no document left the fast path');
});

t.test('wide objects take the fast path up to 1000 fields', async (t) => {
  const gaveUp = jsonDecodeStats.gaveUp;
  for (const n of [65, 300, 1000]) {
    const wide = Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${n}_${i}`, i % 2 ? i : { i }]));
    check(utf8(JSON.stringify(wide)));
  }
  t.equal(jsonDecodeStats.gaveUp, gaveUp, 'on the fast path');
  const wider = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`x${i}`, i]));
  check(utf8(JSON.stringify(wider)));
  t.ok(jsonDecodeStats.gaveUp > gaveUp, '1001 fields: JSON.parse');
});

t.test('a context whose every object is a new shape is left to JSON.parse', async (t) => {
  // Keys made of ids: each document's "counts" is a shape never seen before.
  const { dynamic, gaveUp } = jsonDecodeStats;
  for (let i = 0; i < 300; i++) {
    const counts = Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`id${i * 5 + k}`, k]));
    const text = JSON.stringify({ _id: i, kind: 'counter', counts });
    const got = decodeJson(utf8(text), 0, Buffer.byteLength(text));
    const d = difference(got, JSON.parse(text));
    if (d) throw new Error(`${text}: ${d}`);
  }
  t.ok(jsonDecodeStats.dynamic > dynamic, 'judged dynamic');
  t.ok(jsonDecodeStats.gaveUp - gaveUp > 150, `and given up on (${jsonDecodeStats.gaveUp - gaveUp})`);
  // Documents of one shape, in a context of their own, stay on the fast path.
  const before = jsonDecodeStats.gaveUp;
  for (let i = 0; i < 300; i++) check(utf8(JSON.stringify({ item: { sku: `s${i}`, qty: i, tags: ['a'] } })));
  t.equal(jsonDecodeStats.gaveUp, before, 'a regular shape is not judged dynamic');
});

t.test('collections with shapes of their own: one whose keys are ids is judged alone', async (t) => {
  const ids = new DecodeShapes();
  const users = new DecodeShapes();
  const decodeIn = (shapes: DecodeShapes, text: string) => {
    const got = decodeJson(utf8(text), 0, Buffer.byteLength(text), shapes);
    const d = difference(got, JSON.parse(text));
    if (d) throw new Error(`${text}: ${d}`);
  };
  const user = (i: number) => JSON.stringify({ _id: `u${i}`, name: `n${i}`, age: i % 90, tags: ['a', 'b'] });
  // Interleaved: a document whose top-level keys are ids, then a regular one.
  const { dynamic, gaveUp } = jsonDecodeStats;
  for (let i = 0; i < 300; i++) {
    decodeIn(ids, JSON.stringify(Object.fromEntries([0, 1, 2, 3].map((k) => [`id${i * 4 + k}`, { n: k }]))));
    decodeIn(users, user(i));
  }
  t.equal(jsonDecodeStats.dynamic, dynamic + 1, 'the id-keyed collection was judged dynamic');
  t.ok(
    jsonDecodeStats.gaveUp - gaveUp > 150,
    `its documents go to JSON.parse (${jsonDecodeStats.gaveUp - gaveUp})`,
  );
  const before = jsonDecodeStats.gaveUp;
  for (let i = 0; i < 300; i++) decodeIn(users, user(i));
  t.equal(jsonDecodeStats.gaveUp, before, 'the regular collection stays on the fast path');
  // Documents without shapes of their own share a trie that is never judged.
  for (let i = 0; i < 300; i++) check(utf8(JSON.stringify({ [`id${i}`]: i, [`id${i + 1}`]: i })));
  t.equal(jsonDecodeStats.dynamic, dynamic + 1, 'the shared trie is not judged');
  // When the table starts over, collections start over too (and are judged anew).
  const { restarts } = jsonDecodeStats;
  for (let i = 0; i < 9000; i++) check(utf8(`{"r${i}":${i}}`));
  t.ok(jsonDecodeStats.restarts > restarts, 'the shape table started over');
  const again = jsonDecodeStats.gaveUp;
  decodeIn(ids, JSON.stringify({ idA: { n: 1 } }));
  t.equal(
    jsonDecodeStats.gaveUp,
    again,
    'a collection judged dynamic before is learnt again after a restart',
  );
  for (let i = 0; i < 50; i++) decodeIn(users, user(i));
  t.equal(jsonDecodeStats.gaveUp, again, 'and a regular one is decoded as before');
});

t.test('a frozen Object.prototype does not change the result', async (t) => {
  // Assigning "toString" on an object whose prototype is frozen fails; defining it does not.
  const child = await import('node:child_process');
  const script = `
    import { decodeJson } from ${JSON.stringify(new URL('../src/document/json-decode.ts', import.meta.url).href)};
    Object.freeze(Object.prototype);
    const s = '{"toString":1,"valueOf":{"constructor":2}}';
    const a = decodeJson(Buffer.from(s), 0, s.length);
    const b = decodeJson(Buffer.from(s), 0, s.length);
    process.stdout.write(JSON.stringify([a, b]));
  `;
  const out = child.execFileSync(
    process.execPath,
    [...process.execArgv, '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  );
  t.equal(out, '[{"toString":1,"valueOf":{"constructor":2}},{"toString":1,"valueOf":{"constructor":2}}]');
});

t.test('without code generation from strings, objects are built field by field', async (t) => {
  const child = await import('node:child_process');
  const script = `
    import { decodeJson, jsonDecodeStats } from ${JSON.stringify(new URL('../src/document/json-decode.ts', import.meta.url).href)};
    const s = '{"__proto__":1,"a":{"b":[1,{"c":"d"}]},"toString":2}';
    const out = [];
    for (let i = 0; i < 3; i++) out.push(decodeJson(Buffer.from(s), 0, s.length));
    process.stdout.write(JSON.stringify({ out, own: out.every((o) => Object.hasOwn(o, '__proto__')), stats: jsonDecodeStats }));
  `;
  const out = child.execFileSync(
    process.execPath,
    [...process.execArgv, '--disallow-code-generation-from-strings', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  const got = JSON.parse(out) as {
    out: unknown[];
    own: boolean;
    stats: { gaveUp: number; compiled: number };
  };
  const expected = JSON.parse('{"__proto__":1,"a":{"b":[1,{"c":"d"}]},"toString":2}');
  for (const o of got.out) t.same(o, expected);
  t.ok(got.own, '"__proto__" stays an own field');
  t.equal(got.stats.gaveUp, 0, 'on the fast path');
});
