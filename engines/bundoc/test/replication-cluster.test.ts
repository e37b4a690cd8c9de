import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkOperations,
  type KvInput,
  type KvOutput,
  kvModel,
  LeadershipLostError,
  type Operation,
} from '@bunbase/raft';
import t, { type Test } from 'tap';
import { NotLeaderError } from '../src/replication/index.js';
import { ConflictError } from '../src/storage/index.js';
import { dec, dumpStore, enc, ReplicaCluster } from './fixtures-replication/local-cluster.js';

const STRESS = process.env.BUNBASE_STRESS === '1';
const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
t.comment(`seed ${SEED} (SEED=${SEED} reproduces the random choices)`);

async function allEqual(t: Test, c: ReplicaCluster, what: string): Promise<void> {
  const dumps = await Promise.all([...c.members.values()].map((m) => dumpStore(m)));
  for (let i = 1; i < dumps.length; i++) t.same(dumps[i], dumps[0], `${what}: member stores are equal`);
}

t.test('writes through the leader reach every member in log order', async (t) => {
  const c = await new ReplicaCluster(t).start();
  const leader = await c.leader();
  const random = rng(SEED);
  // concurrent blind writes over few keys: the value each member ends with is the one of the highest
  // log index that wrote the key, which holds only if every member applied in log order
  const plans = Array.from({ length: STRESS ? 400 : 40 }, (_, i) => ({
    i,
    keys: Array.from({ length: 1 + Math.floor(random() * 3) }, () => `k${Math.floor(random() * 8)}`),
    tree: random() < 0.5 ? 'a' : 'b',
  }));
  const results = await Promise.all(
    plans.map(async (p) => {
      let index: number | undefined;
      try {
        await leader.transaction(
          async (tx) => {
            for (const k of p.keys) tx.put(p.tree, enc(k), enc(`v${p.i}`));
            index = await tx.commit();
          },
          { retries: 100 },
        );
      } catch (err) {
        // leadership moved (a stalled event loop): the write may or may not have taken effect
        if (!(err instanceof NotLeaderError)) throw err;
      }
      return { ...p, index };
    }),
  );
  const known = results.flatMap((r) => (r.index === undefined ? [] : [{ ...r, index: r.index }]));
  const unknown = new Set(
    results.filter((r) => r.index === undefined).flatMap((r) => r.keys.map((k) => `${r.tree}/${k}`)),
  );
  if (unknown.size > 0) t.comment(`leadership moved: ${plans.length - known.length} outcomes unknown`);
  const indexes = known.map((r) => r.index);
  t.equal(new Set(indexes).size, indexes.length, 'each transaction has its own log index');
  const expected = new Map<string, { index: number; value: string }>();
  for (const r of known)
    for (const k of r.keys) {
      const key = `${r.tree}/${k}`;
      if ((expected.get(key)?.index ?? 0) < r.index) expected.set(key, { index: r.index, value: `v${r.i}` });
    }
  for (const k of unknown) expected.delete(k);
  await c.waitApplied(Math.max(...indexes, (await c.leader()).status().applied));
  for (const m of c.members.values()) {
    const got = await m.read(
      (tx) => {
        const out = new Map<string, string>();
        for (const tree of ['a', 'b'])
          for (const [k, v] of tx.range(tree)) out.set(`${tree}/${dec(k)}`, dec(v)!);
        return out;
      },
      { stale: true },
    );
    for (const k of unknown) got.delete(k);
    t.same(
      Object.fromEntries(got),
      Object.fromEntries([...expected].map(([k, v]) => [k, v.value])),
      `member ${m.id} holds the last write of each key in log order`,
    );
  }
  await allEqual(t, c, 'after concurrent writes');
});

