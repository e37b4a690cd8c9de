import { isFatalStateMachineError, NotLeaderError, RaftError, StoppedError } from './errors.js';
import type { HostStorage } from './host-storage.js';
import type { RaftConfig } from './raft.js';
import { RaftNode } from './raft.js';
import type { Transport } from './transport.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  NodeId,
  Ready,
  Role,
  SnapshotMetadata,
} from './types.js';

/** The application replicated by a group. Every member applies the same entries in the same order. */
export interface StateMachine<R = unknown> {
  /**
   * Applies one committed entry (only normal entries with data; never twice in a process). What it
   * returns resolves the proposal; what it throws rejects it, and must be deterministic too: every
   * member throws the same for the same entry. A local failure that is not a property of the entry (a
   * disk error) must be thrown as a `FatalStateMachineError` (or any error with `fatal: true`): the
   * group then stops (onError), rejects pending proposals, and applies nothing more.
   */
  apply(entry: Entry): R | Promise<R>;
  /**
   * The whole state as of the moment of the call: exactly the entries applied so far. It may resolve
   * later — the group keeps applying entries meanwhile, so an asynchronous snapshot must capture its
   * state synchronously (copy it, or take a consistent read view) before it returns its promise. The
   * group records it at the index applied when it called; a state machine whose state records its own
   * applied index and whose apply skips entries the state already reflects (as bundoc's does) may
   * include later entries. Never called while a previous snapshot or a restore is still running.
   */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replaces the whole state with a snapshot (at start, or one sent by the leader); never during a snapshot. */
  restore(data: Uint8Array, metadata: SnapshotMetadata): void | Promise<void>;
}

/** The leader lost leadership with the proposal or read pending: it may or may not take effect. */
export class LeadershipLostError extends NotLeaderError {
  constructor(leaderId: NodeId) {
    super(leaderId);
    this.message = `leadership lost before the operation completed (it may still take effect); ${
      leaderId ? `the leader is node ${leaderId}` : 'no leader known'
    }`;
  }
}

export interface RaftGroupOptions<R> {
  readonly id: NodeId;
  /** Founding voters (the same list on every founding member); omit when joining an existing group. */
  readonly peers?: readonly NodeId[];
  readonly storage: HostStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine<R>;
  /** Milliseconds per logical tick. Default 100 (so elections take 1-2 s with 10 election ticks). */
  readonly tickMs?: number;
  /** Options of the core (election and heartbeat ticks, flow control, limits). */
  readonly raft?: Omit<RaftConfig, 'id' | 'peers' | 'storage'>;
  /** Take a snapshot after this many applied entries; 0 never. Default 10,000. */
  readonly snapshotEvery?: number;
  /** Entries kept behind a snapshot so that slightly lagging followers catch up by log. Default 1,000. */
  readonly keepEntries?: number;
  /** A fatal error (storage failure): the group stopped. */
  readonly onError?: (err: unknown) => void;
}

export interface GroupStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly snapshotsTaken: number;
  readonly snapshotsRestored: number;
}

interface Pending<T> {
  readonly term: number;
  resolve(v: T): void;
  reject(err: unknown): void;
}

interface PendingRead {
  readonly term: number;
  index: number | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The host loop around a RaftNode: ticks it on a timer, and for each Ready persists (durably, before
 * anything leaves the node), sends, applies committed entries to the state machine, then advances.
 * Proposals resolve with the state machine's result once their entry is applied; reads are
 * linearizable through ReadIndex; snapshots are taken every `snapshotEvery` entries and the log is
 * compacted behind them, and the core sends them to followers that fell behind the compaction point.
 */
export class RaftGroup<R = unknown> {
  readonly id: NodeId;
  private readonly node: RaftNode;
  private readonly storage: HostStorage;
  private readonly transport: Transport;
  private readonly sm: StateMachine<R>;
  private readonly proposals = new Map<number, Pending<R>>();
  private readonly confProposals = new Map<number, Pending<void>>();
  private readonly reads = new Map<string, PendingRead>();
  private readCounter = 0;
  private applied = 0;
  private role: Role = 'follower';
  private leaderId: NodeId = 0;
  private leaderTerm = 0;
  /** The hard state as last persisted. */
  private saved: HardState;
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  /** A snapshot being taken, then persisted; the loop goes on meanwhile. */
  private snapshotting: Promise<void> | undefined;
  private stopped = false;
  private failure: unknown;
  private snapshotsTaken = 0;
  private snapshotsRestored = 0;
  private readonly snapshotEvery: number;
  private readonly keepEntries: number;
  private readonly leaderWatchers = new Set<(leaderId: NodeId) => void>();

