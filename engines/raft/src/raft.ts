import { decodeConfChange, encodeConfChange, validNodeId } from './conf-change.js';
import { ConfChangeError, NotLeaderError, ProposalDroppedError, RaftError } from './errors.js';
import { RaftLog } from './log.js';
import { ProgressTracker } from './progress.js';
import { isMajority } from './quorum.js';
import { ReadOnly } from './read-only.js';
import type { Storage } from './storage.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
} from './types.js';
import { EMPTY_BYTES, entrySize, hardStateEqual, isEmptyHardState, message } from './types.js';

export interface RaftConfig {
  readonly id: NodeId;
  /** Initial voters, used only to bootstrap an empty storage (every founding member passes the same set). */
  readonly peers?: readonly NodeId[];
  readonly storage: Storage;
  /** Ticks without hearing from a leader before an election; randomized in [n, 2n). Default 10. */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Default 1. */
  readonly heartbeatTicks?: number;
  /** A candidate first asks whether it could win, so a partitioned node cannot inflate terms. Default true. */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum for an election timeout steps down. Default true. */
  readonly checkQuorum?: boolean;
  /** Appends in flight per follower in replicate state. Default 256. */
  readonly maxInflight?: number;
  /** Bytes in flight per follower; 0 means no byte limit. Default 0. */
  readonly maxInflightBytes?: number;
  /** Byte budget of one append message (always at least one entry). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Byte budget of committed entries handed out in one Ready. Default 64 MiB. */
  readonly maxCommittedSizePerReady?: number;
  /** Largest proposal accepted. Default 16 MiB. */
  readonly maxEntryBytes?: number;
  /** Source of randomness for election timeouts; inject a seeded one for deterministic runs. */
  readonly rng?: () => number;
}

type CampaignKind = 'preElection' | 'election' | 'transfer';

const TRANSFER_CONTEXT = new Uint8Array([1]);

function voteResponseType(t: MessageType): MessageType {
  return t === 'vote' ? 'voteResp' : 'preVoteResp';
}

/**
 * The Raft consensus core as a deterministic state machine, after etcd/raft. It does no I/O: inputs are
 * tick(), step() and the propose/read/transfer calls; outputs come out of ready(), which the host persists,
 * sends and applies before calling advance().
 */
export class RaftNode {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = 0;
  role: Role = 'follower';
  leaderId: NodeId = 0;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxSizePerMsg: number;
  private readonly maxEntryBytes: number;
  private readonly rng: () => number;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = 0;
  /** Index of the last conf change proposed by this leader; a new one waits until it is applied. */
  private pendingConfIndex = 0;
  /** Conf-change entries up to here are already reflected in the tracker. */
  private confAppliedIndex = 0;
  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests that wait for this leader's first commit in its term. */
  private pendingReadIndex: Uint8Array[] = [];
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoftState: SoftState;
  private prevHardState: HardState;

