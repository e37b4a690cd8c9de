import t from 'tap';
import { LeadershipLostError, RaftGroup } from '../src/group.js';
import { MemoryHostStorage } from '../src/host-storage.js';
import { NotLeaderError, RaftError, StoppedError } from '../src/index.js';
import { encodeKvCommand, KvStateMachine } from '../src/kv/kv-state-machine.js';
import { LocalNetwork } from '../src/transport-local.js';
import { LocalCluster } from './helpers/local-cluster.js';
import { tempDir } from './helpers/storage-model.js';

t.test('proposals resolve with the apply result once applied; every member converges', async (t) => {
  const c = await new LocalCluster().start();
  t.teardown(() => c.stop());
  const leader = await c.waitForLeader();
  t.equal(await c.put(leader, 'a', '1'), null, 'no previous value');
  t.equal(await c.put(leader, 'a', '2'), '1', 'previous value');
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => c.put(leader, `k${i}`, `v${i}`)));
  t.equal(many.length, 50);
  const commit = c.group(leader).status().commit;
  await c.waitFor(
    () => [...c.members.values()].every((m) => m.group!.status().applied >= commit),
    'all applied',
  );
  for (const m of c.members.values()) {
    t.equal(m.sm.get('a'), '2', `member ${m.id}`);
    t.equal(m.sm.map.size, 51, `member ${m.id} size`);
  }
});

t.test('a follower refuses writes and reads with NotLeader naming the leader', async (t) => {
  const c = await new LocalCluster().start();
  t.teardown(() => c.stop());
  const leader = await c.waitForLeader();
  await c.put(leader, 'x', '1');
  const follower = c.ids.find((id) => id !== leader)!;
  await c.waitFor(() => c.group(follower).status().leaderId === leader, 'follower knows the leader');
  const err = await c.put(follower, 'x', '2').catch((e: unknown) => e);
  t.ok(err instanceof NotLeaderError);
  t.equal((err as NotLeaderError).leaderId, leader);
  const rerr = await c
    .group(follower)
    .read()
    .catch((e: unknown) => e);
  t.ok(rerr instanceof NotLeaderError);
});

t.test('linearizable reads see every write acknowledged before them', async (t) => {
  const c = await new LocalCluster().start();
  t.teardown(() => c.stop());
  const leader = await c.waitForLeader();
  for (let i = 0; i < 20; i++) {
    await c.put(leader, 'r', String(i));
    await c.group(leader).read();
    t.equal(c.members.get(leader)!.sm.get('r'), String(i));
  }
  // concurrent writes and reads: a read issued after a write resolved sees it
  const writes = Array.from({ length: 30 }, (_, i) => c.put(leader, `w${i}`, 'v'));
  await Promise.all(writes);
  await c.group(leader).read();
  t.equal([...c.members.get(leader)!.sm.map.keys()].filter((k) => k.startsWith('w')).length, 30);
});

t.test('a partitioned leader rejects pending proposals when it loses leadership', async (t) => {
  const c = await new LocalCluster().start();
  t.teardown(() => c.stop());
  const leader = await c.waitForLeader();
  await c.put(leader, 'a', '1');
  c.net.disconnect(leader);
  const pending = c.put(leader, 'lost?', 'v');
  const read = c.group(leader).read();
  const [perr, rerr] = await Promise.all([pending.catch((e: unknown) => e), read.catch((e: unknown) => e)]);
  t.ok(perr instanceof LeadershipLostError, 'proposal rejected');
  t.ok(perr instanceof NotLeaderError, 'as a NotLeaderError');
  t.ok(rerr instanceof NotLeaderError, 'read rejected');
  const next = await c.waitForLeader(5000, leader);
  t.not(next, leader);
  t.equal(await c.put(next, 'a', '2'), '1');
  c.net.reconnect(leader);
  await c.waitFor(() => c.members.get(leader)!.sm.get('a') === '2', 'old leader catches up');
  t.equal(c.members.get(leader)!.sm.get('lost?'), null, 'the unreplicated proposal never applied');
});

