import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import CRC32 from 'crc-32';
import t, { type Test } from 'tap';
import { CorruptionError, EncryptionKeyError, Storage } from '../src/storage/index.js';
import { copyStore, dirBytes, walRecords } from './fixtures-storage/format-reader.js';

// Encryption at rest: AES-256-GCM per page (page number as associated data) and per WAL record (LSN as
// associated data). Round trip, no plaintext on disk, wrong key at open, pages swapped or moved, and WAL
// records altered or swapped even when the attacker fixes up the crc.

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
const PAGE = 4096;
const MARK = 'PLAINTEXT-MARKER';
const key = (i: number) => Buffer.from(`${MARK}-key-${String(i).padStart(5, '0')}`);
function value(i: number): Buffer {
  const size = i % 50 === 0 ? 9000 : 60 + (i % 100);
  return Buffer.from(`${MARK}:${i}:`.repeat(Math.ceil(size / 20)).slice(0, size));
}

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-enc-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function fill(st: Storage, from: number, to: number): Promise<void> {
  for (let b = from; b < to; b += 100) {
    await st.transaction((tx) => {
      for (let i = b; i < Math.min(to, b + 100); i++) tx.put('t', key(i), value(i));
    });
  }
}

function containsPlaintext(dir: string): boolean {
  for (const [name, b64] of dirBytes(dir)) {
    if (name.endsWith('/')) continue;
    if (Buffer.from(b64, 'base64').includes(MARK)) return true;
  }
  return false;
}

/** Opens and reads every key; returns the error, after checking that every value seen is right. */
async function readAll(dir: string, n: number): Promise<unknown> {
  let st: Storage | undefined;
  try {
    st = await Storage.open(dir, { encryptionKey: KEY });
    const tx = st.begin();
    for (let i = 0; i < n; i++) {
      const v = tx.get('t', key(i));
      if (v === undefined || !value(i).equals(Buffer.from(v))) return new Error(`wrong answer for ${i}`);
    }
    st.verify();
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await st?.close().catch(() => {});
  }
}

t.test('round trip: data survives reopen, and no plaintext reaches the disk', async (t) => {
  const dir = tmp(t);
  let st = await Storage.open(dir, { pageSize: PAGE, encryptionKey: KEY, checkpointIntervalMs: 0 });
  await fill(st, 0, 1500);
  t.notOk(containsPlaintext(dir), 'WAL and pages are ciphertext while open');
  await st.close();
  t.notOk(containsPlaintext(dir), 'ciphertext after the closing checkpoint');
  st = await Storage.open(dir, { encryptionKey: KEY });
  t.equal(st.verify().keys, 1500);
  const got = [...st.begin().range('t', { gte: key(100), lt: key(110) })];
  t.same(
    got.map(([k, v]) => [
      Buffer.from(k).toString(),
      Buffer.from(v).equals(value(Number(Buffer.from(k).toString().slice(-5)))),
    ]),
    Array.from({ length: 10 }, (_, j) => [key(100 + j).toString(), true]),
  );
  await st.close();
  t.equal(await readAll(dir, 1500), undefined);
});

t.test('a wrong key is refused at open with a clear error', async (t) => {
  const dir = tmp(t);
  const st = await Storage.open(dir, { encryptionKey: KEY });
  await fill(st, 0, 10);
  await st.close();
  const before = dirBytes(dir);
  const wrong = KEY.slice();
  wrong[31] ^= 1;
  const e = await Storage.open(dir, { encryptionKey: wrong }).then(
    (s) => s.close(),
    (err) => err,
  );
  t.ok(e instanceof EncryptionKeyError, String(e));
  t.match(String(e), /wrong encryption key/);
  t.same(dirBytes(dir), before, 'nothing changed');
});

