import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EncryptionKeyError } from './errors.js';

/** AES-256-GCM with a fresh random nonce per write: a page is rewritten many times under one key. */
export class Cipher {
  readonly #key: Buffer;
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new EncryptionKeyError('encryptionKey must be a Uint8Array of exactly 32 bytes');
    }
    this.#key = Buffer.from(key);
  }

  /** Writes nonce(12) + tag(16) + ciphertext into `out` (length plain.length + 28). */
  sealInto(plain: Uint8Array, aad: Uint8Array, out: Uint8Array): void {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, nonce);
    c.setAAD(aad);
    const ct = c.update(plain);
    c.final();
    out.set(nonce, 0);
    out.set(c.getAuthTag(), 12);
    out.set(ct, 28);
  }

  /** Returns the plaintext, or undefined when the tag does not verify (wrong key, moved or altered bytes). */
  open(sealed: Uint8Array, aad: Uint8Array): Buffer | undefined {
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, 12));
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(12, 28));
      const pt = d.update(sealed.subarray(28));
      d.final();
      return pt;
    } catch {
      return undefined;
    }
  }
}

export function pageAad(pgno: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x50; // 'P'
  b.writeUInt32LE(pgno, 1);
  return b;
}

export function walAad(lsn: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x57; // 'W'
  b.writeDoubleLE(lsn, 1);
  return b;
}
