import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { ConflictError, Storage, type Transaction } from '../src/storage/index.js';

// Differential test: random interleavings of concurrent transactions against an in-memory model of
// snapshot isolation with first-committer-wins.

const TREES = ['a', 'b'];
const KEYS = 24;
type Cmd =
  | { c: 'begin'; readOnly: boolean }
  | { c: 'put'; tx: number; tree: number; key: number; size: number }
  | { c: 'del'; tx: number; tree: number; key: number }
  | { c: 'get'; tx: number; tree: number; key: number }
  | { c: 'range'; tx: number; tree: number; lo: number; hi: number; reverse: boolean; limit: number }
  | { c: 'commit'; tx: number }
  | { c: 'abort'; tx: number }
  | { c: 'drop'; tree: number }
  | { c: 'checkpoint' }
  | { c: 'reopen' };

const keyOf = (k: number) => Buffer.from(`key-${String(k).padStart(4, '0')}`);
function valueFor(seed: number, size: number): Uint8Array {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 131 + i * 7) & 255;
  return b;
}

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ c: fc.constant('begin' as const), readOnly: fc.boolean() }) },
  {
    weight: 8,
    arbitrary: fc.record({
      c: fc.constant('put' as const),
      tx: fc.nat(4),
      tree: fc.nat(1),
      key: fc.nat(KEYS),
      // Mostly small values, sometimes ones that need overflow pages.
      size: fc.oneof(
        { weight: 9, arbitrary: fc.nat(200) },
        { weight: 1, arbitrary: fc.integer({ min: 2000, max: 20000 }) },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      c: fc.constant('del' as const),
      tx: fc.nat(4),
      tree: fc.nat(1),
      key: fc.nat(KEYS),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      c: fc.constant('get' as const),
      tx: fc.nat(4),
      tree: fc.nat(1),
      key: fc.nat(KEYS),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      c: fc.constant('range' as const),
      tx: fc.nat(4),
      tree: fc.nat(1),
      lo: fc.nat(KEYS),
      hi: fc.nat(KEYS),
      reverse: fc.boolean(),
      limit: fc.nat(30),
    }),
  },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('commit' as const), tx: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('abort' as const), tx: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('drop' as const), tree: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.constant({ c: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.constant({ c: 'reopen' as const }) },
);

interface ModelTx {
  real: Transaction;
  readOnly: boolean;
  snapSeq: number;
  snap: Map<string, Map<string, Uint8Array>>;
  writes: Map<string, Map<string, Uint8Array | undefined>>;
}

function cloneDb(db: Map<string, Map<string, Uint8Array>>) {
  return new Map([...db].map(([k, v]) => [k, new Map(v)]));
}

function view(tx: ModelTx, tree: string): Map<string, Uint8Array> {
  const m = new Map(tx.snap.get(tree) ?? []);
  for (const [k, v] of tx.writes.get(tree) ?? []) {
    if (v === undefined) m.delete(k);
    else m.set(k, v);
  }
  return m;
}

async function run(cmds: Cmd[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-model-'));
  const opts = { pageSize: 4096 as const, cacheBytes: 64 * 4096, checkpointIntervalMs: 0 };
  let st = await Storage.open(dir, opts);
  try {
    let db = new Map<string, Map<string, Uint8Array>>();
    const exists = new Set<string>();
    const lastWrite = new Map<string, number>();
    const dropSeq = new Map<string, number>();
    let seq = 0;
    let txs: ModelTx[] = [];
    const pick = (i: number) => (txs.length === 0 ? undefined : txs[i % txs.length]);
    let step = 0;
    for (const cmd of cmds) {
      step++;
      const where = `step ${step} ${JSON.stringify(cmd)}`;
      switch (cmd.c) {
        case 'begin':
          txs.push({
            real: st.begin({ readOnly: cmd.readOnly }),
            readOnly: cmd.readOnly,
            snapSeq: seq,
            snap: cloneDb(db),
            writes: new Map(),
          });
          break;
        case 'put':
        case 'del': {
          const tx = pick(cmd.tx);
          if (!tx || tx.readOnly) break;
          const tree = TREES[cmd.tree];
          const ks = keyOf(cmd.key).toString('latin1');
          const w = tx.writes.get(tree) ?? new Map();
          tx.writes.set(tree, w);
          if (cmd.c === 'put') {
            const v = valueFor(step, cmd.size);
            tx.real.put(tree, keyOf(cmd.key), v);
            w.set(ks, v);
          } else {
            const had = view(tx, tree).has(ks);
            const got = tx.real.delete(tree, keyOf(cmd.key));
            if (got !== had) throw new Error(`${where}: delete returned ${got}, model ${had}`);
            w.set(ks, undefined);
          }
          break;
        }
        case 'get': {
          const tx = pick(cmd.tx);
          if (!tx) break;
          const tree = TREES[cmd.tree];
          const want = view(tx, tree).get(keyOf(cmd.key).toString('latin1'));
          for (const got of [tx.real.get(tree, keyOf(cmd.key)), tx.real.getView(tree, keyOf(cmd.key))]) {
            if ((want === undefined) !== (got === undefined) || (want && !Buffer.from(got!).equals(want))) {
              throw new Error(`${where}: get mismatch`);
            }
          }
          break;
        }
        case 'range': {
          const tx = pick(cmd.tx);
          if (!tx) break;
          const tree = TREES[cmd.tree];
          const lo = keyOf(Math.min(cmd.lo, cmd.hi)).toString('latin1');
          const hi = keyOf(Math.max(cmd.lo, cmd.hi)).toString('latin1');
          let want = [...view(tx, tree)]
            .filter(([k]) => k > lo && k <= hi)
            .sort(([a], [b]) => (a < b ? -1 : 1));
          if (cmd.reverse) want.reverse();
          want = want.slice(0, cmd.limit);
          const opts = {
            gt: Buffer.from(lo, 'latin1'),
            lte: Buffer.from(hi, 'latin1'),
            reverse: cmd.reverse,
            limit: cmd.limit,
          };
          const show = (entries: Iterable<[Uint8Array, Uint8Array]>) =>
            [...entries].map(
              ([k, v]) => `${Buffer.from(k).toString('latin1')}=${Buffer.from(v).toString('hex')}`,
            );
          const a = show(tx.real.range(tree, opts));
          const b = want.map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`);
          if (a.join('|') !== b.join('|'))
            throw new Error(`${where}: range mismatch\n got ${a.length}\nwant ${b.length}`);
          // The uncopied scan sees exactly the same entries (tree, versions and own writes merged).
          if (show(tx.real.rangeViews(tree, opts)).join('|') !== b.join('|'))
            throw new Error(`${where}: rangeViews mismatch`);
          break;
        }
        case 'commit': {
          const tx = pick(cmd.tx);
          if (!tx) break;
          txs = txs.filter((x) => x !== tx);
          let hasWrites = false;
          let conflict = false;
          for (const [tree, w] of tx.writes) {
            if (w.size === 0) continue;
            hasWrites = true;
            if ((dropSeq.get(tree) ?? 0) > tx.snapSeq) conflict = true;
            for (const k of w.keys()) if ((lastWrite.get(`${tree}/${k}`) ?? 0) > tx.snapSeq) conflict = true;
          }
          let err: unknown;
          try {
            await tx.real.commit();
          } catch (e) {
            err = e;
          }
          if (conflict) {
            if (!(err instanceof ConflictError))
              throw new Error(`${where}: expected ConflictError, got ${err}`);
            break;
          }
          if (err) throw new Error(`${where}: unexpected ${err}`);
          if (!hasWrites) break;
          seq++;
          for (const [tree, w] of tx.writes) {
            const m = db.get(tree) ?? new Map();
            for (const [k, v] of w) {
              lastWrite.set(`${tree}/${k}`, seq);
              if (v === undefined) m.delete(k);
              else {
                m.set(k, v);
                exists.add(tree);
              }
            }
            db.set(tree, m);
          }
          break;
        }
        case 'abort': {
          const tx = pick(cmd.tx);
          if (!tx) break;
          tx.real.abort();
          txs = txs.filter((x) => x !== tx);
          break;
        }
        case 'drop': {
          const tree = TREES[cmd.tree];
          await st.dropTree(tree);
          if (!exists.has(tree)) break;
          seq++;
          exists.delete(tree);
          dropSeq.set(tree, seq);
          db.set(tree, new Map());
          break;
        }
        case 'checkpoint':
          await st.checkpoint();
          break;
        case 'reopen':
          for (const tx of txs) tx.real.abort();
          txs = [];
          await st.close();
          st = await Storage.open(dir, opts);
          db = new Map([...db].map(([k, v]) => [k, new Map(v)]));
          break;
      }
      if (!st.trees().every((n) => exists.has(n)) || [...exists].some((n) => !st.trees().includes(n))) {
        throw new Error(`${where}: trees() ${st.trees()} but model ${[...exists]}`);
      }
    }
    for (const tx of txs) tx.real.abort();
    st.verify();
    // A fresh snapshot equals the model exactly.
    const r = st.begin({ readOnly: true });
    for (const tree of TREES) {
      const got = [...r.range(tree)].map(
        ([k, v]) => `${Buffer.from(k).toString('latin1')}=${Buffer.from(v).toString('hex')}`,
      );
      const want = [...(db.get(tree) ?? new Map())]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`);
      if (got.join('|') !== want.join('|')) throw new Error(`final contents of ${tree} differ`);
    }
    r.abort();
    if (st.stats().retainedVersions !== 0) throw new Error('versions retained with no open transaction');
  } finally {
    await st.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

t.test('random concurrent transactions match a snapshot-isolation model', async (t) => {
  const runs = process.env.BUNBASE_STRESS ? 500 : 60;
  await fc.assert(
    fc.asyncProperty(fc.array(cmdArb, { minLength: 40, maxLength: 150, size: 'max' }), (cmds) => run(cmds)),
    { numRuns: runs },
  );
  t.pass(`${runs} random histories matched the model`);
});

t.test('many keys: splits, merges and a full verify after heavy churn', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.boolean(), fc.nat(3000), fc.nat(300)), {
        minLength: 500,
        maxLength: 3000,
        size: 'max',
      }),
      async (ops) => {
        const cmds: Cmd[] = [{ c: 'begin', readOnly: false }];
        for (const [put, key, size] of ops) {
          cmds.push(put ? { c: 'put', tx: 0, tree: 0, key, size } : { c: 'del', tx: 0, tree: 0, key });
          if (cmds.length % 200 === 0) cmds.push({ c: 'commit', tx: 0 }, { c: 'begin', readOnly: false });
        }
        cmds.push({ c: 'commit', tx: 0 });
        await run(cmds);
      },
    ),
    { numRuns: process.env.BUNBASE_STRESS ? 100 : 8 },
  );
  t.pass('churn histories matched the model');
});