t.test('a page swapped with another or copied over another is detected', async (t) => {
  const base = tmp(t);
  const orig = path.join(base, 'orig');
  const st = await Storage.open(orig, { pageSize: PAGE, encryptionKey: KEY });
  await fill(st, 0, 1500);
  await st.close();
  const data = fs.readFileSync(path.join(orig, 'data.bdb'));
  const pages = data.length / PAGE;
  const catalog = data.readUInt32LE(44) || data.readUInt32LE(PAGE + 44);
  let detected = 0;
  const trials: Array<[number, number, boolean]> = [[catalog, 2 + ((catalog + 5) % (pages - 2)), true]];
  for (let i = 0; i < 12; i++) {
    const a = 2 + ((i * 37) % (pages - 2));
    const b = 2 + ((i * 53 + 11) % (pages - 2));
    if (a !== b) trials.push([a, b, i % 2 === 0]);
  }
  for (const [a, b, swap] of trials) {
    const dir = path.join(base, `${swap ? 'swap' : 'copy'}-${a}-${b}`);
    copyStore(orig, dir);
    const file = path.join(dir, 'data.bdb');
    const d = fs.readFileSync(file);
    const pa = Buffer.from(d.subarray(a * PAGE, (a + 1) * PAGE));
    if (swap) d.copy(d, a * PAGE, b * PAGE, (b + 1) * PAGE);
    pa.copy(d, b * PAGE);
    fs.writeFileSync(file, d);
    // Both pages still have valid crcs: only the page number bound into the GCM tag can tell.
    const e = await readAll(dir, 1500);
    if (e === undefined) continue; // both pages were free: nothing reads them
    t.ok(e instanceof CorruptionError, `${swap ? 'swap' : 'copy'} ${a}<->${b}: ${String(e)}`);
    if (e instanceof CorruptionError) {
      t.ok(e.page === a || e.page === b, `names page ${a} or ${b}`);
      t.match(e.message, /authentication failed/);
      detected++;
    }
  }
  t.ok(detected >= 3, `${detected} of ${trials.length} page moves touched live pages and were detected`);
});

t.test('WAL records altered or swapped are detected even with a recomputed crc', async (t) => {
  const base = tmp(t);
  const live = path.join(base, 'live');
  const st = await Storage.open(live, {
    pageSize: PAGE,
    encryptionKey: KEY,
    checkpointIntervalMs: 0,
    checkpointBytes: 1 << 30,
  });
  for (let i = 0; i < 30; i++) await st.transaction((tx) => tx.put('t', key(i), value(i % 7)));
  const image = path.join(base, 'image');
  copyStore(live, image);
  await st.close();
  const recs = walRecords(image);
  t.equal(recs.length, 30);
  const fixCrc = (buf: Buffer, off: number, len: number) =>
    buf.writeInt32LE(CRC32.buf(buf.subarray(off + 4, off + len)), off);

  // One ciphertext byte changed, crc fixed up.
  {
    const dir = path.join(base, 'alter');
    copyStore(image, dir);
    const r = recs[10];
    const file = path.join(dir, 'wal', path.basename(r.file));
    const buf = fs.readFileSync(file);
    buf[r.offset + 24 + 40] ^= 0x20;
    fixCrc(buf, r.offset, r.length);
    fs.writeFileSync(file, buf);
    const e = await Storage.open(dir, { encryptionKey: KEY }).then(
      (s) => s.close(),
      (err) => err,
    );
    t.ok(e instanceof CorruptionError, String(e));
    t.match(String(e), /lsn 11\) fails authentication/);
  }
  // Two records of equal length swapped (bodies only, LSN headers kept), crcs fixed up.
  {
    const dir = path.join(base, 'swap');
    copyStore(image, dir);
    const [a, b] = [recs[3], recs.find((r, i) => i > 3 && r.length === recs[3].length)!];
    t.ok(b, 'found two records of equal length');
    const file = path.join(dir, 'wal', path.basename(a.file));
    const buf = fs.readFileSync(file);
    const bodyA = Buffer.from(buf.subarray(a.offset + 24, a.offset + a.length));
    buf.copy(buf, a.offset + 24, b.offset + 24, b.offset + b.length);
    bodyA.copy(buf, b.offset + 24);
    fixCrc(buf, a.offset, a.length);
    fixCrc(buf, b.offset, b.length);
    fs.writeFileSync(file, buf);
    const e = await Storage.open(dir, { encryptionKey: KEY }).then(
      (s) => s.close(),
      (err) => err,
    );
    t.ok(e instanceof CorruptionError, String(e));
    t.match(String(e), /fails authentication/);
  }
});
