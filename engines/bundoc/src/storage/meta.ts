import { crc32 } from './checksum.js';
import { FORMAT_VERSION } from './constants.js';

export const MAGIC = Buffer.from('BUNDOCDB', 'latin1');
export const META_BYTES = 128;

/** Root record of a checkpoint; two copies (pages 0 and 1) alternate so a torn write leaves the other. */
export interface Meta {
  version: number;
  pageSize: number;
  encrypted: boolean;
  /** Checkpoint number; the valid meta with the highest epoch wins. */
  epoch: number;
  /** Every commit with LSN <= this is contained in the checkpointed pages. */
  checkpointLsn: number;
  pageCount: number;
  blobHead: number;
  blobLength: number;
  /** Next WAL segment number to create, so segment numbers never repeat. */
  nextSegment: number;
  /** AES-GCM sealed constant proving the key (44 bytes, zero when unencrypted). */
  keyCheck: Buffer;
}

/** Layout (little endian): see FORMAT.md "Meta pages". */
export function encodeMeta(m: Meta, pageSize: number): Buffer {
  const b = Buffer.alloc(pageSize);
  MAGIC.copy(b, 4);
  b.writeUInt32LE(m.version, 12);
  b.writeUInt32LE(m.pageSize, 16);
  b.writeUInt32LE(m.encrypted ? 1 : 0, 20);
  b.writeDoubleLE(m.epoch, 24);
  b.writeDoubleLE(m.checkpointLsn, 32);
  b.writeUInt32LE(m.pageCount, 40);
  b.writeUInt32LE(m.blobHead, 44);
  b.writeUInt32LE(m.blobLength, 48);
  b.writeDoubleLE(m.nextSegment, 52);
  m.keyCheck.copy(b, 60, 0, 44);
  b.writeInt32LE(crc32(b.subarray(4, META_BYTES)), 0);
  return b;
}

export type MetaRead =
  | { kind: 'ok'; meta: Meta }
  | { kind: 'not-bundoc' }
  | { kind: 'newer'; version: number }
  | { kind: 'corrupt'; reason: string };

export function decodeMeta(b: Buffer): MetaRead {
  if (b.length < META_BYTES) return { kind: 'corrupt', reason: 'short meta page' };
  if (!b.subarray(4, 12).equals(MAGIC)) return { kind: 'not-bundoc' };
  if (b.readInt32LE(0) !== crc32(b.subarray(4, META_BYTES))) {
    return { kind: 'corrupt', reason: 'meta checksum mismatch' };
  }
  const version = b.readUInt32LE(12);
  if (version > FORMAT_VERSION) return { kind: 'newer', version };
  return {
    kind: 'ok',
    meta: {
      version,
      pageSize: b.readUInt32LE(16),
      encrypted: b.readUInt32LE(20) === 1,
      epoch: b.readDoubleLE(24),
      checkpointLsn: b.readDoubleLE(32),
      pageCount: b.readUInt32LE(40),
      blobHead: b.readUInt32LE(44),
      blobLength: b.readUInt32LE(48),
      nextSegment: b.readDoubleLE(52),
      keyCheck: Buffer.from(b.subarray(60, 104)),
    },
  };
}