t.test('a follower refuses writes and linearizable reads with the leader id; stale reads work', async (t) => {
  const c = await new ReplicaCluster(t).start();
  const leader = await c.leader();
  const index = await leader.transaction(async (tx) => {
    tx.put('a', enc('x'), enc('1'));
    return tx.commit();
  });
  await c.waitApplied(index!);
  for (const f of [...c.members.values()].filter((m) => m !== leader)) {
    await t.rejects(f.begin(), NotLeaderError, `member ${f.id}: begin`);
    const err = await f.transaction((tx) => tx.put('a', enc('y'), enc('2'))).catch((e: unknown) => e);
    t.ok(err instanceof NotLeaderError, 'transaction fails with NotLeaderError');
    t.equal((err as NotLeaderError).leaderId, leader.id, 'it names the leader');
    t.match((err as Error).message, `the leader is node ${leader.id}`);
    await t.rejects(
      f.read((tx) => tx.get('a', enc('x'))),
      NotLeaderError,
      'linearizable read',
    );
    t.equal(dec(await f.read((tx) => tx.get('a', enc('x')), { stale: true })), '1', 'stale read');
  }
  t.equal(dec(await leader.read((tx) => tx.get('a', enc('x')))), '1', 'linearizable read on the leader');
  await allEqual(t, c, 'nothing written by followers');
});

t.test('reserved trees and bad arguments are refused, nothing proposed', async (t) => {
  const c = await new ReplicaCluster(t, { ids: [1] }).start();
  const m = await c.leader();
  const before = m.status().lastIndex;
  const tx = await m.begin();
  t.throws(() => tx.put('__bundoc_replication/state', enc('applied'), enc('x')), {
    code: 'INVALID_ARGUMENT',
  });
  t.throws(() => tx.get('__bundoc_replication/state', enc('applied')), { code: 'INVALID_ARGUMENT' });
  t.throws(() => tx.put('a', 'k' as unknown as Uint8Array, enc('v')), { code: 'INVALID_ARGUMENT' });
  t.throws(() => tx.put('a', new Uint8Array(5000), enc('v')), { code: 'INVALID_ARGUMENT' });
  t.equal(await tx.commit(), undefined, 'nothing to commit');
  await t.rejects(tx.commit(), { code: 'CLOSED' });
  await t.rejects(m.transaction('nope' as never), { code: 'INVALID_ARGUMENT' });
  await t.rejects(
    m.transaction(() => {}, { retries: -1 }),
    { code: 'INVALID_ARGUMENT' },
  );
  await t.rejects(m.begin({ fresh: 'yes' as never }), { code: 'INVALID_ARGUMENT' });
  await t.rejects(m.begin(7 as never), { code: 'INVALID_ARGUMENT' });
  await t.rejects(
    m.read(() => 1, { stale: 1 as never }),
    { code: 'INVALID_ARGUMENT' },
  );
  await t.rejects(
    m.read(() => 1, null as never),
    { code: 'INVALID_ARGUMENT' },
  );
  const ro = await m.read((r) => {
    t.throws(
      () => r.put('a', enc('k'), enc('v')),
      { code: 'INVALID_ARGUMENT' },
      'read transactions are read-only',
    );
    return r.readIndex;
  });
  t.ok(ro >= 0);
  t.same(await m.trees(), [], 'reserved trees are hidden');
  t.equal(m.status().lastIndex, before, 'no entry was proposed');
});

