import t from 'tap';
import { message, NotLeaderError, RaftNode } from '../src/index.js';
import { bytes, Network, storageWith, text } from './helpers/network.js';

const paperRules = { preVote: false, checkQuorum: false } as const;

function networkWith(logs: Record<number, number[]>, term: number, options = {}): Network {
  const ids = Object.keys(logs).map(Number);
  const net = new Network([], { ...paperRules, ...options });
  for (const id of ids) net.add(id, [], storageWith(ids, logs[id]!, term));
  net.stabilize(); // applies the founding configuration
  return net;
}

t.test('election: a candidate with votes from a majority wins, one leader per term', async (t) => {
  const net = new Network([1, 2, 3, 4, 5], paperRules);
  net.isolate(4);
  net.isolate(5);
  net.campaign(1);
  t.equal(net.node(1).role, 'leader', 'three of five votes suffice');
  t.equal(net.node(1).term, 2);
  // a second candidate in the same term cannot win: everyone already voted
  const n2 = net.node(2);
  t.equal(n2.vote, 1);
  net.recover();
  net.isolate(1);
  net.campaign(2);
  t.equal(net.node(2).term, 3, 'node 2 needs a new term');
  t.same(
    [...net.nodes.values()].filter((n) => n.role === 'leader' && n.term === 3).map((n) => n.id),
    [2],
  );
});

t.test('election: a node grants at most one vote per term', async (t) => {
  const net = networkWith({ 1: [], 2: [], 3: [] }, 1);
  const n = net.node(3);
  n.step(message({ type: 'vote', from: 1, to: 3, term: 2, index: 3, logTerm: 1 }));
  n.step(message({ type: 'vote', from: 2, to: 3, term: 2, index: 3, logTerm: 1 }));
  const replies = n.ready().messages.filter((m) => m.type === 'voteResp');
  t.same(
    replies.map((m) => [m.to, m.reject]),
    [
      [1, false],
      [2, true],
    ],
  );
  t.equal(n.vote, 1);
});

t.test('election restriction: a candidate whose log is behind loses', async (t) => {
  // node 3 lacks the term-2 entries the others have
  const net = networkWith({ 1: [2, 2], 2: [2, 2], 3: [2] }, 2);
  net.campaign(3);
  t.not(net.node(3).role, 'leader');
  net.campaign(1);
  t.equal(net.node(1).role, 'leader');
  // higher last term wins over a longer log
  const net2 = networkWith({ 1: [2, 2, 2], 2: [2, 2, 2], 3: [3] }, 3);
  net2.campaign(3);
  t.equal(net2.node(3).role, 'leader', 'last term 3 beats a longer log ending in term 2');
  t.equal(net2.node(1).log.term(4), 3, 'and its entry replaced the uncommitted term-2 one');
});

t.test('log matching: a follower rejects an append whose previous entry does not match', async (t) => {
  const net = networkWith({ 1: [], 2: [2, 2], 3: [] }, 2);
  const n = net.node(2);
  // previous entry (5, term 3) does not exist: reject with a hint
  n.step(message({ type: 'app', from: 1, to: 2, term: 3, index: 5, logTerm: 3, entries: [], commit: 3 }));
  const [rej] = n.ready().messages;
  t.equal(rej!.reject, true);
  t.equal(rej!.rejectHint, 5, 'hint: our last index whose term is <= 3');
  t.equal(rej!.logTerm, 2);
  // a conflicting entry truncates the follower's tail
  n.step(
    message({
      type: 'app',
      from: 1,
      to: 2,
      term: 3,
      index: 4,
      logTerm: 2,
      entries: [{ term: 3, index: 5, type: 'normal', data: bytes('x') }],
      commit: 3,
    }),
  );
  const [ok] = n.ready().messages;
  t.equal(ok!.reject, false);
  t.equal(ok!.index, 5);
  t.equal(n.log.term(5), 3);
  t.equal(n.log.lastIndex(), 5);
});

t.test('commit: only with a majority, and followers learn it', async (t) => {
  const net = new Network([1, 2, 3, 4, 5], paperRules);
  net.campaign(1);
  const leader = net.node(1);
  const before = leader.log.committed;
  net.isolate(3);
  net.isolate(4);
  net.isolate(5);
  leader.propose(bytes('a'));
  net.stabilize();
  t.equal(leader.log.committed, before, 'two of five copies do not commit');
  net.recover();
  net.tickAll(1); // heartbeat, then catch-up of the lagging followers
  t.equal(leader.log.committed, before + 1);
  for (const id of [1, 2, 3, 4, 5]) t.same(net.applied.get(id)!.map(text), ['a'], `node ${id} applied`);
});

