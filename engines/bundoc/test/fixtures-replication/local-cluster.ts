import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalNetwork, type NodeId } from '@bunbase/raft';
import {
  NotLeaderError,
  ReplicatedStorage,
  type ReplicatedStorageOptions,
  type ReplicatedTransaction,
} from '../../src/replication/index.js';

export type ClusterOptions = Partial<
  Pick<ReplicatedStorageOptions, 'snapshotEvery' | 'keepEntries' | 'tickMs' | 'conflictWindow' | 'storage'>
> & { readonly ids?: readonly NodeId[] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replicated stores in one process over a LocalNetwork, each in its own directory (real files). */
export class ReplicaCluster {
  readonly net = new LocalNetwork();
  readonly members = new Map<NodeId, ReplicatedStorage>();
  readonly ids: readonly NodeId[];
  readonly root: string;

  constructor(
    t: { teardown(fn: () => Promise<void> | void): void },
    private readonly options: ClusterOptions = {},
  ) {
    this.ids = options.ids ?? [1, 2, 3];
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-repl-'));
    t.teardown(async () => {
      await this.stop();
      fs.rmSync(this.root, { recursive: true, force: true });
    });
  }

  dir(id: NodeId): string {
    return path.join(this.root, `node-${id}`);
  }

  async start(): Promise<this> {
    for (const id of this.ids) await this.startMember(id);
    return this;
  }

  /** Starts (or restarts) a member with its directory; `peers: undefined` joins an existing group. */
  async startMember(id: NodeId, peers: readonly NodeId[] | undefined = this.ids): Promise<ReplicatedStorage> {
    const { ids: _ids, ...rest } = this.options;
    const m = await ReplicatedStorage.open({
      id,
      ...(peers ? { peers } : {}),
      dir: this.dir(id),
      transport: this.net.transport(id),
      // elections after 400-800 ms: a loaded 2-core machine stalls the event loop for tens of ms
      tickMs: 40,
      snapshotEvery: 0,
      keepEntries: 0,
      ...rest,
    });
    this.members.set(id, m);
    return m;
  }

  async stopMember(id: NodeId): Promise<void> {
    const m = this.members.get(id);
    this.members.delete(id);
    await m?.close();
  }

  member(id: NodeId): ReplicatedStorage {
    const m = this.members.get(id);
    if (!m) throw new Error(`member ${id} is not running`);
    return m;
  }

  async leader(timeoutMs = 10_000, exclude?: NodeId): Promise<ReplicatedStorage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const m of this.members.values()) if (m.id !== exclude && m.isLeader()) return m;
      if (Date.now() > deadline) throw new Error('no leader elected');
      await sleep(10);
    }
  }

  async waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  /** Waits until every running member's store reflects `index`. */
  waitApplied(index: number, timeoutMs?: number): Promise<void> {
    return this.waitFor(
      () => [...this.members.values()].every((m) => m.status().applied >= index),
      `every member to apply ${index}`,
      timeoutMs,
    );
  }

  /**
   * Runs a write transaction on whichever member leads, retrying when leadership moves (only for
   * idempotent transactions: a LeadershipLostError write may have taken effect).
   */
  async write<T>(fn: (tx: ReplicatedTransaction) => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const m = await this.leader(Math.max(0, deadline - Date.now()));
        return await m.transaction(fn, { retries: 100 });
      } catch (err) {
        if (!(err instanceof NotLeaderError) || Date.now() > deadline) throw err;
        await sleep(10);
      }
    }
  }

  async stop(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stopMember(id);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Every tree of a member's local store (reserved ones included), as hex pairs: equal dumps, equal stores. */
export async function dumpStore(m: ReplicatedStorage): Promise<Record<string, [string, string][]>> {
  const store = await m.localStore();
  const tx = store.begin({ readOnly: true });
  try {
    const out: Record<string, [string, string][]> = {};
    for (const tree of store.trees()) out[tree] = [...tx.range(tree)].map(([k, v]) => [hex(k), hex(v)]);
    return out;
  } finally {
    tx.abort();
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);
