/**
 * maxmemory: before a command that may grow the dataset, memory in use is compared with the limit and,
 * per maxmemory-policy, keys are evicted or the command is refused with OOM. Like Redis, victims are
 * chosen among a small sample (maxmemory-samples): approximate LRU/LFU, shortest TTL, or random.
 *
 * Memory in use is V8's heap in use plus external memory (Buffers) — the figure INFO reports. The heap
 * also holds garbage until the collector runs, so when the limit is crossed a full collection measures
 * live data first (at most once a second); evicted keys then count as freed by their estimated size
 * until a major collection is seen. Between collections, garbage can make eviction take a little more
 * than needed.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { Engine } from './engine.js';
import type { Database, Tracking } from './keyspace.js';
import { ErrorReply } from './reply.js';
import { collectGarbage, collectYoungGarbage } from './util/memory.js';
import { estimateBytes } from './util/value-size.js';

export const OOM = new ErrorReply("OOM command not allowed when used memory > 'maxmemory'.");

export type Policy =
  | 'noeviction'
  | 'allkeys-lru'
  | 'allkeys-lfu'
  | 'allkeys-random'
  | 'volatile-lru'
  | 'volatile-lfu'
  | 'volatile-random'
  | 'volatile-ttl';

/**
 * The access data a policy needs the keyspace to keep. Other policies keep none — unless OBJECT IDLETIME
 * was used (`idle`): then last-access times, which cost a map entry per key (~65 B), hence not by default.
 */
export function trackingFor(policy: string, idle: boolean): Tracking | null {
  if (policy.endsWith('-lru')) return 'lru';
  if (policy.endsWith('-lfu')) return 'lfu';
  return idle ? 'idle' : null;
}

interface Candidate {
  readonly db: Database;
  readonly key: string;
  readonly score: number;
}

const POOL_SIZE = 16;
/** A full collection costs tens of milliseconds on a large heap: at most one per this interval. */
const GC_INTERVAL_MS = 1000;
const SCAVENGE_INTERVAL_MS = 5;

function oldSpaceUsed(): number {
  let used = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === 'old_space' || s.space_name === 'large_object_space') used += s.space_used_size;
  }
  return used;
}

/** Most keys evicted to make room for one command, so a huge overage cannot stall the server. */
const MAX_EVICTIONS_PER_COMMAND = 10_000;

export class Evictor {
  private pendingFreed = 0;
  private lastOld = 0;
  private lastGc = 0;
  private lastScavenge = 0;
  /**
   * External memory (Buffers) as of the last full collection: replies and conversions leave Buffers
   * that are released only by collections, so the live figure between them would mostly count garbage.
   */
  private externalAtGc = getHeapStatistics().external_memory;
  private nextDb = 0;
  private pool: Candidate[] = [];
  /** Where each database's sampling resumes (keys or TTL entries), so samples move through the set. */
  private readonly cursors = new Map<Map<string, unknown>, Iterator<string>>();

  constructor(private readonly engine: Engine) {}

  /**
   * Memory in use as eviction sees it: measured, minus what evictions freed since the last major GC.
   * Evicted values live in old space, so only a shrinking old space means they are really gone.
   */
  used(): number {
    const h = getHeapStatistics();
    const old = oldSpaceUsed();
    if (old < this.lastOld) this.pendingFreed = 0;
    this.lastOld = old;
    return h.used_heap_size + this.externalAtGc - this.pendingFreed;
  }

  /** Null when the command may run; OOM when memory is over the limit and nothing (more) can go. */
  beforeWrite(maxmemory: number): ErrorReply | null {
    let over = this.used() - maxmemory;
    if (over <= 0) return null;
    // The heap also holds garbage: before evicting anything, measure live data — a full collection at
    // most once a second, otherwise a scavenge of the young generation, where commands leave theirs.
    const now = Date.now();
    if (now - this.lastGc >= GC_INTERVAL_MS) {
      this.lastGc = now;
      if (collectGarbage()) {
        this.pendingFreed = 0;
        this.lastOld = oldSpaceUsed();
        this.externalAtGc = getHeapStatistics().external_memory;
      }
    } else if (now - this.lastScavenge >= SCAVENGE_INTERVAL_MS) {
      this.lastScavenge = now;
      collectYoungGarbage();
    }
    over = this.used() - maxmemory;
    if (over <= 0) return null;
    const policy = this.engine.config.get('maxmemory-policy') as Policy;
    if (policy === 'noeviction') return OOM;
    for (let n = 0; over > 0 && n < MAX_EVICTIONS_PER_COMMAND; n++) {
      const victim = this.pick(policy);
      if (!victim) return OOM;
      over -= this.evict(victim.db, victim.key);
    }
    return over > 0 ? OOM : null;
  }

