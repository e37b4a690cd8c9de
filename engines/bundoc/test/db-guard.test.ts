import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DbCore, Scope } from '../src/db/core.js';
import { Storage } from '../src/storage/index.js';

// Scope.guard, the savepoint of each operation inside a transaction, below the collection API: an
// operation that waits and fails after writing, while another ran, cannot be taken back (their writes
// mingle) and must make the transaction unusable — unless it declared its writes self-atomic (deletes,
// whose writes are one synchronous stretch under Scope.atomically). No public operation is of the first
// kind today: this is the safety net for one that would be.

const enc = (s: string) => new TextEncoder().encode(s);

async function scope(t: Test): Promise<{ core: DbCore; s: Scope }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-guard-'));
  const st = await Storage.open(dir, { durability: 'off' });
  t.teardown(async () => {
    await st.close();
    await rm(dir, { recursive: true, force: true });
  });
  const core = new DbCore(st, [], { decode: () => ({}) } as never);
  return { core, s: new Scope(core, st.begin()) };
}

/** An operation that writes `key`, waits, then fails. */
const waitsAndFails = (s: Scope, key: string) => async () => {
  s.put('t', enc(key), enc('v'));
  await new Promise((r) => setImmediate(r));
  throw new Error(`${key} failed`);
};

t.test('a waiting operation that fails alone is taken back', async (t) => {
  const { core, s } = await scope(t);
  await t.rejects(s.guard(waitsAndFails(s, 'a')), /a failed/);
  t.equal(s.tx.get('t', enc('a')), undefined);
  t.equal(s.poisoned, undefined);
  t.equal(
    core.read(s, () => 'readable'),
    'readable',
  );
});

t.test('one that fails after another ran meanwhile makes the transaction unusable', async (t) => {
  const { core, s } = await scope(t);
  const [failed, other] = await Promise.allSettled([
    s.guard(waitsAndFails(s, 'a')),
    s.guard(() => s.put('t', enc('b'), enc('v'))),
  ]);
  t.equal(failed.status, 'rejected');
  t.equal(other.status, 'fulfilled');
  t.match(s.poisoned, /a failed/);
  t.throws(() => core.read(s, () => 0), /a failed/, 'reads throw');
  await t.rejects(
    s.guard(() => 0),
    /a failed/,
    'writes too',
  );
});

t.test('a self-atomic one does not: it took its writes back itself', async (t) => {
  const { core, s } = await scope(t);
  const [failed] = await Promise.allSettled([
    s.guard(async () => {
      await new Promise((r) => setImmediate(r));
      s.atomically(() => {
        s.put('t', enc('a'), enc('v'));
        throw new Error('a failed');
      });
    }, true),
    s.guard(() => s.put('t', enc('b'), enc('v'))),
  ]);
  t.equal(failed.status, 'rejected');
  t.equal(s.poisoned, undefined);
  t.equal(s.tx.get('t', enc('a')), undefined, 'its write is gone');
  t.not(s.tx.get('t', enc('b')), undefined, "the other's stays");
  t.equal(
    core.read(s, () => 'readable'),
    'readable',
  );
});
