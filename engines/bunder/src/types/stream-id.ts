/** Stream entry IDs: two unsigned 64-bit integers, their order, successor/predecessor and text. */

/** A stream entry ID: two unsigned 64-bit integers. */
export interface StreamID {
  readonly ms: bigint;
  readonly seq: bigint;
}

export const U64_MAX = 0xffffffffffffffffn;
export const MIN_ID: StreamID = { ms: 0n, seq: 0n };
export const MAX_ID: StreamID = { ms: U64_MAX, seq: U64_MAX };

export function cmpId(a: StreamID, b: StreamID): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

export function isZeroId(id: StreamID): boolean {
  return id.ms === 0n && id.seq === 0n;
}

export function idText(id: StreamID): string {
  return `${id.ms}-${id.seq}`;
}

/** The next ID (streamIncrID); null when `id` is the largest possible one. */
export function incrId(id: StreamID): StreamID | null {
  if (id.seq === U64_MAX) {
    if (id.ms === U64_MAX) return null;
    return { ms: id.ms + 1n, seq: 0n };
  }
  return { ms: id.ms, seq: id.seq + 1n };
}

/** The previous ID (streamDecrID); null when `id` is 0-0. */
export function decrId(id: StreamID): StreamID | null {
  if (id.seq === 0n) {
    if (id.ms === 0n) return null;
    return { ms: id.ms - 1n, seq: U64_MAX };
  }
  return { ms: id.ms, seq: id.seq - 1n };
}
