/**
 * AOF rewrite: the shortest command sequence that rebuilds a dataset, written as an AOF base file —
 * either as commands (what Redis writes with aof-use-rdb-preamble no) or as an RDB (the preamble form).
 * It consumes StoredEntry values from any iterator, so the caller can feed a point-in-time snapshot of
 * its keyspace and keep serving while the file is written.
 */

import { writeFileAtomically } from './atomic-file.js';
import { type Arg, CommandEncoder } from './command-encoder.js';
import type { StoredEntry, StreamId } from './model.js';
import { formatRedisDouble } from './rdb-format.js';
import { writeRdbFile } from './rdb-writer.js';

/** Redis batches collection members 64 per command (AOF_REWRITE_ITEMS_PER_CMD). */
const ITEMS_PER_COMMAND = 64;
const WRITE_SLICE = 1 << 20;

const idText = (id: StreamId) => `${id.ms}-${id.seq}`;

/** The commands that recreate one entry (without the SELECT). */
export function* entryCommands(e: StoredEntry): Generator<Arg[]> {
  const key = e.key;
  const v = e.value;
  switch (v.type) {
    case 'string':
      yield ['SET', key, v.value];
      break;
    case 'list':
      for (let i = 0; i < v.value.length; i += ITEMS_PER_COMMAND) {
        yield ['RPUSH', key, ...v.value.slice(i, i + ITEMS_PER_COMMAND)];
      }
      break;
    case 'set':
      for (let i = 0; i < v.value.length; i += ITEMS_PER_COMMAND) {
        yield ['SADD', key, ...v.value.slice(i, i + ITEMS_PER_COMMAND)];
      }
      break;
    case 'zset':
      for (let i = 0; i < v.value.length; i += ITEMS_PER_COMMAND) {
        const args: Arg[] = ['ZADD', key];
        for (const [member, score] of v.value.slice(i, i + ITEMS_PER_COMMAND)) {
          args.push(formatRedisDouble(score), member);
        }
        yield args;
      }
      break;
    case 'hash':
      for (let i = 0; i < v.value.length; i += ITEMS_PER_COMMAND) {
        const args: Arg[] = ['HMSET', key];
        for (const [f, x] of v.value.slice(i, i + ITEMS_PER_COMMAND)) args.push(f, x);
        yield args;
      }
      break;
    case 'stream': {
      const s = v.value;
      if (s.entries.length > 0) {
        for (const entry of s.entries) yield ['XADD', key, idText(entry.id), ...entry.fields];
      } else {
        // An empty stream: add a placeholder and trim it away in the same command (as Redis does);
        // XSETID below then restores the real last ID.
        yield ['XADD', key, 'MAXLEN', '0', '0-1', 'x', 'y'];
      }
      yield [
        'XSETID',
        key,
        idText(s.lastId),
        'ENTRIESADDED',
        s.entriesAdded,
        'MAXDELETEDID',
        idText(s.maxDeletedId),
      ];
      for (const g of s.groups) {
        const create: Arg[] = ['XGROUP', 'CREATE', key, g.name, idText(g.lastId)];
        if (g.entriesRead !== null) create.push('ENTRIESREAD', g.entriesRead);
        yield create;
        const owners = new Set<string>();
        for (const p of g.pending) {
          owners.add(p.consumer.toString('latin1'));
          yield [
            'XCLAIM',
            key,
            g.name,
            p.consumer,
            '0',
            idText(p.id),
            'TIME',
            p.deliveryTimeMs,
            'RETRYCOUNT',
            p.deliveryCount,
            'JUSTID',
            'FORCE',
          ];
        }
        for (const c of g.consumers) {
          if (!owners.has(c.name.toString('latin1'))) yield ['XGROUP', 'CREATECONSUMER', key, g.name, c.name];
        }
      }
      break;
    }
  }
  if (e.expireAtMs !== null && !(v.type !== 'string' && v.type !== 'stream' && v.value.length === 0)) {
    yield ['PEXPIREAT', key, e.expireAtMs];
  }
}

/** All commands for a dataset, with SELECT whenever the database changes. */
export function* datasetCommands(entries: Iterable<StoredEntry>): Generator<Arg[]> {
  let db = -1;
  for (const e of entries) {
    if (e.value.type !== 'string' && e.value.type !== 'stream' && e.value.value.length === 0) continue;
    if (e.db !== db) {
      yield ['SELECT', e.db];
      db = e.db;
    }
    yield* entryCommands(e);
  }
}

export type AofBaseFormat = 'rdb' | 'aof';

/** Writes an AOF base file durably (temp + fsync + rename). */
export async function writeAofBase(
  path: string,
  entries: Iterable<StoredEntry> | AsyncIterable<StoredEntry>,
  format: AofBaseFormat,
): Promise<{ bytes: number; keys: number }> {
  if (format === 'rdb') return writeRdbFile(path, entries, { aux: { 'aof-base': '1' } });
  let keys = 0;
  const enc = new CommandEncoder();
  const bytes = await writeFileAtomically(path, async (write) => {
    let db = -1;
    const add = async (e: StoredEntry) => {
      if (e.value.type !== 'string' && e.value.type !== 'stream' && e.value.value.length === 0) return;
      if (e.db !== db) {
        enc.command(['SELECT', e.db]);
        db = e.db;
      }
      for (const argv of entryCommands(e)) enc.command(argv);
      keys++;
      if (enc.length >= WRITE_SLICE) await write(enc.take());
    };
    if (Symbol.asyncIterator in entries) for await (const e of entries) await add(e);
    else for (const e of entries) await add(e);
    if (enc.length > 0) await write(enc.take());
  });
  return { bytes, keys };
}
