import * as fs from 'node:fs';
import * as path from 'node:path';
import CRC32 from 'crc-32';

// An independent reader of unencrypted bundoc files, written from FORMAT.md rather than from the engine's
// code. Tests use it to find pages of each type and WAL record boundaries, and to check that FORMAT.md
// describes what the engine really writes.

export const PAGE_TYPES = { branch: 2, leaf: 3, overflow: 4, catalog: 5 } as const;
export type PageKind = keyof typeof PAGE_TYPES;

export interface MetaInfo {
  slot: number;
  epoch: number;
  pageSize: number;
  checkpointLsn: number;
  pageCount: number;
  blobHead: number;
  blobLength: number;
  nextSegment: number;
}

export function readMeta(file: string, slot: number, pageSize: number): MetaInfo | undefined {
  const b = Buffer.alloc(128);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, b, 0, 128, slot * pageSize);
  } finally {
    fs.closeSync(fd);
  }
  if (b.toString('latin1', 4, 12) !== 'BUNDOCDB') return undefined;
  if (b.readInt32LE(0) !== CRC32.buf(b.subarray(4, 128))) return undefined;
  return {
    slot,
    pageSize: b.readUInt32LE(16),
    epoch: b.readDoubleLE(24),
    checkpointLsn: b.readDoubleLE(32),
    pageCount: b.readUInt32LE(40),
    blobHead: b.readUInt32LE(44),
    blobLength: b.readUInt32LE(48),
    nextSegment: b.readDoubleLE(52),
  };
}

/** The newest valid meta page. */
export function newestMeta(file: string, pageSize: number): MetaInfo {
  const metas = [0, 1].map((s) => readMeta(file, s, pageSize)).filter((m): m is MetaInfo => !!m);
  if (metas.length === 0) throw new Error('no valid meta page');
  return metas.reduce((a, b) => (b.epoch > a.epoch ? b : a));
}

/** Logical bytes of page `pgno` after checking its crc (unencrypted stores). */
function logical(data: Buffer, pgno: number, pageSize: number): Buffer {
  const page = data.subarray(pgno * pageSize, (pgno + 1) * pageSize);
  if (page.readInt32LE(0) !== CRC32.buf(page.subarray(4))) throw new Error(`page ${pgno}: bad crc`);
  const l = page.subarray(4);
  if (l.readUInt32LE(4) !== pgno) throw new Error(`page ${pgno}: header names page ${l.readUInt32LE(4)}`);
  return l;
}

function readChain(data: Buffer, head: number, length: number, pageSize: number, pages: number[]): Buffer {
  const parts: Buffer[] = [];
  let got = 0;
  for (let p = head; p !== 0; ) {
    const l = logical(data, p, pageSize);
    pages.push(p);
    const next = l.readUInt32LE(16);
    const len = l.readUInt32LE(20);
    parts.push(l.subarray(24, 24 + len));
    got += len;
    p = next;
  }
  if (got !== length) throw new Error(`chain at ${head}: ${got} bytes, expected ${length}`);
  return Buffer.concat(parts);
}

export interface StoreMap {
  meta: MetaInfo;
  /** Reachable pages by kind (catalog: the checkpoint blob chain). */
  pages: Record<PageKind, number[]>;
  trees: Map<string, Map<string, Buffer>>;
  free: number[];
  held: number[];
}

/** Walks the newest checkpoint of an unencrypted store: catalog, every tree, every overflow chain. */
export function mapStore(dir: string, pageSize: number): StoreMap {
  const file = path.join(dir, 'data.bdb');
  const data = fs.readFileSync(file);
  const meta = newestMeta(file, pageSize);
  const pages: Record<PageKind, number[]> = { branch: [], leaf: [], overflow: [], catalog: [] };
  const trees = new Map<string, Map<string, Buffer>>();
  let free: number[] = [];
  let held: number[] = [];
  if (meta.blobHead === 0) return { meta, pages, trees, free, held };
  const blob = readChain(data, meta.blobHead, meta.blobLength, pageSize, pages.catalog);
  let o = 0;
  const nt = blob.readUInt32LE(o);
  o += 4;
  const roots: Array<[string, number]> = [];
  for (let i = 0; i < nt; i++) {
    const len = blob.readUInt16LE(o);
    roots.push([blob.toString('utf8', o + 2, o + 2 + len), blob.readUInt32LE(o + 2 + len)]);
    o += 6 + len;
  }
  const lists: number[][] = [];
  for (let l = 0; l < 3; l++) {
    const n = blob.readUInt32LE(o);
    o += 4;
    lists.push(Array.from({ length: n }, (_, i) => blob.readUInt32LE(o + 4 * i)));
    o += 4 * n;
  }
  [, free, held] = lists;
  for (const [name, root] of roots) {
    const entries = new Map<string, Buffer>();
    const visit = (pgno: number) => {
      const l = logical(data, pgno, pageSize);
      const count = l.readUInt16LE(2);
      let p = 16;
      if (l[0] === PAGE_TYPES.branch) {
        pages.branch.push(pgno);
        const children = [l.readUInt32LE(p)];
        p += 4;
        for (let i = 0; i < count; i++) {
          p += 2 + l.readUInt16LE(p);
          children.push(l.readUInt32LE(p));
          p += 4;
        }
        for (const c of children) visit(c);
        return;
      }
      if (l[0] !== PAGE_TYPES.leaf) throw new Error(`page ${pgno}: type ${l[0]} in a tree`);
      pages.leaf.push(pgno);
      for (let i = 0; i < count; i++) {
        const klen = l.readUInt16LE(p);
        const key = l.toString('hex', p + 2, p + 2 + klen);
        p += 2 + klen;
        const flag = l[p];
        const vlen = l.readUInt32LE(p + 1);
        if (flag === 1) {
          entries.set(key, readChain(data, l.readUInt32LE(p + 5), vlen, pageSize, pages.overflow));
          p += 9;
        } else {
          entries.set(key, Buffer.from(l.subarray(p + 5, p + 5 + vlen)));
          p += 5 + vlen;
        }
      }
    };
    visit(root);
    trees.set(name, entries);
  }
  return { meta, pages, trees, free, held };
}

