import { crc32 } from './checksum.js';
import { CRC_BYTES, CRYPTO_BYTES } from './constants.js';
import { type Cipher, pageAad } from './crypto.js';

/** Outcome of unsealing a physical page: the logical bytes or why they cannot be trusted. */
export type Unsealed = { ok: true; logical: Buffer } | { ok: false; reason: string };

/**
 * Turns logical page bytes into the physical page written to disk and back.
 * Physical page: crc32(u32 LE, over bytes 4..end) then either the logical bytes, or
 * nonce(12) + tag(16) + AES-256-GCM ciphertext of the logical bytes with the page number as AAD.
 */
export class PageSealer {
  readonly pageSize: number;
  readonly logicalSize: number;
  readonly #cipher: Cipher | undefined;
  readonly #scratch: Buffer;

  constructor(pageSize: number, cipher: Cipher | undefined) {
    this.pageSize = pageSize;
    this.#cipher = cipher;
    this.logicalSize = pageSize - CRC_BYTES - (cipher ? CRYPTO_BYTES : 0);
    this.#scratch = Buffer.alloc(pageSize);
  }

  /**
   * The physical page of `logical` (logicalSize bytes), in a buffer the next call reuses: write it
   * before sealing another page. (Pages are written synchronously; a fresh 4 KiB buffer per page was a
   * large share of a checkpoint's garbage.)
   */
  seal(pgno: number, logical: Uint8Array): Buffer {
    if (logical.length !== this.logicalSize) {
      throw new Error(`internal: logical page of ${logical.length} bytes, expected ${this.logicalSize}`);
    }
    const out = this.#scratch;
    if (this.#cipher) this.#cipher.sealInto(logical, pageAad(pgno), out.subarray(CRC_BYTES));
    else out.set(logical, CRC_BYTES);
    out.writeInt32LE(crc32(out.subarray(CRC_BYTES)), 0);
    return out;
  }

  unseal(pgno: number, physical: Buffer): Unsealed {
    if (physical.length !== this.pageSize) return { ok: false, reason: 'short read (file truncated?)' };
    if (physical.readInt32LE(0) !== crc32(physical.subarray(CRC_BYTES))) {
      return { ok: false, reason: 'checksum mismatch' };
    }
    if (!this.#cipher) return { ok: true, logical: physical.subarray(CRC_BYTES) };
    const plain = this.#cipher.open(physical.subarray(CRC_BYTES), pageAad(pgno));
    if (!plain) return { ok: false, reason: 'authentication failed (page altered or moved)' };
    return { ok: true, logical: plain };
  }
}
