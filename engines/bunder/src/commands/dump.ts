/**
 * DUMP and RESTORE with Redis's serialization format (an RDB value, the RDB version and a CRC-64), so
 * payloads move between bunder and Redis 7.0 in both directions. RESTORE checks the version and
 * checksum exactly as Redis's verifyDumpPayload does before decoding anything.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { crc64 } from '../persistence/crc64.js';
import { fromStoredValue, toStoredValue } from '../persistence/keyspace-codec.js';
import { RDB_VERSION_WRITTEN } from '../persistence/rdb-format.js';
import { decodeDumpPayload } from '../persistence/rdb-reader.js';
import { encodeDumpPayload } from '../persistence/rdb-writer.js';
import { E, err, OK, type Reply } from '../reply.js';
import { parseI64 } from '../util/numbers.js';
import { type Def, defineAll } from './table.js';
import { eq } from './util.js';
// Streams need their converter registered before DUMP can serialize them.
import '../persistence/stream-codec.js';

function dump(c: Client, argv: string[]): Reply {
  const v = c.db.get(argv[1]!);
  if (v === undefined) return null;
  return encodeDumpPayload(toStoredValue(v)).toString('latin1');
}

/** verifyDumpPayload: at least version + CRC, a version this server writes or older, the CRC-64. */
function payloadOk(p: Buffer): boolean {
  if (p.length < 10) return false;
  const footer = p.length - 10;
  if (p.readUInt16LE(footer) > RDB_VERSION_WRITTEN) return false;
  return p.readBigUInt64LE(footer + 2) === crc64(p, 0, footer + 2);
}

function restore(c: Client, argv: string[], e: Engine): Reply {
  const key = argv[1]!;
  let replace = false;
  let absttl = false;
  let idle = -1;
  let freq = -1;
  for (let j = 4; j < argv.length; j++) {
    const more = argv.length - j - 1;
    const a = argv[j]!;
    if (eq(a, 'replace')) replace = true;
    else if (eq(a, 'absttl')) absttl = true;
    else if (eq(a, 'idletime') && more >= 1 && freq === -1) {
      const n = parseI64(argv[++j]!);
      if (n === null) return E.NOT_INT;
      if (n < 0) return err('ERR Invalid IDLETIME value, must be >= 0');
      idle = n;
    } else if (eq(a, 'freq') && more >= 1 && idle === -1) {
      const n = parseI64(argv[++j]!);
      if (n === null) return E.NOT_INT;
      if (n < 0 || n > 255) return err('ERR Invalid FREQ value, must be >= 0 and <= 255');
      freq = n;
    } else return E.SYNTAX;
  }
  if (!replace && c.db.has(key)) return err('BUSYKEY Target key name already exists.');
  let ttl = parseI64(argv[2]!);
  if (ttl === null) return E.NOT_INT;
  if (ttl < 0) return err('ERR Invalid TTL value, must be >= 0');
  const payload = Buffer.from(argv[3]!, 'latin1');
  if (!payloadOk(payload)) return err('ERR DUMP payload version or checksum are wrong');
  let value: ReturnType<typeof fromStoredValue>;
  try {
    value = fromStoredValue(decodeDumpPayload(payload));
  } catch {
    return err('ERR Bad data format');
  }
  const deleted = replace ? c.db.delete(key) : false;
  if (ttl && !absttl) ttl += c.db.now;
  if (ttl && ttl <= c.db.now) {
    // Already expired: the key is only removed (and the AOF records a DEL).
    if (deleted) {
      e.changed(c, key, 'del', 'g');
      e.propagateAs = [['DEL', key]];
    }
    return OK;
  }
  c.db.add(key, value);
  if (ttl) {
    c.db.setExpire(key, ttl);
    if (!absttl) e.propagateAs = [['RESTORE', key, String(ttl), ...argv.slice(3), 'ABSTTL']];
  }
  e.changed(c, key, 'restore', 'g');
  // Like Redis's dbAdd: clients blocked on this key (BLPOP, XREAD, …) get a chance to be served.
  e.signalReady(c.dbIndex, key);
  return OK;
}

const defs: Record<string, Def> = {
  dump: { arity: 2, flags: 'readonly', keys: [1, 1, 1], group: 'generic', since: '2.6.0', handler: dump },
  restore: {
    arity: -4,
    flags: 'write denyoom',
    keys: [1, 1, 1],
    group: 'generic',
    since: '2.6.0',
    handler: restore,
  },
};

export const dumpCommands = defineAll(defs);
