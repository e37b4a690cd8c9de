import {
  type ConfChange,
  checkOperations,
  type Entry,
  type KvInput,
  type KvOutput,
  kvModel,
  MemoryStorage,
  type Message,
  type NodeId,
  type Operation,
  RaftError,
  RaftNode,
  type Ready,
} from '../../src/index.js';
import { seededRng } from '../helpers/network.js';

export interface SimOptions {
  readonly seed: number;
  readonly size: number;
  readonly steps: number;
  /** Record client operations and check linearizability at the end. */
  readonly checkLinearizability?: boolean;
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    what: string,
  ) {
    super(`seed ${seed}, step ${step}: ${what} (reproduce with SEED=${seed})`);
  }
}

interface Command {
  readonly op: number;
  readonly key: string;
  readonly value: string;
}

interface SimNode {
  readonly id: NodeId;
  readonly founder: boolean;
  node: RaftNode | undefined;
  readonly storage: MemoryStorage;
  kv: Map<string, string>;
  appliedIndex: number;
  restartAt: number;
  removed: boolean;
}

interface PendingWrite {
  readonly op: number;
  readonly node: NodeId;
  readonly index: number;
  readonly term: number;
  readonly key: string;
  readonly value: string;
  readonly call: number;
}

interface PendingRead {
  readonly op: number;
  readonly node: NodeId;
  readonly key: string;
  readonly call: number;
  readonly term: number;
  index: number | undefined;
}

interface InFlight {
  readonly at: number;
  readonly m: Message;
}

const KEYS = ['a', 'b', 'c'];
const CLIENTS = 5;
const TRACE = process.env.SIM_TRACE === '1';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeKv(kv: Map<string, string>): Uint8Array {
  return encoder.encode(JSON.stringify([...kv].sort()));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  return data.length === 0 ? new Map() : new Map(JSON.parse(decoder.decode(data)) as [string, string][]);
}

/**
 * A seeded, reproducible simulation of a Raft cluster in one process: a network that loses, delays,
 * duplicates and reorders messages; partitions; crashes that lose whatever was not persisted (also in the
 * middle of handling a Ready); membership changes; log compaction; leadership transfers. Safety
 * invariants are checked after every step.
 */
export class Simulation {
  private readonly rng: () => number;
  private readonly nodes = new Map<NodeId, SimNode>();
  private inflight: InFlight[] = [];
  private readonly cut = new Set<string>();
  private now = 0;
  private clock = 0;
  private nextId: NodeId;
  private nextOp = 1;
  private readonly loss: number;
  private readonly dup: number;
  private readonly maxDelay: number;
  private readonly crashRate: number;
  private readonly partitionRate: number;
  private readonly confRate: number;

  /** Entries known committed (by any node applying them): index -> entry. */
  private readonly committed = new Map<number, Entry>();
  /** KV state digest after applying index i, first seen. */
  private readonly digests = new Map<number, string>();
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly checkedLeaders = new Set<string>();
  private readonly pendingWrites = new Map<number, PendingWrite>();
  private readonly pendingReads = new Map<number, PendingRead>();
  readonly history: Operation<KvInput, KvOutput>[] = [];
  readonly stats = {
    elections: 0,
    crashes: 0,
    confChanges: 0,
    snapshots: 0,
    installs: 0,
    writes: 0,
    reads: 0,
    applied: 0,
  };
  private step = 0;
  private readonly clientBusy: ({ op: number; since: number } | undefined)[] = [];
  private readonly clientOf = new Map<number, number>();

  constructor(private readonly opts: SimOptions) {
    this.rng = seededRng(opts.seed * 7919 + 17);
    this.loss = this.pick([0, 0.01, 0.05, 0.15, 0.3]);
    this.dup = this.pick([0, 0.02, 0.1]);
    this.maxDelay = this.pick([1, 2, 4, 8]);
    this.crashRate = this.pick([0, 0.002, 0.01]);
    this.partitionRate = this.pick([0, 0.005, 0.02]);
    this.confRate = this.pick([0, 0.01, 0.03]);
    const founders = Array.from({ length: opts.size }, (_, i) => i + 1);
    for (const id of founders) this.addNode(id, true, founders);
    this.nextId = opts.size + 1;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.rng() < p;
  }

