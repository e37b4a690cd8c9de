/**
 * RESP encoders. The free functions build one reply each (used by tests and by the AOF, which stores
 * commands as RESP arrays). `ReplyBuffer` is the hot path: it appends many replies into one growing
 * buffer so that a batch of pipelined replies leaves in a single socket write.
 */
import {
  DoubleReply,
  ErrorReply,
  MapReply,
  NullArrayReply,
  PushReply,
  RawReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimReply,
} from '../reply.js';
import { formatDouble } from '../util/numbers.js';

const CRLF = '\r\n';

export function simpleString(s: string): Buffer {
  return Buffer.from(`+${s}${CRLF}`, 'utf8');
}

export function errorReply(message: string): Buffer {
  return Buffer.from(`-${message}${CRLF}`, 'utf8');
}

export function integer(n: number | bigint): Buffer {
  return Buffer.from(`:${n}${CRLF}`, 'latin1');
}

export function bulk(value: Buffer | string | null): Buffer {
  if (value === null) return Buffer.from(`$-1${CRLF}`, 'latin1');
  const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from(`$${body.length}${CRLF}`, 'latin1'), body, Buffer.from(CRLF, 'latin1')]);
}

export function arrayHeader(length: number | null): Buffer {
  return Buffer.from(`*${length === null ? -1 : length}${CRLF}`, 'latin1');
}

/** A request in RESP form (an array of bulk strings), as clients send commands and AOF files store them. */
export function command(args: ReadonlyArray<Buffer | string>): Buffer {
  return Buffer.concat([arrayHeader(args.length), ...args.map((a) => bulk(a))]);
}

const INITIAL = 16 * 1024;
/** Batches that fit are copied into a small pooled buffer; bigger ones hand over the whole buffer. */
const COPY_LIMIT = 4 * 1024;
/**
 * Strings up to this length are copied char by char in JS; longer ones go through Buffer#write. Crossing
 * into C++ costs more than the copy for short strings, and almost every key, value and header is short.
 */
const SHORT_STRING = 48;

/**
 * Encodes replies into one contiguous buffer. `take()` returns the bytes written since the last take.
 * Strings are latin1 (one char per byte): a char code above 255 keeps its low byte, as Buffer#write does.
 */
export class ReplyBuffer {
  private buf = Buffer.allocUnsafe(INITIAL);
  private len = 0;

  get length(): number {
    return this.len;
  }

  take(): Buffer | null {
    if (this.len === 0) return null;
    let out: Buffer;
    if (this.len <= COPY_LIMIT) {
      out = Buffer.allocUnsafe(this.len);
      this.buf.copy(out, 0, 0, this.len);
    } else {
      out = this.buf.subarray(0, this.len);
      this.buf = Buffer.allocUnsafe(INITIAL);
    }
    this.len = 0;
    return out;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Copies a latin1 string; the caller has ensured room for it. */
  private chars(s: string): void {
    const n = s.length;
    if (n > SHORT_STRING) {
      this.len += this.buf.write(s, this.len, 'latin1');
      return;
    }
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.len = at;
  }

  private ascii(s: string): void {
    this.ensure(s.length);
    this.chars(s);
  }

  /** Decimal digits of an integer; the caller has ensured room (at most 20 bytes for an int64). */
  private digits(n: number): void {
    if (n < 0 || n > 0x7fffffff || !Number.isInteger(n)) {
      this.chars(String(n));
      return;
    }
    const buf = this.buf;
    if (n < 10) {
      buf[this.len++] = 48 + n;
      return;
    }
    let width = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) width++;
    let at = this.len + width;
    this.len = at;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      buf[--at] = 48 + (n - q * 10);
      n = q;
    }
    buf[--at] = 48 + n;
  }

  private crlf(): void {
    this.buf[this.len++] = 13;
    this.buf[this.len++] = 10;
  }

  /** Type byte, decimal number, CRLF: the header of every aggregate and bulk reply. */
  private header(type: number, n: number): void {
    this.ensure(32);
    this.buf[this.len++] = type;
    this.digits(n);
    this.crlf();
  }

  /** `:n\r\n`; bigints and integers beyond 2^53 are printed exactly as String() prints them. */
  integer(n: number | bigint): void {
    if (typeof n === 'bigint') {
      this.ascii(`:${n}\r\n`);
      return;
    }
    this.header(58 /* : */, n);
  }

  bulkString(s: string): void {
    const n = s.length;
    this.ensure(n + 32);
    this.buf[this.len++] = 36; /* $ */
    this.digits(n);
    this.crlf();
    this.chars(s);
    this.crlf();
  }

  bulkBuffer(b: Buffer): void {
    this.ensure(b.length + 32);
    this.buf[this.len++] = 36; /* $ */
    this.digits(b.length);
    this.crlf();
    b.copy(this.buf, this.len);
    this.len += b.length;
    this.crlf();
  }

  raw(bytes: Buffer): void {
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.len);
    this.len += bytes.length;
  }

  /** A status line (`+OK`); the text must not hold CR or LF. */
  status(text: string): void {
    this.ensure(text.length + 3);
    this.buf[this.len++] = 43; /* + */
    this.chars(text);
    this.crlf();
  }

  /** Message bytes are written as latin1 so that binary key names in errors round-trip. */
  error(message: string): void {
    this.ascii(`-${message.replace(/[\r\n]/g, ' ')}\r\n`);
  }

  write(r: Reply, resp3: boolean): void {
    if (typeof r === 'string') {
      this.bulkString(r);
      return;
    }
    if (typeof r === 'number') {
      this.header(58 /* : */, r);
      return;
    }
    if (r === null) {
      this.ascii(resp3 ? '_\r\n' : '$-1\r\n');
      return;
    }
    if (Array.isArray(r)) {
      this.header(42 /* * */, r.length);
      for (let i = 0; i < r.length; i++) this.write(r[i]!, resp3);
      return;
    }
    if (r instanceof SimpleString) {
      this.status(r.value);
      return;
    }
    if (typeof r === 'bigint') {
      this.integer(r);
      return;
    }
    if (r instanceof ErrorReply) {
      this.error(r.message);
      return;
    }
    if (r instanceof DoubleReply) {
      const text = formatDouble(r.value);
      if (resp3) this.ascii(`,${text}\r\n`);
      else this.bulkString(text);
      return;
    }
    if (r instanceof MapReply) {
      this.header(resp3 ? 37 /* % */ : 42, resp3 ? r.items.length / 2 : r.items.length);
      for (const item of r.items) this.write(item, resp3);
      return;
    }
    if (r instanceof SetReply || r instanceof PushReply) {
      this.header(resp3 ? (r instanceof SetReply ? 126 /* ~ */ : 62 /* > */) : 42, r.items.length);
      for (const item of r.items) this.write(item, resp3);
      return;
    }
    if (r instanceof VerbatimReply) {
      if (!resp3) {
        this.bulkString(r.value);
        return;
      }
      this.header(61 /* = */, r.value.length + 4);
      this.ascii(`${r.format}:${r.value}\r\n`);
      return;
    }
    if (r instanceof NullArrayReply) {
      this.ascii(resp3 ? '_\r\n' : '*-1\r\n');
      return;
    }
    if (r instanceof RawReply) {
      this.raw(r.bytes);
      return;
    }
  }
}

/** Encodes one reply on its own (embedded callers, tests). */
export function encodeReply(r: Reply, resp3 = false): Buffer {
  const out = new ReplyBuffer();
  out.write(r, resp3);
  return out.take() ?? Buffer.alloc(0);
}
