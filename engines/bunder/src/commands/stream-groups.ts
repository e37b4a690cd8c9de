/**
 * Consumer-group commands (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and the group side of
 * XREADGROUP — deliveries and pending entries lists — with the AOF form of their effects (XCLAIM …
 * FORCE JUSTID LASTID, XGROUP SETID / CREATECONSUMER), as Redis 7.0 propagates them.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { E, ErrorReply, err, NULL_ARRAY, OK, type Reply } from '../reply.js';
import {
  type Consumer,
  ConsumerGroup,
  cmpId,
  INVALID_ENTRIES_READ,
  idText,
  incrId,
  MAX_ID,
  MIN_ID,
  type Nack,
  Stream,
  type StreamID,
} from '../types/stream.js';
import { parseI64 } from '../util/numbers.js';
import {
  entryReply,
  getStream,
  longLong,
  noGroup,
  parseId,
  parseIdFull,
  parseRangeEnd,
  parseRangeStart,
  parseStrictId,
  subcommandSyntax,
} from './stream-args.js';
import { eq } from './util.js';

// --- consumer groups ---------------------------------------------------------------------------------

/** Looks up a consumer, creating it (with notification) when missing; refreshes its seen time. */
export function lookupOrCreateConsumer(
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

export function xgroupCreate(c: Client, argv: string[], e: Engine): Reply {
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

export function xgroupSetid(c: Client, argv: string[], e: Engine): Reply {
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

export function xgroupDestroy(c: Client, argv: string[], e: Engine): Reply {
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  if (!common.g) return 0;
  common.s.groups.delete(argv[3]!);
  e.changed(c, argv[2]!, 'xgroup-destroy', 't');
  // Clients blocked in XREADGROUP on this group get their NOGROUP error.
  e.signalReady(c.dbIndex, argv[2]!);
  return 1;
}

export function xgroupCreateConsumer(c: Client, argv: string[], e: Engine): Reply {
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  const g = groupRequired(common.s, argv);
  if (g instanceof ErrorReply) return g;
  if (g.consumers.has(argv[4]!)) return 0;
  g.createConsumer(argv[4]!, c.db.now);
  e.changed(c, argv[2]!, 'xgroup-createconsumer', 't');
  return 1;
}

export function xgroupDelConsumer(c: Client, argv: string[], e: Engine): Reply {
  const common = xgroupCommon(c, argv);
  if (common instanceof ErrorReply) return common;
  const g = groupRequired(common.s, argv);
  if (g instanceof ErrorReply) return g;
  if (!g.consumers.has(argv[4]!)) return 0;
  const pending = g.deleteConsumer(argv[4]!);
  e.changed(c, argv[2]!, 'xgroup-delconsumer', 't');
  return pending;
}

export const XGROUP_HELP = [
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

export function deliverToGroup(
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
export function consumerHistory(
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

// --- XACK XPENDING XCLAIM XAUTOCLAIM ------------------------------------------------------------------

export function xack(c: Client, argv: string[], e: Engine): Reply {
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

export function xpending(c: Client, argv: string[]): Reply {
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

export function xclaim(c: Client, argv: string[], e: Engine): Reply {
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

export function xautoclaim(c: Client, argv: string[], e: Engine): Reply {
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