  private trace(what: () => string): void {
    if (TRACE) console.log(`[${this.step}] ${what()}`);
  }

  private fail(what: string): never {
    throw new SimFailure(this.opts.seed, this.step, what);
  }

  private addNode(id: NodeId, founder: boolean, peers: readonly NodeId[]): void {
    const sn: SimNode = {
      id,
      founder,
      node: undefined,
      storage: new MemoryStorage(),
      kv: new Map(),
      appliedIndex: 0,
      restartAt: 0,
      removed: false,
    };
    this.nodes.set(id, sn);
    this.start(sn, founder ? peers : []);
  }

  private start(sn: SimNode, peers: readonly NodeId[]): void {
    sn.node = new RaftNode({
      id: sn.id,
      peers,
      storage: sn.storage,
      electionTicks: 10,
      heartbeatTicks: 1,
      maxInflight: this.pick([1, 4, 256]),
      maxSizePerMsg: this.pick([64, 4096]),
      rng: seededRng(Math.floor(this.rng() * 2 ** 31)),
    });
    // the state machine restarts from the last snapshot; the log replays the rest
    const snap = sn.storage.snapshot();
    this.trace(
      () =>
        `start ${sn.id} snap=${snap.metadata.index} hs=${JSON.stringify(sn.storage.initialState().hardState)} last=${sn.storage.lastIndex()}`,
    );
    sn.kv = decodeKv(snap.data);
    sn.appliedIndex = snap.metadata.index;
  }

