/**
 * JSON.parse for stored documents, read straight from their UTF-8 bytes: the same value JSON.parse of
 * the decoded text would return, over twice as fast on the reference document (0.99 µs against 2.2 µs;
 * parsing was half of an indexed query's time and the largest part of a point get's).
 *
 * Where the time goes in JSON.parse of a small document: making the text, then a string per key (looked
 * up in V8's string table) and a property transition per field. Here there is no text; keys are matched
 * against the shape seen last at the same place (documents of a collection mostly share their shape),
 * and each object is made by a function compiled for its shape (`{"name": v[0], "age": v[1], ...}`), one
 * allocation with its final layout. Short ASCII strings are made from their bytes by
 * String.fromCharCode, others by one native call (with escapes: per run between them).
 *
 * The fast path covers everything JSON.stringify writes. Anything else (whitespace, a malformed value
 * or UTF-8 sequence, nesting deeper than MAX_NESTING, an object of more than MAX_FIELDS fields) makes it
 * give up and return JSON.parse of the decoded text, which also raises the errors. So the result is
 * JSON.parse's by construction; the differential tests check it.
 */

/** Deeper documents are left to JSON.parse (stored ones are at most 100 levels, see validate.ts). */
const MAX_NESTING = 128;
/**
 * Objects with more fields are left to JSON.parse, which makes such objects as dictionaries at once
 * (setting 1000 fields one by one from JavaScript costs more than its whole parse). Up to this many a
 * compiled object literal is 3-4 times faster than JSON.parse (measured at 100-999 fields); V8 keeps
 * at most 1020 fields out of dictionary mode.
 */
const MAX_FIELDS = 1000;
/** Shapes (nodes of the trie below) kept; past it the trie starts over (the shapes in use come back). */
const MAX_SHAPE_NODES = 8192;
/** Objects of a shape seen fewer times are built field by field: compiling one costs tens of µs. */
const COMPILE_AFTER = 2;
/**
 * A field whose objects keep adding shapes (keys made of ids, say: every object a new shape) is left
 * to JSON.parse: learning a shape per object made such documents twice as slow as JSON.parse. Judged
 * per window of this many objects: more than three quarters of them added nodes to the field's trie.
 * Objects of a regular field add nodes while their shapes are learnt, then rarely. Whole documents are
 * judged so per collection (see DecodeShapes); those decoded without one share a trie that is never
 * judged (one kind of document would take the rest with it).
 */
const DYNAMIC_WINDOW = 64;

/** Node's one-byte-per-char decoder, callable on any Uint8Array (no Buffer wrapper to allocate). */
const latin1Slice: (this: Uint8Array, s: number, e: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (s: number, e: number) => string }).latin1Slice ??
  function (this: Uint8Array, s: number, e: number): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('latin1', s, e);
  };

type Construct = (values: unknown[], from: number) => Record<string, unknown>;

/**
 * A node of a shape trie: the object whose fields so far are the keys on the path from the trie's root.
 * `hint` is the child taken last, tried first (a byte comparison, no lookup). A field's node is also
 * the context of its value: objects there (directly or in arrays) have a trie of their own, `inner`, so
 * the hints of a document's top level and of, say, its address never displace each other.
 */
class Shape {
  hint: Shape | null = null;
  children: Map<string, Shape> | null = null;
  inner: Shape | null = null;
  /** As a field: its objects read in this window, how many added trie nodes, whether left to JSON.parse. */
  objects = 0;
  adding = 0;
  dynamic = false;
  construct: Construct | null = null;
  /** Objects of this shape built so far without its constructor. */
  built = 0;
  constructor(
    readonly parent: Shape | null,
    readonly key: string,
    readonly keyBytes: Uint8Array,
    readonly fields: number,
  ) {}
}

const NO_BYTES = new Uint8Array(0);
/** The context of whole documents decoded without DecodeShapes: its `inner` is their trie. */
let documents = new Shape(null, '', NO_BYTES, 0);
let shapeNodes = 0;
/** Bumped when the tries start over: DecodeShapes of an older generation start over too. */
let generation = 0;

/**
 * The shapes of one collection's documents: their trie of their own, so a collection whose documents'
 * keys are ids is left to JSON.parse alone (see DYNAMIC_WINDOW), and collections do not displace each
 * other's hints. Opaque to callers; counted in MAX_SHAPE_NODES with the rest.
 */
export class DecodeShapes {
  /** @internal */
  context = new Shape(null, '', NO_BYTES, 0);
  /** @internal */
  generation = generation;
}
/** Set by field() when it added a node (object() reads and clears it). */
let fieldAdded = false;

