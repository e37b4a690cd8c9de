/**
 * AOF appender with Redis's appendfsync policies. Commands are batched while a write is in flight and
 * written with one write(2); fsync runs on libuv's thread pool, never on the event loop.
 *   always   — append() resolves only after the batch holding the command is fsynced (group commit)
 *   everysec — append() resolves once written; a timer fsyncs once a second if anything is new
 *   no       — append() resolves once written; the OS decides when to flush
 * A SELECT is inserted whenever the database changes, as Redis does.
 *
 * A server uses appendNoWait() for each command and barrier() before sending a batch of replies: under
 * `always` it waits for the fsync; under the other policies the buffered commands are written with one
 * synchronous write(2) right then (as Redis does before replying), so a killed process never loses an
 * acknowledged command and the event loop is not held up by a thread-pool round trip.
 */

import { close, fdatasync, fstat, fstatSync, open, openSync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { type Arg, CommandEncoder } from './command-encoder.js';
import { AofError } from './errors.js';

export type AppendFsync = 'always' | 'everysec' | 'no';

const openAsync = promisify(open);
const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);

export interface AofWriterOptions {
  readonly fsync?: AppendFsync;
  /** How string arguments become bytes (default utf8; a keyspace of latin1 strings passes 'latin1'). */
  readonly stringEncoding?: 'utf8' | 'latin1';
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class AofWriter {
  readonly path: string;
  readonly policy: AppendFsync;
  private fd: number | null;
  private readonly encoder: CommandEncoder;
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private flushScheduled = false;
  private selectedDb = -1;
  private failure: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private unsyncedBytes = 0;
  private syncing: Promise<void> | null = null;
  /** Bytes in the file, including what is buffered (for auto-rewrite thresholds). */
  private bytes: number;

  private constructor(path: string, fd: number, size: number, options: AofWriterOptions) {
    this.path = path;
    this.fd = fd;
    this.bytes = size;
    this.policy = options.fsync ?? 'everysec';
    this.encoder = new CommandEncoder(16 * 1024, options.stringEncoding ?? 'utf8');
    const policy = this.policy;
    if (policy === 'everysec') {
      this.timer = setInterval(() => void this.backgroundSync(), 1000);
      this.timer.unref();
    }
  }

  /** Opens (creating if needed) an AOF for appending. */
  static async open(path: string, options: AofWriterOptions = {}): Promise<AofWriter> {
    const fd = await openAsync(path, 'a', 0o644);
    const { size } = await fstatAsync(fd);
    return new AofWriter(path, fd, size, options);
  }

  /**
   * Synchronous open, for switching files without letting any command slip in between (the caller
   * redirects appends to the new writer in the same tick).
   */
  static openSync(path: string, options: AofWriterOptions = {}): AofWriter {
    const fd = openSync(path, 'a', 0o644);
    return new AofWriter(path, fd, fstatSync(fd).size, options);
  }

  get size(): number {
    return this.bytes;
  }

  /** Appends one command executed in `db`. The promise follows the fsync policy (see above). */
  append(db: number, argv: readonly Arg[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.fd === null)
      return Promise.reject(new AofError('AOF_CLOSED', 'AOF is closed', undefined, this.path));
    this.encode(db, argv);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Appends without a promise; a server learns of durability through barrier(). */
  appendNoWait(db: number, argv: readonly Arg[]): void {
    if (this.failure) throw this.failure;
    if (this.fd === null) throw new AofError('AOF_CLOSED', 'AOF is closed', undefined, this.path);
    this.encode(db, argv);
    this.scheduleFlush();
  }

  private encode(db: number, argv: readonly Arg[]): void {
    const before = this.encoder.length;
    if (db !== this.selectedDb) {
      this.encoder.command(['SELECT', db]);
      this.selectedDb = db;
    }
    this.encoder.command(argv);
    this.bytes += this.encoder.length - before;
  }

  /**
   * Call before replying to commands appended so far. Null when they are already as durable as the
   * policy asks (written for everysec/no: done here, synchronously); otherwise a promise that settles
   * once they are fsynced (always), or rejects if the AOF failed.
   */
  barrier(): Promise<void> | null {
    if (this.failure) return Promise.reject(this.failure);
    if (this.policy === 'always') return this.encoder.length > 0 || this.flushing ? this.flush() : null;
    if (this.encoder.length > 0) this.writeNow();
    return this.failure ? Promise.reject(this.failure) : null;
  }

  /** Writes the buffer with write(2) on the event loop (everysec/no: a page-cache copy, microseconds). */
  private writeNow(): void {
    if (this.fd === null) return;
    const data = this.encoder.take();
    const waiters = this.waiters;
    this.waiters = [];
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
      this.unsyncedBytes += data.length;
      for (const w of waiters) w.resolve();
    } catch (err) {
      this.fail(err as Error, waiters);
    }
  }

  private fail(err: Error, waiters: Waiter[]): void {
    // A failed write leaves the file in an unknown state: refuse everything from now on.
    this.failure = new AofError('AOF_CORRUPT', `AOF write failed: ${err.message}`, undefined, this.path);
    for (const w of [...waiters, ...this.waiters]) w.reject(this.failure);
    this.waiters = [];
  }

  /** Forgets the selected database so the next append starts with SELECT (used after a file switch). */
  resetSelectedDb(): void {
    this.selectedDb = -1;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    // Let the rest of this tick's commands join the batch.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** Writes everything appended so far (and fsyncs it under `always`). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.encoder.length > 0 ? this.flush() : undefined));
    if (this.encoder.length === 0) return Promise.resolve();
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      // Commands appended after the loop's last check would otherwise wait for the next append.
      if (this.encoder.length > 0 && !this.failure) this.scheduleFlush();
    });
    return this.flushing;
  }

  private async flushLoop(): Promise<void> {
    if (this.policy !== 'always') {
      // Synchronous writes only, so that they can never be reordered with barrier()'s.
      this.writeNow();
      return;
    }
    while (this.encoder.length > 0 && this.fd !== null) {
      const data = this.encoder.take();
      const waiters = this.waiters;
      this.waiters = [];
      try {
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await writeAsync(this.fd, data, off, data.length - off, null);
          off += bytesWritten;
        }
        await fdatasyncAsync(this.fd);
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.fail(err as Error, waiters);
        return;
      }
    }
  }

  private async backgroundSync(): Promise<void> {
    if (this.syncing || this.unsyncedBytes === 0 || this.fd === null) return;
    this.unsyncedBytes = 0;
    this.syncing = fdatasyncAsync(this.fd)
      .catch((err: Error) => {
        this.failure = new AofError('AOF_CORRUPT', `AOF fsync failed: ${err.message}`, undefined, this.path);
      })
      .finally(() => {
        this.syncing = null;
      });
    await this.syncing;
  }

  /** Flushes and fsyncs regardless of policy. */
  async sync(): Promise<void> {
    await this.flush();
    if (this.syncing) await this.syncing;
    if (this.fd !== null) await fdatasyncAsync(this.fd);
    this.unsyncedBytes = 0;
  }

  async close(): Promise<void> {
    if (this.fd === null) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.failure) await this.sync();
    const fd = this.fd;
    this.fd = null;
    await closeAsync(fd);
  }
}
