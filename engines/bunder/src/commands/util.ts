/** Helpers shared by command implementations: typed lookups, argument parsing, range clamping. */
import type { Client } from '../client.js';
import {
  Denque,
  type HashValue,
  type ListValue,
  MutableString,
  RSet,
  type Value,
  ZSet,
} from '../keyspace.js';
import { E, type ErrorReply } from '../reply.js';
import { Stream } from '../types/stream.js';
import { parseDouble, parseI64 } from '../util/numbers.js';

export type Lookup<T> = T | undefined | ErrorReply;

export function isErr(v: unknown): v is ErrorReply {
  return v === E.WRONGTYPE;
}

/** The string value of a key (latin1), undefined when missing, WRONGTYPE otherwise. */
export function getString(c: Client, key: string): Lookup<string> {
  const v = c.db.get(key);
  if (v === undefined || typeof v === 'string') return v;
  if (v instanceof MutableString) return v.toString();
  return E.WRONGTYPE;
}

export function getList(c: Client, key: string): Lookup<ListValue> {
  const v = c.db.get(key);
  if (v === undefined || v instanceof Denque) return v;
  return E.WRONGTYPE;
}

export function getHash(c: Client, key: string): Lookup<HashValue> {
  const v = c.db.get(key);
  if (v === undefined || v instanceof Map) return v;
  return E.WRONGTYPE;
}

export function getSet(c: Client, key: string): Lookup<RSet> {
  const v = c.db.get(key);
  if (v === undefined || v instanceof RSet) return v;
  return E.WRONGTYPE;
}

export function getZSet(c: Client, key: string): Lookup<ZSet> {
  const v = c.db.get(key);
  if (v === undefined || v instanceof ZSet) return v;
  return E.WRONGTYPE;
}

export function stringOf(v: Value): string {
  return typeof v === 'string' ? v : (v as MutableString).toString();
}

/** Integer argument or the generic "not an integer" error. */
export function intArg(s: string): number | ErrorReply {
  const n = parseI64(s);
  return n === null ? E.NOT_INT : n;
}

export function floatArg(s: string): number | ErrorReply {
  const n = parseDouble(s);
  return n === null ? E.NOT_FLOAT : n;
}

/** Redis's LRANGE/GETRANGE/ZRANGE index normalisation; returns null for an empty range. */
export function clampRange(start: number, end: number, len: number): [number, number] | null {
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (start > end || start >= len) return null;
  if (end >= len) end = len - 1;
  return [start, end];
}

export function eq(a: string, lower: string): boolean {
  return a.length === lower.length && a.toLowerCase() === lower;
}

/** Deep copy of a value (COPY, SORT STORE into another key, …). */
export function cloneValue(v: Value): Value {
  if (typeof v === 'string') return v;
  if (v instanceof MutableString) return v.toString();
  if (v instanceof Denque) return new Denque(v.toArray());
  if (v instanceof Map) return new Map(v);
  if (v instanceof RSet) return new RSet(v.members());
  if (v instanceof ZSet) {
    const z = new ZSet();
    for (const [m, s] of v.entries()) z.add(m, s);
    return z;
  }
  if (v instanceof Stream) return v.clone();
  return v;
}