export interface WalRecordInfo {
  file: string;
  offset: number;
  length: number;
  lsn: number;
  synced: number;
}

/** Record boundaries of every segment in wal/, in order (stops at the first invalid record). */
export function walRecords(dir: string): WalRecordInfo[] {
  const walDir = path.join(dir, 'wal');
  const out: WalRecordInfo[] = [];
  for (const name of fs.readdirSync(walDir).sort()) {
    const buf = fs.readFileSync(path.join(walDir, name));
    if (buf.toString('latin1', 0, 8) !== 'BDWAL001') continue;
    let off = 32;
    while (off + 24 <= buf.length) {
      const len = buf.readUInt32LE(off + 4);
      if (off + 24 + len > buf.length) break;
      if (buf.readInt32LE(off) !== CRC32.buf(buf.subarray(off + 4, off + 24 + len))) break;
      out.push({
        file: path.join(walDir, name),
        offset: off,
        length: 24 + len,
        lsn: buf.readDoubleLE(off + 8),
        synced: buf.readDoubleLE(off + 16),
      });
      off += 24 + len;
    }
  }
  return out;
}

export interface WalBodyOp {
  kind: 'put' | 'delete' | 'drop' | 'insert' | 'touch' | 'absent' | 'put-before' | 'delete-before';
  tree: string;
  key?: Buffer;
  value?: Buffer;
  /** Kinds 7 and 8: the value the change replaced. */
  before?: Buffer;
}

/** A plaintext record body by FORMAT.md §7.2: the operations and the commit time (0 when absent). */
export function walBody(record: Buffer): { ops: WalBodyOp[]; time: number } {
  const body = record.subarray(24);
  const kinds = [
    '',
    'put',
    'delete',
    'drop',
    'insert',
    'touch',
    'absent',
    'put-before',
    'delete-before',
  ] as const;
  const count = body.readUInt32LE(0);
  const ops: WalBodyOp[] = [];
  let off = 4;
  for (let i = 0; i < count; i++) {
    const kind = kinds[body[off]!];
    if (!kind) throw new Error(`unknown op kind ${body[off]}`);
    const t = body.readUInt16LE(off + 1);
    const tree = body.toString('utf8', off + 3, off + 3 + t);
    off += 3 + t;
    const op: WalBodyOp = { kind, tree };
    if (kind !== 'drop') {
      const k = body.readUInt16LE(off);
      op.key = body.subarray(off + 2, off + 2 + k);
      off += 2 + k;
    }
    if (kind === 'put' || kind === 'insert' || kind === 'touch' || kind === 'put-before') {
      const v = body.readUInt32LE(off);
      op.value = body.subarray(off + 4, off + 4 + v);
      off += 4 + v;
    }
    if (kind === 'put-before' || kind === 'delete-before') {
      const v = body.readUInt32LE(off);
      op.before = body.subarray(off + 4, off + 4 + v);
      off += 4 + v;
    }
    ops.push(op);
  }
  const time = off === body.length ? 0 : body.readDoubleLE(off);
  if (off !== body.length && off + 8 !== body.length) throw new Error('trailing bytes in a record body');
  return { ops, time };
}

/** Copies a store directory as a crash would leave it (without the dead owner's lock file). */
export function copyStore(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, filter: (src) => path.basename(src) !== 'LOCK' });
}

/** Every file under `dir` with its bytes, for before/after comparisons. */
export function dirBytes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.set(`${r}/`, '');
        walk(p, r);
      } else out.set(r, fs.readFileSync(p).toString('base64'));
    }
  };
  walk(dir, '');
  return out;
}

export function flipByte(file: string, offset: number, mask = 0x5a): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, offset);
    b[0] ^= mask;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}
