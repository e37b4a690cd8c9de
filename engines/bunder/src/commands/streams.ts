/**
 * Stream commands, following Redis 7.0's t_stream.c: argument order, error wording, reply shapes,
 * consumer groups with pending entries lists, blocking XREAD/XREADGROUP, and AOF propagation of the
 * effects (XREADGROUP and XCLAIM are written as XCLAIM … FORCE JUSTID and XGROUP SETID, as Redis does).
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
// Registers the stream converter used by RDB, AOF rewrite and DUMP/RESTORE.
import '../persistence/stream-codec.js';
import { E, ErrorReply, err, MapReply, NULL_ARRAY, OK, type Reply, SimpleString } from '../reply.js';
import {
  type Consumer,
  ConsumerGroup,
  cmpId,
  DEFAULT_NODE_LIMITS,
  decrId,
  INVALID_ENTRIES_READ,
  idText,
  incrId,
  isZeroId,
  MAX_ID,
  MIN_ID,
  type Nack,
  type NodeLimits,
  Stream,
  type StreamEntry,
  type StreamID,
  type TrimArgs,
  U64_MAX,
} from '../types/stream.js';
import { parseI64 } from '../util/numbers.js';
import { type BLOCKED, type Def, defineAll } from './table.js';
import { eq, type Lookup } from './util.js';

const INVALID_ID = err('ERR Invalid stream ID specified as stream command argument');
/** Without COUNT, a blocked XREAD is served at most this many entries (XREAD_BLOCKED_DEFAULT_COUNT). */
const BLOCKED_DEFAULT_COUNT = 1000;

export function getStream(c: Client, key: string): Lookup<Stream> {
  const v = c.db.get(key);
  if (v === undefined || v instanceof Stream) return v;
  return E.WRONGTYPE;
}

function nodeLimits(e: Engine): NodeLimits {
  const bytes = e.config.get('stream-node-max-bytes');
  const entries = e.config.get('stream-node-max-entries');
  return {
    maxBytes: bytes === '' ? DEFAULT_NODE_LIMITS.maxBytes : Number(bytes),
    maxEntries: entries === '' ? DEFAULT_NODE_LIMITS.maxEntries : Number(entries),
  };
}

// --- ID parsing ---------------------------------------------------------------------------------