t.test('one key changed by several commits, snapshots between them released oldest first', async (t) => {
  // Three versions of key 1 retained at once (one inline, two later), then released one by one while
  // snapshots from between the commits still read them; the same with a second key in each commit.
  const put = (tx: number, key: number, size: number): Cmd => ({ c: 'put', tx, tree: 0, key, size });
  const get = (tx: number, key: number): Cmd => ({ c: 'get', tx, tree: 0, key });
  const range = (tx: number): Cmd => ({ c: 'range', tx, tree: 0, lo: 0, hi: 5, reverse: false, limit: 10 });
  const reads = (txs: number) =>
    Array.from({ length: txs }, (_, i) => [get(i, 1), get(i, 2), range(i)]).flat();
  await run([
    { c: 'begin', readOnly: true }, // S0: before every commit
    { c: 'begin', readOnly: false },
    put(1, 1, 10),
    put(1, 2, 11),
    { c: 'commit', tx: 1 }, // A
    { c: 'begin', readOnly: true }, // S1: after A
    { c: 'begin', readOnly: false },
    put(2, 1, 20),
    { c: 'commit', tx: 2 }, // B
    { c: 'begin', readOnly: true }, // S2: after B
    { c: 'begin', readOnly: false },
    put(3, 1, 30),
    put(3, 2, 31),
    { c: 'commit', tx: 3 }, // C
    ...reads(3),
    { c: 'abort', tx: 0 }, // S0 gone: A's versions released
    ...reads(2),
    { c: 'abort', tx: 0 }, // S1 gone: B's
    ...reads(1),
    { c: 'abort', tx: 0 },
    { c: 'begin', readOnly: true },
    ...reads(1),
  ]);
  t.pass('every snapshot read its versions');
});
