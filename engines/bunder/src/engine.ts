/**
 * The engine: command table dispatch, transactions, pub/sub, WATCH, blocking, keyspace notifications,
 * stats and the slow log. It is synchronous and transport-free: the TCP server and the embedded API both
 * drive it through `execute(client, argv)`.
 */
import { EventEmitter } from 'node:events';
import { type BlockState, Client } from './client.js';
import { BLOCKED, type CommandSpec, commandKeys } from './commands/table.js';
import { Config } from './config.js';
import { Evictor, trackingFor } from './eviction.js';
import { Keyspace } from './keyspace.js';
import { arityError, E, ErrorReply, NULL_ARRAY, PushReply, QUEUED, type Reply } from './reply.js';
import { globMatch } from './util/glob.js';

/** One keyspace change, as delivered to in-process listeners (`on('keyspace')`). */
export interface KeyspaceEvent {
  readonly db: number;
  /** The event name Redis publishes, e.g. "set", "del", "expired", "lpush". */
  readonly event: string;
  /** The key as a Buffer (keys are binary safe). */
  readonly key: Buffer;
}

export interface SlowlogEntry {
  readonly id: number;
  readonly time: number;
  readonly durationUs: number;
  readonly argv: string[];
  readonly addr: string;
  readonly name: string;
}

/** A command applied to the data, for the AOF: its database and its arguments (already made absolute). */
export type PropagateHook = (db: number, argv: readonly string[]) => void;

const PUBSUB_ALLOWED = new Set([
  'subscribe',
  'unsubscribe',
  'psubscribe',
  'punsubscribe',
  'ping',
  'quit',
  'reset',
]);
const MULTI_IMMEDIATE = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);
const NO_AUTH_NEEDED = new Set(['auth', 'hello', 'quit']);

export class Engine extends EventEmitter {
  readonly ks: Keyspace;
  readonly config: Config;
  /** Set by the first OBJECT IDLETIME: from then on, idle times are kept under every policy. */
  idleTimesWanted = false;
  readonly commands = new Map<string, CommandSpec>();
  readonly clients = new Map<number, Client>();
  readonly channels = new Map<string, Set<Client>>();
  readonly patterns = new Map<string, Set<Client>>();
  private readonly watchers = new Map<string, Set<Client>>();
  private readonly blockedOn = new Map<string, Client[]>();
  private readonly readyKeys = new Set<string>();
  private nextClientId = 1;
  /** Changes since the last save (for `save` points and INFO). */
  dirty = 0;
  lastSave = Math.floor(Date.now() / 1000);
  readonly startTime = Date.now();
  readonly stats = {
    commands: 0,
    connections: 0,
    rejectedConnections: 0,
    keyspaceHits: 0,
    keyspaceMisses: 0,
    pubsubMessages: 0,
    netInput: 0,
    netOutput: 0,
    evictedKeys: 0,
    errorReplies: 0,
  };
  readonly commandStats = new Map<string, { calls: number; usec: number; failed: number }>();
  readonly slowlog: SlowlogEntry[] = [];
  private slowlogId = 0;
  private notifyFlags = '';
  private slowlogThreshold = 10000;
  /** Argument vector to write to the AOF instead of the command itself (set by handlers). */
  propagateAs: string[][] | null = null;
  propagate: PropagateHook | null = null;
  /** Hooks provided by the host (persistence, shutdown) for SAVE, BGSAVE, SHUTDOWN, … */
  hooks: {
    save?: () => Reply;
    bgsave?: () => Reply;
    bgrewriteaof?: () => Reply;
    shutdown?: (mode: 'save' | 'nosave' | 'default') => Reply;
    persistenceInfo?: () => Record<string, string | number>;
    serverInfo?: () => Record<string, string | number>;
  } = {};
  /**
   * Set by the persistence host: called before replies to a batch of commands are sent; a promise means
   * "send them once it settles" (appendfsync always), a rejection means "never acknowledge them".
   */
  writeBarrier: (() => Promise<void> | null) | null = null;
  /** When set (a failed AOF write or background save), commands that write are refused with it. */
  denyWrites: ErrorReply | null = null;
  /** The maxmemory limit in bytes (0: none), kept in step with CONFIG SET. */
  private maxmemory = 0;
  readonly evictor = new Evictor(this);
  /** True while EXEC runs queued commands (blocking commands must not block then). */
  inExec = false;
  private depth = 0;
  private lastLookup = '';
  private lastSpec: CommandSpec | undefined;
  private clockAnchoredAt = performance.now();
  private clockOffset = Date.now() - this.clockAnchoredAt;