t.test('snapshots every N entries compact the log; a lagging member catches up by snapshot', async (t) => {
  const c = await new LocalCluster({ snapshotEvery: 20, keepEntries: 5 }).start();
  t.teardown(() => c.stop());
  const leader = await c.waitForLeader();
  const lagging = c.ids.find((id) => id !== leader)!;
  c.net.disconnect(lagging);
  for (let i = 0; i < 100; i++) await c.put(leader, `k${i % 10}`, `v${i}`);
  const st = c.group(leader).status();
  t.ok(st.snapshotsTaken >= 4, `${st.snapshotsTaken} snapshots taken`);
  t.ok(st.firstIndex > 50, `log compacted to ${st.firstIndex}`);
  c.net.reconnect(lagging);
  const m = c.members.get(lagging)!;
  await c.waitFor(() => m.group!.status().applied >= st.commit, 'lagging member applied everything');
  t.ok(m.sm.restores >= 1, 'caught up through a snapshot');
  t.same([...m.sm.map].sort(), [...c.members.get(leader)!.sm.map].sort());
});

t.test('durable members restart from snapshot plus log', async (t) => {
  const dirs = new Map([1, 2, 3].map((id) => [id, tempDir(t, `raft-group-${id}-`)]));
  const c = await new LocalCluster({ dirs, snapshotEvery: 25, keepEntries: 3 }).start();
  const leader = await c.waitForLeader();
  for (let i = 0; i < 60; i++) await c.put(leader, `k${i}`, `v${i}`);
  const commit = c.group(leader).status().commit;
  await c.waitFor(
    () => [...c.members.values()].every((m) => m.group!.status().applied >= commit),
    'all applied',
  );
  const pending = c.put(leader, 'late', 'x').catch((e: unknown) => e);
  await c.stop();
  const late = await pending;
  t.ok(
    late === null || late instanceof StoppedError || late instanceof NotLeaderError,
    'pending settles on stop',
  );
  const again = await new LocalCluster({ dirs, snapshotEvery: 25, keepEntries: 3 }).start();
  t.teardown(() => again.stop());
  for (const m of again.members.values()) {
    t.ok(m.sm.restores === 1, `member ${m.id} restored its snapshot`);
    t.ok(m.group!.status().snapshotIndex >= 25);
  }
  const l2 = await again.waitForLeader();
  await again.put(l2, 'after', 'restart');
  await again.group(l2).read();
  const sm = again.members.get(l2)!.sm;
  for (let i = 0; i < 60; i++) t.equal(sm.get(`k${i}`), `v${i}`);
  t.equal(sm.get('after'), 'restart');
});

t.test('membership: add a learner, promote it, remove a member', async (t) => {
  const c = await new LocalCluster().start();
  t.teardown(() => c.stop());
  const leader = await c.waitForLeader();
  await c.put(leader, 'a', '1');
  await c.group(leader).proposeConfChange({ type: 'addLearner', nodeId: 4 });
  const m4 = await c.startMember(4, []);
  await c.waitFor(() => m4.sm.get('a') === '1', 'learner caught up');
  await c.group(leader).proposeConfChange({ type: 'addNode', nodeId: 4 });
  const victim = c.ids.find((id) => id !== leader)!;
  await c.group(leader).proposeConfChange({ type: 'removeNode', nodeId: victim });
  await c.stopMember(victim);
  t.equal(await c.put(leader, 'a', '2'), '1', 'writes commit with the new membership');
  await c.waitFor(() => m4.sm.get('a') === '2', 'new voter applies');
});

t.test('a storage failure stops the group: pending proposals fail, onError is called', async (t) => {
  // fault injection at the host interface: the disk "fails" once armed
  class FailingStorage extends MemoryHostStorage {
    armed = false;
    override async save(...args: Parameters<MemoryHostStorage['save']>): Promise<void> {
      if (this.armed) throw new Error('EIO: injected write failure');
      return super.save(...args);
    }
  }
  const storage = new FailingStorage();
  const errors: unknown[] = [];
  const group = await RaftGroup.start({
    id: 1,
    peers: [1],
    storage,
    transport: new LocalNetwork().transport(1),
    stateMachine: new KvStateMachine(),
    tickMs: 10,
    onError: (err) => errors.push(err),
  });
  t.teardown(() => group.stop());
  const deadline = Date.now() + 5000;
  while (!group.isLeader() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.equal(await group.propose(encodeKvCommand({ op: 'put', key: 'a', value: '1' })), null);
  storage.armed = true;
  const err = await group
    .propose(encodeKvCommand({ op: 'put', key: 'a', value: '2' }))
    .catch((e: unknown) => e);
  t.ok(err instanceof RaftError, 'pending proposal rejected with a RaftError');
  t.match((err as Error).message, /EIO: injected write failure/);
  t.equal(errors.length, 1, 'onError called once');
  const after = await group
    .propose(encodeKvCommand({ op: 'put', key: 'a', value: '3' }))
    .catch((e: unknown) => e);
  t.ok(after instanceof RaftError, 'the stopped group refuses new proposals');
});
