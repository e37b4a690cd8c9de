/**
 * The keyspace: numbered databases of key → value with millisecond expiry. Keys and string values are
 * latin1 strings (binary safe, one byte per char). Expired keys are removed lazily when touched and
 * actively by an incremental sampling cycle that resumes where it stopped, never scanning all keys.
 */
import Denque from 'denque';
import { MutableString } from './types/mutable-string.js';
import { RSet } from './types/set.js';
import type { Stream } from './types/stream.js';
import { ZSet } from './types/zset.js';

export type ListValue = Denque<string>;
export type HashValue = Map<string, string>;
export type Value = string | MutableString | ListValue | HashValue | RSet | ZSet | Stream;
export type TypeName = 'string' | 'list' | 'hash' | 'set' | 'zset' | 'stream';

export { Denque };

export function typeOf(v: Value): TypeName {
  if (typeof v === 'string' || v instanceof MutableString) return 'string';
  if (v instanceof Denque) return 'list';
  if (v instanceof Map) return 'hash';
  if (v instanceof RSet) return 'set';
  if (v instanceof ZSet) return 'zset';
  return 'stream';
}

/** Receives every expiry the keyspace performs (notifications, AOF DEL propagation). */
export type ExpireListener = (db: number, key: string) => void;

export class Database {
  readonly dict = new Map<string, Value>();
  readonly expires = new Map<string, number>();
  private cursor: Iterator<[string, number]> | null = null;
  /** Average TTL sampling for INFO keyspace (avg_ttl) is approximate, as in Redis. */
  avgTtl = 0;
  /**
   * Per-key access data, kept only while the maxmemory policy needs it: the last access time (ms) under
   * the LRU policies, a logarithmic access counter under the LFU ones (see Keyspace.touch).
   */
  access: Map<string, number> | null = null;

  constructor(
    public id: number,
    private readonly ks: Keyspace,
  ) {}

  get size(): number {
    return this.dict.size;
  }

  /** The command clock (ms). */
  get now(): number {
    return this.ks.now;
  }

  /** The live value of a key (expiring it first if its time has passed). */
  get(key: string): Value | undefined {
    const v = this.dict.get(key);
    if (v === undefined) return undefined;
    if (this.expires.size > 0) {
      const at = this.expires.get(key);
      if (at !== undefined && at <= this.ks.now) {
        this.expire(key);
        return undefined;
      }
    }
    if (this.access !== null) this.ks.touch(this.access, key);
    return v;
  }

  /** Like get(), but not counted as an access (OBJECT, eviction). */
  peek(key: string): Value | undefined {
    const access = this.access;
    this.access = null;
    try {
      return this.get(key);
    } finally {
      this.access = access;
    }
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Stores a value; an existing TTL is cleared unless `keepTtl`. */
  set(key: string, value: Value, keepTtl = false): void {
    this.dict.set(key, value);
    if (!keepTtl && this.expires.size > 0) this.expires.delete(key);
    if (this.access !== null) this.ks.touch(this.access, key);
  }

  /** Adds a fresh key (caller has checked it does not exist). */
  add(key: string, value: Value): void {
    this.dict.set(key, value);
    if (this.access !== null) this.ks.touch(this.access, key);
  }

  delete(key: string): boolean {
    if (this.get(key) === undefined) return false;
    this.dict.delete(key);
    if (this.expires.size > 0) this.expires.delete(key);
    this.access?.delete(key);
    return true;
  }

  getExpire(key: string): number | undefined {
    return this.expires.size > 0 ? this.expires.get(key) : undefined;
  }

  setExpire(key: string, at: number): void {
    this.expires.set(key, at);
  }

  persist(key: string): boolean {
    return this.expires.delete(key);
  }

  private expire(key: string): void {
    this.dict.delete(key);
    this.expires.delete(key);
    this.access?.delete(key);
    this.ks.expiredKeys++;
    this.ks.onExpire?.(this.id, key);
  }

  /** A uniformly random live key, or null. O(n) in the worst case; only RANDOMKEY uses it. */
  randomKey(): string | null {
    for (let tries = 0; tries < 100 && this.dict.size > 0; tries++) {
      let i = Math.floor(Math.random() * this.dict.size);
      for (const k of this.dict.keys()) {
        if (i-- === 0) {
          if (this.get(k) !== undefined) return k;
          break;
        }
      }
    }
    return null;
  }

  flush(): void {
    this.dict.clear();
    this.expires.clear();
    this.access?.clear();
    this.cursor = null;
  }

  /**
   * Examines up to `budget` keys that carry a TTL, continuing from the previous call; returns how many
   * it examined and how many of those had expired.
   */
  expireCycle(budget: number): { sampled: number; expired: number } {
    let sampled = 0;
    let expired = 0;
    if (this.expires.size === 0) return { sampled, expired };
    const now = this.ks.now;
    let ttlSum = 0;
    let ttlCount = 0;
    while (sampled < budget) {
      if (!this.cursor) this.cursor = this.expires.entries();
      const step = this.cursor.next();
      if (step.done) {
        this.cursor = null;
        if (sampled === 0 || sampled >= this.expires.size) break;
        continue;
      }
      sampled++;
      const [key, at] = step.value;
      if (at <= now) {
        this.expire(key);
        expired++;
      } else {
        ttlSum += at - now;
        ttlCount++;
      }
    }
    if (ttlCount > 0) {
      const avg = ttlSum / ttlCount;
      this.avgTtl = this.avgTtl === 0 ? avg : (this.avgTtl / 50) * 49 + avg / 50;
    }
    return { sampled, expired };
  }
}

const LFU_INIT = 5;

/**
 * Per-key access data (Database.access), like the 24 bits Redis keeps in every object:
 * - 'lru' (an LRU policy): the last access time, the map kept in access order for eviction;
 * - 'idle' (any other non-LFU policy): the last access time, for OBJECT IDLETIME;
 * - 'lfu' (an LFU policy): Redis's logarithmic counter and the minute it was last decremented, packed as
 *   minutes * 256 + counter; it decays by one per lfu-decay-time minutes without access.
 */
export type Tracking = 'lru' | 'idle' | 'lfu';

export class Keyspace {
  readonly dbs: Database[] = [];
  /** The clock commands see: fixed for the duration of one command, like Redis's cached mstime. */
  now = Date.now();
  expiredKeys = 0;
  onExpire: ExpireListener | null = null;

