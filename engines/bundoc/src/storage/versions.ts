import { keyString, SortedKeys } from './sorted-keys.js';

/** The value a key had just before commit `seq` changed it (undefined: the key did not exist). */
export interface Version {
  seq: number;
  before: Uint8Array | undefined;
}

/**
 * The retained versions of one key, ascending by seq. The oldest is held inline (most keys have one):
 * a record per changed key was four objects (an entry, its array, the version and a queue entry), and
 * for a bulk load of small documents they were most of what survived a scavenge.
 */
export interface KeyVersions extends Version {
  key: Uint8Array;
  /** The versions after the inline one, ascending by seq; undefined while there is none. */
  later: Version[] | undefined;
}

export interface DroppedTree {
  seq: number;
  root: number;
}

/** The keys of one tree one commit changed (its versions, in the commit's order), or a dropped tree. */
type Entry = { seq: number; tree: string; keys: string[] } | { seq: number; tree: string; drop: DroppedTree };

/** Trees whose emptied version maps are kept for reuse while there are no more than this many. */
const KEEP_EMPTY_TREES = 64;

/**
 * Before-images that let snapshots read past later commits. The single writer applies each commit to
 * the B+tree in place and records here what every changed key held before; a snapshot at S reads a
 * key's first version with seq > S, else the tree. A dropped tree keeps its detached root until no
 * snapshot can see it. Entries are released in commit order once no open snapshot is older.
 */
export class VersionStore {
  readonly #trees = new Map<string, SortedKeys<KeyVersions>>();
  readonly #drops = new Map<string, DroppedTree[]>();
  /** The last commit that changed each tree with retained versions. */
  readonly #lastSeq = new Map<string, number>();
  /** Entries in commit order; those before #head are released (cleared: a commit's keys go with it). */
  #queue: Array<Entry | undefined> = [];
  #head = 0;
  /** Key versions held. */
  #count = 0;

  get retained(): number {
    return this.#count;
  }

  keysOf(tree: string): SortedKeys<KeyVersions> | undefined {
    return this.#trees.get(tree);
  }

  record(tree: string, keyStr: string, key: Uint8Array, seq: number, before: Uint8Array | undefined): void {
    let t = this.#trees.get(tree);
    if (!t) {
      t = new SortedKeys();
      this.#trees.set(tree, t);
    }
    const kv = t.get(keyStr);
    if (!kv) t.set(keyStr, { key, seq, before, later: undefined });
    else if (kv.later === undefined) kv.later = [{ seq, before }];
    else kv.later.push({ seq, before });
    this.#count++;
    // One queue entry per commit and tree: the keys of a commit are recorded one after another.
    const last = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1]! : undefined;
    if (last !== undefined && last.seq === seq && last.tree === tree && 'keys' in last)
      last.keys.push(keyStr);
    else {
      this.#lastSeq.set(tree, seq);
      this.#queue.push({ seq, tree, keys: [keyStr] });
    }
  }

  recordDrop(tree: string, seq: number, root: number): void {
    const d = { seq, root };
    const list = this.#drops.get(tree);
    if (list) list.push(d);
    else this.#drops.set(tree, [d]);
    this.#queue.push({ seq, tree, drop: d });
  }

  /** Highest seq that changed the key (0 when none is retained). */
  latestSeq(tree: string, keyStr: string): number {
    const kv = this.#trees.get(tree)?.get(keyStr);
    if (kv === undefined) return 0;
    return kv.later === undefined ? kv.seq : kv.later[kv.later.length - 1]!.seq;
  }

  /**
   * Whether a commit after `snap` changed or dropped `tree` (else a snapshot at `snap` sees the tree as
   * it is). Released versions are of commits every open snapshot sees.
   */
  changedAfter(tree: string, snap: number): boolean {
    return (this.#lastSeq.get(tree) ?? 0) > snap || this.dropAfter(tree, snap) !== undefined;
  }

  /** The first drop of `tree` after `snap`: its root is the tree as the snapshot must see it. */
  dropAfter(tree: string, snap: number): DroppedTree | undefined {
    const list = this.#drops.get(tree);
    if (!list) return undefined;
    for (const d of list) if (d.seq > snap) return d;
    return undefined;
  }

  /** Version giving the value at `snap`, considering only changes before `until`. */
  versionAt(kv: KeyVersions, snap: number, until: number): Version | undefined {
    if (kv.seq > snap) return kv.seq < until ? kv : undefined;
    if (kv.later !== undefined)
      for (const v of kv.later) if (v.seq > snap) return v.seq < until ? v : undefined;
    return undefined;
  }

  /** The key's version at `snap`; the key string is only built when the tree has retained versions. */
  lookup(tree: string, key: Uint8Array, snap: number, until: number): Version | undefined {
    const t = this.#trees.get(tree);
    // Most reads find no retained version: spare them the key's string form.
    if (t === undefined || t.size === 0) return undefined;
    const kv = t.get(keyString(key));
    return kv ? this.versionAt(kv, snap, until) : undefined;
  }

  /** Drops every entry with seq <= upTo; `onDropReleased` frees a detached tree's pages. */
  gc(upTo: number, onDropReleased: (tree: string, d: DroppedTree) => void): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.seq <= upTo) {
      const e = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined;
      if ('drop' in e) {
        const list = this.#drops.get(e.tree)!;
        list.shift();
        if (list.length === 0) this.#drops.delete(e.tree);
        onDropReleased(e.tree, e.drop);
        continue;
      }
      const t = this.#trees.get(e.tree)!;
      for (const ks of e.keys) {
        const kv = t.get(ks)!;
        this.#count--;
        const next = kv.later?.shift();
        if (next !== undefined) {
          kv.seq = next.seq;
          kv.before = next.before;
          if (kv.later!.length === 0) kv.later = undefined;
        } else t.delete(ks);
      }
      // An emptied tree keeps its (empty) map for the next commit: a lone writer's every commit made
      // and dropped one. Its #lastSeq stays too: every snapshot open or to come is at or past it.
      if (t.size === 0 && this.#trees.size > KEEP_EMPTY_TREES) {
        this.#trees.delete(e.tree);
        this.#lastSeq.delete(e.tree);
      }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Detached roots still needed by snapshots (persisted at checkpoints so their pages are not leaked). */
  droppedRoots(): number[] {
    const out: number[] = [];
    for (const list of this.#drops.values()) for (const d of list) out.push(d.root);
    return out;
  }
}
