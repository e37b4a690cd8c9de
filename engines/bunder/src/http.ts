/**
 * bunder over HTTP (`bunder-server --http PORT`, and bunder-manager behind it): binary-safe values by key,
 * SCAN as a paged listing, any command as a JSON array, health and Prometheus metrics. Errors are JSON
 * `{ "error": { "code", "message" } }`. With requirepass set, every route but /health needs
 * `Authorization: Bearer <password>` (compared in constant time).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type CallResult, ReplyError, toResult } from './bunder.js';
import type { Engine } from './engine.js';
import type { Reply } from './reply.js';

export interface HttpOptions {
  port?: number;
  host?: string;
  /** Largest request body accepted (default 64 MiB; values are capped by proto-max-bulk-len too). */
  maxBodyBytes?: number;
}

/** Commands that hold per-connection state or stream replies make no sense over stateless HTTP. */
const REFUSED = new Set([
  'select',
  'multi',
  'exec',
  'discard',
  'watch',
  'unwatch',
  'subscribe',
  'psubscribe',
  'unsubscribe',
  'punsubscribe',
  'quit',
  'reset',
  'hello',
  'auth',
  'client',
  'monitor',
  'sync',
  'psync',
  'shutdown',
]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A reply as JSON: bulk strings as UTF-8 text when they are valid UTF-8, otherwise `{ base64 }`. */
export function replyToJson(r: CallResult): unknown {
  if (Buffer.isBuffer(r)) {
    const text = r.toString('utf8');
    return Buffer.from(text, 'utf8').equals(r) ? text : { base64: r.toString('base64') };
  }
  if (typeof r === 'bigint') return r.toString();
  if (Array.isArray(r)) return r.map(replyToJson);
  if (r instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of r) o[k] = replyToJson(v);
    return o;
  }
  return r;
}

/** Percent-decoding to bytes, so that keys need not be UTF-8 (`%FF` is the byte 0xff). */
export function percentDecode(s: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x25) {
      out.push(b);
      continue;
    }
    const hex = raw.toString('latin1', i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex))
      throw new HttpError(400, 'BAD_REQUEST', 'invalid percent-encoding in the key');
    out.push(Number.parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(out);
}

function errorCode(message: string): string {
  const word = /^[A-Z]+/.exec(message)?.[0];
  return word && word !== 'ERR' ? word : 'ERR';
}

export class HttpFrontend {
  private readonly server: Server;
  private readonly maxBody: number;

