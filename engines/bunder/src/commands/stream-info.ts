/** XINFO STREAM [FULL [COUNT n]], GROUPS and CONSUMERS with Redis 7.0's fields and help text. */
import type { Client } from '../client.js';
import { E, ErrorReply, err, MapReply, type Reply, SimpleString } from '../reply.js';
import { INVALID_ENTRIES_READ, idText, MAX_ID, MIN_ID, type Stream } from '../types/stream.js';
import { parseI64 } from '../util/numbers.js';
import { entryReply, getStream, rangeReply, subcommandSyntax } from './stream-args.js';
import { eq } from './util.js';

export const XINFO_HELP = [
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

// --- XINFO --------------------------------------------------------------------------------------------

function xinfoTarget(c: Client, argv: string[]): Stream | ErrorReply {
  const s = getStream(c, argv[2]!);
  if (s instanceof ErrorReply) return s;
  return s ?? E.NO_KEY;
}

export function xinfoConsumers(c: Client, argv: string[]): Reply {
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

export function xinfoGroups(c: Client, argv: string[]): Reply {
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

export function xinfoStream(c: Client, argv: string[]): Reply {
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

/** A HELP subcommand: its lines as status replies. */
export const help = (lines: string[]) => () => lines.map((l) => new SimpleString(l));
