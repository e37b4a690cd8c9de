/**
 * Shared pieces of the stream commands: Redis's stream ID parsing (strict, partial and interval forms,
 * with string2ull/strtoull's quirks), the typed stream lookup, node limits from the config, and the
 * reply shape of an entry.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { E, ErrorReply, err, type Reply } from '../reply.js';
import {
  DEFAULT_NODE_LIMITS,
  decrId,
  idText,
  incrId,
  MAX_ID,
  MIN_ID,
  type NodeLimits,
  Stream,
  type StreamEntry,
  type StreamID,
  U64_MAX,
} from '../types/stream.js';
import { parseI64 } from '../util/numbers.js';
import type { Lookup } from './util.js';
export const INVALID_ID = err('ERR Invalid stream ID specified as stream command argument');
/** Without COUNT, a blocked XREAD is served at most this many entries (XREAD_BLOCKED_DEFAULT_COUNT). */
export function getStream(c: Client, key: string): Lookup<Stream> {
  const v = c.db.get(key);
  if (v === undefined || v instanceof Stream) return v;
  return E.WRONGTYPE;
}

export function nodeLimits(e: Engine): NodeLimits {
  const bytes = e.config.get('stream-node-max-bytes');
  const entries = e.config.get('stream-node-max-entries');
  return {
    maxBytes: bytes === '' ? DEFAULT_NODE_LIMITS.maxBytes : Number(bytes),
    maxEntries: entries === '' ? DEFAULT_NODE_LIMITS.maxEntries : Number(entries),
  };
}

// --- ID parsing ---------------------------------------------------------------------------------

/** C's strtoull in base 10 with Redis's checks: whole string consumed, no overflow. */
export function strtoull(s: string): bigint | null {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') neg = s[i++] === '-';
  const start = i;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === start || i !== s.length) return null;
  const v = BigInt(s.slice(start, i));
  if (v > U64_MAX) return null;
  return neg ? BigInt.asUintN(64, -v) : v;
}

/** Redis's string2ull: string2ll when it applies (negatives refused), else strtoull. */
export function string2ull(s: string): bigint | null {
  if (s === '') return null;
  if (/^-?[1-9][0-9]*$/.test(s) || s === '0') {
    const v = BigInt(s);
    if (v >= -(2n ** 63n) && v < 2n ** 63n) return v < 0n ? null : v;
  }
  return strtoull(s);
}

export interface ParsedId {
  id: StreamID;
  /** False for the `<ms>-*` form of XADD. */
  seqGiven: boolean;
}

/** streamGenericParseIDOrReply. */
export function parseIdFull(
  arg: string,
  missingSeq: bigint,
  strict: boolean,
  allowSeqStar: boolean,
): ParsedId | null {
  if (arg.length > 127) return null;
  const nul = arg.indexOf('\0');
  const buf = nul >= 0 ? arg.slice(0, nul) : arg;
  if (strict && (buf === '-' || buf === '+')) return null;
  if (buf === '-') return { id: MIN_ID, seqGiven: true };
  if (buf === '+') return { id: MAX_ID, seqGiven: true };
  const dash = buf.indexOf('-');
  const ms = string2ull(dash >= 0 ? buf.slice(0, dash) : buf);
  if (ms === null) return null;
  if (dash < 0) return { id: { ms, seq: missingSeq }, seqGiven: true };
  const rest = buf.slice(dash + 1);
  if (allowSeqStar && rest === '*') return { id: { ms, seq: 0n }, seqGiven: false };
  const seq = string2ull(rest);
  if (seq === null) return null;
  return { id: { ms, seq }, seqGiven: true };
}

export function parseId(arg: string, missingSeq = 0n): StreamID | ErrorReply {
  return parseIdFull(arg, missingSeq, false, false)?.id ?? INVALID_ID;
}

export function parseStrictId(arg: string, missingSeq = 0n): StreamID | ErrorReply {
  return parseIdFull(arg, missingSeq, true, false)?.id ?? INVALID_ID;
}

/** Range bounds: `(` makes them exclusive (streamParseIntervalIDOrReply + incr/decr). */
export function parseRangeStart(arg: string): StreamID | ErrorReply {
  if (arg.length > 1 && arg[0] === '(') {
    const id = parseStrictId(arg.slice(1), 0n);
    if (id instanceof ErrorReply) return id;
    return incrId(id) ?? err('ERR invalid start ID for the interval');
  }
  return parseId(arg, 0n);
}

export function parseRangeEnd(arg: string): StreamID | ErrorReply {
  if (arg.length > 1 && arg[0] === '(') {
    const id = parseStrictId(arg.slice(1), U64_MAX);
    if (id instanceof ErrorReply) return id;
    return decrId(id) ?? err('ERR invalid end ID for the interval');
  }
  return parseId(arg, U64_MAX);
}

export function longLong(s: string, message?: string): number | ErrorReply {
  const n = parseI64(s);
  return n === null ? (message ? err(`ERR ${message}`) : E.NOT_INT) : n;
}

// --- replies -------------------------------------------------------------------------------------

export function entryReply(e: StreamEntry): Reply {
  return [idText(e.id), e.fields as string[]];
}

export function rangeReply(s: Stream, start: StreamID, end: StreamID, count: number, rev: boolean): Reply[] {
  const out: Reply[] = [];
  for (const e of s.range(start, end, rev)) {
    out.push(entryReply(e));
    if (count && out.length === count) break;
  }
  return out;
}

export function noGroup(key: string, group: string, suffix = ''): ErrorReply {
  return err(`NOGROUP No such key '${key}' or consumer group '${group}'${suffix}`);
}

export function subcommandSyntax(c: string, parent: string): ErrorReply {
  return err(
    `ERR unknown subcommand or wrong number of arguments for '${c.slice(0, 128)}'. Try ${parent} HELP.`,
  );
}
