import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { decodeMessages, encodeMessages } from './codec.js';
import { validNodeId } from './conf-change.js';
import { CorruptDataError, RaftError } from './errors.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from './framing.js';
import type { Transport, TransportHandler } from './transport.js';
import type { Message, NodeId } from './types.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TcpTransportOptions {
  readonly id: NodeId;
  /** Where to listen; port 0 picks a free port (read it back with address()). */
  readonly listen: { readonly host?: string; readonly port: number };
  /** Addresses of the other members. */
  readonly peers?: ReadonlyMap<NodeId, PeerAddress> | Readonly<Record<number, PeerAddress>>;
  /** Largest frame sent or accepted. Default 64 MiB (a snapshot must fit in one frame). */
  readonly maxFrameBytes?: number;
  /** Bytes waiting in a peer's socket beyond which new messages to it are dropped. Default 32 MiB. */
  readonly maxQueuedBytes?: number;
  /** Reconnect delay: starts here, doubles per failure up to maxBackoffMs, with ±20% jitter. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly connectTimeoutMs?: number;
}

// First frame on every connection: "RAFT" | version u8 | from u32 | to u32.
const HELLO_MAGIC = Buffer.from('RAFT');
const HELLO_VERSION = 1;
const HELLO_BYTES = 13;

function encodeHello(from: NodeId, to: NodeId): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  HELLO_MAGIC.copy(b, 0);
  b[4] = HELLO_VERSION;
  b.writeUInt32BE(from, 5);
  b.writeUInt32BE(to, 9);
  return b;
}

export interface TcpTransportStats {
  connectAttempts: number;
  framesSent: number;
  framesReceived: number;
  messagesDropped: number;
  connectionsRejected: number;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff';

/** The outgoing connection to one peer; incoming traffic arrives on connections the peer dialed. */
class PeerLink {
  state: LinkState = 'idle';
  socket: Socket | undefined;
  pending: Message[] = [];
  backoffMs = 0;
  timer: NodeJS.Timeout | undefined;
  constructor(
    readonly id: NodeId,
    public address: PeerAddress,
  ) {}
}

/**
 * Raft messages over TCP: length-prefixed frames (u32 + payload), each a batch of binary-encoded
 * messages for one peer. Every member dials every other member and sends on its own connection.
 * A connection that sends anything malformed (bad hello, oversized frame, undecodable batch, messages
 * not from the peer that said hello or not for this node) is closed; other connections are untouched.
 */
