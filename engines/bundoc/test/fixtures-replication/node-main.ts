/**
 * A replicated bundoc member as a process, for the multi-process tests: `node node-main.js '<config>'`.
 * Prints `listening <raftPort> <clientPort>`, then reads the peers' raft addresses as one JSON line on
 * stdin. Client protocol: length-prefixed JSON frames (raft's framing) — put, status, dump.
 */
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { encodeFrame, FrameDecoder, NotLeaderError, type PeerAddress, TcpTransport } from '@bunbase/raft';
import { ReplicatedStorage } from '../../src/replication/index.js';

interface Config {
  id: number;
  dir: string;
  voters: number[];
  raftPort: number;
  tickMs?: number;
  snapshotEvery?: number;
  keepEntries?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const transport = new TcpTransport({ id: config.id, listen: { host: '127.0.0.1', port: config.raftPort } });
const rs = await ReplicatedStorage.open({
  id: config.id,
  peers: config.voters,
  dir: config.dir,
  transport,
  tickMs: config.tickMs ?? 50,
  snapshotEvery: config.snapshotEvery ?? 10_000,
  keepEntries: config.keepEntries ?? 1000,
  onError: (err) => process.stderr.write(`member ${config.id} failed: ${String(err)}\n`),
});
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Request = { id: number; op: 'put'; key: string; value: string } | { id: number; op: 'status' | 'dump' };

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'put': {
      let index: number | undefined;
      await rs.transaction(async (tx) => {
        tx.put('kv', Buffer.from(req.key), Buffer.from(req.value));
        index = await tx.commit();
      });
      return { index };
    }
    case 'status':
      return rs.status();
    case 'dump': {
      const store = await rs.localStore();
      const tx = store.begin({ readOnly: true });
      try {
        const out: Record<string, [string, string][]> = {};
        for (const tree of store.trees()) out[tree] = [...tx.range(tree)].map(([k, v]) => [hex(k), hex(v)]);
        return out;
      } finally {
        tx.abort();
      }
    }
  }
}

const server = createServer((socket) => {
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      const req = JSON.parse(f.toString('utf8')) as Request;
      handle(req)
        .then(
          (result) => ({ id: req.id, ok: true, result }),
          (err: unknown) => ({
            id: req.id,
            ok: false,
            code: (err as { code?: string }).code ?? 'INTERNAL',
            message: String((err as Error)?.message ?? err),
            leaderId: err instanceof NotLeaderError ? err.leaderId : undefined,
          }),
        )
        .then((res) => {
          if (!socket.destroyed) socket.write(encodeFrame(Buffer.from(JSON.stringify(res))));
        });
    }
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
process.stdout.write(
  `listening ${transport.address().port} ${(server.address() as { port: number }).port}\n`,
);
const rl = createInterface({ input: process.stdin });
rl.once('line', (line) => {
  const peers = JSON.parse(line) as Record<string, PeerAddress>;
  for (const [id, addr] of Object.entries(peers))
    if (Number(id) !== config.id) transport.addPeer(Number(id), addr);
  rl.close();
});
process.once('SIGTERM', () => {
  server.close();
  void rs.close().then(() => process.exit(0));
});
