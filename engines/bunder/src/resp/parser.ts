/**
 * Incremental RESP request parser: multibulk (`*N\r\n$len\r\n…`) and inline (`PING\r\n`) commands,
 * any number per read (pipelining), split anywhere across reads. Arguments come out as latin1 strings
 * (one char per byte: binary safe). Limits and error texts follow Redis 7's networking.c.
 */

export interface ParserLimits {
  /** proto-max-bulk-len: the longest bulk string accepted (bytes). */
  readonly maxBulkLen: number;
  /** client-query-buffer-limit: the most bytes buffered for one unfinished command. */
  readonly maxQueryBuffer: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxBulkLen: 512 * 1024 * 1024,
  maxQueryBuffer: 1024 * 1024 * 1024,
};

/** Lines (inline commands, length headers) longer than this without a newline are refused. */
const INLINE_MAX = 64 * 1024;
/** Redis rejects multibulk counts above INT_MAX. */
const MAX_MULTIBULK = 2147483647;
/** V8 cannot make strings longer than this; a bigger bulk is refused like an invalid length. */
const MAX_STRING = 0x1fffffe8;

const EMPTY = Buffer.alloc(0);
/** Arguments up to this many bytes are decoded in JS: cheaper than a call into Buffer#toString. */
const SHORT_ARG = 6;

export class ProtocolError extends Error {
  constructor(readonly reply: string) {
    super(reply);
    this.name = 'ProtocolError';
  }
}

export class RespParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Arguments still to read for the multibulk in progress (0: between commands). */
  private remaining = 0;
  private args: string[] = [];
  /** Length of the bulk whose body we are waiting for, or -1 when its header is next. */
  private bulkLen = -1;
  /** Chunks held back while a large bulk body is still arriving, to avoid re-concatenating. */
  private held: Buffer[] = [];
  private heldLen = 0;
  private readonly limits: ParserLimits;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes received but not yet consumed (the query buffer). */
  get buffered(): number {
    return this.buf.length - this.pos + this.heldLen;
  }

  /**
   * Consumes a chunk and appends every complete command to `out`. Throws ProtocolError for a malformed
   * request; commands completed before the error are already in `out`. A `transient` chunk is a read
   * buffer that will be overwritten after this call: bytes kept for later are copied out of it.
   */
  feed(chunk: Buffer, out: string[][], transient = false): void {
    if (this.bulkLen >= 0) {
      const need = this.bulkLen + 2 - (this.buf.length - this.pos) - this.heldLen;
      if (need > chunk.length) {
        this.held.push(transient ? Buffer.from(chunk) : chunk);
        this.heldLen += chunk.length;
        this.checkQueryLimit();
        return;
      }
    }
    if (this.pos >= this.buf.length && this.held.length === 0) {
      this.buf = chunk;
    } else {
      const parts = [this.buf.subarray(this.pos), ...this.held, chunk];
      this.buf = Buffer.concat(parts);
      this.held = [];
      this.heldLen = 0;
    }
    this.pos = 0;
    this.parse(out);
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    } else {
      if (transient && this.buf === chunk) {
        this.buf = Buffer.from(chunk.subarray(this.pos));
        this.pos = 0;
      }
      this.checkQueryLimit();
    }
  }

  private checkQueryLimit(): void {
    if (this.buffered > this.limits.maxQueryBuffer) {
      throw new ProtocolError('ERR Protocol error: query buffer limit exceeded');
    }
  }

  private parse(out: string[][]): void {
    const buf = this.buf;
    while (this.pos < buf.length) {
      if (this.remaining === 0) {
        if (buf[this.pos] === 42 /* '*' */) {
          const n = this.readLength('multibulk count');
          if (n === null) return;
          if (n > MAX_MULTIBULK) throw new ProtocolError('ERR Protocol error: invalid multibulk length');
          if (n <= 0) continue;
          this.remaining = n;
          this.args = [];
        } else {
          if (!this.parseInline(out)) return;
          continue;
        }
      }
      while (this.remaining > 0) {
        if (this.bulkLen < 0) {
          if (this.pos >= buf.length) return;
          const c = buf[this.pos]!;
          if (c !== 36 /* '$' */) {
            throw new ProtocolError(`ERR Protocol error: expected '$', got '${String.fromCharCode(c)}'`);
          }
          const n = this.readLength('bulk count');
          if (n === null) return;
          if (n < 0 || n > this.limits.maxBulkLen || n > MAX_STRING) {
            throw new ProtocolError('ERR Protocol error: invalid bulk length');
          }
          this.bulkLen = n;
        }
        if (buf.length - this.pos < this.bulkLen + 2) return;
        const end = this.pos + this.bulkLen;
        this.args.push(
          this.bulkLen <= SHORT_ARG ? shortLatin1(buf, this.pos, end) : buf.toString('latin1', this.pos, end),
        );
        this.pos = end + 2;
        this.bulkLen = -1;
        this.remaining--;
      }
      out.push(this.args);
      this.args = [];
    }
  }

  /** Reads `<type><integer>\r\n` at pos; null when the line is incomplete. */
  private readLength(what: string): number | null {
    const buf = this.buf;
    // Headers are a few bytes long: scanning in JS beats a call into Buffer#indexOf.
    const len = buf.length;
    let nl = this.pos;
    while (nl < len && buf[nl] !== 13) nl++;
    if (nl >= len - 1) {
      if (buf.length - this.pos > INLINE_MAX) {
        throw new ProtocolError(
          what === 'bulk count'
            ? 'ERR Protocol error: too big bulk count string'
            : 'ERR Protocol error: too big mbulk count string',
        );
      }
      return null;
    }
    const n = parseStrictInt(buf, this.pos + 1, nl);
    if (n === null) {
      throw new ProtocolError(
        what === 'bulk count'
          ? 'ERR Protocol error: invalid bulk length'
          : 'ERR Protocol error: invalid multibulk length',
      );
    }
    this.pos = nl + 2;
    return n;
  }

  /** Parses one inline command line; false when the line is not complete yet. */
  private parseInline(out: string[][]): boolean {
    const buf = this.buf;
    const nl = buf.indexOf(10, this.pos);
    if (nl < 0) {
      if (buf.length - this.pos > INLINE_MAX)
        throw new ProtocolError('ERR Protocol error: too big inline request');
      return false;
    }
    let end = nl;
    if (end > this.pos && buf[end - 1] === 13) end--;
    const line = buf.toString('latin1', this.pos, end);
    this.pos = nl + 1;
    const args = splitArgs(line);
    if (args === null) throw new ProtocolError('ERR Protocol error: unbalanced quotes in request');
    if (args.length > 0) out.push(args);
    return true;
  }
}

