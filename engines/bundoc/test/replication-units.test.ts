import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Entry } from '@bunbase/raft';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { CONFLICT_HORIZON } from '../src/replication/conflicts.js';
import { CorruptReplicationDataError, StoreStateMachine } from '../src/replication/index.js';
import { LOG_TREE, WRITTEN_TREE } from '../src/replication/reserved.js';
import {
  packDirectory,
  snapshotAppliedIndex,
  unpackDirectory,
} from '../src/replication/snapshot-container.js';
import {
  INCOMING_DIR,
  OLD_DIR,
  recoverStoreDirectory,
  STORE_DIR,
  type SwapStep,
  swapInIncoming,
} from '../src/replication/store-directory.js';
import { decodeWriteSet, encodeWriteSet, MAX_WRITES, type WriteSet } from '../src/replication/write-set.js';
import { ConflictError, InvalidArgumentError } from '../src/storage/index.js';

const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);
t.comment(`fast-check seed ${SEED} (SEED=${SEED} reproduces)`);
const enc = (s: string) => new TextEncoder().encode(s);

function tempDir(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-repl-unit-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });
const writeSetArb: fc.Arbitrary<WriteSet> = fc.record({
  readIndex: fc.nat({ max: 2 ** 40 }),
  window: fc.nat({ max: 2 ** 32 - 1 }),
  trees: fc.array(
    fc.record({
      tree: fc.string({ minLength: 1, maxLength: 20 }),
      ops: fc.array(fc.record({ key: bytesArb(40), value: fc.option(bytesArb(60), { nil: undefined }) }), {
        maxLength: 6,
      }),
    }),
    { maxLength: 4 },
  ),
});

t.test('write sets: round trip; any damage is refused', async (t) => {
  fc.assert(
    fc.property(writeSetArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (ws, pos, flip) => {
      const data = encodeWriteSet(ws);
      t.same(decodeWriteSet(data), ws);
      const bad = Uint8Array.from(data);
      bad[pos % bad.length] ^= flip;
      t.throws(() => decodeWriteSet(bad), CorruptReplicationDataError);
      t.throws(() => decodeWriteSet(data.subarray(0, pos % data.length)), CorruptReplicationDataError);
    }),
    { seed: SEED, numRuns: 100 },
  );
  const many = {
    readIndex: 0,
    window: 1,
    trees: [{ tree: 'a', ops: [] as { key: Uint8Array; value: undefined }[] }],
  };
  for (let i = 0; i <= MAX_WRITES; i++) many.trees[0].ops.push({ key: enc(String(i)), value: undefined });
  t.throws(() => encodeWriteSet(many), InvalidArgumentError, 'too many writes');
});

/** A store directory with keys k0..k(n-1) of tree 't' at applied index `applied`. */
async function storeAt(root: string, n: number, applied: number): Promise<StoreStateMachine> {
  const sm = await StoreStateMachine.open(root, { durability: 'off' });
  const ws: WriteSet = {
    readIndex: applied - 1,
    window: 1,
    trees: [
      {
        tree: 't',
        ops: Array.from({ length: n }, (_, i) => ({ key: enc(`k${i}`), value: enc(`v${i}@${applied}`) })),
      },
    ],
  };
  await sm.apply(entry(applied, ws));
  return sm;
}

function entry(index: number, ws: WriteSet | Uint8Array): Entry {
  return { index, term: 1, type: 'normal', data: ws instanceof Uint8Array ? ws : encodeWriteSet(ws) };
}

async function dump(sm: StoreStateMachine): Promise<Record<string, [string, string][]>> {
  const store = await sm.store();
  const tx = store.begin({ readOnly: true });
  const out: Record<string, [string, string][]> = {};
  for (const tree of store.trees())
    out[tree] = [...tx.range(tree)].map(([k, v]) => [
      Buffer.from(k).toString('hex'),
      Buffer.from(v).toString('hex'),
    ]);
  tx.abort();
  return out;
}

t.test(
  'snapshot container: packs a backup; damage and unsafe paths are refused before writing',
  async (t) => {
    const root = tempDir(t);
    const sm = await storeAt(path.join(root, 'a'), 200, 7);
    const data = await sm.snapshot();
    t.equal(snapshotAppliedIndex(data), 7);
    const out = path.join(root, 'out');
    await unpackDirectory(data, out);
    const other = await StoreStateMachine.open(path.join(root, 'b'), { durability: 'off' });
    await other.restore(data);
    t.same(await dump(other), await dump(sm), 'restored store equals the original');
    t.equal(other.applied, 7);
    for (const pos of [0, 10, 30, data.length >> 1, data.length - 1]) {
      const bad = Uint8Array.from(data);
      bad[pos] ^= 0x40;
      const target = path.join(root, `bad-${pos}`);
      await t.rejects(unpackDirectory(bad, target), CorruptReplicationDataError, `byte ${pos} flipped`);
      t.notOk(fs.existsSync(target), 'nothing written');
    }
    // a well-formed container (checksums fixed up) naming a path outside its directory
    const evil = path.join(root, 'evil');
    fs.mkdirSync(path.join(evil, 'x'), { recursive: true });
    fs.writeFileSync(path.join(evil, 'x', 'yy'), 'boom');
    const packed = Buffer.from(await packDirectory(evil, 1));
    const at = packed.indexOf('x/yy');
    packed.write('../y', at, 'latin1');
    const CRC32 = (await import('crc-32')).default;
    packed.writeInt32BE(CRC32.buf(packed.subarray(0, packed.length - 4)), packed.length - 4);
    await t.rejects(unpackDirectory(packed, path.join(root, 'evil-out')), /unsafe path/);
    t.notOk(fs.existsSync(path.join(root, 'y')), 'nothing escaped');
    await sm.close();
    await other.close();
  },
);

