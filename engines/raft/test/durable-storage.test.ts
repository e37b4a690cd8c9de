import { spawn } from 'node:child_process';
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { DurableStorage } from '../src/durable-storage.js';
import { MemoryStorage, type Snapshot, StorageCorruptionError } from '../src/index.js';
import { entry, observe, tempDir } from './helpers/storage-model.js';
import { transpileSources } from './helpers/transpile.js';

const conf = { voters: [1, 2, 3], learners: [] };
const bytes = (s: string) => new TextEncoder().encode(s);

function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort()
    .map((n) => join(dir, n));
}

t.test('entries, hard state, snapshot and compaction survive a reopen', async (t) => {
  const dir = tempDir(t);
  const s = await DurableStorage.open(dir);
  await s.save(
    { entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)), hardState: { term: 1, vote: 2, commit: 3 } },
    true,
  );
  await s.save({ entries: [entry(4, 2), entry(5, 2), entry(6, 2)] }, true); // replaces 4..5
  await s.createSnapshot(3, conf, bytes('state@3'));
  await s.compact(2);
  const before = observe(s);
  await s.close();
  const r = await DurableStorage.open(dir);
  t.same(observe(r), before);
  t.equal(r.firstIndex(), 3);
  t.equal(r.lastIndex(), 6);
  t.equal(r.term(5), 2);
  t.same(r.initialState().hardState, { term: 1, vote: 2, commit: 3 });
  t.same(Buffer.from(r.snapshot().data).toString(), 'state@3');
  t.same(r.snapshot().metadata.confState, conf);
  await r.close();
});

t.test('a snapshot from the leader replaces the log and survives a reopen', async (t) => {
  const dir = tempDir(t);
  const s = await DurableStorage.open(dir, { segmentBytes: 200 });
  await s.save({ entries: Array.from({ length: 20 }, (_, i) => entry(i + 1, 1)) }, true);
  const snap: Snapshot = { metadata: { index: 30, term: 3, confState: conf }, data: bytes('leader state') };
  await s.save(
    { snapshot: snap, entries: [entry(31, 3)], hardState: { term: 3, vote: 0, commit: 30 } },
    true,
  );
  t.equal(s.segmentCount(), 1, 'older segments removed');
  await s.close();
  const r = await DurableStorage.open(dir);
  t.equal(r.firstIndex(), 31);
  t.equal(r.lastIndex(), 31);
  t.equal(r.term(30), 3);
  t.same(Buffer.from(r.snapshot().data).toString(), 'leader state');
  t.equal(readdirSync(dir).filter((n) => n.endsWith('.snap')).length, 1);
  await r.close();
});

/** Random sequences of storage operations with reopens, compared with MemoryStorage as the model. */
t.test('model test against MemoryStorage, with reopens and small segments', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  const runs = process.env.BUNBASE_STRESS === '1' ? 300 : 40;
  let run = 0;
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(6),
      n: fc.integer({ min: 1, max: 8 }),
      size: fc.nat(120),
    }),
    fc.record({ kind: fc.constant('hardState' as const), vote: fc.nat(3) }),
    fc.record({ kind: fc.constant('snapshot' as const), back: fc.nat(5) }),
    fc.record({ kind: fc.constant('compact' as const), back: fc.nat(5) }),
    fc.record({ kind: fc.constant('install' as const), ahead: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant('reopen' as const) }),
  );
  await fc
    .assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 60 }), async (ops) => {
        const dir = tempDir(t, `raft-model-${run++}-`);
        const model = new MemoryStorage();
        let s = await DurableStorage.open(dir, { segmentBytes: 300 });
        let term = 1;
        try {
          for (const o of ops) {
            const snapIndex = model.snapshot().metadata.index;
            const first = model.firstIndex();
            const last = model.lastIndex();
            switch (o.kind) {
              case 'append': {
                // never rewrite at or below the snapshot: those entries are committed
                const start = Math.max(first, snapIndex + 1, last + 1 - o.back);
                term++;
                const ents = Array.from({ length: o.n }, (_, i) =>
                  entry(start + i, term, 'x'.repeat(o.size) + (start + i)),
                );
                model.append(ents);
                await s.save({ entries: ents }, true);
                break;
              }
              case 'hardState': {
                const hs = { term, vote: o.vote, commit: Math.min(last, snapIndex + 1) };
                model.setHardState(hs);
                await s.save({ hardState: hs }, true);
                break;
              }
              case 'snapshot': {
                const at = last - o.back;
                if (at <= snapIndex || at < first) break;
                const data = bytes(`snap${at}`);
                model.createSnapshot(at, conf, data);
                await s.createSnapshot(at, conf, data);
                break;
              }
              case 'compact': {
                const at = snapIndex - o.back;
                if (at < first || at > snapIndex) break;
                model.compact(at);
                await s.compact(at);
                break;
              }
              case 'install': {
                term++;
                const snap: Snapshot = {
                  metadata: { index: last + o.ahead + 1, term, confState: conf },
                  data: bytes(`leader${term}`),
                };
                model.applySnapshot(snap);
                await s.save({ snapshot: snap }, true);
                break;
              }
              case 'reopen':
                await s.close();
                s = await DurableStorage.open(dir, { segmentBytes: 300 });
                break;
            }
            t.same(observe(s), observe(model), `after ${JSON.stringify(o)}`);
            if (t.passing() === false) return false;
          }
          await s.close();
          s = await DurableStorage.open(dir, { segmentBytes: 300 });
          return isDeepStrictEqual(observe(s), observe(model));
        } finally {
          await s.close();
        }
      }),
      { seed, numRuns: runs, endOnFailure: true },
    )
    .catch((err) => {
      t.fail(`seed ${seed}: ${(err as Error).message}`);
    });
});

