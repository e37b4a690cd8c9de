import type { Test } from 'tap';
import t from 'tap';
import { RaftGroup, type StateMachine } from '../src/group.js';
import { MemoryHostStorage } from '../src/host-storage.js';
import { FatalStateMachineError, RaftError } from '../src/index.js';
import { decodeKvCommand, encodeKvCommand, KvStateMachine } from '../src/kv/kv-state-machine.js';
import { LocalNetwork } from '../src/transport-local.js';
import type { Entry, NodeId } from '../src/types.js';

const put = (key: string, value: string) => encodeKvCommand({ op: 'put', key, value });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A KV state machine whose snapshot captures its state at the call and delivers it `delayMs` later. */
class SlowSnapshotKv implements StateMachine<string | null> {
  readonly kv = new KvStateMachine();
  snapshotsStarted = 0;
  snapshotPending = false;
  constructor(public delayMs: number) {}
  apply(entry: Entry): string | null {
    return this.kv.apply(entry);
  }
  snapshot(): Promise<Uint8Array> {
    const data = this.kv.snapshot();
    this.snapshotsStarted++;
    this.snapshotPending = true;
    return sleep(this.delayMs).then(() => {
      this.snapshotPending = false;
      return data;
    });
  }
  restore(data: Uint8Array): void {
    this.kv.restore(data);
  }
}

t.test('a slow snapshot neither costs the leadership nor stalls commits, and is exact', async (t) => {
  // 10 ms ticks: an election timeout of 100-200 ms, far shorter than the 1.5 s snapshot. A group that
  // waited for the snapshot in its loop would send no heartbeat for 1.5 s and be deposed.
  const net = new LocalNetwork();
  const ids: NodeId[] = [1, 2, 3];
  const members = new Map<
    NodeId,
    { group: RaftGroup<string | null>; sm: SlowSnapshotKv; storage: MemoryHostStorage }
  >();
  for (const id of ids) {
    const sm = new SlowSnapshotKv(1500);
    const storage = new MemoryHostStorage();
    const group = await RaftGroup.start({
      id,
      peers: ids,
      storage,
      transport: net.transport(id),
      stateMachine: sm,
      tickMs: 10,
      snapshotEvery: 50,
      keepEntries: 10,
    });
    members.set(id, { group, sm, storage });
  }
  t.teardown(async () => {
    for (const m of members.values()) await m.group.stop();
  });
  await waitFor(() => [...members.values()].some((m) => m.group.isLeader()), 'a leader');
  const leaderId = [...members.entries()].find(([, m]) => m.group.isLeader())![0];
  const leader = members.get(leaderId)!;
  const term = leader.group.status().term;
  let i = 0;
  while (leader.sm.snapshotsStarted === 0) await leader.group.propose(put(`k${i % 7}`, `v${i++}`));
  t.ok(leader.sm.snapshotPending, 'the snapshot is running');
  const during = i;
  // (the next snapshot may start as soon as this one is recorded: wait for the record)
  while (leader.group.status().snapshotsTaken === 0) await leader.group.propose(put(`k${i % 7}`, `v${i++}`));
  const committedDuring = i - during;
  t.ok(committedDuring >= 50, `${committedDuring} proposals committed during the 1.5 s snapshot`);
  const st = leader.group.status();
  t.equal(st.leaderId, leaderId, 'still the leader');
  t.equal(st.term, term, 'in the same term: no election happened');
  t.ok(st.firstIndex > 1, `the log was compacted (first index ${st.firstIndex})`);

  // exact: the snapshot's state plus the log after its index is the live state
  const snap = leader.storage.snapshot();
  const rebuilt = new KvStateMachine();
  rebuilt.restore(snap.data);
  for (const e of leader.storage.entries(snap.metadata.index + 1, st.applied + 1, Number.MAX_SAFE_INTEGER)) {
    if (e.type === 'normal' && e.data.length > 0) rebuilt.apply(e);
  }
  t.same([...rebuilt.map].sort(), [...leader.sm.kv.map].sort(), 'snapshot + later entries = live state');
  t.ok(
    [...members.values()].every((m) => m.group.status().term === term),
    'no member moved to another term',
  );
});

