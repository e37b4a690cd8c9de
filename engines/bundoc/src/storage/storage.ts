import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { type Bound, BTree, PutCursor, type ValueRange, type ValueSieve } from './btree.js';
import { blobSize, type CheckpointBlob, decodeBlob, encodeBlob } from './checkpoint-blob.js';
import {
  DATA_FILE,
  FORMAT_VERSION,
  LOCK_FILE,
  META_PAGES,
  maxKeyBytes,
  NODE_HEADER,
  PAGE_BLOB,
  PAGE_SIZES,
  type PageSize,
  WAL_DIR,
} from './constants.js';
import { copyOut, isOwnedArena, versionCopy } from './copy-out.js';
import { Cipher } from './crypto.js';
import {
  ClosedError,
  ConflictError,
  CorruptionError,
  EncryptionKeyError,
  FormatError,
  InvalidArgumentError,
  StoreFailedError,
} from './errors.js';
import { syncDir, syncFile } from './fsync-observer.js';
import { DirLock } from './lock.js';
import { decodeMeta, encodeMeta, type Meta, type MetaRead } from './meta.js';
import { compareBytes, isOverflow, type LeafValue, leafEntrySize, type TreeNode } from './node.js';
import { decodeCommit, decodeOps, encodeOps, type Op } from './ops.js';
import { PageSealer } from './page-seal.js';
import { Pager } from './pager.js';
import { SharedCache, type SharedCacheStats } from './shared-cache.js';
import { keyString } from './sorted-keys.js';
import { type ScanBatch, Transaction, type TxHost } from './transaction.js';
import { checkTree } from './validate.js';
import { type DroppedTree, VersionStore } from './versions.js';
import { type Durability, Wal } from './wal.js';

export interface StorageOptions {
  pageSize?: PageSize;
  /** Buffer pool budget in bytes (default 64 MiB). */
  cacheBytes?: number;
  /** A budget shared with other open stores, instead of a private `cacheBytes` pool. */
  cache?: SharedCache;
  durability?: Durability;
  encryptionKey?: Uint8Array;
  /** Checkpoint automatically once the WAL grew by this many bytes (default 64 MiB). */
  checkpointBytes?: number;
  /**
   * ... or once the oldest commit not yet in a checkpoint is this old (default 60 s), or once writes
   * pause (see IDLE_CHECKPOINT_MS); 0 disables both.
   */
  checkpointIntervalMs?: number;
  /** WAL segment size before rotation (default 32 MiB). */
  walSegmentBytes?: number;
  /**
   * Log kept behind the last checkpoint so change streams can resume from older LSNs (default 0: only
   * what recovery needs). Whole segments are kept while the older ones sum to less than this.
   */
  walRetentionBytes?: number;
  /**
   * Trees whose changes log the value they replace (the `before` of put and delete ops, for change
   * streams): each such write costs a lookup at commit and its old value in the log. Default: none.
   */
  preImages?: (tree: string) => boolean;
  /**
   * Run the WAL fsync a waiting commit needs on the event-loop thread (default true), as SQLite does: the
   * commit then waits for the disk alone, not also for two hand-offs through libuv's thread pool (on a
   * 2-vCPU VM those cost 60-300 µs per commit, more than the flush itself). Nothing else in the process
   * runs during such an fsync; a server that values event-loop latency over commit latency sets false.
   */
  inlineFsync?: boolean;
}

/** Options after defaults. */
type ResolvedOptions = Required<
  Omit<StorageOptions, 'encryptionKey' | 'pageSize' | 'cache' | 'preImages'>
> & {
  cache: SharedCache | undefined;
  preImages: ((tree: string) => boolean) | undefined;
};

/** One committed transaction as change streams see it: its LSN, commit time and changes in key order. */
export interface Commit {
  lsn: number;
  /** Commit time, ms since the epoch (0 for records written before commit times were logged). */
  time: number;
  ops: readonly Op[];
}

export interface StorageStats {
  pageSize: number;
  pages: number;
  freePages: number;
  fileBytes: number;
  cache: {
    pages: number;
    capacityPages: number;
    hits: number;
    misses: number;
    evictions: number;
    /** The shared budget this store's cache is part of (`cache` option), if any. */
    shared?: SharedCacheStats;
  };
  pagesRead: number;
  pagesWritten: number;
  wal: { bytes: number; segments: number; lastLsn: number; durableLsn: number };
  fsyncs: number;
  commits: number;
  conflicts: number;
  groupCommits: number;
  avgGroupSize: number;
  maxGroupSize: number;
  checkpoints: number;
  lastCheckpointLsn: number;
  activeTransactions: number;
  retainedVersions: number;
  trees: number;
}

export interface VerifyReport {
  trees: number;
  keys: number;
  reachablePages: number;
  freePages: number;
}

/**
 * The memory invariant of decodeNode: a node's keys and values are exact copies or views into at most
 * one page buffer, plus, in a dirty node only, views into the store's write arenas (rebased onto the page
 * when the node is written). Checked by verify() on every cached node (an engine bug if it fails).
 */
function checkOrigins(node: TreeNode): void {
  if (node.kind === 'leaf' && node.offs !== null) return; // packed: its page is all it references
  let origin: ArrayBufferLike | undefined;
  const see = (b: Uint8Array) => {
    if (b.buffer.byteLength === b.length || b.buffer === origin) return;
    if (isOwnedArena(b.buffer)) {
      if (!node.dirty) throw new Error(`internal: clean node ${node.pgno} references a write arena`);
      return;
    }
    if (origin !== undefined) throw new Error(`internal: node ${node.pgno} references two page buffers`);
    origin = b.buffer;
  };
  for (const k of node.keys) see(k);
  if (node.kind === 'leaf') for (const v of node.values) if (!isOverflow(v)) see(v);
}

/** A scan batch copied out for the caller; `lastKey` is the store's own copy of its last key. */
interface CopiedBatch {
  entries: Array<[Uint8Array, Uint8Array]>;
  cut: boolean;
  lastKey: Uint8Array | undefined;
}

const KEY_CHECK_AAD = Buffer.from('bundoc-key-check', 'latin1');
/** The data file is written under this name and renamed into place once complete. */
const CREATING_FILE = `${DATA_FILE}.creating`;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * The WAL keeps the log since the previous checkpoint (for the fallback meta page) and grows by
 * checkpointBytes before the next one: at this many times checkpointBytes commits wait for a checkpoint.
 */
const WAL_LIMIT_FACTOR = 3;
/**
 * A store whose commits paused this long, with at least 1/IDLE_CHECKPOINT_SHARE of checkpointBytes logged
 * since its last checkpoint, checkpoints in the pause: a bulk load then gets its checkpoint while the disk
 * is free, not in the next burst of writes (where the timer or the size would put it, sharing the disk
 * with their fsyncs), and recovery after a crash has less log to replay. The share keeps writers that
 * pause often from checkpointing for every few commits.
 */
