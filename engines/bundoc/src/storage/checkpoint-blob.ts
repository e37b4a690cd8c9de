/** What a checkpoint stores besides pages: the tree catalog, detached roots and the free list. */
export interface CheckpointBlob {
  trees: Array<[string, number]>;
  /** Roots of dropped trees whose pages are freed on the next open. */
  detached: number[];
  /** Free pages. */
  free: number[];
  /** Pages only the previous checkpoint uses: free once the next checkpoint is durable. */
  held: number[];
}

/**
 * u32 tree count, (u16 name length, name UTF-8, u32 root)*, then three page lists (detached, free,
 * held), each a u32 count followed by u32 page numbers; zero padding to the end of the last page.
 */
export function encodeBlob(b: CheckpointBlob): Buffer {
  const names = b.trees.map(([n]) => Buffer.from(n, 'utf8'));
  let size = 16 + 4 * (b.detached.length + b.free.length + b.held.length);
  for (const n of names) size += 6 + n.length;
  const out = Buffer.alloc(size);
  let o = 0;
  out.writeUInt32LE(b.trees.length, o);
  o += 4;
  for (let i = 0; i < names.length; i++) {
    out.writeUInt16LE(names[i].length, o);
    names[i].copy(out, o + 2);
    o += 2 + names[i].length;
    out.writeUInt32LE(b.trees[i][1], o);
    o += 4;
  }
  for (const list of [b.detached, b.free, b.held]) {
    out.writeUInt32LE(list.length, o);
    o += 4;
    for (const p of list) {
      out.writeUInt32LE(p, o);
      o += 4;
    }
  }
  return out;
}

export function blobSize(treeNamesBytes: number, trees: number, detached: number, pages: number): number {
  return 16 + 6 * trees + treeNamesBytes + 4 * (detached + pages);
}

/** Throws a plain Error with the reason when the bytes do not parse. */
export function decodeBlob(buf: Buffer): CheckpointBlob {
  let o = 0;
  const need = (n: number) => {
    if (o + n > buf.length) throw new Error('checkpoint catalog truncated');
  };
  need(4);
  const nt = buf.readUInt32LE(o);
  o += 4;
  const trees: Array<[string, number]> = [];
  for (let i = 0; i < nt; i++) {
    need(2);
    const len = buf.readUInt16LE(o);
    need(6 + len);
    trees.push([buf.toString('utf8', o + 2, o + 2 + len), buf.readUInt32LE(o + 2 + len)]);
    o += 6 + len;
  }
  const lists: number[][] = [];
  for (let l = 0; l < 3; l++) {
    need(4);
    const n = buf.readUInt32LE(o);
    o += 4;
    need(4 * n);
    const list: number[] = new Array(n);
    for (let i = 0; i < n; i++) list[i] = buf.readUInt32LE(o + 4 * i);
    o += 4 * n;
    lists.push(list);
  }
  // The catalog is zero-padded to fill its last page.
  for (let i = o; i < buf.length; i++)
    if (buf[i] !== 0) throw new Error('checkpoint catalog has trailing bytes');
  return { trees, detached: lists[0], free: lists[1], held: lists[2] };
}
