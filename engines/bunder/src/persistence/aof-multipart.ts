/**
 * Redis 7's multi-part AOF: a directory (appenddirname) holding a base file, incremental files and a
 * manifest naming them. Appends go to the last incremental file. A rewrite switches appends to a new
 * incremental file at once (recording it in the manifest before anything is acknowledged there),
 * writes the new base from a snapshot in the background, then commits a manifest of just the new base
 * and new incremental file and deletes the old ones.
 */

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type AofManifestEntry, formatManifest, parseManifest } from './aof-manifest.js';
import { type AofItem, type AofReadResult, readAofFile, truncateAofFile } from './aof-reader.js';
import { type AofBaseFormat, writeAofBase } from './aof-rewrite.js';
import { AofWriter, type AppendFsync } from './aof-writer.js';
import { fsyncDirectory } from './atomic-file.js';
import type { Arg } from './command-encoder.js';
import { AofError } from './errors.js';
import type { StoredEntry } from './model.js';

export interface MultiPartAofOptions {
  readonly fsync?: AppendFsync;
  /** How string arguments become bytes (see AofWriterOptions). */
  readonly stringEncoding?: 'utf8' | 'latin1';
  /** Redis's appendfilename (default appendonly.aof): file names derive from it. */
  readonly prefix?: string;
}

export interface AofLoadOptions {
  /** Accept a truncated tail in the last incremental file (aof-load-truncated, default true). */
  readonly loadTruncated?: boolean;
  /** Cut a truncated tail off the file before appending resumes (default true, like Redis). */
  readonly repair?: boolean;
}

export interface AofLoadResult {
  readonly files: number;
  readonly commands: number;
  readonly entries: number;
  /** Set when the last incremental file had an incomplete tail. */
  readonly truncated: { readonly file: string; readonly offset: number; readonly reason: string } | null;
}