/** Counters for tests and diagnostics. */
export const jsonDecodeStats = { gaveUp: 0, compiled: 0, restarts: 0, dynamic: 0 };

/** Thrown (preallocated) to leave the fast path. */
const GIVE_UP = new Error('json-decode: not on the fast path');

// The parse in progress: decodeJson is synchronous and calls no user code, so one set suffices.
let b: Uint8Array = NO_BYTES;
let pos = 0;
let depth = 0;
/** Field values of the objects being parsed, innermost last. */
const values: unknown[] = [];
let top = 0;

const utf8Whole = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * JSON.parse of the UTF-8 text in bytes[start, end): its value, or TypeError (invalid UTF-8) or
 * SyntaxError (invalid JSON). Reads may look past `end`, but a value is returned only if it ended
 * exactly there.
 */
export function decodeJson(bytes: Uint8Array, start: number, end: number, shapes?: DecodeShapes): unknown {
  let context = documents;
  if (shapes !== undefined) {
    if (shapes.generation !== generation) {
      shapes.context = new Shape(null, '', NO_BYTES, 0);
      shapes.generation = generation;
    }
    context = shapes.context;
  }
  b = bytes;
  pos = start;
  depth = 0;
  top = 0;
  try {
    const v = value(context);
    if (pos !== end) throw GIVE_UP;
    return v;
  } catch (e) {
    if (e !== GIVE_UP) throw e;
    jsonDecodeStats.gaveUp++;
    return JSON.parse(utf8Whole.decode(bytes.subarray(start, end)));
  } finally {
    b = NO_BYTES; // not kept alive by the decoder (values keeps the last fields: a few objects)
  }
}

// Bytes are read as `b[pos] as number`: past the end they are undefined, which every test below
// treats as a mismatch (comparisons with undefined are false, so range checks are written as
// `!(c >= lo && c <= hi)` where leaving the range must give up).

/** The value at pos; `context` is the field it belongs to (see Shape). */
function value(context: Shape): unknown {
  const c = b[pos] as number;
  if (c === 0x7b) return object(context);
  if (c === 0x22) return string();
  if (c === 0x5b) return array(context);
  if (c === 0x74) {
    if (b[pos + 1] === 0x72 && b[pos + 2] === 0x75 && b[pos + 3] === 0x65) {
      pos += 4;
      return true;
    }
    throw GIVE_UP;
  }
  if (c === 0x66) {
    if (b[pos + 1] === 0x61 && b[pos + 2] === 0x6c && b[pos + 3] === 0x73 && b[pos + 4] === 0x65) {
      pos += 5;
      return false;
    }
    throw GIVE_UP;
  }
  if (c === 0x6e) {
    if (b[pos + 1] === 0x75 && b[pos + 2] === 0x6c && b[pos + 3] === 0x6c) {
      pos += 4;
      return null;
    }
    throw GIVE_UP;
  }
  return number();
}

function object(context: Shape): Record<string, unknown> {
  if (++depth > MAX_NESTING || context.dynamic) throw GIVE_UP;
  let added = false;
  pos++;
  let c = b[pos] as number;
  if (c === 0x7d) {
    pos++;
    depth--;
    return {};
  }
  const from = top;
  let shape = context.inner ?? innerTrie(context);
  for (;;) {
    if (c !== 0x22) throw GIVE_UP;
    if (shape.fields === MAX_FIELDS) throw GIVE_UP;
    shape = field(shape);
    if (fieldAdded) {
      added = true;
      fieldAdded = false;
    }
    if (b[pos] !== 0x3a) throw GIVE_UP;
    pos++;
    const at = top++;
    values[at] = value(shape);
    c = b[pos++] as number;
    if (c === 0x7d) break;
    if (c !== 0x2c) throw GIVE_UP;
    c = b[pos] as number;
  }
  const o = shape.construct !== null ? shape.construct(values, from) : build(shape, from);
  top = from;
  depth--;
  if (context !== documents) judge(context, added);
  return o;
}

function judge(context: Shape, added: boolean): void {
  if (added) context.adding++;
  if (++context.objects < DYNAMIC_WINDOW) return;
  if (context.adding * 4 > DYNAMIC_WINDOW * 3) {
    context.dynamic = true;
    jsonDecodeStats.dynamic++;
  }
  context.objects = 0;
  context.adding = 0;
}

/**
 * The child of `shape` for the key whose opening quote is at pos; pos moves past its closing quote.
 * Keys are matched as written (escapes included): bytes equal to a complete key, then a quote, are
 * that key.
 */
