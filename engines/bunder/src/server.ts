/**
 * The RESP server over TCP. Each read is parsed into as many commands as it holds; their replies are
 * encoded into one buffer and leave in a single socket write. A protocol error answers that client
 * and closes its connection only.
 */
import net from 'node:net';
import type { Client } from './client.js';
import type { Engine } from './engine.js';
import type { Reply } from './reply.js';
import { ProtocolError, RespParser } from './resp/parser.js';
import { ReplyBuffer } from './resp/writer.js';

/**
 * Every read lands in one buffer shared by all connections: a read is handed to its connection's parser
 * before the next read starts, and the parser copies out what it keeps.
 */
const READ_BUFFER = 64 * 1024;

/** The fields of an accepted socket that adopt() moves (stable since Node 0.x, not in the typings). */
type SocketInternals = net.Socket & { _handle: unknown; _server: unknown; server: unknown };

export interface ListenOptions {
  port?: number;
  host?: string;
  /** Overrides `requirepass` from the config for this listener's clients. */
  requirepass?: string;
}

export class RespServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private timer: NodeJS.Timeout | null = null;
  /** Hard output-buffer limits per client class, parsed from the config string they came from. */
  private outputLimits = { normal: 0, pubsub: 0 };
  private outputLimitsFrom: string | null = null;
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER);
  /**
   * With an AOF, replies wait for the end of the current I/O phase, as Redis's wait for beforeSleep():
   * the commands of every client served in this phase reach the AOF in one write(2) (or one fsync under
   * `always`), then each client's replies leave in one socket write.
   */
  private readonly deferred: Array<() => void> = [];
  private readonly flushDeferred = (): void => {
    const flushes = this.deferred.splice(0);
    for (const flush of flushes) flush();
  };

  constructor(private readonly engine: Engine) {
    // Paused until accept() decides how the connection is read (see adopt()).
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server.maxConnections = engine.config.int('maxclients');
  }

  async listen(opts: ListenOptions = {}): Promise<{ port: number; host: string }> {
    if (opts.requirepass !== undefined) this.engine.config.set('requirepass', opts.requirepass);
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(opts.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // Blocked-client timeouts and idle timeouts are checked on a coarse timer, like Redis's cron.
    this.timer = setInterval(() => this.cron(), 10);
    this.timer.unref();
    const addr = this.server.address() as net.AddressInfo;
    return { port: addr.port, host: addr.address };
  }

  get address(): net.AddressInfo | null {
    return this.server.address() as net.AddressInfo | null;
  }

  private cron(): void {
    const now = Date.now();
    this.engine.expireBlocked(now);
    const timeout = this.engine.config.int('timeout') * 1000;
    if (timeout > 0) {
      for (const c of this.engine.clients.values()) {
        if (c.fd >= 0 && !c.blocked && c.subscriptionCount === 0 && now - c.lastInteraction > timeout)
          c.kill();
      }
    }
  }

  private accept(accepted: net.Socket): void {
    const e = this.engine;
    const remote = accepted.remoteAddress ?? '';
    if (this.refuseProtected(remote)) {
      const socket = accepted;
      socket.resume();
      socket.end(
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n",
      );
      e.stats.rejectedConnections++;
      return;
    }
    const socket = this.adopt(accepted, (chunk) => onData(chunk));
    socket.setNoDelay(true);
    this.sockets.add(socket);
    e.stats.connections++;
    const c = e.newClient();
    c.addr = `${remote.replace(/^::ffff:/, '')}:${socket.remotePort}`;
    c.laddr = `${(socket.localAddress ?? '').replace(/^::ffff:/, '')}:${socket.localPort}`;
    c.fd = c.id + 7;
    const parser = new RespParser({
      maxBulkLen: e.config.int('proto-max-bulk-len'),
      maxQueryBuffer: e.config.int('client-query-buffer-limit'),
    });
    const out = new ReplyBuffer();
    const commands: string[][] = [];
    // Commands that arrived while the client was blocked; run once it is unblocked.
    const pending: string[][] = [];
    let inBatch = false;
    let closed = false;
    const send = (bytes: Buffer) => {
      if (closed) return;
      e.stats.netOutput += bytes.length;
      socket.write(bytes);
      c.obl = socket.writableLength;
      this.enforceOutputLimit(c, socket);
    };
    // Replies held back until the AOF makes the commands they acknowledge durable (appendfsync always).
    let gate: Promise<void> | null = null;
    const flush = () => {
      const bytes = out.take();
      if (!bytes || closed) return;
      const barrier = e.writeBarrier?.() ?? null;
      if (barrier === null && gate === null) {
        send(bytes);
        return;
      }
      const g: Promise<void> = (gate ?? Promise.resolve())
        .then(() => barrier)
        .then(
          () => {
            if (gate === g) gate = null;
            send(bytes);
          },
          () => close(), // the AOF failed: these commands are not durable, never acknowledge them
        );
      gate = g;
    };
    const close = () => {
      if (closed) return;
      closed = true;
      socket.destroy();
    };
    c.push = (r: Reply) => {
      if (closed) return;
      out.write(r, c.resp === 3);
      if (!inBatch) flush();
    };
    c.kill = () => {
      flush();
      close();
    };
    // After QUIT, SYNC or a protocol error: send what is owed (once durable), then end the connection.
    let closing = false;
    const flushAndEnd = () => {
      flush();
      closing = true;
      const end = () => {
        if (closed) return;
        closed = true;
        socket.end();
      };
      if (gate) void gate.then(end, end);
      else end();
    };
    const onData = (chunk: Buffer) => {
      if (closing) return;
      e.stats.netInput += chunk.length;
      inBatch = true;
      let protocolError: string | null = null;
      try {
        parser.feed(chunk, commands, true);
      } catch (x) {
        if (!(x instanceof ProtocolError)) throw x;
        protocolError = x.reply;
      }
      c.qbuf = parser.buffered;
      for (let i = 0; i < commands.length && !closed; i++) {
        if (c.blocked || pending.length > 0) {
          // A blocked client's later pipelined commands wait until it is served: keep them queued.
          pending.push(...commands.slice(i));
          break;
        }
        this.run(c, commands[i]!, out);
        if (c.closeAfterReply) {
          flushAndEnd();
          break;
        }
      }
      commands.length = 0;
      if (protocolError !== null && !closed && !closing) {
        out.error(protocolError);
        flushAndEnd();
      }
      inBatch = false;
      if (e.writeBarrier) this.flushLater(flush);
      else flush();
    };
    const basePush = c.push;
    c.push = (r: Reply) => {
      basePush(r);
      if (!c.blocked && pending.length > 0 && !inBatch) {
        inBatch = true;
        while (pending.length > 0 && !c.blocked && !closed) this.run(c, pending.shift()!, out);
        inBatch = false;
        flush();
      }
    };
    socket.on('drain', () => {
      c.obl = socket.writableLength;
    });
    socket.on('error', () => close());
    socket.on('close', () => {
      closed = true;
      this.sockets.delete(socket);
      e.removeClient(c);
    });
  }

  private run(c: Client, argv: string[], out: ReplyBuffer): void {
    const r = this.engine.execute(c, argv);
    if (r !== undefined) out.write(r, c.resp === 3);
  }

  /** Protected mode: with no password, only loopback clients may connect. */
  private refuseProtected(remote: string): boolean {
    const e = this.engine;
    if (!e.config.bool('protected-mode') || e.config.get('requirepass') !== '') return false;
    const bind = e.config.get('bind');
    if (bind !== '' && bind !== '*' && bind !== '0.0.0.0' && bind !== '::') return false;
    return !(
      remote === '127.0.0.1' ||
      remote === '::1' ||
      remote === '::ffff:127.0.0.1' ||
      remote.startsWith('127.')
    );
  }

  private flushLater(flush: () => void): void {
    if (this.deferred.length === 0) setImmediate(this.flushDeferred);
    this.deferred.push(flush);
  }

  /**
   * Starts reading an accepted connection. Node hands each read to a 'data' listener in a freshly
   * allocated 64 KiB buffer, through the stream machinery; a socket made with the `onread` option reads
   * into a buffer of ours and calls us directly, which saves about 2 µs of CPU per request. Node takes
   * `onread` only when it creates the socket around a handle, so the accepted socket's handle moves into
   * a new socket, which also takes over the server's connection count. Without a handle to move (another
   * runtime), the accepted socket is read through 'data' events.
   */
  private adopt(accepted: net.Socket, onBytes: (chunk: Buffer) => void): net.Socket {
    const internals = accepted as SocketInternals;
    const handle = internals._handle;
    if (!handle) {
      accepted.on('data', onBytes);
      accepted.resume();
      return accepted;
    }
    const buffer = this.readBuffer;
    internals._handle = null;
    const socket = new net.Socket({
      handle,
      onread: { buffer, callback: (n: number) => void onBytes(buffer.subarray(0, n)) },
    } as net.SocketConstructorOpts) as SocketInternals;
    socket._server = internals._server;
    socket.server = internals.server;
    return socket;
  }

  /** client-output-buffer-limit: a client whose unsent replies pass the hard limit is disconnected. */
  private enforceOutputLimit(c: Client, socket: net.Socket): void {
    const queued = socket.writableLength;
    if (queued === 0) return;
    const raw = this.engine.config.get('client-output-buffer-limit');
    if (raw !== this.outputLimitsFrom) {
      this.outputLimitsFrom = raw;
      const spec = raw.split(/\s+/);
      const hardLimit = (cls: string) => {
        const i = spec.indexOf(cls);
        return i < 0 ? 0 : Number(spec[i + 1]);
      };
      this.outputLimits = { normal: hardLimit('normal'), pubsub: hardLimit('pubsub') };
    }
    const hard = c.subscriptionCount > 0 ? this.outputLimits.pubsub : this.outputLimits.normal;
    if (hard > 0 && queued > hard) {
      c.kill();
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