const IDLE_CHECKPOINT_MS = 1000;
const IDLE_CHECKPOINT_SHARE = 16;
/**
 * A checkpoint writes its pages a slice at a time (encoding tens of MB at once held the event loop for
 * 100-200 ms): a slice of this long per turn of the event loop, and one of COMMIT_SLICE_MS after each
 * commit, so writers in a tight loop (whose commits may never leave the microtask queue) keep it moving.
 */
const CHECKPOINT_SLICE_MS = 4;
const COMMIT_SLICE_MS = 1;

/** Reads both meta slots; slot 1 sits one page in, and the page size is only known from a valid slot. */
async function readMetas(file: string): Promise<MetaRead[]> {
  const fh = await fsp.open(file, 'r');
  try {
    const probe = Buffer.alloc(16384 * 2);
    const { bytesRead } = await fh.read(probe, 0, probe.length, 0);
    const data = probe.subarray(0, bytesRead);
    const first = decodeMeta(data.subarray(0, Math.min(bytesRead, 16384)));
    const sizes: number[] = first.kind === 'ok' ? [first.meta.pageSize] : [...PAGE_SIZES];
    let second: MetaRead = { kind: 'not-bundoc' };
    for (const size of sizes) {
      const r = decodeMeta(data.subarray(size, Math.min(bytesRead, 2 * size)));
      if (r.kind === 'ok' || second.kind === 'not-bundoc') second = r;
      if (r.kind === 'ok') break;
    }
    return [first, second];
  } finally {
    await fh.close();
  }
}

/** Chooses the newest valid meta or explains, with a typed error, why the directory cannot be opened. */
function pickMeta(reads: MetaRead[], dir: string): Meta {
  for (const r of reads) {
    if (r.kind === 'newer') {
      throw new FormatError(
        `${dir} was written by a newer bundoc (format version ${r.version}; this build reads up to ${FORMAT_VERSION})`,
      );
    }
  }
  const ok = reads.flatMap((r) => (r.kind === 'ok' ? [r.meta] : []));
  if (ok.length === 0) {
    if (reads.every((r) => r.kind === 'not-bundoc')) throw new FormatError(`${dir} is not a bundoc store`);
    const why = reads.map((r, i) => `meta ${i}: ${r.kind === 'corrupt' ? r.reason : r.kind}`).join('; ');
    throw new CorruptionError(DATA_FILE, 0, `no valid meta page (${why})`);
  }
  return ok.reduce((a, b) => (b.epoch > a.epoch ? b : a));
}

/**
 * An ordered key-value store of named B+trees with MVCC snapshot transactions, a write-ahead log with
 * group commit, copy-on-write checkpoints and crash recovery. See FORMAT.md for the design.
 */
export class Storage implements TxHost {
  readonly dir: string;
  readonly maxKey: number;
  readonly #lock: DirLock;
  readonly #pager: Pager;
  readonly #btree: BTree;
  readonly #wal: Wal;
  readonly #versions = new VersionStore();
  /** The path of consecutive puts within one #apply (reused: its arrays were garbage per commit). */
  readonly #putCursor = new PutCursor();
  readonly #catalog = new Map<string, number>();
  /**
   * Open transactions in slots [0, #activeCount) (each knows its slot): a Set that empties and refills
   * at every commit reallocated its table each time.
   */
  readonly #active: Array<Transaction | undefined> = [];
  #activeCount = 0;
  readonly #opts: ResolvedOptions;
  #meta: Meta;
  /** Pages of the last checkpoint's catalog blob: in use until the next checkpoint is durable. */
  #blobPages: number[];
  /**
   * Pages the previous checkpoint references but the newest does not. They stay untouched until one more
   * checkpoint is durable, so that if the newest meta page is ever unreadable the other one still
   * describes an intact tree (FORMAT.md "Page lifecycle").
   */
  #held: number[];
  /** Pages the newest durable checkpoint references but an in-flight one does not (held once it lands). */
  #retiring: number[] = [];
  /** Detached roots as recorded by the last checkpoint, to tell whether a new one would change anything. */
  #detachedAtCheckpoint: string;
  #checkpointChain: Promise<void> = Promise.resolve();
  /** Checkpoints (and backups) queued or running; counted from the call, not from when they start. */
  #checkpointsPending = 0;
  #walBytesAtCheckpoint = 0;
  /** The pages the running checkpoint captured and has not written yet (see #checkpoint). */
  #unwritten: { nodes: TreeNode[]; next: number; wake?: () => void } | undefined;
  /** When the oldest commit not in a checkpoint (nor in the one running) was appended (timed checkpoints). */
  #oldestUncheckpointedAt: number | undefined;
  /** When the last commit was appended (idle checkpoints). */
  #lastCommitAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #failed: StoreFailedError | undefined;
  /** Commits waiting for their durability; close() waits for them (#drained: when they are none). */
  #inflight = 0;
  #drained: (() => void) | undefined;
  /** Commits logged but not yet announced to commit listeners, in LSN order. */
  readonly #unannounced: Commit[] = [];
  readonly #commitListeners = new Set<(c: Commit) => void>();
  commits = 0;
  conflicts = 0;
  checkpoints = 0;

  private constructor(
    dir: string,
    lock: DirLock,
    pager: Pager,
    wal: Wal,
    meta: Meta,
    blob: CheckpointBlob,
    blobPages: number[],
    opts: ResolvedOptions,
  ) {
    this.dir = dir;
    this.#lock = lock;
    this.#pager = pager;
    this.#wal = wal;
    this.#meta = meta;
    this.#blobPages = blobPages;
    this.#held = blob.held.slice();
    this.#detachedAtCheckpoint = blob.detached.join(',');
    this.#opts = opts;
    this.maxKey = maxKeyBytes(meta.pageSize);
    this.#btree = new BTree(pager, pager.sealer.logicalSize - NODE_HEADER);
    for (const [name, root] of blob.trees) this.#catalog.set(name, root);
  }

