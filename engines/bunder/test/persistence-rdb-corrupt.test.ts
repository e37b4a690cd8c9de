/**
 * Legacy encodings (hand-assembled from the format description, as older Redis versions wrote them)
 * and damaged files: truncation and bit flips must give an RdbError naming the offset, never garbage.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { Crc64 } from '../src/persistence/crc64.js';
import { RdbError } from '../src/persistence/errors.js';
import { encodeListpack } from '../src/persistence/listpack.js';
import type { StoredEntry } from '../src/persistence/model.js';
import { readRdb, readRdbFile } from '../src/persistence/rdb-reader.js';
import { encodeRdb } from '../src/persistence/rdb-writer.js';
import { canonEntries, tempDir } from './fixtures/persistence/helpers.js';

const str = (s: string | Buffer) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  if (b.length >= 64) throw new Error('test helper only writes 6-bit lengths');
  return Buffer.concat([Buffer.from([b.length]), b]);
};

function rdbFile(version: number, body: Buffer[], checksum = true): Buffer {
  const head = Buffer.from(`REDIS${String(version).padStart(4, '0')}`);
  const content = Buffer.concat([head, ...body, Buffer.from([0xff])]);
  if (version < 5) return content;
  const crc = checksum ? new Crc64().update(content).digestBytes() : Buffer.alloc(8);
  return Buffer.concat([content, crc]);
}

// ziplist ["a", 12 (int8), -5 (int16), 2 (4-bit immediate)]
const ziplist = Buffer.from([
  23, 0, 0, 0, 20, 0, 0, 0, 4, 0, 0x00, 0x01, 0x61, 0x03, 0xfe, 12, 0x03, 0xc0, 0xfb, 0xff, 0x04, 0xf3, 0xff,
]);
// zipmap {f: v, ab: xyz} with one free byte after "xyz"
const zipmap = Buffer.from([2, 1, 0x66, 1, 0, 0x76, 2, 0x61, 0x62, 3, 1, 0x78, 0x79, 0x7a, 0, 0xff]);
// intset of int16: [-1, 5, 300]
const intset = Buffer.from([2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 5, 0, 0x2c, 0x01]);

t.test('legacy encodings from older Redis versions load', async (t) => {
  const file = rdbFile(6, [
    Buffer.from([0xfe, 0]),
    Buffer.from([10]), // LIST_ZIPLIST
    str('zl'),
    str(ziplist),
    Buffer.from([14]), // LIST_QUICKLIST (v1): one ziplist node
    str('ql'),
    Buffer.from([1]),
    str(ziplist),
    Buffer.from([12]), // ZSET_ZIPLIST
    str('zz'),
    str(ziplist),
    Buffer.from([13]), // HASH_ZIPLIST
    str('hz'),
    str(ziplist),
    Buffer.from([9]), // HASH_ZIPMAP
    str('zm'),
    str(zipmap),
    Buffer.from([11]), // SET_INTSET
    str('is'),
    str(intset),
    Buffer.from([3]), // ZSET with ASCII scores, 254 = +inf
    str('z1'),
    Buffer.from([2]),
    str('a'),
    Buffer.from([3]),
    Buffer.from('1.5'),
    str('b'),
    Buffer.from([254]),
    Buffer.from([0xfd, 0x00, 0x00, 0x00, 0x70]), // EXPIRETIME in seconds
    Buffer.from([0]),
    str('lzf'),
    Buffer.from([0xc3, 6, 9, 0x02, 0x61, 0x62, 0x63, 4 << 5, 2]),
    Buffer.from([0xfe, 2]),
    Buffer.from([0]),
    str('int'),
    Buffer.from([0xc2, 0x15, 0xcd, 0x5b, 0x07]), // INT32 123456789
  ]);
  const entries = [...readRdb(file)];
  const byKey = Object.fromEntries(entries.map((e) => [`${e.db}/${e.key}`, e]));
  const texts = (v: readonly Buffer[]) => v.map(String);
  const v = (k: string) => byKey[k]!.value as { value: unknown };
  t.same(texts(v('0/zl').value as Buffer[]), ['a', '12', '-5', '2']);
  t.same(texts(v('0/ql').value as Buffer[]), ['a', '12', '-5', '2']);
  t.same(
    (v('0/zz').value as Array<[Buffer, number]>).map(([m, s]) => [String(m), s]),
    [
      ['a', 12],
      ['-5', 2],
    ],
  );
  t.same(
    (v('0/hz').value as Array<[Buffer, Buffer]>).map(([f, x]) => [String(f), String(x)]),
    [
      ['a', '12'],
      ['-5', '2'],
    ],
  );
  t.same(
    (v('0/zm').value as Array<[Buffer, Buffer]>).map(([f, x]) => [String(f), String(x)]),
    [
      ['f', 'v'],
      ['ab', 'xyz'],
    ],
  );
  t.same(texts(v('0/is').value as Buffer[]), ['-1', '5', '300']);
  t.same(
    (v('0/z1').value as Array<[Buffer, number]>).map(([m, s]) => [String(m), s]),
    [
      ['a', 1.5],
      ['b', Infinity],
    ],
  );
  t.equal(String(v('0/lzf').value), 'abcabcabc');
  t.equal(byKey['0/lzf']!.expireAtMs, 0x70000000 * 1000);
  t.equal(String(v('2/int').value), '123456789');
  t.equal(byKey['2/int']!.expireAtMs, null);
});

t.test('RDB 11 (Redis 7.2) set listpacks and versions without checksum', async (t) => {
  const lp = encodeListpack([Buffer.from('x'), Buffer.from('y'), 7n]);
  const v11 = rdbFile(11, [Buffer.from([20]), str('s'), str(lp)]);
  t.same(
    [...readRdb(v11)].map((e) => (e.value.value as Buffer[]).map(String)),
    [['x', 'y', '7']],
  );
  const gen = readRdb(rdbFile(4, [Buffer.from([0]), str('k'), str('v')]));
  let r = gen.next();
  while (!r.done) r = gen.next();
  t.equal(r.value.checksum, 'absent', 'RDB 4 has no checksum');
  const off = readRdb(rdbFile(10, [Buffer.from([0]), str('k'), str('v')], false));
  r = off.next();
  while (!r.done) r = off.next();
  t.equal(r.value.checksum, 'disabled', 'a zero checksum means rdbchecksum no');
});

t.test('unsupported content is refused with a clear typed error', async (t) => {
  const expectCode = (buf: Buffer, code: string, pattern?: RegExp) => {
    try {
      for (const _ of readRdb(buf, { file: 'dump.rdb' }));
      t.fail(`expected ${code}`);
    } catch (err) {
      t.ok(err instanceof RdbError, 'RdbError');
      t.equal((err as RdbError).code, code);
      t.type((err as RdbError).offset, 'number');
      t.match((err as Error).message, /dump\.rdb at offset \d+/);
      if (pattern) t.match((err as Error).message, pattern);
    }
  };
  // Module type id for "ReJSON-RL", encoding version 3.
  const charset = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let id = 0n;
  for (const ch of 'ReJSON-RL') id = (id << 6n) | BigInt(charset.indexOf(ch));
  id = (id << 10n) | 3n;
  const idBytes = Buffer.alloc(9);
  idBytes[0] = 0x81;
  idBytes.writeBigUInt64BE(id, 1);
  expectCode(rdbFile(10, [Buffer.from([7]), str('doc'), idBytes]), 'RDB_MODULE_TYPE', /ReJSON-RL/);
  expectCode(rdbFile(10, [Buffer.from([0xf7])]), 'RDB_MODULE_TYPE');
  expectCode(rdbFile(12, []), 'RDB_UNSUPPORTED_VERSION');
  expectCode(Buffer.from('RUBBISH00010'), 'RDB_BAD_MAGIC');
  expectCode(rdbFile(10, [Buffer.from([42]), str('k')]), 'RDB_UNKNOWN_OPCODE');
  expectCode(
    rdbFile(10, [Buffer.from([0]), str('k'), Buffer.from([0xc3, 2, 40, 0x01, 0x61])]),
    'RDB_CORRUPT',
  );
});

const sample: StoredEntry[] = [
  {
    db: 0,
    key: Buffer.from('s'),
    value: { type: 'string', value: Buffer.from('x'.repeat(500)) },
    expireAtMs: null,
  },
  {
    db: 0,
    key: Buffer.from('l'),
    value: { type: 'list', value: Array.from({ length: 300 }, (_, i) => Buffer.from(`e${i}`)) },
    expireAtMs: 1_900_000_000_000,
  },
  {
    db: 1,
    key: Buffer.from('z'),
    value: {
      type: 'zset',
      value: Array.from({ length: 200 }, (_, i) => [Buffer.from(`m${i}`), i / 3] as const),
    },
    expireAtMs: null,
  },
  {
    db: 1,
    key: Buffer.from('h'),
    value: { type: 'hash', value: [[Buffer.from('f'), Buffer.from('v')]] },
    expireAtMs: null,
  },
  {
    db: 2,
    key: Buffer.from('st'),
    value: {
      type: 'stream',
      value: {
        entries: Array.from({ length: 120 }, (_, i) => ({
          id: { ms: 1000n + BigInt(i), seq: 0n },
          fields: [Buffer.from('a'), Buffer.from(String(i))],
        })),
        lastId: { ms: 1119n, seq: 0n },
        firstId: { ms: 1000n, seq: 0n },
        maxDeletedId: { ms: 0n, seq: 0n },
        entriesAdded: 120,
        groups: [
          {
            name: Buffer.from('g'),
            lastId: { ms: 1005n, seq: 0n },
            entriesRead: 6,
            pending: [
              { id: { ms: 1003n, seq: 0n }, consumer: Buffer.from('c'), deliveryTimeMs: 5, deliveryCount: 2 },
            ],
            consumers: [{ name: Buffer.from('c'), seenTimeMs: 5 }],
          },
        ],
      },
    },
    expireAtMs: null,
  },
];

t.test('every truncation of a valid file is RDB_TRUNCATED at or before the cut', async (t) => {
  const full = encodeRdb(sample);
  t.same(canonEntries(readRdb(full)), canonEntries(sample));
  let checked = 0;
  for (let cut = 0; cut < full.length; cut += cut < 200 ? 1 : 7) {
    try {
      for (const _ of readRdb(full.subarray(0, cut)));
      t.fail(`cut at ${cut} was accepted`);
    } catch (err) {
      const e = err as RdbError;
      if (!(e instanceof RdbError) || (e.code !== 'RDB_TRUNCATED' && e.code !== 'RDB_BAD_MAGIC')) {
        t.fail(`cut at ${cut}: ${e}`);
      } else if (e.offset === undefined || e.offset > cut) {
        t.fail(`cut at ${cut}: offset ${e.offset}`);
      }
      checked++;
    }
  }
  t.ok(checked > 300, `${checked} truncations all reported`);
});

t.test('a truncated file on disk names the file and offset', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'dump.rdb');
  const full = encodeRdb(sample);
  writeFileSync(path, full.subarray(0, full.length - 40));
  try {
    for (const _ of readRdbFile(path));
    t.fail('accepted a truncated file');
  } catch (err) {
    const e = err as RdbError;
    t.equal(e.code, 'RDB_TRUNCATED');
    t.equal(e.file, path);
    t.ok(
      e.offset! <= full.length - 40 && e.offset! > full.length - 200,
      `offset ${e.offset} is near the cut`,
    );
    t.match(e.message, new RegExp(`dump\\.rdb at offset ${e.offset}`));
  }
});

t.test('any single corrupted byte is detected (checksum or format), never a crash', async (t) => {
  const full = encodeRdb(sample);
  fc.assert(
    fc.property(fc.nat({ max: full.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bad = Buffer.from(full);
      bad[at] = bad[at]! ^ x;
      try {
        for (const _ of readRdb(bad));
        return false;
      } catch (err) {
        return err instanceof RdbError && typeof err.offset === 'number';
      }
    }),
    { numRuns: 3000 },
  );
  // Without the checksum the parser itself must still stay safe on garbage.
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: full.length - 1 }), fc.nat({ max: 255 })), { maxLength: 8 }),
      (edits) => {
        const bad = Buffer.from(full);
        for (const [at, v] of edits) bad[at] = v;
        try {
          for (const _ of readRdb(bad, { verifyChecksum: false }));
        } catch (err) {
          return err instanceof RdbError;
        }
        return true;
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('6000 corrupted files handled');
});
