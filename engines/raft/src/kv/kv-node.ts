import { createServer, type Server, type Socket } from 'node:net';
import { crc32 } from '../durable/records.js';
import { DurableStorage } from '../durable-storage.js';
import { NotLeaderError, RaftError } from '../errors.js';
import { encodeFrame, FrameDecoder } from '../framing.js';
import { RaftGroup } from '../group.js';
import { type PeerAddress, TcpTransport } from '../transport-tcp.js';
import type { NodeId } from '../types.js';
import { KV_MAX_FRAME_BYTES, type KvRequest, type KvResponse } from './kv-protocol.js';
import { encodeKvCommand, KvStateMachine } from './kv-state-machine.js';

export interface KvNodeConfig {
  readonly id: NodeId;
  readonly dir: string;
  /** Founding voters, the same on every member. */
  readonly voters: readonly NodeId[];
  readonly raftPort: number;
  readonly clientPort: number;
  readonly host?: string;
  readonly tickMs?: number;
  readonly snapshotEvery?: number;
  readonly keepEntries?: number;
  readonly segmentBytes?: number;
}

export interface KvNode {
  readonly raftPort: number;
  readonly clientPort: number;
  readonly group: RaftGroup<string | null>;
  readonly sm: KvStateMachine;
  /** Gives the addresses of the other members (they may be known only after everyone listens). */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void;
  stop(): Promise<void>;
}

/**
 * A replicated key-value node: a KvStateMachine in a RaftGroup over durable storage and the TCP
 * transport, with a small client protocol (put, linearizable get, status). It is the application the
 * multi-process cluster tests and the benchmark run.
 */
export async function startKvNode(config: KvNodeConfig): Promise<KvNode> {
  const host = config.host ?? '127.0.0.1';
  const storage = await DurableStorage.open(
    config.dir,
    config.segmentBytes ? { segmentBytes: config.segmentBytes } : {},
  );
  const transport = new TcpTransport({ id: config.id, listen: { host, port: config.raftPort } });
  const sm = new KvStateMachine();
  const group = await RaftGroup.start({
    id: config.id,
    peers: config.voters,
    storage,
    transport,
    stateMachine: sm,
    tickMs: config.tickMs ?? 50,
    snapshotEvery: config.snapshotEvery ?? 10_000,
    keepEntries: config.keepEntries ?? 1000,
    onError: (err) => {
      process.stderr.write(`kv node ${config.id}: raft group failed: ${String(err)}\n`);
    },
  });
  const server = await listenClients(host, config.clientPort, group, sm);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    raftPort: transport.address().port,
    clientPort: (server.address() as { port: number }).port,
    group,
    sm,
    setPeers(peers) {
      for (const [id, addr] of peers) if (id !== config.id) transport.addPeer(id, addr);
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await group.stop();
    },
  };
}

function errorResponse(id: number, err: unknown): KvResponse {
  if (err instanceof NotLeaderError)
    return { id, ok: false, code: err.code, message: err.message, leaderId: err.leaderId };
  if (err instanceof RaftError) return { id, ok: false, code: err.code, message: err.message };
  return { id, ok: false, code: 'INTERNAL', message: String(err) };
}

async function handle(
  req: KvRequest,
  group: RaftGroup<string | null>,
  sm: KvStateMachine,
): Promise<KvResponse> {
  switch (req.op) {
    case 'put': {
      const prev = await group.propose(encodeKvCommand({ op: 'put', key: req.key, value: req.value }));
      return { id: req.id, ok: true, value: prev };
    }
    case 'get':
      await group.read();
      return { id: req.id, ok: true, value: sm.get(req.key) };
    case 'status':
      return {
        id: req.id,
        ok: true,
        status: { ...group.status(), restores: sm.restores, keys: sm.map.size, digest: crc32(sm.snapshot()) },
      };
  }
}

/** A well-formed request, or undefined (the connection is then closed: nothing can be answered). */
function parseRequest(frame: Buffer): KvRequest | undefined {
  let v: unknown;
  try {
    v = JSON.parse(frame.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = v as { id?: unknown; op?: unknown; key?: unknown; value?: unknown } | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'number') return undefined;
  if (r.op === 'status') return { id: r.id, op: 'status' };
  if (typeof r.key !== 'string') return undefined;
  if (r.op === 'get') return { id: r.id, op: 'get', key: r.key };
  if (r.op === 'put' && typeof r.value === 'string')
    return { id: r.id, op: 'put', key: r.key, value: r.value };
  return undefined;
}

function listenClients(
  host: string,
  port: number,
  group: RaftGroup<string | null>,
  sm: KvStateMachine,
): Promise<Server> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(KV_MAX_FRAME_BYTES);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) {
        const req = parseRequest(f);
        if (req === undefined) {
          socket.destroy();
          return;
        }
        handle(req, group, sm)
          .catch((err: unknown) => errorResponse(req.id, err))
          .then((res) => {
            if (!socket.destroyed) socket.write(encodeFrame(Buffer.from(JSON.stringify(res))));
          });
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
