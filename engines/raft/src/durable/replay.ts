import { StorageCorruptionError } from '../errors.js';
import type { Entry, HardState } from '../types.js';
import { EMPTY_HARD_STATE } from '../types.js';
import type { LogRecord } from './records.js';

/** Term not known yet: the entries before a gap were deleted with their segment. */
const UNKNOWN_TERM = -1;

/**
 * Rebuilds the log state from records in write order: entries (a lower index replaces the suffix, as the
 * core's truncation did), hard states, snapshot marks and compaction points. After log compaction deleted
 * old segments, the first kept segment may start after a gap; a later compaction record must cover it.
 */
export class LogReplay {
  hardState: HardState = EMPTY_HARD_STATE;
  /** The entry before `entries` (the compaction point); its term is UNKNOWN_TERM inside a gap. */
  base = { index: 0, term: 0 };
  entries: Entry[] = [];
  snapshot = { index: 0, term: 0 };
  /** Highest entry index seen in the segment being replayed, for the compaction of whole segments. */
  maxEntryIndex = 0;

  private lastIndex(): number {
    return this.base.index + this.entries.length;
  }

  apply(file: string, offset: number, rec: LogRecord): void {
    switch (rec.kind) {
      case 'hardState':
        this.hardState = rec.hardState;
        return;
      case 'entry': {
        const e = rec.entry;
        this.maxEntryIndex = Math.max(this.maxEntryIndex, e.index);
        if (e.index <= this.base.index) return;
        if (e.index <= this.lastIndex() + 1) {
          this.entries.length = e.index - this.base.index - 1;
          this.entries.push(e);
        } else {
          this.base = { index: e.index - 1, term: UNKNOWN_TERM };
          this.entries = [e];
        }
        return;
      }
      case 'snapshot':
        if (rec.index < this.snapshot.index) {
          throw new StorageCorruptionError(
            file,
            offset,
            `snapshot mark ${rec.index} older than ${this.snapshot.index}`,
          );
        }
        this.snapshot = { index: rec.index, term: rec.term };
        if (rec.reset) {
          this.base = { index: rec.index, term: rec.term };
          this.entries = [];
        }
        return;
      case 'compact': {
        if (rec.index < this.base.index) return;
        if (rec.index === this.base.index) {
          this.base = { index: rec.index, term: rec.term };
          return;
        }
        if (rec.index > this.lastIndex()) {
          // the first kept segment restates the compaction point; the entries before it were deleted
          this.base = { index: rec.index, term: rec.term };
          this.entries = [];
          return;
        }
        const at = this.entries[rec.index - this.base.index - 1]!;
        if (at.term !== rec.term) {
          throw new StorageCorruptionError(
            file,
            offset,
            `compaction at ${rec.index} names term ${rec.term}, the log has ${at.term}`,
          );
        }
        this.entries = this.entries.slice(rec.index - this.base.index);
        this.base = { index: rec.index, term: rec.term };
        return;
      }
    }
  }

  /** Checks that the log is whole: no unresolved gap, and the snapshot mark agrees with the log. */
  finish(dir: string): void {
    if (this.base.term === UNKNOWN_TERM) {
      throw new StorageCorruptionError(dir, 0, `the log has a gap before index ${this.base.index + 1}`);
    }
    const s = this.snapshot;
    if (s.index > this.lastIndex()) {
      throw new StorageCorruptionError(
        dir,
        0,
        `snapshot at ${s.index} is beyond the log end ${this.lastIndex()}`,
      );
    }
    if (this.base.index > s.index) {
      throw new StorageCorruptionError(
        dir,
        0,
        `compaction point ${this.base.index} beyond the snapshot at ${s.index}`,
      );
    }
    const term =
      s.index === this.base.index ? this.base.term : this.entries[s.index - this.base.index - 1]!.term;
    if (s.index > 0 && term !== s.term) {
      throw new StorageCorruptionError(
        dir,
        0,
        `snapshot at ${s.index} has term ${s.term}, the log has ${term}`,
      );
    }
  }
}
