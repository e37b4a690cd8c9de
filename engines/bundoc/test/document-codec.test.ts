import fc from 'fast-check';
import lz4js from 'lz4js';
import t from 'tap';
import {
  COMPRESS_MIN_BYTES,
  decodeDocument,
  encodeDocument,
  MAX_DOCUMENT_BYTES,
} from '../src/document/codec.js';
import { DocumentDecodeError, DocumentTooLargeError, InvalidDocumentError } from '../src/document/errors.js';
import { checkId, generateId, idKey, MAX_ID_KEY_BYTES } from '../src/document/id.js';
import { lz4Compress, lz4Decompress } from '../src/document/lz4.js';
import { validateThoroughly, validateValue } from '../src/document/validate.js';
import { encodeKey } from '../src/keys/encode.js';

const stress = process.env.BUNBASE_STRESS === '1';
const seed = process.env.BUNBASE_SEED === undefined ? undefined : Number(process.env.BUNBASE_SEED);
// fast-check prints the seed and the shrunk counterexample on failure; BUNBASE_SEED replays it.
const params = (numRuns: number) => ({ numRuns: stress ? numRuns * 10 : numRuns, ...(seed ? { seed } : {}) });

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/**
 * A canonical text of a value that distinguishes everything the codec must keep: Dates (as Dates, not
 * strings), key order, array positions. -0 is written as 0, as JSON does (documented).
 */
function canon(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k: string, x: unknown) {
    const raw = this[k];
    if (raw instanceof Date) return { '<date>': raw.getTime() };
    if (typeof x === 'string') return `s:${x}`;
    return x;
  });
}

// Field names: anything but a leading "$", a "." or NUL (validation rejects those); "__proto__" included.
const fieldName = fc.oneof(
  fc.string({ maxLength: 8 }).filter((k) => !k.startsWith('$') && !k.includes('.') && !k.includes('\0')),
  fc.constantFrom('a', 'b', '_id', '__proto__', 'constructor', '0', '1', 'é', '\u{1f600}', 'date', ''),
);
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  // lone surrogates, NUL, quotes and escapes
  fc.string({
    unit: fc.constantFrom('\0', '"', '\\', '\n', '\ud83d', '\ude00', '\u2028', 'x'),
    maxLength: 8,
  }),
  fc.constantFrom('$date', '{"$date":1}'),
);
const scalar = fc.oneof(
  text,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: true }),
);
const { object } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fieldName, tie('value'), { maxKeys: 5 }),
}));
const doc = object as fc.Arbitrary<Record<string, unknown>>;

t.test('round trip: random documents come back identical, Dates as Dates', async (t) => {
  let withDates = 0;
  fc.assert(
    fc.property(doc, (d) => {
      const before = canon(d);
      const bytes = encodeDocument(d);
      expect(canon(d) === before, 'encoding modified the input');
      const back = decodeDocument(bytes);
      expect(canon(back) === before, `decoded ${canon(back)} != ${before}`);
      expect(Object.getPrototypeOf(back) === Object.prototype, 'decoded document is not a plain object');
      if ((bytes[0]! & 2) !== 0) withDates++;
      expect(((bytes[0]! & 2) !== 0) === before.includes('{"<date>":'), 'typed flag without Dates or v.v.');
    }),
    params(3000),
  );
  t.ok(withDates > 100, `${withDates} documents carried Dates`);
});

t.test('documents without Dates are stored as plain JSON behind the header', async (t) => {
  fc.assert(
    fc.property(doc, (d) => {
      const bytes = encodeDocument(d);
      if (bytes[0] !== 0x10) return; // has Dates or was compressed
      const json = Buffer.from(bytes.subarray(1)).toString('utf8');
      expect(json === JSON.stringify(d), 'not the JSON.stringify text');
    }),
    params(1000),
  );
  const bytes = encodeDocument({ a: 1, b: 'x' });
  t.equal(bytes[0], 0x10);
  t.equal(Buffer.from(bytes.subarray(1)).toString(), '{"a":1,"b":"x"}');
  const dated = encodeDocument({ at: new Date(1234), s: '2020-01-01T00:00:00.000Z' });
  t.equal(dated[0], 0x12, 'typed flag');
  t.equal(Buffer.from(dated.subarray(1)).toString(), '{"at":{"$date":1234},"s":"2020-01-01T00:00:00.000Z"}');
  const back = decodeDocument(dated);
  t.type(back.at, Date);
  t.equal(typeof back.s, 'string', 'an ISO string stays a string');
  t.equal(decodeDocument(encodeDocument({ z: -0 })).z, 0, '-0 is stored as 0 (JSON)');
});