t.test('conflicting transactions: exactly one commits, identically everywhere', async (t) => {
  const c = await new ReplicaCluster(t, { conflictWindow: 4 }).start();
  const leader = await c.leader();
  await leader.transaction((tx) => tx.put('a', enc('n'), enc('0')));

  // two open transactions write the same key: the first to commit wins
  const t1 = await leader.begin();
  const t2 = await leader.begin();
  t1.put('a', enc('n'), enc(`${Number(dec(t1.get('a', enc('n')))) + 1}`));
  t2.put('a', enc('n'), enc(`${Number(dec(t2.get('a', enc('n')))) + 10}`));
  const [r1, r2] = await Promise.allSettled([t1.commit(), t2.commit()]);
  const outcomes = [r1, r2].map((r) => r.status);
  t.same(outcomes.sort(), ['fulfilled', 'rejected'], 'one commits, one fails');
  const loser = [r1, r2].find((r) => r.status === 'rejected') as PromiseRejectedResult;
  t.ok(loser.reason instanceof ConflictError, 'the other gets ConflictError');
  const winner = r1.status === 'fulfilled' ? '1' : '10';
  const last = Math.max(...[r1, r2].flatMap((r) => (r.status === 'fulfilled' ? [r.value!] : [])));
  await c.waitApplied(last + 1);
  for (const m of c.members.values())
    t.equal(dec(await m.read((tx) => tx.get('a', enc('n')), { stale: true })), winner, `member ${m.id}`);

  // disjoint keys do not conflict
  const d1 = await leader.begin();
  const d2 = await leader.begin();
  d1.put('a', enc('p'), enc('1'));
  d2.put('a', enc('q'), enc('1'));
  await Promise.all([d1.commit(), d2.commit()]);

  // a snapshot older than the window is refused even for untouched keys
  const old = await leader.begin();
  old.put('a', enc('untouched'), enc('1'));
  for (let i = 0; i < 5; i++) await leader.transaction((tx) => tx.put('a', enc(`w${i}`), enc('1')));
  await t.rejects(old.commit(), ConflictError, 'too old to check');

  // lost updates cannot happen: concurrent increments with retries all count
  await Promise.all(
    Array.from({ length: 20 }, () =>
      leader.transaction(
        (tx) => {
          const n = Number(dec(tx.get('a', enc('counter')) ?? enc('0')));
          tx.put('a', enc('counter'), enc(String(n + 1)));
        },
        { retries: 200 },
      ),
    ),
  );
  t.equal(dec(await leader.read((tx) => tx.get('a', enc('counter')))), '20', 'every increment counted');
  await c.waitApplied(leader.status().applied);
  for (const m of c.members.values())
    t.equal(dec(await m.read((tx) => tx.get('a', enc('counter')), { stale: true })), '20', `member ${m.id}`);
  await allEqual(t, c, 'after conflicts');
});

t.test('a restarted member does not re-apply what its store reflects', async (t) => {
  const c = await new ReplicaCluster(t).start();
  const leader = await c.leader();
  for (let i = 0; i < 30; i++) await leader.transaction((tx) => tx.put('a', enc(`k${i}`), enc(`v${i}`)));
  await c.waitApplied(leader.status().applied);
  const follower = [...c.members.values()].find((m) => m !== leader)!;
  const id = follower.id;
  const applied = follower.status().storeApplied;
  await c.stopMember(id);
  const again = await c.startMember(id);
  await c.waitFor(() => again.status().applied >= applied, 'the restarted member to catch up its log');
  t.equal(again.status().storeApplied, applied, 'the store resumes at its index');
  t.equal(again.status().storeEntriesApplied, 0, 'no entry applied twice');
  const l2 = await c.leader();
  for (let i = 0; i < 5; i++) await l2.transaction((tx) => tx.put('a', enc(`n${i}`), enc('x')));
  await c.waitApplied(l2.status().applied);
  t.equal(again.status().storeEntriesApplied, 5, 'only the new entries are applied');
  await allEqual(t, c, 'after a restart');
});

