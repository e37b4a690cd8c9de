/**
 * SCAN-family cursors. Redis's cursor walks hash buckets; ours maps a cursor number to a live iterator
 * (JS Map iterators survive inserts and deletes), so a full iteration returns every element present
 * throughout, as Redis guarantees. Unknown or forgotten cursors end the iteration.
 */

const MAX_CURSORS = 10_000;

export class ScanCursors {
  private readonly open = new Map<number, Iterator<string>>();
  private next = 1;

  /** Returns the iterator for a cursor (0 starts a new one from `source`), or null if unknown. */
  resume(cursor: number, source: () => Iterator<string>): Iterator<string> | null {
    if (cursor === 0) return source();
    const it = this.open.get(cursor);
    if (!it) return null;
    this.open.delete(cursor);
    return it;
  }

  /** Parks an unfinished iterator and returns its cursor number. */
  park(it: Iterator<string>): number {
    if (this.open.size >= MAX_CURSORS) {
      const oldest = this.open.keys().next().value!;
      this.open.delete(oldest);
    }
    const id = this.next++;
    if (this.next > 2 ** 52) this.next = 1;
    this.open.set(id, it);
    return id;
  }
}