t.test('big documents cross the compression threshold and round-trip', async (t) => {
  // Repetitive content of growing size: some below, some above COMPRESS_MIN_BYTES, some huge.
  const big = fc
    .tuple(fc.array(doc, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 250 }), fc.boolean())
    .map(([parts, repeat, dates]) => {
      const items: unknown[] = [];
      for (let i = 0; i < repeat; i++) items.push(parts[i % parts.length], dates ? new Date(i * 1000) : i);
      return { items, tail: 'é'.repeat(repeat) };
    });
  let compressed = 0;
  let plainAbove = 0;
  fc.assert(
    fc.property(big, (d) => {
      const before = canon(d);
      const bytes = encodeDocument(d);
      const raw = 1 + Buffer.byteLength(JSON.stringify(d, (_k, v) => v));
      const isLz4 = (bytes[0]! & 1) === 1;
      if (isLz4) {
        compressed++;
        expect(raw >= COMPRESS_MIN_BYTES, 'compressed below the threshold');
        expect(bytes.length <= raw - raw / 8, 'kept a compression that saves under 1/8');
      } else if (raw >= COMPRESS_MIN_BYTES) plainAbove++;
      expect(canon(decodeDocument(bytes)) === before, 'round trip differs');
    }),
    params(120),
  );
  t.ok(compressed > 30, `${compressed} compressed`);
  // Incompressible content above the threshold stays plain.
  let x = 0x9e3779b9;
  const random = Array.from({ length: 3000 }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  });
  const noise = { r: Buffer.from(random).toString('base64') };
  const nb = encodeDocument(noise);
  t.equal(nb[0], 0x10, 'incompressible document stored plain');
  t.same(decodeDocument(nb), noise);
  t.comment(`${plainAbove} documents above the threshold did not shrink enough and stayed plain`);
  // A document close to the limit: 15 MiB of repetitive text compresses, and round-trips.
  const huge = { s: 'abcdefgh'.repeat((15 * 1024 * 1024) / 8) };
  const hb = encodeDocument(huge);
  t.equal(hb[0], 0x11);
  t.ok(hb.length < 1024 * 1024, `15 MiB of text stored in ${hb.length} bytes`);
  t.equal((decodeDocument(hb).s as string).length, huge.s.length);
});

t.test('size limit', async (t) => {
  // The limit applies to the uncompressed encoding, whatever the compression would save.
  const fits = { s: 'x'.repeat(MAX_DOCUMENT_BYTES - 1 - '{"s":""}'.length) };
  t.equal((decodeDocument(encodeDocument(fits)).s as string).length, fits.s.length, 'exactly at the limit');
  const over = { s: `${fits.s}x` };
  const e = (() => {
    try {
      encodeDocument(over);
    } catch (x) {
      return x;
    }
  })() as DocumentTooLargeError;
  t.type(e, DocumentTooLargeError);
  t.equal(e.bytes, MAX_DOCUMENT_BYTES + 1);
  t.equal(e.limit, MAX_DOCUMENT_BYTES);
  t.match(e.message, /over the limit/);
  // Multi-byte characters count as their UTF-8 bytes.
  t.throws(() => encodeDocument({ s: '€'.repeat(MAX_DOCUMENT_BYTES / 3) }), DocumentTooLargeError);
});

t.test('validation errors name the path', async (t) => {
  class Point {
    x = 1;
  }
  const circular: Record<string, unknown> = { a: [1] };
  (circular.a as unknown[]).push(circular);
  const cases: Array<[unknown, string, RegExp]> = [
    [{ a: { f: () => 1 } }, 'a.f', /function/],
    [{ a: [1, undefined] }, 'a.1', /undefined/],
    [{ n: Number.NaN }, 'n', /NaN/],
    [{ n: -Infinity }, 'n', /-Infinity/],
    [circular, 'a.1', /circular/],
    [{ s: Symbol('q') }, 's', /symbol/],
    [{ p: new Point() }, 'p', /Point/],
    [{ d: new Date(Number.NaN) }, 'd', /invalid Date/],
    [{ a: { $date: 5 } }, 'a.$date', /must not start with "\$"/],
    [{ 'x.y': 1 }, 'x.y', /must not contain "\."/],
    [{ [Symbol('k')]: 1 }, '', /symbol keys/],
    [{ b: 1n }, 'b', /bigint/],
    [{ u: new Uint8Array(2) }, 'u', /Uint8Array/],
    [[], '', /array/],
    [null, '', /null/],
  ];
  for (const [input, path, message] of cases) {
    try {
      encodeDocument(input);
      t.fail(`accepted ${path}`);
    } catch (e) {
      t.type(e, InvalidDocumentError, path);
      t.equal((e as InvalidDocumentError).path, path);
      t.match((e as Error).message, message);
    }
  }
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  t.throws(() => encodeDocument({ sparse }), { path: 'sparse.1', message: /holes/ });
  let deep: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) deep = { d: deep };
  t.throws(() => encodeDocument(deep), { message: /deeper than 100/ });
});