t.test('Figure 8: an old-term entry on a majority is not committed by counting', async (t) => {
  // nodes 1-3 hold an entry from term 2 at index 6; node 1 becomes leader of term 4
  const net = networkWith({ 1: [2], 2: [2], 3: [2], 4: [], 5: [] }, 3);
  net.ignore('app');
  net.campaign(1);
  const leader = net.node(1);
  t.equal(leader.role, 'leader');
  t.equal(leader.term, 4);
  // followers 2 and 3 report that they store index 6 (term 2), not yet the term-4 entry at 7
  for (const from of [2, 3]) leader.step(message({ type: 'appResp', from, to: 1, term: 4, index: 6 }));
  t.equal(leader.tracker.committed(), 6, 'index 6 is stored on a majority');
  t.equal(leader.log.committed, 5, 'but it is from term 2, so it is not committed');
  // once the term-4 entry reaches a majority, it commits and index 6 with it
  leader.step(message({ type: 'appResp', from: 2, to: 1, term: 4, index: 7 }));
  t.equal(leader.log.committed, 5, '7 is on two of five');
  leader.step(message({ type: 'appResp', from: 3, to: 1, term: 4, index: 7 }));
  t.equal(leader.log.committed, 7);
});

t.test('Figure 8 (d): an uncommitted old-term entry may be overwritten by a newer leader', async (t) => {
  // node 5 holds index 6 from term 3; the others hold index 6 from term 2, never committed
  const net = networkWith({ 1: [2], 2: [2], 3: [2], 4: [2], 5: [3] }, 3);
  net.campaign(5);
  t.equal(net.node(5).role, 'leader', 'last term 3 is more up to date than term 2');
  for (const id of [1, 2, 3, 4]) t.equal(net.node(id).log.term(6), 3, `node ${id} now has the term-3 entry`);
  t.ok(net.node(1).log.committed >= 6);
});

t.test('leader completeness: a new leader holds every committed entry', async (t) => {
  const net = new Network([1, 2, 3], paperRules);
  net.campaign(1);
  for (let i = 0; i < 5; i++) net.node(1).propose(bytes(`w${i}`));
  net.stabilize();
  const committed = net.node(1).log.committed;
  net.isolate(1);
  net.campaign(2);
  const leader = net.node(2);
  t.equal(leader.role, 'leader');
  for (let i = 1; i <= committed; i++) t.equal(leader.log.term(i), net.node(1).log.term(i), `entry ${i}`);
});

t.test('fast backtracking skips a whole conflicting term per round trip', async (t) => {
  const leaderLog = [...Array(15).fill(2), ...Array(10).fill(4)];
  const followerLog = [...Array(15).fill(2), ...Array(80).fill(3)];
  const net = networkWith({ 1: leaderLog, 2: followerLog, 3: leaderLog }, 4);
  net.campaign(1);
  t.equal(net.node(1).role, 'leader');
  net.stabilize();
  const rejects = net.delivered.filter((m) => m.type === 'appResp' && m.reject && m.from === 2);
  t.ok(rejects.length <= 2, `follower 2 rejected ${rejects.length} times for 80 conflicting entries`);
  t.equal(net.node(2).log.lastIndex(), net.node(1).log.lastIndex());
  t.equal(net.node(2).log.term(25), 4);
});

t.test('pre-vote: a partitioned node does not inflate terms or depose the leader', async (t) => {
  for (const preVote of [true, false]) {
    const net = new Network([1, 2, 3], { preVote, checkQuorum: false });
    net.campaign(1);
    const term = net.node(1).term;
    net.isolate(3);
    for (let i = 0; i < 100; i++) net.node(3).tick();
    net.stabilize();
    net.recover();
    net.tickAll(2);
    if (preVote) {
      t.equal(net.node(3).term, term, 'with pre-vote the isolated node stays at the old term');
      t.equal(net.node(1).role, 'leader', 'and the leader is not disturbed');
    } else {
      t.ok(net.node(3).term > term, 'without pre-vote the isolated node raised its term');
      t.ok(net.node(1).term > term, 'and on rejoining it forced a new term on the leader');
    }
  }
});

t.test(
  'check-quorum: an isolated leader steps down; followers in lease ignore a disruptive candidate',
  async (t) => {
    const net = new Network([1, 2, 3], { preVote: false, checkQuorum: true });
    net.campaign(1);
    net.isolate(1);
    for (let i = 0; i < 25; i++) net.node(1).tick();
    t.equal(net.node(1).role, 'follower', 'the leader noticed it lost its quorum');

    const net2 = new Network([1, 2, 3], { preVote: false, checkQuorum: true });
    net2.campaign(1);
    const term = net2.node(1).term;
    // node 3 campaigns without any timeout: 2 still hears from the leader and ignores the vote request
    net2.node(3).campaign();
    net2.stabilize();
    t.equal(net2.node(1).role, 'leader');
    t.equal(net2.node(2).term, term, 'node 2 stayed in the leader term');
  },
);

t.test('proposals on a follower fail with NotLeader naming the leader', async (t) => {
  const net = new Network([1, 2, 3]);
  net.campaign(1);
  const err = t.throws(() => net.node(2).propose(bytes('x')));
  t.ok(err instanceof NotLeaderError);
  t.equal((err as NotLeaderError).leaderId, 1);
  t.throws(() => net.node(2).readIndex(bytes('r')), NotLeaderError);
});

t.test('configuration is validated', async (t) => {
  const storage = storageWith([1], [], 1);
  t.throws(() => new RaftNode({ id: 0, storage }), { code: 'INVALID_CONFIG' });
  t.throws(() => new RaftNode({ id: 1, storage, electionTicks: 1, heartbeatTicks: 1 }), {
    code: 'INVALID_CONFIG',
  });
});
