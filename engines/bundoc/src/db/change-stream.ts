import { type Document, decodeDocument } from '../document/codec.js';
import type { DocId } from '../document/id.js';
import { decodeKey } from '../keys/decode.js';
import { isPlainObject } from '../keys/types.js';
import { compileFilter, type Matcher } from '../query/filter.js';
import type { AuthContext } from '../security/context.js';
import { BundocError, InvalidArgumentError } from '../storage/errors.js';
import type { Commit } from '../storage/storage.js';
import { type CallOptions, callOptions } from './access.js';
import { CATALOG_TREE, type CollectionMeta, DOC_TREE_PREFIX } from './catalog.js';
import type { DbCore } from './core.js';
import { InvalidOptionError } from './errors.js';
import { checkCollectionName } from './names.js';

/**
 * Change streams: every committed write as an event, in commit order, read from the store's commits
 * (live ones as they are acknowledged, older ones back from the log when resuming from an LSN).
 */

export type ChangeOp = 'insert' | 'update' | 'delete' | 'drop';

export interface ChangeEvent<T extends object = Document> {
  op: ChangeOp;
  collection: string;
  /** The document's _id (absent for 'drop'). */
  id?: DocId;
  /** The whole document after the change ('insert' and 'update'). */
  doc?: T;
  /**
   * The whole document before the change ('update' and 'delete'), when the database was opened with
   * `changeStreamPreImages` (at the time of the change: resumed history written without it has none).
   */
  before?: T;
  /** The commit's LSN: every event of one transaction has the same one; resume with `resumeAfter`. */
  lsn: number;
  /** Commit time. */
  ts: Date;
}

export interface WatchOptions extends CallOptions {
  /** Only this collection's events (exact name). */
  collection?: string;
  /**
   * Only events whose document matches this filter (query language): the document after the change; for
   * a delete the document before it when pre-images are logged, else `{ _id }`. Drops always pass.
   */
  filter?: Record<string, unknown>;
  /** Start after this commit's LSN (from the log: see walRetentionBytes), instead of from now. */
  resumeAfter?: number;
  /** Events held for a consumer that does not keep up before the stream fails (default 10,000). */
  maxBuffered?: number;
}

const WATCH_OPTIONS = ['collection', 'filter', 'resumeAfter', 'maxBuffered'];
const COLLECTION_KEY_PREFIX = 'c:';
const decoder = new TextDecoder();

/** The consumer fell more than maxBuffered events behind; `lastLsn` is where to resume from. */
export class ChangeStreamOverflowError extends BundocError {
  readonly lastLsn: number;
  constructor(maxBuffered: number, lastLsn: number) {
    super(
      'CHANGE_STREAM_OVERFLOW',
      `change stream consumer fell more than ${maxBuffered} events behind; resume after lsn ${lastLsn}`,
    );
    this.lastLsn = lastLsn;
  }
}

export class ChangeStream<T extends object = Document> implements AsyncIterableIterator<ChangeEvent<T>> {
  readonly #core: DbCore;
  readonly #ctx: AuthContext;
  readonly #collection: string | undefined;
  readonly #matcher: Matcher | undefined;
  readonly #maxBuffered: number;
  /** Tree id → collection name, from the catalog and from catalog writes the stream passes. */
  readonly #names = new Map<number, string>();
  #queue: ChangeEvent<T>[] = [];
  #head = 0;
  /** Commits announced while older ones are still being read from the log. */
  #held: Commit[] | undefined;
  /** Resumes a log replay waiting for the consumer (see #replay). */
  #drained: (() => void) | undefined;
  #waiter: ((r: IteratorResult<ChangeEvent<T>>) => void) | undefined;
  #failWaiter: ((e: unknown) => void) | undefined;
  #error: unknown;
  #done = false;
  #unsubscribe: () => void;
  #lastQueuedLsn: number;
  #lastDeliveredLsn: number;
  readonly #onClose: (s: ChangeStream<T>) => void;

