import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import {
  type Commit,
  CorruptionError,
  HistoryUnavailableError,
  InvalidArgumentError,
  Storage,
} from '../src/storage/index.js';
import { decodeCommit, decodeOps, encodeOps, type Op } from '../src/storage/ops.js';
import { walBody, walRecords } from './fixtures-storage/format-reader.js';

// The store's commits as change streams see them: onCommit (live, in LSN order), commitsSince (from the
// log), put notes, the commit time, and the log kept for history (walRetentionBytes).

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function tmpDir(t: { teardown: (f: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-commits-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const brief = (c: Commit) =>
  c.ops.map((o) =>
    o.kind === 'put'
      ? `${o.note ?? 'put'} ${dec(o.key)}=${dec(o.value)}`
      : o.kind === 'drop'
        ? `drop ${o.tree}`
        : `${o.absent ? 'absent' : 'delete'} ${dec(o.key)}`,
  );

async function collect(it: AsyncIterable<Commit>): Promise<Commit[]> {
  const out: Commit[] = [];
  for await (const c of it) out.push(c);
  return out;
}

t.test('commit bodies carry put notes and the commit time; bodies without a time still decode', async (t) => {
  const ops: Op[] = [
    { kind: 'put', tree: 't', key: enc('a'), value: enc('1'), note: 'insert' },
    { kind: 'put', tree: 't', key: enc('b'), value: enc('2'), note: 'touch' },
    { kind: 'put', tree: 't', key: enc('c'), value: enc('3') },
    { kind: 'delete', tree: 't', key: enc('d') },
    { kind: 'delete', tree: 't', key: enc('e'), absent: true },
    { kind: 'put', tree: 't', key: enc('f'), value: enc('6'), before: enc('5') },
    { kind: 'delete', tree: 't', key: enc('g'), before: enc('7') },
    { kind: 'drop', tree: 'old' },
  ];
  const body = encodeOps(ops, 1_700_000_000_123.5);
  t.same(decodeCommit(body, 1), { ops, time: 1_700_000_000_123.5 });
  t.same(decodeOps(body, 1), ops);
  const untimed = body.subarray(0, body.length - 8);
  t.same(decodeCommit(untimed, 1), { ops, time: 0 }, 'a body of the earlier format: time 0');
  t.throws(() => decodeCommit(Buffer.concat([body, Buffer.from([1])]), 1), CorruptionError, 'trailing bytes');
  const badTime = Buffer.from(body);
  badTime.writeDoubleLE(Number.NaN, body.length - 8);
  t.throws(() => decodeCommit(badTime, 1), CorruptionError, 'a time that is not a time');
  const badKind = Buffer.from(body);
  badKind[4] = 9;
  t.throws(() => decodeCommit(badKind, 1), /unknown op 9/);
  // A pre-image cut short is damage, not a shorter op.
  const cut = encodeOps([{ kind: 'delete', tree: 't', key: enc('g'), before: enc('7777') }], 0).subarray(
    0,
    14,
  );
  t.throws(() => decodeCommit(cut, 1), /runs past the end/);
});

t.test('preImages: puts and deletes of chosen trees log the value they replace', async (t) => {
  const dir = tmpDir(t);
  await t.rejects(Storage.open(dir, { preImages: 'all' as unknown as () => boolean }), InvalidArgumentError);
  const st = await Storage.open(dir, { checkpointIntervalMs: 0, preImages: (tree) => tree === 'docs' });
  const seen: Commit[] = [];
  st.onCommit((c) => seen.push(c));
  await st.transaction((tx) => {
    tx.put('docs', enc('a'), enc('1'));
    tx.put('other', enc('a'), enc('1'));
  });
  await st.transaction((tx) => {
    tx.put('docs', enc('a'), enc('2'));
    tx.put('docs', enc('b'), enc('new'), 'insert');
    tx.put('other', enc('a'), enc('2'));
  });
  await st.transaction((tx) => {
    tx.delete('docs', enc('a'));
    tx.delete('docs', enc('zz'));
    tx.put('docs', enc('b'), enc('new'), 'touch');
  });
  const recs = walRecords(dir).map((r) =>
    walBody(fs.readFileSync(r.file).subarray(r.offset, r.offset + r.length)),
  );
  const logged = [...(await collect(st.commitsSince(0)))];
  await st.close();
  const show = (o: { kind: string; tree: string; key?: Uint8Array; before?: Uint8Array }) =>
    [o.kind, o.tree, o.key && dec(o.key), o.before && dec(o.before)].filter((x) => x !== undefined);
  t.same(
    recs.map((r) => r.ops.map(show)),
    [
      [
        ['put', 'docs', 'a'],
        ['put', 'other', 'a'],
      ],
      [
        ['put-before', 'docs', 'a', '1'],
        ['insert', 'docs', 'b'],
        ['put', 'other', 'a'],
      ],
      [
        ['delete-before', 'docs', 'a', '2'],
        ['touch', 'docs', 'b'],
        ['absent', 'docs', 'zz'],
      ],
    ],
    'the log (independent reader): kinds 7 and 8 only where a replaced value existed',
  );
  const befores = (cs: Commit[]) =>
    cs.map((c) => c.ops.map((o) => (o.kind !== 'drop' && o.before ? dec(o.before) : '-')));
  t.same(
    befores(seen),
    [
      ['-', '-'],
      ['1', '-', '-'],
      ['2', '-', '-'],
    ],
    'live commits',
  );
  t.same(befores(logged), befores(seen), 'commits read back from the log');
});

t.test('notes: what a transaction did to each key, net of its own earlier writes', async (t) => {
  const st = await Storage.open(tmpDir(t));
  t.teardown(() => st.close());
  const seed = st.begin();
  seed.put('t', enc('old'), enc('o'));
  seed.put('t', enc('old2'), enc('o'));
  await seed.commit();
  const got: Commit[] = [];
  st.onCommit((c) => got.push(c));
  const tx = st.begin();
  tx.put('t', enc('n1'), enc('1'), 'insert');
  tx.put('t', enc('n1'), enc('2')); // still an insert: the key did not exist before the transaction
  tx.put('t', enc('old'), enc('x'), 'touch');
  tx.put('t', enc('old'), enc('y')); // a change after a touch is a change
  tx.put('t', enc('old2'), enc('z'));
  tx.put('t', enc('old2'), enc('o'), 'touch'); // a touch after a change stays a change
  tx.put('t', enc('n2'), enc('1'), 'insert');
  t.equal(tx.delete('t', enc('n2')), true);
  tx.put('t', enc('n3'), enc('1'), 'insert');
  tx.delete('t', enc('n3'));
  tx.put('t', enc('n3'), enc('2'), 'insert'); // inserted, deleted, inserted again: an insert
  t.equal(tx.delete('t', enc('never')), false); // absent before, absent after
  await tx.commit();
  t.same(
    got.map(brief),
    [['insert n1=2', 'absent n2', 'insert n3=2', 'absent never', 'put old=y', 'put old2=o']],
    'in key order; deletes of keys absent before the transaction are marked (they still count for conflicts)',
  );
  const tx2 = st.begin();
  tx2.delete('t', enc('old'));
  tx2.put('t', enc('old'), enc('back'), 'insert'); // the caller cannot know better; the store does
  await tx2.commit();
  t.same(got.slice(1).map(brief), [['put old=back']], 'a put over a deleted stored key is an update');
  const only = st.begin();
  only.delete('t', enc('ghost'));
  await only.commit();
  t.same(got.slice(2).map(brief), [['absent ghost']], 'a delete of nothing is marked');
  t.throws(() => st.begin().put('t', enc('k'), enc('v'), 'upsert' as never), InvalidArgumentError);
});

t.test(
  'onCommit sees every commit once, in LSN order, before the committer resumes; commitsSince agrees',
  async (t) => {
    for (const durability of ['full', 'normal', 'off'] as const) {
      const st = await Storage.open(tmpDir(t), { durability });
      const live: Commit[] = [];
      const stop = st.onCommit((c) => live.push(c));
      const start = st.visibleLsn;
      const writers = Array.from({ length: 64 }, async (_, w) => {
        for (let i = 0; i < 10; i++) {
          const tx = st.begin();
          tx.put('t', enc(`w${w}-${i}`), enc(String(i)), 'insert');
          await tx.commit();
          const mine = live.filter((c) => c.ops.some((o) => o.kind === 'put' && dec(o.key) === `w${w}-${i}`));
          if (mine.length !== 1)
            throw new Error(
              `${durability}: commit w${w}-${i} announced ${mine.length} times before it resolved`,
            );
        }
      });
      await Promise.all(writers);
      t.equal(live.length, 640, `${durability}: every commit`);
      t.ok(
        live.every((c, i) => c.lsn === start + 1 + i),
        `${durability}: consecutive LSNs in order`,
      );
      t.ok(live.every((c) => c.time > Date.now() - 60_000 && c.time <= Date.now()));
      const fromLog = await collect(st.commitsSince(start));
      t.same(
        fromLog.map((c) => [c.lsn, c.time, brief(c)]),
        live.map((c) => [c.lsn, c.time, brief(c)]),
        `${durability}: the log agrees`,
      );
      t.same((await collect(st.commitsSince(start + 600))).length, 40, 'from the middle');
      t.same(
        (await collect(st.commitsSince(start + 5, start + 7))).map((c) => c.lsn),
        [start + 6, start + 7],
        'a range',
      );
      stop();
      const tx = st.begin();
      tx.put('t', enc('after'), enc('stop'));
      await tx.commit();
      t.equal(live.length, 640, 'a stopped listener hears nothing');
      await st.close();
    }
  },
);

t.test('a listener that throws harms neither the commit nor other listeners', async (t) => {
  const st = await Storage.open(tmpDir(t));
  t.teardown(() => st.close());
  const seen: number[] = [];
  st.onCommit(() => {
    throw new Error('listener bug');
  });
  st.onCommit((c) => seen.push(c.lsn));
  const tx = st.begin();
  tx.put('t', enc('k'), enc('v'));
  await tx.commit();
  t.same(seen, [st.visibleLsn]);
  t.equal(st.begin({ readOnly: true }).get('t', enc('k'))?.length, 1);
});

t.test('history: checkpoints drop the log unless walRetentionBytes keeps it; bad arguments', async (t) => {
  const dir = tmpDir(t);
  const write = async (st: Storage, n: number) => {
    for (let i = 0; i < n; i++) {
      const tx = st.begin();
      tx.put('t', enc(`k${i}`), new Uint8Array(200));
      await tx.commit();
    }
  };
  let st = await Storage.open(dir, { walSegmentBytes: 4096 });
  await write(st, 100);
  await st.checkpoint();
  await write(st, 1);
  await st.checkpoint();
  const err = await collect(st.commitsSince(0)).catch((e: unknown) => e);
  t.type(err, HistoryUnavailableError);
  t.equal((err as HistoryUnavailableError).afterLsn, 0);
  t.ok((err as HistoryUnavailableError).firstAvailableLsn > 1);
  t.match((err as Error).message, /walRetentionBytes/);
  await st.close();

  const retain = 16 * 1024;
  st = await Storage.open(dir, { walSegmentBytes: 4096, walRetentionBytes: retain });
  const first = st.visibleLsn;
  await write(st, 300);
  await st.checkpoint();
  await write(st, 1);
  await st.checkpoint(); // drops what the checkpoint before it covered, except the retention
  const kept = st.stats().wal.bytes;
  t.ok(kept >= retain, `at least the retention is kept (${kept} bytes)`);
  t.ok(kept < retain + 3 * 4096 + 4096, `and not much more (${kept} bytes): whole segments`);
  const history = await collect(st.commitsSince(st.visibleLsn - 40));
  t.equal(history.length, 40, 'recent history is there');
  await t.rejects(collect(st.commitsSince(first)), HistoryUnavailableError, 'old history is not');

  await t.rejects(st.commitsSince(-1).next(), InvalidArgumentError);
  await t.rejects(st.commitsSince(1.5).next(), InvalidArgumentError);
  await t.rejects(st.commitsSince(st.visibleLsn + 1).next(), InvalidArgumentError);
  t.throws(() => st.onCommit('x' as never), InvalidArgumentError);
  await st.close();
  t.throws(() => st.onCommit(() => {}), /closed/);
  await t.rejects(
    Storage.open(dir, { walRetentionBytes: -1 }),
    InvalidArgumentError,
    'walRetentionBytes must be >= 0',
  );
});

t.test('the independent format reader decodes what the log holds (FORMAT.md §7.2)', async (t) => {
  const dir = tmpDir(t);
  const st = await Storage.open(dir, { checkpointIntervalMs: 0 });
  const a = st.begin();
  a.put('t', enc('k1'), enc('v1'), 'insert');
  a.put('t', enc('k2'), enc('v2'));
  await a.commit();
  const before = Date.now();
  const b = st.begin();
  b.put('t', enc('k1'), enc('v1'), 'touch');
  b.delete('t', enc('k2'));
  b.delete('t', enc('k3'));
  await b.commit();
  await st.dropTree('t');
  const recs = walRecords(dir).map((r) =>
    walBody(fs.readFileSync(r.file).subarray(r.offset, r.offset + r.length)),
  );
  await st.close();
  const show = (o: ReturnType<typeof walBody>['ops'][number]) =>
    [o.kind, o.tree, o.key && dec(o.key), o.value && dec(o.value)].filter((x) => x !== undefined);
  t.same(
    recs.map((r) => r.ops.map(show)),
    [
      [
        ['insert', 't', 'k1', 'v1'],
        ['put', 't', 'k2', 'v2'],
      ],
      [
        ['touch', 't', 'k1', 'v1'],
        ['delete', 't', 'k2'],
        ['absent', 't', 'k3'],
      ],
      [['drop', 't']],
    ],
  );
  t.ok(recs[1]!.time >= before && recs[1]!.time <= Date.now(), 'the commit time');
});