t.test('the fast validation pre-check agrees with the thorough walk', async (t) => {
  // Values with good and bad leaves, bad field names, holes, cycles and deep nesting mixed in.
  const leaf = fc.oneof(
    scalar,
    fc.constantFrom<unknown>(
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      () => 1,
      Symbol('s'),
      1n,
      new Map(),
      new Date(Number.NaN),
      Object.create(Date.prototype),
      /re/,
    ),
  );
  const badKey = fc.constantFrom('$x', 'a.b', 'a\0', '$date');
  const { v } = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, leaf, tie('arr'), tie('obj')),
    arr: fc.tuple(fc.array(tie('v'), { maxLength: 3 }), fc.boolean()).map(([a, hole]) => {
      if (hole) a[a.length + 1] = 1;
      return a;
    }),
    obj: fc
      .tuple(
        fc.dictionary(fc.oneof(fieldName, badKey), tie('v'), { maxKeys: 3 }),
        fc.constantFrom('none', 'cycle', 'symbol', 'deep'),
      )
      .map(([o, extra]) => {
        const x = o as Record<string | symbol, unknown>;
        if (extra === 'cycle') x.self = x;
        if (extra === 'symbol') x[Symbol('k')] = 1;
        if (extra === 'deep') {
          let d: Record<string, unknown> = { x };
          for (let i = 0; i < 100; i++) d = { d };
          return d;
        }
        return x;
      }),
  }));
  let bad = 0;
  fc.assert(
    fc.property(v, (value) => {
      const outcome = (f: () => unknown) => {
        try {
          return `ok ${JSON.stringify(f())}`;
        } catch (e) {
          return `${(e as Error).name} ${(e as Error).message}`;
        }
      };
      const fast = outcome(() => validateValue(value));
      const slow = outcome(() => validateThoroughly(value));
      if (!fast.startsWith('ok')) bad++;
      expect(fast === slow, `pre-check says ${fast}, the walk ${slow}`);
    }),
    params(3000),
  );
  t.ok(bad > 500, `${bad} invalid values refused alike`);
});

t.test('corrupt or foreign bytes raise DocumentDecodeError, never something else', async (t) => {
  const decodeError = (bytes: Uint8Array, what: string) => {
    try {
      const d = decodeDocument(bytes);
      t.fail(`${what}: decoded to ${canon(d).slice(0, 80)}`);
    } catch (e) {
      if (!(e instanceof DocumentDecodeError)) t.fail(`${what}: ${e}`);
      else t.pass(what);
    }
  };
  decodeError(new Uint8Array(0), 'empty');
  const good = encodeDocument({ a: 1 });
  for (let h = 0; h < 256; h++) {
    if (h >= 0x10 && h <= 0x13) continue;
    const b = good.slice();
    b[0] = h;
    try {
      decodeDocument(b);
      t.fail(`header 0x${h.toString(16)} accepted`);
    } catch (e) {
      if (!(e instanceof DocumentDecodeError) || !/unknown header/.test(e.message))
        t.fail(`header 0x${h.toString(16)}: ${e}`);
    }
  }
  t.pass('every unknown header byte is refused');
  decodeError(Buffer.from('{"a":1}'), 'raw JSON without a header');
  decodeError(Buffer.from('\x10[1,2]'), 'JSON that is not an object');
  decodeError(Buffer.from('\x10null'), 'JSON null');
  decodeError(Buffer.from('\x10{"a":'), 'truncated JSON');
  decodeError(Uint8Array.from([0x10, 0x7b, 0xff, 0x7d]), 'invalid UTF-8');
  decodeError(Buffer.from('\x12{"a":{"$date":"2020"}}'), '$date not a number');
  decodeError(Buffer.from('\x12{"a":{"$date":1.5}}'), '$date not an integer');
  decodeError(Buffer.from('\x12{"a":{"$date":1,"b":2}}'), '$date with another field');
  decodeError(Buffer.from('\x12{"a":[{"$date":9e15}]}'), '$date beyond the Date range');
  let nested = '{"$date":1}';
  for (let i = 0; i < 150; i++) nested = `[${nested}]`;
  decodeError(Buffer.from(`\x12{"a":${nested}}`), 'typed value nested too deep');
  const dated = decodeDocument(Buffer.from('\x12{"a":[{"$date":-5}],"b":{"$date":0}}'));
  t.same(dated, { a: [new Date(-5)], b: new Date(0) }, 'hand-written typed document decodes');

  // Compressed documents: every truncation, a lying length, bit flips.
  const big = encodeDocument({ list: Array.from({ length: 200 }, (_, i) => ({ i, name: `n${i % 7}` })) });
  t.equal(big[0], 0x11);
  for (let n = 0; n < big.length; n++) decodeError(big.subarray(0, n), `truncated to ${n}`);
  const lying = big.slice();
  new DataView(lying.buffer).setUint32(
    1,
    new DataView(big.buffer, big.byteOffset).getUint32(1, true) + 1,
    true,
  );
  decodeError(lying, 'uncompressed length one too large');
  const huge = big.slice();
  new DataView(huge.buffer).setUint32(1, 0xffffffff, true);
  decodeError(huge, 'uncompressed length over the limit');
  // Random corruption: a typed error or a document, quickly; never a crash, a hang or a non-object.
  let detected = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      (flips) => {
        const b = big.slice();
        for (const [at, x] of flips) b[5 + (at % (b.length - 5))]! ^= x;
        const started = performance.now();
        try {
          const d = decodeDocument(b);
          expect(typeof d === 'object' && d !== null && !Array.isArray(d), 'not an object');
        } catch (e) {
          expect(e instanceof DocumentDecodeError, `unexpected ${e}`);
          detected++;
        }
        expect(performance.now() - started < 1000, 'decoding corrupt bytes took over a second');
      },
    ),
    params(2000),
  );
  t.ok(
    detected > 0,
    `${detected} corruptions detected by structure (the rest decode: pages carry the checksum)`,
  );
});

