import { writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from './checksum.js';
import { CRYPTO_BYTES, WAL_DIR } from './constants.js';
import { type Cipher, walAad } from './crypto.js';
import { CorruptionError, HistoryUnavailableError, StoreFailedError } from './errors.js';
import { syncDir, syncFile, syncFileNow } from './fsync-observer.js';

export type Durability = 'full' | 'normal' | 'off';

const SEG_MAGIC = Buffer.from('BDWAL001', 'latin1');
export const SEG_HEADER = 32;
export const REC_HEADER = 24;
const NORMAL_SYNC_MS = 100;
/**
 * The current segment is extended with zeros 64 KiB ahead of its records: an fdatasync that must also
 * commit a new file size costs ~160 µs here, one within the file's allocated length ~110 µs, so only
 * one commit in every 64 KiB of log pays for the size change. Segments are cut back to their records
 * when closed; an open store holds at most 64 KiB of zeros.
 */
const PREALLOC_STEP = 64 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);

export interface WalRecord {
  lsn: number;
  body: Buffer;
}

interface Segment {
  no: number;
  file: string;
  firstLsn: number;
  lastLsn: number;
  /** Bytes of header and records (the logical end of the segment). */
  size: number;
  /** Length of the file: size plus zeros written ahead (the current segment only). */
  allocated: number;
  /** The file's path, once a sync needed it. */
  path?: string;
}

interface Waiter {
  lsn: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export function segmentName(no: number): string {
  return `${no.toString(16).padStart(16, '0')}.wal`;
}

function parseSegmentName(name: string): number | undefined {
  const m = /^([0-9a-f]{16})\.wal$/.exec(name);
  return m ? Number.parseInt(m[1], 16) : undefined;
}

function encodeSegmentHeader(no: number, firstLsn: number): Buffer {
  const b = Buffer.alloc(SEG_HEADER);
  SEG_MAGIC.copy(b, 0);
  b.writeDoubleLE(no, 8);
  b.writeDoubleLE(firstLsn, 16);
  b.writeInt32LE(crc32(b.subarray(0, 28)), 28);
  return b;
}

/** Record: crc32 u32 (over bytes 4..end) | body length u32 | lsn f64 | synced lsn f64 | body. */
function decodeRecordAt(
  buf: Buffer,
  off: number,
): { lsn: number; synced: number; body: Buffer; end: number } | undefined {
  if (off + REC_HEADER > buf.length) return undefined;
  const len = buf.readUInt32LE(off + 4);
  const end = off + REC_HEADER + len;
  if (end > buf.length) return undefined;
  if (buf.readInt32LE(off) !== crc32(buf.subarray(off + 4, end))) return undefined;
  return {
    lsn: buf.readDoubleLE(off + 8),
    synced: buf.readDoubleLE(off + 16),
    body: buf.subarray(off + REC_HEADER, end),
    end,
  };
}

/** The offset just past the last non-zero byte of buf[from..]: the zeros written ahead start there. */
function dataEnd(buf: Buffer, from: number): number {
  let end = buf.length;
  // Whole 4 KiB blocks of zeros first (Buffer.compare is native), then byte by byte.
  const block = ZEROS.subarray(0, 4096);
  while (end - 4096 >= from && buf.compare(block, 0, 4096, end - 4096, end) === 0) end -= 4096;
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}

/** Header of a segment file: its size, and its first LSN when the header is intact. */
async function readSegmentHeader(
  file: string,
  no: number,
): Promise<{ size: number; firstLsn: number | undefined }> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const h = Buffer.alloc(SEG_HEADER);
    const { bytesRead } = await fh.read(h, 0, SEG_HEADER, 0);
    const ok =
      bytesRead === SEG_HEADER &&
      h.subarray(0, 8).equals(SEG_MAGIC) &&
      h.readInt32LE(28) === crc32(h.subarray(0, 28)) &&
      h.readDoubleLE(8) === no;
    return { size, firstLsn: ok ? h.readDoubleLE(16) : undefined };
  } finally {
    await fh.close();
  }
}

/**
 * An invalid record at the end of the last segment is a torn tail only if nothing after it proves it
 * had been made durable: every record carries the LSN known to be fsynced when it was written, so a
 * later valid record with synced >= the missing LSN means acknowledged data was damaged — that must
 * fail loudly, never be silently dropped.
 */
