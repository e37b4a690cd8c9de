/**
 * Stream commands, following Redis 7.0's t_stream.c: argument order, error wording, reply shapes and the
 * AOF form of each effect. This file has XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID, XREAD/XREADGROUP
 * (blocking included) and the command table; consumer groups are in stream-groups.ts, XINFO in
 * stream-info.ts, ID parsing and shared replies in stream-args.ts.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
// Registers the stream converter used by RDB, AOF rewrite and DUMP/RESTORE.
import '../persistence/stream-codec.js';
import { E, ErrorReply, err, MapReply, NULL_ARRAY, OK, type Reply } from '../reply.js';
import {
  type ConsumerGroup,
  cmpId,
  idText,
  incrId,
  isZeroId,
  MAX_ID,
  MIN_ID,
  Stream,
  type StreamID,
  type TrimArgs,
  U64_MAX,
} from '../types/stream.js';
import { parseI64 } from '../util/numbers.js';
import {
  getStream,
  INVALID_ID,
  nodeLimits,
  noGroup,
  type ParsedId,
  parseIdFull,
  parseRangeEnd,
  parseRangeStart,
  parseStrictId,
  rangeReply,
} from './stream-args.js';
import {
  consumerHistory,
  deliverToGroup,
  XGROUP_HELP,
  xack,
  xautoclaim,
  xclaim,
  xgroupCreate,
  xgroupCreateConsumer,
  xgroupDelConsumer,
  xgroupDestroy,
  xgroupSetid,
  xpending,
} from './stream-groups.js';
import { help, XINFO_HELP, xinfoConsumers, xinfoGroups, xinfoStream } from './stream-info.js';
import { type BLOCKED, type Def, defineAll } from './table.js';
import { eq } from './util.js';

/** Without COUNT, a blocked XREAD is served at most this many entries (XREAD_BLOCKED_DEFAULT_COUNT). */
const BLOCKED_DEFAULT_COUNT = 1000;

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