t.test('lagging and new members catch up by snapshot transfer', async (t) => {
  const c = await new ReplicaCluster(t, { snapshotEvery: 20, keepEntries: 5, tickMs: 25 }).start();
  const leader = await c.leader();
  const lagging = [...c.members.values()].find((m) => m !== leader)!.id;
  await c.stopMember(lagging);
  const random = rng(SEED + 1);
  for (let i = 0; i < (STRESS ? 1000 : 120); i++) {
    // taking a snapshot holds up the raft loop (a backup with fsyncs): leadership may move meanwhile
    await c.write((tx) => {
      const k = enc(`k${Math.floor(random() * 50)}`);
      if (random() < 0.2) tx.delete(random() < 0.5 ? 'a' : 'b', k);
      else tx.put(random() < 0.5 ? 'a' : 'b', k, enc(`v${i}`.repeat(1 + Math.floor(random() * 40))));
    });
  }
  const l2 = await c.leader();
  t.ok(l2.status().firstIndex > 20, 'the leader compacted its log');
  const back = await c.startMember(lagging);
  const oldApplied = back.status().storeApplied;
  // a stale read open across the restore: it is run again on the new store
  let runs = 0;
  const during = back.read(
    async (tx) => {
      runs++;
      await c.waitFor(() => back.status().storeRestores >= 1, 'the restore');
      return { readIndex: tx.readIndex, a: [...tx.range('a')].length };
    },
    { stale: true },
  );
  await c.waitApplied(l2.status().applied);
  const seen = await during;
  t.ok(
    seen.readIndex > oldApplied,
    `a stale read across the restore reads the restored store (${runs} runs)`,
  );
  t.ok(back.status().storeRestores >= 1, 'the lagging member restored a snapshot');
  await allEqual(t, c, 'lagging member caught up');

  // a member that never was: added to the group, it starts empty and receives a snapshot
  await (await c.leader()).group.proposeConfChange({ type: 'addNode', nodeId: 4 });
  const fresh = await c.startMember(4, undefined);
  for (let i = 0; i < 3; i++) await c.write((tx) => tx.put('a', enc(`after${i}`), enc('1')));
  await c.waitApplied((await c.leader()).status().applied);
  t.ok(fresh.status().storeRestores >= 1, 'the new member restored a snapshot');
  t.same(await fresh.trees(), await l2.trees());
  await allEqual(t, c, 'new member caught up');
});

t.test('leader crash: a new leader, no acknowledged write lost', async (t) => {
  const c = await new ReplicaCluster(t).start();
  const first = await c.leader();
  const acked = new Map<string, string>();
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const m = [...c.members.values()].find((x) => x.isLeader());
      if (!m) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      try {
        await m.transaction((tx) => tx.put('a', enc(`k${i}`), enc(`v${i}`)));
        acked.set(`k${i}`, `v${i}`);
      } catch {
        // not leader, leadership lost, stopped: unacknowledged, may or may not be there
      }
    }
  })();
  await c.waitFor(() => acked.size >= 20, 'writes before the crash');
  await c.stopMember(first.id);
  const before = acked.size;
  const next = await c.leader(10_000, first.id);
  t.not(next.id, first.id, 'another member leads');
  await c.waitFor(() => acked.size >= before + 20, 'writes after the crash');
  stop = true;
  await writer;
  const got = await next.read((tx) => new Map([...tx.range('a')].map(([k, v]) => [dec(k)!, dec(v)!])));
  for (const [k, v] of acked)
    if (got.get(k) !== v) t.fail(`acknowledged ${k}=${v} missing (got ${got.get(k)})`);
  t.pass(`${acked.size} acknowledged writes present on the new leader`);
  await c.startMember(first.id);
  await c.waitApplied(next.status().applied);
  await allEqual(t, c, 'the old leader rejoined');
});

t.test(
  'a member whose store was lost rebuilds it from raft; one whose raft log was lost is refused',
  async (t) => {
    const c = await new ReplicaCluster(t, { snapshotEvery: 15, keepEntries: 5, tickMs: 25 }).start();
    for (let i = 0; i < 40; i++) await c.write((tx) => tx.put('a', enc(`k${i}`), enc(`v${i}`)));
    const leader = await c.leader();
    await c.waitApplied(leader.status().applied);
    const victim = [...c.members.values()].find((m) => m !== leader)!.id;
    await c.stopMember(victim);
    fs.rmSync(path.join(c.dir(victim), 'store'), { recursive: true });
    const back = await c.startMember(victim);
    await c.waitApplied((await c.leader()).status().applied);
    t.ok(back.status().storeApplied > 0, 'the store was rebuilt (raft snapshot and log)');
    await allEqual(t, c, 'after losing a store');

    await c.stopMember(victim);
    fs.rmSync(path.join(c.dir(victim), 'raft'), { recursive: true });
    await t.rejects(c.startMember(victim), { code: 'INVALID_ARGUMENT', message: /raft log ends at/ });
  },
);