function assertTorn(buf: Buffer, off: number, missingLsn: number, rel: string, end: number): void {
  // A record holds a non-zero LSN, so none starts in the zeros written ahead past `end`.
  for (let o = off + 1; o < end && o + REC_HEADER <= buf.length; o++) {
    const rec = decodeRecordAt(buf, o);
    if (rec && rec.lsn >= missingLsn && rec.synced >= missingLsn) {
      throw new CorruptionError(
        rel,
        undefined,
        `record at byte ${off} (lsn ${missingLsn}) is damaged but later records show it was durable`,
      );
    }
  }
}

export interface WalOpenResult {
  wal: Wal;
  /** Records with LSN > checkpointLsn in order, already decrypted. */
  records: WalRecord[];
  /** Bytes cut from a torn tail, 0 when the log ended cleanly. */
  tornBytes: number;
}

export interface WalStats {
  bytes: number;
  segments: number;
  fsyncs: number;
  groups: number;
  groupRecords: number;
  maxGroup: number;
  lastLsn: number;
  durableLsn: number;
}

/**
 * Segmented write-ahead log with group commit: appends are buffered synchronously, one flush at a time
 * writes everything pending with a single write and a single fsync, so concurrent commits share the
 * fsync. LSNs are consecutive integers that continue across restarts.
 */
export class Wal {
  readonly dir: string;
  readonly #cipher: Cipher | undefined;
  readonly #segmentBytes: number;
  readonly durability: Durability;
  /** fsyncs a waiting commit needs run on the event-loop thread (see StorageOptions.inlineFsync). */
  readonly #inlineSync: boolean;
  #segments: Segment[];
  #fh!: fsp.FileHandle;
  #pending: Buffer[] = [];
  #pendingRecords = 0;
  #pendingLastLsn = 0;
  #pendingBytes = 0;
  #lastLsn: number;
  #writtenLsn: number;
  #durableLsn: number;
  #written: Waiter[] = [];
  #durable: Waiter[] = [];
  #flushing: Promise<void> | undefined;
  /** A flush put off to the end of this tick, to gather concurrent commits into one group (append). */
  #gather: NodeJS.Immediate | undefined;
  /** Records in the last group written. */
  #lastGroup = 1;
  #syncTimer: NodeJS.Timeout | undefined;
  #syncRequested = false;
  #rotateRequested = false;
  /** rotate() calls waiting for the next segment to start. */
  #rotated: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  #failed: StoreFailedError | undefined;
  fsyncs = 0;
  groups = 0;
  groupRecords = 0;
  maxGroup = 0;

  private constructor(
    dir: string,
    cipher: Cipher | undefined,
    segmentBytes: number,
    durability: Durability,
    inlineSync: boolean,
    segments: Segment[],
    lastLsn: number,
  ) {
    this.dir = dir;
    this.#cipher = cipher;
    this.#segmentBytes = segmentBytes;
    this.durability = durability;
    this.#inlineSync = inlineSync;
    this.#segments = segments;
    this.#lastLsn = lastLsn;
    this.#writtenLsn = lastLsn;
    this.#durableLsn = lastLsn;
  }

