/**
 * The embedded API: an engine in this process, commands by `call()`, typed helpers, an optional RESP
 * listener, and in-process keyspace events.
 */
import { EventEmitter } from 'node:events';
import type { Client } from './client.js';
import { allCommands } from './commands/index.js';
import { Config } from './config.js';
import { Engine, type KeyspaceEvent } from './engine.js';
import { HttpFrontend, type HttpOptions } from './http.js';
import { PersistenceHost } from './persistence/host.js';
import {
  DoubleReply,
  ErrorReply,
  MapReply,
  NullArrayReply,
  PushReply,
  RawReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimReply,
} from './reply.js';
import { type ListenOptions, RespServer } from './server.js';

export interface BunderOptions {
  dir?: string;
  appendonly?: boolean;
  appendfsync?: 'always' | 'everysec' | 'no';
  save?: Array<[seconds: number, changes: number]>;
  databases?: number;
  maxmemory?: number | string;
  maxmemoryPolicy?: string;
  requirepass?: string;
  /** Any other redis.conf directive, by name. */
  config?: Record<string, string>;
}

/** What `call()` resolves to: bulk strings as Buffers, statuses as strings, errors as Error values. */
export type CallResult =
  | Buffer
  | string
  | number
  | bigint
  | null
  | Error
  | CallResult[]
  | Map<string, CallResult>;

export class ReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

export interface SetOptions {
  EX?: number;
  PX?: number;
  EXAT?: number;
  PXAT?: number;
  NX?: boolean;
  XX?: boolean;
  KEEPTTL?: boolean;
  GET?: boolean;
}

type Arg = string | Buffer | number;

function toArg(a: Arg): string {
  if (typeof a === 'string') {
    // ASCII strings are already their own latin1 form; others are encoded as UTF-8 bytes.
    return /^[\x00-\x7f]*$/.test(a) ? a : Buffer.from(a, 'utf8').toString('latin1');
  }
  if (typeof a === 'number') return String(a);
  return a.toString('latin1');
}

/** Converts an engine reply to the embedded result shape. */
export function toResult(r: Reply): CallResult {
  if (typeof r === 'string') return Buffer.from(r, 'latin1');
  if (typeof r === 'number' || typeof r === 'bigint' || r === null) return r;
  if (Array.isArray(r)) return r.map(toResult);
  if (r instanceof SimpleString) return r.value;
  if (r instanceof ErrorReply) return new ReplyError(r.message);
  if (r instanceof DoubleReply) return r.value;
  if (r instanceof MapReply) {
    const m = new Map<string, CallResult>();
    for (let i = 0; i + 1 < r.items.length; i += 2) {
      const k = r.items[i]!;
      m.set(
        typeof k === 'string' ? Buffer.from(k, 'latin1').toString('utf8') : String(k),
        toResult(r.items[i + 1]!),
      );
    }
    return m;
  }
  if (r instanceof SetReply || r instanceof PushReply) return r.items.map(toResult);
  if (r instanceof VerbatimReply) return r.value;
  if (r instanceof NullArrayReply) return null;
  if (r instanceof RawReply) return r.bytes;
  return null;
}

export class Bunder extends EventEmitter {
  readonly engine: Engine;
  private readonly client: Client;
  private server: RespServer | null = null;
  private http: HttpFrontend | null = null;
  /** The AOF/RDB files, when the store was opened with a `dir` (null: memory only). */
  readonly persistence: PersistenceHost | null;
  private expiryTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(engine: Engine, persistence: PersistenceHost | null) {
    super();
    this.engine = engine;
    this.persistence = persistence;
    this.client = engine.newClient();
    this.client.authenticated = true;
    // Forward keyspace events only while someone listens: the engine builds an event per write otherwise.
    const forward = (ev: KeyspaceEvent) => this.emit('keyspace', ev);
    this.on('newListener', (event: string | symbol) => {
      if (event === 'keyspace' && this.listenerCount('keyspace') === 0) engine.on('keyspace', forward);
    });
    this.on('removeListener', (event: string | symbol) => {
      if (event === 'keyspace' && this.listenerCount('keyspace') === 0) engine.off('keyspace', forward);
    });
    // Active expiry runs `hz` times a second with a small time budget per run.
    const hz = Math.max(1, Math.min(500, engine.config.int('hz')));
    this.expiryTimer = setInterval(
      () => engine.ks.activeExpire(Math.max(1, Math.floor(250 / hz))),
      1000 / hz,
    );
    this.expiryTimer.unref();
  }

  static async open(opts: BunderOptions = {}): Promise<Bunder> {
    const config = new Config();
    const set = (k: string, v: string | undefined) => {
      if (v !== undefined) config.set(k, v, true);
    };
    for (const [k, v] of Object.entries(opts.config ?? {})) set(k, v);
    set('dir', opts.dir);
    set('appendonly', opts.appendonly === undefined ? undefined : opts.appendonly ? 'yes' : 'no');
    set('appendfsync', opts.appendfsync);
    set('save', opts.save?.map(([s, c]) => `${s} ${c}`).join(' '));
    set('databases', opts.databases === undefined ? undefined : String(opts.databases));
    set('maxmemory', opts.maxmemory === undefined ? undefined : String(opts.maxmemory));
    set('maxmemory-policy', opts.maxmemoryPolicy);
    set('requirepass', opts.requirepass);
    const engine = new Engine(allCommands, config);
    // With a directory the store is durable (load at start, AOF/RDB per config); without, memory only.
    const durable = opts.dir !== undefined || opts.config?.dir !== undefined;
    if (!durable && opts.appendonly) throw new Error('appendonly needs a dir to write the AOF to');
    const persistence = durable ? await PersistenceHost.open(engine) : null;
    return new Bunder(engine, persistence);
  }