  static async open(dir: string, options: StorageOptions = {}): Promise<Storage> {
    if (typeof dir !== 'string' || dir.length === 0)
      throw new InvalidArgumentError('dir must be a non-empty string');
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('options must be an object');
    const o = options;
    if (o.pageSize !== undefined && !PAGE_SIZES.includes(o.pageSize)) {
      throw new InvalidArgumentError(`pageSize must be one of ${PAGE_SIZES.join(', ')}`);
    }
    const positive = (v: unknown, name: string, min: number) => {
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) {
        throw new InvalidArgumentError(`${name} must be a number >= ${min}`);
      }
    };
    positive(o.cacheBytes, 'cacheBytes', 0);
    if (o.cache !== undefined && !(o.cache instanceof SharedCache)) {
      throw new InvalidArgumentError('cache must be a SharedCache');
    }
    if (o.cache !== undefined && o.cacheBytes !== undefined) {
      throw new InvalidArgumentError('give cacheBytes (a private cache) or cache (a shared one), not both');
    }
    positive(o.checkpointBytes, 'checkpointBytes', 1);
    positive(o.checkpointIntervalMs, 'checkpointIntervalMs', 0);
    positive(o.walSegmentBytes, 'walSegmentBytes', 4096);
    positive(o.walRetentionBytes, 'walRetentionBytes', 0);
    if (o.preImages !== undefined && typeof o.preImages !== 'function') {
      throw new InvalidArgumentError('preImages must be a function of the tree name');
    }
    if (o.inlineFsync !== undefined && typeof o.inlineFsync !== 'boolean') {
      throw new InvalidArgumentError('inlineFsync must be a boolean');
    }
    if (o.durability !== undefined && !['full', 'normal', 'off'].includes(o.durability)) {
      throw new InvalidArgumentError("durability must be 'full', 'normal' or 'off'");
    }
    const cipher = o.encryptionKey !== undefined ? new Cipher(o.encryptionKey) : undefined;
    const opts = {
      cacheBytes: o.cacheBytes ?? 64 * 1024 * 1024,
      durability: o.durability ?? 'full',
      checkpointBytes: o.checkpointBytes ?? 64 * 1024 * 1024,
      checkpointIntervalMs: o.checkpointIntervalMs ?? 60_000,
      walSegmentBytes: o.walSegmentBytes ?? 32 * 1024 * 1024,
      walRetentionBytes: o.walRetentionBytes ?? 0,
      inlineFsync: o.inlineFsync ?? true,
      cache: o.cache,
      preImages: o.preImages,
    };

    const file = path.join(dir, DATA_FILE);
    let exists = fs.existsSync(file);
    if (!exists && fs.existsSync(dir)) {
      if (!fs.statSync(dir).isDirectory()) throw new FormatError(`${dir} is not a directory`);
      // A creation cut short by a crash leaves only these behind; anything else is someone else's data.
      const leftovers = new Set([LOCK_FILE, CREATING_FILE, WAL_DIR]);
      const entries = fs.readdirSync(dir);
      const walEntries = entries.includes(WAL_DIR) ? fs.readdirSync(path.join(dir, WAL_DIR)) : [];
      if (entries.some((e) => !leftovers.has(e)) || walEntries.length > 0) {
        throw new FormatError(`${dir} is not a bundoc store (it holds other files)`);
      }
    }
    // Everything that can be refused is checked before the lock is taken, so refusal changes nothing.
    let meta: Meta | undefined;
    if (exists) {
      meta = pickMeta(await readMetas(file), dir);
      if (o.pageSize !== undefined && o.pageSize !== meta.pageSize) {
        throw new InvalidArgumentError(`store was created with pageSize ${meta.pageSize}, not ${o.pageSize}`);
      }
      Storage.#checkKey(meta, cipher);
    } else {
      await fsp.mkdir(dir, { recursive: true });
    }
    const lock = DirLock.acquire(dir);
    try {
      if (!exists) {
        meta = await Storage.#create(dir, o.pageSize ?? 8192, cipher);
        exists = true;
      } else {
        meta = pickMeta(await readMetas(file), dir);
      }
      return await Storage.#load(dir, lock, meta!, cipher, opts);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  static #checkKey(meta: Meta, cipher: Cipher | undefined): void {
    if (meta.encrypted && !cipher)
      throw new EncryptionKeyError('store is encrypted: an encryptionKey is required');
    if (!meta.encrypted && cipher)
      throw new EncryptionKeyError('store is not encrypted but an encryptionKey was given');
    if (cipher && !cipher.open(meta.keyCheck, KEY_CHECK_AAD)) {
      throw new EncryptionKeyError('wrong encryption key for this store');
    }
  }