export class TcpTransport implements Transport {
  readonly id: NodeId;
  readonly stats: TcpTransportStats = {
    connectAttempts: 0,
    framesSent: 0,
    framesReceived: 0,
    messagesDropped: 0,
    connectionsRejected: 0,
  };
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<Socket>();
  private server: Server | undefined;
  private handler: TransportHandler | undefined;
  private flushScheduled = false;
  private closed = false;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: TcpTransportOptions) {
    if (!validNodeId(options.id)) throw new RaftError('INVALID_CONFIG', `invalid node id ${options.id}`);
    this.id = options.id;
    this.maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 * 1024;
    this.initialBackoffMs = options.initialBackoffMs ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    const peers = options.peers ?? new Map<NodeId, PeerAddress>();
    const entries =
      peers instanceof Map ? [...peers] : Object.entries(peers).map(([k, v]) => [Number(k), v] as const);
    for (const [id, addr] of entries) this.addPeer(id, addr);
  }

  async start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    for (const link of this.links.values()) this.connect(link);
  }

  /** The bound address (after start). */
  address(): PeerAddress {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new RaftError('NOT_STARTED', 'transport is not listening');
    return { host: a.address, port: a.port };
  }

  addPeer(id: NodeId, address: PeerAddress): void {
    if (!validNodeId(id)) throw new RaftError('INVALID_CONFIG', `invalid peer id ${id}`);
    if (id === this.id) return;
    const have = this.links.get(id);
    if (have) {
      have.address = address;
      return;
    }
    const link = new PeerLink(id, address);
    this.links.set(id, link);
    if (this.server && !this.closed) this.connect(link);
  }

  removePeer(id: NodeId): void {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    clearTimeout(link.timer);
    link.socket?.destroy();
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const link = this.links.get(m.to);
      if (!link) {
        this.drop(m);
        continue;
      }
      link.pending.push(m);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) {
      clearTimeout(link.timer);
      link.socket?.destroy();
      link.pending = [];
    }
    for (const s of this.inbound) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- outgoing ---------------------------------------------------------------------------------

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    for (const link of this.links.values()) {
      if (link.pending.length === 0) continue;
      if (link.state !== 'open') {
        // while the first dial is in flight keep a bounded queue; a peer in backoff is down: drop
        if (link.state === 'connecting' && link.pending.length <= 4096) continue;
        const dropped = link.pending;
        link.pending = [];
        for (const m of dropped) this.drop(m);
        this.handler?.onUnreachable(link.id);
        continue;
      }
      const batch = link.pending;
      link.pending = [];
      this.writeBatch(link, batch);
    }
  }

  /** Writes messages as frames of at most maxFrameBytes; a single message over the limit is dropped. */
  private writeBatch(link: PeerLink, batch: Message[]): void {
    const socket = link.socket!;
    if (socket.writableLength > this.maxQueuedBytes) {
      for (const m of batch) this.drop(m);
      this.handler?.onUnreachable(link.id);
      return;
    }
    let start = 0;
    while (start < batch.length) {
      let end = batch.length;
      let payload = encodeMessages(batch.slice(start, end));
      // halve until the frame fits (only a batch with a huge snapshot or entries gets here)
      while (payload.length + FRAME_HEADER_BYTES > this.maxFrameBytes && end - start > 1) {
        end = start + Math.ceil((end - start) / 2);
        payload = encodeMessages(batch.slice(start, end));
      }
      const part = batch.slice(start, end);
      start = end;
      if (payload.length + FRAME_HEADER_BYTES > this.maxFrameBytes) {
        this.drop(part[0]!);
        continue;
      }
      const snaps = part.filter((m) => m.type === 'snap');
      this.stats.framesSent++;
      socket.write(encodeFrame(payload), (err) => {
        for (const m of snaps) this.handler?.onSnapshotStatus(m.to, !err);
      });
    }
  }

  private drop(m: Message): void {
    this.stats.messagesDropped++;
    if (m.type === 'snap') this.handler?.onSnapshotStatus(m.to, false);
  }

  private connect(link: PeerLink): void {
    if (this.closed || this.links.get(link.id) !== link) return;
    link.state = 'connecting';
    this.stats.connectAttempts++;
    const socket = createConnection({ host: link.address.host, port: link.address.port });
    link.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.connectTimeoutMs);
    socket.once('timeout', () => socket.destroy(new Error('connect timeout')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      link.state = 'open';
      link.backoffMs = 0;
      socket.write(encodeFrame(encodeHello(this.id, link.id)));
      if (link.pending.length > 0) {
        const batch = link.pending;
        link.pending = [];
        this.writeBatch(link, batch);
      }
    });
    // nothing is expected back on an outgoing connection; reading keeps close detection working
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.once('close', () => {
      if (link.socket !== socket) return;
      link.socket = undefined;
      const lost = link.state === 'open' || link.pending.length > 0;
      if (link.pending.length > 0) {
        for (const m of link.pending) this.drop(m);
        link.pending = [];
      }
      if (this.closed || this.links.get(link.id) !== link) return;
      if (lost) this.handler?.onUnreachable(link.id);
      this.scheduleReconnect(link);
    });
  }

  private scheduleReconnect(link: PeerLink): void {
    link.state = 'backoff';
    link.backoffMs =
      link.backoffMs === 0 ? this.initialBackoffMs : Math.min(this.maxBackoffMs, link.backoffMs * 2);
    const jitter = 0.8 + Math.random() * 0.4;
    link.timer = setTimeout(() => this.connect(link), Math.round(link.backoffMs * jitter));
    link.timer.unref?.();
  }

  // ---- incoming ---------------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.maxFrameBytes);
    let peer: NodeId = 0;
    const reject = () => {
      this.stats.connectionsRejected++;
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        reject();
        return;
      }
      for (const frame of frames) {
        if (socket.destroyed) return;
        this.stats.framesReceived++;
        if (peer === 0) {
          peer = this.readHello(frame);
          if (peer === 0) return reject();
          continue;
        }
        let msgs: Message[];
        try {
          msgs = decodeMessages(frame, { maxFieldBytes: this.maxFrameBytes });
        } catch (err) {
          if (err instanceof CorruptDataError) return reject();
          throw err;
        }
        if (msgs.some((m) => m.from !== peer || m.to !== this.id)) return reject();
        if (msgs.length > 0) this.handler?.onMessages(msgs);
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => this.inbound.delete(socket));
  }

  /** The peer id from a valid hello addressed to this node, else 0. */
  private readHello(frame: Buffer): NodeId {
    if (
      frame.length !== HELLO_BYTES ||
      !frame.subarray(0, 4).equals(HELLO_MAGIC) ||
      frame[4] !== HELLO_VERSION
    ) {
      return 0;
    }
    const from = frame.readUInt32BE(5);
    const to = frame.readUInt32BE(9);
    return validNodeId(from) && to === this.id && from !== this.id ? from : 0;
  }
}