  /** Runs any command; the reply is returned (errors as ReplyError values, not thrown). */
  async call(...args: Arg[]): Promise<CallResult> {
    const result = this.callSync(...args);
    // Resolve only once the command is as durable as appendfsync asks (fsynced under `always`).
    const barrier = this.engine.writeBarrier?.();
    if (barrier) await barrier;
    return result;
  }

  /** The synchronous form of `call` (the engine never waits on I/O for a command). */
  callSync(...args: Arg[]): CallResult {
    if (this.closed) throw new Error('bunder is closed');
    if (args.length === 0) throw new TypeError('call() needs a command name');
    const argv = args.map(toArg);
    const r = this.engine.execute(this.client, argv);
    if (r === undefined) {
      // Blocking commands cannot wait on the embedded client: behave as if they timed out.
      const b = this.client.blocked;
      this.engine.unblock(this.client);
      return b ? toResult(b.onTimeout) : null;
    }
    return toResult(r);
  }

  /** Like call(), but throws ReplyError for error replies. */
  private must(...args: Arg[]): CallResult {
    const r = this.callSync(...args);
    if (r instanceof ReplyError) throw r;
    return r;
  }

  async get(key: Arg): Promise<Buffer | null> {
    return this.must('GET', key) as Buffer | null;
  }

  async set(key: Arg, value: Arg, opts: SetOptions = {}): Promise<string | Buffer | null> {
    const args: Arg[] = ['SET', key, value];
    if (opts.EX !== undefined) args.push('EX', opts.EX);
    if (opts.PX !== undefined) args.push('PX', opts.PX);
    if (opts.EXAT !== undefined) args.push('EXAT', opts.EXAT);
    if (opts.PXAT !== undefined) args.push('PXAT', opts.PXAT);
    if (opts.NX) args.push('NX');
    if (opts.XX) args.push('XX');
    if (opts.KEEPTTL) args.push('KEEPTTL');
    if (opts.GET) args.push('GET');
    return this.must(...args) as string | Buffer | null;
  }

  async del(...keys: Arg[]): Promise<number> {
    return this.must('DEL', ...keys) as number;
  }

  async exists(...keys: Arg[]): Promise<number> {
    return this.must('EXISTS', ...keys) as number;
  }

  async incr(key: Arg): Promise<number> {
    return this.must('INCR', key) as number;
  }

  async incrby(key: Arg, by: number): Promise<number> {
    return this.must('INCRBY', key, by) as number;
  }

  async expire(key: Arg, seconds: number): Promise<number> {
    return this.must('EXPIRE', key, seconds) as number;
  }

  async ttl(key: Arg): Promise<number> {
    return this.must('TTL', key) as number;
  }

  async hset(key: Arg, fields: Record<string, Arg>): Promise<number> {
    const args: Arg[] = ['HSET', key];
    for (const [f, v] of Object.entries(fields)) args.push(f, v);
    return this.must(...args) as number;
  }

  async hget(key: Arg, field: Arg): Promise<Buffer | null> {
    return this.must('HGET', key, field) as Buffer | null;
  }

  async hgetall(key: Arg): Promise<Record<string, Buffer>> {
    const map = this.must('HGETALL', key) as Map<string, Buffer>;
    return Object.fromEntries(map);
  }

  async lpush(key: Arg, ...values: Arg[]): Promise<number> {
    return this.must('LPUSH', key, ...values) as number;
  }

  async rpush(key: Arg, ...values: Arg[]): Promise<number> {
    return this.must('RPUSH', key, ...values) as number;
  }

  async lrange(key: Arg, start: number, stop: number): Promise<Buffer[]> {
    return this.must('LRANGE', key, start, stop) as Buffer[];
  }

  async sadd(key: Arg, ...members: Arg[]): Promise<number> {
    return this.must('SADD', key, ...members) as number;
  }

  async smembers(key: Arg): Promise<Buffer[]> {
    return this.must('SMEMBERS', key) as Buffer[];
  }

  async zadd(key: Arg, ...scoreMembers: Array<[number, Arg]>): Promise<number> {
    const args: Arg[] = ['ZADD', key];
    for (const [s, m] of scoreMembers) args.push(s, m);
    return this.must(...args) as number;
  }

  async zrange(key: Arg, start: number, stop: number): Promise<Buffer[]> {
    return this.must('ZRANGE', key, start, stop) as Buffer[];
  }

  async publish(channel: Arg, message: Arg): Promise<number> {
    return this.must('PUBLISH', channel, message) as number;
  }

  /** Serves RESP on a TCP port (0 picks a free one); resolves with the bound address. */
  async listen(opts: ListenOptions = {}): Promise<{ port: number; host: string }> {
    if (this.server) throw new Error('bunder is already listening');
    this.server = new RespServer(this.engine);
    return this.server.listen(opts);
  }

  /** Serves the HTTP API (GET/PUT/DELETE /kv/{key}, /keys, POST /cmd, /health, /metrics). */
  async listenHttp(opts: HttpOptions = {}): Promise<{ port: number; host: string }> {
    if (this.http) throw new Error('bunder is already serving HTTP');
    this.http = new HttpFrontend(this.engine, opts);
    return this.http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  }

  override on(event: 'keyspace', listener: (ev: KeyspaceEvent) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /**
   * Stops serving and closes the files: the AOF is fsynced, and a final snapshot is written when `save`
   * points are configured or `mode` is 'save' (as SHUTDOWN does); 'nosave' skips it.
   */
  async close(mode: 'save' | 'nosave' | 'default' = 'default'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.expiryTimer);
    await this.server?.close();
    this.server = null;
    await this.http?.close();
    this.http = null;
    try {
      await this.persistence?.close(mode);
    } finally {
      this.engine.removeClient(this.client);
    }
  }
}
