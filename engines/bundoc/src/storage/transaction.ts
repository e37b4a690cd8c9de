import type { Bound, ValueRange, ValueSieve } from './btree.js';
import { copyOut, isOwned, ownedCopy } from './copy-out.js';
import { ClosedError, InvalidArgumentError } from './errors.js';
import type { PutNote } from './ops.js';
import { keyString, SortedKeys, type StrBound } from './sorted-keys.js';
import { checkKey, checkRange, checkTree, checkValue, type RangeOptions } from './validate.js';

export interface PendingWrite {
  key: Uint8Array;
  /** undefined: delete. */
  value: Uint8Array | undefined;
  /**
   * On a put, what the writer said of it (see PutNote). On a delete, 'insert' means the key was absent
   * before the transaction (logged as such, for change streams: the delete is no change).
   */
  note?: PutNote;
}

/** The note a write carries, given what the transaction already wrote to the key. */
function combinedNote(prior: PendingWrite | undefined, note: PutNote | undefined): PutNote | undefined {
  if (!prior) return note;
  if (prior.note === 'insert') return 'insert';
  if (prior.value !== undefined && prior.note === 'touch') return note;
  return undefined;
}

export interface ScanBatch {
  entries: Array<[Uint8Array, Uint8Array]>;
  /** The batch covers every key up to and including this bound (undefined: to the end of the range). */
  upto: Bound | undefined;
  done: boolean;
}

/** What a transaction needs from its store. */
export interface TxHost {
  readonly maxKey: number;
  assertUsable(): void;
  readAt(tree: string, key: Uint8Array, snapshot: number, view?: boolean): Uint8Array | undefined;
  readRangeAt(tree: string, key: Uint8Array, snapshot: number, out: ValueRange): boolean;
  scanAt(
    tree: string,
    from: Bound | undefined,
    to: Bound | undefined,
    reverse: boolean,
    max: number,
    snapshot: number,
    views?: boolean,
  ): ScanBatch;
  /** Visits a range straight from the tree where it can (see Storage.eachAt); false where it cannot. */
  eachAt(
    tree: string,
    from: Bound | undefined,
    to: Bound | undefined,
    reverse: boolean,
    snapshot: number,
    visit: (key: Uint8Array, value: Uint8Array) => boolean,
    sieve?: ValueSieve,
    keys?: boolean,
  ): boolean;
  commitTx(tx: Transaction): Promise<void>;
  endTx(tx: Transaction): void;
}

const SCAN_BATCH = 256;

/**
 * A copy the store owns (it goes into tree nodes). Not `bytes.slice()`: on a Buffer that is a view, so
 * a caller reusing its Buffer after put() would have changed the stored data. From the store's arenas:
 * a backing store per value made bulk writes GC-bound (measured: bulk insert +10-20% with arenas).
 */
function ownCopy(bytes: Uint8Array): Uint8Array {
  return ownedCopy(bytes);
}

function strBound(b: Bound | undefined): StrBound | undefined {
  return b ? { key: keyString(b.key), inclusive: b.inclusive } : undefined;
}

/** Never written: only writable transactions reach #writeSet. */
const NO_WRITES = new Map<string, SortedKeys<PendingWrite>>();

/**
 * A snapshot transaction: reads see the store as of `begin()` plus this transaction's own writes;
 * writes are buffered here and applied atomically by `commit()`.
 */
export class Transaction {
  readonly snapshot: number;
  /** @internal The store's slot for it while it is open (-1: none). */
  activeSlot = -1;
  readonly readOnly: boolean;
  readonly #host: TxHost;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  /** The write set per tree; read-only transactions share one that stays empty (a Map less per read). */
  readonly writes: Map<string, SortedKeys<PendingWrite>>;
  /** While a savepoint is open: each key's write set entry before its change, in the order of the changes. */
  #undo: Array<{ tree: string; ks: string; prior: PendingWrite | undefined }> | undefined;
  #savepoints = 0;