t.test('LZ4: the checked decoder agrees with lz4js on valid blocks', async (t) => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 300 }))
      .map(([unit, n]) => {
        const out = new Uint8Array(unit.length * n);
        for (let i = 0; i < n; i++) out.set(unit, i * unit.length);
        return out;
      }),
  );
  let blocks = 0;
  fc.assert(
    fc.property(bytes, (src) => {
      const packed = lz4Compress(src, 3, Number.MAX_SAFE_INTEGER);
      if (!packed) return;
      blocks++;
      const ours = new Uint8Array(src.length);
      expect(lz4Decompress(packed, 3, packed.length, ours) === undefined, 'decoder refused a valid block');
      const theirs = new Uint8Array(src.length);
      lz4js.decompressBlock(packed, theirs, 3, packed.length - 3, 0);
      expect(Buffer.compare(ours, src) === 0, 'decoded bytes differ from the input');
      expect(Buffer.compare(theirs, src) === 0, 'lz4js decodes the block differently');
      // The wrong output size is always noticed.
      if (src.length > 0) {
        expect(
          lz4Decompress(packed, 3, packed.length, new Uint8Array(src.length - 1)) !== undefined,
          'short',
        );
      }
      expect(lz4Decompress(packed, 3, packed.length, new Uint8Array(src.length + 1)) !== undefined, 'long');
    }),
    params(1000),
  );
  t.ok(blocks > 300, `${blocks} blocks compressed and decoded`);
});

t.test('_id: checks, keys and generated ids', async (t) => {
  t.equal(checkId('a'), 'a');
  t.equal(checkId(''), '');
  t.ok(Object.is(checkId(-0), 0), '-0 is the same key as 0');
  t.same(idKey(-0), idKey(0));
  t.equal(checkId('x'.repeat(MAX_ID_KEY_BYTES - 3)), 'x'.repeat(MAX_ID_KEY_BYTES - 3));
  t.throws(() => checkId('x'.repeat(MAX_ID_KEY_BYTES - 2)), InvalidDocumentError);
  t.throws(() => checkId('\0'.repeat(300)), /longer than 512/, 'NUL escapes count');
  for (const bad of [null, undefined, {}, [], true, Number.NaN, Number.POSITIVE_INFINITY, new Date(0), 1n]) {
    t.throws(() => checkId(bad, 'get(id)'), { name: 'InvalidDocumentError', path: 'get(id)' }, String(bad));
  }
  const ids: string[] = [];
  for (let i = 0; i < 100_000; i++) ids.push(generateId());
  t.equal(new Set(ids).size, ids.length, 'unique');
  t.ok(
    ids.every((id, i) => /^[0-9a-f]{24}$/.test(id) && (i === 0 || id > ids[i - 1]!)),
    'strictly increasing 24-hex strings',
  );
  const ms = Number.parseInt(ids.at(-1)!.slice(0, 12), 16);
  t.ok(Math.abs(ms - Date.now()) < 60_000, 'leading digits are the time in ms');
  // Byte order of the keys is the generation order too (the primary key tree is in _id order).
  t.ok(
    ids.every((id, i) => i === 0 || Buffer.compare(encodeKey(id), encodeKey(ids[i - 1]!)) > 0),
    'key order follows generation order',
  );
});
