import { readFile } from 'node:fs/promises';
import { ByteReader, ByteWriter } from '../bytes.js';
import { readSnapshot, writeSnapshot } from '../codec.js';
import { StorageCorruptionError } from '../errors.js';
import type { Snapshot } from '../types.js';
import { writeFileAtomic } from './files.js';
import { crc32 } from './records.js';

// A snapshot file: magic "RSNP" | version u8 | crc32 u32 over the rest | snapshot (metadata, data).
const MAGIC = Buffer.from('RSNP');
const VERSION = 1;
const HEADER = 9;

const NAME = /^snap-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(index: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}.snap`;
}

/** The index a snapshot file name stands for, or undefined for other files. */
export function parseSnapshotFileName(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}

export async function writeSnapshotFile(path: string, snap: Snapshot): Promise<void> {
  const w = new ByteWriter(snap.data.length + 128);
  writeSnapshot(w, snap);
  const body = w.view();
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  header[4] = VERSION;
  header.writeUInt32BE(crc32(body), 5);
  await writeFileAtomic(path, [header, body]);
}

export async function readSnapshotFile(path: string): Promise<Snapshot> {
  const buf = await readFile(path);
  if (buf.length < HEADER || !buf.subarray(0, 4).equals(MAGIC)) {
    throw new StorageCorruptionError(path, 0, 'not a snapshot file (bad magic)');
  }
  if (buf[4] !== VERSION) throw new StorageCorruptionError(path, 4, `unsupported snapshot version ${buf[4]}`);
  const body = buf.subarray(HEADER);
  if (crc32(body) !== buf.readUInt32BE(5))
    throw new StorageCorruptionError(path, HEADER, 'checksum mismatch');
  try {
    const r = new ByteReader(body, 'snapshot file');
    const snap = readSnapshot(r);
    r.end();
    return snap;
  } catch (err) {
    throw new StorageCorruptionError(path, HEADER, `snapshot does not decode: ${(err as Error).message}`);
  }
}
