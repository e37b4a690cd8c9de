/** An ordered map keyed by stream ID (pending entries lists of consumer groups and consumers). */
import { cmpId, idText, MAX_ID, MIN_ID, type StreamID } from './stream-id.js';

const CHUNK = 256;

/**
 * An ordered map StreamID → V: a hash map keyed by the ID's text for lookups, plus the IDs in sorted
 * chunks for O(log n) seeks. (Not BigInt keys: V8 hashes a BigInt by its low digit only, so IDs that
 * share a sequence number would all collide.)
 */
export class IdIndex<V> {
  private readonly map = new Map<string, V>();
  private chunks: StreamID[][] = [];

  get size(): number {
    return this.map.size;
  }

  get(id: StreamID): V | undefined {
    return this.map.get(idText(id));
  }

  has(id: StreamID): boolean {
    return this.map.has(idText(id));
  }

  set(id: StreamID, v: V): void {
    const k = idText(id);
    if (!this.map.has(k)) this.insertId(id);
    this.map.set(k, v);
  }

  delete(id: StreamID): boolean {
    if (!this.map.delete(idText(id))) return false;
    const ci = this.chunkFor(id);
    const chunk = this.chunks[ci]!;
    chunk.splice(lowerBound(chunk, id), 1);
    if (chunk.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  first(): [StreamID, V] | undefined {
    const id = this.chunks[0]?.[0];
    return id === undefined ? undefined : [id, this.map.get(idText(id))!];
  }

  last(): [StreamID, V] | undefined {
    const c = this.chunks[this.chunks.length - 1];
    const id = c?.[c.length - 1];
    return id === undefined ? undefined : [id, this.map.get(idText(id))!];
  }

  /** The smallest entry with an ID >= `id`. */
  ceiling(id: StreamID): [StreamID, V] | undefined {
    for (let ci = this.chunkFor(id); ci < this.chunks.length; ci++) {
      const chunk = this.chunks[ci]!;
      const i = lowerBound(chunk, id);
      if (i < chunk.length) return [chunk[i]!, this.map.get(idText(chunk[i]!))!];
    }
    return undefined;
  }

  /** Entries with start <= ID <= end, ascending (do not modify the index while iterating). */
  *range(start: StreamID = MIN_ID, end: StreamID = MAX_ID): Generator<[StreamID, V]> {
    const first = this.chunkFor(start);
    for (let ci = first; ci < this.chunks.length; ci++) {
      const chunk = this.chunks[ci]!;
      for (let i = ci === first ? lowerBound(chunk, start) : 0; i < chunk.length; i++) {
        const id = chunk[i]!;
        if (cmpId(id, end) > 0) return;
        yield [id, this.map.get(idText(id))!];
      }
    }
  }

  /** Index of the chunk that holds (or would hold) `id`. */
  private chunkFor(id: StreamID): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid]!;
      if (cmpId(c[c.length - 1]!, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insertId(id: StreamID): void {
    if (this.chunks.length === 0) {
      this.chunks.push([id]);
      return;
    }
    const ci = this.chunkFor(id);
    const chunk = this.chunks[ci]!;
    chunk.splice(lowerBound(chunk, id), 0, id);
    if (chunk.length > CHUNK) this.chunks.splice(ci + 1, 0, chunk.splice(CHUNK >> 1));
  }
}

function lowerBound(a: readonly StreamID[], id: StreamID): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmpId(a[mid]!, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
