/** Constants of the RDB file format (Redis's rdb.h), shared by the reader and the writer. */

export const RDB_MAGIC = 'REDIS';
/** The version Redis 7.0 writes and the highest it loads; 7.2 writes 11. */
export const RDB_VERSION_WRITTEN = 10;
export const RDB_VERSION_MAX_READ = 11;

export const OP = {
  FUNCTION2: 0xf5,
  FUNCTION_PRE_GA: 0xf6,
  MODULE_AUX: 0xf7,
  IDLE: 0xf8,
  FREQ: 0xf9,
  AUX: 0xfa,
  RESIZEDB: 0xfb,
  EXPIRETIME_MS: 0xfc,
  EXPIRETIME: 0xfd,
  SELECTDB: 0xfe,
  EOF: 0xff,
} as const;

export const TYPE = {
  STRING: 0,
  LIST: 1,
  SET: 2,
  ZSET: 3,
  HASH: 4,
  ZSET_2: 5,
  MODULE_PRE_GA: 6,
  MODULE_2: 7,
  HASH_ZIPMAP: 9,
  LIST_ZIPLIST: 10,
  SET_INTSET: 11,
  ZSET_ZIPLIST: 12,
  HASH_ZIPLIST: 13,
  LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16,
  ZSET_LISTPACK: 17,
  LIST_QUICKLIST_2: 18,
  STREAM_LISTPACKS_2: 19,
  SET_LISTPACK: 20,
  STREAM_LISTPACKS_3: 21,
} as const;

/** Length prefixes: 00 6-bit, 01 14-bit, 10 32/64-bit big-endian, 11 special string encoding. */
export const LEN_6BIT = 0;
export const LEN_14BIT = 1;
export const LEN_32BIT = 0x80;
export const LEN_64BIT = 0x81;
export const ENC_INT8 = 0;
export const ENC_INT16 = 1;
export const ENC_INT32 = 2;
export const ENC_LZF = 3;

/** Quicklist 2 node containers. */
export const QUICKLIST_NODE_PLAIN = 1;
export const QUICKLIST_NODE_PACKED = 2;

/** Stream listpack entry flags. */
export const STREAM_ITEM_DELETED = 1;
export const STREAM_ITEM_SAMEFIELDS = 2;

/** Redis's default thresholds for the compact encodings (redis.conf defaults in 7.0). */
export const LIMITS = {
  hashMaxListpackEntries: 128,
  hashMaxListpackValue: 64,
  zsetMaxListpackEntries: 128,
  zsetMaxListpackValue: 64,
  setMaxIntsetEntries: 512,
  listMaxListpackSizeBytes: 8192,
  streamNodeMaxBytes: 4096,
  streamNodeMaxEntries: 100,
} as const;

/** Parses a score the way Redis's strtod-based readers do ("inf", "-inf", "1.5e10"). */
export function parseRedisDouble(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  if (t === 'nan' || t === '-nan') return Number.NaN;
  return t === '' ? Number.NaN : Number(t);
}

/** Formats a score so that strtod gives back the same double (Redis spells infinities "inf"). */
export function formatRedisDouble(v: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0';
  return String(v);
}
