/**
 * A string value being edited in place (SETBIT, SETRANGE, BITFIELD, APPEND after those): a Buffer with
 * spare capacity, so repeated edits are O(1) amortised instead of copying an immutable JS string.
 */
export class MutableString {
  buf: Buffer;
  len: number;

  constructor(initial: string | Buffer, capacity = 0) {
    const bytes = typeof initial === 'string' ? Buffer.from(initial, 'latin1') : initial;
    this.buf = Buffer.alloc(Math.max(capacity, bytes.length));
    bytes.copy(this.buf);
    this.len = bytes.length;
  }

  /** Grows to at least `n` bytes, zero-filling (SETBIT/SETRANGE pad with zero bytes). */
  grow(n: number): void {
    if (n <= this.len) return;
    if (n > this.buf.length) {
      const next = Buffer.alloc(Math.max(n, Math.min(this.buf.length * 2, n + 1024 * 1024)));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    } else {
      this.buf.fill(0, this.len, n);
    }
    this.len = n;
  }

  append(s: string): void {
    const start = this.len;
    this.grow(this.len + s.length);
    this.buf.write(s, start, 'latin1');
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  toString(): string {
    return this.buf.toString('latin1', 0, this.len);
  }
}
