import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DurableStorage, type NodeId, TcpTransport } from '@bunbase/raft';
import t from 'tap';
import { ReplicatedStorage } from '../src/replication/index.js';
import { dumpStore, enc } from './fixtures-replication/local-cluster.js';

// A catch-up by snapshot over real sockets where the snapshot is many times the transport's frame size
// (64 KiB frames here, the store several MiB): it travels as a chunked transfer.

const FRAME = 64 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Member {
  rs: ReplicatedStorage;
  transport: TcpTransport;
  raft: DurableStorage;
}

t.test('a member catches up by a snapshot larger than the frame size (chunked over TCP)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-repl-chunked-'));
  const ids: NodeId[] = [1, 2, 3];
  const members = new Map<NodeId, Member>();
  t.teardown(async () => {
    for (const m of members.values()) await m.rs.close().catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  });

  const start = async (id: NodeId): Promise<Member> => {
    const transport = new TcpTransport({ id, listen: { port: 0 }, maxFrameBytes: FRAME });
    const raft = await DurableStorage.open(path.join(root, `node-${id}`, 'raft'));
    const rs = await ReplicatedStorage.open({
      id,
      peers: ids,
      dir: path.join(root, `node-${id}`),
      transport,
      raftStorage: raft,
      tickMs: 40,
      snapshotEvery: 10,
      keepEntries: 2,
    });
    const m = { rs, transport, raft };
    members.set(id, m);
    // addresses are known once listening: tell everyone (re-adding updates the address)
    for (const other of members.values()) {
      if (other === m) continue;
      other.transport.addPeer(id, transport.address());
      transport.addPeer(other.rs.id, other.transport.address());
    }
    return m;
  };
  for (const id of ids) await start(id);

  const leaderOf = async (): Promise<Member> => {
    let found: Member | undefined;
    await until(() => {
      found = [...members.values()].find((m) => m.rs.isLeader());
      return found !== undefined;
    }, 'a leader');
    return found!;
  };
  const leader = await leaderOf();
  const lagging = ids.find((id) => id !== leader.rs.id)!;
  await members.get(lagging)!.rs.close();
  members.delete(lagging);

  // ~4 MiB of incompressible values, 64 KiB per transaction
  for (let i = 0; i < 64; i++) {
    for (let attempt = 0; ; attempt++) {
      const l = await leaderOf();
      try {
        await l.rs.transaction((tx) => {
          for (let j = 0; j < 16; j++) tx.put('blobs', enc(`k${i}-${j}`), randomBytes(4096));
        });
        break;
      } catch (err) {
        if (attempt > 20) throw err;
        await sleep(50);
      }
    }
  }
  const l = await leaderOf();
  const applied = l.rs.status().applied;
  await until(() => l.rs.status().snapshotIndex >= applied - 10, 'a recent snapshot');
  const snapBytes = l.raft.snapshot().data.length;
  t.ok(
    snapBytes > 50 * FRAME,
    `the snapshot (${snapBytes} bytes) is ${Math.floor(snapBytes / FRAME)} frames`,
  );
  t.ok(l.rs.status().firstIndex > 5, 'the leader compacted past the lagging member');

  const chunksBefore = l.transport.stats.chunksSent;
  const back = await start(lagging);
  await until(() => back.rs.status().storeApplied >= applied, 'the lagging member caught up');
  t.ok(back.rs.status().storeRestores >= 1, 'by restoring a snapshot');
  t.ok(
    back.transport.stats.transfersReceived >= 1,
    `${back.transport.stats.transfersReceived} chunked transfers received`,
  );
  t.ok(
    l.transport.stats.chunksSent - chunksBefore >= snapBytes / FRAME,
    `${l.transport.stats.chunksSent - chunksBefore} chunk frames sent`,
  );
  for (const m of members.values()) t.equal(m.transport.stats.connectionsRejected, 0, 'nothing malformed');
  // one more write reaches everyone, then the stores are identical
  await (await leaderOf()).rs.transaction((tx) => tx.put('blobs', enc('last'), enc('1')));
  const last = (await leaderOf()).rs.status().applied;
  await until(() => [...members.values()].every((m) => m.rs.status().storeApplied >= last), 'all applied');
  const dumps = await Promise.all([...members.values()].map((m) => dumpStore(m.rs)));
  for (let i = 1; i < dumps.length; i++) t.same(dumps[i], dumps[0], 'member stores are equal');
  t.equal(dumps[0]!.blobs?.length, 64 * 16 + 1);
});
