/** Connection and server commands: PING HELLO AUTH SELECT FLUSH* INFO CONFIG CLIENT COMMAND SLOWLOG … */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import { loadEntry, snapshotKeyspace } from '../persistence/keyspace-codec.js';
import { readRdb } from '../persistence/rdb-reader.js';
import { encodeRdb } from '../persistence/rdb-writer.js';
import {
  E,
  ErrorReply,
  err,
  MapReply,
  NO_REPLY,
  OK,
  PONG,
  PushReply,
  type Reply,
  SimpleString,
  VerbatimReply,
} from '../reply.js';
import { globMatch } from '../util/glob.js';
import { collectGarbage, memoryFigures } from '../util/memory.js';
import { parseDouble, parseI64 } from '../util/numbers.js';
import { estimateBytes } from '../util/value-size.js';
import { type CommandSpec, type Def, defineAll } from './table.js';

export const VERSION = '7.0.15';

function helloReply(c: Client): Reply {
  return new MapReply([
    'server',
    'redis',
    'version',
    VERSION,
    'proto',
    c.resp,
    'id',
    c.id,
    'mode',
    'standalone',
    'role',
    'master',
    'modules',
    [],
  ]);
}

function checkPassword(e: Engine, password: string): boolean {
  const required = e.config.get('requirepass');
  return required !== '' && password === required;
}