  constructor(config: RaftConfig) {
    if (!validNodeId(config.id)) throw new RaftError('INVALID_CONFIG', `invalid node id ${config.id}`);
    this.id = config.id;
    this.electionTimeout = config.electionTicks ?? 10;
    this.heartbeatTimeout = config.heartbeatTicks ?? 1;
    if (this.heartbeatTimeout < 1 || this.electionTimeout <= this.heartbeatTimeout) {
      throw new RaftError('INVALID_CONFIG', 'electionTicks must be greater than heartbeatTicks >= 1');
    }
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxSizePerMsg = config.maxSizePerMsg ?? 1024 * 1024;
    this.maxEntryBytes = config.maxEntryBytes ?? 16 * 1024 * 1024;
    this.rng = config.rng ?? Math.random;
    this.tracker = new ProgressTracker(config.maxInflight ?? 256, config.maxInflightBytes ?? 0);
    this.log = new RaftLog(config.storage, config.maxCommittedSizePerReady ?? 64 * 1024 * 1024);

    const { hardState, confState } = config.storage.initialState();
    this.applyConfState(confState);
    this.confAppliedIndex = this.log.applied;
    if (!isEmptyHardState(hardState)) {
      if (hardState.commit > this.log.lastIndex()) {
        throw new RaftError(
          'CORRUPT_STATE',
          `hard state commit ${hardState.commit} is beyond the last log index ${this.log.lastIndex()}`,
        );
      }
      // the snapshot is committed by definition, even if the stored commit is older
      this.log.committed = Math.max(this.log.committed, hardState.commit);
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    const peers = config.peers ?? [];
    if (peers.length > 0 && this.log.lastIndex() === 0 && isEmptyHardState(hardState)) this.bootstrap(peers);
    this.becomeFollower(this.term, 0);
    this.prevSoftState = this.softState();
    // compared against what storage holds, so that bootstrap state comes out in the first Ready
    this.prevHardState = hardState;
  }

  /**
   * Founding members write one addNode entry per peer at term 1, already committed, so every member
   * (and any node that joins later and replays the log) derives the same initial configuration.
   */
  private bootstrap(peers: readonly NodeId[]): void {
    const sorted = [...new Set(peers)].sort((a, b) => a - b);
    for (const p of sorted)
      if (!validNodeId(p)) throw new RaftError('INVALID_CONFIG', `invalid peer id ${p}`);
    const ents: Entry[] = sorted.map((nodeId, i) => ({
      term: 1,
      index: i + 1,
      type: 'conf',
      data: encodeConfChange({ type: 'addNode', nodeId }),
    }));
    this.log.append(ents);
    this.log.committed = ents.length;
    this.term = 1;
    for (const nodeId of sorted) this.applyConfChange({ type: 'addNode', nodeId });
    this.confAppliedIndex = ents.length;
  }

  // ---- public API -------------------------------------------------------------------------------

  softState(): SoftState {
    return { leaderId: this.leaderId, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** The membership as of the last applied entry: what a snapshot taken now must record. */
  confState(): ConfState {
    return this.tracker.confState();
  }

  isLearner(): boolean {
    return this.tracker.learners.has(this.id);
  }

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (tests and operators); a no-op on leaders and non-voters. */
  campaign(): void {
    this.step(message({ type: 'hup', from: this.id }));
  }

  /** Appends a proposal to the leader's log; returns where it will be if it commits. */
  propose(data: Uint8Array): { index: number; term: number } {
    this.checkProposal();
    if (data.length > this.maxEntryBytes) {
      throw new RaftError(
        'ENTRY_TOO_LARGE',
        `proposal of ${data.length} bytes exceeds ${this.maxEntryBytes}`,
      );
    }
    const at = this.appendEntry('normal', data);
    this.bcastAppend();
    return at;
  }

  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.checkProposal();
    if (!validNodeId(cc.nodeId)) throw new ConfChangeError(`invalid node id ${cc.nodeId}`);
    if (this.pendingConfIndex > this.log.applied) {
      throw new ConfChangeError('the previous change is not applied yet');
    }
    const { voters, learners } = this.tracker;
    switch (cc.type) {
      case 'addNode':
        if (voters.has(cc.nodeId)) throw new ConfChangeError(`node ${cc.nodeId} is already a voter`);
        break;
      case 'addLearner':
        if (voters.has(cc.nodeId))
          throw new ConfChangeError(`node ${cc.nodeId} is a voter; demotion is not supported`);
        if (learners.has(cc.nodeId)) throw new ConfChangeError(`node ${cc.nodeId} is already a learner`);
        break;
      case 'removeNode':
        if (!voters.has(cc.nodeId) && !learners.has(cc.nodeId)) {
          throw new ConfChangeError(`node ${cc.nodeId} is not a member`);
        }
        if (voters.has(cc.nodeId) && voters.size === 1)
          throw new ConfChangeError('cannot remove the last voter');
        break;
      default:
        throw new ConfChangeError(`unknown change type ${String((cc as ConfChange).type)}`);
    }
    const at = this.appendEntry('conf', encodeConfChange(cc));
    this.pendingConfIndex = at.index;
    this.bcastAppend();
    return at;
  }

  /**
   * Requests a linearizable read: a ReadState with `context` comes out of ready() once a quorum confirmed
   * this node was still the leader; the read is safe after applying up to its index.
   */
  readIndex(context: Uint8Array): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    if (this.tracker.voters.size === 1 && this.tracker.voters.has(this.id)) {
      this.readStates.push({ index: this.log.committed, context });
      return;
    }
    // the commit index of a new leader is only known once an entry of its own term has committed
    if (this.log.term(this.log.committed) !== this.term) {
      this.pendingReadIndex.push(context);
      return;
    }
    this.readOnly.add(this.log.committed, context, this.id);
    this.bcastHeartbeat(context);
  }

  /** Hands leadership to `transferee` once its log is up to date (TimeoutNow). */
  transferLeader(transferee: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    this.step(message({ type: 'transferLeader', from: transferee, to: this.id }));
  }

  /** The host tells the leader whether a snapshot reached `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.step(message({ type: 'snapStatus', from: id, to: this.id, reject: !ok }));
  }

  reportUnreachable(id: NodeId): void {
    this.step(message({ type: 'unreachable', from: id, to: this.id }));
  }

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.unstable.entries.length > 0 ||
      this.log.unstable.snapshot !== undefined ||
      this.log.hasNextCommittedEntries() ||
      !hardStateEqual(this.hardState(), this.prevHardState) ||
      this.prevSoftState.leaderId !== this.leaderId ||
      this.prevSoftState.role !== this.role
    );
  }

  /** Collects the pending work; call advance(rd) after handling it and before the next ready(). */
  ready(): Ready {
    const hs = this.hardState();
    const ss = this.softState();
    const entries = this.log.unstable.entries.slice();
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const rd: Ready = {
      entries,
      committedEntries: this.log.nextCommittedEntries(),
      messages: this.msgs,
      readStates: this.readStates,
      mustSync:
        entries.length > 0 || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
      ...(this.log.unstable.snapshot ? { snapshot: this.log.unstable.snapshot } : {}),
      ...(hardChanged ? { hardState: hs } : {}),
      ...(ss.leaderId !== this.prevSoftState.leaderId || ss.role !== this.prevSoftState.role
        ? { softState: ss }
        : {}),
    };
    this.msgs = [];
    this.readStates = [];
    this.prevHardState = hs;
    this.prevSoftState = ss;
    return rd;
  }

  advance(rd: Ready): void {
    if (rd.snapshot) {
      const idx = rd.snapshot.metadata.index;
      this.log.stableSnapTo(idx);
      if (idx > this.log.applied) this.log.applied = idx;
      this.confAppliedIndex = Math.max(this.confAppliedIndex, idx);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      this.log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      for (const e of rd.committedEntries) {
        if (e.type === 'conf' && e.index > this.confAppliedIndex) {
          this.confAppliedIndex = e.index;
          this.applyConfChange(decodeConfChange(e.data));
        }
      }
      this.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index);
    }
  }