t.test('restoring a store is crash-safe at every step of the swap', async (t) => {
  const steps: (SwapStep | 'unpacking')[] = ['unpacking', 'old-renamed', 'new-renamed', 'old-removed'];
  const srcRoot = tempDir(t);
  const source = await storeAt(path.join(srcRoot, 'src'), 50, 9);
  const snap = await source.snapshot();
  const wanted = await dump(source);
  for (const step of steps) {
    const root = path.join(tempDir(t), 'member');
    const sm = await storeAt(root, 20, 3);
    const oldDump = await dump(sm);
    await sm.close();
    // the state a crash at `step` leaves on disk
    if (step === 'unpacking') {
      await unpackDirectory(snap, path.join(root, INCOMING_DIR));
      const f = path.join(root, INCOMING_DIR, 'data.bdb');
      fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
    } else {
      await unpackDirectory(snap, path.join(root, INCOMING_DIR));
      await swapInIncoming(root, (s) => {
        if (s === step) throw new Error('crash');
      }).catch(() => {});
    }
    const reopened = await StoreStateMachine.open(root, { durability: 'off' });
    t.notOk(
      fs.existsSync(path.join(root, INCOMING_DIR)) || fs.existsSync(path.join(root, OLD_DIR)),
      `${step}: no leftovers`,
    );
    t.ok(fs.existsSync(path.join(root, STORE_DIR)));
    const isNew = reopened.applied === 9;
    t.same(
      await dump(reopened),
      isNew ? wanted : oldDump,
      `${step}: the store is exactly the old or the new one`,
    );
    t.equal(
      isNew,
      step === 'new-renamed' || step === 'old-removed',
      `${step}: ${isNew ? 'new' : 'old'} store`,
    );
    // raft restores its snapshot again at start: the member ends with the new store either way
    await reopened.restore(snap);
    t.same(await dump(reopened), wanted, `${step}: restore at start completes it`);
    await reopened.close();
  }
  t.equal(await recoverStoreDirectory(tempDir(t)), 'clean');
  await source.close();
});

t.test('apply: deterministic decisions, forged entries change nothing but the index', async (t) => {
  const root = tempDir(t);
  const sm = await StoreStateMachine.open(root, { durability: 'off' });
  const put = (readIndex: number, key: string, window = CONFLICT_HORIZON): WriteSet => ({
    readIndex,
    window,
    trees: [{ tree: 't', ops: [{ key: enc(key), value: enc(`${key}@${readIndex}`) }] }],
  });
  t.equal(await sm.apply(entry(1, put(0, 'a'))), 1);
  await t.rejects(sm.apply(entry(2, put(0, 'a'))), ConflictError, 'a was written at 1, after snapshot 0');
  t.equal(await sm.apply(entry(3, put(1, 'a'))), 3, 'snapshot 1 saw the write at 1');
  await t.rejects(sm.apply(entry(4, enc('garbage'))), CorruptReplicationDataError);
  await t.rejects(
    sm.apply(
      entry(5, { readIndex: 4, window: 10, trees: [{ tree: '__bundoc_replication/state', ops: [] }] }),
    ),
    CorruptReplicationDataError,
    'reserved tree',
  );
  await t.rejects(
    sm.apply(
      entry(6, {
        readIndex: 5,
        window: 10,
        trees: [
          {
            tree: 't',
            ops: [
              { key: enc('z'), value: enc('1') },
              { key: new Uint8Array(4000), value: enc('x') },
            ],
          },
        ],
      }),
    ),
    InvalidArgumentError,
    'a key the store refuses',
  );
  await t.rejects(sm.apply(entry(7, put(7, 'q'))), ConflictError, 'a snapshot not before its entry');
  await t.rejects(sm.apply(entry(20, put(10, 'q', 5))), ConflictError, 'outside the proposer window');
  t.equal(sm.applied, 20, 'every rejected entry still advanced the index');
  const store = await sm.store();
  const tx = store.begin({ readOnly: true });
  t.same(
    [...tx.range('t')].map(([k]) => Buffer.from(k).toString()),
    ['a'],
    'only accepted writes landed',
  );
  tx.abort();
  t.equal(await sm.apply(entry(3, put(1, 'zz'))), 3, 'an entry the store already reflects is skipped');

  // the horizon: records of entries CONFLICT_HORIZON behind are pruned; older snapshots are refused
  const far = 20 + CONFLICT_HORIZON + 5;
  t.equal(await sm.apply(entry(far, put(far - 1, 'b'))), far);
  const tx2 = store.begin({ readOnly: true });
  t.equal([...tx2.range(WRITTEN_TREE)].length, 1, 'the old write of a is forgotten');
  t.same(
    [...tx2.range(LOG_TREE)].map(([k]) => Number(Buffer.from(k).readBigUInt64BE())),
    [far],
  );
  tx2.abort();
  t.equal(await sm.apply(entry(far + 1, put(far - 2, 'a'))), far + 1, 'a is no longer known as written');
  await t.rejects(sm.apply(entry(far + 2, put(1, 'c'))), ConflictError, 'older than the horizon');
  await sm.close();
});

