/**
 * Encodes commands as RESP arrays of bulk strings (the AOF format) into one growing buffer, so a batch
 * of appended commands becomes a single write.
 */

export type Arg = Buffer | string | number | bigint;

export class CommandEncoder {
  private buf: Buffer;
  private len = 0;

  constructor(
    initial = 16 * 1024,
    private readonly stringEncoding: 'utf8' | 'latin1' = 'utf8',
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private room(n: number): void {
    if (this.buf.length - this.len >= n) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private header(prefix: number, n: number): void {
    this.room(24);
    this.buf[this.len++] = prefix;
    this.len += this.buf.write(String(n), this.len, 'latin1');
    this.buf[this.len++] = 13;
    this.buf[this.len++] = 10;
  }

  command(argv: readonly Arg[]): void {
    this.header(0x2a, argv.length);
    for (const a of argv) {
      if (Buffer.isBuffer(a)) {
        this.header(0x24, a.length);
        this.room(a.length + 2);
        a.copy(this.buf, this.len);
        this.len += a.length;
      } else {
        const s = typeof a === 'string' ? a : String(a);
        const n = this.stringEncoding === 'latin1' ? s.length : Buffer.byteLength(s);
        this.header(0x24, n);
        this.room(n + 2);
        this.len += this.buf.write(s, this.len, this.stringEncoding);
      }
      this.buf[this.len++] = 13;
      this.buf[this.len++] = 10;
    }
  }

  /** Returns the encoded bytes and starts over (the returned Buffer is not reused). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(16 * 1024, Math.min(this.buf.length, 1 << 20)));
    this.len = 0;
    return out;
  }
}

export function encodeCommand(argv: readonly Arg[]): Buffer {
  const enc = new CommandEncoder(64);
  enc.command(argv);
  return enc.take();
}
