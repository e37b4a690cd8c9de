/**
 * Stream: entries grouped into nodes the way Redis groups them into listpacks (same node-size rules,
 * deletions as tombstones that stay in their node until it empties), so approximate trimming (`~`),
 * `radix-tree-keys` and the lag bookkeeping behave exactly as in Redis. Nodes sit in an array ordered by
 * their master ID: a range seek is a binary search over nodes plus a scan of one node (≤ 100 entries),
 * O(log n). Consumer groups keep their pending entries in IdIndex, an ordered map with O(log n) seeks.
 */
import { IdIndex } from './id-index.js';
import { cmpId, incrId, isZeroId, MAX_ID, MIN_ID, type StreamID } from './stream-id.js';
import { lpIntSize, lpStringSize, type StreamEntry, StreamNode } from './stream-node.js';

export * from './id-index.js';
export * from './stream-id.js';
export { lpStringSize, type StreamEntry } from './stream-node.js';

// --- consumer groups ------------------------------------------------------------------------------

/** A pending (delivered, not yet acknowledged) entry. */
export interface Nack {
  consumer: Consumer | null;
  deliveryTime: number;
  deliveryCount: number;
}

export class Consumer {
  readonly pel = new IdIndex<Nack>();
  constructor(
    readonly name: string,
    public seenTime: number,
  ) {}
}

/** Redis's SCG_INVALID_ENTRIES_READ. */
export const INVALID_ENTRIES_READ = -1;

export class ConsumerGroup {
  readonly pel = new IdIndex<Nack>();
  readonly consumers = new Map<string, Consumer>();
  constructor(
    readonly name: string,
    public lastId: StreamID,
    public entriesRead: number,
  ) {}

