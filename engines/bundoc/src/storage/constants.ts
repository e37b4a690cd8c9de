/** On-disk format version written to the meta pages; a store with a higher number is refused. */
export const FORMAT_VERSION = 1;
export const DATA_FILE = 'data.bdb';
export const WAL_DIR = 'wal';
export const LOCK_FILE = 'LOCK';

export const PAGE_SIZES = [4096, 8192, 16384] as const;
export type PageSize = (typeof PAGE_SIZES)[number];

/** Page types (byte 0 of a logical page). */
export const PAGE_META = 1;
export const PAGE_BRANCH = 2;
export const PAGE_LEAF = 3;
export const PAGE_OVERFLOW = 4;
export const PAGE_BLOB = 5;

/** Logical page header: type u8, flags u8, count u16, pgno u32, lsn u64. */
export const NODE_HEADER = 16;
/** Physical wrapper: crc32 u32 in front; with encryption also nonce(12) + tag(16). */
export const CRC_BYTES = 4;
export const CRYPTO_BYTES = 28;

export const MAX_VALUE_BYTES = 16 * 1024 * 1024;

/** Keys must leave room for three entries per node so splits always succeed. */
export function maxKeyBytes(pageSize: number): number {
  return pageSize >= 8192 ? 2048 : 1024;
}

export const META_PAGES = 2;
