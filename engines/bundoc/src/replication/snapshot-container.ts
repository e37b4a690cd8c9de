import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import CRC32 from 'crc-32';
import { syncDir } from '../storage/fsync-observer.js';
import { CorruptReplicationDataError } from './errors.js';

/**
 * A raft snapshot of a replicated store: the files of a `Storage.backup()` directory packed into one
 * byte array (raft ships and stores snapshots as bytes).
 *
 * Layout (big-endian): magic "BDRSNAP1" (8 bytes), applied index u64 (the raft index the store reflects),
 * entry count u32; per entry: kind u8 (0 file, 1 directory), path length u16, path (UTF-8, relative,
 * '/'-separated), size u64, crc-32 of the content u32, content; then crc-32 of everything before, u32.
 */
const MAGIC = Buffer.from('BDRSNAP1', 'latin1');
const HEADER = 8 + 8 + 4;

interface Item {
  readonly kind: 0 | 1;
  readonly rel: string;
  readonly content: Buffer;
}

async function walk(root: string, rel: string, out: Item[]): Promise<void> {
  const names = (await fsp.readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const d of names) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) {
      out.push({ kind: 1, rel: r, content: Buffer.alloc(0) });
      await walk(root, r, out);
    } else if (d.isFile()) {
      out.push({ kind: 0, rel: r, content: await fsp.readFile(path.join(root, r)) });
    }
  }
}

/** Packs every file and directory under `dir`. */
export async function packDirectory(dir: string, applied: number): Promise<Uint8Array> {
  const items: Item[] = [];
  await walk(dir, '', items);
  let size = HEADER + 4;
  const names = items.map((i) => Buffer.from(i.rel, 'utf8'));
  items.forEach((it, i) => {
    size += 1 + 2 + names[i].length + 8 + 4 + it.content.length;
  });
  const b = Buffer.alloc(size);
  let o = MAGIC.copy(b, 0);
  o = b.writeBigUInt64BE(BigInt(applied), o);
  o = b.writeUInt32BE(items.length, o);
  items.forEach((it, i) => {
    o = b.writeUInt8(it.kind, o);
    o = b.writeUInt16BE(names[i].length, o);
    o += names[i].copy(b, o);
    o = b.writeBigUInt64BE(BigInt(it.content.length), o);
    o = b.writeInt32BE(CRC32.buf(it.content), o);
    o += it.content.copy(b, o);
  });
  b.writeInt32BE(CRC32.buf(b.subarray(0, o)), o);
  return b;
}

function bad(why: string): CorruptReplicationDataError {
  return new CorruptReplicationDataError(`store snapshot: ${why}`);
}

function view(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Checks the container's checksum and returns the raft index its store reflects. */
export function snapshotAppliedIndex(data: Uint8Array): number {
  const b = view(data);
  if (b.length < HEADER + 4 || !b.subarray(0, 8).equals(MAGIC)) throw bad('not a bundoc store snapshot');
  const end = b.length - 4;
  if (b.readInt32BE(end) !== CRC32.buf(b.subarray(0, end))) throw bad('checksum mismatch');
  return Number(b.readBigUInt64BE(8));
}

function safeRelative(rel: string): boolean {
  if (rel.length === 0 || rel.startsWith('/') || rel.includes('\\') || rel.includes('\0')) return false;
  return rel.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/**
 * Writes the packed files into `dir` (which must not exist), each fsynced, then the directories. Every
 * checksum and path is verified before the first byte is written.
 */
export async function unpackDirectory(data: Uint8Array, dir: string): Promise<void> {
  snapshotAppliedIndex(data);
  const b = view(data);
  const end = b.length - 4;
  const count = b.readUInt32BE(16);
  const items: Item[] = [];
  let o = HEADER;
  for (let i = 0; i < count; i++) {
    if (o + 3 > end) throw bad('truncated');
    const kind = b[o];
    const nameLen = b.readUInt16BE(o + 1);
    o += 3;
    if (kind > 1) throw bad(`unknown entry kind ${kind}`);
    if (o + nameLen + 12 > end) throw bad('truncated');
    const rel = b.toString('utf8', o, o + nameLen);
    o += nameLen;
    const size = Number(b.readBigUInt64BE(o));
    const crc = b.readInt32BE(o + 8);
    o += 12;
    if (o + size > end) throw bad('truncated');
    const content = b.subarray(o, o + size);
    o += size;
    if (!safeRelative(rel)) throw bad(`unsafe path ${JSON.stringify(rel)}`);
    if (CRC32.buf(content) !== crc) throw bad(`checksum mismatch in ${rel}`);
    items.push({ kind: kind as 0 | 1, rel, content });
  }
  if (o !== end) throw bad('trailing bytes');
  await fsp.mkdir(dir);
  const dirs = new Set<string>([dir]);
  for (const it of items) {
    const p = path.join(dir, ...it.rel.split('/'));
    if (it.kind === 1) {
      await fsp.mkdir(p, { recursive: true });
      dirs.add(p);
      continue;
    }
    await fsp.mkdir(path.dirname(p), { recursive: true });
    dirs.add(path.dirname(p));
    const fh = await fsp.open(p, 'wx');
    try {
      await fh.writeFile(it.content);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  // deepest first, so each directory's entry in its parent is synced after its own contents
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) await syncDir(d);
}