/** Writes a small file durably and synchronously (a manifest: one write, a few milliseconds). */
function writeSmallFileSync(dir: string, name: string, content: string): void {
  const temp = join(dir, `temp-${name}`);
  const fd = openSync(temp, 'w', 0o644);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, join(dir, name));
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export class MultiPartAof {
  readonly dir: string;
  private readonly prefix: string;
  private readonly policy: AppendFsync;
  private readonly stringEncoding: 'utf8' | 'latin1';
  private manifest: AofManifestEntry[];
  private writer: AofWriter;
  private rewriting = false;
  private closed = false;

  private constructor(
    dir: string,
    prefix: string,
    options: MultiPartAofOptions,
    manifest: AofManifestEntry[],
  ) {
    this.dir = dir;
    this.prefix = prefix;
    this.policy = options.fsync ?? 'everysec';
    this.stringEncoding = options.stringEncoding ?? 'utf8';
    this.manifest = manifest;
    const incr = manifest.filter((e) => e.type === 'i');
    this.writer = this.openWriter(incr.at(-1)!.file);
  }

  private openWriter(file: string): AofWriter {
    return AofWriter.openSync(join(this.dir, file), {
      fsync: this.policy,
      stringEncoding: this.stringEncoding,
    });
  }

  /** Opens the directory, creating it and a first incremental file if needed. */
  static open(dir: string, options: MultiPartAofOptions = {}): MultiPartAof {
    const prefix = options.prefix ?? 'appendonly.aof';
    mkdirSync(dir, { recursive: true });
    const manifestName = `${prefix}.manifest`;
    const manifestPath = join(dir, manifestName);
    let manifest: AofManifestEntry[];
    if (existsSync(manifestPath)) {
      manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
      for (const e of manifest) {
        if (e.type !== 'h' && !existsSync(join(dir, e.file))) {
          throw new AofError(
            'AOF_MANIFEST',
            `manifest names missing file ${e.file}`,
            undefined,
            manifestPath,
          );
        }
      }
    } else {
      manifest = [];
    }
    if (!manifest.some((e) => e.type === 'i')) {
      const seq = 1 + Math.max(0, ...manifest.filter((e) => e.type === 'i').map((e) => e.seq));
      manifest = [...manifest, { file: `${prefix}.${seq}.incr.aof`, seq, type: 'i' }];
      closeSync(openSync(join(dir, manifest.at(-1)!.file), 'a'));
      writeSmallFileSync(dir, manifestName, formatManifest(manifest));
    }
    return new MultiPartAof(dir, prefix, options, manifest);
  }

  get files(): readonly AofManifestEntry[] {
    return this.manifest;
  }

  /** Replays base then incremental files. Run it before the first append. */
  *load(options: AofLoadOptions = {}): Generator<AofItem, AofLoadResult> {
    const live = this.manifest.filter((e) => e.type !== 'h');
    const lastIncr = live.filter((e) => e.type === 'i').at(-1);
    let commands = 0;
    let entries = 0;
    let truncated: AofLoadResult['truncated'] = null;
    for (const e of live) {
      const path = join(this.dir, e.file);
      const isLast = e === lastIncr;
      const gen = readAofFile(path, { loadTruncated: isLast && (options.loadTruncated ?? true) });
      let r = gen.next();
      while (!r.done) {
        if (r.value.kind === 'entry') entries++;
        yield r.value;
        r = gen.next();
      }
      const result: AofReadResult = r.value;
      commands += result.commands;
      if (result.truncated) {
        truncated = { file: path, ...result.truncated };
        if (options.repair ?? true) truncateAofFile(path, result.validUpTo);
      }
    }
    return { files: live.length, commands, entries, truncated };
  }

  append(db: number, argv: readonly Arg[]): Promise<void> {
    if (this.closed) return Promise.reject(new AofError('AOF_CLOSED', 'AOF is closed', undefined, this.dir));
    return this.writer.append(db, argv);
  }

  /** See AofWriter.appendNoWait and barrier. */
  appendNoWait(db: number, argv: readonly Arg[]): void {
    if (this.closed) throw new AofError('AOF_CLOSED', 'AOF is closed', undefined, this.dir);
    this.writer.appendNoWait(db, argv);
  }

  barrier(): Promise<void> | null {
    return this.writer.barrier();
  }

  /** Bytes in the current incremental file (for auto-rewrite thresholds). */
  get incrementalBytes(): number {
    return this.writer.size;
  }

  get rewriteInProgress(): boolean {
    return this.rewriting;
  }

  /**
   * Compacts the AOF. `snapshot` must hold the dataset exactly as of this call: every command appended
   * after the call returns goes to the new incremental file and is replayed on top of the new base.
   */
  async rewrite(
    snapshot: Iterable<StoredEntry> | AsyncIterable<StoredEntry>,
    format: AofBaseFormat = 'rdb',
  ): Promise<void> {
    if (this.rewriting)
      throw new AofError('AOF_MANIFEST', 'an AOF rewrite is already in progress', undefined, this.dir);
    if (this.closed) throw new AofError('AOF_CLOSED', 'AOF is closed', undefined, this.dir);
    this.rewriting = true;
    const manifestName = `${this.prefix}.manifest`;
    const old = this.manifest;
    try {
      // 1. Switch appends to a new incremental file now, and record it before anything is acked there.
      const incrSeq = 1 + Math.max(0, ...old.filter((e) => e.type === 'i').map((e) => e.seq));
      const newIncr: AofManifestEntry = {
        file: `${this.prefix}.${incrSeq}.incr.aof`,
        seq: incrSeq,
        type: 'i',
      };
      const previous = this.writer;
      this.writer = this.openWriter(newIncr.file);
      this.manifest = [...old, newIncr];
      writeSmallFileSync(this.dir, manifestName, formatManifest(this.manifest));
      await previous.close();

      // 2. Write the new base from the snapshot, in slices.
      const baseSeq = 1 + Math.max(0, ...old.filter((e) => e.type === 'b').map((e) => e.seq));
      const base: AofManifestEntry = {
        file: `${this.prefix}.${baseSeq}.base.${format}`,
        seq: baseSeq,
        type: 'b',
      };
      await writeAofBase(join(this.dir, base.file), snapshot, format);

      // 3. Commit: the new base and the new incremental file replace everything before them.
      this.manifest = [base, newIncr];
      writeSmallFileSync(this.dir, manifestName, formatManifest(this.manifest));
      await fsyncDirectory(this.dir);
      for (const e of old) await unlink(join(this.dir, e.file)).catch(() => {});
    } finally {
      this.rewriting = false;
    }
  }

  async sync(): Promise<void> {
    await this.writer.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
  }
}
