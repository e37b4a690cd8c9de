/**
 * Converts between the keyspace's in-memory values (latin1 strings, Denque, Map, RSet, ZSet) and the
 * neutral persistence model that the RDB and AOF codecs read and write. Streams register their own
 * converter (`registerStreamCodec`) so this module does not depend on the stream type's internals.
 */
import { Denque, type Keyspace, MutableString, RSet, typeOf, type Value, ZSet } from '../keyspace.js';
import type { StoredEntry, StoredValue, StreamValue } from './model.js';

export interface StreamCodec {
  toStored(v: Value): StreamValue;
  fromStored(v: StreamValue): Value;
}

let streamCodec: StreamCodec | null = null;

/** Installed by the stream type's module; until then a stream cannot be persisted or loaded. */
export function registerStreamCodec(codec: StreamCodec): void {
  streamCodec = codec;
}

function needStreams(): StreamCodec {
  if (!streamCodec) throw new Error('stream values cannot be persisted: no stream codec is registered');
  return streamCodec;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (b: Buffer): string => b.toString('latin1');

export function toStoredValue(v: Value): StoredValue {
  switch (typeOf(v)) {
    case 'string':
      return {
        type: 'string',
        value: v instanceof MutableString ? Buffer.from(v.bytes()) : bytes(v as string),
      };
    case 'list':
      return { type: 'list', value: (v as Denque<string>).toArray().map(bytes) };
    case 'hash': {
      const pairs: [Buffer, Buffer][] = [];
      for (const [f, x] of v as Map<string, string>) pairs.push([bytes(f), bytes(x)]);
      return { type: 'hash', value: pairs };
    }
    case 'set':
      return { type: 'set', value: (v as RSet).members().map(bytes) };
    case 'zset': {
      const pairs: [Buffer, number][] = [];
      for (let n = (v as ZSet).first(); n; n = n.level[0]!.forward) pairs.push([bytes(n.member), n.score]);
      return { type: 'zset', value: pairs };
    }
    case 'stream':
      return { type: 'stream', value: needStreams().toStored(v) };
  }
}

export function fromStoredValue(v: StoredValue): Value {
  switch (v.type) {
    case 'string':
      return text(v.value);
    case 'list':
      return new Denque(v.value.map(text));
    case 'hash':
      return new Map(v.value.map(([f, x]) => [text(f), text(x)]));
    case 'set':
      return new RSet(v.value.map(text));
    case 'zset': {
      const z = new ZSet();
      for (const [m, s] of v.value) z.add(text(m), s);
      return z;
    }
    case 'stream':
      return needStreams().fromStored(v.value);
  }
}

/**
 * Every live key of every database, converted lazily (one key at a time). The caller must not let
 * commands run while it iterates if it needs a point-in-time snapshot.
 */
export function* keyspaceEntries(ks: Keyspace): Generator<StoredEntry> {
  const now = Date.now();
  for (const db of ks.dbs) {
    for (const [key, value] of db.dict) {
      const at = db.getExpire(key) ?? null;
      if (at !== null && at <= now) continue;
      yield { db: db.id, key: bytes(key), value: toStoredValue(value), expireAtMs: at };
    }
  }
}

interface Frozen {
  readonly db: number;
  readonly key: string;
  /** Immutable JS strings are kept by reference; everything mutable is converted at freeze time. */
  readonly value: string | StoredValue;
  readonly expireAtMs: number | null;
}

/**
 * A point-in-time copy of the keyspace, taken synchronously so that later writes cannot leak into it
 * (what Redis's fork gives BGSAVE and BGREWRITEAOF). Plain string values are shared, not copied, so the
 * pause is short for the common case; encoding then proceeds lazily from the returned iterable.
 */
export function snapshotKeyspace(ks: Keyspace): Iterable<StoredEntry> & { readonly keys: number } {
  const frozen: Frozen[] = [];
  const now = Date.now();
  for (const db of ks.dbs) {
    for (const [key, value] of db.dict) {
      const at = db.getExpire(key) ?? null;
      if (at !== null && at <= now) continue;
      frozen.push({
        db: db.id,
        key,
        value: typeof value === 'string' ? value : toStoredValue(value),
        expireAtMs: at,
      });
    }
  }
  return {
    keys: frozen.length,
    *[Symbol.iterator]() {
      for (const f of frozen) {
        const value: StoredValue =
          typeof f.value === 'string' ? { type: 'string', value: bytes(f.value) } : f.value;
        yield { db: f.db, key: bytes(f.key), value, expireAtMs: f.expireAtMs };
      }
    },
  };
}

/** Loads one persisted key; keys already expired are skipped, as Redis does when loading as a master. */
export function loadEntry(ks: Keyspace, e: StoredEntry, now = Date.now()): boolean {
  if (e.expireAtMs !== null && e.expireAtMs <= now) return false;
  const db = ks.dbs[e.db];
  if (!db) throw new RangeError(`database ${e.db} is out of range (databases ${ks.dbs.length})`);
  const key = text(e.key);
  db.set(key, fromStoredValue(e.value));
  if (e.expireAtMs !== null) db.setExpire(key, e.expireAtMs);
  return true;
}
