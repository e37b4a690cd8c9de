/**
 * Connects the engine to its files, as redis.conf describes them: loads the dataset at start (the AOF
 * when appendonly is on, otherwise the RDB), appends every write to the AOF, answers SAVE, BGSAVE,
 * BGREWRITEAOF and SHUTDOWN, runs `save` points and automatic AOF rewrites, and reports INFO persistence.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { ErrorReply, OK, type Reply, SimpleString } from '../reply.js';
import { MultiPartAof } from './aof-multipart.js';
import type { AppendFsync } from './aof-writer.js';
import { AofError, PersistenceError } from './errors.js';
import { loadEntry, snapshotKeyspace } from './keyspace-codec.js';
import { readRdbFile } from './rdb-reader.js';
import { encodeRdb, writeRdbFile } from './rdb-writer.js';

export interface LoadReport {
  readonly source: 'aof' | 'rdb' | 'none';
  readonly keys: number;
  readonly commands: number;
  /** Set when a truncated AOF tail was cut off (aof-load-truncated). */
  readonly truncated: { readonly file: string; readonly offset: number } | null;
}

type BgStatus = 'ok' | 'err';

export class PersistenceHost {
  private readonly engine: Engine;
  private readonly dir: string;
  private aof: MultiPartAof | null = null;
  private saveTimer: NodeJS.Timeout | null = null;
  private bgsave: Promise<void> | null = null;
  private rewrite: Promise<void> | null = null;
  private lastBgsaveStatus: BgStatus = 'ok';
  private lastRewriteStatus: BgStatus = 'ok';
  private lastSaveTry = 0;
  private aofBaseBytes = 0;
  private closed = false;
  loadReport: LoadReport = { source: 'none', keys: 0, commands: 0, truncated: null };

  private constructor(engine: Engine) {
    this.engine = engine;
    this.dir = resolve(engine.config.get('dir'));
  }

  /** Loads the dataset and starts persisting. Throws a PersistenceError naming file and offset. */
  static async open(engine: Engine): Promise<PersistenceHost> {
    const host = new PersistenceHost(engine);
    mkdirSync(host.dir, { recursive: true });
    await host.start();
    return host;
  }

  private get rdbPath(): string {
    return join(this.dir, this.engine.config.get('dbfilename'));
  }

  private get aofDir(): string {
    return join(this.dir, this.engine.config.get('appenddirname'));
  }

  private get aofEnabled(): boolean {
    return this.engine.config.bool('appendonly');
  }

  private async start(): Promise<void> {
    const e = this.engine;
    if (this.aofEnabled) {
      const hadAof = existsSync(join(this.aofDir, `${e.config.get('appendfilename')}.manifest`));
      this.aof = MultiPartAof.open(this.aofDir, {
        fsync: e.config.get('appendfsync') as AppendFsync,
        prefix: e.config.get('appendfilename'),
        stringEncoding: 'latin1',
      });
      if (hadAof) this.loadAof();
      else if (existsSync(this.rdbPath)) {
        // Turning AOF on over an RDB dataset: load it, then make it the AOF's base so nothing is lost.
        this.loadRdb();
        await this.aof.rewrite(snapshotKeyspace(e.ks), 'rdb');
      }
      this.aofBaseBytes = this.aof.incrementalBytes;
      e.propagate = (db, argv) => this.append(db, argv);
      e.writeBarrier = () => this.aof?.barrier() ?? null;
    } else if (existsSync(this.rdbPath)) {
      this.loadRdb();
    }
    e.dirty = 0;
    e.hooks.save = () => this.save();
    e.hooks.bgsave = () => this.startBgsave();
    e.hooks.bgrewriteaof = () => this.startRewrite();
    e.hooks.persistenceInfo = () => this.info();
    this.saveTimer = setInterval(() => this.cron(), 1000);
    this.saveTimer.unref();
  }