  private constructor(private readonly options: RaftGroupOptions<R>) {
    this.id = options.id;
    this.storage = options.storage;
    this.transport = options.transport;
    this.sm = options.stateMachine;
    this.snapshotEvery = options.snapshotEvery ?? 10_000;
    this.keepEntries = options.keepEntries ?? 1000;
    this.node = new RaftNode({
      ...options.raft,
      id: options.id,
      peers: options.peers ?? [],
      storage: options.storage,
    });
    this.saved = options.storage.initialState().hardState;
  }

  /** Restores the state machine from the stored snapshot, starts the transport and the tick timer. */
  static async start<R>(options: RaftGroupOptions<R>): Promise<RaftGroup<R>> {
    const g = new RaftGroup(options);
    const snap = options.storage.snapshot();
    if (snap.metadata.index > 0) {
      await g.sm.restore(snap.data, snap.metadata);
      g.applied = snap.metadata.index;
    }
    await g.transport.start({
      onMessages: (msgs) => {
        if (g.stopped) return;
        try {
          for (const m of msgs) g.node.step(m);
        } catch (err) {
          g.fail(err);
          return;
        }
        g.kick();
      },
      onUnreachable: (to) => {
        if (!g.stopped) g.node.reportUnreachable(to);
      },
      onSnapshotStatus: (to, ok) => {
        if (g.stopped) return;
        g.node.reportSnapshot(to, ok);
        g.kick();
      },
    });
    g.timer = setInterval(() => {
      try {
        g.node.tick();
      } catch (err) {
        g.fail(err);
        return;
      }
      g.kick();
    }, options.tickMs ?? 100);
    g.kick();
    return g;
  }

  // ---- client API -------------------------------------------------------------------------------