  static async #create(dir: string, pageSize: number, cipher: Cipher | undefined): Promise<Meta> {
    const keyCheck = Buffer.alloc(44);
    if (cipher) cipher.sealInto(Buffer.alloc(16), KEY_CHECK_AAD, keyCheck);
    const meta: Meta = {
      version: FORMAT_VERSION,
      pageSize,
      encrypted: cipher !== undefined,
      epoch: 0,
      checkpointLsn: 0,
      pageCount: META_PAGES,
      blobHead: 0,
      blobLength: 0,
      nextSegment: 0,
      keyCheck,
    };
    const tmp = path.join(dir, CREATING_FILE);
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.write(encodeMeta(meta, pageSize), 0, pageSize, 0);
      await fh.write(Buffer.alloc(pageSize), 0, pageSize, pageSize);
      await syncFile(fh, tmp);
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path.join(dir, DATA_FILE));
    await syncDir(dir);
    return meta;
  }

  static async #load(
    dir: string,
    lock: DirLock,
    meta: Meta,
    cipher: Cipher | undefined,
    opts: ResolvedOptions,
  ): Promise<Storage> {
    const fh = await fsp.open(path.join(dir, DATA_FILE), 'r+');
    let wal: Wal | undefined;
    try {
      const sealer = new PageSealer(meta.pageSize, cipher);
      const pager = new Pager(
        fh,
        path.join(dir, DATA_FILE),
        DATA_FILE,
        sealer,
        opts.cacheBytes,
        meta.pageCount,
        [],
        opts.cache,
      );
      let blob: CheckpointBlob = { trees: [], detached: [], free: [], held: [] };
      let blobPages: number[] = [];
      if (meta.blobHead !== 0) {
        const r = pager.readChain(PAGE_BLOB, meta.blobHead, meta.blobLength);
        try {
          blob = decodeBlob(r.bytes);
        } catch (e) {
          throw new CorruptionError(DATA_FILE, meta.blobHead, (e as Error).message);
        }
        blobPages = r.pages;
      }
      pager.freeList = blob.free.slice();
      const opened = await Wal.open(dir, {
        cipher,
        segmentBytes: opts.walSegmentBytes,
        durability: opts.durability,
        inlineSync: opts.inlineFsync,
        checkpointLsn: meta.checkpointLsn,
        nextSegment: meta.nextSegment,
      });
      wal = opened.wal;
      const st = new Storage(dir, lock, pager, wal, meta, blob, blobPages, opts);
      for (const root of blob.detached) st.#freeTree(root);
      for (const rec of opened.records) {
        st.#apply(decodeOps(rec.body, rec.lsn), rec.lsn, false);
        pager.evict(); // a long log must not pull the whole tree into memory
      }
      st.#walBytesAtCheckpoint = 0;
      // The replayed state is checkpointed in the background, like any other: until then the log still
      // holds it (a crash replays it again), and the open waits neither for encoding and writing the
      // pages nor for the fsyncs (after this tick: a checkpoint encodes the dirty pages synchronously).
      if (opened.records.length > 0 || blob.detached.length > 0) setImmediate(() => st.#autoCheckpoint());
      st.#startTimer();
      return st;
    } catch (e) {
      if (wal) await wal.close().catch(() => {});
      await fh.close().catch(() => {});
      throw e;
    }
  }

  #startTimer(): void {
    if (this.#opts.checkpointIntervalMs <= 0) return;
    this.#timer = setInterval(
      () => {
        const now = Date.now();
        const oldest = this.#oldestUncheckpointedAt;
        const due = oldest !== undefined && now - oldest >= this.#opts.checkpointIntervalMs;
        const paused = now - this.#lastCommitAt >= IDLE_CHECKPOINT_MS;
        const idle = paused && this.#walGrowth() * IDLE_CHECKPOINT_SHARE >= this.#opts.checkpointBytes;
        if ((due || idle) && this.#wal.lastLsn > this.#meta.checkpointLsn) this.#autoCheckpoint();
        else if (paused && this.#checkpointsPending === 0 && this.#fallbackLogDue())
          this.#autoCheckpoint(true);
      },
      Math.max(50, Math.min(1000, this.#opts.checkpointIntervalMs)),
    );
    this.#timer.unref();
  }

  // ---- lifecycle guards ----

  assertUsable(): void {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new ClosedError('storage');
  }

  #fail(e: unknown): StoreFailedError {
    if (!this.#failed) this.#failed = e instanceof StoreFailedError ? e : new StoreFailedError(e);
    return this.#failed;
  }

  /** Highest LSN whose commit has been acknowledged; new snapshots start here. */
  get #visible(): number {
    return this.#opts.durability === 'full' ? this.#wal.durableLsn : this.#wal.writtenLsn;
  }

  // ---- transactions ----

  begin(opts?: { readOnly?: boolean }): Transaction {
    this.assertUsable();
    if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
      throw new InvalidArgumentError('begin options must be an object');
    }
    if (opts?.readOnly !== undefined && typeof opts.readOnly !== 'boolean') {
      throw new InvalidArgumentError('readOnly must be a boolean');
    }
    const tx = new Transaction(this, this.#visible, opts?.readOnly === true);
    tx.activeSlot = this.#activeCount;
    this.#active[this.#activeCount++] = tx;
    return tx;
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T, opts?: { retries?: number }): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('transaction needs a function');
    const retries = opts?.retries ?? 5;
    if (!Number.isInteger(retries) || retries < 0)
      throw new InvalidArgumentError('retries must be an integer >= 0');
    for (let attempt = 0; ; attempt++) {
      const tx = this.begin();
      try {
        const result = await fn(tx);
        if (tx.state === 'open') await tx.commit();
        return result;
      } catch (e) {
        tx.abort();
        if (!(e instanceof ConflictError) || attempt >= retries) throw e;
        // The winner may still be waiting for its fsync; a snapshot taken before it is visible would
        // conflict again, so wait until everything logged so far is visible, then back off a little.
        await this.#waitVisible(this.#wal.lastLsn).catch(() => {});
        await new Promise((r) => setTimeout(r, Math.random() * 2 * (attempt + 1)));
      }
    }
  }

  #waitVisible(lsn: number): Promise<void> {
    return this.#opts.durability === 'full' ? this.#wal.waitDurable(lsn) : this.#wal.waitWritten(lsn);
  }

  endTx(tx: Transaction): void {
    const i = tx.activeSlot;
    if (i >= 0) {
      const last = this.#active[--this.#activeCount]!;
      this.#active[i] = last;
      last.activeSlot = i;
      this.#active[this.#activeCount] = undefined;
      tx.activeSlot = -1;
    }
    this.#gc();
  }

  #gc(): void {
    let min = this.#visible;
    for (let i = 0; i < this.#activeCount; i++) {
      const s = this.#active[i]!.snapshot;
      if (s < min) min = s;
    }
    this.#versions.gc(min, this.#onDropReleased);
  }

  /** Frees a dropped tree once no snapshot sees it (one function: #gc runs at every transaction's end). */
  readonly #onDropReleased = (_tree: string, d: DroppedTree): void => {
    if (!this.#failed && !this.#closed) this.#freeTree(d.root);
  };

  readAt(tree: string, key: Uint8Array, snapshot: number, view = false): Uint8Array | undefined {
    const drop = this.#versions.dropAfter(tree, snapshot);
    const v = this.#versions.lookup(tree, key, snapshot, drop?.seq ?? Number.POSITIVE_INFINITY);
    if (v) return v.before === undefined || view ? v.before : copyOut(v.before);
    const root = drop ? drop.root : this.#catalog.get(tree);
    if (root === undefined) return undefined;
    const lv = this.#btree.get(root, key);
    const out = lv === undefined ? undefined : view ? this.#view(lv) : this.#materialize(lv);
    this.#pager.evict();
    return out;
  }

  /** readAt(…, view: true) into `out` (see BTree.getRange); false when the key is absent. */
  readRangeAt(tree: string, key: Uint8Array, snapshot: number, out: ValueRange): boolean {
    const drop = this.#versions.dropAfter(tree, snapshot);
    const v = this.#versions.lookup(tree, key, snapshot, drop?.seq ?? Number.POSITIVE_INFINITY);
    if (v) {
      if (v.before === undefined) return false;
      out.whole(v.before);
      return true;
    }
    const root = drop ? drop.root : this.#catalog.get(tree);
    if (root === undefined || !this.#btree.getRange(root, key, out)) return false;
    if (out.overflow !== undefined) out.whole(this.#view(out.overflow));
    this.#pager.evict();
    return true;
  }

  /** A leaf value's bytes without a copy where they are inline (see Transaction.rangeViews). */
  #view(v: LeafValue): Uint8Array {
    return isOverflow(v) ? this.#pager.readOverflow(v.page, v.length).bytes : v;
  }

  #materialize(v: LeafValue): Uint8Array {
    return isOverflow(v) ? this.#pager.readOverflow(v.page, v.length).bytes : copyOut(v);
  }

  scanAt(
    tree: string,
    from: Bound | undefined,
    to: Bound | undefined,
    reverse: boolean,
    max: number,
    snapshot: number,
    views = false,
  ): ScanBatch {
    const drop = this.#versions.dropAfter(tree, snapshot);
    const until = drop?.seq ?? Number.POSITIVE_INFINITY;
    const root = drop ? drop.root : this.#catalog.get(tree);
    const base = root === undefined ? [] : this.#btree.scan(root, from, to, reverse, max);
    const treeDone = base.length < max;
    let upto: Bound | undefined = treeDone ? to : { key: base[base.length - 1][0], inclusive: true };
    // Keys changed after the snapshot inside the interval the tree batch covers.
    const kv = this.#versions.keysOf(tree);
    const overrides: Array<[Uint8Array, Uint8Array | undefined]> = [];
    if (kv && kv.size > 0) {
      const a = from ? { key: keyString(from.key), inclusive: from.inclusive } : undefined;
      const b = upto ? { key: keyString(upto.key), inclusive: upto.inclusive } : undefined;
      for (const ks of reverse ? kv.between(b, a, true) : kv.between(a, b, false)) {
        const rec = kv.get(ks)!;
        const v = this.#versions.versionAt(rec, snapshot, until);
        if (v) overrides.push([rec.key, v.before]);
      }
    }
    const { entries, cut, lastKey } =
      overrides.length === 0
        ? this.#copyBatch(base, views)
        : this.#mergeVersions(base, overrides, reverse, views);
    // The resume bound is the store's own key, not the copy handed out (a caller may change that).
    if (cut) upto = { key: lastKey!, inclusive: true };
    this.#pager.evict();
    return { entries, upto, done: treeDone && !cut };
  }

  /**
   * Visits the entries of a range at `snapshot` straight from the tree, as views (see
   * Transaction.eachView), until `visit` returns false. Only where no commit after `snapshot` changed
   * the tree (the common case: the walk then needs no before-images); returns false, having visited
   * nothing, where one did, and the caller scans in batches (scanAt). Entries `sieve` rejects are
   * skipped (see ValueSieve).
   */
  eachAt(
    tree: string,
    from: Bound | undefined,
    to: Bound | undefined,
    reverse: boolean,
    snapshot: number,
    visit: (key: Uint8Array, value: Uint8Array) => boolean,
    sieve?: ValueSieve,
    keys = true,
  ): boolean {
    if (this.#versions.changedAfter(tree, snapshot)) return false;
    const root = this.#catalog.get(tree);
    if (root !== undefined) {
      const onEntry = (k: Uint8Array, v: LeafValue): boolean => {
        if (!isOverflow(v)) return visit(k, v);
        const bytes = this.#view(v);
        return sieve !== undefined && !sieve(bytes, 0, bytes.length) ? true : visit(k, bytes);
      };
      try {
        this.#btree.each(root, from, to, reverse, onEntry, sieve, keys);
      } finally {
        this.#pager.evict();
      }
    }
    return true;
  }

  /**
   * The common case of a scan batch: the tree's entries, copied out. The pairs of the tree batch are
   * reused for the copies (no second array: a full scan was 18% GC). Cut after MAX_BATCH_BYTES.
   */
  #copyBatch(base: Array<[Uint8Array, LeafValue]>, views: boolean): CopiedBatch {
    const out = base as unknown as Array<[Uint8Array, Uint8Array]>;
    let bytes = 0;
    let lastKey: Uint8Array | undefined;
    for (let n = 0; n < base.length; n++) {
      if (bytes > MAX_BATCH_BYTES && n > 0) {
        out.length = n;
        return { entries: out, cut: true, lastKey };
      }
      const e = base[n];
      const key = e[0];
      lastKey = key;
      const value = views ? this.#view(e[1]) : this.#materialize(e[1]);
      bytes += value.length + key.length;
      out[n][0] = views ? key : copyOut(key);
      out[n][1] = value;
    }
    return { entries: out, cut: false, lastKey };
  }

  /** Merges a tree batch with the before-images that override it at the snapshot, copying out. */
  #mergeVersions(
    base: Array<[Uint8Array, LeafValue]>,
    overrides: Array<[Uint8Array, Uint8Array | undefined]>,
    reverse: boolean,
    views: boolean,
  ): CopiedBatch {
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    let cut = false;
    let lastKey: Uint8Array | undefined;
    let bytes = 0;
    let i = 0;
    let j = 0;
    const dir = reverse ? -1 : 1;
    while (i < base.length || j < overrides.length) {
      if (bytes > MAX_BATCH_BYTES && entries.length > 0) {
        cut = true;
        break;
      }
      let key: Uint8Array;
      let value: Uint8Array | undefined;
      const c =
        i >= base.length ? 1 : j >= overrides.length ? -1 : compareBytes(base[i][0], overrides[j][0]) * dir;
      if (c < 0) {
        key = base[i][0];
        value = views ? this.#view(base[i][1]) : this.#materialize(base[i][1]);
        i++;
      } else {
        key = overrides[j][0];
        const before = overrides[j][1];
        value = before === undefined || views ? before : copyOut(before);
        j++;
        if (c === 0) i++;
      }
      if (value !== undefined) {
        entries.push([views ? key : copyOut(key), value]);
        bytes += value.length + key.length;
        lastKey = key;
      }
    }
    return { entries, cut, lastKey };
  }

  async commitTx(tx: Transaction): Promise<void> {
    this.assertUsable();
    // Backpressure: once the log holds WAL_LIMIT_FACTOR x checkpointBytes, commits wait for the pending
    // checkpoint, so the WAL stays bounded however fast the writers are (the check and the append below
    // run in one synchronous stretch, so no commit slips past it).
    while (this.#checkpointsPending > 0 && this.#walOverLimit()) {
      await this.#checkpointChain;
      this.assertUsable();
    }
    const ops: Op[] = [];
    // The key strings of the write sets, reused by #apply for the version store.
    const keyStrings: string[] = [];
    for (const [tree, set] of tx.writes) {
      const drop = this.#versions.dropAfter(tree, tx.snapshot);
      if (drop) {
        this.conflicts++;
        throw new ConflictError(tree, 'the tree was dropped after this transaction began');
      }
      // In key order: the B+tree then applies neighbouring keys leaf by leaf (and the log replays alike).
      for (const ks of set.sortedKeys()) {
        const w = set.map.get(ks)!;
        if (this.#versions.latestSeq(tree, ks) > tx.snapshot) {
          this.conflicts++;
          throw new ConflictError(tree);
        }
        keyStrings.push(ks);
        ops.push(
          w.value === undefined
            ? w.note === 'insert'
              ? { kind: 'delete', tree, key: w.key, absent: true }
              : { kind: 'delete', tree, key: w.key }
            : w.note === undefined
              ? { kind: 'put', tree, key: w.key, value: w.value }
              : { kind: 'put', tree, key: w.key, value: w.value, note: w.note },
        );
      }
    }
    if (ops.length === 0) return;
    await this.#log(ops, keyStrings);
  }

  /** Appends a commit record, applies it, then waits for the durability the mode promises. */
  async #log(ops: Op[], keyStrings?: readonly string[]): Promise<void> {
    const time = Date.now();
    this.#lastCommitAt = time;
    this.#oldestUncheckpointedAt ??= time;
    if (this.#opts.preImages) this.#addPreImages(ops, this.#opts.preImages);
    // Applied before its flush starts: a lone writer's fsync runs inline (blocking), and the apply is
    // quicker done before it than after, when the CPU comes back to cold caches.
    const lsn = this.#wal.append(encodeOps(ops, time), true);
    this.#unannounced.push({ lsn, time, ops });
    try {
      this.#apply(ops, lsn, true, keyStrings);
    } catch (e) {
      // A half-applied commit must never be read or checkpointed.
      throw this.#fail(e);
    } finally {
      this.#wal.flush();
    }
    this.commits++;
    this.#pager.evict();
    if (this.#unwritten !== undefined) {
      try {
        this.#writeUnwritten(COMMIT_SLICE_MS);
      } catch (e) {
        throw this.#fail(e);
      }
    }
    this.#maybeAutoCheckpoint();
    const wait = this.#waitVisible(lsn);
    this.#inflight++;
    try {
      await wait;
    } catch (e) {
      throw this.#fail(e);
    } finally {
      if (--this.#inflight === 0) this.#drained?.();
    }
    this.#announce();
    this.#gc();
  }

  /**
   * Sets `before` on the puts and deletes of pre-image trees whose key exists: read from the tree as it
   * is now, which is the state just before this commit (commits are applied in order, synchronously
   * after their append, and nothing runs between this and the append).
   */
  #addPreImages(ops: Op[], wanted: (tree: string) => boolean): void {
    let dropped: Set<string> | undefined;
    for (const op of ops) {
      if (op.kind === 'drop') {
        dropped ??= new Set();
        dropped.add(op.tree);
        continue;
      }
      if ((op.kind === 'put' ? op.note !== undefined : op.absent === true) || dropped?.has(op.tree)) continue;
      if (!wanted(op.tree)) continue;
      const root = this.#catalog.get(op.tree);
      const lv = root === undefined ? undefined : this.#btree.get(root, op.key);
      if (lv !== undefined) op.before = this.#materialize(lv);
    }
  }

  /**
   * Hands every commit that became visible to the commit listeners, in LSN order. Commits wait for their
   * fsync together and resume in any order, so announcing goes through one queue, never per commit.
   */
  #announce(): void {
    const visible = this.#visible;
    const q = this.#unannounced;
    let n = 0;
    while (n < q.length && q[n]!.lsn <= visible) n++;
    if (n === 0) return;
    const ready = q.splice(0, n);
    for (const fn of this.#commitListeners) {
      for (const c of ready) {
        try {
          fn(c);
        } catch {
          // A listener's failure is its own: commits and other listeners go on.
        }
      }
    }
  }

  /** The LSN of the last commit readers can see (acknowledged in this durability mode). */
  get visibleLsn(): number {
    return this.#visible;
  }

  /**
   * Calls `fn` with every commit that becomes visible from now on, in LSN order, synchronously after it
   * is acknowledged. Returns the function that stops it.
   */
  onCommit(fn: (commit: Commit) => void): () => void {
    this.assertUsable();
    if (typeof fn !== 'function') throw new InvalidArgumentError('onCommit needs a function');
    const entry = (c: Commit) => fn(c);
    this.#commitListeners.add(entry);
    return () => {
      this.#commitListeners.delete(entry);
    };
  }

  /**
   * The commits with afterLsn < lsn <= upToLsn (default: visibleLsn now) read back from the log, in order.
   * HistoryUnavailableError when checkpoints already dropped the first of them.
   */
  async *commitsSince(afterLsn: number, upToLsn: number = this.#visible): AsyncGenerator<Commit> {
    this.assertUsable();
    if (!Number.isSafeInteger(afterLsn) || afterLsn < 0) {
      throw new InvalidArgumentError('afterLsn must be an integer >= 0');
    }
    if (afterLsn > this.#wal.lastLsn) {
      throw new InvalidArgumentError(`afterLsn ${afterLsn} is beyond the last commit (${this.#wal.lastLsn})`);
    }
    for await (const rec of this.#wal.records(afterLsn, Math.min(upToLsn, this.#visible))) {
      const { ops, time } = decodeCommit(rec.body, rec.lsn);
      yield { lsn: rec.lsn, time, ops };
    }
  }

  /** `keyStrings[i]`: keyString of ops[i].key when the caller has it. */
  #apply(ops: Op[], lsn: number, keepVersions: boolean, keyStrings?: readonly string[]): void {
    // Consecutive puts (in key order, see commitTx) reuse the path of the previous one. Valid for this
    // synchronous call only: nothing is evicted and no checkpoint starts before it returns.
    const cursor = this.#putCursor;
    cursor.reset();
    try {
      this.#applyOps(ops, lsn, keepVersions, cursor, keyStrings);
    } finally {
      cursor.reset(); // it holds nodes: not past this call
    }
  }

  #applyOps(
    ops: Op[],
    lsn: number,
    keepVersions: boolean,
    cursor: PutCursor,
    keyStrings: readonly string[] | undefined,
  ): void {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.kind !== 'put') cursor.reset();
      if (op.kind === 'drop') {
        const root = this.#catalog.get(op.tree);
        if (root === undefined) continue;
        this.#catalog.delete(op.tree);
        if (keepVersions) this.#versions.recordDrop(op.tree, lsn, root);
        else this.#freeTree(root);
        continue;
      }
      let root = this.#catalog.get(op.tree);
      if (root === undefined) {
        if (op.kind === 'delete') {
          // Nothing to remove, but the write still counts for conflict detection.
          if (keepVersions)
            this.#versions.record(op.tree, keyStrings?.[i] ?? keyString(op.key), op.key, lsn, undefined);
          continue;
        }
        root = this.#btree.createEmpty();
      }
      let change: { root: number; old: LeafValue | undefined };
      if (op.kind === 'put') {
        const inline = leafEntrySize(op.key, op.value) <= this.#btree.capacity / 3;
        const lv: LeafValue = inline
          ? op.value
          : { page: this.#pager.writeOverflow(op.value, lsn), length: op.value.length };
        change = this.#btree.put(root, op.key, lv, lsn, cursor);
      } else {
        change = this.#btree.delete(root, op.key, lsn);
      }
      this.#catalog.set(op.tree, change.root);
      let before: Uint8Array | undefined;
      if (change.old !== undefined) {
        if (isOverflow(change.old)) {
          const r = this.#pager.readOverflow(change.old.page, change.old.length);
          before = r.bytes;
          for (const p of r.pages) this.#pager.free(p);
        } else {
          // Copied when retained: it may be a view into a whole page (decodeNode).
          before = keepVersions ? versionCopy(change.old) : change.old;
        }
      }
      if (keepVersions)
        this.#versions.record(op.tree, keyStrings?.[i] ?? keyString(op.key), op.key, lsn, before);
    }
  }

  #freeTree(root: number): void {
    const pages: number[] = [];
    this.#btree.collect(
      root,
      (p) => pages.push(p),
      (ref) => pages.push(...this.#pager.readOverflow(ref.page, ref.length).pages),
    );
    for (const p of pages) this.#pager.free(p);
  }

  // ---- trees ----

  trees(): string[] {
    this.assertUsable();
    return [...this.#catalog.keys()].sort();
  }

  async dropTree(name: string): Promise<void> {
    this.assertUsable();
    checkTree(name);
    if (!this.#catalog.has(name)) return;
    await this.#log([{ kind: 'drop', tree: name }]);
  }

  // ---- checkpoints ----

  #walOverLimit(): boolean {
    return this.#wal.stats().bytes >= WAL_LIMIT_FACTOR * this.#opts.checkpointBytes;
  }

  /** Bytes logged since the last checkpoint. */
  #walGrowth(): number {
    return this.#wal.stats().bytes - this.#walBytesAtCheckpoint;
  }

  #maybeAutoCheckpoint(): void {
    if (this.#checkpointsPending > 0) return;
    const grown = this.#walGrowth() >= this.#opts.checkpointBytes;
    if (grown || this.#walOverLimit()) this.#autoCheckpoint();
  }

  /** `fallbackLog`: also when nothing changed, if the log kept for the fallback is due to go. */
  #autoCheckpoint(fallbackLog = false): void {
    if (this.#checkpointsPending > 0 || this.#closed || this.#failed) return;
    this.#serialize(() => this.#checkpoint(fallbackLog)).catch((e) => this.#fail(e));
  }

  /**
   * Whether a checkpoint of the unchanged state is due, to drop the log only the fallback meta page needs:
   * the store is clean, and that log is at least the idle share of checkpointBytes. That log waits for the
   * next checkpoint (FORMAT.md §5, §8), which after a bulk load may never come: the store then stayed on
   * disk twice, as pages and as log (the bench's reference documents: 544 bytes each, half of it log).
   * A checkpoint of the same state in a pause (and at close) leaves a fallback that needs no log.
   */
  #fallbackLogDue(): boolean {
    const bytes = this.#wal.droppableBytes(this.#meta.checkpointLsn, this.#opts.walRetentionBytes);
    return bytes * IDLE_CHECKPOINT_SHARE >= this.#opts.checkpointBytes && this.#clean();
  }

  /** Makes the current state the durable base and truncates the WAL behind it. */
  checkpoint(): Promise<void> {
    this.assertUsable();
    return this.#serialize(() => this.#checkpoint());
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    this.#checkpointsPending++;
    const run = this.#checkpointChain.then(async () => {
      try {
        return await fn();
      } finally {
        this.#checkpointsPending--;
      }
    });
    this.#checkpointChain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** True when the durable checkpoint already describes the current state exactly. */
  #clean(): boolean {
    return (
      this.#wal.lastLsn === this.#meta.checkpointLsn &&
      this.#pager.pendingFree.length === 0 &&
      this.#pager.fresh.size === 0 &&
      this.#versions.droppedRoots().join(',') === this.#detachedAtCheckpoint
    );
  }

  /**
   * Checkpoint N+1 (FORMAT.md "Checkpoint"): write every dirty page, write the catalog blob, fsync the
   * WAL up to the checkpoint LSN and the data file, then write the meta page into slot (N+1) % 2 and fsync
   * again. Pages only checkpoint N-1 used become free; pages only N used are held for one more round.
   * Skipped when nothing changed, unless `fallbackLog` and the log kept for the fallback is due to go.
   */
  async #checkpoint(fallbackLog = false): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.#clean() && !(fallbackLog && this.#fallbackLogDue())) return;
    const pager = this.#pager;
    // --- synchronous snapshot: nothing else runs between here and the first await ---
    const cpLsn = this.#wal.lastLsn;
    this.#oldestUncheckpointedAt = undefined;
    const previousCpLsn = this.#meta.checkpointLsn;
    const unwritten: { nodes: TreeNode[]; next: number; wake?: () => void } = {
      nodes: pager.dirtyNodes(),
      next: 0,
    };
    const trees = [...this.#catalog.entries()];
    const detached = this.#versions.droppedRoots();
    let nameBytes = 0;
    for (const [n] of trees) nameBytes += Buffer.byteLength(n, 'utf8');
    const retiring = [...pager.pendingFree, ...this.#blobPages];
    const released = this.#held;
    // The catalog's own pages come off the free list, which shrinks the catalog: settle on a page count
    // that fits, then pad the catalog to fill exactly those pages.
    const cap = pager.chainCapacity;
    const sizeWith = (taken: number) =>
      blobSize(
        nameBytes,
        trees.length,
        detached.length,
        Math.max(0, pager.freeList.length - taken) + released.length + retiring.length,
      );
    let k = 1;
    while (Math.ceil(sizeWith(k) / cap) > k) k = Math.ceil(sizeWith(k) / cap);
    const blobPages: number[] = [];
    for (let i = 0; i < k; i++)
      blobPages.push(pager.freeList.length > 0 ? pager.freeList.pop()! : pager.pageCount++);
    const raw = encodeBlob({ trees, detached, free: [...pager.freeList, ...released], held: retiring });
    const blob = Buffer.alloc(k * cap);
    raw.copy(blob);
    pager.writeChain(PAGE_BLOB, blob, cpLsn, blobPages);
    const meta: Meta = {
      ...this.#meta,
      epoch: this.#meta.epoch + 1,
      checkpointLsn: cpLsn,
      pageCount: pager.pageCount,
      blobHead: blobPages[0],
      blobLength: blob.length,
      nextSegment: this.#wal.currentSegment + 1,
    };
    pager.pendingFree = [];
    pager.fresh = new Set();
    this.#blobPages = blobPages;
    this.#retiring = retiring;
    this.#detachedAtCheckpoint = detached.join(',');
    // --- durable part; commits continue meanwhile and copy-on-write away from these pages ---
    try {
      this.#unwritten = unwritten;
      while (unwritten.next < unwritten.nodes.length) {
        this.#writeUnwritten(CHECKPOINT_SLICE_MS);
        // The next turn of the event loop, or the commit that writes the last page: a writer whose
        // commits never leave the microtask queue would otherwise hold the checkpoint back.
        if (unwritten.next < unwritten.nodes.length)
          await new Promise<void>((go) => {
            unwritten.wake = go;
            setImmediate(go);
          });
      }
      this.#unwritten = undefined;
      await this.#wal.waitDurable(cpLsn);
      await pager.sync();
      const m = encodeMeta(meta, meta.pageSize);
      await pager.fh.write(m, 0, m.length, (meta.epoch % 2) * meta.pageSize);
      await pager.sync();
    } catch (e) {
      this.#unwritten = undefined;
      throw this.#fail(e);
    }
    this.#meta = meta;
    pager.freeList.push(...released);
    this.#held = retiring;
    this.#retiring = [];
    this.checkpoints++;
    await this.#wal.rotate();
    // The WAL after the previous checkpoint stays: recovery from the other meta page replays it.
    await this.#wal.dropSegmentsUpTo(previousCpLsn, this.#opts.walRetentionBytes);
    this.#walBytesAtCheckpoint = this.#wal.stats().bytes;
  }

  #writeUnwritten(ms: number): void {
    const u = this.#unwritten!;
    u.next = this.#pager.writeDirty(u.nodes, u.next, performance.now() + ms);
    if (u.next >= u.nodes.length) u.wake?.();
  }

  // ---- backup ----

  /** Writes a consistent copy (everything committed before the call) to an empty or new directory. */
  async backup(toDir: string): Promise<void> {
    this.assertUsable();
    if (typeof toDir !== 'string' || toDir.length === 0)
      throw new InvalidArgumentError('toDir must be a non-empty string');
    if (fs.existsSync(toDir) && fs.readdirSync(toDir).length > 0) {
      throw new InvalidArgumentError(`backup target ${toDir} is not empty`);
    }
    await this.#serialize(async () => {
      await this.#checkpoint();
      // No checkpoint can run until this returns, so no page of this checkpoint is reused meanwhile.
      const meta = this.#meta;
      await fsp.mkdir(path.join(toDir, WAL_DIR), { recursive: true });
      const out = await fsp.open(path.join(toDir, DATA_FILE), 'wx');
      try {
        const size = meta.pageSize;
        const m = encodeMeta(meta, size);
        await out.write(m, 0, size, 0);
        await out.write(m, 0, size, size);
        const chunkPages = Math.max(1, Math.floor((1 << 20) / size));
        const buf = Buffer.alloc(chunkPages * size);
        for (let p = META_PAGES; p < meta.pageCount; p += chunkPages) {
          const n = Math.min(chunkPages, meta.pageCount - p);
          const { bytesRead } = await this.#pager.fh.read(buf, 0, n * size, p * size);
          await out.write(buf, 0, bytesRead, p * size);
        }
        await out.sync();
      } finally {
        await out.close();
      }
      await syncDir(path.join(toDir, WAL_DIR));
      await syncDir(toDir);
    });
  }

  // ---- inspection ----

  stats(): StorageStats {
    this.assertUsable();
    const w = this.#wal.stats();
    const p = this.#pager.pool.stats();
    return {
      pageSize: this.#meta.pageSize,
      pages: this.#pager.pageCount,
      freePages: this.#pager.freeList.length,
      fileBytes: fs.fstatSync(this.#pager.fd).size,
      cache: {
        pages: p.pages,
        capacityPages: p.capacityPages,
        hits: p.hits,
        misses: p.misses,
        evictions: p.evictions,
        ...(this.#opts.cache ? { shared: this.#opts.cache.stats() } : {}),
      },
      pagesRead: this.#pager.pagesRead,
      pagesWritten: this.#pager.pagesWritten,
      wal: { bytes: w.bytes, segments: w.segments, lastLsn: w.lastLsn, durableLsn: w.durableLsn },
      fsyncs: w.fsyncs,
      commits: this.commits,
      conflicts: this.conflicts,
      groupCommits: w.groups,
      avgGroupSize: w.groups === 0 ? 0 : w.groupRecords / w.groups,
      maxGroupSize: w.maxGroup,
      checkpoints: this.checkpoints,
      lastCheckpointLsn: this.#meta.checkpointLsn,
      activeTransactions: this.#activeCount,
      retainedVersions: this.#versions.retained,
      trees: this.#catalog.size,
    };
  }

  /**
   * Full consistency check: every reachable page is read and its checksum verified, every tree
   * invariant holds, every overflow chain has its recorded length, and every page of the file is
   * exactly one of reachable, free, pending reuse or catalog.
   */
  verify(): VerifyReport {
    this.assertUsable();
    const pager = this.#pager;
    const owner = new Map<number, string>();
    const claim = (p: number, what: string) => {
      const prev = owner.get(p);
      if (prev !== undefined)
        throw new CorruptionError(DATA_FILE, p, `page used twice (${prev} and ${what})`);
      if (p < META_PAGES || p >= pager.pageCount)
        throw new CorruptionError(DATA_FILE, p, `${what} page out of range`);
      owner.set(p, what);
    };
    let keys = 0;
    const roots: Array<[string, number]> = [...this.#catalog.entries()];
    for (const r of this.#versions.droppedRoots()) roots.push([`(dropped tree at page ${r})`, r]);
    for (const [name, root] of roots) {
      keys += this.#btree.verify(
        root,
        (p) => {
          claim(p, `tree ${name}`);
          const cached = pager.pool.get(p, false);
          if (!cached?.dirty) pager.readLogical(p);
          if (cached) checkOrigins(cached);
          // Safe mid-walk: verify only reads, and keeps its own copies of keys and child lists.
          if (owner.size % 1024 === 0) pager.evict();
        },
        (ref) => {
          for (const p of pager.readOverflow(ref.page, ref.length).pages) claim(p, `overflow of ${name}`);
        },
      );
    }
    const reachable = owner.size;
    for (const p of pager.freeList) claim(p, 'free list');
    for (const p of pager.pendingFree) claim(p, 'pending free');
    for (const p of this.#retiring) claim(p, 'retiring at checkpoint');
    for (const p of this.#held) claim(p, 'held for the previous checkpoint');
    for (const p of this.#blobPages) claim(p, 'checkpoint catalog');
    for (let p = META_PAGES; p < pager.pageCount; p++) {
      if (!owner.has(p))
        throw new CorruptionError(DATA_FILE, p, 'page is neither reachable nor free (leaked)');
    }
    pager.evict();
    return { trees: this.#catalog.size, keys, reachablePages: reachable, freePages: pager.freeList.length };
  }

  // ---- close ----

  async close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    try {
      if (!this.#failed) {
        await this.#serialize(() => this.#checkpoint());
        await this.#serialize(() => this.#checkpoint(true));
      } else await this.#checkpointChain;
    } finally {
      this.#closed = true;
      const open = this.#active.slice(0, this.#activeCount) as Transaction[];
      this.#active.length = 0;
      this.#activeCount = 0;
      for (const tx of open) {
        tx.activeSlot = -1;
        tx.closeByStore();
      }
      await this.#wal.close().catch(() => {});
      await this.#pager.fh.close().catch(() => {});
      this.#pager.release();
      this.#lock.release();
    }
  }
}
