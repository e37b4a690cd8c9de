/**
 * Converts streams between the keyspace type (types/stream.ts) and the persistence model (model.ts):
 * live entries, the last/first/max-deleted IDs and entries-added counter, and every consumer group with
 * its pending entries and consumers. Registered with keyspace-codec so RDB, AOF rewrite and DUMP handle
 * streams like any other value.
 */
import type { Value } from '../keyspace.js';
import { ConsumerGroup, cmpId, INVALID_ENTRIES_READ, type NodeLimits, Stream } from '../types/stream.js';
import { registerStreamCodec } from './keyspace-codec.js';
import type { StreamGroup, StreamValue } from './model.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (b: Buffer): string => b.toString('latin1');

export function streamToStored(s: Stream): StreamValue {
  const entries = [];
  for (const e of s.range()) entries.push({ id: e.id, fields: e.fields.map(bytes) });
  // An XSETID that moved the last ID backwards can leave a node out of ID order; the RDB format
  // (as this writer lays it out) wants ascending IDs.
  entries.sort((a, b) => cmpId(a.id, b.id));
  const groups: StreamGroup[] = s.sortedGroups().map((g) => ({
    name: bytes(g.name),
    lastId: g.lastId,
    entriesRead: g.entriesRead === INVALID_ENTRIES_READ ? null : g.entriesRead,
    pending: [...g.pel.range()].map(([id, nack]) => ({
      id,
      consumer: bytes(nack.consumer!.name),
      deliveryTimeMs: nack.deliveryTime,
      deliveryCount: nack.deliveryCount,
    })),
    consumers: g.sortedConsumers().map((c) => ({ name: bytes(c.name), seenTimeMs: c.seenTime })),
  }));
  return {
    entries,
    lastId: s.lastId,
    firstId: s.firstId,
    maxDeletedId: s.maxDeletedId,
    entriesAdded: s.entriesAdded,
    groups,
  };
}

/** Rebuilds a stream; entries are appended with XADD's node rules, so node boundaries match a fresh load. */
export function streamFromStored(v: StreamValue, limits?: NodeLimits): Stream {
  const s = new Stream();
  for (const e of v.entries) s.append(e.id, e.fields.map(text), limits);
  s.lastId = v.lastId;
  s.firstId = v.firstId;
  s.maxDeletedId = v.maxDeletedId;
  s.entriesAdded = v.entriesAdded;
  for (const sg of v.groups) {
    const g = new ConsumerGroup(text(sg.name), sg.lastId, sg.entriesRead ?? INVALID_ENTRIES_READ);
    for (const c of sg.consumers) g.createConsumer(text(c.name), c.seenTimeMs);
    for (const p of sg.pending) {
      const name = text(p.consumer);
      const consumer = g.consumers.get(name) ?? g.createConsumer(name, p.deliveryTimeMs);
      const nack = { consumer, deliveryTime: p.deliveryTimeMs, deliveryCount: p.deliveryCount };
      g.pel.set(p.id, nack);
      consumer.pel.set(p.id, nack);
    }
    s.groups.set(g.name, g);
  }
  return s;
}

registerStreamCodec({
  toStored: (v: Value) => streamToStored(v as Stream),
  fromStored: (v: StreamValue) => streamFromStored(v),
});
