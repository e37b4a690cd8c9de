import { DurableStorage } from '../../src/durable-storage.js';
import { RaftGroup } from '../../src/group.js';
import { type HostStorage, MemoryHostStorage } from '../../src/host-storage.js';
import type { NodeId } from '../../src/index.js';
import { encodeKvCommand, KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { LocalNetwork } from '../../src/transport-local.js';

export interface Member {
  readonly id: NodeId;
  group: RaftGroup<string | null> | undefined;
  sm: KvStateMachine;
  storage: HostStorage;
}

export interface LocalClusterOptions {
  readonly ids?: readonly NodeId[];
  /** Durable storage in these directories (by id), else memory. */
  readonly dirs?: ReadonlyMap<NodeId, string>;
  readonly snapshotEvery?: number;
  readonly keepEntries?: number;
  readonly tickMs?: number;
}

/** RaftGroups with KV state machines in one process over a LocalNetwork. */
export class LocalCluster {
  readonly net = new LocalNetwork();
  readonly members = new Map<NodeId, Member>();
  readonly ids: readonly NodeId[];

  constructor(private readonly options: LocalClusterOptions = {}) {
    this.ids = options.ids ?? [1, 2, 3];
  }

  async start(): Promise<this> {
    for (const id of this.ids) await this.startMember(id);
    return this;
  }

  async startMember(id: NodeId, peers: readonly NodeId[] = this.ids): Promise<Member> {
    const dir = this.options.dirs?.get(id);
    const storage = dir
      ? await DurableStorage.open(dir, { segmentBytes: 16 * 1024 })
      : (this.members.get(id)?.storage ?? new MemoryHostStorage());
    const sm = new KvStateMachine();
    const group = await RaftGroup.start({
      id,
      peers,
      storage,
      transport: this.net.transport(id),
      stateMachine: sm,
      tickMs: this.options.tickMs ?? 10,
      snapshotEvery: this.options.snapshotEvery ?? 0,
      keepEntries: this.options.keepEntries ?? 0,
    });
    const m: Member = { id, group, sm, storage };
    this.members.set(id, m);
    return m;
  }

  async stopMember(id: NodeId): Promise<void> {
    const m = this.members.get(id)!;
    await m.group?.stop();
    m.group = undefined;
  }

  group(id: NodeId): RaftGroup<string | null> {
    return this.members.get(id)!.group!;
  }

  async waitForLeader(timeoutMs = 5000, exclude?: NodeId): Promise<NodeId> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const m of this.members.values()) {
        if (m.group && m.id !== exclude && m.group.isLeader()) return m.id;
      }
      if (Date.now() > deadline) throw new Error('no leader elected');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  put(id: NodeId, key: string, value: string): Promise<string | null> {
    return this.group(id).propose(encodeKvCommand({ op: 'put', key, value }));
  }

  async waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    for (const id of this.members.keys()) await this.stopMember(id);
  }
}
