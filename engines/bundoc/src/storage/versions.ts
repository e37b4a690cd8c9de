import { keyString, SortedKeys } from './sorted-keys.js';

/** The value a key had just before commit `seq` changed it (undefined: the key did not exist). */
export interface Version {
  seq: number;
  before: Uint8Array | undefined;
}

export interface KeyVersions {
  key: Uint8Array;
  /** Ascending by seq. */
  versions: Version[];
}

export interface DroppedTree {
  seq: number;
  root: number;
}

type Entry = { seq: number; tree: string; key: string } | { seq: number; tree: string; drop: DroppedTree };

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
  #queue: Entry[] = [];
  #head = 0;

  get retained(): number {
    return this.#queue.length - this.#head;
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
    // A literal of one: an empty array's first push reserves room for 17.
    if (!kv) t.set(keyStr, { key, versions: [{ seq, before }] });
    else kv.versions.push({ seq, before });
    this.#lastSeq.set(tree, seq);
    this.#queue.push({ seq, tree, key: keyStr });
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
    const v = this.#trees.get(tree)?.get(keyStr)?.versions;
    return v && v.length > 0 ? v[v.length - 1].seq : 0;
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
    for (const v of kv.versions) {
      if (v.seq > snap) return v.seq < until ? v : undefined;
    }
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
    while (this.#head < this.#queue.length && this.#queue[this.#head].seq <= upTo) {
      const e = this.#queue[this.#head++];
      if ('drop' in e) {
        const list = this.#drops.get(e.tree)!;
        list.shift();
        if (list.length === 0) this.#drops.delete(e.tree);
        onDropReleased(e.tree, e.drop);
        continue;
      }
      const t = this.#trees.get(e.tree)!;
      const kv = t.get(e.key)!;
      kv.versions.shift();
      if (kv.versions.length === 0) {
        t.delete(e.key);
        if (t.size === 0) {
          this.#trees.delete(e.tree);
          this.#lastSeq.delete(e.tree);
        }
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