  private loadRdb(): void {
    // Views, not copies: loadEntry turns every string into a JS string before the next entry is read.
    const gen = readRdbFile(this.rdbPath, { views: true });
    let keys = 0;
    const now = Date.now();
    let r = gen.next();
    while (!r.done) {
      if (loadEntry(this.engine.ks, r.value, now)) keys++;
      r = gen.next();
    }
    this.engine.lastSave = Math.floor(Date.now() / 1000);
    this.loadReport = { source: 'rdb', keys, commands: 0, truncated: null };
  }

  private loadAof(): void {
    const e = this.engine;
    const loader: Client = e.newClient();
    loader.authenticated = true;
    const gen = this.aof!.load({ loadTruncated: e.config.bool('aof-load-truncated') });
    let keys = 0;
    let r = gen.next();
    const now = Date.now();
    try {
      while (!r.done) {
        const item = r.value;
        if (item.kind === 'entry') {
          if (loadEntry(e.ks, item.entry, now)) keys++;
        } else {
          const argv = item.argv.map((b) => b.toString('latin1'));
          if (!e.lookup(argv[0]!)) {
            throw new AofError(
              'AOF_CORRUPT',
              `unknown command '${argv[0]}' reading the append only file`,
              item.offset,
              this.aofDir,
            );
          }
          // Replies are ignored, as in Redis: the AOF holds what the server accepted.
          e.execute(loader, argv);
        }
        r = gen.next();
      }
    } finally {
      e.removeClient(loader);
    }
    const t = r.value.truncated;
    this.loadReport = {
      source: 'aof',
      keys,
      commands: r.value.commands,
      truncated: t ? { file: t.file, offset: t.offset } : null,
    };
  }

  private append(db: number, argv: readonly string[]): void {
    try {
      this.aof?.appendNoWait(db, argv);
    } catch (err) {
      this.engine.denyWrites = new ErrorReply(
        `MISCONF Errors writing to the AOF file: ${(err as Error).message}`,
      );
    }
  }

  /** SAVE: a synchronous snapshot, temp file + fsync + rename + directory fsync (Redis blocks too). */
  private save(): Reply {
    if (this.bgsave) return new ErrorReply('ERR Background save already in progress');
    try {
      writeFileDurablySync(this.rdbPath, encodeRdb(snapshotKeyspace(this.engine.ks), this.rdbOptions()));
    } catch (err) {
      return new ErrorReply(`ERR ${(err as Error).message}`);
    }
    this.saved(true);
    return OK;
  }

  private rdbOptions() {
    return { compress: this.engine.config.get('rdbcompression') !== 'no' };
  }

  private saved(ok: boolean): void {
    const e = this.engine;
    this.lastBgsaveStatus = ok ? 'ok' : 'err';
    if (ok) {
      e.lastSave = Math.floor(Date.now() / 1000);
      if (e.denyWrites?.message.startsWith('MISCONF') && !e.denyWrites.message.includes('AOF')) {
        e.denyWrites = null;
      }
    } else if (e.config.get('stop-writes-on-bgsave-error') !== 'no' && e.denyWrites === null) {
      e.denyWrites = new ErrorReply(
        'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.',
      );
    }
  }

  /** BGSAVE: the keyspace is frozen synchronously, then encoded and written in slices. */
  private startBgsave(): Reply {
    if (this.bgsave) return new ErrorReply('ERR Background save already in progress');
    this.runBgsave();
    return new SimpleString('Background saving started');
  }

  private runBgsave(): Promise<void> {
    const e = this.engine;
    const snapshot = snapshotKeyspace(e.ks);
    const dirtyAtStart = e.dirty;
    this.lastSaveTry = Date.now();
    this.bgsave = writeRdbFile(this.rdbPath, snapshot, this.rdbOptions())
      .then(
        () => {
          e.dirty -= dirtyAtStart;
          this.saved(true);
        },
        () => this.saved(false),
      )
      .finally(() => {
        this.bgsave = null;
      });
    return this.bgsave;
  }