  constructor(host: TxHost, snapshot: number, readOnly: boolean) {
    this.#host = host;
    this.snapshot = snapshot;
    this.readOnly = readOnly;
    this.writes = readOnly ? NO_WRITES : new Map();
  }

  get state(): string {
    return this.#state;
  }

  #assertOpen(): void {
    this.#host.assertUsable();
    if (this.#state !== 'open') throw new ClosedError(`transaction (${this.#state})`);
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.readOnly) throw new InvalidArgumentError('transaction is read-only');
  }

  get(tree: string, key: Uint8Array): Uint8Array | undefined {
    this.#assertOpen();
    checkTree(tree);
    checkKey(key, this.#host.maxKey);
    const own = this.writes.get(tree)?.get(keyString(key));
    if (own) return own.value === undefined ? undefined : copyOut(own.value);
    return this.#host.readAt(tree, key, this.snapshot);
  }

  /** get() without the copy: the store's own bytes, to read at once and never modify (see rangeViews). */
  getView(tree: string, key: Uint8Array): Uint8Array | undefined {
    this.#assertOpen();
    checkTree(tree);
    checkKey(key, this.#host.maxKey);
    const own = this.writes.get(tree)?.get(keyString(key));
    if (own) return own.value;
    return this.#host.readAt(tree, key, this.snapshot, true);
  }

  /**
   * getView() without even a view: fills `out` with where the store's own bytes lie (see ValueRange),
   * to read at once and never modify; false when the key is absent.
   */
  getRange(tree: string, key: Uint8Array, out: ValueRange): boolean {
    this.#assertOpen();
    checkTree(tree);
    checkKey(key, this.#host.maxKey);
    const own = this.writes.get(tree)?.get(keyString(key));
    if (own) {
      if (own.value === undefined) return false;
      out.whole(own.value);
      return true;
    }
    return this.#host.readRangeAt(tree, key, this.snapshot, out);
  }

  /**
   * `note` (for change streams): 'insert' when the caller knows the key is absent, 'touch' when it rewrites
   * the stored value unchanged. It never changes what is stored.
   */
  put(tree: string, key: Uint8Array, value: Uint8Array, note?: PutNote): void {
    this.#assertWritable();
    checkTree(tree);
    checkKey(key, this.#host.maxKey);
    checkValue(value);
    if (note !== undefined && note !== 'insert' && note !== 'touch') {
      throw new InvalidArgumentError(`put note must be 'insert' or 'touch', got ${String(note)}`);
    }
    const set = this.#writeSet(tree);
    const ks = keyString(key);
    this.#undo?.push({ tree, ks, prior: set.get(ks) });
    // A value already in the write arenas (a document encoded there, see ownedText) is the store's.
    const w: PendingWrite = { key: ownCopy(key), value: isOwned(value) ? value : ownCopy(value) };
    const n = combinedNote(set.get(ks), note);
    if (n !== undefined) w.note = n;
    set.set(ks, w);
  }

  delete(tree: string, key: Uint8Array): boolean {
    this.#assertWritable();
    const existed = this.get(tree, key) !== undefined;
    const set = this.#writeSet(tree);
    const ks = keyString(key);
    const prior = set.get(ks);
    this.#undo?.push({ tree, ks, prior });
    const w: PendingWrite = { key: ownCopy(key), value: undefined };
    if (prior ? prior.note === 'insert' : !existed) w.note = 'insert';
    set.set(ks, w);
    return existed;
  }

  /**
   * Marks this point of the transaction: rollbackToSavepoint(mark) takes back the writes made after it.
   * Savepoints nest; the changes are recorded while one is open (releaseSavepoint closes it).
   */
  savepoint(): number {
    this.#assertWritable();
    this.#undo ??= [];
    this.#savepoints++;
    return this.#undo.length;
  }

  /** Closes the last savepoint opened; the writes since it stay. */
  releaseSavepoint(): void {
    if (this.#savepoints === 0) throw new InvalidArgumentError('no savepoint to release');
    if (--this.#savepoints === 0) this.#undo = undefined;
  }

  /** Whether anything was written since `mark` (from savepoint(), still open). */
  writtenSince(mark: number): boolean {
    return this.#undo !== undefined && this.#undo.length > mark;
  }

  /** Takes back every write made since `mark` (from savepoint()), as if it had not been made. */
  rollbackToSavepoint(mark: number): void {
    const undo = this.#undo;
    if (undo === undefined || !Number.isInteger(mark) || mark < 0 || mark > undo.length)
      throw new InvalidArgumentError('no such savepoint');
    for (let i = undo.length - 1; i >= mark; i--) {
      const { tree, ks, prior } = undo[i]!;
      const set = this.writes.get(tree)!;
      if (prior === undefined) set.delete(ks);
      else set.set(ks, prior);
      // An emptied write set would still have commit() check the tree for a concurrent drop.
      if (set.size === 0) this.writes.delete(tree);
    }
    undo.length = mark;
  }

  #writeSet(tree: string): SortedKeys<PendingWrite> {
    let w = this.writes.get(tree);
    if (!w) {
      w = new SortedKeys();
      this.writes.set(tree, w);
    }
    return w;
  }

  /** Ordered entries of a tree at this snapshot; lazily read in batches, safe across awaits. */
  range(tree: string, opts?: RangeOptions): Iterable<[Uint8Array, Uint8Array]> {
    return this.#range(tree, opts, false);
  }

  /**
   * range() without copying: keys and values are the store's own bytes (views into cached pages).
   * For scans that look at most entries once, synchronously, and keep few of them (a filter): the
   * caller must never modify them, and copies (copyOut) what it keeps.
   */
  rangeViews(tree: string, opts?: RangeOptions): Iterable<[Uint8Array, Uint8Array]> {
    return this.#range(tree, opts, true);
  }

  /**
   * rangeViews() as a synchronous visit: `visit(key, value)` for each entry in order, until it returns
   * false. Same views and rules; no iterator protocol per entry (a full scan's cost). With a `sieve`,
   * only the entries whose value it accepts are visited (and count towards `limit`); it may see the
   * value in the middle of a page (see ValueSieve). With `keys` false the visitor needs values only:
   * where the walk goes straight through packed leaves, keys are passed as an empty array instead of a
   * view each (an index walk reads only the primary keys its values hold).
   */
  eachView(
    tree: string,
    opts: RangeOptions | undefined,
    visit: (key: Uint8Array, value: Uint8Array) => boolean,
    sieve?: ValueSieve,
    keys = true,
  ): void {
    const { lo, hi, reverse, limit } = this.#bounds(tree, opts);
    let cursor = reverse ? hi : lo;
    const end = reverse ? lo : hi;
    let emitted = 0;
    const own = this.writes.get(tree);
    if (limit > 0 && (!own || own.size === 0)) {
      // Straight from the tree where the store can (no writes of ours or of others to overlay).
      const walked = this.#host.eachAt(
        tree,
        cursor,
        end,
        reverse,
        this.snapshot,
        (k, v) => {
          emitted++;
          return visit(k, v) && emitted < limit;
        },
        sieve,
        keys,
      );
      if (walked) return;
    }
    while (emitted < limit) {
      this.#assertOpen();
      const batch = this.#host.scanAt(
        tree,
        cursor,
        end,
        reverse,
        Math.min(SCAN_BATCH, limit - emitted),
        this.snapshot,
        true,
      );
      const merged = this.#mergeOwn(tree, batch, cursor, reverse, true);
      for (let i = 0; i < merged.length; i++) {
        if (emitted >= limit) return;
        const e = merged[i]!;
        const v = e[1];
        if (sieve !== undefined && !sieve(v, 0, v.length)) continue;
        emitted++;
        if (!visit(e[0], v)) return;
      }
      if (batch.done || !batch.upto) return;
      cursor = { key: batch.upto.key, inclusive: false };
    }
  }

  #bounds(
    tree: string,
    opts: RangeOptions | undefined,
  ): { lo: Bound | undefined; hi: Bound | undefined; reverse: boolean; limit: number } {
    this.#assertOpen();
    checkTree(tree);
    const o = checkRange(opts, this.#host.maxKey);
    const lo: Bound | undefined = o.gte
      ? { key: o.gte, inclusive: true }
      : o.gt
        ? { key: o.gt, inclusive: false }
        : undefined;
    const hi: Bound | undefined = o.lte
      ? { key: o.lte, inclusive: true }
      : o.lt
        ? { key: o.lt, inclusive: false }
        : undefined;
    return { lo, hi, reverse: o.reverse === true, limit: o.limit ?? Number.POSITIVE_INFINITY };
  }

  #range(tree: string, opts: RangeOptions | undefined, views: boolean): Iterable<[Uint8Array, Uint8Array]> {
    const { lo, hi, reverse, limit } = this.#bounds(tree, opts);
    return { [Symbol.iterator]: () => this.#rangeIter(tree, lo, hi, reverse, limit, views) };
  }

  *#rangeIter(
    tree: string,
    lo: Bound | undefined,
    hi: Bound | undefined,
    reverse: boolean,
    limit: number,
    views: boolean,
  ): Generator<[Uint8Array, Uint8Array]> {
    let cursor = reverse ? hi : lo;
    const end = reverse ? lo : hi;
    let emitted = 0;
    while (emitted < limit) {
      this.#assertOpen();
      const batch = this.#host.scanAt(
        tree,
        cursor,
        end,
        reverse,
        Math.min(SCAN_BATCH, limit - emitted),
        this.snapshot,
        views,
      );
      const merged = this.#mergeOwn(tree, batch, cursor, reverse, views);
      for (const e of merged) {
        if (emitted >= limit) return;
        emitted++;
        yield e;
      }
      if (batch.done || !batch.upto) return;
      cursor = { key: batch.upto.key, inclusive: false };
    }
  }

  /** Overlays this transaction's writes that fall inside the batch's interval. */
  #mergeOwn(tree: string, batch: ScanBatch, cursor: Bound | undefined, reverse: boolean, views: boolean) {
    const own = this.writes.get(tree);
    if (!own || own.size === 0) return batch.entries;
    const a = strBound(cursor);
    const b = strBound(batch.upto);
    const ownKeys = reverse ? own.between(b, a, true) : own.between(a, b, false);
    if (ownKeys.length === 0) return batch.entries;
    const out: Array<[Uint8Array, Uint8Array]> = [];
    let i = 0;
    let j = 0;
    const before = (x: string, y: string) => (reverse ? x > y : x < y);
    const base = batch.entries.map((e) => keyString(e[0]));
    while (i < base.length || j < ownKeys.length) {
      if (j >= ownKeys.length || (i < base.length && before(base[i], ownKeys[j]))) {
        out.push(batch.entries[i++]);
        continue;
      }
      const w = own.get(ownKeys[j])!;
      if (i < base.length && base[i] === ownKeys[j]) i++;
      j++;
      if (w.value !== undefined) out.push(views ? [w.key, w.value] : [copyOut(w.key), copyOut(w.value)]);
    }
    return out;
  }

  async commit(): Promise<void> {
    this.#assertOpen();
    this.#state = 'committing';
    try {
      await this.#host.commitTx(this);
      this.#state = 'committed';
    } catch (e) {
      this.#state = 'aborted';
      throw e;
    } finally {
      this.#host.endTx(this);
    }
  }

  abort(): void {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    if (!this.readOnly) this.writes.clear();
    this.#host.endTx(this);
  }

  /** Marks the transaction unusable when its store closes. */
  closeByStore(): void {
    if (this.#state === 'open') this.#state = 'aborted';
  }
}