  private evict(db: Database, key: string): number {
    const e = this.engine;
    const value = db.dict.get(key);
    if (value === undefined) return 0;
    const bytes = estimateBytes(key, value);
    db.delete(key);
    this.pendingFreed += bytes;
    e.stats.evictedKeys++;
    e.signalModified(db.id, key);
    e.notify('e', 'evicted', key, db.id);
    e.propagate?.(db.id, ['DEL', key]);
    return bytes;
  }

  /**
   * The victim. LRU/LFU: the keyspace keeps each database's access map in access order, least recent
   * first, so LRU takes the first candidate there and LFU the least used among the first samples.
   * TTL and random: samples (maxmemory-samples) taken where the previous sample stopped feed a pool of
   * the best 16 seen, as Redis's eviction pool does, and the pool's best still-valid key goes.
   */
  private pick(policy: Policy): { db: Database; key: string } | null {
    const dbs = this.engine.ks.dbs;
    const volatile = policy.startsWith('volatile-');
    const samples = Math.max(1, Math.min(64, this.engine.config.int('maxmemory-samples')));
    const ordered = policy.endsWith('-lru') || policy.endsWith('-lfu');
    for (let tries = 0; tries < dbs.length; tries++) {
      const db = dbs[this.nextDb]!;
      this.nextDb = (this.nextDb + 1) % dbs.length;
      const pool = volatile ? db.expires : db.dict;
      if (pool.size === 0) continue;
      if (ordered && db.access) {
        const victim = this.leastRecent(db, volatile, policy.endsWith('-lfu') ? samples : 1);
        if (victim !== null) return { db, key: victim };
        if (!volatile) continue;
      }
      for (const key of this.sample(pool, samples)) {
        if (db.dict.has(key)) this.offer({ db, key, score: this.score(db, key, policy) });
      }
      break;
    }
    while (this.pool.length > 0) {
      const c = this.pool.shift()!;
      if (!c.db.dict.has(c.key) || (volatile && !c.db.expires.has(c.key))) continue;
      return c;
    }
    return null;
  }

  /** Among the least recently used keys (access order), the least used of the first `n` candidates. */
  private leastRecent(db: Database, volatile: boolean, n: number): string | null {
    let best: string | null = null;
    let bestCount = Number.POSITIVE_INFINITY;
    let seen = 0;
    const ks = this.engine.ks;
    const lfu = ks.tracking === 'lfu';
    let scanned = 0;
    for (const [key, value] of db.access!) {
      // volatile policies skip keys without a TTL, within a bound (then sampling takes over)
      if (++scanned > 1024) break;
      if (volatile && !db.expires.has(key)) continue;
      if (!db.dict.has(key)) continue;
      const count = lfu ? ks.lfuCounter(value) : value;
      if (count < bestCount) {
        bestCount = count;
        best = key;
      }
      if (++seen >= n) break;
    }
    return best;
  }

  private offer(c: Candidate): void {
    if (this.pool.some((p) => p.db === c.db && p.key === c.key)) return;
    let i = this.pool.length;
    while (i > 0 && this.pool[i - 1]!.score > c.score) i--;
    this.pool.splice(i, 0, c);
    if (this.pool.length > POOL_SIZE) this.pool.pop();
  }

  /** Lower is evicted first. */
  private score(db: Database, key: string, policy: Policy): number {
    if (policy.endsWith('-random')) return Math.random();
    if (policy === 'volatile-ttl') return db.expires.get(key) ?? Number.POSITIVE_INFINITY;
    // LRU: last access time; LFU: access counter. A key never touched since tracking began scores 0.
    const v = db.access?.get(key);
    if (v === undefined) return 0;
    return this.engine.ks.tracking === 'lfu' ? this.engine.ks.lfuCounter(v) : v;
  }

  /** Up to `n` keys taken where the previous sample of this database stopped, wrapping around. */
  private *sample(pool: Map<string, unknown>, n: number): Generator<string> {
    let it = this.cursors.get(pool);
    let wrapped = false;
    for (let taken = 0; taken < n && taken < pool.size; ) {
      if (!it) it = pool.keys();
      const step = it.next();
      if (step.done) {
        it = undefined;
        if (wrapped) break;
        wrapped = true;
        continue;
      }
      taken++;
      yield step.value;
    }
    if (it) this.cursors.set(pool, it);
    else this.cursors.delete(pool);
  }
}