t.test('a torn tail is cut at the last valid record; appending then works', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  const rng = fc.sample(fc.nat(10_000), { seed, numRuns: 50 });
  let k = 0;
  for (const cutAt of [1, 5, 9, 20, -1]) {
    const dir = tempDir(t);
    const s = await DurableStorage.open(dir);
    await s.save(
      { entries: [1, 2, 3].map((i) => entry(i, 1)), hardState: { term: 1, vote: 1, commit: 2 } },
      true,
    );
    await s.save({ entries: [entry(4, 1, 'last entry with some payload')] }, true);
    await s.close();
    const [seg] = segments(dir);
    const size = statSync(seg!).size;
    const lastRecord = 9 + 8 + 8 + 1 + 4 + 'last entry with some payload'.length;
    if (cutAt >= 0) truncateSync(seg!, size - lastRecord + cutAt);
    else appendFileSync(seg!, Buffer.alloc(50 + (rng[k++]! % 100))); // zeros past the end (metadata only)
    const r = await DurableStorage.open(dir);
    t.ok(r.recovery.tornTail, `tail cut (${cutAt})`);
    t.equal(r.lastIndex(), cutAt >= 0 ? 3 : 4, `last index (${cutAt})`);
    t.same(r.initialState().hardState, { term: 1, vote: 1, commit: 2 });
    await r.save({ entries: [entry(r.lastIndex() + 1, 2)] }, true);
    await r.close();
    const again = await DurableStorage.open(dir);
    t.notOk(again.recovery.tornTail, 'nothing torn after the repair');
    t.equal(again.term(again.lastIndex()), 2);
    await again.close();
  }
});

