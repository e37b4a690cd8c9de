import fc from 'fast-check';
import t from 'tap';
import { Crc64, crc64 } from '../src/persistence/crc64.js';
import { LzfError } from '../src/persistence/errors.js';
import { lzfCompress, lzfDecompress } from '../src/persistence/lzf.js';

t.test('crc64 matches the Redis check value and can be fed in pieces', async (t) => {
  t.equal(crc64(Buffer.from('123456789')), 0xe9c6d914c4b8d9can);
  t.equal(crc64(Buffer.alloc(0)), 0n);
  const data = Buffer.from('The quick brown fox jumps over the lazy dog, many times over.');
  const whole = crc64(data);
  for (let cut = 0; cut <= data.length; cut += 7) {
    t.equal(new Crc64().update(data, 0, cut).update(data, cut).digest(), whole, `split at ${cut}`);
  }
  t.same(
    [...new Crc64().update(Buffer.from('123456789')).digestBytes()],
    [0xca, 0xd9, 0xb8, 0xc4, 0x14, 0xd9, 0xc6, 0xe9],
  );
});

t.test('lzf decodes a hand-built liblzf stream (literal + short and long back references)', async (t) => {
  // "abcabcabc" = literal "abc" then a reference of 6 bytes at offset 3.
  const short = Buffer.from([0x02, 0x61, 0x62, 0x63, (4 << 5) | 0, 2]);
  t.equal(lzfDecompress(short, 9).toString(), 'abcabcabc');
  // "a" then a reference of 7+3+2 = 12 bytes at offset 1 (overlapping copy).
  const long = Buffer.from([0x00, 0x61, 7 << 5, 3, 0]);
  t.equal(lzfDecompress(long, 13).toString(), 'a'.repeat(13));
});

t.test('lzf round trips arbitrary and compressible data', async (t) => {
  const compressible = fc
    .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 40 })), {
      maxLength: 30,
    })
    .map((parts) => Buffer.concat(parts.flatMap(([chunk, times]) => Array(times).fill(Buffer.from(chunk)))));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
        compressible,
      ),
      (input) => {
        const packed = lzfCompress(input, input.length + 64);
        if (input.length === 0) return packed === null;
        if (packed === null) return false;
        return lzfDecompress(packed, input.length).equals(input);
      },
    ),
    { numRuns: 400 },
  );
  const big = Buffer.from('0123456789'.repeat(100_000));
  const packed = lzfCompress(big, big.length - 4);
  t.ok(packed && packed.length < big.length / 20, 'repetitive data compresses well');
  t.ok(lzfDecompress(packed!, big.length).equals(big));
});

t.test('lzf refuses to exceed the size budget', async (t) => {
  const random = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 7919 + 13) % 251));
  t.equal(lzfCompress(random, random.length - 4), null, 'incompressible input is not stored compressed');
  t.equal(lzfCompress(Buffer.from('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), 2), null);
});

t.test('corrupt lzf input gives typed errors, never garbage', async (t) => {
  t.throws(() => lzfDecompress(Buffer.from([0x05, 0x61]), 6), LzfError, 'literal past end of input');
  t.throws(() => lzfDecompress(Buffer.from([0x00, 0x61, 0x20, 0x05]), 4), LzfError, 'reference before start');
  t.throws(() => lzfDecompress(Buffer.from([0x02, 0x61, 0x62, 0x63]), 2), LzfError, 'output overflow');
  t.throws(() => lzfDecompress(Buffer.from([0x02, 0x61, 0x62, 0x63]), 5), LzfError, 'output too short');
  t.throws(() => lzfDecompress(Buffer.from([0x00, 0x61, 0xe0]), 12), LzfError, 'truncated long reference');
  // Fuzz: random bytes never throw anything but LzfError.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 300 }), (bytes, len) => {
      try {
        lzfDecompress(bytes, len);
      } catch (err) {
        return err instanceof LzfError;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});
