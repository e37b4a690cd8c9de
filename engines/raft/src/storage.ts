import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { EMPTY_BYTES, EMPTY_HARD_STATE, EMPTY_SNAPSHOT, entrySize } from './types.js';

/**
 * What the core reads from stable storage. Reads are synchronous: implementations keep the live part
 * of the log in memory and use the disk only for durability.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one when lo < hi, at most about `maxSize` bytes. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of entry `index`; the snapshot's index is answerable. Throws CompactedError/UnavailableError. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Keeps entries until the size budget is used, always at least one. */
export function limitSize(entries: Entry[], maxSize: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entrySize(entries[0]!);
  let n = 1;
  for (; n < entries.length; n++) {
    size += entrySize(entries[n]!);
    if (size > maxSize) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

/**
 * Storage in memory, the equivalent of etcd's MemoryStorage. `ents[0]` is a dummy entry holding the
 * index and term of the last snapshot, so that term(snapshotIndex) is answerable after compaction.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: EMPTY_BYTES }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /**
   * Rebuilds a storage from parts recovered elsewhere (the durable log on open): `base` is the
   * compaction point (index and term of the entry before `entries`), at or before the snapshot.
   */
  static fromParts(
    hardState: HardState,
    snapshot: Snapshot,
    base: { index: number; term: number },
    entries: readonly Entry[],
  ): MemoryStorage {
    const s = new MemoryStorage();
    entries.forEach((e, i) => {
      if (e.index !== base.index + 1 + i) throw new RangeError(`entry ${e.index} out of sequence`);
    });
    if (base.index > snapshot.metadata.index) {
      throw new RangeError(
        `compaction point ${base.index} beyond the snapshot at ${snapshot.metadata.index}`,
      );
    }
    s.hardState = hardState;
    s.snap = snapshot;
    s.ents = [{ term: base.term, index: base.index, type: 'normal', data: EMPTY_BYTES }, ...entries];
    return s;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  term(index: number): number {
    const offset = this.ents[0]!.index;
    if (index < offset) throw new CompactedError(index);
    if (index - offset >= this.ents.length) throw new UnavailableError(index);
    return this.ents[index - offset]!.term;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces everything with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    const have = this.snap.metadata.index;
    if (snap.metadata.index <= have) throw new SnapshotOutOfDateError(snap.metadata.index, have);
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'normal', data: EMPTY_BYTES }];
  }

  /** Records a snapshot of the state machine at applied index `index`; the log is kept until compact(). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const have = this.snap.metadata.index;
    if (index <= have) throw new SnapshotOutOfDateError(index, have);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Drops entries up to and including `compactIndex`, which must be covered by a snapshot. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError(compactIndex);
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex);
    if (compactIndex > this.snap.metadata.index) {
      throw new RangeError(`compact(${compactIndex}) beyond the snapshot at ${this.snap.metadata.index}`);
    }
    const keep = this.ents.slice(compactIndex - offset);
    const head = keep[0]!;
    keep[0] = { term: head.term, index: head.index, type: 'normal', data: EMPTY_BYTES };
    this.ents = keep;
  }

  /** Appends entries, replacing any conflicting suffix. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    // the part already covered by the snapshot is skipped
    const fresh = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = fresh[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) throw new UnavailableError(fresh[0]!.index);
    this.ents = this.ents.slice(0, offset).concat(fresh);
  }
}