/** Decodes a few bytes as latin1 in JS (one char per byte). */
function shortLatin1(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/** string2ll over bytes: optional '-', no leading zeros, no '+', fits in int64 (as a JS number). */
function parseStrictInt(buf: Buffer, start: number, end: number): number | null {
  if (start >= end || end - start > 20) return null;
  let i = start;
  let neg = false;
  if (buf[i] === 45) {
    neg = true;
    i++;
    if (i === end) return null;
  }
  if (buf[i] === 48) return i + 1 === end && !neg ? 0 : null;
  let v = 0;
  for (; i < end; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) return null;
    v = v * 10 + c;
  }
  if (v >= 2 ** 63 && !(neg && v === 2 ** 63)) return null;
  return neg ? -v : v;
}

function isHex(c: string): boolean {
  return /^[0-9a-fA-F]$/.test(c);
}

/** sdssplitargs: whitespace-separated words, "double quotes" with escapes, 'single quotes'. */
export function splitArgs(line: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: string | undefined) =>
    c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\v' || c === '\f';
  for (;;) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return args;
    let cur = '';
    let inq = false;
    let insq = false;
    let done = false;
    while (!done) {
      const c = line[i];
      if (inq) {
        if (c === undefined) return null;
        if (c === '\\' && line[i + 1] === 'x' && isHex(line[i + 2] ?? '') && isHex(line[i + 3] ?? '')) {
          cur += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < n) {
          i++;
          const e = line[i];
          cur +=
            e === 'n'
              ? '\n'
              : e === 'r'
                ? '\r'
                : e === 't'
                  ? '\t'
                  : e === 'b'
                    ? '\b'
                    : e === 'a'
                      ? '\x07'
                      : e;
        } else if (c === '"') {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          done = true;
        } else {
          cur += c;
        }
      } else if (insq) {
        if (c === undefined) return null;
        if (c === '\\' && line[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (c === "'") {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          done = true;
        } else {
          cur += c;
        }
      } else if (c === undefined || isSpace(c)) {
        done = true;
      } else if (c === '"') {
        inq = true;
      } else if (c === "'") {
        insq = true;
      } else {
        cur += c;
      }
      if (i < n) i++;
    }
    args.push(cur);
  }
}