  /**
   * Recovery of the log (FORMAT.md "Recovery"): skips segments the checkpoint covers, reads the rest in
   * order, cuts a torn tail of the last segment, refuses damage anywhere else, starts a fresh segment,
   * and returns the records after the checkpoint.
   */
  static async open(
    storeDir: string,
    opts: {
      cipher: Cipher | undefined;
      segmentBytes: number;
      durability: Durability;
      inlineSync: boolean;
      checkpointLsn: number;
      nextSegment: number;
    },
  ): Promise<WalOpenResult> {
    const dir = path.join(storeDir, WAL_DIR);
    // A new log directory must itself survive power loss before anything is acknowledged from it.
    if ((await fsp.mkdir(dir, { recursive: true })) !== undefined) await syncDir(storeDir);
    const cp = opts.checkpointLsn;
    const files = (await fsp.readdir(dir))
      .map((n) => ({ n, no: parseSegmentName(n) }))
      .filter((x): x is { n: string; no: number } => x.no !== undefined)
      .sort((a, b) => a.no - b.no);
    const heads = await Promise.all(files.map((f) => readSegmentHeader(path.join(dir, f.n), f.no)));
    let tornBytes = 0;
    // A last segment without a valid header was torn while being created: it never held a record.
    if (files.length > 0 && heads[heads.length - 1].firstLsn === undefined) {
      tornBytes += heads[heads.length - 1].size;
      await fsp.rm(path.join(dir, files[files.length - 1].n));
      files.pop();
      heads.pop();
    }
    // Segments before the last one that starts at or before the checkpoint hold only checkpointed records.
    let start = 0;
    for (let i = 0; i < files.length; i++) {
      const first = heads[i].firstLsn;
      if (first !== undefined && first <= cp + 1) start = i;
    }
    const segments: Segment[] = [];
    for (let i = 0; i < start; i++) {
      segments.push({
        no: files[i].no,
        file: files[i].n,
        firstLsn: heads[i].firstLsn ?? 0,
        lastLsn: (heads[i + 1].firstLsn ?? cp + 1) - 1,
        size: heads[i].size,
        allocated: heads[i].size,
      });
    }
    const records: WalRecord[] = [];
    // The first needed segment must start at or before the first record after the checkpoint.
    let expected = Math.min(cp + 1, files.length > start ? (heads[start].firstLsn ?? cp + 1) : cp + 1);
    for (let i = start; i < files.length; i++) {
      const { n, no } = files[i];
      const rel = `${WAL_DIR}/${n}`;
      if (i > start && no !== files[i - 1].no + 1) {
        throw new CorruptionError(rel, undefined, `WAL segment ${files[i - 1].no + 1} is missing`);
      }
      const firstLsn = heads[i].firstLsn;
      if (firstLsn === undefined) throw new CorruptionError(rel, undefined, 'bad segment header');
      if (firstLsn !== expected) {
        throw new CorruptionError(
          rel,
          undefined,
          i === start
            ? `log starts at lsn ${firstLsn} but the checkpoint ends at ${cp}: records are missing`
            : `segment starts at lsn ${firstLsn}, expected ${expected}`,
        );
      }
      const buf = await fsp.readFile(path.join(dir, n));
      const isLast = i === files.length - 1;
      let off = SEG_HEADER;
      while (off < buf.length) {
        const rec = decodeRecordAt(buf, off);
        if (!rec || rec.lsn !== expected) {
          // Every segment but the last was fsynced in full before its successor was created.
          if (!isLast) {
            throw new CorruptionError(
              rel,
              undefined,
              `record at byte ${off} (lsn ${expected}) is damaged in a segment that was fully synced`,
            );
          }
          // Zeros written ahead of the records are no damage: the log simply ends here.
          const end = dataEnd(buf, off);
          if (end > off) {
            assertTorn(buf, off, expected, rel, end);
            tornBytes += end - off;
          }
          const fh = await fsp.open(path.join(dir, n), 'r+');
          try {
            await fh.truncate(off);
            await syncFile(fh, path.join(dir, n));
          } finally {
            await fh.close();
          }
          break;
        }
        if (rec.lsn > cp) {
          let body = rec.body;
          if (opts.cipher) {
            const plain = opts.cipher.open(body, walAad(rec.lsn));
            if (!plain) {
              throw new CorruptionError(
                rel,
                undefined,
                `record at byte ${off} (lsn ${rec.lsn}) fails authentication`,
              );
            }
            body = plain;
          }
          records.push({ lsn: rec.lsn, body });
        }
        expected++;
        off = rec.end;
      }
      const size = Math.min(off, buf.length);
      segments.push({ no, file: n, firstLsn, lastLsn: expected - 1, size, allocated: size });
    }
    const lastLsn = Math.max(cp, expected - 1);
    const wal = new Wal(
      dir,
      opts.cipher,
      opts.segmentBytes,
      opts.durability,
      opts.inlineSync,
      segments,
      lastLsn,
    );
    const last = segments[segments.length - 1];
    if (last && last.size === SEG_HEADER && last.firstLsn === lastLsn + 1) {
      // An empty last segment (nothing was committed in the previous session) is reused, so opening
      // and closing an unchanged store leaves its files as they were.
      wal.#fh = await fsp.open(path.join(dir, last.file), 'r+');
    } else {
      const nextNo = Math.max(opts.nextSegment, (files.length > 0 ? files[files.length - 1].no : -1) + 1);
      await wal.#startSegment(nextNo);
    }
    return { wal, records, tornBytes };
  }