  constructor(specs: readonly CommandSpec[], config = new Config()) {
    super();
    this.config = config;
    this.ks = new Keyspace(config.int('databases'));
    for (const spec of specs) {
      this.commands.set(spec.name, spec);
      this.commands.set(spec.name.toUpperCase(), spec);
    }
    this.notifyFlags = config.get('notify-keyspace-events');
    this.ks.onExpire = (db, key) => {
      this.signalModified(db, key);
      this.notify('x', 'expired', key, db);
      this.propagate?.(db, ['DEL', key]);
    };
    this.slowlogThreshold = config.int('slowlog-log-slower-than');
    this.maxmemory = config.int('maxmemory');
    this.ks.setTracking(trackingFor(config.get('maxmemory-policy'), false));
    this.ks.lfuLogFactor = config.int('lfu-log-factor');
    this.ks.lfuDecayTime = config.int('lfu-decay-time');
    config.onChange = (name, value) => {
      if (name === 'lfu-log-factor') this.ks.lfuLogFactor = config.int('lfu-log-factor');
      if (name === 'lfu-decay-time') this.ks.lfuDecayTime = config.int('lfu-decay-time');
      if (name === 'notify-keyspace-events') this.notifyFlags = value;
      if (name === 'slowlog-log-slower-than') this.slowlogThreshold = Number(value);
      if (name === 'maxmemory') this.maxmemory = config.int('maxmemory');
      if (name === 'maxmemory-policy') this.ks.setTracking(trackingFor(value, this.idleTimesWanted));
    };
  }

  newClient(): Client {
    const c = new Client(this.nextClientId++, this.config.get('requirepass') !== '');
    c.db = this.ks.dbs[0]!;
    this.clients.set(c.id, c);
    return c;
  }

  /** Forgets a disconnected client: its subscriptions, watches and blocking. */
  removeClient(c: Client): void {
    this.unwatchAll(c);
    this.unblock(c);
    for (const ch of c.channels) this.unsubscribe(c, ch, false);
    for (const p of c.patterns) this.punsubscribe(c, p, false);
    this.clients.delete(c.id);
  }

  lookup(name: string): CommandSpec | undefined {
    // Clients mostly repeat one command: comparing a few chars is cheaper than hashing a fresh string.
    if (name === this.lastLookup && this.lastSpec) return this.lastSpec;
    const spec = this.commands.get(name) ?? this.commands.get(name.toLowerCase());
    if (spec) {
      this.lastLookup = name;
      this.lastSpec = spec;
    }
    return spec;
  }