function field(shape: Shape): Shape {
  const s = pos + 1;
  const hint = shape.hint;
  if (hint !== null) {
    const kb = hint.keyBytes;
    const n = kb.length;
    let i = 0;
    while (i < n && kb[i] === b[s + i]) i++;
    if (i === n && b[s + n] === 0x22) {
      pos = s + n + 1;
      return hint;
    }
  }
  pos = s - 1;
  const key = string();
  let child = shape.children?.get(key);
  if (child === undefined) {
    if (shapeNodes >= MAX_SHAPE_NODES) {
      // This parse goes on in the old tries; the next one starts anew.
      documents = new Shape(null, '', NO_BYTES, 0);
      generation++;
      shapeNodes = 0;
      jsonDecodeStats.restarts++;
    }
    child = new Shape(shape, key, b.slice(s, pos - 1), shape.fields + 1);
    shapeNodes++;
    fieldAdded = true;
    shape.children ??= new Map();
    shape.children.set(key, child);
  }
  shape.hint = child;
  return child;
}

function innerTrie(context: Shape): Shape {
  context.inner = new Shape(null, '', NO_BYTES, 0);
  shapeNodes++;
  return context.inner;
}

/** An object of `shape` with the fields values[from...]: compiled on the COMPILE_AFTER-th, else built. */
function build(shape: Shape, from: number): Record<string, unknown> {
  if (++shape.built >= COMPILE_AFTER) return compile(shape)(values, from);
  return assemble(keysOf(shape), values, from);
}

function keysOf(shape: Shape): string[] {
  const keys: string[] = [];
  for (let s: Shape | null = shape; s !== null && s.parent !== null; s = s.parent) keys.push(s.key);
  return keys.reverse();
}

/**
 * Fields are defined, as JSON.parse does, where assigning would differ: a name that Object.prototype
 * has ("__proto__" would set the prototype; a frozen prototype's "toString" would refuse).
 */