t.test('a snapshot from the leader waits for the follower snapshot in progress', async (t) => {
  const net = new LocalNetwork();
  const ids: NodeId[] = [1, 2, 3];
  const members = new Map<NodeId, { group: RaftGroup<string | null>; sm: SlowSnapshotKv }>();
  const errors: unknown[] = [];
  for (const id of ids) {
    const sm = new SlowSnapshotKv(10);
    const group = await RaftGroup.start({
      id,
      peers: ids,
      storage: new MemoryHostStorage(),
      transport: net.transport(id),
      stateMachine: sm,
      tickMs: 10,
      snapshotEvery: 20,
      keepEntries: 2,
      onError: (e) => errors.push(e),
    });
    members.set(id, { group, sm });
  }
  t.teardown(async () => {
    for (const m of members.values()) await m.group.stop();
  });
  await waitFor(() => [...members.values()].some((m) => m.group.isLeader()), 'a leader');
  const leaderId = [...members.entries()].find(([, m]) => m.group.isLeader())![0];
  const leader = members.get(leaderId)!;
  const fid = ids.find((id) => id !== leaderId)!;
  const f = members.get(fid)!;
  f.sm.delayMs = 3000;
  let i = 0;
  while (f.sm.snapshotsStarted === 0) {
    await leader.group.propose(put(`k${i % 5}`, `v${i++}`));
    await sleep(1);
  }
  // the follower is in the middle of a snapshot; cut it off while the leader compacts past it
  net.disconnect(fid);
  for (let j = 0; j < 60; j++) await leader.group.propose(put(`k${i % 5}`, `v${i++}`));
  await waitFor(() => leader.group.status().firstIndex > f.group.status().applied + 1, 'compaction');
  t.ok(f.sm.snapshotPending, 'the follower snapshot is still running');
  net.reconnect(fid);
  await waitFor(() => f.group.status().applied >= leader.group.status().applied, 'the follower caught up');
  t.ok(f.group.status().snapshotsRestored >= 1, 'by the leader snapshot');
  t.ok(f.group.status().snapshotsTaken >= 1, 'after its own snapshot was recorded');
  t.same(errors, [], 'no member failed');
  t.same([...f.sm.kv.map].sort(), [...leader.sm.kv.map].sort());
});

/** Applies KV commands; `fatal:` keys fail locally (a "disk error"), `bad:` keys fail deterministically. */
class FlakyKv extends KvStateMachine {
  readonly appliedKeys: string[] = [];
  override apply(entry: Entry): string | null {
    const { key } = decodeKvCommand(entry.data);
    if (key.startsWith('fatal:')) throw new FatalStateMachineError(`disk failed applying ${key}`);
    if (key.startsWith('flag:')) throw Object.assign(new Error(`EIO applying ${key}`), { fatal: true });
    if (key.startsWith('bad:')) throw new RangeError(`refused ${key}`);
    this.appliedKeys.push(key);
    return super.apply(entry);
  }
}

async function soloGroup(t: Test, sm: FlakyKv, errors: unknown[]): Promise<RaftGroup<string | null>> {
  const group = await RaftGroup.start({
    id: 1,
    peers: [1],
    storage: new MemoryHostStorage(),
    transport: new LocalNetwork().transport(1),
    stateMachine: sm,
    tickMs: 10,
    onError: (err) => errors.push(err),
  });
  t.teardown(() => group.stop());
  await waitFor(() => group.isLeader(), 'leader');
  return group;
}