  get lastLsn(): number {
    return this.#lastLsn;
  }

  get writtenLsn(): number {
    return this.#writtenLsn;
  }

  get durableLsn(): number {
    return this.#durableLsn;
  }

  get currentSegment(): number {
    return this.#segments.at(-1)!.no;
  }

  /**
   * Creates segment `no`. Its first record is the first one not yet written: appends made while the file
   * is being created (they wait in the pending buffer) land in it, so the header must not use #lastLsn.
   */
  async #startSegment(no: number): Promise<void> {
    const file = segmentName(no);
    const firstLsn = this.#writtenLsn + 1;
    const fh = await fsp.open(path.join(this.dir, file), 'wx');
    await fh.write(encodeSegmentHeader(no, firstLsn), 0, SEG_HEADER, 0);
    const seg: Segment = {
      no,
      file,
      firstLsn,
      lastLsn: firstLsn - 1,
      size: SEG_HEADER,
      allocated: SEG_HEADER,
    };
    await this.#allocate(fh, seg, SEG_HEADER);
    await syncFile(fh, path.join(this.dir, file));
    await syncDir(this.dir);
    this.#fh = fh;
    this.#segments.push(seg);
  }

  /**
   * Makes the segment's file at least `need` bytes long by writing zeros past its records, PREALLOC_STEP
   * ahead of need: the next fsync commits the new length once for many commits. Past the rotation point
   * it grows only as needed.
   */
  async #allocate(fh: fsp.FileHandle, seg: Segment, need: number): Promise<void> {
    if (need <= seg.allocated && seg.allocated > SEG_HEADER) return;
    // Without per-commit fsyncs there is nothing to gain from it.
    if (this.durability === 'off') {
      seg.allocated = Math.max(seg.allocated, need);
      return;
    }
    const cap = Math.max(need, Math.ceil(this.#segmentBytes / 4096) * 4096);
    const target = Math.max(need, Math.min(Math.max(seg.allocated, need) + PREALLOC_STEP, cap));
    let at = seg.allocated;
    while (at < target) {
      const n = Math.min(ZEROS.length, target - at);
      const { bytesWritten } = await fh.write(ZEROS, 0, n, at);
      at += bytesWritten;
    }
    seg.allocated = at;
  }

  /** Cuts the zeros written ahead off the current segment and fsyncs it (it is being closed). */
  async #trimCurrent(): Promise<void> {
    const seg = this.#segments.at(-1)!;
    if (seg.allocated > seg.size) {
      await this.#fh.truncate(seg.size);
      seg.allocated = seg.size;
      await syncFile(this.#fh, path.join(this.dir, seg.file));
      this.fsyncs++;
    }
  }

  /**
   * Buffers one record (synchronously); the returned LSN orders it after every earlier append. With
   * `hold`, the flush that writes it starts only at the next flush() (or append): the caller has work
   * to do first.
   */
  append(body: Uint8Array, hold = false): number {
    if (this.#failed) throw this.#failed;
    const lsn = ++this.#lastLsn;
    const sealed = this.#cipher ? Buffer.alloc(body.length + CRYPTO_BYTES) : undefined;
    if (sealed) this.#cipher!.sealInto(body, walAad(lsn), sealed);
    const payload = sealed ?? body;
    const rec = Buffer.allocUnsafe(REC_HEADER + payload.length);
    rec.writeUInt32LE(payload.length, 4);
    rec.writeDoubleLE(lsn, 8);
    rec.writeDoubleLE(this.#durableLsn, 16);
    rec.set(payload, REC_HEADER);
    rec.writeInt32LE(crc32(rec.subarray(4)), 0);
    this.#pending.push(rec);
    this.#pendingRecords++;
    this.#pendingLastLsn = lsn;
    this.#pendingBytes += rec.length;
    if (!hold) this.flush();
    return lsn;
  }

  /** Starts writing what append() buffered (see append's `hold`). */
  flush(): void {
    // Concurrent writers: when the last group held several commits, more are about to append in this
    // tick (their continuations are queued behind this one). Flushing at once would fsync this record
    // alone and them in the next group: start after them instead, one fsync for all. A lone writer's
    // groups hold one record, and its commits flush at once.
    if (this.#lastGroup > 1 && this.durability === 'full' && !this.#flushing) {
      this.#gather ??= setImmediate(() => {
        this.#gather = undefined;
        this.#kick();
      });
      return;
    }
    this.#kick();
  }

  /** Resolves once the record is in the OS (every mode) — survives a process crash. */
  waitWritten(lsn: number): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (lsn <= this.#writtenLsn) return Promise.resolve();
    return new Promise((resolve, reject) => this.#written.push({ lsn, resolve, reject }));
  }

  /** Resolves once the record is fsynced — survives power loss. */
  waitDurable(lsn: number): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (lsn <= this.#durableLsn) return Promise.resolve();
    this.#syncRequested = true;
    const p = new Promise<void>((resolve, reject) => this.#durable.push({ lsn, resolve, reject }));
    this.#kick();
    return p;
  }

  #kick(): void {
    if (this.#flushing || this.#failed || this.#gather) return;
    if (this.#flushInline()) {
      // Commits about to append in this tick (their continuations are already queued) wait for the
      // next flush, as they would behind the loop: they form the next group, not an fsync each.
      this.#flushing = SETTLED;
      queueMicrotask(this.#settle);
      return;
    }
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = undefined;
      if (this.#pending.length > 0 || this.#needsSync() || this.#rotateRequested) this.#kick();
    });
  }

  /** Ends the window an inline flush opens (see #kick). */
  readonly #settle = (): void => {
    this.#flushing = undefined;
    if (this.#pending.length > 0 || this.#needsSync() || this.#rotateRequested) this.#kick();
  };

  #needsSync(): boolean {
    return this.#syncRequested && this.#durableLsn < this.#writtenLsn;
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0 || this.#needsSync() || this.#rotateRequested) {
        const seg = this.#segments.at(-1)!;
        if (this.#rotateRequested || (seg.size > SEG_HEADER && seg.size >= this.#segmentBytes)) {
          this.#rotateRequested = false;
          await this.#syncNow();
          // Every segment but the last must end with its last record (recovery checks all of it).
          await this.#trimCurrent();
          await this.#fh.close();
          await this.#startSegment(seg.no + 1);
          for (const w of this.#rotated.splice(0)) w.resolve();
          continue;
        }
        if (this.#pending.length > 0) {
          // Taken before the allocation's await: records appended meanwhile go to the next batch (written
          // past the allocated end, they would be zeroed by the next allocation).
          const batch = this.#takePending();
          if (seg.size + batch.bytes.length > seg.allocated)
            await this.#allocate(this.#fh, seg, seg.size + batch.bytes.length);
          this.#writeBatch(seg, batch);
        }
        if (this.#needsSync()) await this.#syncNow();
      }
    } catch (e) {
      this.#fail(e);
    }
  }

  /**
   * fsyncs everything written so far. A request for records not written yet stays pending: a rotation
   * syncs before it writes the buffered records, and clearing the request there used to leave a
   * waitDurable() (a checkpoint in 'normal' or 'off' mode) waiting forever.
   */
  async #syncNow(): Promise<void> {
    const upTo = this.#writtenLsn;
    if (this.#durableLsn < upTo) {
      const seg = this.#segments.at(-1)!;
      seg.path ??= path.join(this.dir, seg.file); // once per segment, not per commit
      const file = seg.path;
      // Only a sync somebody waits for blocks the thread ('full': every commit, which has not asked yet
      // when its append starts this flush); 'normal' mode's timed syncs stay in the pool.
      if (this.#inlineSync && (this.durability === 'full' || this.#durable.length > 0))
        syncFileNow(this.#fh.fd, file);
      else await syncFile(this.#fh, file);
      this.#synced(upTo);
    }
    this.#syncRequested = this.#durable.length > 0;
  }

  #synced(upTo: number): void {
    this.fsyncs++;
    this.#durableLsn = upTo;
    release(this.#durable, upTo);
  }

  /** The pending records as one batch; the pending buffer starts over. */
  #takePending(): PendingBatch {
    const bytes = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    const batch = { bytes, count: this.#pendingRecords, last: this.#pendingLastLsn };
    this.#pending = [];
    this.#pendingRecords = 0;
    this.#pendingBytes = 0;
    return batch;
  }

  /**
   * Writes a batch at the end of the current segment, within its allocated space. A synchronous write:
   * the bytes only reach the page cache (microseconds), where a thread-pool round trip cost a commit tens
   * of microseconds.
   */
  #writeBatch(seg: Segment, { bytes, count, last }: PendingBatch): void {
    writeFully(this.#fh.fd, bytes, seg.size);
    seg.size += bytes.length;
    seg.lastLsn = last;
    this.groups++;
    this.groupRecords += count;
    this.maxGroup = Math.max(this.maxGroup, count);
    this.#lastGroup = count;
    this.#writtenLsn = last;
    release(this.#written, last);
    if (this.durability === 'full') this.#syncRequested = true;
    else if (this.durability === 'normal') this.#scheduleSync();
  }

  /**
   * The flush loop's common case in 'full' mode with inline fsyncs, done synchronously: the pending
   * records fit in the space already allocated and no rotation is due. Spares each commit the loop's
   * promises (an async function, its finally, the sync's): ~1 KB and a few microtasks per commit.
   * False, having done nothing, when the loop must run.
   */
  #flushInline(): boolean {
    if (!this.#inlineSync || this.durability !== 'full' || this.#rotateRequested) return false;
    if (this.#pending.length === 0) return false;
    const seg = this.#segments.at(-1)!;
    if (seg.size > SEG_HEADER && seg.size >= this.#segmentBytes) return false;
    if (seg.size + this.#pendingBytes > seg.allocated) return false;
    try {
      this.#writeBatch(seg, this.#takePending());
      const upTo = this.#writtenLsn;
      seg.path ??= path.join(this.dir, seg.file);
      syncFileNow(this.#fh.fd, seg.path);
      this.#synced(upTo);
      this.#syncRequested = this.#durable.length > 0;
    } catch (e) {
      this.#fail(e);
    }
    return true;
  }

  #scheduleSync(): void {
    if (this.#syncTimer) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#syncRequested = true;
      this.#kick();
    }, NORMAL_SYNC_MS);
    this.#syncTimer.unref();
  }

  #fail(e: unknown): void {
    this.#failed = e instanceof StoreFailedError ? e : new StoreFailedError(e);
    for (const w of [...this.#written.splice(0), ...this.#durable.splice(0), ...this.#rotated.splice(0)])
      w.reject(this.#failed);
  }

  get failed(): StoreFailedError | undefined {
    return this.#failed;
  }

  /** Writes and fsyncs everything appended so far. */
  async sync(): Promise<void> {
    if (this.#lastLsn > this.#durableLsn) await this.waitDurable(this.#lastLsn);
  }

  /** Closes the current segment and opens the next one (used by checkpoints so old segments can go). */
  async rotate(): Promise<void> {
    if (this.#failed) throw this.#failed;
    // Waits for the new segment, not for the flushes to pause: under a steady stream of commits they
    // never do, and a checkpoint waiting for that could wait as long as the writers kept going.
    const rotated = new Promise<void>((resolve, reject) => this.#rotated.push({ resolve, reject }));
    this.#rotateRequested = true;
    if (this.#gather) {
      clearImmediate(this.#gather);
      this.#gather = undefined;
    }
    this.#kick();
    await rotated;
  }

  /** Deletes closed segments whose every record is covered by a durable checkpoint. */
  async dropSegmentsUpTo(checkpointLsn: number, retainBytes = 0): Promise<number> {
    const n = this.#droppable(checkpointLsn, retainBytes).count;
    for (let i = 0; i < n; i++) {
      const seg = this.#segments.shift()!;
      await fsp.rm(path.join(this.dir, seg.file), { force: true });
    }
    if (n > 0) await syncDir(this.dir);
    return n;
  }

  /** The bytes dropSegmentsUpTo(checkpointLsn, retainBytes) would delete now. */
  droppableBytes(checkpointLsn: number, retainBytes = 0): number {
    return this.#droppable(checkpointLsn, retainBytes).bytes;
  }

  /**
   * The oldest segments dropSegmentsUpTo may delete: closed ones every record of which is at or before
   * checkpointLsn, while the segments after them still hold retainBytes of history.
   */
  #droppable(checkpointLsn: number, retainBytes: number): { count: number; bytes: number } {
    // Bytes of the segments after the first: dropping the first still leaves them as history.
    let behind = 0;
    for (let i = 1; i < this.#segments.length; i++) behind += this.#segments[i].size;
    let count = 0;
    let bytes = 0;
    while (count + 1 < this.#segments.length && this.#segments[count].lastLsn <= checkpointLsn) {
      if (retainBytes > 0 && behind < retainBytes) break;
      behind -= this.#segments[count + 1].size;
      bytes += this.#segments[count].size;
      count++;
    }
    return { count, bytes };
  }

  /**
   * Records with after < lsn <= upTo, read back from the segment files (decrypted), for change streams.
   * Only records already written to the file may be asked for (upTo <= writtenLsn).
   */
  async *records(after: number, upTo: number): AsyncGenerator<WalRecord> {
    if (upTo > this.#writtenLsn) throw new RangeError(`records up to ${upTo} are not written yet`);
    if (after >= upTo) return;
    const first = this.#segments[0]?.firstLsn ?? after + 1;
    if (after + 1 < first) throw new HistoryUnavailableError(after, first);
    let expected = after + 1;
    // A snapshot of the list: a checkpoint may drop segments while this reads (then: history is gone).
    for (const seg of this.#segments.slice()) {
      if (seg.lastLsn < expected && seg !== this.#segments.at(-1)) continue;
      if (seg.firstLsn > expected) break;
      let buf: Buffer;
      try {
        buf = await fsp.readFile(path.join(this.dir, seg.file));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new HistoryUnavailableError(after, this.#segments[0]?.firstLsn ?? expected);
        }
        throw e;
      }
      const rel = `${WAL_DIR}/${seg.file}`;
      let off = SEG_HEADER;
      while (off < buf.length && expected <= upTo) {
        const rec = decodeRecordAt(buf, off);
        if (!rec) throw new CorruptionError(rel, undefined, `record at byte ${off} is damaged`);
        off = rec.end;
        if (rec.lsn < expected) continue;
        if (rec.lsn !== expected) {
          throw new CorruptionError(
            rel,
            undefined,
            `record at byte ${off} has lsn ${rec.lsn}, expected ${expected}`,
          );
        }
        let body = rec.body;
        if (this.#cipher) {
          const plain = this.#cipher.open(body, walAad(rec.lsn));
          if (!plain) throw new CorruptionError(rel, undefined, `record lsn ${rec.lsn} fails authentication`);
          body = plain;
        }
        yield { lsn: rec.lsn, body };
        expected++;
      }
      if (expected > upTo) return;
    }
    if (expected <= upTo) throw new HistoryUnavailableError(after, this.#segments[0]?.firstLsn ?? expected);
  }

  /** Segment files in order, for backups and tests. */
  segmentFiles(): string[] {
    return this.#segments.map((s) => s.file);
  }

  stats(): WalStats {
    let bytes = 0;
    for (const s of this.#segments) bytes += s.size;
    return {
      bytes,
      segments: this.#segments.length,
      fsyncs: this.fsyncs,
      groups: this.groups,
      groupRecords: this.groupRecords,
      maxGroup: this.maxGroup,
      lastLsn: this.#lastLsn,
      durableLsn: this.#durableLsn,
    };
  }

  async close(): Promise<void> {
    if (!this.#failed) await this.sync();
    while (this.#flushing) await this.#flushing;
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    // A closed store's log ends at its last record (a reopened store then reuses an empty segment).
    if (!this.#failed) await this.#trimCurrent();
    await this.#fh.close();
  }
}

interface PendingBatch {
  bytes: Buffer;
  count: number;
  last: number;
}

/** What #flushing holds while an inline flush's window is open: nothing is left to wait for. */
const SETTLED: Promise<void> = Promise.resolve();

function release(waiters: Waiter[], upTo: number): void {
  let keep = 0;
  for (const w of waiters) {
    if (w.lsn <= upTo) w.resolve();
    else waiters[keep++] = w;
  }
  waiters.length = keep;
}

/** Writes all of `buf` at `position` (a short write is continued, as the kernel may return one). */
function writeFully(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}
