import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  encodeKvCommand,
  isRetryable,
  KvStateMachine,
  LocalNetwork,
  MemoryHostStorage,
  type NodeId,
  ProcessCluster,
  RaftGroup,
} from '@bunbase/raft';
import { percentile } from '../stats.js';
import { defineSuite, type RunContext, type Workload } from '../suite.js';

// Raft has no natural peer to compare with: every workload has the single subject "bunbase" and reports
// absolute figures (no ratio, nothing in baseline.json).
//
// Configuration of every cluster: 3 voters, 100-byte values over 10,000 keys, election timeout of 10
// ticks randomized to [10, 20) ticks. In-process: 3 RaftGroups in this process over a LocalNetwork
// (messages handed over on the next turn, not encoded), MemoryHostStorage (no disk), 10 ms ticks.
// TCP: 3 OS processes (engines/raft/dist/kv/kv-node-main.js) on loopback, DurableStorage with an fsync
// per Ready, 50 ms ticks; the bench process is the client and writes to the leader.

const VALUE = 'v'.repeat(100);
const KEYS = 10_000;
const IDS: readonly NodeId[] = [1, 2, 3];
const TCP_TICK_MS = 50;

const kvNodeScript = (): string =>
  join(dirname(fileURLToPath(import.meta.resolve('@bunbase/raft'))), 'kv', 'kv-node-main.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface InProcess {
  readonly net: LocalNetwork;
  readonly groups: Map<NodeId, RaftGroup<string | null>>;
}

async function startInProcess(): Promise<InProcess> {
  const net = new LocalNetwork();
  const groups = new Map<NodeId, RaftGroup<string | null>>();
  for (const id of IDS) {
    groups.set(
      id,
      await RaftGroup.start({
        id,
        peers: IDS,
        storage: new MemoryHostStorage(),
        transport: net.transport(id),
        stateMachine: new KvStateMachine(),
        tickMs: 10,
        snapshotEvery: 10_000,
        keepEntries: 1000,
      }),
    );
  }
  return { net, groups };
}

async function inProcessLeader(c: InProcess, exclude?: NodeId, timeoutMs = 10_000): Promise<NodeId> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const [id, g] of c.groups) if (id !== exclude && g.isLeader()) return id;
    if (Date.now() > deadline) throw new Error('no leader elected');
    await sleep(1);
  }
}

async function stopInProcess(c: InProcess | undefined): Promise<void> {
  if (c) for (const g of c.groups.values()) await g.stop();
}

async function startTcp(ctx: RunContext): Promise<ProcessCluster> {
  const cluster = new ProcessCluster({
    ids: IDS,
    root: ctx.tmpDir('raft-tcp'),
    script: kvNodeScript(),
    node: { tickMs: TCP_TICK_MS, snapshotEvery: 10_000, keepEntries: 1000 },
  });
  await cluster.start();
  return cluster;
}

const put = (i: number) => encodeKvCommand({ op: 'put', key: `k${i % KEYS}`, value: VALUE });

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export default defineSuite({
  name: 'raft',
  description:
    'Raft commits (propose → applied on the leader) and leader failover, 3 voters; absolute figures',
  workloads: [
    ...[1, 64].map(
      (proposers): Workload => ({
        name: `in-process 3 nodes, memory storage, ${proposers} proposer${proposers > 1 ? 's' : ''}`,
        description: 'commits/s and per-commit latency; RaftGroups in one process, no disk, no encoding',
        concurrency: proposers,
        subjects: [
          {
            system: 'bunbase',
            async setup() {
              const c = await startInProcess();
              const leader = c.groups.get(await inProcessLeader(c))!;
              return { c, leader };
            },
            async op(s: { leader: RaftGroup<string | null> }, i: number) {
              await s.leader.propose(put(i));
            },
            teardown: (s: { c: InProcess } | undefined) => stopInProcess(s?.c),
          },
        ],
      }),
    ),
    ...[1, 64].map(
      (proposers): Workload => ({
        name: `3 processes over TCP, durable storage, ${proposers} proposer${proposers > 1 ? 's' : ''}`,
        description: 'commits/s and per-commit latency seen by a client of the leader (fsync on every node)',
        concurrency: proposers,
        subjects: [
          {
            system: 'bunbase',
            async setup(ctx: RunContext) {
              const cluster = await startTcp(ctx);
              const leader = await cluster.leader(15_000);
              return { cluster, client: cluster.client(leader) };
            },
            async op(s: { client: ReturnType<ProcessCluster['client']> }, i: number) {
              await s.client.call({ op: 'put', key: `k${i % KEYS}`, value: VALUE });
            },
            teardown: (s: { cluster: ProcessCluster } | undefined) => s?.cluster.stop(),
          },
        ],
      }),
    ),
    {
      name: 'in-process leader failover (leader cut off → new leader)',
      description: 'median over rounds; election timeout 10 ticks of 10 ms, randomized to 100-200 ms',
      lowerIsBetter: true,
      subjects: [
        {
          system: 'bunbase',
          setup: () => startInProcess(),
          async measure(c: InProcess, ctx: RunContext) {
            const times: number[] = [];
            for (let round = 0; round < (ctx.quick ? 3 : 10); round++) {
              const old = await inProcessLeader(c);
              await c.groups.get(old)!.propose(put(round));
              const t0 = performance.now();
              c.net.disconnect(old);
              await inProcessLeader(c, old);
              times.push(performance.now() - t0);
              c.net.reconnect(old);
              // the old leader steps down once it hears the new term
              while (c.groups.get(old)!.isLeader()) await sleep(1);
            }
            return { value: median(times), unit: 'ms' };
          },
          teardown: (c: InProcess | undefined) => stopInProcess(c),
        },
      ],
    },
    {
      name: 'TCP leader failover (kill -9 the leader process → new leader)',
      description: `median over rounds; election timeout 10 ticks of ${TCP_TICK_MS} ms, randomized to 500-1000 ms`,
      lowerIsBetter: true,
      subjects: [
        {
          system: 'bunbase',
          setup: (ctx: RunContext) => startTcp(ctx),
          async measure(cluster: ProcessCluster, ctx: RunContext) {
            const times: number[] = [];
            for (let round = 0; round < (ctx.quick ? 2 : 5); round++) {
              const old = await cluster.leader(15_000);
              await cluster.client(old).call({ op: 'put', key: `round${round}`, value: VALUE });
              const t0 = performance.now();
              await cluster.kill(old);
              let found: NodeId | undefined;
              while (found === undefined) {
                for (const id of cluster.alive()) {
                  const st = await cluster.status(id).catch((err: unknown) => {
                    if (isRetryable(err)) return undefined;
                    throw err;
                  });
                  if (st?.role === 'leader') found = id;
                }
                if (performance.now() - t0 > 15_000) throw new Error('no new leader within 15 s');
              }
              times.push(performance.now() - t0);
              await cluster.restart(old);
              const lead = await cluster.status(found);
              await cluster.waitApplied(old, lead.commit);
            }
            return { value: median(times), unit: 'ms' };
          },
          teardown: (cluster: ProcessCluster | undefined) => cluster?.stop(),
        },
      ],
    },
  ],
});