t.test('register histories through leader changes are linearizable', async (t) => {
  const c = await new ReplicaCluster(t).start();
  const random = rng(SEED + 2);
  const history: Operation<KvInput, KvOutput>[] = [];
  let running = true;
  let seq = 0;
  const client = async () => {
    while (running) {
      const key = `r${Math.floor(random() * 3)}`;
      const m = [...c.members.values()].find((x) => x.isLeader());
      if (!m) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const call = performance.now();
      if (random() < 0.5) {
        const value = `v${seq++}`;
        try {
          await m.transaction((tx) => tx.put('reg', enc(key), enc(value)), { retries: 1000 });
          history.push({ input: { kind: 'put', key, value }, output: null, call, return: performance.now() });
        } catch (err) {
          // refused before proposing: no effect; lost after proposing: may or may not take effect
          if (err instanceof LeadershipLostError || !(err instanceof NotLeaderError))
            history.push({
              input: { kind: 'put', key, value },
              output: null,
              call,
              return: Number.POSITIVE_INFINITY,
            });
        }
      } else {
        try {
          const v = await m.read((tx) => tx.get('reg', enc(key)));
          history.push({
            input: { kind: 'get', key },
            output: dec(v) ?? null,
            call,
            return: performance.now(),
          });
        } catch {
          // a failed read has no effect
        }
      }
    }
  };
  const clients = Array.from({ length: 6 }, client);
  await c.waitFor(() => history.length >= 100, 'operations before the leader stops');
  const first = await c.leader();
  await c.stopMember(first.id);
  await c.leader(10_000, first.id);
  await c.waitFor(() => history.length >= 250, 'operations after the leader stopped');
  await c.startMember(first.id);
  await c.waitFor(() => history.length >= 350, 'operations after it rejoined');
  running = false;
  await Promise.all(clients);
  const gets = history.filter((o) => o.input.kind === 'get').length;
  t.ok(gets > 50, `${history.length} operations (${gets} linearizable reads)`);
  t.equal(checkOperations(kvModel, history, { timeoutMs: 20_000 }), 'ok', 'the history is linearizable');
  const forged = [...history];
  const at = forged.findIndex((o) => o.input.kind === 'get');
  forged[at] = { ...forged[at], output: 'never-written' };
  t.equal(checkOperations(kvModel, forged, { timeoutMs: 20_000 }), 'illegal', 'a forged read is caught');
});

t.test(
  'a member whose store fails while applying stops instead of diverging, and resumes after reopen',
  async (t) => {
    const c = await new ReplicaCluster(t).start();
    for (let i = 0; i < 5; i++) await c.write((tx) => tx.put('a', enc(`k${i}`), enc('1')));
    const leader = await c.leader();
    await c.waitApplied(leader.status().applied);
    const f = [...c.members.values()].find((m) => m !== leader)!;
    const appliedBefore = f.status().storeApplied;
    // the store goes away under the member (as after a disk error): the next entry cannot be applied
    await (await f.localStore()).close();
    for (let i = 5; i < 10; i++) await c.write((tx) => tx.put('a', enc(`k${i}`), enc('1')));
    // the raft group stops at the failing entry (a fatal state machine error): it applies nothing more
    await c.waitFor(() => f.status().commit > appliedBefore, 'the entries reach the member');
    const leaderApplied = (await c.leader()).status().applied;
    const others = [...c.members.values()].filter((m) => m !== f);
    await c.waitFor(() => others.every((m) => m.status().applied >= leaderApplied), 'the others apply');
    t.equal(f.status().applied, appliedBefore, 'its raft group applied nothing past the failure');
    await t.rejects(
      f.read((tx) => tx.get('a', enc('k0')), { stale: true }),
      { code: 'REPLICA_FAILED' },
      'the member refuses to serve',
    );
    t.equal(f.status().storeApplied, appliedBefore, 'its store reflects nothing past the failure');
    await c.stopMember(f.id);
    const back = await c.startMember(f.id);
    await c.waitApplied((await c.leader()).status().applied);
    t.equal(back.status().storeEntriesApplied, 5, 'after reopening it applies the entries it missed, once');
    await allEqual(t, c, 'after the failure');
  },
);
