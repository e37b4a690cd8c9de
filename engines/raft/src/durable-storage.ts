import { type FileHandle, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteWriter } from './bytes.js';
import { isTempFile, syncDir, writeFileAtomic } from './durable/files.js';
import { encodeRecord, type LogRecord, scanSegment } from './durable/records.js';
import { LogReplay } from './durable/replay.js';
import {
  parseSnapshotFileName,
  readSnapshotFile,
  snapshotFileName,
  writeSnapshotFile,
} from './durable/snapshot-file.js';
import {
  RaftError,
  SnapshotOutOfDateError,
  StorageCorruptionError,
  StorageFailedError,
  UnavailableError,
} from './errors.js';
import type { HostStorage, StorageUpdate } from './host-storage.js';
import { MemoryStorage } from './storage.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { EMPTY_SNAPSHOT, isEmptyHardState } from './types.js';

export interface DurableStorageOptions {
  /** A segment that grows past this many bytes is closed and a new one started. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Largest record accepted when reading (an entry with its payload). Default 256 MiB. */
  readonly maxRecordBytes?: number;
}

/** What open() found and repaired, for logs and tests. */
export interface RecoveryReport {
  readonly segments: number;
  /** A torn tail cut from the last segment: the file and the number of bytes dropped. */
  readonly tornTail?: { readonly file: string; readonly offset: number; readonly bytes: number };
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Highest entry index written into this segment; the segment may go once compaction passes it. */
  maxEntryIndex: number;
}

const SEGMENT_NAME = /^log-([0-9a-f]{16})\.seg$/;

function segmentName(seq: number): string {
  return `log-${seq.toString(16).padStart(16, '0')}.seg`;
}

/**
 * A file-backed Raft log. Everything lives in one directory: segments `log-<seq>.seg` of checksummed
 * records (entries, hard states, snapshot marks, compaction points) and the current snapshot
 * `snap-<index>.snap`. The live log is also kept in memory, so the core reads synchronously; writes go
 * through async fs (never blocking the event loop) and are fsynced before `save` resolves.
 *
 * Hard state is a record in the same log as the entries, as in etcd's WAL: one fsync covers both, and a
 * torn record simply falls back to the previous hard state. On open, a damaged tail of the last segment
 * that no valid record follows is a torn write and is cut; any other damage is a StorageCorruptionError.
 */