function assemble(keys: readonly string[], v: readonly unknown[], from: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k in Object.prototype) {
      Object.defineProperty(o, k, {
        value: v[from + i],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else o[k] = v[from + i];
  }
  return o;
}

/**
 * The constructor of a shape: an object literal, so fields are defined in order (no setter runs, a
 * frozen prototype does not interfere), a repeated key keeps its first place and its last value, as in
 * JSON.parse. "__proto__" is written as a computed key, which defines an own field where a literal key
 * would set the prototype.
 */
function compile(shape: Shape): Construct {
  const keys = keysOf(shape);
  const fields = keys.map((k, i) => {
    const name = JSON.stringify(k);
    return `${k === '__proto__' ? `[${name}]` : name}: v[f + ${i}]`;
  });
  let construct: Construct;
  try {
    construct = new Function('v', 'f', `"use strict"; return { ${fields.join(', ')} };`) as Construct;
  } catch {
    // Code generation from strings may be disallowed (--disallow-code-generation-from-strings).
    construct = (v, f) => assemble(keys, v, f);
  }
  jsonDecodeStats.compiled++;
  shape.construct = construct;
  return construct;
}

function array(context: Shape): unknown[] {
  if (++depth > MAX_NESTING) throw GIVE_UP;
  pos++;
  const a: unknown[] = [];
  let c = b[pos] as number;
  if (c === 0x5d) {
    pos++;
    depth--;
    return a;
  }
  for (;;) {
    a.push(value(context));
    c = b[pos++] as number;
    if (c === 0x5d) break;
    if (c !== 0x2c) throw GIVE_UP;
  }
  depth--;
  return a;
}

function string(): string {
  const s = ++pos;
  let c = b[pos] as number;
  while (c !== 0x22) {
    if (!(c >= 0x20 && c < 0x80 && c !== 0x5c)) {
      if (c === 0x5c || c >= 0x80) return generalString(s);
      throw GIVE_UP;
    }
    c = b[++pos] as number;
  }
  return text(s, pos++);
}

const ESCAPED: Record<number, string> = {
  34: '"',
  92: '\\',
  47: '/',
  98: '\b',
  102: '\f',
  110: '\n',
  114: '\r',
  116: '\t',
};

/** A string with escapes or UTF-8 in it, whose text begins at s: runs of bytes between escapes. */
function generalString(s: number): string {
  pos = s;
  let out = '';
  for (;;) {
    let c = b[pos] as number;
    if (c === 0x22) {
      pos++;
      return out;
    }
    if (c === 0x5c) {
      c = b[++pos] as number;
      if (c === 0x75) {
        let unit = 0;
        for (let i = 1; i <= 4; i++) {
          const d = hexDigit(b[pos + i] as number);
          if (d < 0) throw GIVE_UP;
          unit = unit * 16 + d;
        }
        out += fromCharCode(unit); // lone surrogates too, as JSON.parse
        pos += 5;
      } else {
        const e = ESCAPED[c];
        if (e === undefined) throw GIVE_UP;
        out += e;
        pos++;
      }
      continue;
    }
    const from = pos;
    let utf8 = false;
    while (c !== 0x22 && c !== 0x5c) {
      if (c >= 0x80) utf8 = true;
      else if (!(c >= 0x20)) throw GIVE_UP;
      c = b[++pos] as number;
    }
    out += utf8 ? utf8Text(from, pos) : text(from, pos);
  }
}

// A run of UTF-8 between ASCII delimiters decodes as it would within the whole text (no sequence
// spans a quote or a backslash); ignoreBOM keeps a leading U+FEFF, which is part of the string.
const utf8Run = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8Text(from: number, to: number): string {
  try {
    return utf8Run.decode(b.subarray(from, to));
  } catch {
    throw GIVE_UP; // invalid UTF-8: the whole text's decode raises the error
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Exact powers of ten (up to 10^22 a double holds them exactly). */
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * JSON number grammar. Up to 15 digits in all and no exponent: the digits as an integer (exact below
 * 2^53), divided by the power of ten of the fraction (exact too): one correctly rounded division, so the
 * value JSON.parse gives (Clinger's fast path). The rest go to Number(), which also rounds correctly.
 */
function number(): number {
  const s = pos;
  let c = b[pos] as number;
  const negative = c === 0x2d;
  if (negative) c = b[++pos] as number;
  const digits = pos;
  let n = 0;
  if (c === 0x30) c = b[++pos] as number;
  else if (c >= 0x31 && c <= 0x39) {
    do {
      n = n * 10 + (c - 0x30);
      c = b[++pos] as number;
    } while (c >= 0x30 && c <= 0x39);
  } else throw GIVE_UP;
  let count = pos - digits;
  let fraction = 0;
  if (c === 0x2e) {
    c = b[++pos] as number;
    if (!(c >= 0x30 && c <= 0x39)) throw GIVE_UP;
    const from = pos;
    do {
      n = n * 10 + (c - 0x30);
      c = b[++pos] as number;
    } while (c >= 0x30 && c <= 0x39);
    fraction = pos - from;
    count += fraction;
  }
  if (c === 0x65 || c === 0x45) {
    c = b[++pos] as number;
    if (c === 0x2b || c === 0x2d) c = b[++pos] as number;
    if (!(c >= 0x30 && c <= 0x39)) throw GIVE_UP;
    do c = b[++pos] as number;
    while (c >= 0x30 && c <= 0x39);
    count = Number.POSITIVE_INFINITY;
  }
  if (count <= 15) {
    const v = fraction === 0 ? n : n / POW10[fraction]!;
    return negative ? -v : v;
  }
  return Number(latin1Slice.call(b, s, pos));
}

const fromCharCode = String.fromCharCode;

/**
 * The ASCII bytes [s, e) as a string. Up to 16 bytes: one String.fromCharCode with that many arguments
 * (cheaper than a native call into Node); longer: latin1Slice.
 */
function text(s: number, e: number): string {
  switch (e - s) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[s]!);
    case 2:
      return fromCharCode(b[s]!, b[s + 1]!);
    case 3:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
      );
    case 10:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
      );
    case 11:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
      );
    case 12:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
        b[s + 11]!,
      );
    case 13:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
        b[s + 11]!,
        b[s + 12]!,
      );
    case 14:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
        b[s + 11]!,
        b[s + 12]!,
        b[s + 13]!,
      );
    case 15:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
        b[s + 11]!,
        b[s + 12]!,
        b[s + 13]!,
        b[s + 14]!,
      );
    case 16:
      return fromCharCode(
        b[s]!,
        b[s + 1]!,
        b[s + 2]!,
        b[s + 3]!,
        b[s + 4]!,
        b[s + 5]!,
        b[s + 6]!,
        b[s + 7]!,
        b[s + 8]!,
        b[s + 9]!,
        b[s + 10]!,
        b[s + 11]!,
        b[s + 12]!,
        b[s + 13]!,
        b[s + 14]!,
        b[s + 15]!,
      );
    default:
      return latin1Slice.call(b, s, e);
  }
}