t.test('apply: members fed the same log end identical, with the same decisions (property)', async (t) => {
  const root = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          lag: fc.nat({ max: 6 }),
          keys: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 3 }),
          del: fc.boolean(),
        }),
        { minLength: 1, maxLength: 25 },
      ),
      async (plan) => {
        run++;
        const a = await StoreStateMachine.open(path.join(root, `a${run}`), { durability: 'off' });
        const b = await StoreStateMachine.open(path.join(root, `b${run}`), { durability: 'off' });
        // the reference model: last index each key was written at
        const lastWrite = new Map<string, number>();
        const decisions: [string, string][] = [];
        for (let i = 0; i < plan.length; i++) {
          const index = i + 1;
          const p = plan[i];
          const ws: WriteSet = {
            readIndex: Math.max(0, index - 1 - p.lag),
            window: 4,
            trees: [
              {
                tree: 't',
                ops: [...new Set(p.keys)].map((k) => ({
                  key: enc(k),
                  value: p.del ? undefined : enc(`${k}${index}`),
                })),
              },
            ],
          };
          const expectConflict =
            index - ws.readIndex > 4 ||
            [...new Set(p.keys)].some((k) => (lastWrite.get(k) ?? 0) > ws.readIndex);
          if (!expectConflict) for (const k of p.keys) lastWrite.set(k, index);
          const outcome = async (sm: StoreStateMachine) =>
            sm.apply(entry(index, ws)).then(
              () => 'ok',
              (e: unknown) => (e instanceof ConflictError ? 'conflict' : `error ${String(e)}`),
            );
          const da = await outcome(a);
          decisions.push([da, await outcome(b)]);
          if (da !== (expectConflict ? 'conflict' : 'ok'))
            throw new Error(`entry ${index}: ${da}, model says ${expectConflict}`);
        }
        for (const [x, y] of decisions) if (x !== y) throw new Error('members decided differently');
        t.same(await dump(a), await dump(b));
        await a.close();
        await b.close();
      },
    ),
    { seed: SEED, numRuns: 30 },
  );
});

t.test(
  'a snapshot the member cannot open (another encryption key) fails the member, its store intact',
  async (t) => {
    const root = tempDir(t);
    const keyA = new Uint8Array(32).fill(1);
    const keyB = new Uint8Array(32).fill(2);
    const source = await StoreStateMachine.open(path.join(root, 'src'), {
      durability: 'off',
      encryptionKey: keyB,
    });
    const ws = (v: string): WriteSet => ({
      readIndex: 0,
      window: 10,
      trees: [{ tree: 't', ops: [{ key: enc('k'), value: enc(v) }] }],
    });
    await source.apply(entry(5, ws('from-b')));
    const snap = await source.snapshot();
    await source.close();
    const member = await StoreStateMachine.open(path.join(root, 'm'), {
      durability: 'off',
      encryptionKey: keyA,
    });
    await member.apply(entry(1, ws('mine')));
    const before = await dump(member);
    const fatal = await member.restore(snap).catch((e: unknown) => e);
    t.match(fatal, { code: 'REPLICA_FAILED', fatal: true }, 'a fatal error for the raft group');
    t.match(String((fatal as Error)?.message), /key/i, 'it names the cause');
    await t.rejects(member.store(), { code: 'REPLICA_FAILED' }, 'the failed member refuses work');
    await t.rejects(member.apply(entry(6, ws('x'))), { code: 'REPLICA_FAILED' });
    await member.close();
    const reopened = await StoreStateMachine.open(path.join(root, 'm'), {
      durability: 'off',
      encryptionKey: keyA,
    });
    t.same(await dump(reopened), before, 'the old store is intact');
    t.notOk(fs.existsSync(path.join(root, 'm', INCOMING_DIR)), 'the unpacked snapshot was cleaned up');
    await reopened.close();
  },
);