  /** Consumers in name (byte) order, as Redis's radix tree lists them. */
  sortedConsumers(): Consumer[] {
    return [...this.consumers.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  createConsumer(name: string, now: number): Consumer {
    const c = new Consumer(name, now);
    this.consumers.set(name, c);
    return c;
  }

  /** Removes a consumer and its pending entries; returns how many were pending. */
  deleteConsumer(name: string): number {
    const c = this.consumers.get(name);
    if (!c) return 0;
    const ids = [...c.pel.range()].map(([id]) => id);
    for (const id of ids) this.pel.delete(id);
    this.consumers.delete(name);
    return ids.length;
  }

  ack(id: StreamID): boolean {
    const nack = this.pel.get(id);
    if (!nack) return false;
    this.pel.delete(id);
    nack.consumer?.pel.delete(id);
    return true;
  }
}

export interface NodeLimits {
  /** stream-node-max-bytes (0 = no limit, capped at 1 GiB as in Redis). */
  readonly maxBytes: number;
  /** stream-node-max-entries (0 = no limit). */
  readonly maxEntries: number;
}

export const DEFAULT_NODE_LIMITS: NodeLimits = { maxBytes: 4096, maxEntries: 100 };

export type TrimStrategy = 'maxlen' | 'minid';

export interface TrimArgs {
  readonly strategy: TrimStrategy;
  readonly maxlen: number;
  readonly minid: StreamID;
  readonly approx: boolean;
  /** Most entries to remove (0 = unlimited). */
  readonly limit: number;
}

export class Stream {
  private nodes: StreamNode[] = [];
  length = 0;
  lastId: StreamID = MIN_ID;
  firstId: StreamID = MIN_ID;
  maxDeletedId: StreamID = MIN_ID;
  entriesAdded = 0;
  readonly groups = new Map<string, ConsumerGroup>();

  /** Number of listpack nodes (XINFO radix-tree-keys). */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Groups in name (byte) order. */
  sortedGroups(): ConsumerGroup[] {
    return [...this.groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The ID XADD `*` would generate (streamNextID); null when the stream has exhausted its IDs. */
  nextId(nowMs: number): StreamID | null {
    const ms = BigInt(nowMs);
    if (ms > this.lastId.ms) return { ms, seq: 0n };
    return incrId(this.lastId);
  }

  /**
   * Appends an entry whose ID the caller checked is greater than lastId. Follows streamAppendItem's
   * rule for starting a new node: the tail listpack would reach the byte limit, or holds max entries.
   */
  append(id: StreamID, fields: readonly string[], limits: NodeLimits = DEFAULT_NODE_LIMITS): void {
    let node: StreamNode | undefined = this.nodes[this.nodes.length - 1];
    if (node) {
      let maxBytes = limits.maxBytes;
      if (maxBytes === 0 || maxBytes > 1 << 30) maxBytes = 1 << 30;
      let total = 0;
      for (const f of fields) total += f.length;
      if (
        node.bytes + total >= maxBytes ||
        (limits.maxEntries > 0 && node.live + node.deleted >= limits.maxEntries)
      ) {
        node.shrink();
        node = undefined;
      }
    }
    const masterFields: string[] = [];
    let same: boolean;
    if (!node) {
      for (let i = 0; i < fields.length; i += 2) masterFields.push(fields[i]!);
      node = new StreamNode(id, masterFields);
      // Nodes are kept in master-ID order, as Redis's radix tree keeps them (an XSETID that moved the
      // last ID backwards can make a new node sort before the current tail).
      this.nodes.splice(this.seekNode(id) + 1, 0, node);
      same = true;
    } else {
      const mf = node.masterFields;
      same = mf.length * 2 === fields.length;
      for (let i = 0; same && i < mf.length; i++) same = mf[i] === fields[i * 2];
    }
    node.setCounts(node.live + 1, node.deleted);
    // flags, ms delta, seq delta, [field count], fields/values, lp-count
    let bytes = lpIntSize(same ? 2 : 0);
    bytes += lpIntSize(BigInt.asIntN(64, id.ms - node.master.ms));
    bytes += lpIntSize(BigInt.asIntN(64, id.seq - node.master.seq));
    const numFields = fields.length / 2;
    if (!same) bytes += lpIntSize(numFields);
    for (let i = 0; i < fields.length; i++) if (!same || i % 2 === 1) bytes += lpStringSize(fields[i]!);
    bytes += lpIntSize(same ? numFields + 3 : numFields * 2 + 4);
    node.bytes += bytes;
    node.push(id, fields, same);
    this.length++;
    this.entriesAdded++;
    this.lastId = id;
    if (this.length === 1) this.firstId = id;
  }

  /** Index of the node a forward seek to `id` starts from (rax "<=" seek, else the first node). */
  private seekNode(id: StreamID): number {
    let lo = 0;
    let hi = this.nodes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cmpId(this.nodes[mid]!.master, id) <= 0) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Live entries with start <= ID <= end, ascending or descending, with the exact semantics of Redis's
   * stream iterator: seek the node by master ID, then walk entries in stored order, skipping those
   * before the range and stopping at the first live entry past it. (Entries are in ID order except
   * after an XSETID moved the last ID backwards; the walk then behaves as Redis's does.)
   */
  *range(start: StreamID = MIN_ID, end: StreamID = MAX_ID, rev = false): Generator<StreamEntry> {
    for (const [ni, i] of this.walk(start, end, rev)) yield this.nodes[ni]!.entryAt(i);
  }

  /** Positions (node, index) of the live entries in range, in iteration order. */
  private *walk(start: StreamID, end: StreamID, rev: boolean): Generator<[number, number]> {
    if (this.nodes.length === 0) return;
    if (!rev) {
      let ni = isZeroId(start) ? 0 : this.seekNode(start);
      if (ni < 0) ni = 0;
      for (; ni < this.nodes.length; ni++) {
        const n = this.nodes[ni]!;
        for (let i = 0; i < n.count; i++) {
          if (n.isDeleted(i) || n.cmpAt(i, start) < 0) continue;
          if (n.cmpAt(i, end) > 0) return;
          yield [ni, i];
        }
      }
    } else {
      let ni = isZeroId(end) ? -1 : this.seekNode(end);
      if (ni < 0) ni = this.nodes.length - 1;
      for (; ni >= 0; ni--) {
        const n = this.nodes[ni]!;
        for (let i = n.count - 1; i >= 0; i--) {
          if (n.isDeleted(i) || n.cmpAt(i, end) > 0) continue;
          if (n.cmpAt(i, start) < 0) return;
          yield [ni, i];
        }
      }
    }
  }

  /** The live entry with this exact ID (streamEntryExists). */
  get(id: StreamID): StreamEntry | undefined {
    for (const [ni, i] of this.walk(id, id, false)) return this.nodes[ni]!.entryAt(i);
    return undefined;
  }

  /** First (or last) live entry. */
  edge(first: boolean): StreamEntry | undefined {
    for (const e of this.range(MIN_ID, MAX_ID, !first)) return e;
    return undefined;
  }

  /** XDEL of one ID: marks it deleted, dropping its node when no live entry remains. */
  delete(id: StreamID): boolean {
    for (const [ni, i] of this.walk(id, id, false)) {
      const n = this.nodes[ni]!;
      n.markDeleted(i);
      if (n.live === 1) this.nodes.splice(ni, 1);
      else n.setCounts(n.live - 1, n.deleted + 1);
      this.length--;
      return true;
    }
    return false;
  }

  /** streamTrim: MAXLEN or MINID, exact or approximate (whole nodes only), bounded by `limit`. */
  trim(args: TrimArgs): number {
    let deleted = 0;
    // Whole nodes removed from the head so far (spliced out once at the end: O(nodes), not O(nodes²)).
    let dropped = 0;
    while (dropped < this.nodes.length) {
      if (args.strategy === 'maxlen' && this.length <= args.maxlen) break;
      const node = this.nodes[dropped]!;
      const entries = node.live;
      if (args.limit && deleted + entries > args.limit) break;
      const removeNode =
        args.strategy === 'maxlen'
          ? this.length - entries >= args.maxlen
          : cmpId(node.lastId, args.minid) < 0;
      if (removeNode) {
        dropped++;
        this.length -= entries;
        deleted += entries;
        continue;
      }
      if (args.approx) break;
      let fromNode = 0;
      for (let i = 0; i < node.count; i++) {
        const stop = args.strategy === 'maxlen' ? this.length <= args.maxlen : node.cmpAt(i, args.minid) >= 0;
        if (stop) break;
        if (!node.isDeleted(i)) {
          node.markDeleted(i);
          fromNode++;
          this.length--;
        }
      }
      node.setCounts(node.live - fromNode, node.deleted + fromNode);
      deleted += fromNode;
      break;
    }
    if (dropped > 0) this.nodes.splice(0, dropped);
    this.firstId = this.length === 0 ? MIN_ID : (this.edge(true)?.id ?? MIN_ID);
    return deleted;
  }

  /** The ID of the last live entry, or 0-0 (streamLastValidID). */
  lastValidId(): StreamID {
    return this.edge(false)?.id ?? MIN_ID;
  }

  /** streamRangeHasTombstones. */
  rangeHasTombstones(start: StreamID | null, end: StreamID | null): boolean {
    if (this.length === 0 || isZeroId(this.maxDeletedId)) return false;
    if (cmpId(this.firstId, this.maxDeletedId) > 0) return false;
    const s = start ?? MIN_ID;
    const e = end ?? MAX_ID;
    return cmpId(s, this.maxDeletedId) <= 0 && cmpId(this.maxDeletedId, e) <= 0;
  }

  /** streamEstimateDistanceFromFirstEverEntry: a group's read counter at `id`, or -1 when unknown. */
  estimateDistance(id: StreamID): number {
    if (!this.entriesAdded) return 0;
    if (!this.length && cmpId(id, this.lastId) < 1) return this.entriesAdded;
    const cmpLast = cmpId(id, this.lastId);
    if (cmpLast === 0) return this.entriesAdded;
    if (cmpLast > 0) return INVALID_ENTRIES_READ;
    const cmpFirst = cmpId(id, this.firstId);
    if (isZeroId(this.maxDeletedId) || cmpId(this.maxDeletedId, this.firstId) < 0) {
      if (cmpFirst < 0) return this.entriesAdded - this.length;
      if (cmpFirst === 0) return this.entriesAdded - this.length + 1;
    }
    return INVALID_ENTRIES_READ;
  }

  /** A group's lag, or null when it cannot be known (XINFO). */
  lag(g: ConsumerGroup): number | null {
    if (!this.entriesAdded) return 0;
    if (g.entriesRead !== INVALID_ENTRIES_READ && !this.rangeHasTombstones(g.lastId, null)) {
      return this.entriesAdded - g.entriesRead;
    }
    const read = this.estimateDistance(g.lastId);
    return read === INVALID_ENTRIES_READ ? null : this.entriesAdded - read;
  }

  /**
   * The number of nodes of Redis's radix tree over the node keys (XINFO radix-tree-nodes), for a tree in
   * its compressed form: the root, every key, every branching prefix and every child of one.
   */
  radixTreeNodes(): number {
    const keys = this.nodes.map((n) => {
      const b = Buffer.allocUnsafe(16);
      b.writeBigUInt64BE(n.master.ms, 0);
      b.writeBigUInt64BE(n.master.seq, 8);
      return b;
    });
    let count = 1;
    const walk = (lo: number, hi: number, depth: number, parentBranches: boolean): void => {
      // keys[lo..hi) share their first `depth` bytes; this prefix is a node position when its parent
      // branches (the root is counted above).
      if (depth === 16) {
        count++; // a key: always a node (all keys have the same length)
        return;
      }
      let groups = 0;
      for (let i = lo; i < hi; ) {
        let j = i + 1;
        while (j < hi && keys[j]![depth] === keys[i]![depth]) j++;
        groups++;
        i = j;
      }
      const branching = groups >= 2;
      if (depth > 0 && (branching || parentBranches)) count++;
      for (let i = lo; i < hi; ) {
        let j = i + 1;
        while (j < hi && keys[j]![depth] === keys[i]![depth]) j++;
        walk(i, j, depth + 1, branching);
        i = j;
      }
    };
    if (keys.length > 0) walk(0, keys.length, 0, false);
    return count;
  }

  /** Deep copy (COPY). */
  clone(): Stream {
    const s = new Stream();
    for (const n of this.nodes) s.nodes.push(n.clone());
    s.length = this.length;
    s.lastId = this.lastId;
    s.firstId = this.firstId;
    s.maxDeletedId = this.maxDeletedId;
    s.entriesAdded = this.entriesAdded;
    for (const g of this.groups.values()) {
      const h = new ConsumerGroup(g.name, g.lastId, g.entriesRead);
      for (const c of g.consumers.values()) h.createConsumer(c.name, c.seenTime);
      for (const [id, nack] of g.pel.range()) {
        const consumer = nack.consumer ? h.consumers.get(nack.consumer.name)! : null;
        const copy: Nack = { consumer, deliveryTime: nack.deliveryTime, deliveryCount: nack.deliveryCount };
        h.pel.set(id, copy);
        consumer?.pel.set(id, copy);
      }
      s.groups.set(h.name, h);
    }
    return s;
  }
}