export class DurableStorage implements HostStorage {
  private failed: unknown;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly dir: string,
    private mem: MemoryStorage,
    private readonly segments: Segment[],
    private fh: FileHandle,
    private size: number,
    private readonly segmentBytes: number,
    readonly recovery: RecoveryReport,
  ) {}

  static async open(dir: string, options: DurableStorageOptions = {}): Promise<DurableStorage> {
    const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    const maxRecordBytes = options.maxRecordBytes ?? 256 * 1024 * 1024;
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    for (const n of names) if (isTempFile(n)) await rm(join(dir, n), { force: true });
    const segments: Segment[] = names
      .map((n) => SEGMENT_NAME.exec(n))
      .filter((m) => m !== null)
      .map((m) => ({ seq: Number.parseInt(m[1]!, 16), path: join(dir, m[0]), maxEntryIndex: 0 }))
      .sort((a, b) => a.seq - b.seq);

    const replay = new LogReplay();
    let tornTail: RecoveryReport['tornTail'];
    let lastSize = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      const buf = await readFile(seg.path);
      const scan = scanSegment(seg.path, buf, isLast, maxRecordBytes);
      replay.maxEntryIndex = 0;
      for (const { record, offset } of scan.records) replay.apply(seg.path, offset, record);
      seg.maxEntryIndex = replay.maxEntryIndex;
      if (scan.tornAt !== undefined) {
        tornTail = { file: seg.path, offset: scan.tornAt, bytes: buf.length - scan.tornAt };
        const fh = await open(seg.path, 'r+');
        try {
          await fh.truncate(scan.tornAt);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      if (isLast) lastSize = scan.validEnd;
    }
    replay.finish(dir);

    let snapshot: Snapshot = EMPTY_SNAPSHOT;
    if (replay.snapshot.index > 0) {
      const path = join(dir, snapshotFileName(replay.snapshot.index));
      try {
        snapshot = await readSnapshotFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new StorageCorruptionError(path, 0, 'snapshot file named by the log is missing');
        }
        throw err;
      }
      if (
        snapshot.metadata.index !== replay.snapshot.index ||
        snapshot.metadata.term !== replay.snapshot.term
      ) {
        throw new StorageCorruptionError(
          path,
          0,
          `snapshot file holds ${snapshot.metadata.index}/${snapshot.metadata.term}, the log names ${replay.snapshot.index}/${replay.snapshot.term}`,
        );
      }
    }
    // snapshot files other than the current one are older ones or orphans of a crash before their mark
    for (const n of names) {
      const idx = parseSnapshotFileName(n);
      if (idx !== undefined && idx !== replay.snapshot.index) await rm(join(dir, n), { force: true });
    }
    const mem = MemoryStorage.fromParts(replay.hardState, snapshot, replay.base, replay.entries);

    if (segments.length === 0) {
      const seg: Segment = { seq: 1, path: join(dir, segmentName(1)), maxEntryIndex: 0 };
      await writeFileAtomic(seg.path, new Uint8Array(0));
      segments.push(seg);
      lastSize = 0;
    }
    const fh = await open(segments[segments.length - 1]!.path, 'r+');
    const recovery: RecoveryReport = { segments: segments.length, ...(tornTail ? { tornTail } : {}) };
    return new DurableStorage(dir, mem, segments, fh, lastSize, segmentBytes, recovery);
  }

  // ---- Storage: synchronous reads from memory ----------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.mem.initialState();
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.mem.entries(lo, hi, maxSize);
  }
  term(index: number): number {
    return this.mem.term(index);
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  /** Number of segment files (tests and metrics). */
  segmentCount(): number {
    return this.segments.length;
  }

  // ---- persisting -------------------------------------------------------------------------------

  /** Runs `fn` after every earlier call; a failure poisons the storage, since the disk state is unknown. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new RaftError('STORAGE_CLOSED', 'storage is closed');
      if (this.failed !== undefined) throw new StorageFailedError(this.failed);
      try {
        return await fn();
      } catch (err) {
        // bad arguments change nothing; anything else leaves the files in an unknown state
        if (!(err instanceof RaftError) && !(err instanceof RangeError)) this.failed = err;
        throw err;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  save(update: StorageUpdate, sync: boolean): Promise<void> {
    return this.enqueue(async () => {
      if (update.snapshot) await this.installSnapshot(update.snapshot);
      const w = new ByteWriter(1024);
      const seg = this.segments[this.segments.length - 1]!;
      if (update.entries && update.entries.length > 0) {
        this.mem.append(update.entries);
        for (const entry of update.entries) {
          encodeRecord(w, { kind: 'entry', entry });
          if (entry.index > seg.maxEntryIndex) seg.maxEntryIndex = entry.index;
        }
      }
      if (update.hardState) {
        this.mem.setHardState(update.hardState);
        encodeRecord(w, { kind: 'hardState', hardState: update.hardState });
      }
      if (w.length > 0) await this.write(w.view(), sync);
      if (this.size >= this.segmentBytes) await this.rollover(false);
    });
  }

  /**
   * Writes the snapshot file first, outside the queue: it can be large, and saves (the group's log
   * writes) must go on meanwhile. Only the mark in the log and the switch to the new snapshot are
   * queued. A file whose mark was never written (a crash in between) is an orphan deleted at open.
   */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    if (this.closed) throw new RaftError('STORAGE_CLOSED', 'storage is closed');
    if (this.failed !== undefined) throw new StorageFailedError(this.failed);
    const have = this.mem.snapshot().metadata.index;
    if (index <= have) throw new SnapshotOutOfDateError(index, have);
    if (index > this.mem.lastIndex()) throw new UnavailableError(index);
    const file = join(this.dir, snapshotFileName(index));
    const snap: Snapshot = { metadata: { index, term: this.mem.term(index), confState }, data };
    try {
      await writeSnapshotFile(file, snap);
    } catch (err) {
      if (!(err instanceof RaftError)) this.failed ??= err;
      throw err;
    }
    try {
      return await this.enqueue(async () => {
        const old = this.mem.snapshot().metadata.index;
        const made = this.mem.createSnapshot(index, confState, data);
        await this.writeRecords([{ kind: 'snapshot', index, term: made.metadata.term, reset: false }]);
        if (old > 0) await rm(join(this.dir, snapshotFileName(old)), { force: true });
        return made;
      });
    } catch (err) {
      // refused (a newer snapshot arrived meanwhile): the file is nobody's
      if (err instanceof RaftError && !(err instanceof StorageFailedError))
        await rm(file, { force: true }).catch(() => {});
      throw err;
    }
  }

  compact(index: number): Promise<void> {
    return this.enqueue(async () => {
      const term = this.mem.term(index);
      this.mem.compact(index);
      await this.writeRecords([{ kind: 'compact', index, term }]);
      // whole segments go, oldest first, once everything they hold is compacted; the last one stays
      let removed = 0;
      while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= index) {
        await rm(this.segments.shift()!.path, { force: true });
        removed++;
      }
      if (removed > 0) await syncDir(this.dir);
    });
  }

  close(): Promise<void> {
    const p = this.queue.then(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.fh.close();
    });
    this.queue = p.catch(() => {});
    return p;
  }

  /** A snapshot from the leader replaces the log: file first, then a new segment that starts from it. */
  private async installSnapshot(snap: Snapshot): Promise<void> {
    const old = this.mem.snapshot().metadata.index;
    this.mem.applySnapshot(snap);
    await writeSnapshotFile(join(this.dir, snapshotFileName(snap.metadata.index)), snap);
    await this.rollover(true);
    // every older segment holds only entries the snapshot replaced
    while (this.segments.length > 1) await rm(this.segments.shift()!.path, { force: true });
    if (old > 0) await rm(join(this.dir, snapshotFileName(old)), { force: true });
    await syncDir(this.dir);
  }

  private async writeRecords(records: readonly LogRecord[]): Promise<void> {
    const w = new ByteWriter(64);
    for (const r of records) encodeRecord(w, r);
    await this.write(w.view(), true);
  }

  private async write(buf: Uint8Array, sync: boolean): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.size + off);
      off += bytesWritten;
    }
    this.size += buf.length;
    if (sync) await this.fh.datasync();
  }

  /**
   * Starts a new segment whose first records restate the hard state, the snapshot and the compaction
   * point, so that older segments can be deleted without losing them.
   */
  private async rollover(reset: boolean): Promise<void> {
    const records: LogRecord[] = [];
    const { hardState } = this.mem.initialState();
    if (!isEmptyHardState(hardState)) records.push({ kind: 'hardState', hardState });
    const snap = this.mem.snapshot().metadata;
    if (snap.index > 0) records.push({ kind: 'snapshot', index: snap.index, term: snap.term, reset });
    const base = this.mem.firstIndex() - 1;
    if (!reset && base > 0) records.push({ kind: 'compact', index: base, term: this.mem.term(base) });
    const w = new ByteWriter(256);
    for (const r of records) encodeRecord(w, r);
    const last = this.segments[this.segments.length - 1]!;
    const seg: Segment = {
      seq: last.seq + 1,
      path: join(this.dir, segmentName(last.seq + 1)),
      maxEntryIndex: 0,
    };
    await writeFileAtomic(seg.path, w.view());
    const fh = await open(seg.path, 'r+');
    await this.fh.close();
    this.fh = fh;
    this.size = w.length;
    this.segments.push(seg);
  }
}
