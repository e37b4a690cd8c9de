import { constants as bufferConstants } from 'node:buffer';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  CHUNK_HEADER_BYTES,
  ChunkReassembler,
  encodeChunkHeader,
  FRAME_BATCH,
  FRAME_CHUNK,
} from './chunking.js';
import { decodeMessages, encodeMessages } from './codec.js';
import { validNodeId } from './conf-change.js';
import { RaftError } from './errors.js';
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
  /** Largest frame sent or accepted. Default 64 MiB. Larger messages travel in chunk frames. */
  readonly maxFrameBytes?: number;
  /**
   * Largest message (in practice a snapshot) sent or accepted, reassembled from chunks. Default 1 GiB;
   * at most Node's largest Buffer. The receiver holds a transfer in memory until it is complete.
   */
  readonly maxMessageBytes?: number;
  /**
   * Data bytes per chunk frame. Default 1 MiB (or less, to fit maxFrameBytes): a smaller chunk lets
   * ordinary messages to the same peer through sooner during a large transfer.
   */
  readonly chunkBytes?: number;
  /** Bytes waiting in a peer's socket beyond which new messages to it are dropped. Default 32 MiB. */
  readonly maxQueuedBytes?: number;
  /** Reconnect delay: starts here, doubles per failure up to maxBackoffMs, with ±20% jitter. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly connectTimeoutMs?: number;
}

// First frame on every connection: "RAFT" | version u8 | from u32 | to u32. Version 2 added the frame
// kind byte (batch or chunk) in front of every later frame.
const HELLO_MAGIC = Buffer.from('RAFT');
const HELLO_VERSION = 2;
/** Large messages waiting for their turn on one link; more are dropped (Raft resends). */
const MAX_QUEUED_TRANSFERS = 4;

function encodeBatchHeader(payloadLength: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1);
  b.writeUInt32BE(payloadLength + 1, 0);
  b[FRAME_HEADER_BYTES] = FRAME_BATCH;
  return b;
}
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
  /** Chunk frames sent and large messages (transfers) received whole. */
  chunksSent: number;
  transfersReceived: number;
}