  constructor(
    private readonly engine: Engine,
    options: HttpOptions = {},
  ) {
    this.maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<{ port: number; host: string }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as { port: number; address: string };
        resolve({ port: a.port, host: a.address });
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Runs one command on a fresh client in database `db`; blocking commands time out at once. */
  private async run(db: number, argv: string[]): Promise<CallResult> {
    const e = this.engine;
    const spec = e.lookup(argv[0]!);
    if (spec && REFUSED.has(spec.name)) {
      throw new HttpError(400, 'NOT_ALLOWED', `${spec.name.toUpperCase()} is not available over HTTP`);
    }
    const c = e.newClient();
    c.authenticated = true;
    c.dbIndex = db;
    let r: Reply | undefined;
    try {
      r = e.execute(c, argv);
      if (r === undefined) {
        const b = c.blocked;
        e.unblock(c);
        r = b ? b.onTimeout : null;
      }
    } finally {
      e.removeClient(c);
    }
    const barrier = e.writeBarrier?.();
    if (barrier) await barrier;
    return toResult(r);
  }

  private authorized(req: IncomingMessage): boolean {
    const pass = this.engine.config.get('requirepass');
    if (pass === '') return true;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
    return timingSafeEqual(digest(m[1]!), digest(pass));
  }

  private database(url: URL): number {
    const raw = url.searchParams.get('db') ?? '0';
    const db = Number(raw);
    if (!/^\d+$/.test(raw) || db >= this.engine.ks.dbs.length) {
      throw new HttpError(
        400,
        'BAD_REQUEST',
        `db must be an integer from 0 to ${this.engine.ks.dbs.length - 1}`,
      );
    }
    return db;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bunder');
    const path = url.pathname;
    if (path === '/health') return this.json(res, 200, { status: 'ok' });
    if (!this.authorized(req)) throw new HttpError(401, 'NOAUTH', 'Authentication required');
    if (path === '/metrics' && req.method === 'GET') return this.metrics(res);
    if (path.startsWith('/kv/')) {
      const key = percentDecode(path.slice(4)).toString('latin1');
      if (key === '') throw new HttpError(400, 'BAD_REQUEST', 'empty key');
      const db = this.database(url);
      if (req.method === 'GET') {
        const v = await this.run(db, ['GET', key]);
        if (v instanceof ReplyError) throw v;
        if (v === null) throw new HttpError(404, 'NOT_FOUND', 'no such key');
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': (v as Buffer).length,
        });
        res.end(v);
        return;
      }
      if (req.method === 'PUT') {
        const body = await this.body(req);
        const argv = ['SET', key, body.toString('latin1')];
        const ex = url.searchParams.get('ex');
        if (ex !== null) argv.push('EX', ex);
        const r = await this.run(db, argv);
        if (r instanceof ReplyError) throw r;
        return this.json(res, 200, { ok: true });
      }
      if (req.method === 'DELETE') {
        const r = await this.run(db, ['DEL', key]);
        if (r instanceof ReplyError) throw r;
        return this.json(res, 200, { deleted: r });
      }
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on /kv/{key}`);
    }
    if (path === '/keys' && req.method === 'GET') {
      const cursor = url.searchParams.get('cursor') ?? '0';
      const argv = ['SCAN', cursor, 'MATCH', url.searchParams.get('pattern') ?? '*'];
      const count = url.searchParams.get('count');
      if (count !== null) argv.push('COUNT', count);
      const r = await this.run(this.database(url), argv);
      if (r instanceof ReplyError) throw r;
      const [next, keys] = r as [Buffer, Buffer[]];
      return this.json(res, 200, { cursor: next.toString(), keys: keys.map(replyToJson) });
    }
    if (path === '/cmd' && req.method === 'POST') {
      let argv: unknown;
      try {
        argv = JSON.parse((await this.body(req)).toString('utf8'));
      } catch {
        throw new HttpError(400, 'BAD_REQUEST', 'the body must be a JSON array of strings');
      }
      if (
        !Array.isArray(argv) ||
        argv.length === 0 ||
        !argv.every((a) => typeof a === 'string' || (typeof a === 'number' && Number.isFinite(a)))
      ) {
        throw new HttpError(
          400,
          'BAD_REQUEST',
          'the body must be a non-empty JSON array of strings or numbers',
        );
      }
      const args = argv.map((a: string | number) => Buffer.from(String(a), 'utf8').toString('latin1'));
      const r = await this.run(this.database(url), args);
      if (r instanceof ReplyError) throw r;
      return this.json(res, 200, { result: replyToJson(r) });
    }
    throw new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${path}`);
  }

  private body(req: IncomingMessage): Promise<Buffer> {
    const limit = Math.min(this.maxBody, this.engine.config.int('proto-max-bulk-len'));
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return Promise.reject(new HttpError(413, 'TOO_LARGE', `body over ${limit} bytes`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (d: Buffer) => {
        size += d.length;
        if (size > limit) {
          reject(new HttpError(413, 'TOO_LARGE', `body over ${limit} bytes`));
          req.destroy();
          return;
        }
        chunks.push(d);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private metrics(res: ServerResponse): void {
    const e = this.engine;
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    metric('bunder_commands_processed_total', 'counter', 'Commands executed.', [['', e.stats.commands]]);
    metric('bunder_connections_received_total', 'counter', 'Connections accepted.', [
      ['', e.stats.connections],
    ]);
    metric('bunder_connected_clients', 'gauge', 'Clients connected.', [['', e.clients.size]]);
    metric('bunder_keyspace_hits_total', 'counter', 'Successful key lookups.', [['', e.stats.keyspaceHits]]);
    metric('bunder_keyspace_misses_total', 'counter', 'Failed key lookups.', [['', e.stats.keyspaceMisses]]);
    metric('bunder_expired_keys_total', 'counter', 'Keys removed by expiry.', [['', e.ks.expiredKeys]]);
    metric('bunder_evicted_keys_total', 'counter', 'Keys evicted by maxmemory.', [['', e.stats.evictedKeys]]);
    metric('bunder_error_replies_total', 'counter', 'Error replies sent.', [['', e.stats.errorReplies]]);
    metric(
      'bunder_db_keys',
      'gauge',
      'Keys per database.',
      e.ks.dbs.filter((d) => d.size > 0).map((d) => [`{db="${d.id}"}`, d.size]),
    );
    metric('bunder_process_resident_memory_bytes', 'gauge', 'Resident set size.', [
      ['', process.memoryUsage().rss],
    ]);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private fail(res: ServerResponse, e: unknown): void {
    let status = 500;
    let code = 'INTERNAL';
    let message = 'internal error';
    if (e instanceof HttpError) {
      status = e.status;
      code = e.code;
      message = e.message;
    } else if (e instanceof ReplyError) {
      status = 400;
      code = errorCode(e.message);
      message = e.message;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.json(res, status, { error: { code, message } });
  }
}