for (const kind of ['fatal', 'flag'] as const) {
  t.test(`a fatal state machine error (${kind}) stops the group; ordinary errors are results`, async (t) => {
    const sm = new FlakyKv();
    const errors: unknown[] = [];
    const group = await soloGroup(t, sm, errors);
    t.equal(await group.propose(put('a', '1')), null);
    const bad = await group.propose(put('bad:x', '1')).catch((e: unknown) => e);
    t.ok(bad instanceof RangeError, 'an ordinary error rejects only its proposal');
    t.equal(await group.propose(put('a', '2')), '1', 'the group goes on after it');
    t.equal(errors.length, 0);

    // queued in one turn: they commit in one Ready, the failing entry in the middle
    const before = group.propose(put('b', '1'));
    const failing = group.propose(put(`${kind}:y`, '1'));
    const after = group.propose(put('c', '1'));
    const [rb, rf, ra] = await Promise.all([before, failing, after].map((p) => p.catch((e: unknown) => e)));
    t.equal(rb, null, 'the entry applied before the failure resolves');
    t.ok(
      rf instanceof Error && rf.message.includes('applying'),
      'the failing proposal rejects with its error',
    );
    t.ok(ra instanceof Error && ra.message.includes('applying'), 'later proposals reject with the failure');
    t.same(sm.appliedKeys, ['a', 'a', 'b'], 'nothing applied after the failure');
    t.equal(errors.length, 1, 'onError called once');
    t.equal(errors[0], rf, 'with the state machine error itself');
    const more = await group.propose(put('d', '1')).catch((e: unknown) => e);
    t.equal(more, rf, 'a stopped group refuses proposals with the failure');
    await sleep(50);
    t.same(sm.appliedKeys, ['a', 'a', 'b']);
    if (kind === 'fatal') t.ok(rf instanceof RaftError && (rf as RaftError).code === 'STATE_MACHINE_FAILED');
  });
}

t.test('a fatal error on one member stops it; the others go on', async (t) => {
  const net = new LocalNetwork();
  const ids: NodeId[] = [1, 2, 3];
  const errors = new Map<NodeId, unknown[]>();
  const groups = new Map<NodeId, RaftGroup<string | null>>();
  // member 3's disk "fails" on the entry with key 'z'
  class DiskOf3 extends KvStateMachine {
    constructor(private readonly id: NodeId) {
      super();
    }
    override apply(entry: Entry): string | null {
      if (this.id === 3 && decodeKvCommand(entry.data).key === 'z') throw new FatalStateMachineError('EIO');
      return super.apply(entry);
    }
  }
  const sms = new Map<NodeId, DiskOf3>();
  for (const id of ids) {
    const sm = new DiskOf3(id);
    sms.set(id, sm);
    errors.set(id, []);
    groups.set(
      id,
      await RaftGroup.start({
        id,
        peers: ids,
        storage: new MemoryHostStorage(),
        transport: net.transport(id),
        stateMachine: sm,
        tickMs: 10,
        onError: (e) => errors.get(id)!.push(e),
      }),
    );
  }
  t.teardown(async () => {
    for (const g of groups.values()) await g.stop();
  });
  // keep 3 a follower so that its failure does not interrupt the test's writes
  await waitFor(() => [...groups.values()].some((g) => g.isLeader()), 'a leader');
  if (groups.get(3)!.isLeader()) {
    groups.get(3)!.transferLeadership(1);
    await waitFor(() => groups.get(1)!.isLeader(), 'leader 1');
  }
  const leader = groups.get(groups.get(1)!.isLeader() ? 1 : 2)!;
  await leader.propose(put('a', '1'));
  await leader.propose(put('z', '1'));
  await leader.propose(put('b', '1'));
  await waitFor(() => errors.get(3)!.length === 1, 'member 3 failed');
  t.ok(errors.get(3)![0] instanceof FatalStateMachineError);
  t.equal(sms.get(3)!.get('z'), null, 'member 3 never applied z');
  t.equal(sms.get(3)!.get('b'), null, 'nor anything after it');
  t.equal(await leader.propose(put('c', '1')), null, 'the other two still commit');
  t.equal(errors.get(1)!.length + errors.get(2)!.length, 0);
});