/** C's strtoull in base 10 with Redis's checks: whole string consumed, no overflow. */
function strtoull(s: string): bigint | null {
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
function string2ull(s: string): bigint | null {
  if (s === '') return null;
  if (/^-?[1-9][0-9]*$/.test(s) || s === '0') {
    const v = BigInt(s);
    if (v >= -(2n ** 63n) && v < 2n ** 63n) return v < 0n ? null : v;
  }
  return strtoull(s);
}

interface ParsedId {
  id: StreamID;
  /** False for the `<ms>-*` form of XADD. */
  seqGiven: boolean;
}

/** streamGenericParseIDOrReply. */
function parseIdFull(
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

function parseId(arg: string, missingSeq = 0n): StreamID | ErrorReply {
  return parseIdFull(arg, missingSeq, false, false)?.id ?? INVALID_ID;
}

function parseStrictId(arg: string, missingSeq = 0n): StreamID | ErrorReply {
  return parseIdFull(arg, missingSeq, true, false)?.id ?? INVALID_ID;
}

/** Range bounds: `(` makes them exclusive (streamParseIntervalIDOrReply + incr/decr). */
function parseRangeStart(arg: string): StreamID | ErrorReply {
  if (arg.length > 1 && arg[0] === '(') {
    const id = parseStrictId(arg.slice(1), 0n);
    if (id instanceof ErrorReply) return id;
    return incrId(id) ?? err('ERR invalid start ID for the interval');
  }
  return parseId(arg, 0n);
}

function parseRangeEnd(arg: string): StreamID | ErrorReply {
  if (arg.length > 1 && arg[0] === '(') {
    const id = parseStrictId(arg.slice(1), U64_MAX);
    if (id instanceof ErrorReply) return id;
    return decrId(id) ?? err('ERR invalid end ID for the interval');
  }
  return parseId(arg, U64_MAX);
}

function longLong(s: string, message?: string): number | ErrorReply {
  const n = parseI64(s);
  return n === null ? (message ? err(`ERR ${message}`) : E.NOT_INT) : n;
}

// --- replies -------------------------------------------------------------------------------------

function entryReply(e: StreamEntry): Reply {
  return [idText(e.id), e.fields as string[]];
}

function rangeReply(s: Stream, start: StreamID, end: StreamID, count: number, rev: boolean): Reply[] {
  const out: Reply[] = [];
  for (const e of s.range(start, end, rev)) {
    out.push(entryReply(e));
    if (count && out.length === count) break;
  }
  return out;
}

function noGroup(key: string, group: string, suffix = ''): ErrorReply {
  return err(`NOGROUP No such key '${key}' or consumer group '${group}'${suffix}`);
}

function subcommandSyntax(c: string, parent: string): ErrorReply {
  return err(
    `ERR unknown subcommand or wrong number of arguments for '${c.slice(0, 128)}'. Try ${parent} HELP.`,
  );
}

// --- XADD / XTRIM argument parsing ---------------------------------------------------------------------

interface AddTrimArgs {
  trim: TrimArgs | null;
  /** Index of the MAXLEN/MINID value. */
  trimArgIdx: number;
  noMkStream: boolean;
  id: ParsedId | null;
  /** XADD: index of the ID argument. */
  idPos: number;
}

/** streamParseAddOrTrimArgsOrReply. */
function parseAddOrTrim(argv: string[], xadd: boolean, e: Engine): AddTrimArgs | ErrorReply {
  let strategy: 'maxlen' | 'minid' | null = null;
  let approx = false;
  let maxlen = 0;
  let minid: StreamID = MIN_ID;
  let limit = 0;
  let limitGiven = false;
  let noMkStream = false;
  let id: ParsedId | null = null;
  let trimArgIdx = 0;
  let i = 2;
  for (; i < argv.length; i++) {
    const moreargs = argv.length - 1 - i;
    const opt = argv[i]!;
    if (xadd && opt === '*') break;
    if ((eq(opt, 'maxlen') || eq(opt, 'minid')) && moreargs) {
      if (strategy !== null) {
        return err('ERR syntax error, MAXLEN and MINID options at the same time are not compatible');
      }
      approx = false;
      const next = argv[i + 1]!;
      if (moreargs >= 2 && next === '~') {
        approx = true;
        i++;
      } else if (moreargs >= 2 && next === '=') i++;
      if (eq(opt, 'maxlen')) {
        const n = parseI64(argv[i + 1]!);
        if (n === null) return E.NOT_INT;
        if (n < 0) return err('ERR The MAXLEN argument must be >= 0.');
        maxlen = n;
        strategy = 'maxlen';
      } else {
        const m = parseStrictId(argv[i + 1]!);
        if (m instanceof ErrorReply) return m;
        minid = m;
        strategy = 'minid';
      }
      i++;
      trimArgIdx = i;
    } else if (eq(opt, 'limit') && moreargs) {
      const n = parseI64(argv[i + 1]!);
      if (n === null) return E.NOT_INT;
      if (n < 0) return err('ERR The LIMIT argument must be >= 0.');
      limit = n;
      limitGiven = true;
      i++;
    } else if (xadd && eq(opt, 'nomkstream')) {
      noMkStream = true;
    } else if (xadd) {
      const p = parseIdFull(opt, 0n, true, true);
      if (!p) return INVALID_ID;
      id = p;
      break;
    } else {
      return E.SYNTAX;
    }
  }
  if (limit && strategy === null) {
    return err('ERR syntax error, LIMIT cannot be used without specifying a trimming strategy');
  }
  if (!xadd && strategy === null)
    return err('ERR syntax error, XTRIM must be called with a trimming strategy');
  if (limitGiven) {
    if (!approx) return err('ERR syntax error, LIMIT cannot be used without the special ~ option');
  } else if (approx) {
    limit = 100 * nodeLimits(e).maxEntries;
    if (limit <= 0 || limit > 10000) limit = 10000;
  } else limit = 0;
  return {
    trim: strategy === null ? null : { strategy, maxlen, minid, approx, limit },
    trimArgIdx,
    noMkStream,
    id,
    idPos: i,
  };
}

/** The exact trim arguments an AOF needs to repeat an approximate trim (streamRewriteTrimArgument). */
function exactTrimArgs(s: Stream, t: TrimArgs): string[] {
  if (t.strategy === 'maxlen') return ['MAXLEN', '=', String(t.approx ? s.length : t.maxlen)];
  return ['MINID', '=', idText(t.approx ? s.firstId : t.minid)];
}

// --- XADD XLEN XRANGE XDEL XTRIM XSETID --------------------------------------------------------------

function xadd(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const args = parseAddOrTrim(argv, true, e);
  if (args instanceof ErrorReply) return args;
  const fieldPos = args.idPos + 1;
  const nfields = argv.length - fieldPos;
  if (nfields < 2 || nfields % 2 === 1) return err("ERR wrong number of arguments for 'xadd' command");
  if (args.id?.seqGiven && isZeroId(args.id.id)) {
    return err('ERR The ID specified in XADD must be greater than 0-0');
  }
  // A listpack holds at most 1 GiB (STREAM_LISTPACK_MAX_SIZE); checked before anything is created.
  let total = 0;
  for (let i = fieldPos; i < argv.length; i++) total += argv[i]!.length;
  if (total > 1 << 30) return err('ERR Elements are too large to be stored');
  const found = getStream(c, key);
  if (found instanceof ErrorReply) return found;
  let s = found;
  if (!s) {
    if (args.noMkStream) return null;
    s = new Stream();
    c.db.add(key, s);
  }
  if (s.lastId.ms === U64_MAX && s.lastId.seq === U64_MAX) {
    dropIfNew(c, key, s, found);
    return err('ERR The stream has exhausted the last possible ID, unable to add more items');
  }
  let id: StreamID | null;
  if (!args.id) id = s.nextId(c.db.now);
  else if (args.id.seqGiven) id = args.id.id;
  else if (s.lastId.ms !== args.id.id.ms) id = args.id.id;
  else id = s.lastId.seq === U64_MAX ? null : { ms: s.lastId.ms, seq: s.lastId.seq + 1n };
  if (id === null || cmpId(id, s.lastId) <= 0) {
    dropIfNew(c, key, s, found);
    return err('ERR The ID specified in XADD is equal or smaller than the target stream top item');
  }
  const fields = argv.slice(fieldPos);
  s.append(id, fields, nodeLimits(e));
  e.changed(c, key, 'xadd', 't');
  const prop: string[] = ['XADD', key];
  if (args.noMkStream) prop.push('NOMKSTREAM');
  if (args.trim) {
    const removed = s.trim(args.trim);
    if (removed) e.notify('t', 'xtrim', key, c.dbIndex);
    prop.push(...exactTrimArgs(s, args.trim));
  }
  prop.push(idText(id), ...fields);
  e.propagateAs = [prop];
  e.signalReady(c.dbIndex, key);
  return idText(id);
}

/** A stream created by a failing XADD is removed again (Redis checks before creating it). */
function dropIfNew(c: Client, key: string, s: Stream, found: Stream | undefined): void {
  if (!found && s.length === 0) c.db.delete(key);
}

function xlen(c: Client, argv: string[]): Reply {
  const s = getStream(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  return s ? s.length : 0;
}

function xrange(rev: boolean) {
  return (c: Client, argv: string[]): Reply => {
    const start = parseRangeStart(rev ? argv[3]! : argv[2]!);
    if (start instanceof ErrorReply) return start;
    const end = parseRangeEnd(rev ? argv[2]! : argv[3]!);
    if (end instanceof ErrorReply) return end;
    let count = -1;
    for (let j = 4; j < argv.length; j++) {
      if (eq(argv[j]!, 'count') && j + 1 < argv.length) {
        const n = parseI64(argv[++j]!);
        if (n === null) return E.NOT_INT;
        count = Math.max(n, 0);
      } else return E.SYNTAX;
    }
    const s = getStream(c, argv[1]!);
    if (s instanceof ErrorReply) return s;
    if (!s) return [];
    if (count === 0) return NULL_ARRAY;
    return rangeReply(s, start, end, count === -1 ? 0 : count, rev);
  };
}

function xdel(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const s = getStream(c, key);
  if (s instanceof ErrorReply) return s;
  if (!s) return 0;
  const ids: StreamID[] = [];
  for (let j = 2; j < argv.length; j++) {
    const id = parseStrictId(argv[j]!);
    if (id instanceof ErrorReply) return id;
    ids.push(id);
  }
  let deleted = 0;
  let first = false;
  for (const id of ids) {
    if (!s.delete(id)) continue;
    if (cmpId(id, s.firstId) === 0) first = true;
    if (cmpId(id, s.maxDeletedId) > 0) s.maxDeletedId = id;
    deleted++;
  }
  if (deleted) {
    if (s.length === 0) s.firstId = MIN_ID;
    else if (first) s.firstId = s.edge(true)!.id;
    e.changed(c, key, 'xdel', 't', deleted);
  }
  return deleted;
}

function xtrim(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const args = parseAddOrTrim(argv, false, e);
  if (args instanceof ErrorReply) return args;
  const s = getStream(c, key);
  if (s instanceof ErrorReply) return s;
  if (!s) return 0;
  const trim = args.trim!;
  const deleted = s.trim(trim);
  if (deleted) {
    e.changed(c, key, 'xtrim', 't', deleted);
    e.propagateAs = [['XTRIM', key, ...exactTrimArgs(s, trim)]];
  }
  return deleted;
}

function xsetid(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const id = parseStrictId(argv[2]!);
  if (id instanceof ErrorReply) return id;
  let entriesAdded = -1;
  let maxXdel: StreamID = MIN_ID;
  for (let i = 3; i < argv.length; i += 2) {
    const more = argv.length - 1 - i;
    const opt = argv[i]!;
    if (eq(opt, 'entriesadded') && more) {
      const n = parseI64(argv[i + 1]!);
      if (n === null) return E.NOT_INT;
      if (n < 0) return err('ERR entries_added must be positive');
      entriesAdded = n;
    } else if (eq(opt, 'maxdeletedid') && more) {
      const m = parseStrictId(argv[i + 1]!);
      if (m instanceof ErrorReply) return m;
      if (cmpId(id, m) < 0) {
        return err('ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id');
      }
      maxXdel = m;
    } else return E.SYNTAX;
  }
  const s = getStream(c, key);
  if (s instanceof ErrorReply) return s;
  if (!s) return E.NO_KEY;
  if (s.length > 0) {
    if (cmpId(id, s.lastValidId()) < 0) {
      return err('ERR The ID specified in XSETID is smaller than the target stream top item');
    }
    if (entriesAdded !== -1 && s.length > entriesAdded) {
      return err('ERR The entries_added specified in XSETID is smaller than the target stream length');
    }
  }
  s.lastId = id;
  if (entriesAdded !== -1) s.entriesAdded = entriesAdded;
  if (!isZeroId(maxXdel)) s.maxDeletedId = maxXdel;
  e.changed(c, key, 'xsetid', 't');
  return OK;
}

// --- consumer groups ---------------------------------------------------------------------------------

/** Looks up a consumer, creating it (with notification) when missing; refreshes its seen time. */
function lookupOrCreateConsumer(
  c: Client,
  e: Engine,
  key: string,
  g: ConsumerGroup,
  name: string,
  prop: string[][],
): Consumer {
  const now = c.db.now;
  let consumer = g.consumers.get(name);
  if (consumer) consumer.seenTime = now;
  else {
    consumer = g.createConsumer(name, now);
    e.dirty++;
    e.notify('t', 'xgroup-createconsumer', key, c.dbIndex);
    prop.push(['XGROUP', 'CREATECONSUMER', key, g.name, name]);
  }
  return consumer;
}

function xclaimPropagation(key: string, g: ConsumerGroup, id: StreamID, nack: Nack): string[] {
  return [
    'XCLAIM',
    key,
    g.name,
    nack.consumer!.name,
    '0',
    idText(id),
    'TIME',
    String(nack.deliveryTime),
    'RETRYCOUNT',
    String(nack.deliveryCount),
    'FORCE',
    'JUSTID',
    'LASTID',
    idText(g.lastId),
  ];
}

function setIdPropagation(key: string, g: ConsumerGroup): string[] {
  return ['XGROUP', 'SETID', key, g.name, idText(g.lastId), 'ENTRIESREAD', String(g.entriesRead)];
}

const XGROUP_NO_KEY = err(
  'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.',
);

function xgroupCommon(c: Client, argv: string[]): { s: Stream; g: ConsumerGroup | undefined } | ErrorReply {
  const found = getStream(c, argv[2]!);
  if (found instanceof ErrorReply) return found;
  if (!found) return XGROUP_NO_KEY;
  return { s: found, g: found.groups.get(argv[3]!) };
}

function groupRequired(s: Stream, argv: string[]): ConsumerGroup | ErrorReply {
  return (
    s.groups.get(argv[3]!) ?? err(`NOGROUP No such consumer group '${argv[3]!}' for key name '${argv[2]!}'`)
  );
}

function parseEntriesRead(s: string): number | ErrorReply {
  const n = parseI64(s);
  if (n === null) return E.NOT_INT;
  if (n < 0 && n !== INVALID_ENTRIES_READ) return err('ERR value for ENTRIESREAD must be positive or -1');
  return n;
}

function xgroupCreate(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[2]!;
  const name = argv[3]!;
  let mkstream = false;
  let entriesRead = INVALID_ENTRIES_READ;
  for (let i = 5; i < argv.length; ) {
    if (eq(argv[i]!, 'mkstream')) {
      mkstream = true;
      i++;
    } else if (eq(argv[i]!, 'entriesread') && i + 1 < argv.length) {
      const n = parseEntriesRead(argv[i + 1]!);
      if (n instanceof ErrorReply) return n;
      entriesRead = n;
      i += 2;
    } else return subcommandSyntax(argv[1]!, 'XGROUP');
  }
  const found = getStream(c, key);
  if (found instanceof ErrorReply) return found;
  if (!found && !mkstream) return XGROUP_NO_KEY;
  if (argv.length > 8) return subcommandSyntax(argv[1]!, 'XGROUP');
  let id: StreamID;
  if (argv[4] === '$') id = found ? found.lastId : MIN_ID;
  else {
    const p = parseStrictId(argv[4]!);
    if (p instanceof ErrorReply) return p;
    id = p;
  }
  let s = found;
  if (!s) {
    s = new Stream();
    c.db.add(key, s);
    e.signalModified(c.dbIndex, key);
  }
  if (s.groups.has(name)) return err('BUSYGROUP Consumer Group name already exists');
  s.groups.set(name, new ConsumerGroup(name, id, entriesRead));
  e.changed(c, key, 'xgroup-create', 't');
  return OK;
}

function xgroupSetid(c: Client, argv: string[], e: Engine): Reply {
  let entriesRead = INVALID_ENTRIES_READ;
  if (argv.length === 7) {
    if (!eq(argv[5]!, 'entriesread')) return subcommandSyntax(argv[1]!, 'XGROUP');
    const n = parseEntriesRead(argv[6]!);
    if (n instanceof ErrorReply) return n;
    entriesRead = n;
  } else if (argv.length !== 5) return subcommandSyntax(argv[1]!, 'XGROUP');
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  const g = groupRequired(common.s, argv);
  if (g instanceof ErrorReply) return g;
  let id: StreamID;
  if (argv[4] === '$') id = common.s.lastId;
  else {
    const p = parseId(argv[4]!);
    if (p instanceof ErrorReply) return p;
    id = p;
  }
  g.lastId = id;
  g.entriesRead = entriesRead;
  e.changed(c, argv[2]!, 'xgroup-setid', 't');
  return OK;
}

function xgroupDestroy(c: Client, argv: string[], e: Engine): Reply {
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  if (!common.g) return 0;
  common.s.groups.delete(argv[3]!);
  e.changed(c, argv[2]!, 'xgroup-destroy', 't');
  // Clients blocked in XREADGROUP on this group get their NOGROUP error.
  e.signalReady(c.dbIndex, argv[2]!);
  return 1;
}

function xgroupCreateConsumer(c: Client, argv: string[], e: Engine): Reply {
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  const g = groupRequired(common.s, argv);
  if (g instanceof ErrorReply) return g;
  if (g.consumers.has(argv[4]!)) return 0;
  g.createConsumer(argv[4]!, c.db.now);
  e.changed(c, argv[2]!, 'xgroup-createconsumer', 't');
  return 1;
}

function xgroupDelConsumer(c: Client, argv: string[], e: Engine): Reply {
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  const g = groupRequired(common.s, argv);
  if (g instanceof ErrorReply) return g;
  if (!g.consumers.has(argv[4]!)) return 0;
  const pending = g.deleteConsumer(argv[4]!);
  e.changed(c, argv[2]!, 'xgroup-delconsumer', 't');
  return pending;
}

const XGROUP_HELP = [
  'XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CREATE <key> <groupname> <id|$> [option]',
  '    Create a new consumer group. Options are:',
  '    * MKSTREAM',
  '      Create the empty stream if it does not exist.',
  '    * ENTRIESREAD entries_read',
  "      Set the group's entries_read counter (internal use).",
  'CREATECONSUMER <key> <groupname> <consumer>',
  '    Create a new consumer in the specified group.',
  'DELCONSUMER <key> <groupname> <consumer>',
  '    Remove the specified consumer.',
  'DESTROY <key> <groupname>',
  '    Remove the specified group.',
  'SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]',
  '    Set the current group ID and entries_read counter.',
  'HELP',
  '    Prints this help.',
];

const XINFO_HELP = [
  'XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CONSUMERS <key> <groupname>',
  '    Show consumers of <groupname>.',
  'GROUPS <key>',
  '    Show the stream consumer groups.',
  'STREAM <key> [FULL [COUNT <count>]',
  '    Show information about the stream.',
  'HELP',
  '    Prints this help.',
];

// --- XREAD / XREADGROUP -----------------------------------------------------------------------------------

interface ReadArgs {
  timeout: number;
  count: number;
  keys: string[];
  ids: string[];
  group: string | null;
  consumer: string;
  noack: boolean;
}

function parseRead(argv: string[], xreadgroup: boolean): ReadArgs | ErrorReply {
  let timeout = -1;
  let count = 0;
  let streamsArg = 0;
  let group: string | null = null;
  let consumer = '';
  let noack = false;
  for (let i = 1; i < argv.length; i++) {
    const more = argv.length - i - 1;
    const o = argv[i]!;
    if (eq(o, 'block') && more) {
      const n = parseI64(argv[++i]!);
      if (n === null) return err('ERR timeout is not an integer or out of range');
      if (n < 0) return E.TIMEOUT_NEG;
      timeout = n;
    } else if (eq(o, 'count') && more) {
      const n = parseI64(argv[++i]!);
      if (n === null) return E.NOT_INT;
      count = Math.max(n, 0);
    } else if (eq(o, 'streams') && more) {
      streamsArg = i + 1;
      if ((argv.length - streamsArg) % 2 !== 0) {
        return err(
          "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
        );
      }
      break;
    } else if (eq(o, 'group') && more >= 2) {
      if (!xreadgroup) {
        return err('ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.');
      }
      group = argv[i + 1]!;
      consumer = argv[i + 2]!;
      i += 2;
    } else if (eq(o, 'noack')) {
      if (!xreadgroup) {
        return err('ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.');
      }
      noack = true;
    } else return E.SYNTAX;
  }
  if (streamsArg === 0) return E.SYNTAX;
  if (xreadgroup && group === null) return err('ERR Missing GROUP option for XREADGROUP');
  const n = (argv.length - streamsArg) / 2;
  return {
    timeout,
    count,
    keys: argv.slice(streamsArg, streamsArg + n),
    ids: argv.slice(streamsArg + n),
    group,
    consumer,
    noack,
  };
}

/**
 * Delivers entries after `gt` to a consumer of a group (streamReplyWithRange with a group): advances the
 * group's last ID and read counter, creates or reassigns pending entries, records the AOF commands.
 */
function deliverToGroup(
  c: Client,
  key: string,
  s: Stream,
  g: ConsumerGroup,
  consumerName: string,
  e: Engine,
  gt: StreamID,
  count: number,
  noack: boolean,
  prop: string[][],
): Reply[] {
  const consumer = lookupOrCreateConsumer(c, e, key, g, consumerName, prop);
  const out: Reply[] = [];
  const start = incrId(gt);
  if (!start) return out;
  const now = c.db.now;
  let lastIdMoved = false;
  for (const entry of s.range(start, MAX_ID)) {
    if (cmpId(entry.id, g.lastId) > 0) {
      if (g.entriesRead !== INVALID_ENTRIES_READ && !s.rangeHasTombstones(entry.id, null)) g.entriesRead++;
      else if (s.entriesAdded) g.entriesRead = s.estimateDistance(entry.id);
      g.lastId = entry.id;
      lastIdMoved = true;
    }
    out.push(entryReply(entry));
    if (!noack) {
      let nack = g.pel.get(entry.id);
      if (nack) {
        nack.consumer?.pel.delete(entry.id);
        nack.consumer = consumer;
        nack.deliveryTime = now;
        nack.deliveryCount = 1;
      } else {
        nack = { consumer, deliveryTime: now, deliveryCount: 1 };
        g.pel.set(entry.id, nack);
      }
      consumer.pel.set(entry.id, nack);
      prop.push(xclaimPropagation(key, g, entry.id, nack));
    }
    if (count && out.length === count) break;
  }
  if (lastIdMoved) prop.push(setIdPropagation(key, g));
  return out;
}

/** XREADGROUP with an ID other than ">": the consumer's own pending entries after `gt`. */
function consumerHistory(
  c: Client,
  e: Engine,
  key: string,
  s: Stream,
  g: ConsumerGroup,
  name: string,
  gt: StreamID,
  count: number,
  prop: string[][],
): Reply[] {
  const consumer = lookupOrCreateConsumer(c, e, key, g, name, prop);
  const out: Reply[] = [];
  const start = incrId(gt);
  if (!start) return out;
  for (const [id, nack] of consumer.pel.range(start)) {
    if (count && out.length >= count) break;
    const entry = s.get(id);
    if (entry) {
      out.push(entryReply(entry));
      nack.deliveryTime = c.db.now;
      nack.deliveryCount++;
    } else out.push([idText(id), NULL_ARRAY]);
  }
  return out;
}

function readReply(c: Client, items: Array<[string, Reply[]]>): Reply {
  if (c.resp === 2) return items;
  return new MapReply(items.flat());
}

function xread(xreadgroup: boolean) {
  return (c: Client, argv: string[], e: Engine): Reply | typeof BLOCKED => {
    const a = parseRead(argv, xreadgroup);
    if (a instanceof ErrorReply) return a;
    const gts: StreamID[] = [];
    const groups: ConsumerGroup[] = [];
    for (let i = 0; i < a.keys.length; i++) {
      const key = a.keys[i]!;
      const s = getStream(c, key);
      if (s instanceof ErrorReply) return s;
      if (a.group !== null) {
        const g = s?.groups.get(a.group);
        if (!g) return noGroup(key, a.group, ' in XREADGROUP with GROUP option');
        groups.push(g);
      }
      const arg = a.ids[i]!;
      if (arg === '$') {
        if (xreadgroup) {
          return err(
            'ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.',
          );
        }
        gts.push(s ? s.lastId : MIN_ID);
      } else if (arg === '>') {
        if (!xreadgroup) {
          return err(
            'ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.',
          );
        }
        gts.push(MAX_ID);
      } else {
        const id = parseStrictId(arg);
        if (id instanceof ErrorReply) return id;
        gts.push(id);
      }
    }
    const prop: string[][] = [];
    const served: Array<[string, Reply[]]> = [];
    for (let i = 0; i < a.keys.length; i++) {
      const key = a.keys[i]!;
      const s = c.db.get(key) as Stream | undefined;
      if (!s) continue;
      const gt = gts[i]!;
      if (a.group !== null) {
        const g = groups[i]!;
        if (cmpId(gt, MAX_ID) !== 0) {
          served.push([key, consumerHistory(c, e, key, s, g, a.consumer, gt, a.count, prop)]);
        } else if (s.length && cmpId(s.lastValidId(), g.lastId) > 0) {
          served.push([key, deliverToGroup(c, key, s, g, a.consumer, e, g.lastId, a.count, a.noack, prop)]);
        } else continue; // Redis 7.0 creates the consumer only when it serves it

        e.dirty++;
      } else if (s.length && cmpId(s.lastValidId(), gt) > 0) {
        served.push([key, rangeReply(s, incrId(gt)!, MAX_ID, a.count, false)]);
      }
    }
    e.propagateAs = prop;
    if (served.length > 0) return readReply(c, served);
    if (a.timeout === -1 || e.inExec) return NULL_ARRAY;
    const deadline = a.timeout > 0 ? c.db.now + a.timeout : 0;
    const count = a.count || BLOCKED_DEFAULT_COUNT;
    return e.block(c, {
      keys: a.keys,
      dbIndex: c.dbIndex,
      deadline,
      onTimeout: NULL_ARRAY,
      retry: () => {
        const p: string[][] = [];
        const r = serveBlocked(c, e, a, gts, count, p);
        if (r !== undefined && p.length > 0) {
          for (const x of p) e.propagate?.(c.dbIndex, x);
        }
        return r;
      },
    });
  };
}

/** A blocked XREAD/XREADGROUP retried after one of its keys received data (serveClientsBlockedOnStreamKey). */
function serveBlocked(
  c: Client,
  e: Engine,
  a: ReadArgs,
  gts: StreamID[],
  count: number,
  prop: string[][],
): Reply | undefined {
  for (let i = 0; i < a.keys.length; i++) {
    const key = a.keys[i]!;
    const s = c.db.get(key);
    if (!(s instanceof Stream)) {
      // Redis 7.0 tells group readers when their stream is deleted or replaced; XREAD keeps waiting.
      if (a.group !== null) return err('UNBLOCKED the stream key no longer exists');
      continue;
    }
    let gt = gts[i]!;
    let g: ConsumerGroup | undefined;
    if (a.group !== null) {
      g = s.groups.get(a.group);
      if (!g) return err('NOGROUP the consumer group this client was blocked on no longer exists');
      gt = g.lastId;
    }
    if (cmpId(s.lastId, gt) <= 0) continue;
    let entries: Reply[];
    if (g) {
      entries = deliverToGroup(c, key, s, g, a.consumer, e, gt, count, a.noack, prop);
      e.dirty++;
    } else entries = rangeReply(s, incrId(gt)!, MAX_ID, count, false);
    return readReply(c, [[key, entries]]);
  }
  return undefined;
}

// --- XACK XPENDING XCLAIM XAUTOCLAIM ------------------------------------------------------------------

function xack(c: Client, argv: string[], e: Engine): Reply {
  const s = getStream(c, argv[1]!);
  if (s instanceof ErrorReply) return s;
  const g = s?.groups.get(argv[2]!);
  if (!g) return 0;
  const ids: StreamID[] = [];
  for (let j = 3; j < argv.length; j++) {
    const id = parseStrictId(argv[j]!);
    if (id instanceof ErrorReply) return id;
    ids.push(id);
  }
  let acked = 0;
  for (const id of ids) if (g.ack(id)) acked++;
  e.dirty += acked;
  return acked;
}

function xpending(c: Client, argv: string[]): Reply {
  const key = argv[1]!;
  const justInfo = argv.length === 3;
  if (argv.length !== 3 && (argv.length < 6 || argv.length > 9)) return E.SYNTAX;
  let start = MIN_ID;
  let end = MAX_ID;
  let count = 0;
  let minIdle = 0;
  let consumerName: string | null = null;
  if (argv.length >= 6) {
    let at = 3;
    if (eq(argv[3]!, 'idle')) {
      const n = parseI64(argv[4]!);
      if (n === null) return E.NOT_INT;
      minIdle = n;
      if (argv.length < 8) return E.SYNTAX;
      at += 2;
    }
    const n = parseI64(argv[at + 2]!);
    if (n === null) return E.NOT_INT;
    count = Math.max(n, 0);
    const st = parseRangeStart(argv[at]!);
    if (st instanceof ErrorReply) return st;
    const en = parseRangeEnd(argv[at + 1]!);
    if (en instanceof ErrorReply) return en;
    start = st;
    end = en;
    if (at + 3 < argv.length) consumerName = argv[at + 3]!;
  }
  const s = getStream(c, key);
  if (s instanceof ErrorReply) return s;
  const g = s?.groups.get(argv[2]!);
  if (!g) return noGroup(key, argv[2]!);
  if (justInfo) {
    if (g.pel.size === 0) return [0, null, null, NULL_ARRAY];
    const owners: Reply[] = [];
    for (const consumer of g.sortedConsumers()) {
      if (consumer.pel.size > 0) owners.push([consumer.name, String(consumer.pel.size)]);
    }
    return [g.pel.size, idText(g.pel.first()![0]), idText(g.pel.last()![0]), owners];
  }
  let pel = g.pel;
  if (consumerName !== null) {
    const consumer = g.consumers.get(consumerName);
    if (!consumer) return [];
    pel = consumer.pel;
  }
  const now = c.db.now;
  const out: Reply[] = [];
  if (count === 0) return out;
  for (const [id, nack] of pel.range(start, end)) {
    if (minIdle && now - nack.deliveryTime < minIdle) continue;
    out.push([idText(id), nack.consumer!.name, Math.max(0, now - nack.deliveryTime), nack.deliveryCount]);
    if (--count === 0) break;
  }
  return out;
}

function xclaim(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const s = getStream(c, key);
  if (s instanceof ErrorReply) return s;
  const g = s?.groups.get(argv[2]!);
  if (!s || !g) return noGroup(key, argv[2]!);
  const mi = parseI64(argv[4]!);
  if (mi === null) return err('ERR Invalid min-idle-time argument for XCLAIM');
  const minIdle = Math.max(0, mi);
  let j = 5;
  const ids: StreamID[] = [];
  for (; j < argv.length; j++) {
    const p = parseIdFull(argv[j]!, 0n, true, false);
    if (!p) break;
    ids.push(p.id);
  }
  const now = c.db.now;
  let retryCount = -1;
  let deliveryTime = -1;
  let force = false;
  let justId = false;
  let lastId = MIN_ID;
  for (; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = argv[j]!;
    if (eq(opt, 'force')) force = true;
    else if (eq(opt, 'justid')) justId = true;
    else if (eq(opt, 'idle') && more) {
      const n = longLong(argv[++j]!, 'Invalid IDLE option argument for XCLAIM');
      if (n instanceof ErrorReply) return n;
      deliveryTime = now - n;
    } else if (eq(opt, 'time') && more) {
      const n = longLong(argv[++j]!, 'Invalid TIME option argument for XCLAIM');
      if (n instanceof ErrorReply) return n;
      deliveryTime = n;
    } else if (eq(opt, 'retrycount') && more) {
      const n = longLong(argv[++j]!, 'Invalid RETRYCOUNT option argument for XCLAIM');
      if (n instanceof ErrorReply) return n;
      retryCount = n;
    } else if (eq(opt, 'lastid') && more) {
      const id = parseStrictId(argv[++j]!);
      if (id instanceof ErrorReply) return id;
      lastId = id;
    } else return err(`ERR Unrecognized XCLAIM option '${opt}'`);
  }
  const prop: string[][] = [];
  let propagateLastId = false;
  if (cmpId(lastId, g.lastId) > 0) {
    g.lastId = lastId;
    propagateLastId = true;
  }
  if (deliveryTime !== -1) {
    if (deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  } else deliveryTime = now;
  const out: Reply[] = [];
  let consumer: Consumer | undefined;
  for (const id of ids) {
    let nack = g.pel.get(id);
    const entry = s.get(id);
    if (!entry) {
      if (nack) {
        prop.push(xclaimPropagation(key, g, id, nack));
        propagateLastId = false;
        e.dirty++;
        g.ack(id);
      }
      continue;
    }
    if (force && !nack) {
      nack = { consumer: null, deliveryTime: now, deliveryCount: 1 };
      g.pel.set(id, nack);
    }
    if (!nack) continue;
    if (nack.consumer && minIdle && now - nack.deliveryTime < minIdle) continue;
    consumer ??= lookupOrCreateConsumer(c, e, key, g, argv[3]!, prop);
    if (nack.consumer !== consumer) nack.consumer?.pel.delete(id);
    nack.deliveryTime = deliveryTime;
    if (retryCount >= 0) nack.deliveryCount = retryCount;
    else if (!justId) nack.deliveryCount++;
    if (nack.consumer !== consumer) {
      consumer.pel.set(id, nack);
      nack.consumer = consumer;
    }
    out.push(justId ? idText(id) : entryReply(entry));
    prop.push(xclaimPropagation(key, g, id, nack));
    propagateLastId = false;
    e.dirty++;
  }
  if (propagateLastId) {
    prop.push(setIdPropagation(key, g));
    e.dirty++;
  }
  e.propagateAs = prop;
  return out;
}

function xautoclaim(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  const mi = parseI64(argv[4]!);
  if (mi === null) return err('ERR Invalid min-idle-time argument for XAUTOCLAIM');
  const minIdle = Math.max(0, mi);
  const startArg = parseRangeStart(argv[5]!);
  if (startArg instanceof ErrorReply) return startArg;
  let count = 100;
  let justId = false;
  for (let j = 6; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    if (eq(argv[j]!, 'count') && more) {
      const n = parseI64(argv[++j]!);
      if (n === null || n < 1 || n > 2 ** 59) {
        return err('ERR COUNT must be > 0');
      }
      count = n;
    } else if (eq(argv[j]!, 'justid')) justId = true;
    else return E.SYNTAX;
  }
  const s = getStream(c, key);
  if (s instanceof ErrorReply) return s;
  const g = s?.groups.get(argv[2]!);
  if (!s || !g) return noGroup(key, argv[2]!);
  let attempts = count * 10;
  const now = c.db.now;
  const out: Reply[] = [];
  const deletedIds: Reply[] = [];
  const prop: string[][] = [];
  let consumer: Consumer | undefined;
  let cursor: StreamID | null = startArg;
  let next: [StreamID, Nack] | undefined;
  // Mirrors `while (attempts-- && count && raxNext(&ri))`, then one more raxNext for the cursor.
  for (;;) {
    if (attempts-- === 0 || count === 0) {
      next = cursor ? g.pel.ceiling(cursor) : undefined;
      break;
    }
    next = cursor ? g.pel.ceiling(cursor) : undefined;
    if (!next) break;
    const [id, nack] = next;
    cursor = incrId(id);
    const entry = s.get(id);
    if (!entry) {
      prop.push(xclaimPropagation(key, g, id, nack));
      e.dirty++;
      g.ack(id);
      deletedIds.push(idText(id));
      count--;
      continue;
    }
    if (minIdle && now - nack.deliveryTime < minIdle) continue;
    consumer ??= lookupOrCreateConsumer(c, e, key, g, argv[3]!, prop);
    if (nack.consumer !== consumer) nack.consumer?.pel.delete(id);
    nack.deliveryTime = now;
    if (!justId) nack.deliveryCount++;
    if (nack.consumer !== consumer) {
      consumer.pel.set(id, nack);
      nack.consumer = consumer;
    }
    out.push(justId ? idText(id) : entryReply(entry));
    count--;
    prop.push(xclaimPropagation(key, g, id, nack));
    e.dirty++;
  }
  e.propagateAs = prop;
  return [next ? idText(next[0]) : '0-0', out, deletedIds];
}

// --- XINFO --------------------------------------------------------------------------------------------

function xinfoTarget(c: Client, argv: string[]): Stream | ErrorReply {
  const s = getStream(c, argv[2]!);
  if (s instanceof ErrorReply) return s;
  return s ?? E.NO_KEY;
}

function xinfoConsumers(c: Client, argv: string[]): Reply {
  const s = xinfoTarget(c, argv);
  if (s instanceof ErrorReply) return s;
  const g = s.groups.get(argv[3]!);
  if (!g) return err(`NOGROUP No such consumer group '${argv[3]!}' for key name '${argv[2]!}'`);
  const now = Date.now();
  return g
    .sortedConsumers()
    .map(
      (cs) => new MapReply(['name', cs.name, 'pending', cs.pel.size, 'idle', Math.max(0, now - cs.seenTime)]),
    );
}

function xinfoGroups(c: Client, argv: string[]): Reply {
  const s = xinfoTarget(c, argv);
  if (s instanceof ErrorReply) return s;
  return s
    .sortedGroups()
    .map(
      (g) =>
        new MapReply([
          'name',
          g.name,
          'consumers',
          g.consumers.size,
          'pending',
          g.pel.size,
          'last-delivered-id',
          idText(g.lastId),
          'entries-read',
          g.entriesRead === INVALID_ENTRIES_READ ? null : g.entriesRead,
          'lag',
          s.lag(g),
        ]),
    );
}

function xinfoStream(c: Client, argv: string[]): Reply {
  const s = xinfoTarget(c, argv);
  if (s instanceof ErrorReply) return s;
  let full = false;
  let count = 10;
  const extra = argv.length - 3;
  if (extra > 0) {
    if (!eq(argv[3]!, 'full')) return subcommandSyntax(argv[1]!, 'XINFO');
    if (extra > 1) {
      if (extra !== 3 || !eq(argv[4]!, 'count')) return subcommandSyntax(argv[1]!, 'XINFO');
      const n = parseI64(argv[5]!);
      if (n === null) return E.NOT_INT;
      count = n < 0 ? 10 : n;
    }
    full = true;
  }
  const head: Reply[] = [
    'length',
    s.length,
    'radix-tree-keys',
    s.nodeCount,
    'radix-tree-nodes',
    s.radixTreeNodes(),
    'last-generated-id',
    idText(s.lastId),
    'max-deleted-entry-id',
    idText(s.maxDeletedId),
    'entries-added',
    s.entriesAdded,
    'recorded-first-entry-id',
    idText(s.firstId),
  ];
  if (!full) {
    const first = s.edge(true);
    const last = s.edge(false);
    return new MapReply([
      ...head,
      'groups',
      s.groups.size,
      'first-entry',
      first ? entryReply(first) : null,
      'last-entry',
      last ? entryReply(last) : null,
    ]);
  }
  const groups = s.sortedGroups().map((g) => {
    const pending: Reply[] = [];
    for (const [id, nack] of g.pel.range()) {
      if (count && pending.length >= count) break;
      pending.push([idText(id), nack.consumer!.name, nack.deliveryTime, nack.deliveryCount]);
    }
    const consumers = g.sortedConsumers().map((cs) => {
      const own: Reply[] = [];
      for (const [id, nack] of cs.pel.range()) {
        if (count && own.length >= count) break;
        own.push([idText(id), nack.deliveryTime, nack.deliveryCount]);
      }
      return new MapReply([
        'name',
        cs.name,
        'seen-time',
        cs.seenTime,
        'pel-count',
        cs.pel.size,
        'pending',
        own,
      ]);
    });
    return new MapReply([
      'name',
      g.name,
      'last-delivered-id',
      idText(g.lastId),
      'entries-read',
      g.entriesRead === INVALID_ENTRIES_READ ? null : g.entriesRead,
      'lag',
      s.lag(g),
      'pel-count',
      g.pel.size,
      'pending',
      pending,
      'consumers',
      consumers,
    ]);
  });
  return new MapReply([...head, 'entries', rangeReply(s, MIN_ID, MAX_ID, count, false), 'groups', groups]);
}

const help = (lines: string[]) => () => lines.map((l) => new SimpleString(l));

const defs: Record<string, Def> = {
  xadd: {
    arity: -5,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'stream',
    since: '5.0.0',
    handler: xadd,
  },
  xlen: { arity: 2, flags: 'readonly fast', keys: [1, 1, 1], group: 'stream', since: '5.0.0', handler: xlen },
  xrange: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'stream',
    since: '5.0.0',
    handler: xrange(false),
  },
  xrevrange: {
    arity: -4,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'stream',
    since: '5.0.0',
    handler: xrange(true),
  },
  xdel: { arity: -3, flags: 'write fast', keys: [1, 1, 1], group: 'stream', since: '5.0.0', handler: xdel },
  xtrim: { arity: -4, flags: 'write', keys: [1, 1, 1], group: 'stream', since: '5.0.0', handler: xtrim },
  xsetid: {
    arity: -3,
    flags: 'write denyoom fast',
    keys: [1, 1, 1],
    group: 'stream',
    since: '5.0.0',
    handler: xsetid,
  },
  xread: {
    arity: -4,
    flags: 'readonly blocking movablekeys',
    group: 'stream',
    since: '5.0.0',
    handler: xread(false),
  },
  xreadgroup: {
    arity: -7,
    flags: 'write blocking movablekeys',
    group: 'stream',
    since: '5.0.0',
    handler: xread(true),
  },
  xack: { arity: -4, flags: 'write fast', keys: [1, 1, 1], group: 'stream', since: '5.0.0', handler: xack },
  xpending: {
    arity: -3,
    flags: 'readonly',
    keys: [1, 1, 1],
    group: 'stream',
    since: '5.0.0',
    handler: xpending,
  },
  xclaim: {
    arity: -6,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'stream',
    since: '5.0.0',
    handler: xclaim,
  },
  xautoclaim: {
    arity: -6,
    flags: 'write fast',
    keys: [1, 1, 1],
    group: 'stream',
    since: '6.2.0',
    handler: xautoclaim,
  },
  xgroup: {
    arity: -2,
    group: 'stream',
    since: '5.0.0',
    handler: () => E.SYNTAX,
    sub: {
      create: { arity: -5, flags: 'write denyoom', keys: [2, 2, 1], handler: xgroupCreate },
      setid: { arity: -5, flags: 'write', keys: [2, 2, 1], handler: xgroupSetid },
      destroy: { arity: 4, flags: 'write', keys: [2, 2, 1], handler: xgroupDestroy },
      createconsumer: { arity: 5, flags: 'write denyoom', keys: [2, 2, 1], handler: xgroupCreateConsumer },
      delconsumer: { arity: 5, flags: 'write', keys: [2, 2, 1], handler: xgroupDelConsumer },
      help: { arity: 2, flags: 'loading stale', handler: help(XGROUP_HELP) },
    },
  },
  xinfo: {
    arity: -2,
    group: 'stream',
    since: '5.0.0',
    handler: () => E.SYNTAX,
    sub: {
      consumers: { arity: 4, flags: 'readonly', keys: [2, 2, 1], handler: xinfoConsumers },
      groups: { arity: 3, flags: 'readonly', keys: [2, 2, 1], handler: xinfoGroups },
      stream: { arity: -3, flags: 'readonly', keys: [2, 2, 1], handler: xinfoStream },
      help: { arity: 2, flags: 'loading stale', handler: help(XINFO_HELP) },
    },
  },
};

export const streamCommands = defineAll(defs);
