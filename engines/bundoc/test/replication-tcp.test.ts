import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { buildReplicationFixtures, ReplicaProcesses } from './fixtures-replication/process-cluster.js';

const STRESS = process.env.BUNBASE_STRESS === '1';
const ROUNDS = Number(process.env.REPLICATION_ROUNDS ?? (STRESS ? 5 : 1));
const fixtures = buildReplicationFixtures();
t.teardown(fixtures.cleanup);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);
t.comment(`seed ${SEED} (SEED=${SEED} reproduces the kill delays)`);
let state = SEED >>> 0 || 1;
/** xorshift32: the delays of the second kill. */
function random(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
}

t.test('3 processes over TCP: kill -9 the leader during writes, no acknowledged write lost', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-repl-tcp-'));
  // small snapshot interval: a restarted member may catch up by snapshot as well as by log
  const cluster = new ReplicaProcesses(fixtures.script, root, [1, 2, 3], {
    tickMs: 50,
    snapshotEvery: 200,
    keepEntries: 50,
  });
  t.teardown(async () => {
    await cluster.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  await cluster.start();
  const acked = new Map<string, string>();
  let stop = false;
  let seq = 0;
  let leaderHint = await cluster.leader();
  const writer = async () => {
    while (!stop) {
      const n = seq++;
      const key = `k${n}`;
      try {
        const r = await cluster.client(leaderHint).call({ op: 'put', key, value: `v${n}` });
        if (r.ok) acked.set(key, `v${n}`);
        else if (r.code === 'NOT_LEADER' && r.leaderId) leaderHint = r.leaderId;
        else await sleep(20);
      } catch {
        // the member is down or went away: find the leader again
        await sleep(50);
        leaderHint = await cluster.leader().catch(() => leaderHint);
      }
    }
  };
  const writers = Array.from({ length: 8 }, writer);
  for (let round = 0; round < ROUNDS; round++) {
    const start = acked.size;
    while (acked.size < start + 150) await sleep(10);
    const victim = await cluster.leader();
    await cluster.kill(victim);
    t.comment(`round ${round}: killed leader ${victim} with ${acked.size} writes acknowledged`);
    const killedAt = acked.size;
    const next = await cluster.leader();
    t.not(next, victim, 'a new leader was elected');
    while (acked.size < killedAt + 150) await sleep(10);
    await cluster.restart(victim);
    // and again while it catches up (often in the middle of restoring a snapshot): its directory must
    // come back to the old store or the new one, never something in between
    const delay = Math.floor(random() * 400);
    await sleep(delay);
    await cluster.kill(victim);
    t.comment(`round ${round}: killed member ${victim} again ${delay} ms after its restart`);
    await cluster.restart(victim);
  }
  stop = true;
  await Promise.all(writers);

  // every member, the restarted ones included, converges on one store holding every acknowledged write
  const leader = await cluster.leader();
  const commit = (await cluster.status(leader)).commit;
  for (const id of cluster.ids) {
    const deadline = Date.now() + 20_000;
    while ((await cluster.status(id)).applied < commit) {
      if (Date.now() > deadline) throw new Error(`member ${id} did not catch up`);
      await sleep(20);
    }
  }
  for (const id of cluster.ids) {
    const st = (await cluster.status(id)) as unknown as Record<string, number>;
    t.comment(
      `member ${id}: applied ${st.applied}, snapshot restores ${st.storeRestores}, entries applied ${st.storeEntriesApplied}`,
    );
  }
  const dumps = new Map<number, Record<string, [string, string][]>>();
  for (const id of cluster.ids)
    dumps.set(
      id,
      (await cluster.client(id).call({ op: 'dump' })).result as Record<string, [string, string][]>,
    );
  for (const id of cluster.ids) {
    const kv = new Map(
      (dumps.get(id)!.kv ?? []).map(([k, v]) => [
        Buffer.from(k, 'hex').toString(),
        Buffer.from(v, 'hex').toString(),
      ]),
    );
    let missing = 0;
    for (const [k, v] of acked) if (kv.get(k) !== v) missing++;
    t.equal(missing, 0, `member ${id}: all ${acked.size} acknowledged writes present`);
  }
  // stores are compared as of the same index: wait for quiet (no writes now), then compare
  t.same(dumps.get(2), dumps.get(1), 'members 1 and 2 hold the same store');
  t.same(dumps.get(3), dumps.get(1), 'members 1 and 3 hold the same store');
});