/** A large message going out in chunks. */
interface Transfer {
  readonly id: number;
  readonly message: Message;
  readonly payload: Buffer;
  offset: number;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff';

/** The outgoing connection to one peer; incoming traffic arrives on connections the peer dialed. */
class PeerLink {
  state: LinkState = 'idle';
  socket: Socket | undefined;
  pending: Message[] = [];
  transfers: Transfer[] = [];
  nextTransferId = 1;
  awaitingDrain = false;
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
 * A message too large for a frame (a snapshot) travels in chunk frames (`chunking.ts`), a few at a time
 * as the socket drains, so batches written meanwhile are not queued behind the whole transfer.
 * A connection that sends anything malformed (bad hello, oversized frame, undecodable batch, chunks
 * out of order, messages not from the peer that said hello or not for this node) is closed; other
 * connections are untouched.
 */
export class TcpTransport implements Transport {
  readonly id: NodeId;
  readonly stats: TcpTransportStats = {
    connectAttempts: 0,
    framesSent: 0,
    framesReceived: 0,
    messagesDropped: 0,
    connectionsRejected: 0,
    chunksSent: 0,
    transfersReceived: 0,
  };
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<Socket>();
  private server: Server | undefined;
  private handler: TransportHandler | undefined;
  private flushScheduled = false;
  private closed = false;
  private readonly maxFrameBytes: number;
  private readonly maxMessageBytes: number;
  private readonly chunkBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: TcpTransportOptions) {
    if (!validNodeId(options.id)) throw new RaftError('INVALID_CONFIG', `invalid node id ${options.id}`);
    this.id = options.id;
    this.maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    this.maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024 * 1024;
    const room = this.maxFrameBytes - FRAME_HEADER_BYTES - CHUNK_HEADER_BYTES;
    this.chunkBytes = options.chunkBytes ?? Math.min(1024 * 1024, room);
    const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
    if (!int(this.maxFrameBytes, 1024, 2 ** 32 - 1))
      throw new RaftError('INVALID_CONFIG', `maxFrameBytes ${this.maxFrameBytes} is not in 1 KiB .. 4 GiB`);
    if (!int(this.maxMessageBytes, 1, bufferConstants.MAX_LENGTH))
      throw new RaftError(
        'INVALID_CONFIG',
        `maxMessageBytes ${this.maxMessageBytes} is not in 1 .. ${bufferConstants.MAX_LENGTH} (the largest Buffer)`,
      );
    if (!int(this.chunkBytes, 1, room))
      throw new RaftError(
        'INVALID_CONFIG',
        `chunkBytes ${this.chunkBytes} is not in 1 .. ${room} (maxFrameBytes)`,
      );
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
      link.transfers = [];
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

  /**
   * Writes messages as frames of at most maxFrameBytes. A snapshot larger than a chunk, or any message
   * too large for a frame, goes out as a chunked transfer instead.
   */
  private writeBatch(link: PeerLink, batch: Message[]): void {
    const socket = link.socket!;
    if (socket.writableLength > this.maxQueuedBytes) {
      for (const m of batch) this.drop(m);
      this.handler?.onUnreachable(link.id);
      return;
    }
    const small: Message[] = [];
    for (const m of batch) {
      if (m.type === 'snap' && (m.snapshot?.data.length ?? 0) > this.chunkBytes) this.queueTransfer(link, m);
      else small.push(m);
    }
    const room = this.maxFrameBytes - FRAME_HEADER_BYTES - 1;
    let start = 0;
    while (start < small.length) {
      let end = small.length;
      let payload = encodeMessages(small.slice(start, end));
      // halve until the frame fits (only a batch with huge entries gets here)
      while (payload.length > room && end - start > 1) {
        end = start + Math.ceil((end - start) / 2);
        payload = encodeMessages(small.slice(start, end));
      }
      const part = small.slice(start, end);
      start = end;
      if (payload.length > room) {
        this.queueTransfer(link, part[0]!, payload);
        continue;
      }
      const snaps = part.filter((m) => m.type === 'snap');
      this.stats.framesSent++;
      socket.write(encodeBatchHeader(payload.length));
      socket.write(payload, (err) => {
        for (const m of snaps) this.handler?.onSnapshotStatus(m.to, !err);
      });
    }
    this.pumpTransfers(link);
  }

  private queueTransfer(link: PeerLink, m: Message, payload: Buffer = encodeMessages([m])): void {
    if (payload.length > this.maxMessageBytes || link.transfers.length >= MAX_QUEUED_TRANSFERS) {
      this.drop(m);
      return;
    }
    link.transfers.push({ id: link.nextTransferId++, message: m, payload, offset: 0 });
  }

  /**
   * Writes chunks of the queued transfers while the socket holds less than two chunks (or its high
   * water mark), then continues on 'drain': batch frames written meanwhile wait behind at most that.
   */
  private pumpTransfers(link: PeerLink): void {
    const socket = link.socket;
    if (!socket || link.state !== 'open' || link.awaitingDrain) return;
    // (bounded by maxQueuedBytes too, or batches would be dropped as if the peer stopped reading)
    const lowWater = Math.max(
      socket.writableHighWaterMark,
      Math.min(2 * this.chunkBytes, Math.floor(this.maxQueuedBytes / 4)),
    );
    while (link.transfers.length > 0) {
      if (socket.writableLength >= lowWater) {
        link.awaitingDrain = true;
        socket.once('drain', () => {
          link.awaitingDrain = false;
          if (link.socket === socket) this.pumpTransfers(link);
        });
        return;
      }
      const tr = link.transfers[0]!;
      const len = Math.min(this.chunkBytes, tr.payload.length - tr.offset);
      const last = tr.offset + len === tr.payload.length;
      this.stats.framesSent++;
      this.stats.chunksSent++;
      socket.write(encodeChunkHeader(tr.id, tr.payload.length, tr.offset, len));
      const data = tr.payload.subarray(tr.offset, tr.offset + len);
      if (last) {
        link.transfers.shift();
        const m = tr.message;
        socket.write(data, (err) => {
          if (m.type === 'snap') this.handler?.onSnapshotStatus(m.to, !err);
        });
      } else {
        socket.write(data);
        tr.offset += len;
      }
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
      const lost = link.state === 'open' || link.pending.length > 0 || link.transfers.length > 0;
      if (link.pending.length > 0) {
        for (const m of link.pending) this.drop(m);
        link.pending = [];
      }
      // a transfer cut short is lost: the receiver drops its part with the connection
      for (const tr of link.transfers) this.drop(tr.message);
      link.transfers = [];
      link.awaitingDrain = false;
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
    const reassembler = new ChunkReassembler(this.maxMessageBytes);
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
          let payload: Buffer | undefined;
          if (frame[0] === FRAME_BATCH) payload = frame.subarray(1);
          else if (frame[0] === FRAME_CHUNK) {
            payload = reassembler.push(frame);
            if (payload === undefined) continue;
            this.stats.transfersReceived++;
          } else return reject();
          msgs = decodeMessages(payload, { maxFieldBytes: this.maxMessageBytes });
        } catch (err) {
          if (err instanceof RaftError) return reject();
          throw err;
        }
        if (msgs.some((m) => m.from !== peer || m.to !== this.id)) return reject();
        if (msgs.length > 0) this.handler?.onMessages(msgs);
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.inbound.delete(socket);
      reassembler.reset();
    });
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
