import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { RaftError } from '../errors.js';
import type { NodeId } from '../types.js';
import type { KvNodeConfig } from './kv-node.js';
import { KvClient, KvRequestError } from './kv-protocol.js';

export interface ProcessClusterOptions {
  readonly ids: readonly NodeId[];
  /** Each member's data directory is `<root>/node-<id>`. */
  readonly root: string;
  /** How to run kv-node-main: the script and node flags (tests add the TypeScript loader). */
  readonly script: string;
  readonly execArgv?: readonly string[];
  readonly node?: Partial<Pick<KvNodeConfig, 'tickMs' | 'snapshotEvery' | 'keepEntries' | 'segmentBytes'>>;
  /** Where children's stderr goes. Default: inherited. */
  readonly stderr?: 'inherit' | 'ignore';
}

export interface MemberStatus {
  readonly id: NodeId;
  readonly role: string;
  readonly leaderId: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly snapshotIndex: number;
  readonly snapshotsRestored: number;
  readonly restores: number;
  readonly keys: number;
  /** crc-32 of the state machine's snapshot: equal states have equal digests. */
  readonly digest: number;
}

interface Proc {
  child: ChildProcess;
  raftPort: number;
  clientPort: number;
  client: KvClient | undefined;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A cluster of KV nodes, one OS process each, over TCP on loopback: start, SIGKILL, restart, and a
 * client that follows the leader. Shared by the cluster tests and the benchmark.
 */
export class ProcessCluster {
  private readonly procs = new Map<NodeId, Proc>();
  private readonly ports = new Map<NodeId, number>();

  constructor(private readonly options: ProcessClusterOptions) {}

  private spawnNode(id: NodeId, raftPort: number, peers?: Record<string, { host: string; port: number }>) {
    const config = {
      id,
      dir: join(this.options.root, `node-${id}`),
      voters: this.options.ids,
      raftPort,
      clientPort: 0,
      ...this.options.node,
      ...(peers ? { peers } : {}),
    };
    const child = spawn(
      process.execPath,
      [...(this.options.execArgv ?? []), this.options.script, JSON.stringify(config)],
      {
        stdio: ['pipe', 'pipe', this.options.stderr ?? 'inherit'],
      },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const listening = new Promise<{ raftPort: number; clientPort: number }>((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /listening (\d+) (\d+)/.exec(out);
        if (m) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve({ raftPort: Number(m[1]), clientPort: Number(m[2]) });
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code, sig) =>
        reject(new RaftError('NODE_EXITED', `node ${id} exited (${code ?? sig}) before listening`)),
      );
    });
    return { child, exited, listening };
  }

  /** Starts every member on free ports, then tells each the others' addresses. */
  async start(): Promise<void> {
    const started = this.options.ids.map((id) => ({ id, ...this.spawnNode(id, 0) }));
    for (const s of started) {
      const { raftPort, clientPort } = await s.listening;
      this.ports.set(s.id, raftPort);
      this.procs.set(s.id, { child: s.child, raftPort, clientPort, client: undefined, exited: s.exited });
    }
    const peers = JSON.stringify(this.peerAddresses());
    for (const p of this.procs.values()) p.child.stdin!.write(`${peers}\n`);
    for (const p of this.procs.values()) p.client = await KvClient.connect(p.clientPort);
  }

  private peerAddresses(): Record<string, { host: string; port: number }> {
    return Object.fromEntries([...this.ports].map(([id, port]) => [String(id), { host: '127.0.0.1', port }]));
  }

  alive(): NodeId[] {
    return [...this.procs.keys()];
  }

  /** SIGKILL: no chance to flush anything. */
  async kill(id: NodeId): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    this.procs.delete(id);
    p.client?.close();
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** Restarts a killed member with its data directory and its old raft port. */
  async restart(id: NodeId): Promise<void> {
    const raftPort = this.ports.get(id)!;
    let lastErr: unknown;
    // the old port is normally free at once; retry briefly in case the kernel still holds it
    for (let attempt = 0; attempt < 20; attempt++) {
      const s = this.spawnNode(id, raftPort, this.peerAddresses());
      try {
        const { clientPort } = await s.listening;
        const client = await KvClient.connect(clientPort);
        this.procs.set(id, { child: s.child, raftPort, clientPort, client, exited: s.exited });
        return;
      } catch (err) {
        lastErr = err;
        await sleep(100);
      }
    }
    throw lastErr;
  }

  client(id: NodeId): KvClient {
    const c = this.procs.get(id)?.client;
    if (!c) throw new RaftError('NODE_DOWN', `node ${id} is not running`);
    return c;
  }

  clientPort(id: NodeId): number {
    const p = this.procs.get(id);
    if (!p) throw new RaftError('NODE_DOWN', `node ${id} is not running`);
    return p.clientPort;
  }

  async status(id: NodeId): Promise<MemberStatus> {
    const r = await this.client(id).call({ op: 'status' });
    return r.status as MemberStatus;
  }

  /** The member that reports itself leader (and that the others agree on), waiting for an election. */
  async leader(timeoutMs = 10_000): Promise<NodeId> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const id of this.alive()) {
        const st = await this.status(id).catch(() => undefined);
        if (st?.role === 'leader') return id;
      }
      if (Date.now() > deadline) throw new RaftError('NO_LEADER', `no leader within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Waits until `id` applied at least `index`. */
  async waitApplied(id: NodeId, index: number, timeoutMs = 15_000): Promise<MemberStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.status(id);
      if (st.applied >= index) return st;
      if (Date.now() > deadline)
        throw new RaftError('TIMEOUT', `node ${id} applied ${st.applied} < ${index}`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    for (const [id, p] of [...this.procs]) {
      this.procs.delete(id);
      p.client?.close();
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 3000);
      await p.exited;
      clearTimeout(t);
    }
  }
}

/** Whether an error means "try again on another member" (not leader, or the member went away). */
export function isRetryable(err: unknown): boolean {
  return (
    err instanceof KvRequestError ||
    (err instanceof Error && /ECONNRESET|EPIPE|ECONNREFUSED/.test(err.message))
  );
}
