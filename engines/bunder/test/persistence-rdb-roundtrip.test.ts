import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { RdbError } from '../src/persistence/errors.js';
import { decodeListpack, encodeListpack } from '../src/persistence/listpack.js';
import type { StoredEntry } from '../src/persistence/model.js';
import { decodeDumpPayload, readRdb, readRdbFile } from '../src/persistence/rdb-reader.js';
import { encodeDumpPayload, encodeRdb, writeRdbFile } from '../src/persistence/rdb-writer.js';
import {
  arbBlob,
  arbEntries,
  arbValue,
  canonEntries,
  canonValue,
  tempDir,
} from './fixtures/persistence/helpers.js';

function readAll(buf: Buffer): StoredEntry[] {
  return [...readRdb(buf)];
}

t.test('listpack round trips strings and integers, storing canonical integers as integers', async (t) => {
  fc.assert(
    fc.property(fc.array(arbBlob, { maxLength: 300 }), (items) => {
      const back = decodeListpack(encodeListpack(items)).map((i) =>
        typeof i === 'bigint' ? Buffer.from(String(i)) : i,
      );
      return back.length === items.length && back.every((b, i) => b.equals(items[i]!));
    }),
    { numRuns: 300 },
  );
  // 13-bit, 16-, 24-, 32- and 64-bit integers and every string length class.
  const samples = [
    0n,
    127n,
    128n,
    -1n,
    -4096n,
    4095n,
    4096n,
    -32769n,
    8388607n,
    -2147483648n,
    2n ** 63n - 1n,
  ];
  t.same(decodeListpack(encodeListpack(samples)), samples);
  const strings = [Buffer.alloc(63, 1), Buffer.alloc(64, 2), Buffer.alloc(4095, 3), Buffer.alloc(4096, 4)];
  t.same(decodeListpack(encodeListpack(strings)), strings);
});

t.test('random StoredEntry sets survive write → read unchanged', async (t) => {
  fc.assert(
    fc.property(arbEntries, fc.boolean(), (entries, compress) => {
      const back = readAll(encodeRdb(entries, { compress }));
      return isDeepStrictEqual(canonEntries(back), canonEntries(entries));
    }),
    { numRuns: 150 },
  );
  t.pass('150 random snapshots round tripped');
});

t.test('DUMP payloads round trip and reject tampering', async (t) => {
  fc.assert(
    fc.property(arbValue, (value) => {
      if (value.type !== 'string' && value.type !== 'stream' && value.value.length === 0) return true;
      const payload = encodeDumpPayload(value);
      if (!isDeepStrictEqual(canonValue(decodeDumpPayload(payload)), canonValue(value))) return false;
      const bad = Buffer.from(payload);
      bad[0] = bad[0]! ^ 0x40;
      try {
        decodeDumpPayload(bad);
        return false;
      } catch (err) {
        return err instanceof RdbError;
      }
    }),
    { numRuns: 100 },
  );
  t.pass('100 random DUMP payloads round tripped; a flipped bit was always caught');
});

t.test('the reader streams: entries arrive before the file is fully parsed', async (t) => {
  const entries: StoredEntry[] = Array.from({ length: 1000 }, (_, i) => ({
    db: 0,
    key: Buffer.from(`k${i}`),
    value: { type: 'string', value: Buffer.from(`v${i}`) },
    expireAtMs: null,
  }));
  const buf = encodeRdb(entries);
  const cut = buf.subarray(0, buf.length - 100);
  const seen: string[] = [];
  t.throws(() => {
    for (const e of readRdb(cut)) seen.push(e.key.toString());
  }, RdbError);
  t.ok(seen.length > 900, 'keys before the cut were yielded');
  const gen = readRdb(buf);
  let r = gen.next();
  while (!r.done) r = gen.next();
  t.equal(r.value.keys, 1000);
  t.equal(r.value.checksum, 'verified');
  t.equal(r.value.endOffset, buf.length);
  t.ok(r.value.aux.some(([k]) => k === 'redis-ver'));
});

t.test('a multi-megabyte file is written durably and read back in chunks', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'dump.rdb');
  const entries: StoredEntry[] = [];
  for (let i = 0; i < 20_000; i++) {
    entries.push({
      db: i % 3,
      key: Buffer.from(`key:${i}`),
      value: { type: 'string', value: Buffer.from(`v${i}`) },
      expireAtMs: null,
    });
  }
  // Values straddling the 1 MiB read chunks, incompressible so they stay long on disk.
  for (let i = 0; i < 6; i++) {
    const big = randomBytes(700_000 + i);
    entries.push({
      db: 0,
      key: Buffer.from(`big:${i}`),
      value: { type: 'string', value: big },
      expireAtMs: null,
    });
  }
  const { bytes, keys } = await writeRdbFile(path, entries);
  t.equal(keys, entries.length);
  t.equal(statSync(path).size, bytes);
  t.ok(bytes > 4_000_000, `${bytes} bytes on disk`);
  t.same(readdirSync(dir), ['dump.rdb'], 'no temp file left behind');
  const back = [...readRdbFile(path)];
  t.ok(isDeepStrictEqual(canonEntries(back), canonEntries(entries)), 'file reader returns every entry');
});