t.test('corruption is a typed error naming file and offset', async (t) => {
  const setup = async () => {
    const dir = tempDir(t);
    const s = await DurableStorage.open(dir, { segmentBytes: 150 });
    for (let i = 1; i <= 12; i++)
      await s.save({ entries: [entry(i, 1, `payload ${i} ${'y'.repeat(30)}`)] }, true);
    await s.createSnapshot(6, conf, bytes('snap@6'));
    await s.save({ entries: [entry(13, 1)] }, true);
    await s.close();
    return dir;
  };

  // a bit flip in the middle of the last segment, with valid records after it
  {
    const dir = await setup();
    const segs = segments(dir);
    const last = segs[segs.length - 1]!;
    const buf = readFileSync(last);
    t.ok(buf.length > 60, 'last segment holds several records');
    buf[12] = buf[12]! ^ 0x40;
    writeFileSync(last, buf);
    const err = await DurableStorage.open(dir).catch((e: unknown) => e);
    t.ok(err instanceof StorageCorruptionError, 'typed error');
    t.equal((err as StorageCorruptionError).file, last);
    t.equal((err as StorageCorruptionError).offset, 0);
    t.match((err as Error).message, /checksum mismatch/);
    t.equal(readFileSync(last).length, buf.length, 'nothing was cut');
  }
  // damage at the end of a segment that is not the last one is corruption, not a torn tail
  {
    const dir = await setup();
    const segs = segments(dir);
    t.ok(segs.length >= 2, 'several segments');
    const size = statSync(segs[0]!).size;
    truncateSync(segs[0]!, size - 3);
    const err = await DurableStorage.open(dir).catch((e: unknown) => e);
    t.ok(err instanceof StorageCorruptionError);
    t.equal((err as StorageCorruptionError).file, segs[0]);
    t.ok((err as StorageCorruptionError).offset > 0);
  }
  // a damaged snapshot file
  {
    const dir = await setup();
    const snap = join(dir, readdirSync(dir).find((n) => n.endsWith('.snap'))!);
    const buf = readFileSync(snap);
    buf[buf.length - 1] = buf[buf.length - 1]! ^ 1;
    writeFileSync(snap, buf);
    const err = await DurableStorage.open(dir).catch((e: unknown) => e);
    t.ok(err instanceof StorageCorruptionError);
    t.equal((err as StorageCorruptionError).file, snap);
  }
  // a missing snapshot file
  {
    const dir = await setup();
    const snap = join(dir, readdirSync(dir).find((n) => n.endsWith('.snap'))!);
    unlinkSync(snap);
    const err = await DurableStorage.open(dir).catch((e: unknown) => e);
    t.ok(err instanceof StorageCorruptionError);
    t.match((err as Error).message, /missing/);
  }
  // a deleted middle segment leaves a gap
  {
    const dir = await setup();
    const segs = segments(dir);
    t.ok(segs.length >= 3);
    unlinkSync(segs[1]!);
    const err = await DurableStorage.open(dir).catch((e: unknown) => e);
    t.ok(err instanceof StorageCorruptionError, 'gap detected');
  }
});

t.test('compaction deletes whole old segments only', async (t) => {
  const dir = tempDir(t);
  const s = await DurableStorage.open(dir, { segmentBytes: 200 });
  for (let i = 1; i <= 60; i++) await s.save({ entries: [entry(i, 1, 'z'.repeat(40))] }, false);
  const before = s.segmentCount();
  t.ok(before > 5, `${before} segments`);
  await s.createSnapshot(50, conf, bytes('s'));
  await s.compact(45);
  t.ok(s.segmentCount() < before, `${s.segmentCount()} segments after compaction`);
  const view = observe(s);
  await s.close();
  const r = await DurableStorage.open(dir, { segmentBytes: 200 });
  t.same(observe(r), view);
  t.equal(r.firstIndex(), 46);
  await r.close();
});

t.test('SIGKILL crash: every acknowledged entry survives', async (t) => {
  const dir = tempDir(t);
  const rounds = process.env.BUNBASE_STRESS === '1' ? 20 : 5;
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  const delays = fc.sample(fc.integer({ min: 150, max: 900 }), { seed, numRuns: rounds });
  let acked = 0;
  const js = transpileSources(t, ['test/fixtures/durable-crash-child.ts']);
  for (let round = 0; round < rounds; round++) {
    const child = spawn(process.execPath, [join(js, 'test/fixtures/durable-crash-child.js'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const started = new Promise<void>((resolve) => {
      const check = () => (out.includes('start') ? resolve() : setTimeout(check, 10));
      check();
    });
    await started;
    await new Promise((r) => setTimeout(r, delays[round]!));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (const line of out.split('\n')) if (/^\d+$/.test(line)) acked = Math.max(acked, Number(line));
    const s = await DurableStorage.open(dir, { segmentBytes: 4096 });
    t.ok(
      s.lastIndex() >= acked,
      `round ${round} (seed ${seed}): last ${s.lastIndex()} >= acknowledged ${acked}`,
    );
    const first = s.firstIndex();
    const ents = s.entries(first, acked + 1, Number.POSITIVE_INFINITY);
    let ok = true;
    for (const e of ents) {
      if (!Buffer.from(e.data).toString().startsWith(`value-${e.index}-`)) ok = false;
    }
    t.ok(ok, `entries ${first}..${acked} intact`);
    t.ok(
      s.initialState().hardState.commit >= acked,
      'the hard state saved with the last acknowledged entry is there',
    );
    t.ok(
      s.snapshot().metadata.index === 0 ||
        Buffer.from(s.snapshot().data).toString() === `snap-${s.snapshot().metadata.index}`,
      'snapshot intact',
    );
    await s.close();
  }
  t.ok(acked > 50, `${acked} entries acknowledged over ${rounds} rounds`);
});
