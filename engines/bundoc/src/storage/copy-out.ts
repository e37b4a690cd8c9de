/**
 * Arena size: a kept small copy pins at most this much (measured per 300-byte copy: 8 KiB arenas 89 ns,
 * 32 KiB 49 ns, Uint8Array#slice 480 ns plus its garbage).
 */
const ARENA_BYTES = 32 * 1024;
/** Arena size of encoded keys (keyCopy): they are short, and one kept for long pins its arena. */
const KEY_ARENA_BYTES = 4096;
/** Larger copies get their own allocation (at most 1/8 of an arena is wasted at its end). */
export const ARENA_MAX_COPY = 4096;

/**
 * The one empty array the store keeps for every empty value it owns: an empty array cannot be altered,
 * and one of its own costs a typed array and a buffer object on V8's heap.
 */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Node's UTF-8 encoder into a range of any Uint8Array (returns the bytes written). */
const utf8Write: (this: Uint8Array, text: string, offset: number, length: number) => number =
  (Buffer.prototype as unknown as { utf8Write?: (t: string, o: number, l: number) => number }).utf8Write ??
  function (this: Uint8Array, text: string, offset: number, length: number): number {
    return new TextEncoder().encodeInto(text, this.subarray(offset, offset + length)).written;
  };

/** Copies carved out of shared arenas: views into distinct, never reused ranges, so copies stay independent. */
export class ByteArena {
  #arena: ArrayBuffer | undefined;
  #bytes = new Uint8Array(0);
  #used: number;
  readonly #arenas: WeakSet<ArrayBufferLike> | undefined;
  readonly #minCopy: number;
  readonly #size: number;

  /**
   * `track`: remember the arenas (for `has`); copies shorter than `minCopy` are slices; `size`: bytes
   * per arena (copies longer than ARENA_MAX_COPY or than 1/4 of it get their own allocation).
   */
  constructor(track: boolean, minCopy: number, size = ARENA_BYTES) {
    this.#arenas = track ? new WeakSet() : undefined;
    this.#minCopy = minCopy;
    this.#size = size;
    this.#used = size;
  }

  copy(src: Uint8Array, start = 0, end = src.length): Uint8Array {
    const n = end - start;
    // Nothing to copy, and no arena yet in a fresh ByteArena (setting at its end would throw).
    if (n === 0) return EMPTY_BYTES;
    if (n < this.#minCopy || n > ARENA_MAX_COPY || n > this.#size >>> 2) {
      return Uint8Array.prototype.slice.call(src, start, end);
    }
    if (this.#used + n > this.#size) this.#fresh();
    if (start === 0 && end === src.length) this.#bytes.set(src, this.#used);
    else if (n <= 64) {
      // Short parts are copied by hand: a subarray to set() from is a view object of garbage.
      const dst = this.#bytes;
      for (let i = 0, o = this.#used; i < n; i++) dst[o + i] = src[start + i]!;
    } else this.#bytes.set(src.subarray(start, end), this.#used);
    const out = new Uint8Array(this.#arena!, this.#used, n);
    this.#used += n;
    return out;
  }

  /**
   * The byte `first` followed by the UTF-8 encoding of `text` (well-formed UTF-16, as JSON.stringify
   * writes it), carved like a copy: encoded in place, with no intermediate string or buffer. Undefined
   * when it might not fit (3 bytes per UTF-16 unit beyond ARENA_MAX_COPY or a quarter of an arena).
   */
  text(first: number, text: string): Uint8Array | undefined {
    const max = 1 + 3 * text.length;
    if (max > ARENA_MAX_COPY || max > this.#size >>> 2) return undefined;
    if (this.#used + max > this.#size) this.#fresh();
    const at = this.#used;
    this.#bytes[at] = first;
    const n = 1 + utf8Write.call(this.#bytes, text, at + 1, max - 1);
    this.#used += n;
    return new Uint8Array(this.#arena!, at, n);
  }

  #fresh(): void {
    // Zeroed: a copy's `.buffer` shows the arena, which must never hold stale process memory.
    this.#arena = new ArrayBuffer(this.#size);
    this.#bytes = new Uint8Array(this.#arena);
    this.#used = 0;
    this.#arenas?.add(this.#arena);
  }

  has(buffer: ArrayBufferLike): boolean {
    return this.#arenas?.has(buffer) ?? false;
  }
}

const results = new ByteArena(false, 0);
/**
 * Every owned copy, however short, is carved from an arena: a short array of its own costs ~230 bytes
 * of V8 heap (measured, Node 20: typed array, buffer object, backing bytes) against ~100 for a view,
 * and tree nodes keep one per key and value (index entries are short keys).
 */
const owned = new ByteArena(true, 1);

/**
 * A private copy of bytes handed to a caller (read results), so callers can never alter cached tree
 * nodes. `Uint8Array.prototype.slice` allocates a backing store per copy, which made reads and scans
 * GC-bound; copies are carved out of a shared arena instead. Only for results: see ownedCopy for what
 * the store keeps.
 */
export function copyOut(src: Uint8Array): Uint8Array {
  return results.copy(src);
}

/**
 * The store's own copy of a written key or value (transaction write sets, then tree nodes and versions),
 * from arenas of its own. A tree node holding such views is dirty; writing it rebases its entries onto
 * the page it was encoded into (see Pager.writeNode), so clean nodes never pin an arena and the buffer
 * pool's budget still bounds memory.
 */
export function ownedCopy(src: Uint8Array): Uint8Array {
  return owned.copy(src);
}

const versions = new ByteArena(false, 1);

/**
 * The copy of a before-image the version store keeps (the old value may be a view into a whole page).
 * Versions are released in commit order, as their arena fills: an arena goes with its last version, so
 * they pin at most one arena beyond themselves (a slice per copy was 7% of a durable update's CPU).
 */
export function versionCopy(src: Uint8Array): Uint8Array {
  return versions.copy(src);
}

const keys = new ByteArena(false, 0, KEY_ARENA_BYTES);

/**
 * A fresh encoded key (keys/encode.ts): carved from small arenas, as `bytes[start, end)`. An array of
 * its own per key cost ~0.5 µs and ~230 bytes of heap, twice per inserted document (its _id and an index
 * entry); a key kept long pins at most one 4 KiB arena.
 */
export function keyCopy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return keys.copy(bytes, start, end);
}

/**
 * `first` and the UTF-8 of `text` as bytes the store owns, as ownedCopy would copy them (a document's
 * header and JSON, encoded where the write set keeps them); undefined when too long for an arena.
 */
export function ownedText(first: number, text: string): Uint8Array | undefined {
  return owned.text(first, text);
}

/** Whether `bytes` are a view into one of ownedCopy's arenas: the store's already. */
export function isOwned(bytes: Uint8Array): boolean {
  // Short arrays live on V8's heap, and reading their `.buffer` would move them: sorted out by length.
  return bytes.length > 0 && bytes.length <= ARENA_MAX_COPY && owned.has(bytes.buffer);
}

/** Whether `buffer` is one of ownedCopy's arenas. */
export function isOwnedArena(buffer: ArrayBufferLike): boolean {
  return owned.has(buffer);
}