  /** Replicates `data`; resolves with what the state machine's apply returned for it. */
  propose(data: Uint8Array): Promise<R> {
    if (this.stopped) return Promise.reject(this.failure ?? new StoppedError());
    let at: { index: number; term: number };
    try {
      at = this.node.propose(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const p = new Promise<R>((resolve, reject) =>
      this.proposals.set(at.index, { term: at.term, resolve, reject }),
    );
    this.kick();
    return p;
  }

  /** Changes membership one node at a time; resolves once the change is applied here. */
  proposeConfChange(cc: ConfChange): Promise<void> {
    if (this.stopped) return Promise.reject(this.failure ?? new StoppedError());
    let at: { index: number; term: number };
    try {
      at = this.node.proposeConfChange(cc);
    } catch (err) {
      return Promise.reject(err);
    }
    const p = new Promise<void>((resolve, reject) =>
      this.confProposals.set(at.index, { term: at.term, resolve, reject }),
    );
    this.kick();
    return p;
  }

  /**
   * Resolves once the local state machine reflects every write committed before the call (ReadIndex:
   * a quorum confirmed this node was still the leader). Read the state machine right after.
   */
  read(): Promise<void> {
    if (this.stopped) return Promise.reject(this.failure ?? new StoppedError());
    const ctx = Buffer.alloc(8);
    ctx.writeDoubleBE(++this.readCounter);
    try {
      this.node.readIndex(ctx);
    } catch (err) {
      return Promise.reject(err);
    }
    const p = new Promise<void>((resolve, reject) =>
      this.reads.set(ctx.toString('hex'), { term: this.node.term, index: undefined, resolve, reject }),
    );
    this.kick();
    return p;
  }

  transferLeadership(to: NodeId): void {
    this.node.transferLeader(to);
    this.kick();
  }

  /** Starts an election now instead of waiting for the timeout. */
  campaign(): void {
    this.node.campaign();
    this.kick();
  }

  isLeader(): boolean {
    return this.node.role === 'leader';
  }

  /** Calls `fn` on every change of known leader (0: none). Returns an unsubscribe function. */
  onLeaderChange(fn: (leaderId: NodeId) => void): () => void {
    this.leaderWatchers.add(fn);
    return () => this.leaderWatchers.delete(fn);
  }

  status(): GroupStatus {
    return {
      id: this.id,
      role: this.node.role,
      leaderId: this.node.leaderId,
      term: this.node.term,
      commit: this.node.log.committed,
      applied: this.applied,
      firstIndex: this.storage.firstIndex(),
      lastIndex: this.node.log.lastIndex(),
      snapshotIndex: this.storage.snapshot().metadata.index,
      snapshotsTaken: this.snapshotsTaken,
      snapshotsRestored: this.snapshotsRestored,
    };
  }

  /** Stops ticking, finishes the Ready in progress, closes transport and storage; pending calls fail. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.pumping?.catch(() => {});
    // the state machine's snapshot may still be reading it: let it finish before anything closes
    await this.snapshotting?.catch(() => {});
    this.rejectAll(this.failure ?? new StoppedError());
    await this.transport.close();
    await this.storage.close().catch(() => {});
  }

  // ---- the loop ---------------------------------------------------------------------------------

  private kick(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    // let the current turn queue more work (proposals, messages) so it goes out in one Ready
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (!this.stopped && this.node.hasReady()) await this.handleReady(this.node.ready());
    } catch (err) {
      this.fail(err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    // a snapshot from the leader replaces storage and state machine: first let ours finish (its index is
    // older; installed after it, it would be refused as out of date)
    // (a loop: a finished snapshot may start the next one; with this Ready pending nothing applies, so
    // at most one more)
    while (rd.snapshot && this.snapshotting) await this.snapshotting.catch(() => {});
    this.noteSoftState();
    // A leader may replicate while it writes its own copy (Raft thesis 10.2.1, as etcd does): its
    // messages carry no vote and acknowledge nothing of this batch, and a commit that counts its own copy
    // of these entries leaves only in a later Ready, handled after this one's fsync. Others persist first.
    const hs = rd.hardState;
    const sendEarly =
      this.role === 'leader' && (!hs || (hs.term === this.saved.term && hs.vote === this.saved.vote));
    if (sendEarly && rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
      await this.storage.save(
        {
          ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
          entries: rd.entries,
          ...(rd.hardState ? { hardState: rd.hardState } : {}),
        },
        rd.mustSync || rd.snapshot !== undefined,
      );
      if (hs) this.saved = hs;
    }
    // only now may anything that depends on the persisted state leave the node
    if (!sendEarly && rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot) {
      await this.sm.restore(rd.snapshot.data, rd.snapshot.metadata);
      this.applied = rd.snapshot.metadata.index;
      this.snapshotsRestored++;
      this.settleUpTo(this.applied, undefined);
    }
    const settle: (() => void)[] = [];
    try {
      for (const e of rd.committedEntries) {
        if (e.index <= this.applied) continue;
        await this.applyEntry(e, settle);
        this.applied = e.index;
      }
    } catch (err) {
      // a fatal state machine failure: what was applied before it is committed and settles; the rest
      // of the group stops (the caller fails it) and applies nothing more
      for (const fn of settle) fn();
      throw err;
    }
    this.node.advance(rd);
    // callers learn of their results only once the core knows the entries are applied
    for (const fn of settle) fn();
    for (const rs of rd.readStates) {
      const r = this.reads.get(Buffer.from(rs.context).toString('hex'));
      if (r) r.index = rs.index;
    }
    this.releaseReads();
    this.maybeSnapshot();
  }

  private async applyEntry(e: Entry, settle: (() => void)[]): Promise<void> {
    if (e.type === 'conf') {
      const p = this.confProposals.get(e.index);
      if (p) {
        this.confProposals.delete(e.index);
        const lost = new LeadershipLostError(this.node.leaderId);
        settle.push(() => (p.term === e.term ? p.resolve() : p.reject(lost)));
      }
      return;
    }
    let result: { ok: true; value: R } | { ok: false; error: unknown } | undefined;
    if (e.data.length > 0) {
      try {
        result = { ok: true, value: await this.sm.apply(e) };
      } catch (error) {
        if (isFatalStateMachineError(error)) throw error;
        result = { ok: false, error };
      }
    }
    settle.push(() => this.settleUpTo(e.index, { term: e.term, result }));
  }

  /** Settles proposals at or below `index`: the one whose entry this is gets its result, others lost. */
  private settleUpTo(
    index: number,
    applied:
      | { term: number; result: { ok: true; value: R } | { ok: false; error: unknown } | undefined }
      | undefined,
  ): void {
    for (const [i, p] of this.proposals) {
      if (i > index) continue;
      this.proposals.delete(i);
      if (applied && i === index && p.term === applied.term && applied.result) {
        if (applied.result.ok) p.resolve(applied.result.value);
        else p.reject(applied.result.error);
      } else {
        p.reject(new LeadershipLostError(this.node.leaderId));
      }
    }
  }

  private releaseReads(): void {
    for (const [k, r] of this.reads) {
      if (r.index !== undefined && r.index <= this.applied) {
        this.reads.delete(k);
        r.resolve();
      }
    }
  }

  private noteSoftState(): void {
    const { role, leaderId, term } = this.node;
    const wasLeader = this.role === 'leader';
    if (wasLeader && (role !== 'leader' || term !== this.leaderTerm)) {
      const err = new LeadershipLostError(leaderId);
      for (const p of this.proposals.values()) p.reject(err);
      this.proposals.clear();
      for (const p of this.confProposals.values()) p.reject(err);
      this.confProposals.clear();
    }
    // a read waits for quorum acks of the term it started in; a new term will never answer it
    for (const [k, r] of this.reads) {
      if (r.term !== term || role !== 'leader') {
        this.reads.delete(k);
        r.reject(new LeadershipLostError(leaderId));
      }
    }
    this.role = role;
    if (role === 'leader') this.leaderTerm = term;
    if (leaderId !== this.leaderId) {
      this.leaderId = leaderId;
      for (const fn of this.leaderWatchers) fn(leaderId);
    }
  }

  /**
   * Starts a snapshot every `snapshotEvery` applied entries, in the background: the state machine's
   * snapshot() may take long (bundoc copies its whole store), and the loop must go on ticking,
   * sending and applying meanwhile or the member would lose its leadership. The index and membership
   * are those of the moment snapshot() is called, which is when its state is captured (see
   * StateMachine.snapshot).
   */
  private maybeSnapshot(): void {
    if (this.snapshotEvery <= 0 || this.snapshotting || this.stopped) return;
    if (this.applied - this.storage.snapshot().metadata.index < this.snapshotEvery) return;
    const index = this.applied;
    const confState = this.node.confState();
    let data: Promise<Uint8Array>;
    try {
      data = Promise.resolve(this.sm.snapshot());
    } catch (err) {
      this.fail(err);
      return;
    }
    this.snapshotting = this.persistSnapshot(index, confState, data)
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.snapshotting = undefined;
        // entries applied meanwhile may call for the next one already
        this.maybeSnapshot();
      });
  }

  private async persistSnapshot(
    index: number,
    confState: ConfState,
    data: Promise<Uint8Array>,
  ): Promise<void> {
    const bytes = await data;
    if (this.stopped || index <= this.storage.snapshot().metadata.index) return;
    await this.storage.createSnapshot(index, confState, bytes);
    this.snapshotsTaken++;
    const compactTo = index - this.keepEntries;
    if (compactTo >= this.storage.firstIndex()) await this.storage.compact(compactTo);
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    // a state machine's own fatal error reaches the callers as it is (it says what failed)
    this.failure =
      err instanceof RaftError || isFatalStateMachineError(err)
        ? err
        : new RaftError('GROUP_FAILED', `raft group failed: ${String(err)}`);
    if (err instanceof Error && this.failure instanceof RaftError && this.failure !== err)
      this.failure.cause = err;
    this.options.onError?.(err);
    void this.stop();
  }

  private rejectAll(err: unknown): void {
    for (const p of this.proposals.values()) p.reject(err);
    this.proposals.clear();
    for (const p of this.confProposals.values()) p.reject(err);
    this.confProposals.clear();
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
  }
}
