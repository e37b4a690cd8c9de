import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { type Commit, Storage } from '../src/storage/index.js';

// Transaction savepoints (bundoc's statement-level rollback inside db.transaction): whatever puts and
// deletes follow a savepoint, rolling back to it leaves the transaction exactly as it was there — its
// reads, what it commits, and the insert notes change streams get.

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

type W = { tree: 'a' | 'b'; key: number; value: number | null };
const writeArb = fc.record({
  tree: fc.constantFrom('a' as const, 'b' as const),
  key: fc.integer({ min: 0, max: 7 }),
  value: fc.option(fc.integer({ min: 0, max: 99 })),
});

function apply(tx: ReturnType<Storage['begin']>, w: W): void {
  if (w.value === null) tx.delete(w.tree, enc(`k${w.key}`));
  else tx.put(w.tree, enc(`k${w.key}`), enc(`v${w.value}`));
}

function contents(st: Storage): Record<string, Record<string, string>> {
  const r = st.begin({ readOnly: true });
  try {
    const out: Record<string, Record<string, string>> = {};
    for (const tree of ['a', 'b']) {
      const entries: Record<string, string> = {};
      for (const [k, v] of r.range(tree)) entries[dec(k)] = dec(v);
      out[tree] = entries;
    }
    return out;
  } finally {
    r.abort();
  }
}

t.test('rolling back to a savepoint restores the transaction as it was there', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-savepoint-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(writeArb, { maxLength: 8 }),
      fc.array(writeArb, { maxLength: 8 }),
      fc.array(writeArb, { maxLength: 8 }),
      async (base, kept, undone) => {
        const dirs = [path.join(root, `${n}-x`), path.join(root, `${n}-y`)];
        n++;
        // The same history in two stores, one with the rolled-back writes, one without them.
        const events: Array<Array<[string, string, string]>> = [];
        for (const [i, dir] of dirs.entries()) {
          const st = await Storage.open(dir, { durability: 'off' });
          const seen: Array<[string, string, string]> = [];
          events.push(seen);
          await st.transaction((tx) => {
            for (const w of base) apply(tx, w);
          });
          st.onCommit((e: Commit) => {
            for (const op of e.ops) {
              if (op.kind === 'put')
                seen.push([op.kind, op.tree, `${dec(op.key)} ${dec(op.value)} ${op.note}`]);
              else if (op.kind === 'delete') seen.push([op.kind, op.tree, `${dec(op.key)} ${op.absent}`]);
            }
          });
          const tx = st.begin();
          for (const w of kept.slice(0, 4)) apply(tx, w);
          if (i === 0) {
            // Two nested savepoints: the inner one rolled back first, then the outer one.
            const outer = tx.savepoint();
            for (const w of undone.slice(0, 4)) apply(tx, w);
            const inner = tx.savepoint();
            for (const w of undone.slice(4)) apply(tx, w);
            tx.rollbackToSavepoint(inner);
            tx.releaseSavepoint();
            tx.rollbackToSavepoint(outer);
            tx.releaseSavepoint();
          }
          for (const w of kept.slice(4)) apply(tx, w);
          await tx.commit();
          await st.close();
        }
        const [x, y] = await Promise.all(
          dirs.map(async (d) => {
            const st = await Storage.open(d, { durability: 'off' });
            const c = contents(st);
            await st.close();
            return c;
          }),
        );
        t.same(x, y, 'the same contents');
        t.same(events[0], events[1], 'the same commit, notes included');
      },
    ),
    { numRuns: 150 },
  );
});

t.test('savepoint misuse fails clearly', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-savepoint-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const st = await Storage.open(dir, { durability: 'off' });
  t.teardown(() => st.close());
  const tx = st.begin();
  t.throws(() => tx.rollbackToSavepoint(0), /no such savepoint/);
  t.throws(() => tx.releaseSavepoint(), /no savepoint to release/);
  const mark = tx.savepoint();
  tx.put('a', enc('k'), enc('v'));
  t.throws(() => tx.rollbackToSavepoint(mark + 5), /no such savepoint/, 'a mark past the log');
  tx.releaseSavepoint();
  t.throws(() => tx.rollbackToSavepoint(mark), /no such savepoint/, 'released: the writes stay');
  t.equal(dec(tx.get('a', enc('k'))!), 'v');
  tx.abort();
  t.throws(() => st.begin({ readOnly: true }).savepoint(), /read-only/);
});