  // ---- roles ------------------------------------------------------------------------------------

  private promotable(): boolean {
    return this.tracker.voters.has(this.id) && this.log.unstable.snapshot === undefined;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.leaderId = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.rng() * this.electionTimeout);
    this.leadTransferee = 0;
    this.tracker.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      const fresh = this.tracker.newProgress(last + 1, pr.isLearner);
      if (id === this.id) fresh.match = last;
      this.tracker.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.readOnly.reset();
    this.pendingReadIndex = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.leaderId = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // term and vote stay: a pre-election changes nothing durable
    this.tracker.resetVotes();
    this.leaderId = 0;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.leaderId = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // a conf change may not be proposed before everything from earlier terms is applied
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntry('normal', EMPTY_BYTES);
  }

  // ---- ticks ------------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: 'hup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: 'checkQuorum', from: this.id }));
      if (this.role === 'leader' && this.leadTransferee !== 0) this.leadTransferee = 0;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: 'beat', from: this.id }));
    }
  }

  // ---- elections --------------------------------------------------------------------------------

  private hasUnappliedConfChanges(): boolean {
    const from = Math.max(this.log.applied, this.confAppliedIndex) + 1;
    if (this.log.committed < from) return false;
    try {
      const ents = this.log.slice(from, this.log.committed + 1, Number.POSITIVE_INFINITY);
      return ents.some((e) => e.type === 'conf');
    } catch {
      return false;
    }
  }

  private hup(kind: CampaignKind): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // the configuration this node would count votes in is not final yet
    if (this.hasUnappliedConfChanges()) return;
    this.doCampaign(kind);
  }

  private doCampaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      voteType = 'preVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'preElection') this.doCampaign('election');
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteType,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          ...(kind === 'transfer' ? { context: TRANSFER_CONTEXT } : {}),
        }),
      );
    }
  }

  private poll(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  // ---- step -------------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context.length === 1 && m.context[0] === 1;
        const inLease =
          this.checkQuorum && this.leaderId !== 0 && this.electionElapsed < this.electionTimeout;
        // a node that heard from a leader recently does not help depose it
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // never change term for a pre-vote request
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // a granted pre-vote carries the future term; the term changes only when the real election starts
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // tell a deposed leader about the newer term so it steps down
        this.send(message({ type: 'appResp', to: m.from }));
      } else if (m.type === 'preVote') {
        this.send(message({ type: 'preVoteResp', to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case 'hup':
        this.hup(this.preVote ? 'preElection' : 'election');
        return;
      case 'vote':
      case 'preVote': {
        const canVote =
          this.vote === m.from ||
          (this.vote === 0 && this.leaderId === 0) ||
          (m.type === 'preVote' && m.term > this.term);
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          this.send(message({ type: voteResponseType(m.type), to: m.from, term: m.term }));
          if (m.type === 'vote') {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(message({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'beat':
        this.bcastHeartbeat();
        return;
      case 'checkQuorum':
        if (!this.tracker.quorumActive(this.id)) {
          this.becomeFollower(this.term, 0);
          return;
        }
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
        return;
    }
    const pr = this.tracker.progress.get(m.from);
    if (!pr || m.from === this.id) return;
    switch (m.type) {
      case 'appResp': {
        pr.recentActive = true;
        if (m.reject) {
          let nextProbe = m.rejectHint;
          if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
          if (pr.maybeDecrTo(m.index, nextProbe)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const oldPaused = pr.isPaused();
        const updated = pr.maybeUpdate(m.index);
        if (!updated && !(pr.match === m.index && pr.state === 'probe')) return;
        if (pr.state === 'probe') {
          pr.becomeReplicate();
        } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === 'replicate') {
          pr.inflights.freeLE(m.index);
        }
        if (this.maybeCommit()) {
          this.releasePendingReadIndex();
          this.bcastAppend();
        } else if (oldPaused) {
          this.sendAppend(m.from);
        }
        while (this.maybeSendAppend(m.from, false)) {
          // pipelining: keep sending while the window allows
        }
        if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
        return;
      }
      case 'heartbeatResp': {
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context, (id) => this.tracker.voters.has(id));
        if (!isMajority(acks, this.tracker.voters.size)) return;
        for (const rs of this.readOnly.advance(m.context)) this.readStates.push(rs);
        return;
      }
      case 'snapStatus':
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // wait for the next heartbeat response before probing again
        pr.probeSent = true;
        return;
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      case 'transferLeader': {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== 0) {
          if (this.leadTransferee === transferee) return;
          this.leadTransferee = 0;
        }
        if (transferee === this.id) return;
        // the transfer must finish within an election timeout, or it is abandoned
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
        else this.sendAppend(transferee);
        return;
      }
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myResponse: MessageType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myResponse: {
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'preCandidate') {
            this.doCampaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, 0);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // the leader asks us to take over now, skipping pre-vote and the lease check
        if (this.promotable()) this.doCampaign('transfer');
        return;
      default:
        return;
    }
  }

  // ---- follower handlers ------------------------------------------------------------------------

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: 'appResp', to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: 'appResp', to: m.from, index: lastNew }));
      return;
    }
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    );
    this.send(
      message({
        type: 'appResp',
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: hintTerm,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(message({ type: 'heartbeatResp', to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s && this.restore(s)) {
      this.send(message({ type: 'appResp', to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(message({ type: 'appResp', to: m.from, index: this.log.committed }));
    }
  }

  private restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // we already have the entries: fast-forward the commit instead of throwing the log away
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.applyConfState(s.metadata.confState);
    this.confAppliedIndex = index;
    return true;
  }

  // ---- leader helpers ---------------------------------------------------------------------------

  private checkProposal(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.leaderId);
    if (this.leadTransferee !== 0) {
      throw new ProposalDroppedError(`leadership is being transferred to node ${this.leadTransferee}`);
    }
    if (!this.tracker.progress.has(this.id)) throw new NotLeaderError(0);
  }

  private appendEntry(type: 'normal' | 'conf', data: Uint8Array): { index: number; term: number } {
    const index = this.log.lastIndex() + 1;
    this.log.append([{ term: this.term, index, type, data }]);
    // the leader counts its own copy; the host persists it before anything it implies leaves the node
    this.tracker.progress.get(this.id)?.maybeUpdate(index);
    if (this.maybeCommit()) this.releasePendingReadIndex();
    return { index, term: this.term };
  }

  /** Commits the majority index, but only by counting replicas of an entry from the current term. */
  private maybeCommit(): boolean {
    const mci = this.tracker.committed();
    if (mci > this.log.committed && this.log.term(mci) === this.term) {
      this.log.commitTo(mci);
      return true;
    }
    return false;
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const ctx of pending) this.readIndex(ctx);
  }

  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context?: Uint8Array): void {
    const ctx = context ?? this.readOnly.lastContext();
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      this.send(
        message({
          type: 'heartbeat',
          to: id,
          commit: Math.min(pr.match, this.log.committed),
          ...(ctx ? { context: ctx } : {}),
        }),
      );
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends entries (or a snapshot when they are compacted away) unless the follower is paused. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.log.entries(pr.next, this.maxSizePerMsg);
      } catch (err) {
        if (!(err instanceof RaftError)) throw err;
      }
    }
    if (prevTerm === undefined || ents === undefined) {
      if (!pr.recentActive) return false;
      const snap = this.log.snapshot();
      if (snap.metadata.index === 0) throw new Error('raft invariant: entries compacted but no snapshot');
      this.send(message({ type: 'snap', to, snapshot: snap }));
      pr.becomeSnapshot(snap.metadata.index);
      return true;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({
        type: 'app',
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    if (pr.state === 'replicate' && ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      pr.next = last + 1;
      let bytes = 0;
      for (const e of ents) bytes += entrySize(e);
      pr.inflights.add(last, bytes);
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: 'timeoutNow', to }));
  }

  private send(m: Message): void {
    const keepTerm =
      m.type === 'vote' || m.type === 'preVote' || m.type === 'voteResp' || m.type === 'preVoteResp';
    this.msgs.push({ ...m, from: this.id, term: keepTerm ? m.term : this.term });
  }

  // ---- membership -------------------------------------------------------------------------------

  private applyConfState(cs: ConfState): void {
    const t = this.tracker;
    t.voters = new Set(cs.voters);
    t.learners = new Set(cs.learners);
    t.progress.clear();
    const last = this.log.lastIndex();
    for (const id of [...cs.voters, ...cs.learners]) {
      const pr = t.newProgress(last + 1, t.learners.has(id));
      if (id === this.id) pr.match = last;
      pr.recentActive = true;
      t.progress.set(id, pr);
    }
  }

  private applyConfChange(cc: ConfChange): void {
    const t = this.tracker;
    const last = this.log.lastIndex();
    switch (cc.type) {
      case 'addNode': {
        t.learners.delete(cc.nodeId);
        t.voters.add(cc.nodeId);
        const pr = t.progress.get(cc.nodeId);
        if (pr) {
          pr.isLearner = false;
        } else {
          const fresh = t.newProgress(last + 1, false);
          fresh.recentActive = true;
          t.progress.set(cc.nodeId, fresh);
        }
        break;
      }
      case 'addLearner': {
        if (t.voters.has(cc.nodeId)) break;
        t.learners.add(cc.nodeId);
        if (!t.progress.has(cc.nodeId)) {
          const fresh = t.newProgress(last + 1, true);
          fresh.recentActive = true;
          t.progress.set(cc.nodeId, fresh);
        }
        break;
      }
      case 'removeNode':
        t.voters.delete(cc.nodeId);
        t.learners.delete(cc.nodeId);
        t.progress.delete(cc.nodeId);
        break;
    }
    if (this.role !== 'leader') return;
    if (!t.voters.has(this.id)) {
      // removed (or never a voter): step down so that the remaining members elect a leader
      this.becomeFollower(this.term, 0);
      return;
    }
    if (this.leadTransferee !== 0 && !t.progress.has(this.leadTransferee)) this.leadTransferee = 0;
    if (this.maybeCommit()) {
      this.releasePendingReadIndex();
      this.bcastAppend();
    } else {
      for (const id of t.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
  }
}