  private crash(sn: SimNode): void {
    this.trace(() => `crash ${sn.id}`);
    sn.node = undefined;
    sn.restartAt = this.now + 5 + Math.floor(this.rng() * 60);
    this.stats.crashes++;
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.node !== undefined);
  }

  private leaders(): SimNode[] {
    return this.live().filter((n) => n.node!.role === 'leader');
  }

  run(): void {
    for (this.step = 0; this.step < this.opts.steps; this.step++) {
      this.now++;
      this.faults();
      this.tickAndDeliver();
      this.clients();
      this.processAll(true);
      this.checkInvariants();
    }
    // quiet period: heal everything and let the cluster converge
    this.cut.clear();
    for (const sn of this.nodes.values()) if (!sn.node && !sn.removed) this.start(sn, []);
    // with tight flow control (one small append in flight) a lagging member catches up one entry per step
    for (let i = 0; i < 5000; i++, this.step++) {
      this.now++;
      this.tickAndDeliver(true);
      this.processAll(false);
      this.checkInvariants();
      if (i >= 30 && i % 10 === 0 && this.converged() === undefined) break;
    }
    const why = this.converged();
    if (why !== undefined) this.fail(why);
    if (this.opts.checkLinearizability) this.checkHistory();
  }

  private faults(): void {
    for (const sn of this.nodes.values()) {
      if (!sn.node && this.now >= sn.restartAt) this.start(sn, []);
    }
    if (this.chance(this.crashRate)) {
      const alive = this.live();
      if (alive.length > 0) this.crash(this.pick(alive));
    }
    if (this.cut.size === 0 && this.chance(this.partitionRate)) {
      const ids = [...this.nodes.keys()];
      const side = new Set(ids.filter(() => this.chance(0.4)));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}-${b}`);
    } else if (this.cut.size > 0 && this.chance(0.03)) {
      this.cut.clear();
    }
    const leader = this.leaders()[0];
    if (leader && this.chance(this.confRate)) this.changeMembership(leader);
    if (this.chance(0.02)) this.compact(this.pick([...this.nodes.values()]));
    if (leader && this.chance(0.003)) {
      const others = [...leader.node!.tracker.voters].filter((id) => id !== leader.id);
      if (others.length > 0) leader.node!.transferLeader(this.pick(others));
    }
  }

  private changeMembership(leader: SimNode): void {
    const node = leader.node!;
    const voters = [...node.tracker.voters];
    const learners = [...node.tracker.learners];
    let cc: ConfChange;
    const r = this.rng();
    if (learners.length > 0 && r < 0.5) cc = { type: 'addNode', nodeId: this.pick(learners) };
    else if (r < 0.7 && voters.length + learners.length < 7) cc = { type: 'addLearner', nodeId: this.nextId };
    else if (voters.length > 3) cc = { type: 'removeNode', nodeId: this.pick(voters) };
    else if (learners.length > 0) cc = { type: 'removeNode', nodeId: this.pick(learners) };
    else return;
    try {
      node.proposeConfChange(cc);
    } catch (err) {
      if (err instanceof RaftError) return;
      throw err;
    }
    this.stats.confChanges++;
    if (cc.type === 'addLearner') this.addNode(this.nextId++, false, []);
  }

  private compact(sn: SimNode): void {
    if (!sn.node) return;
    const have = sn.storage.snapshot().metadata.index;
    // a snapshot exactly at the applied index: the state machine and the membership both match it
    if (sn.appliedIndex <= have || sn.appliedIndex > sn.storage.lastIndex()) return;
    sn.storage.createSnapshot(sn.appliedIndex, sn.node.confState(), encodeKv(sn.kv));
    const keep = this.pick([0, 2, 10]);
    if (sn.appliedIndex - keep > sn.storage.firstIndex()) sn.storage.compact(sn.appliedIndex - keep);
    this.stats.snapshots++;
  }

  private tickAndDeliver(quiet = false): void {
    for (const sn of this.live()) if (quiet || this.chance(0.9)) sn.node!.tick();
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inflight) (f.at <= this.now ? due : later).push(f);
    this.inflight = later;
    // shuffle the due messages: reordering within a tick
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng() * (i + 1));
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    for (const { m } of due) {
      const to = this.nodes.get(m.to);
      const from = this.nodes.get(m.from);
      const ok = to?.node !== undefined;
      if (ok) to.node!.step(m);
      if (m.type === 'snap' && from?.node) from.node.reportSnapshot(m.to, ok);
    }
  }

  private send(m: Message, quiet: boolean): void {
    const from = this.nodes.get(m.from)!;
    const lost = this.cut.has(`${m.from}-${m.to}`) || (!quiet && this.chance(this.loss));
    if (lost) {
      if (m.type === 'snap') from.node?.reportSnapshot(m.to, false);
      return;
    }
    const delay = quiet ? 0 : Math.floor(this.rng() * (this.maxDelay + 1));
    this.inflight.push({ at: this.now + delay, m });
    if (!quiet && this.chance(this.dup)) {
      this.inflight.push({ at: this.now + Math.floor(this.rng() * (this.maxDelay + 1)), m });
    }
  }

  /** Client `c` is done with its operation (answered, failed or given up on) and may issue another. */
  private release(op: number): void {
    const c = this.clientOf.get(op);
    this.clientOf.delete(op);
    if (c !== undefined && this.clientBusy[c]?.op === op) this.clientBusy[c] = undefined;
  }

  /**
   * A few sequential clients, each with one operation outstanding: histories then have bounded
   * concurrency, as in Jepsen/Porcupine. A client that waited too long gives up; its write stays
   * indeterminate (it may still take effect) and the client moves on.
   */
  private clients(): void {
    for (let c = 0; c < CLIENTS; c++) {
      const busy = this.clientBusy[c];
      if (busy && this.now - busy.since > 150) {
        this.pendingReads.delete(busy.op);
        this.clientBusy[c] = undefined;
      }
      if (this.clientBusy[c] || !this.chance(this.opts.checkLinearizability ? 0.3 : 0.1)) continue;
      const leader = this.leaders();
      if (leader.length === 0) return;
      const op = this.issue(this.pick(leader));
      if (op !== undefined) {
        this.clientBusy[c] = { op, since: this.now };
        this.clientOf.set(op, c);
      }
    }
  }

  private issue(sn: SimNode): number | undefined {
    const node = sn.node!;
    const key = this.pick(KEYS);
    const op = this.nextOp++;
    try {
      if (this.chance(0.3)) {
        node.readIndex(encoder.encode(String(op)));
        this.pendingReads.set(op, {
          op,
          node: sn.id,
          key,
          call: this.clock++,
          term: node.term,
          index: undefined,
        });
        this.stats.reads++;
        return op;
      }
      const cmd: Command = { op, key, value: `v${op}` };
      const call = this.clock++;
      const at = node.propose(encoder.encode(JSON.stringify(cmd)));
      this.pendingWrites.set(op, { op, node: sn.id, ...at, key, value: cmd.value, call });
      this.stats.writes++;
      return op;
    } catch (err) {
      if (err instanceof RaftError) return undefined;
      throw err;
    }
  }

  private processAll(faults: boolean): void {
    for (let round = 0; round < 20; round++) {
      let any = false;
      for (const sn of [...this.nodes.values()]) {
        while (sn.node?.hasReady()) {
          any = true;
          this.processReady(sn, faults);
        }
      }
      if (!any) return;
    }
  }

  private processReady(sn: SimNode, faults: boolean): void {
    const node = sn.node!;
    const rd = node.ready();
    this.trace(
      () =>
        `ready ${sn.id} ${node.role} t${node.term} ents=${rd.entries.map((e) => `${e.index}/${e.term}`).join(',')} committed=${rd.committedEntries.map((e) => e.index).join(',')} snap=${rd.snapshot?.metadata.index} hs=${JSON.stringify(rd.hardState)} applied=${sn.appliedIndex}`,
    );
    const crashAt = faults && this.chance(this.crashRate / 4) ? Math.floor(this.rng() * 3) : -1;
    if (crashAt === 0) {
      this.crash(sn);
      return;
    }
    if (rd.snapshot) sn.storage.applySnapshot(rd.snapshot);
    sn.storage.append(rd.entries);
    if (rd.hardState) sn.storage.setHardState(rd.hardState);
    if (crashAt === 1) {
      this.crash(sn);
      return;
    }
    for (const m of rd.messages) this.send(m, !faults);
    if (crashAt === 2) {
      this.crash(sn);
      return;
    }
    if (rd.softState?.role === 'leader') this.stats.elections++;
    this.apply(sn, rd);
    node.advance(rd);
    for (const rs of rd.readStates) {
      const op = Number(decoder.decode(rs.context));
      const pr = this.pendingReads.get(op);
      if (pr && pr.node === sn.id) pr.index = rs.index;
    }
    this.answerReads(sn);
  }

  private apply(sn: SimNode, rd: Ready): void {
    if (rd.snapshot) {
      const s = rd.snapshot;
      if (s.metadata.index <= sn.appliedIndex)
        this.fail(`node ${sn.id} got a snapshot at ${s.metadata.index} <= applied ${sn.appliedIndex}`);
      sn.kv = decodeKv(s.data);
      sn.appliedIndex = s.metadata.index;
      this.stats.installs++;
      const d = this.digests.get(s.metadata.index);
      if (d !== undefined && d !== JSON.stringify([...sn.kv].sort()))
        this.fail(`snapshot at ${s.metadata.index} differs`);
    }
    for (const e of rd.committedEntries) {
      if (e.index !== sn.appliedIndex + 1)
        this.fail(`node ${sn.id} applied ${e.index} after ${sn.appliedIndex}`);
      const seen = this.committed.get(e.index);
      if (seen === undefined) {
        this.committed.set(e.index, e);
        this.settleWrites(e);
      } else if (seen.term !== e.term || seen.type !== e.type || Buffer.compare(seen.data, e.data) !== 0) {
        this.fail(`node ${sn.id} applied a different entry at ${e.index}: term ${e.term} vs ${seen.term}`);
      }
      sn.appliedIndex = e.index;
      this.stats.applied++;
      if (e.type === 'normal' && e.data.length > 0) {
        const cmd = JSON.parse(decoder.decode(e.data)) as Command;
        sn.kv.set(cmd.key, cmd.value);
      }
      const digest = JSON.stringify([...sn.kv].sort());
      const d = this.digests.get(e.index);
      if (d === undefined) this.digests.set(e.index, digest);
      else if (d !== digest) this.fail(`node ${sn.id} state after ${e.index} differs`);
    }
  }

  /**
   * The first time an index is applied anywhere it is known committed: the write proposed there took
   * effect by now (a client could have been told), and any other proposal for that slot never will.
   */
  private settleWrites(e: Entry): void {
    for (const w of this.pendingWrites.values()) {
      if (w.index !== e.index) continue;
      this.pendingWrites.delete(w.op);
      this.release(w.op);
      if (w.term === e.term) {
        const input: KvInput = { kind: 'put', key: w.key, value: w.value };
        this.history.push({ input, output: null, call: w.call, return: this.clock++ });
      }
    }
  }

  private answerReads(sn: SimNode): void {
    for (const r of this.pendingReads.values()) {
      if (r.node !== sn.id || r.index === undefined || sn.appliedIndex < r.index) continue;
      this.pendingReads.delete(r.op);
      this.release(r.op);
      this.history.push({
        input: { kind: 'get', key: r.key },
        output: sn.kv.get(r.key) ?? null,
        call: r.call,
        return: this.clock++,
      });
    }
  }

  private checkInvariants(): void {
    for (const sn of this.live()) {
      const node = sn.node!;
      if (node.role === 'leader') {
        const prev = this.leaderOfTerm.get(node.term);
        if (prev !== undefined && prev !== sn.id)
          this.fail(`two leaders in term ${node.term}: ${prev} and ${sn.id}`);
        this.leaderOfTerm.set(node.term, sn.id);
        const key = `${node.term}/${sn.id}`;
        if (!this.checkedLeaders.has(key)) {
          this.checkedLeaders.add(key);
          // leader completeness: every entry known committed is in the new leader's log
          const first = node.log.firstIndex();
          for (const [i, e] of this.committed) {
            if (i < first) continue;
            if (node.log.term(i) !== e.term)
              this.fail(`leader ${sn.id} of term ${node.term} lacks committed entry ${i}`);
          }
        }
      }
      // committed prefix on every node agrees with what was applied anywhere
      const c = node.log.committed;
      for (let i = Math.max(node.log.firstIndex(), c - 3); i <= c; i++) {
        const e = this.committed.get(i);
        if (e && node.log.term(i) !== e.term)
          this.fail(`node ${sn.id} has term ${node.log.term(i)} at committed ${i}, expected ${e.term}`);
      }
    }
    // pending reads on nodes that restarted can never be answered
    for (const r of this.pendingReads.values()) {
      const sn = this.nodes.get(r.node)!;
      if (!sn.node || sn.node.term !== r.term) {
        this.pendingReads.delete(r.op);
        this.release(r.op);
      }
    }
    if (this.step % 50 === 0) this.checkLogMatching();
  }

  /** If two logs hold an entry with the same index and term, they agree on everything before it. */
  private checkLogMatching(): void {
    const live = this.live();
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) {
        const la = live[a]!.node!.log;
        const lb = live[b]!.node!.log;
        const lo = Math.max(la.firstIndex(), lb.firstIndex());
        let i = Math.min(la.lastIndex(), lb.lastIndex());
        while (i >= lo && la.term(i) !== lb.term(i)) i--;
        for (; i >= lo; i--) {
          if (la.term(i) !== lb.term(i))
            this.fail(`log matching broken between ${live[a]!.id} and ${live[b]!.id} at ${i}`);
        }
      }
    }
  }

  /** Why the healed cluster has not converged yet, or undefined when it has. */
  private converged(): string | undefined {
    const leaders = this.leaders();
    if (leaders.length !== 1) return `after healing there are ${leaders.length} leaders`;
    const leader = leaders[0]!.node!;
    for (const id of [...leader.tracker.voters, ...leader.tracker.learners]) {
      const sn = this.nodes.get(id);
      if (!sn?.node) return `member ${id} is not running`;
      if (sn.appliedIndex !== leader.log.committed) {
        return `member ${id} applied ${sn.appliedIndex}, leader committed ${leader.log.committed}`;
      }
    }
    return undefined;
  }

  private checkHistory(): void {
    // writes still pending may or may not have taken effect
    for (const w of this.pendingWrites.values()) {
      this.history.push({
        input: { kind: 'put', key: w.key, value: w.value },
        output: null,
        call: w.call,
        return: Infinity,
      });
    }
    const result = checkOperations(kvModel, this.history, { timeoutMs: 20_000 });
    if (result === 'illegal') this.fail(`history of ${this.history.length} operations is not linearizable`);
  }
}

export function runSeed(opts: SimOptions): Simulation {
  const sim = new Simulation(opts);
  sim.run();
  return sim;
}
