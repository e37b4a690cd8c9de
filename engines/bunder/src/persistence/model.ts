/**
 * The neutral value model shared by the keyspace and the persistence codecs (RDB, AOF rewrite).
 * The keyspace converts its in-memory structures to and from these; the codecs never see keyspace
 * internals, so either side can change representation without touching the other.
 */

export interface StreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

export interface StreamEntry {
  readonly id: StreamId;
  /** field, value, field, value, … in insertion order */
  readonly fields: readonly Buffer[];
}

export interface StreamPendingEntry {
  readonly id: StreamId;
  readonly consumer: Buffer;
  readonly deliveryTimeMs: number;
  readonly deliveryCount: number;
}

export interface StreamConsumer {
  readonly name: Buffer;
  readonly seenTimeMs: number;
  /** Redis 7.2+ RDB also stores active time; earlier formats do not (then equal to seenTimeMs). */
  readonly activeTimeMs?: number;
}

export interface StreamGroup {
  readonly name: Buffer;
  readonly lastId: StreamId;
  readonly entriesRead: number | null;
  readonly pending: readonly StreamPendingEntry[];
  readonly consumers: readonly StreamConsumer[];
}

export interface StreamValue {
  readonly entries: readonly StreamEntry[];
  readonly lastId: StreamId;
  readonly firstId: StreamId;
  readonly maxDeletedId: StreamId;
  readonly entriesAdded: number;
  readonly groups: readonly StreamGroup[];
}

export type StoredValue =
  | { readonly type: 'string'; readonly value: Buffer }
  | { readonly type: 'list'; readonly value: readonly Buffer[] }
  | { readonly type: 'set'; readonly value: readonly Buffer[] }
  | { readonly type: 'zset'; readonly value: ReadonlyArray<readonly [member: Buffer, score: number]> }
  | { readonly type: 'hash'; readonly value: ReadonlyArray<readonly [field: Buffer, value: Buffer]> }
  | { readonly type: 'stream'; readonly value: StreamValue };

/** One key as persisted: which database it lives in, its value, and its absolute expiry (ms since epoch). */
export interface StoredEntry {
  readonly db: number;
  readonly key: Buffer;
  readonly value: StoredValue;
  readonly expireAtMs: number | null;
}