  /**
   * Runs one command for a client. Returns the reply, or undefined when the client blocked (the reply
   * will come through `client.push`).
   */
  execute(c: Client, argv: string[]): Reply | undefined {
    const start = performance.now();
    c.lastInteraction = this.wallClock(start);
    const spec = this.lookup(argv[0]!);
    if (!spec) {
      if (c.multi) c.multiFailed = true;
      return this.fail(unknownCommand(argv));
    }
    if ((spec.arity > 0 && argv.length !== spec.arity) || argv.length < -spec.arity) {
      if (c.multi) c.multiFailed = true;
      return this.fail(arityError(spec.name));
    }
    let target = spec;
    if (spec.subcommands) {
      const sub = spec.subcommands.get(argv[1]!.toLowerCase());
      if (!sub) {
        if (c.multi) c.multiFailed = true;
        return this.fail(
          new ErrorReply(`ERR unknown subcommand '${clip(argv[1]!)}'. Try ${spec.name.toUpperCase()} HELP.`),
        );
      }
      if ((sub.arity > 0 && argv.length !== sub.arity) || argv.length < -sub.arity) {
        if (c.multi) c.multiFailed = true;
        return this.fail(arityError(sub.name));
      }
      target = sub;
    }
    if (!c.authenticated && !NO_AUTH_NEEDED.has(spec.name)) return this.fail(E.NOAUTH);
    if (this.denyWrites !== null && target.flags.includes('write')) {
      if (c.multi) c.multiFailed = true;
      return this.fail(this.denyWrites);
    }
    if (this.maxmemory > 0 && target.flags.includes('denyoom')) {
      const oom = this.evictor.beforeWrite(this.maxmemory);
      if (oom) {
        if (c.multi) c.multiFailed = true;
        return this.fail(oom);
      }
    }
    if (c.multi && !MULTI_IMMEDIATE.has(spec.name)) {
      c.multi.push(argv);
      return QUEUED;
    }
    if (c.resp === 2 && c.subscriptionCount > 0 && !PUBSUB_ALLOWED.has(spec.name)) {
      return this.fail(
        new ErrorReply(
          `ERR Can't execute '${target.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
        ),
      );
    }
    return this.call(c, target, argv, start);
  }

  /**
   * Wall-clock ms from a monotonic reading (performance.now()). A command reads the clock once: its
   * time (`ks.now`, like Redis's cached mstime) and the start of its duration come from that reading.
   * The offset is taken from Date.now() again every 100 ms, so a wall-clock step shows that quickly.
   */
  private wallClock(monotonic: number): number {
    if (monotonic - this.clockAnchoredAt > 100) {
      this.clockAnchoredAt = performance.now();
      this.clockOffset = Date.now() - this.clockAnchoredAt;
    }
    return Math.floor(this.clockOffset + monotonic);
  }

  /** Runs a command that passed all checks (also used by EXEC for queued commands). */
  call(c: Client, spec: CommandSpec, argv: string[], start = performance.now()): Reply | undefined {
    const ks = this.ks;
    ks.now = this.wallClock(start);
    c.db = ks.dbs[c.dbIndex]!;
    c.lastCommand = spec.name;
    const dirtyBefore = this.dirty;
    this.propagateAs = null;
    this.depth++;
    let reply: Reply | typeof BLOCKED;
    try {
      reply = spec.handler(c, argv, this);
    } catch (e) {
      reply = new ErrorReply(`ERR ${(e as Error).message}`);
    } finally {
      this.depth--;
    }
    const usec = Math.round((performance.now() - start) * 1000);
    this.stats.commands++;
    let st = this.commandStats.get(spec.name);
    if (!st) {
      st = { calls: 0, usec: 0, failed: 0 };
      this.commandStats.set(spec.name, st);
    }
    st.calls++;
    st.usec += usec;
    if (this.slowlogThreshold >= 0 && usec >= this.slowlogThreshold) this.logSlow(c, argv, usec);
    if (this.dirty !== dirtyBefore && this.propagate) {
      const out = this.propagateAs as string[][] | null;
      if (out) for (const a of out) this.propagate(c.dbIndex, a);
      else this.propagate(c.dbIndex, argv);
    }
    this.propagateAs = null;
    if (reply === BLOCKED) return undefined;
    if (reply instanceof ErrorReply) {
      st.failed++;
      this.stats.errorReplies++;
    }
    if (this.depth === 0 && !this.inExec && this.readyKeys.size > 0) this.serveBlocked();
    return reply;
  }

  private fail(e: ErrorReply): ErrorReply {
    this.stats.errorReplies++;
    return e;
  }

  private logSlow(c: Client, argv: string[], usec: number): void {
    const max = this.config.int('slowlog-max-len');
    const args = argv.length > 32 ? [...argv.slice(0, 31), `... (${argv.length - 31} more arguments)`] : argv;
    this.slowlog.unshift({
      id: this.slowlogId++,
      time: Math.floor(Date.now() / 1000),
      durationUs: usec,
      // A copied prefix: a slice of a big argument would keep the whole argument alive.
      argv: args.map((a) =>
        a.length > 128
          ? `${Buffer.from(a.slice(0, 128), 'latin1').toString('latin1')}... (${a.length - 128} more bytes)`
          : a,
      ),
      addr: c.addr,
      name: c.name,
    });
    if (this.slowlog.length > max) this.slowlog.length = Math.max(0, max);
  }

  /** EXEC: runs the queued commands atomically, or fails on WATCH/queue errors. */
  exec(c: Client): Reply {
    const queued = c.multi!;
    c.multi = null;
    if (c.multiFailed) {
      c.multiFailed = false;
      this.unwatchAll(c);
      return new ErrorReply('EXECABORT Transaction discarded because of previous errors.');
    }
    if (c.casDirty) {
      this.unwatchAll(c);
      return NULL_ARRAY;
    }
    this.unwatchAll(c);
    const replies: Reply[] = [];
    this.inExec = true;
    try {
      for (const argv of queued) {
        const spec = this.lookup(argv[0]!)!;
        const target = spec.subcommands?.get(argv[1]!.toLowerCase()) ?? spec;
        const r = this.call(c, target, argv);
        // A blocking command inside MULTI behaves as if it timed out immediately.
        replies.push(r === undefined ? NULL_ARRAY : r);
        if (c.blocked) this.unblock(c);
      }
    } finally {
      this.inExec = false;
    }
    if (this.readyKeys.size > 0) this.serveBlocked();
    return replies;
  }

  // WATCH ----------------------------------------------------------------------------------------

  watch(c: Client, key: string): void {
    const id = `${c.dbIndex}\0${key}`;
    if (c.watching.has(id)) return;
    c.watching.add(id);
    let set = this.watchers.get(id);
    if (!set) {
      set = new Set();
      this.watchers.set(id, set);
    }
    set.add(c);
  }

  unwatchAll(c: Client): void {
    for (const id of c.watching) {
      const set = this.watchers.get(id);
      if (set) {
        set.delete(c);
        if (set.size === 0) this.watchers.delete(id);
      }
    }
    c.watching.clear();
    c.casDirty = false;
  }

  /** A key's value changed: invalidate WATCHes on it. */
  signalModified(db: number, key: string): void {
    // Clients blocked on the key re-check it (a deleted or overwritten stream ends XREADGROUP waits).
    this.signalReady(db, key);
    if (this.watchers.size === 0) return;
    const set = this.watchers.get(`${db}\0${key}`);
    if (set) for (const c of set) c.casDirty = true;
  }

  /** Every database was emptied (FLUSHALL/FLUSHDB/SWAPDB): invalidate WATCHes on keys that existed. */
  signalFlush(db: number | null): void {
    if (this.watchers.size === 0) return;
    for (const [id, set] of this.watchers) {
      if (db === null || id.startsWith(`${db}\0`)) for (const c of set) c.casDirty = true;
    }
  }

  /**
   * Records a write: counts it for persistence, invalidates WATCHes and emits the keyspace event.
   * `cls` is the notification class letter (g $ l s h z x e t).
   */
  changed(c: Client, key: string, event: string, cls: string, n = 1): void {
    this.dirty += n;
    this.signalModified(c.dbIndex, key);
    this.notify(cls, event, key, c.dbIndex);
  }

  /** Keyspace notifications: pub/sub per `notify-keyspace-events`, and in-process listeners. */
  notify(cls: string, event: string, key: string, db: number): void {
    if (this.listenerCount('keyspace') > 0) {
      this.emit('keyspace', { db, event, key: Buffer.from(key, 'latin1') } satisfies KeyspaceEvent);
    }
    const flags = this.notifyFlags;
    if (flags === '') return;
    if (!(flags.includes(cls) || (flags.includes('A') && 'g$lshzxet'.includes(cls)))) return;
    if (flags.includes('K')) this.publish(`__keyspace@${db}__:${key}`, event);
    if (flags.includes('E')) this.publish(`__keyevent@${db}__:${event}`, key);
  }

  // Pub/sub --------------------------------------------------------------------------------------

  subscribe(c: Client, channel: string): void {
    if (c.channels.has(channel)) return;
    c.channels.add(channel);
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(c);
  }

  unsubscribe(c: Client, channel: string, removeFromClient = true): boolean {
    const had = c.channels.has(channel);
    if (removeFromClient) c.channels.delete(channel);
    const set = this.channels.get(channel);
    if (set) {
      set.delete(c);
      if (set.size === 0) this.channels.delete(channel);
    }
    return had;
  }

  psubscribe(c: Client, pattern: string): void {
    if (c.patterns.has(pattern)) return;
    c.patterns.add(pattern);
    let set = this.patterns.get(pattern);
    if (!set) {
      set = new Set();
      this.patterns.set(pattern, set);
    }
    set.add(c);
  }

  punsubscribe(c: Client, pattern: string, removeFromClient = true): boolean {
    const had = c.patterns.has(pattern);
    if (removeFromClient) c.patterns.delete(pattern);
    const set = this.patterns.get(pattern);
    if (set) {
      set.delete(c);
      if (set.size === 0) this.patterns.delete(pattern);
    }
    return had;
  }

  /** Delivers a message; returns the number of receiving clients. */
  publish(channel: string, message: string): number {
    let n = 0;
    const subs = this.channels.get(channel);
    if (subs) {
      for (const c of subs) {
        c.push(new PushReply(['message', channel, message]));
        n++;
      }
    }
    if (this.patterns.size > 0) {
      for (const [pattern, set] of this.patterns) {
        if (!globMatch(pattern, channel)) continue;
        for (const c of set) {
          c.push(new PushReply(['pmessage', pattern, channel, message]));
          n++;
        }
      }
    }
    this.stats.pubsubMessages++;
    return n;
  }

  // Blocking -------------------------------------------------------------------------------------

  block(c: Client, state: BlockState): typeof BLOCKED {
    c.blocked = state;
    for (const key of state.keys) {
      const id = `${state.dbIndex}\0${key}`;
      let q = this.blockedOn.get(id);
      if (!q) {
        q = [];
        this.blockedOn.set(id, q);
      }
      q.push(c);
    }
    return BLOCKED;
  }

  unblock(c: Client): void {
    const state = c.blocked;
    if (!state) return;
    c.blocked = null;
    for (const key of state.keys) {
      const id = `${state.dbIndex}\0${key}`;
      const q = this.blockedOn.get(id);
      if (!q) continue;
      const i = q.indexOf(c);
      if (i >= 0) q.splice(i, 1);
      if (q.length === 0) this.blockedOn.delete(id);
    }
  }

  /** A key that blocked clients may wait on received data (list/zset/stream push). */
  signalReady(db: number, key: string): void {
    if (this.blockedOn.size === 0) return;
    const id = `${db}\0${key}`;
    if (this.blockedOn.has(id)) this.readyKeys.add(id);
  }

  /** After SWAPDB: every blocked key of that db that now holds data is ready. */
  signalReadyAll(db: number): void {
    const prefix = `${db}\0`;
    for (const id of this.blockedOn.keys()) {
      if (id.startsWith(prefix) && this.ks.dbs[db]!.has(id.slice(prefix.length))) this.readyKeys.add(id);
    }
  }

  /** Serves clients blocked on keys that became ready, first come first served. */
  private serveBlocked(): void {
    while (this.readyKeys.size > 0) {
      const ids = [...this.readyKeys];
      this.readyKeys.clear();
      for (const id of ids) {
        const q = this.blockedOn.get(id);
        if (!q) continue;
        for (const c of [...q]) {
          const state = c.blocked;
          if (!state) continue;
          this.ks.now = Date.now();
          c.db = this.ks.dbs[c.dbIndex]!;
          this.depth++;
          let r: Reply | undefined;
          try {
            r = state.retry();
          } finally {
            this.depth--;
          }
          if (r === undefined) continue;
          this.unblock(c);
          c.push(r);
        }
      }
    }
  }

  /** Times out blocked clients whose deadline passed (called by the server's timer). */
  expireBlocked(now = Date.now()): void {
    for (const c of this.clients.values()) {
      const b = c.blocked;
      if (b && b.deadline > 0 && b.deadline <= now) {
        this.unblock(c);
        c.push(b.onTimeout);
      }
    }
  }

  /** Unblocks a client as CLIENT UNBLOCK does: with the timeout reply, or an error. */
  forceUnblock(c: Client, error: boolean): boolean {
    const b = c.blocked;
    if (!b) return false;
    this.unblock(c);
    c.push(error ? new ErrorReply('UNBLOCKED client unblocked via CLIENT UNBLOCK') : b.onTimeout);
    return true;
  }

  keysOf(spec: CommandSpec, argv: readonly string[]): string[] {
    return commandKeys(spec, argv);
  }
}

/** Like C's "%.128s": at most 128 bytes, and a NUL byte ends the string. */
function clip(s: string, max = 128): string {
  const nul = s.indexOf('\0');
  const t = nul >= 0 ? s.slice(0, nul) : s;
  return t.length > max ? t.slice(0, max) : t;
}

/** Redis 7's wording, including the quoted leading arguments (at most ~128 chars of them). */
function unknownCommand(argv: string[]): ErrorReply {
  let args = '';
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    args += `'${clip(argv[i]!, 128 - args.length)}' `;
  }
  return new ErrorReply(`ERR unknown command '${clip(argv[0]!)}', with args beginning with: ${args}`);
}