function hello(c: Client, argv: string[], e: Engine): Reply {
  let ver = c.resp as number;
  let i = 1;
  if (argv.length > 1) {
    const v = parseI64(argv[1]!);
    if (v === null) return err('ERR Protocol version is not an integer or out of range');
    if (v < 2 || v > 3) return err('NOPROTO unsupported protocol version');
    ver = v;
    i = 2;
  }
  let setName: string | null = null;
  for (; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    const left = argv.length - i - 1;
    if (a === 'auth' && left >= 2) {
      const user = argv[i + 1]!;
      const pass = argv[i + 2]!;
      i += 2;
      if (user !== 'default' || !checkPassword(e, pass)) {
        if (e.config.get('requirepass') === '' && user === 'default') continue;
        return err('WRONGPASS invalid username-password pair or user is disabled.');
      }
      c.authenticated = true;
    } else if (a === 'setname' && left >= 1) {
      setName = argv[++i]!;
      if (/[\s]/.test(setName) || /[^\x21-\x7e]/.test(setName)) {
        return err('ERR Client names cannot contain spaces, newlines or special characters.');
      }
    } else {
      return err(`ERR Syntax error in HELLO option '${argv[i]}'`);
    }
  }
  if (!c.authenticated) {
    return err(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (setName !== null) c.name = setName;
  c.resp = ver as 2 | 3;
  return helloReply(c);
}

function auth(c: Client, argv: string[], e: Engine): Reply {
  if (argv.length > 3) return E.SYNTAX;
  const user = argv.length === 3 ? argv[1]! : 'default';
  const pass = argv[argv.length - 1]!;
  if (e.config.get('requirepass') === '' && argv.length === 2) {
    return err(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  if (user === 'default' && (checkPassword(e, pass) || e.config.get('requirepass') === '')) {
    c.authenticated = true;
    return OK;
  }
  return err('WRONGPASS invalid username-password pair or user is disabled.');
}

function flushdb(c: Client, argv: string[], e: Engine): Reply {
  if (argv.length > 2 || (argv.length === 2 && !/^(a?sync)$/i.test(argv[1]!))) return E.SYNTAX;
  e.dirty += c.db.size;
  c.db.flush();
  e.signalFlush(c.dbIndex);
  return OK;
}

function flushall(_c: Client, argv: string[], e: Engine): Reply {
  if (argv.length > 2 || (argv.length === 2 && !/^(a?sync)$/i.test(argv[1]!))) return E.SYNTAX;
  for (const db of e.ks.dbs) {
    e.dirty += db.size;
    db.flush();
  }
  e.dirty++;
  e.signalFlush(null);
  return OK;
}

/** INFO text: the sections client libraries parse, with Redis's field names. */
export function infoText(e: Engine, c: Client, sections: string[]): string {
  const all =
    sections.length === 0 || sections.some((s) => s === 'all' || s === 'everything' || s === 'default');
  const want = (s: string) => all || sections.includes(s);
  const out: string[] = [];
  const block = (title: string, fields: Record<string, string | number>) => {
    out.push(`# ${title}`);
    for (const [k, v] of Object.entries(fields)) out.push(`${k}:${v}`);
    out.push('');
  };
  const uptime = Math.floor((Date.now() - e.startTime) / 1000);
  if (want('server')) {
    block('Server', {
      redis_version: VERSION,
      redis_git_sha1: '00000000',
      redis_git_dirty: 0,
      redis_build_id: '0',
      redis_mode: 'standalone',
      os: `${process.platform} ${process.arch}`,
      arch_bits: 64,
      multiplexing_api: 'libuv',
      gcc_version: '0.0.0',
      process_id: process.pid,
      run_id: runId,
      tcp_port: e.config.get('port'),
      server_time_usec: Date.now() * 1000,
      uptime_in_seconds: uptime,
      uptime_in_days: Math.floor(uptime / 86400),
      hz: e.config.get('hz'),
      configured_hz: e.config.get('hz'),
      executable: process.argv[1] ?? '',
      config_file: '',
      bunder_node_version: process.version,
      ...(e.hooks.serverInfo?.() ?? {}),
    });
  }
  if (want('clients')) {
    let blocked = 0;
    let pubsub = 0;
    for (const cl of e.clients.values()) {
      if (cl.blocked) blocked++;
      if (cl.subscriptionCount > 0) pubsub++;
    }
    block('Clients', {
      connected_clients: e.clients.size,
      cluster_connections: 0,
      maxclients: e.config.get('maxclients'),
      client_recent_max_input_buffer: 0,
      client_recent_max_output_buffer: 0,
      blocked_clients: blocked,
      tracking_clients: 0,
      clients_in_timeout_table: blocked,
      pubsub_clients: pubsub,
    });
  }
  if (want('memory')) {
    const mem = memoryFigures();
    const used = mem.used;
    block('Memory', {
      used_memory: used,
      used_memory_human: human(used),
      used_memory_rss: mem.rss,
      used_memory_rss_human: human(mem.rss),
      used_memory_peak: used,
      used_memory_peak_human: human(used),
      total_system_memory: 0,
      maxmemory: e.config.get('maxmemory'),
      maxmemory_human: human(e.config.int('maxmemory')),
      maxmemory_policy: e.config.get('maxmemory-policy'),
      mem_fragmentation_ratio: (mem.rss / Math.max(used, 1)).toFixed(2),
      mem_allocator: 'v8',
    });
  }
  if (want('persistence')) {
    block('Persistence', {
      loading: 0,
      async_loading: 0,
      rdb_changes_since_last_save: e.dirty,
      rdb_bgsave_in_progress: 0,
      rdb_last_save_time: e.lastSave,
      rdb_last_bgsave_status: 'ok',
      aof_enabled: e.config.bool('appendonly') ? 1 : 0,
      aof_rewrite_in_progress: 0,
      aof_last_bgrewrite_status: 'ok',
      aof_last_write_status: 'ok',
      ...(e.hooks.persistenceInfo?.() ?? {}),
    });
  }
  if (want('stats')) {
    let patterns = 0;
    for (const s of e.patterns.values()) patterns += s.size;
    block('Stats', {
      total_connections_received: e.stats.connections,
      total_commands_processed: e.stats.commands,
      instantaneous_ops_per_sec: 0,
      total_net_input_bytes: e.stats.netInput,
      total_net_output_bytes: e.stats.netOutput,
      rejected_connections: e.stats.rejectedConnections,
      expired_keys: e.ks.expiredKeys,
      evicted_keys: e.stats.evictedKeys,
      keyspace_hits: e.stats.keyspaceHits,
      keyspace_misses: e.stats.keyspaceMisses,
      pubsub_channels: e.channels.size,
      pubsub_patterns: patterns,
      total_error_replies: e.stats.errorReplies,
    });
  }
  if (want('replication')) block('Replication', { role: 'master', connected_slaves: 0 });
  if (want('cpu')) {
    const u = process.cpuUsage();
    block('CPU', {
      used_cpu_sys: (u.system / 1e6).toFixed(6),
      used_cpu_user: (u.user / 1e6).toFixed(6),
    });
  }
  if (sections.includes('commandstats') || sections.includes('everything') || sections.includes('all')) {
    const fields: Record<string, string> = {};
    for (const [name, s] of e.commandStats) {
      fields[`cmdstat_${name}`] =
        `calls=${s.calls},usec=${s.usec},usec_per_call=${(s.usec / s.calls).toFixed(2)},rejected_calls=0,failed_calls=${s.failed}`;
    }
    block('Commandstats', fields);
  }
  if (want('keyspace')) {
    const fields: Record<string, string> = {};
    for (const db of e.ks.dbs) {
      if (db.size > 0) {
        fields[`db${db.id}`] = `keys=${db.size},expires=${db.expires.size},avg_ttl=${Math.round(db.avgTtl)}`;
      }
    }
    block('Keyspace', fields);
  }
  void c;
  return out.join('\r\n');
}

const runId = Array.from({ length: 40 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');

function human(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)}${units[i]}`;
}

function clientInfo(cl: Client, e: Engine): string {
  const now = Date.now();
  const flags = `${cl.multi ? 'x' : ''}${cl.blocked ? 'b' : ''}${cl.subscriptionCount > 0 ? 'P' : ''}` || 'N';
  return (
    (
      `id=${cl.id} addr=${cl.addr} laddr=${cl.laddr} fd=${cl.fd} name=${cl.name} ` +
      `age=${Math.floor((now - cl.createdAt) / 1000)} idle=${Math.floor((now - cl.lastInteraction) / 1000)} ` +
      `flags=${flags} db=${cl.dbIndex} sub=${cl.channels.size} psub=${cl.patterns.size} ssub=0 ` +
      `multi=${cl.multi ? cl.multi.length : -1} qbuf=${cl.qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 ` +
      `rbs=0 rbp=0 obl=0 oll=0 omem=${cl.obl} tot-mem=0 events=r cmd=${cl.lastCommand} user=default ` +
      `redir=-1 resp=${cl.resp}`
    ).replace(/ {2}/g, ' ') + (e ? '' : '')
  );
}

function client(c: Client, argv: string[], e: Engine): Reply {
  const sub = argv[1]!.toLowerCase();
  switch (sub) {
    case 'id':
      return c.id;
    case 'getname':
      return c.name === '' ? null : c.name;
    case 'setname': {
      const name = argv[2]!;
      if (/[^\x21-\x7e]/.test(name)) {
        return err('ERR Client names cannot contain spaces, newlines or special characters.');
      }
      c.name = name;
      return OK;
    }
    case 'info':
      return new VerbatimReply(`${clientInfo(c, e)}\n`);
    case 'list': {
      let ids: Set<number> | null = null;
      if (argv.length > 2) {
        if (argv[2]!.toLowerCase() === 'type' && argv.length === 4) {
          // every connection is a normal client (no replicas); pubsub selects subscribers
          const type = argv[3]!.toLowerCase();
          if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(type)) {
            return err(`ERR Unknown client type '${argv[3]}'`);
          }
          ids = new Set(
            [...e.clients.values()]
              .filter((cl) =>
                type === 'pubsub'
                  ? cl.subscriptionCount > 0
                  : type === 'normal' && cl.subscriptionCount === 0,
              )
              .map((cl) => cl.id),
          );
        } else if (argv[2]!.toLowerCase() === 'id' && argv.length > 3) {
          ids = new Set();
          for (const s of argv.slice(3)) {
            const n = parseI64(s);
            if (n === null || n <= 0) return err('ERR Invalid client ID');
            ids.add(n);
          }
        } else return E.SYNTAX;
      }
      const lines: string[] = [];
      for (const cl of e.clients.values()) if (!ids || ids.has(cl.id)) lines.push(`${clientInfo(cl, e)}\n`);
      return new VerbatimReply(lines.join(''));
    }
    case 'kill': {
      if (argv.length === 3) {
        const target = [...e.clients.values()].find((cl) => cl.addr === argv[2]);
        if (!target) return err('ERR No such client');
        target.kill();
        return OK;
      }
      if ((argv.length - 2) % 2 !== 0) return E.SYNTAX;
      let killed = 0;
      let skipme = true;
      const filters: Array<(cl: Client) => boolean> = [];
      for (let i = 2; i < argv.length; i += 2) {
        const f = argv[i]!.toLowerCase();
        const v = argv[i + 1]!;
        if (f === 'id') {
          const n = parseI64(v);
          if (n === null || n <= 0) return err('ERR client-id should be greater than 0');
          filters.push((cl) => cl.id === n);
        } else if (f === 'addr') filters.push((cl) => cl.addr === v);
        else if (f === 'laddr') filters.push((cl) => cl.laddr === v);
        else if (f === 'user') filters.push(() => v === 'default');
        else if (f === 'type')
          filters.push((cl) => (v === 'pubsub' ? cl.subscriptionCount > 0 : v === 'normal'));
        else if (f === 'skipme') skipme = v.toLowerCase() !== 'no';
        else return E.SYNTAX;
      }
      for (const cl of [...e.clients.values()]) {
        if (skipme && cl === c) continue;
        if (filters.every((f) => f(cl))) {
          cl.kill();
          killed++;
        }
      }
      return killed;
    }
    case 'unblock': {
      const n = parseI64(argv[2]!);
      if (n === null) return E.NOT_INT;
      const mode = (argv[3] ?? 'timeout').toLowerCase();
      if (mode !== 'timeout' && mode !== 'error')
        return err('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
      const target = e.clients.get(n);
      return target && e.forceUnblock(target, mode === 'error') ? 1 : 0;
    }
    case 'no-evict':
    case 'no-touch':
    case 'reply':
      return OK;
    case 'setinfo':
      return OK;
    default:
      return [
        'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'ID',
        'INFO',
        'LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]',
        'GETNAME',
        'SETNAME <name>',
        'KILL <ip:port> | KILL <option> <value> [...]',
        'UNBLOCK <clientid> [TIMEOUT|ERROR]',
        'HELP',
      ].map((s) => new SimpleString(s));
  }
}

function commandInfo(spec: CommandSpec): Reply {
  const subs = spec.subcommands ? [...spec.subcommands.values()].map(commandInfo) : [];
  return [
    spec.name,
    spec.arity,
    spec.flags.map((f) => new SimpleString(f)),
    spec.firstKey,
    spec.lastKey,
    spec.step,
    [`@${spec.group}`].map((g) => new SimpleString(g)),
    [],
    [],
    subs,
  ];
}

function uniqueSpecs(e: Engine): CommandSpec[] {
  const seen = new Set<CommandSpec>();
  for (const spec of e.commands.values()) seen.add(spec);
  return [...seen];
}

function command(_c: Client, argv: string[], e: Engine): Reply {
  if (argv.length === 1) return uniqueSpecs(e).map(commandInfo);
  const sub = argv[1]!.toLowerCase();
  switch (sub) {
    case 'count':
      return uniqueSpecs(e).length;
    case 'info': {
      if (argv.length === 2) return uniqueSpecs(e).map(commandInfo);
      return argv.slice(2).map((name) => {
        const spec = findSpec(e, name);
        return spec ? commandInfo(spec) : null;
      });
    }
    case 'docs': {
      const specs = argv.length === 2 ? uniqueSpecs(e) : argv.slice(2).map((n) => findSpec(e, n));
      const items: Reply[] = [];
      for (const spec of specs) {
        if (!spec) continue;
        items.push(spec.name, docOf(spec));
      }
      return new MapReply(items);
    }
    case 'list': {
      let names = uniqueSpecs(e).map((s) => s.name);
      if (argv.length === 5 && argv[2]!.toLowerCase() === 'filterby') {
        const how = argv[3]!.toLowerCase();
        const v = argv[4]!;
        if (how === 'pattern') names = names.filter((n) => globMatch(v, n, true));
        else if (how === 'aclcat') names = names.filter((n) => findSpec(e, n)!.group === v.toLowerCase());
        else if (how === 'module') names = [];
        else return E.SYNTAX;
      } else if (argv.length !== 2) return E.SYNTAX;
      return names;
    }
    case 'getkeys': {
      if (argv.length < 3) return err("ERR wrong number of arguments for 'command|getkeys' command");
      const rest = argv.slice(2);
      const spec = findSpec(e, rest[0]!);
      if (!spec) return err('ERR Invalid command specified');
      if ((spec.arity > 0 && rest.length !== spec.arity) || rest.length < -spec.arity) {
        return err('ERR Invalid number of arguments specified for command');
      }
      const keys = e.keysOf(spec, rest);
      if (keys.length === 0) return err('ERR The command has no key arguments');
      return keys;
    }
    case 'help':
      return [
        'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        '(no subcommand)',
        '    Return details about all Redis commands.',
        'COUNT',
        '    Return the total number of commands in this Redis server.',
        'LIST',
        '    Return a list of all commands in this Redis server.',
        'INFO [<command-name> ...]',
        '    Return details about multiple Redis commands.',
        'DOCS [<command-name> ...]',
        '    Return documentation details about multiple Redis commands.',
        'GETKEYS <full-command>',
        '    Return the keys from a full Redis command.',
        'HELP',
        '    Print this help.',
      ].map((s) => new SimpleString(s));
    default:
      return err(`ERR unknown subcommand '${argv[1]}'. Try COMMAND HELP.`);
  }
}

function findSpec(e: Engine, name: string): CommandSpec | undefined {
  const [parent, sub] = name.toLowerCase().split('|');
  const spec = e.lookup(parent!);
  if (!spec) return undefined;
  return sub ? spec.subcommands?.get(sub) : spec;
}

function docOf(spec: CommandSpec): MapReply {
  const items: Reply[] = ['summary', spec.summary || spec.name, 'since', spec.since, 'group', spec.group];
  if (spec.subcommands) {
    const subs: Reply[] = [];
    for (const s of spec.subcommands.values()) subs.push(s.name, docOf(s));
    items.push('subcommands', new MapReply(subs));
  }
  return new MapReply(items);
}

function config(_c: Client, argv: string[], e: Engine): Reply {
  const sub = argv[1]!.toLowerCase();
  if (sub === 'get') return new MapReply(e.config.match(argv.slice(2)));
  if (sub === 'set') {
    if (argv.length % 2 !== 0) return err("ERR wrong number of arguments for 'config|set' command");
    for (let i = 2; i < argv.length; i += 2) {
      try {
        e.config.set(argv[i]!, argv[i + 1]!);
      } catch (x) {
        const m = (x as Error).message;
        if (m.startsWith('Unknown option')) return err(`ERR ${m}`);
        return err(`ERR CONFIG SET failed (possibly related to argument '${argv[i]}') - ${m}`);
      }
    }
    return OK;
  }
  if (sub === 'resetstat') {
    for (const k of Object.keys(e.stats) as (keyof typeof e.stats)[]) e.stats[k] = 0;
    e.commandStats.clear();
    e.ks.expiredKeys = 0;
    return OK;
  }
  if (sub === 'rewrite') return err('ERR The server is running without a config file');
  return [
    'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'GET <pattern>',
    'SET <directive> <value>',
    'RESETSTAT',
    'HELP',
  ].map((s) => new SimpleString(s));
}

function slowlog(_c: Client, argv: string[], e: Engine): Reply {
  const sub = argv[1]!.toLowerCase();
  if (sub === 'len') return e.slowlog.length;
  if (sub === 'reset') {
    e.slowlog.length = 0;
    return OK;
  }
  if (sub === 'get') {
    let n = 10;
    if (argv.length === 3) {
      const v = parseI64(argv[2]!);
      if (v === null || v < -1) return err('ERR count should be greater than or equal to -1');
      n = v === -1 ? e.slowlog.length : v;
    }
    return e.slowlog.slice(0, n).map((s) => [s.id, s.time, s.durationUs, s.argv, s.addr, s.name]);
  }
  return [
    'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'GET [<count>]',
    'LEN',
    'RESET',
    'HELP',
  ].map((s) => new SimpleString(s));
}

/**
 * DEBUG RELOAD: the dataset goes through the RDB format and back — saved to dump.rdb first when the
 * server has files (as Redis does), in memory otherwise — so what survives a restart can be checked.
 */
function debugReload(e: Engine): Reply {
  if (e.hooks.save) {
    const saved = e.hooks.save();
    if (saved instanceof ErrorReply) return saved;
  }
  const rdb = encodeRdb(snapshotKeyspace(e.ks), { compress: e.config.bool('rdbcompression') });
  for (const db of e.ks.dbs) db.flush();
  const now = Date.now();
  for (const entry of readRdb(rdb)) loadEntry(e.ks, entry, now);
  return OK;
}

/** MEMORY USAGE: an estimate of a key's footprint in bytes (util/value-size.ts). */
function memoryUsage(c: Client, argv: string[]): Reply {
  const key = argv[2]!;
  const v = c.db.get(key);
  return v === undefined ? null : estimateBytes(key, v);
}

function subscribeReply(kind: string, name: string | null, count: number): PushReply {
  return new PushReply([kind, name, count]);
}

function pubsubCommand(c: Client, argv: string[], e: Engine): Reply {
  const sub = argv[1]!.toLowerCase();
  if (sub === 'channels') {
    const pattern = argv[2];
    return [...e.channels.keys()].filter((ch) => pattern === undefined || globMatch(pattern, ch));
  }
  if (sub === 'numsub') {
    const out: Reply[] = [];
    for (const ch of argv.slice(2)) out.push(ch, e.channels.get(ch)?.size ?? 0);
    return out;
  }
  if (sub === 'numpat') return e.patterns.size;
  void c;
  return err(`ERR unknown subcommand '${argv[1]}'. Try PUBSUB HELP.`);
}

const defs: Record<string, Def> = {
  ping: {
    arity: -1,
    flags: 'fast',
    group: 'connection',
    handler: (c, argv) => {
      if (argv.length > 2) return err("ERR wrong number of arguments for 'ping' command");
      if (c.resp === 2 && c.subscriptionCount > 0) return ['pong', argv[1] ?? ''];
      return argv.length === 2 ? argv[1]! : PONG;
    },
  },
  echo: { arity: 2, flags: 'fast', group: 'connection', handler: (_c, argv) => argv[1]! },
  quit: {
    arity: -1,
    flags: 'fast no_auth',
    group: 'connection',
    handler: (c) => {
      c.closeAfterReply = true;
      return OK;
    },
  },
  hello: { arity: -1, flags: 'fast no_auth', group: 'connection', since: '6.0.0', handler: hello },
  auth: { arity: -2, flags: 'fast no_auth', group: 'connection', handler: auth },
  select: {
    arity: 2,
    flags: 'fast',
    group: 'connection',
    handler: (c, argv, e) => {
      const n = parseI64(argv[1]!);
      if (n === null) return err('ERR value is not an integer or out of range');
      if (n < 0 || n >= e.ks.dbs.length) return E.DB_RANGE;
      c.dbIndex = n;
      c.db = e.ks.dbs[n]!;
      return OK;
    },
  },
  swapdb: {
    arity: 3,
    flags: 'write fast',
    group: 'keyspace',
    since: '4.0.0',
    handler: (_c, argv, e) => {
      const a = parseI64(argv[1]!);
      if (a === null) return err('ERR invalid first DB index');
      const b = parseI64(argv[2]!);
      if (b === null) return err('ERR invalid second DB index');
      if (a < 0 || a >= e.ks.dbs.length || b < 0 || b >= e.ks.dbs.length) return E.DB_RANGE;
      if (a !== b) {
        e.ks.swap(a, b);
        e.signalFlush(a);
        e.signalFlush(b);
        e.dirty++;
        e.signalReadyAll(a);
        e.signalReadyAll(b);
      }
      return OK;
    },
  },
  dbsize: { arity: 1, flags: 'readonly fast', group: 'keyspace', handler: (c) => c.db.size },
  flushdb: { arity: -1, flags: 'write', group: 'keyspace', handler: flushdb },
  flushall: { arity: -1, flags: 'write', group: 'keyspace', handler: flushall },
  info: {
    arity: -1,
    flags: 'loading stale',
    group: 'server',
    handler: (c, argv, e) =>
      new VerbatimReply(
        `${infoText(
          e,
          c,
          argv.slice(1).map((s) => s.toLowerCase()),
        )}\r\n`,
      ),
  },
  time: {
    arity: 1,
    flags: 'loading stale fast',
    group: 'server',
    since: '2.6.0',
    handler: () => {
      const us = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
      return [String(us / 1000000n), String(us % 1000000n)];
    },
  },
  lastsave: { arity: 1, flags: 'loading stale fast', group: 'server', handler: (_c, _a, e) => e.lastSave },
  config: {
    arity: -2,
    group: 'server',
    handler: config,
    sub: {
      get: { arity: -3, flags: 'admin noscript loading stale', handler: config },
      set: { arity: -4, flags: 'admin noscript loading stale', handler: config },
      resetstat: { arity: 2, flags: 'admin noscript loading stale', handler: config },
      rewrite: { arity: 2, flags: 'admin noscript loading stale', handler: config },
      help: { arity: 2, flags: 'loading stale', handler: config },
    },
  },
  client: {
    arity: -2,
    group: 'connection',
    handler: client,
    sub: {
      id: { arity: 2, flags: 'noscript loading stale', handler: client },
      getname: { arity: 2, flags: 'noscript loading stale', handler: client },
      setname: { arity: 3, flags: 'noscript loading stale', handler: client },
      info: { arity: 2, flags: 'noscript loading stale', handler: client },
      list: { arity: -2, flags: 'admin noscript loading stale', handler: client },
      kill: { arity: -3, flags: 'admin noscript loading stale', handler: client },
      unblock: { arity: -3, flags: 'admin noscript loading stale', handler: client },
      'no-evict': { arity: 3, flags: 'admin noscript loading stale', handler: client },
      'no-touch': { arity: 3, flags: 'noscript loading stale', handler: client },
      reply: { arity: 3, flags: 'noscript loading stale', handler: client },
      setinfo: { arity: 4, flags: 'noscript loading stale', handler: client },
      help: { arity: 2, flags: 'loading stale', handler: client },
    },
  },
  command: {
    arity: -1,
    flags: 'loading stale',
    group: 'server',
    handler: command,
    sub: {
      count: { arity: 2, flags: 'loading stale', handler: command },
      info: { arity: -2, flags: 'loading stale', handler: command },
      docs: { arity: -2, flags: 'loading stale', handler: command },
      list: { arity: -2, flags: 'loading stale', handler: command },
      getkeys: { arity: -3, flags: 'loading stale', handler: command },
      help: { arity: 2, flags: 'loading stale', handler: command },
    },
  },
  slowlog: {
    arity: -2,
    group: 'server',
    handler: slowlog,
    sub: {
      get: { arity: -2, flags: 'admin loading stale', handler: slowlog },
      len: { arity: 2, flags: 'admin loading stale', handler: slowlog },
      reset: { arity: 2, flags: 'admin loading stale', handler: slowlog },
      help: { arity: 2, flags: 'loading stale', handler: slowlog },
    },
  },
  memory: {
    arity: -2,
    group: 'server',
    handler: (c, argv) => memoryUsage(c, argv),
    sub: {
      usage: { arity: -3, flags: 'readonly', keys: [2, 2, 1], handler: (c, argv) => memoryUsage(c, argv) },
      // Redis asks the allocator to return dirty pages; here a full GC drops garbage from used_memory.
      purge: {
        arity: 2,
        handler: () => {
          collectGarbage();
          return OK;
        },
      },
    },
  },
  debug: {
    arity: -2,
    flags: 'admin noscript loading stale',
    group: 'server',
    handler: (_c, argv, e) => {
      const sub = argv[1]!.toLowerCase();
      if (sub === 'sleep' && argv.length === 3) {
        const s = parseDouble(argv[2]!);
        if (s === null) return E.NOT_FLOAT;
        // DEBUG SLEEP blocks the server on purpose (tests of timeouts and slow logs rely on it).
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, s * 1000);
        return OK;
      }
      if (sub === 'reload' && argv.length === 2) return debugReload(e);
      return err(`ERR unknown subcommand '${argv[1]}'. Try DEBUG HELP.`);
    },
  },
  save: {
    arity: 1,
    flags: 'admin noscript',
    group: 'server',
    handler: (_c, _a, e) => e.hooks.save?.() ?? err('ERR persistence is not configured'),
  },
  bgsave: {
    arity: -1,
    flags: 'admin noscript',
    group: 'server',
    handler: (_c, _a, e) => e.hooks.bgsave?.() ?? err('ERR persistence is not configured'),
  },
  bgrewriteaof: {
    arity: 1,
    flags: 'admin noscript',
    group: 'server',
    handler: (_c, _a, e) => e.hooks.bgrewriteaof?.() ?? err('ERR persistence is not configured'),
  },
  shutdown: {
    arity: -1,
    flags: 'admin noscript loading stale',
    group: 'server',
    handler: (_c, argv, e) => {
      let mode: 'save' | 'nosave' | 'default' = 'default';
      for (const a of argv.slice(1)) {
        const o = a.toLowerCase();
        if (o === 'save') mode = 'save';
        else if (o === 'nosave') mode = 'nosave';
        else if (o !== 'now' && o !== 'force' && o !== 'abort') return E.SYNTAX;
      }
      return e.hooks.shutdown?.(mode) ?? err('ERR Errors trying to SHUTDOWN. Check logs.');
    },
  },
  // Transactions -----------------------------------------------------------------------------------
  multi: {
    arity: 1,
    flags: 'noscript loading stale fast',
    group: 'transactions',
    handler: (c) => {
      if (c.multi) return err('ERR MULTI calls can not be nested');
      c.multi = [];
      c.multiFailed = false;
      return OK;
    },
  },
  exec: {
    arity: 1,
    flags: 'noscript loading stale skip_slowlog',
    group: 'transactions',
    handler: (c, _a, e) => (c.multi ? e.exec(c) : err('ERR EXEC without MULTI')),
  },
  discard: {
    arity: 1,
    flags: 'noscript loading stale fast',
    group: 'transactions',
    handler: (c, _a, e) => {
      if (!c.multi) return err('ERR DISCARD without MULTI');
      c.multi = null;
      c.multiFailed = false;
      e.unwatchAll(c);
      return OK;
    },
  },
  watch: {
    arity: -2,
    flags: 'noscript loading stale fast',
    keys: [1, -1, 1],
    group: 'transactions',
    handler: (c, argv, e) => {
      if (c.multi) return err('ERR WATCH inside MULTI is not allowed');
      for (let i = 1; i < argv.length; i++) e.watch(c, argv[i]!);
      return OK;
    },
  },
  unwatch: {
    arity: 1,
    flags: 'noscript loading stale fast',
    group: 'transactions',
    handler: (c, _a, e) => {
      e.unwatchAll(c);
      return OK;
    },
  },
  // Pub/sub ----------------------------------------------------------------------------------------
  subscribe: {
    arity: -2,
    flags: 'pubsub noscript loading stale',
    group: 'pubsub',
    handler: (c, argv, e) => {
      for (let i = 1; i < argv.length; i++) {
        e.subscribe(c, argv[i]!);
        c.push(subscribeReply('subscribe', argv[i]!, c.subscriptionCount));
      }
      return NO_REPLY;
    },
  },
  unsubscribe: {
    arity: -1,
    flags: 'pubsub noscript loading stale',
    group: 'pubsub',
    handler: (c, argv, e) => {
      const chans = argv.length > 1 ? argv.slice(1) : [...c.channels];
      if (chans.length === 0) c.push(subscribeReply('unsubscribe', null, c.subscriptionCount));
      for (const ch of chans) {
        e.unsubscribe(c, ch);
        c.push(subscribeReply('unsubscribe', ch, c.subscriptionCount));
      }
      return NO_REPLY;
    },
  },
  psubscribe: {
    arity: -2,
    flags: 'pubsub noscript loading stale',
    group: 'pubsub',
    handler: (c, argv, e) => {
      for (let i = 1; i < argv.length; i++) {
        e.psubscribe(c, argv[i]!);
        c.push(subscribeReply('psubscribe', argv[i]!, c.subscriptionCount));
      }
      return NO_REPLY;
    },
  },
  punsubscribe: {
    arity: -1,
    flags: 'pubsub noscript loading stale',
    group: 'pubsub',
    handler: (c, argv, e) => {
      const pats = argv.length > 1 ? argv.slice(1) : [...c.patterns];
      if (pats.length === 0) c.push(subscribeReply('punsubscribe', null, c.subscriptionCount));
      for (const p of pats) {
        e.punsubscribe(c, p);
        c.push(subscribeReply('punsubscribe', p, c.subscriptionCount));
      }
      return NO_REPLY;
    },
  },
  publish: {
    arity: 3,
    flags: 'pubsub loading stale fast',
    group: 'pubsub',
    handler: (_c, argv, e) => e.publish(argv[1]!, argv[2]!),
  },
  pubsub: {
    arity: -2,
    group: 'pubsub',
    handler: pubsubCommand,
    sub: {
      channels: { arity: -2, flags: 'pubsub loading stale', handler: pubsubCommand },
      numsub: { arity: -2, flags: 'pubsub loading stale', handler: pubsubCommand },
      numpat: { arity: 2, flags: 'pubsub loading stale', handler: pubsubCommand },
    },
  },
};

export const serverCommands = defineAll(defs);