  /** What per-key access data the maxmemory policy needs (null: none is kept). */
  tracking: Tracking | null = null;
  /** lfu-log-factor: the higher, the more accesses a counter step takes. */
  lfuLogFactor = 10;
  /** lfu-decay-time: minutes without access per counter decrement (0: no decay). */
  lfuDecayTime = 1;

  constructor(databases = 16) {
    for (let i = 0; i < databases; i++) this.dbs.push(new Database(i, this));
  }

  /** Starts or stops keeping access data; switching starts every key afresh (as just used / counter 5). */
  setTracking(mode: Tracking | null): void {
    if (mode === this.tracking) return;
    const keepTimes = this.tracking === 'lru' && mode === 'idle'; // both are last-access times
    this.tracking = mode;
    if (keepTimes) return;
    const fresh = mode === 'lfu' ? this.#lfuPack(LFU_INIT) : this.now;
    for (const db of this.dbs) {
      db.access = mode === null ? null : new Map();
      if (db.access) for (const key of db.dict.keys()) db.access.set(key, fresh);
    }
  }

  #minutes(): number {
    return Math.floor(this.now / 60_000);
  }

  #lfuPack(counter: number): number {
    return this.#minutes() * 256 + counter;
  }

  /** The LFU counter of a packed access value after decay (Redis's LFUDecrAndReturn). */
  lfuCounter(packed: number): number {
    const counter = packed % 256;
    if (this.lfuDecayTime <= 0) return counter;
    const periods = Math.floor((this.#minutes() - Math.floor(packed / 256)) / this.lfuDecayTime);
    return periods > 0 ? Math.max(0, counter - periods) : counter;
  }

  /**
   * Records an access. LRU/idle: the time. LFU: the decayed counter raised with probability
   * 1 / ((counter - 5) * lfu-log-factor + 1), so 255 means roughly a million accesses.
   */
  touch(access: Map<string, number>, key: string): void {
    if (this.tracking === 'idle') {
      access.set(key, this.now);
      return;
    }
    // Re-inserting keeps the map in access order, least recent first: eviction reads it from the front.
    if (this.tracking === 'lru') {
      access.delete(key);
      access.set(key, this.now);
      return;
    }
    const packed = access.get(key);
    if (packed === undefined) {
      access.set(key, this.#lfuPack(LFU_INIT)); // a new key starts at 5; its creation is no access
      return;
    }
    let counter = this.lfuCounter(packed);
    if (counter < 255 && Math.random() < 1 / (Math.max(0, counter - LFU_INIT) * this.lfuLogFactor + 1))
      counter++;
    access.delete(key);
    access.set(key, this.#lfuPack(counter));
  }

  /** One active-expiry pass: sample keys with a TTL in each db until the time budget is used. */
  activeExpire(timeBudgetMs = 5): void {
    this.now = Date.now();
    const deadline = performance.now() + timeBudgetMs;
    for (const db of this.dbs) {
      // Like Redis: keep going on a db while more than a quarter of the sample was expired.
      for (;;) {
        const { sampled, expired } = db.expireCycle(20);
        if (sampled === 0 || expired * 4 <= sampled || performance.now() > deadline) break;
      }
      if (performance.now() > deadline) break;
    }
  }

  /** SWAPDB: O(1); clients find their db by index on every command, so they see the swap. */
  swap(a: number, b: number): void {
    const da = this.dbs[a]!;
    const db = this.dbs[b]!;
    this.dbs[a] = db;
    this.dbs[b] = da;
    db.id = a;
    da.id = b;
  }
}

export { MutableString, RSet, ZSet };