  private startRewrite(): Reply {
    if (!this.aof) return new ErrorReply('ERR BGREWRITEAOF needs appendonly yes');
    if (this.rewrite) return new ErrorReply('ERR Background append only file rewriting already in progress');
    this.runRewrite();
    return new SimpleString('Background append only file rewriting started');
  }

  private runRewrite(): Promise<void> {
    const aof = this.aof!;
    const base = this.engine.config.bool('aof-use-rdb-preamble') ? 'rdb' : 'aof';
    this.rewrite = aof
      .rewrite(snapshotKeyspace(this.engine.ks), base)
      .then(
        () => {
          this.lastRewriteStatus = 'ok';
          this.aofBaseBytes = Math.max(aof.incrementalBytes, 1);
        },
        () => {
          this.lastRewriteStatus = 'err';
        },
      )
      .finally(() => {
        this.rewrite = null;
      });
    return this.rewrite;
  }

  /** Once a second: `save` points, and an automatic AOF rewrite when the AOF has doubled. */
  private cron(): void {
    const e = this.engine;
    if (this.closed || this.bgsave || this.rewrite) return;
    const now = Date.now();
    // After a failed background save, wait a little before retrying (Redis waits 5 s).
    const mayRetry = this.lastBgsaveStatus === 'ok' || now - this.lastSaveTry > 5000;
    for (const [seconds, changes] of savePoints(e.config.get('save'))) {
      if (mayRetry && e.dirty >= changes && now / 1000 - e.lastSave >= seconds) {
        void this.runBgsave();
        return;
      }
    }
    if (this.aof) {
      const pct = e.config.int('auto-aof-rewrite-percentage');
      const min = e.config.int('auto-aof-rewrite-min-size');
      const size = this.aof.incrementalBytes;
      if (pct > 0 && size >= min && size >= this.aofBaseBytes * (1 + pct / 100)) void this.runRewrite();
    }
  }

  private info(): Record<string, string | number> {
    const e = this.engine;
    return {
      loading: 0,
      rdb_changes_since_last_save: e.dirty,
      rdb_bgsave_in_progress: this.bgsave ? 1 : 0,
      rdb_last_save_time: e.lastSave,
      rdb_last_bgsave_status: this.lastBgsaveStatus,
      aof_enabled: this.aof ? 1 : 0,
      aof_rewrite_in_progress: this.rewrite ? 1 : 0,
      aof_last_bgrewrite_status: this.lastRewriteStatus,
      aof_last_write_status: e.denyWrites?.message.includes('AOF') ? 'err' : 'ok',
      ...(this.aof ? { aof_current_size: this.aof.incrementalBytes } : {}),
    };
  }

  /**
   * Stops persisting: waits for background work, then (unless `nosave`) saves when save points are
   * configured or `save` is asked for, and fsyncs and closes the AOF. Used by SHUTDOWN and close().
   */
  async close(mode: 'save' | 'nosave' | 'default' = 'default'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.saveTimer) clearInterval(this.saveTimer);
    const e = this.engine;
    await Promise.allSettled([this.bgsave, this.rewrite]);
    try {
      const wantSave = mode === 'save' || (mode === 'default' && savePoints(e.config.get('save')).length > 0);
      if (wantSave) {
        const r = this.save();
        if (r instanceof ErrorReply)
          throw new PersistenceError('RDB_CORRUPT', r.message, undefined, this.rdbPath);
      }
    } finally {
      e.propagate = null;
      e.writeBarrier = null;
      await this.aof?.close();
      this.aof = null;
    }
  }
}

/** Parses the `save` directive ("3600 1 300 100") into [seconds, changes] pairs. */
export function savePoints(spec: string): Array<[number, number]> {
  const words = spec.trim().split(/\s+/).filter(Boolean);
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < words.length; i += 2) out.push([Number(words[i]), Number(words[i + 1])]);
  return out;
}

/** Writes `data` to `path` atomically and durably, synchronously. */
function writeFileDurablySync(path: string, data: Buffer): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w', 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dfd = openSync(resolve(path, '..'), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