  /** Use `db.watch()`. */
  constructor(core: DbCore, options: WatchOptions | undefined, onClose: (s: ChangeStream<T>) => void) {
    const { options: o, ctx } = callOptions(options, WATCH_OPTIONS, 'watch', undefined);
    this.#core = core;
    this.#ctx = ctx;
    this.#onClose = onClose;
    if (o.collection !== undefined) {
      if (typeof o.collection !== 'string') throw new InvalidOptionError('watch collection must be a string');
      this.#collection = checkCollectionName(o.collection);
    }
    if (o.filter !== undefined) {
      if (!isPlainObject(o.filter)) throw new InvalidOptionError('watch filter must be an object');
      this.#matcher = compileFilter(o.filter);
    }
    const maxBuffered = o.maxBuffered ?? 10_000;
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 1) {
      throw new InvalidOptionError('watch maxBuffered must be an integer >= 1');
    }
    this.#maxBuffered = maxBuffered;
    const resume = o.resumeAfter;
    if (resume !== undefined && (!Number.isSafeInteger(resume) || resume < 0)) {
      throw new InvalidOptionError('watch resumeAfter must be an LSN (an integer >= 0)');
    }
    const storage = core.storage;
    const now = storage.visibleLsn;
    if (resume !== undefined && resume > now) {
      throw new InvalidArgumentError(`resumeAfter ${resume} is beyond the last commit (${now})`);
    }
    for (const m of core.catalog.values()) this.#names.set(m.id, m.name);
    // An admin stream bypasses every rule: audited once, like an admin query.
    if (ctx.admin === true) {
      core.security
        .of(this.#collection ?? '*')
        .audit({ op: 'list', auth: ctx.auth, admin: true, outcome: 'admin' });
    }
    this.#lastQueuedLsn = resume ?? now;
    this.#lastDeliveredLsn = this.#lastQueuedLsn;
    // Subscribe first, in the same tick as reading `now`: every commit after it is announced to us.
    this.#unsubscribe = storage.onCommit((c) => {
      if (!this.#held) this.#take(c);
      else if (this.#held.push(c) > this.#maxBuffered) {
        this.#fail(new ChangeStreamOverflowError(this.#maxBuffered, this.#lastDeliveredLsn));
      }
    });
    if (resume !== undefined && resume < now) {
      this.#held = [];
      void this.#replay(resume, now);
    }
  }

  /** Whether the stream ended (closed, failed, or its database closed). */
  get closed(): boolean {
    return this.#done;
  }

  /** The LSN of the last commit whose events were all delivered: resume after it to miss nothing. */
  get resumeLsn(): number {
    return this.#lastDeliveredLsn;
  }

  /**
   * Reads the log at the consumer's pace: past half of maxBuffered queued events it waits for the queue
   * to drain (history is no reason to overflow); live commits meanwhile wait in #held.
   */
  async #replay(after: number, upTo: number): Promise<void> {
    try {
      for await (const c of this.#core.storage.commitsSince(after, upTo)) {
        if (this.#done) return;
        this.#take(c);
        if (this.#pending() >= this.#maxBuffered / 2) {
          await new Promise<void>((r) => {
            this.#drained = r;
          });
          if (this.#done) return;
        }
      }
      const held = this.#held ?? [];
      this.#held = undefined;
      for (const c of held) this.#take(c);
    } catch (e) {
      this.#fail(e);
    }
  }

  #take(c: Commit): void {
    if (this.#done || c.lsn <= this.#lastQueuedLsn) return;
    this.#lastQueuedLsn = c.lsn;
    const ts = new Date(c.time);
    let any = false;
    for (const op of c.ops) {
      if (op.tree === CATALOG_TREE && op.kind !== 'drop') {
        const ev = this.#catalogChange(op.key, op.kind === 'put' ? op.value : undefined);
        if (ev) {
          this.#push({ op: 'drop', collection: ev, lsn: c.lsn, ts });
          any = true;
        }
        continue;
      }
      if (op.kind === 'drop' || !op.tree.startsWith(DOC_TREE_PREFIX)) continue;
      if (op.kind === 'put' ? op.note === 'touch' : op.absent === true) continue;
      const name = this.#names.get(Number(op.tree.slice(DOC_TREE_PREFIX.length)));
      if (name === undefined || (this.#collection !== undefined && name !== this.#collection)) continue;
      const id = decodeKey(op.key) as DocId;
      const ev: ChangeEvent<T> =
        op.kind === 'put'
          ? {
              op: op.note === 'insert' ? 'insert' : 'update',
              collection: name,
              id,
              doc: decodeDocument(op.value) as T,
              lsn: c.lsn,
              ts,
            }
          : { op: 'delete', collection: name, id, lsn: c.lsn, ts };
      if (op.before !== undefined) ev.before = decodeDocument(op.before) as T;
      if (!this.#visible(ev)) continue;
      this.#push(ev);
      any = true;
    }
    if (!any && this.#pending() === 0) this.#lastDeliveredLsn = c.lsn;
    if (this.#pending() > this.#maxBuffered) {
      this.#fail(new ChangeStreamOverflowError(this.#maxBuffered, this.#lastDeliveredLsn));
    } else this.#wake();
  }

  /** Learns collection names from catalog writes; returns the name of a collection dropped here. */
  #catalogChange(key: Uint8Array, value: Uint8Array | undefined): string | undefined {
    const k = decoder.decode(key);
    if (!k.startsWith(COLLECTION_KEY_PREFIX)) return undefined;
    const name = k.slice(COLLECTION_KEY_PREFIX.length);
    if (value !== undefined) {
      const meta = JSON.parse(decoder.decode(value)) as CollectionMeta;
      this.#names.set(meta.id, meta.name);
      return undefined;
    }
    if (this.#collection !== undefined && name !== this.#collection) return undefined;
    return name;
  }

  /**
   * The filter, and for a caller the rules apply to, the list rule: on the document after the change, or
   * for a delete the one before it (without pre-images a delete has no document to check: not shown).
   */
  #visible(ev: ChangeEvent<T>): boolean {
    const subject = ev.doc ?? ev.before;
    if (this.#matcher && !this.#matcher(subject ?? { _id: ev.id })) return false;
    if (this.#ctx.admin === true) return true;
    const sec = this.#core.security.of(ev.collection);
    if (!sec.hasRules) return true;
    return subject !== undefined && sec.canList(this.#ctx, subject);
  }

  #pending(): number {
    return this.#queue.length - this.#head;
  }

  #push(ev: ChangeEvent<T>): void {
    this.#queue.push(ev);
  }

  /** Hands the next event to a waiting next() (after a whole commit was queued, see #deliver). */
  #wake(): void {
    if (!this.#waiter || this.#head >= this.#queue.length) return;
    const w = this.#waiter;
    this.#waiter = undefined;
    this.#failWaiter = undefined;
    w({ value: this.#shift(), done: false });
  }

  #shift(): ChangeEvent<T> {
    const ev = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined as unknown as ChangeEvent<T>;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#deliver(ev);
    if (this.#drained && this.#pending() <= this.#maxBuffered / 4) this.#release();
    return ev;
  }

  #release(): void {
    const r = this.#drained;
    this.#drained = undefined;
    r?.();
  }

  #deliver(ev: ChangeEvent<T>): void {
    // The commit is fully delivered once no later event of it waits in the queue.
    const next = this.#queue[this.#head];
    if (next === undefined || next.lsn !== ev.lsn) this.#lastDeliveredLsn = ev.lsn;
    else this.#lastDeliveredLsn = ev.lsn - 1;
  }

  #fail(e: unknown): void {
    if (this.#done) return;
    this.#error = e;
    this.#stop();
    // What was queued is dropped, so the error's resume point is exact.
    this.#queue = [];
    this.#head = 0;
    if (this.#failWaiter) {
      const f = this.#failWaiter;
      this.#waiter = undefined;
      this.#failWaiter = undefined;
      this.#error = undefined; // delivered: later next() calls return done
      f(e);
    }
  }

  #stop(): void {
    this.#done = true;
    this.#release();
    this.#unsubscribe();
    this.#onClose(this);
  }

  next(): Promise<IteratorResult<ChangeEvent<T>>> {
    if (this.#head < this.#queue.length) return Promise.resolve({ value: this.#shift(), done: false });
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      return Promise.reject(e);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter)
      return Promise.reject(
        new InvalidArgumentError('change stream: next() called before the previous one settled'),
      );
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  /** Stops the stream: pending and later next() calls return done. */
  close(): void {
    if (this.#done) return;
    this.#stop();
    this.#queue = [];
    this.#head = 0;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      this.#failWaiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  return(): Promise<IteratorResult<ChangeEvent<T>>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
