/**
 * The replication handshake, far enough for tools that fetch a snapshot the way a replica does
 * (`redis-cli --rdb`, backup scripts): SYNC and PSYNC send a full RDB of this moment and then close the
 * connection, since bunder does not stream a replication feed. REPLCONF is acknowledged; ROLE says master.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { snapshotKeyspace } from '../persistence/keyspace-codec.js';
import { encodeRdb } from '../persistence/rdb-writer.js';
import { err, OK, RawReply, type Reply } from '../reply.js';
import { type CommandSpec, defineAll } from './table.js';

/** This process's replication id, as INFO replication and PSYNC report it. */
export const REPLICATION_ID = randomBytes(20).toString('hex');

/** `$<len>\r\n<rdb>`: a bulk without the trailing CRLF, as a master sends the RDB to a replica. */
function rdbTransfer(e: Engine, prefix = ''): Buffer {
  const rdb = encodeRdb(snapshotKeyspace(e.ks), { compress: e.config.bool('rdbcompression') });
  return Buffer.concat([Buffer.from(`${prefix}$${rdb.length}\r\n`, 'latin1'), rdb]);
}

function fullSync(c: Client, e: Engine, psync: boolean): Reply {
  if (c.multi) return err('ERR Command is not allowed inside a transaction');
  c.closeAfterReply = true;
  return new RawReply(rdbTransfer(e, psync ? `+FULLRESYNC ${REPLICATION_ID} 0\r\n` : ''));
}

export const replicationCommands: CommandSpec[] = defineAll({
  sync: {
    arity: 1,
    flags: 'admin noscript no-async-loading no-multi',
    group: 'server',
    summary: 'Sends a full snapshot (RDB) and closes the connection',
    handler: (c, _argv, e) => fullSync(c, e, false),
  },
  psync: {
    arity: -3,
    flags: 'admin noscript no-async-loading no-multi',
    group: 'server',
    summary: 'Answers FULLRESYNC with a full snapshot (RDB) and closes the connection',
    handler: (c, _argv, e) => fullSync(c, e, true),
  },
  replconf: {
    arity: -1,
    flags: 'admin noscript loading stale allow-busy',
    group: 'server',
    summary: 'Acknowledges replica configuration',
    handler: () => OK,
  },
  role: {
    arity: 1,
    flags: 'noscript loading stale fast',
    group: 'server',
    since: '2.8.12',
    summary: 'Returns the replication role (always master)',
    handler: () => ['master', 0, []],
  },
});
