/**
 * Sequential reader over a Buffer or a file read in chunks, with a running CRC-64 of everything
 * consumed. Offsets are absolute positions in the input, for error messages.
 */

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Crc64 } from './crc64.js';

const CHUNK = 1 << 20;

export class TruncatedInput extends Error {
  readonly offset: number;
  constructor(offset: number) {
    super('unexpected end of input');
    this.offset = offset;
  }
}

export class ByteInput {
  private buf: Buffer;
  private p = 0;
  /** Absolute offset of buf[0]. */
  private base = 0;
  /** buf[crcFrom..p) has been consumed but not yet fed to the CRC. */
  private crcFrom = 0;
  private readonly crc = new Crc64();
  private fd: number | null;
  private fileEof = false;
  /** Total size of the input, so corrupt lengths are caught before anything is allocated for them. */
  private readonly size: number;

  private constructor(buf: Buffer, fd: number | null) {
    this.buf = buf;
    this.fd = fd;
    this.size = fd === null ? buf.length : fstatSync(fd).size;
  }

  static fromBuffer(buf: Buffer, start = 0): ByteInput {
    const input = new ByteInput(buf, null);
    input.p = start;
    input.crcFrom = start;
    return input;
  }

  static fromFile(path: string): ByteInput {
    return new ByteInput(Buffer.alloc(0), openSync(path, 'r'));
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  get offset(): number {
    return this.base + this.p;
  }

  /** Bytes left in the input (as sized when opened). */
  get remaining(): number {
    return this.size - this.offset;
  }

  /** Makes at least n bytes available at the cursor or throws TruncatedInput. */
  ensure(n: number): void {
    if (this.buf.length - this.p >= n) return;
    if (this.fd === null || this.fileEof || n > this.remaining) {
      throw new TruncatedInput(Math.min(this.size, this.base + this.buf.length));
    }
    this.crc.update(this.buf, this.crcFrom, this.p);
    const rest = this.buf.length - this.p;
    const next = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.buf.copy(next, 0, this.p);
    let have = rest;
    while (have < next.length) {
      const got = readSync(this.fd, next, have, next.length - have, null);
      if (got === 0) {
        this.fileEof = true;
        break;
      }
      have += got;
    }
    this.base += this.p;
    this.buf = have === next.length ? next : next.subarray(0, have);
    this.p = 0;
    this.crcFrom = 0;
    if (have < n) throw new TruncatedInput(this.base + have);
  }

  u8(): number {
    if (this.p >= this.buf.length) this.ensure(1);
    return this.buf[this.p++]!;
  }

  /** A copy of the next n bytes (the chunk buffer is reused, so callers never alias it). */
  bytes(n: number): Buffer {
    this.ensure(n);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.p, this.p + n);
    this.p += n;
    return out;
  }

  /**
   * A view of the next n bytes. Chunks are never reused (each refill allocates a new one), so it stays
   * valid, pinning its chunk while it lives.
   */
  view(n: number): Buffer {
    this.ensure(n);
    const v = this.buf.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }

  /** Moves past n bytes without keeping them. */
  skip(n: number): void {
    while (n > 0) {
      const step = Math.min(n, CHUNK);
      this.ensure(step);
      this.p += step;
      n -= step;
    }
  }

  u32be(): number {
    this.ensure(4);
    const v = this.buf.readUInt32BE(this.p);
    this.p += 4;
    return v;
  }

  u32le(): number {
    this.ensure(4);
    const v = this.buf.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }

  u64be(): bigint {
    this.ensure(8);
    const v = this.buf.readBigUInt64BE(this.p);
    this.p += 8;
    return v;
  }

  u64le(): bigint {
    this.ensure(8);
    const v = this.buf.readBigUInt64LE(this.p);
    this.p += 8;
    return v;
  }

  i64le(): bigint {
    this.ensure(8);
    const v = this.buf.readBigInt64LE(this.p);
    this.p += 8;
    return v;
  }

  doubleLe(): number {
    this.ensure(8);
    const v = this.buf.readDoubleLE(this.p);
    this.p += 8;
    return v;
  }

  /** CRC-64 of every byte consumed so far. */
  checksumSoFar(): bigint {
    this.crc.update(this.buf, this.crcFrom, this.p);
    this.crcFrom = this.p;
    return this.crc.digest();
  }
}
