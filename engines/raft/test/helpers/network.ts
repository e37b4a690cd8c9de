import {
  encodeConfChange,
  MemoryStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  RaftNode,
  type Ready,
} from '../../src/index.js';

/** Persists a Ready into memory storage the way a host must, then advances the node. */
export function handleReady(node: RaftNode, storage: MemoryStorage): Ready {
  const rd = node.ready();
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  node.advance(rd);
  return rd;
}

export function seededRng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A synchronous in-memory network for unit tests: messages are delivered breadth-first until quiet,
 * with per-link drops and per-type filters (etcd's network helper).
 */
export class Network {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  private readonly dropped = new Set<string>();
  private readonly ignored = new Set<string>();
  readonly applied = new Map<NodeId, Uint8Array[]>();
  /** Every message delivered, for tests that count round trips. */
  readonly delivered: Message[] = [];

  constructor(
    ids: readonly NodeId[],
    private readonly options: Partial<RaftConfig> = {},
  ) {
    for (const id of ids) this.add(id, ids);
  }

  add(id: NodeId, peers: readonly NodeId[], storage = new MemoryStorage()): RaftNode {
    const node = new RaftNode({ id, peers, storage, rng: seededRng(id), ...this.options });
    this.nodes.set(id, node);
    this.storages.set(id, storage);
    if (!this.applied.has(id)) this.applied.set(id, []);
    return node;
  }

  node(id: NodeId): RaftNode {
    return this.nodes.get(id)!;
  }

  cut(a: NodeId, b: NodeId): void {
    this.dropped.add(`${a}-${b}`);
    this.dropped.add(`${b}-${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  ignore(type: Message['type']): void {
    this.ignored.add(type);
  }

  recover(): void {
    this.dropped.clear();
    this.ignored.clear();
  }

  /** Drains every node's Ready and returns the outgoing messages that pass the filters. */
  collect(): Message[] {
    const out: Message[] = [];
    for (const [id, node] of this.nodes) {
      while (node.hasReady()) {
        const rd = handleReady(node, this.storages.get(id)!);
        for (const e of rd.committedEntries)
          if (e.type === 'normal' && e.data.length > 0) this.applied.get(id)!.push(e.data);
        for (const m of rd.messages) {
          if (this.dropped.has(`${m.from}-${m.to}`) || this.ignored.has(m.type)) continue;
          if (this.nodes.has(m.to)) out.push(m);
        }
      }
    }
    return out;
  }

  /** Delivers until no messages are left. */
  stabilize(first: Message[] = []): void {
    let queue = [...first, ...this.collect()];
    let rounds = 0;
    while (queue.length > 0) {
      if (++rounds > 10_000) throw new Error('network did not stabilize');
      for (const m of queue) {
        this.delivered.push(m);
        this.nodes.get(m.to)?.step(m);
        if (m.type === 'snap') this.nodes.get(m.from)?.reportSnapshot(m.to, true);
      }
      queue = this.collect();
    }
  }

  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.stabilize();
    }
  }

  leaders(): NodeId[] {
    return [...this.nodes].filter(([, n]) => n.role === 'leader').map(([id]) => id);
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * Memory storage holding the founding conf entries for `voters` (as bootstrap writes them) followed by
 * entries with the given terms, and a hard state.
 */
export function storageWith(
  voters: readonly NodeId[],
  terms: readonly number[],
  term: number,
  commit = voters.length,
): MemoryStorage {
  const s = new MemoryStorage();
  const boot = [...voters]
    .sort((a, b) => a - b)
    .map((nodeId, i) => ({
      term: 1,
      index: i + 1,
      type: 'conf' as const,
      data: encodeConfChange({ type: 'addNode', nodeId }),
    }));
  const rest = terms.map((t, i) => ({
    term: t,
    index: boot.length + i + 1,
    type: 'normal' as const,
    data: bytes(`e${boot.length + i + 1}`),
  }));
  s.append([...boot, ...rest]);
  s.setHardState({ term, vote: 0, commit });
  return s;
}
