import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Bundoc, ConflictError, type Document, DuplicateKeyError } from '../src/index.js';

// db.transaction: snapshot isolation across collections, first committer wins on a write-write conflict,
// and the function runs again (up to `retries` times). Read-modify-write transfers between accounts are
// the classic lost-update workload: without conflict detection the balances drift.

async function openDb(t: Test): Promise<Bundoc> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-tx-'));
  const db = await Bundoc.open(path.join(dir, 'db'), { durability: 'off' });
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

/** Lets the other workers run (timers included) between a transaction's reads and its writes. */
const pause = (n: number) => new Promise<void>((r) => (n % 2 === 0 ? setImmediate(r) : setTimeout(r, 1)));

t.test('concurrent read-modify-write transfers: no update lost, every transfer applied once', async (t) => {
  const db = await openDb(t);
  const ACCOUNTS = 8;
  const WORKERS = 6;
  const TRANSFERS = 12;
  await db
    .collection('accounts')
    .insertMany(Array.from({ length: ACCOUNTS }, (_, i) => ({ _id: i, balance: 100 })));
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let attempts = 0;
  let committed = 0;
  const worker = async (w: number) => {
    for (let k = 0; k < TRANSFERS; k++) {
      const from = rand(ACCOUNTS);
      const to = (from + 1 + rand(ACCOUNTS - 1)) % ACCOUNTS;
      const amount = 1 + rand(20);
      await db.transaction(
        async (tx) => {
          attempts++;
          const accounts = tx.collection('accounts');
          const a = (await accounts.findOne({ _id: from }))!;
          const b = (await accounts.findOne({ _id: to }))!;
          await pause(k + w);
          await accounts.updateOne({ _id: from }, { $set: { balance: (a.balance as number) - amount } });
          await accounts.updateOne({ _id: to }, { $set: { balance: (b.balance as number) + amount } });
          await tx.collection('ledger').insertOne({ _id: `${w}-${k}`, from, to, amount });
        },
        { retries: 1000 },
      );
      committed++;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  t.equal(committed, WORKERS * TRANSFERS);
  t.ok(attempts > committed, `conflicts made transactions run again (${attempts} runs for ${committed})`);
  const ledger = await db.collection('ledger').find({}).toArray();
  t.equal(ledger.length, WORKERS * TRANSFERS, 'one ledger entry per transfer');
  const expected = Array.from({ length: ACCOUNTS }, () => 100);
  for (const e of ledger) {
    expected[e.from as number]! -= e.amount as number;
    expected[e.to as number]! += e.amount as number;
  }
  const balances = (
    await db
      .collection('accounts')
      .find({}, { sort: { _id: 1 } })
      .toArray()
  ).map((d) => d.balance);
  t.same(balances, expected, 'balances are the ledger applied to the start');
  t.equal(
    balances.reduce((x: number, y) => x + (y as number), 0),
    100 * ACCOUNTS,
  );
});

t.test('a transaction reads one snapshot, plus its own writes', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ k: 1 });
  await c.insertMany([
    { _id: 1, k: 'a', n: 1 },
    { _id: 2, k: 'b', n: 2 },
  ]);
  const seen = await db.transaction(async (tx) => {
    const tc = tx.collection('c');
    const before = (await tc.findOne({ _id: 1 }))!.n;
    // Committed outside, after the transaction's snapshot:
    await c.updateOne({ _id: 1 }, { $set: { n: 100 } });
    await c.insertOne({ _id: 3, k: 'a', n: 3 });
    await db.collection('other').insertOne({ _id: 'x' });
    const again = (await tc.findOne({ _id: 1 }))!.n;
    const byIndex = (await tc.find({ k: 'a' }).toArray()).map((d) => d._id);
    const others = await tx.collection('other').countDocuments({});
    await tc.insertOne({ _id: 4, k: 'a', n: 4 });
    await tc.updateOne({ _id: 2 }, { $set: { k: 'a' } });
    const own = (await tc.find({ k: 'a' }, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
    return { before, again, byIndex, others, own };
  });
  t.same(seen, { before: 1, again: 1, byIndex: [1], others: 0, own: [1, 2, 4] });
  t.same(
    (await c.find({ k: 'a' }, { sort: { _id: 1 } }).toArray()).map((d) => d._id),
    [1, 2, 3, 4],
  );
});

t.test('a conflict with retries: 0 surfaces, and the transaction wrote nothing', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.insertOne({ _id: 1, n: 0 });
  let runs = 0;
  await t.rejects(
    db.transaction(
      async (tx) => {
        runs++;
        await tx.collection('c').updateOne({ _id: 1 }, { $inc: { n: 1 } });
        await tx.collection('d').insertOne({ _id: runs });
        await c.updateOne({ _id: 1 }, { $inc: { n: 10 } }); // commits first
      },
      { retries: 0 },
    ),
    ConflictError,
  );
  t.equal(runs, 1);
  t.equal((await c.findOne({ _id: 1 }))!.n, 10, 'only the outside write');
  t.equal(await db.collection('d').countDocuments({}), 0, 'nothing of the transaction');

  runs = 0;
  await t.rejects(
    db.transaction(
      async (tx) => {
        runs++;
        await tx.collection('c').updateOne({ _id: 1 }, { $inc: { n: 1 } });
        await c.updateOne({ _id: 1 }, { $inc: { n: 10 } });
      },
      { retries: 3 },
    ),
    ConflictError,
  );
  t.equal(runs, 4, 'run once and retried three times');
  t.equal((await c.findOne({ _id: 1 }))!.n, 50);
});

t.test('an error thrown inside rolls back every collection and is not retried', async (t) => {
  const db = await openDb(t);
  await db.collection('a').insertOne({ _id: 1, n: 1 });
  let runs = 0;
  await t.rejects(
    db.transaction(async (tx) => {
      runs++;
      await tx.collection('a').updateOne({ _id: 1 }, { $set: { n: 2 } });
      await tx.collection('b').insertMany([{ _id: 1 }, { _id: 2 }]);
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  t.equal(runs, 1);
  t.equal((await db.collection('a').findOne({ _id: 1 }))!.n, 1);
  t.equal(await db.collection('b').countDocuments({}), 0);
});

t.test('read-only transactions never conflict', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.insertOne({ _id: 1, n: 0 });
  let runs = 0;
  const total = await db.transaction(
    async (tx) => {
      runs++;
      const first = (await tx.collection('c').findOne({ _id: 1 }))!.n as number;
      await c.updateOne({ _id: 1 }, { $inc: { n: 5 } });
      return first + ((await tx.collection('c').findOne({ _id: 1 }))!.n as number);
    },
    { retries: 0 },
  );
  t.equal(runs, 1);
  t.equal(total, 0, 'both reads saw the snapshot');
});

t.test(
  'two transactions inserting the same unique value: one commits, the other sees it on retry',
  async (t) => {
    const db = await openDb(t);
    const c = db.collection<Document>('users');
    await c.createIndex({ email: 1 }, { unique: true });
    let runs = 0;
    const attempt = (id: number) =>
      db.transaction(async (tx) => {
        runs++;
        await pause(id);
        await tx.collection('users').insertOne({ _id: id, email: 'same@example.com' });
      });
    const results = await Promise.allSettled([attempt(1), attempt(2)]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    t.equal(ok.length, 1, 'one commits');
    t.equal(failed.length, 1);
    t.ok(failed[0]!.reason instanceof DuplicateKeyError, 'the other fails with DuplicateKeyError');
    t.ok(runs >= 3, `the loser ran again after its conflict (${runs} runs)`);
    t.equal(await c.countDocuments({ email: 'same@example.com' }), 1);
  },
);

t.test('snapshot isolation, not serializability: write skew is possible (documented)', async (t) => {
  // Two on-call doctors; each transaction checks that the other is on call, then leaves. Each writes a
  // different document, so neither conflicts: both commit, as under MongoDB's snapshot transactions.
  const db = await openDb(t);
  const c = db.collection('doctors');
  await c.insertMany([
    { _id: 'a', onCall: true },
    { _id: 'b', onCall: true },
  ]);
  const leave = (me: string, other: string) =>
    db.transaction(async (tx) => {
      const d = tx.collection('doctors');
      const others = await d.countDocuments({ _id: other, onCall: true });
      await pause(0);
      if (others > 0) await d.updateOne({ _id: me }, { $set: { onCall: false } });
    });
  await Promise.all([leave('a', 'b'), leave('b', 'a')]);
  t.equal(
    await c.countDocuments({ onCall: true }),
    0,
    'both left: guard such invariants with a shared write',
  );
});

// A failed operation inside a transaction takes back what it wrote (a savepoint) and the transaction
// goes on, as a statement in SQLite; operations run at the same time cannot be taken back one by one, and
// a failure among them that wrote something makes the transaction unusable.

t.test('a failed operation is taken back whole; the transaction goes on and commits the rest', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ tags: 1 });
  await c.createIndex({ email: 1 }, { unique: true, sparse: true });
  await c.insertMany([
    { _id: 1, n: 1 },
    { _id: 2, n: 'two' },
    { _id: 3, n: 3 },
  ]);
  const seen = await db.transaction(async (tx) => {
    const tc = tx.collection('c');
    const fresh = tx.collection('fresh');
    // The first document is written before the duplicate is found; the collection is created for it.
    await t.rejects(fresh.insertMany([{ _id: 'a', tags: ['x', 'y'] }, { _id: 'a' }]), DuplicateKeyError);
    // The second document's email duplicates the first's, written just before.
    await t.rejects(tc.updateMany({}, { $set: { email: 'same@x' } }), DuplicateKeyError);
    await t.rejects(tc.updateMany({}, { $inc: { n: 1 } }), /\$inc/);
    await tc.insertOne({ _id: 4, n: 4 });
    await fresh.insertOne({ _id: 'b' });
    return {
      c: await tc.find({}, { sort: { _id: 1 } }).toArray(),
      fresh: await fresh.find({}).toArray(),
    };
  });
  const want = [
    { _id: 1, n: 1 },
    { _id: 2, n: 'two' },
    { _id: 3, n: 3 },
    { _id: 4, n: 4 },
  ];
  t.same(seen, { c: want, fresh: [{ _id: 'b' }] }, 'inside, nothing of the failed operations');
  t.same(await c.find({}, { sort: { _id: 1 } }).toArray(), want, 'committed: the other writes only');
  t.same(await db.collection('fresh').find({}).toArray(), [{ _id: 'b' }]);
});

t.test('a collection created by a failed operation alone is not created', async (t) => {
  const db = await openDb(t);
  await db.transaction(async (tx) => {
    await t.rejects(tx.collection('gone').insertMany([{ _id: 1 }, { _id: 1 }]), DuplicateKeyError);
    await tx.collection('kept').insertOne({ _id: 1 });
  });
  t.same(db.listCollections(), ['kept']);
});

t.test('an index flag written by a failed operation is taken back with it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-tx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'db');
  let db = await Bundoc.open(file, { durability: 'off' });
  const c = db.collection('c');
  await c.createIndex({ a: 1 });
  await c.insertOne({ _id: 1, a: 5 });
  await db.transaction(async (tx) => {
    // The array makes the index multikey, and the write fails after it: the flag goes back too.
    await t.rejects(tx.collection('c').insertMany([{ _id: 2, a: [3, 4] }, { _id: 1 }]), DuplicateKeyError);
    await tx.collection('c').insertOne({ _id: 3, a: 1 });
  });
  // A later array must write the flag: had the failed operation's mark stayed, this write would skip it
  // and the reopened database would sort through the index, returning _id 4 once per element.
  await c.insertOne({ _id: 4, a: [2, 9] });
  await db.close();
  db = await Bundoc.open(file, { durability: 'off' });
  t.teardown(() => db.close());
  const r = db.collection('c');
  t.equal((await r.listIndexes())[1]?.multikey, true, 'multikey after reopening');
  t.same(
    (await r.find({ a: { $gt: 0 } }, { sort: { a: 1 } }).toArray()).map((d) => d._id),
    [3, 4, 1],
    'each document once, in sort order',
  );
});

t.test('operations started together: a synchronous one that fails is taken back alone', async (t) => {
  const db = await openDb(t);
  const c = db.collection('c');
  await c.createIndex({ email: 1 }, { unique: true, sparse: true });
  await c.insertMany([{ _id: 1 }, { _id: 2 }]);
  await db.transaction(async (tx) => {
    const tc = tx.collection('c');
    // Both start before either resumes; each runs to its end before the other starts.
    const [ins, upd] = await Promise.allSettled([
      tc.insertOne({ _id: 3 }),
      tc.updateMany({}, { $set: { email: 'same@x' } }),
    ]);
    t.equal(ins.status, 'fulfilled');
    t.equal(upd.status, 'rejected');
  });
  t.same(await c.find({}, { sort: { _id: 1 } }).toArray(), [{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
});

/** Owners and cars (owner: setNull, unique): deleting two owners nulls two cars' owners, which collide. */
async function garage(t: Test): Promise<Bundoc> {
  const db = await openDb(t);
  await db.createCollection('owners');
  await db.createCollection('cars', {
    schema: {
      properties: {
        owner: { type: ['string', 'null'], 'x-bundoc-ref': { collection: 'owners', onDelete: 'setNull' } },
      },
    },
  });
  await db.collection('cars').createIndex({ owner: 1 }, { unique: true });
  await db.collection('owners').insertMany([{ _id: 'o1' }, { _id: 'o2' }, { _id: 'o3' }]);
  await db.collection('cars').insertMany([
    { _id: 'c1', owner: 'o1' },
    { _id: 'c2', owner: 'o2' },
  ]);
  return db;
}

t.test('a delete that waits for its references and fails is taken back when it ran alone', async (t) => {
  const db = await garage(t);
  await db.transaction(async (tx) => {
    const owners = tx.collection('owners');
    // The first car's owner is nulled before the second collides with it on the unique index.
    await t.rejects(owners.deleteMany({ _id: { $in: ['o1', 'o2'] } }), DuplicateKeyError);
    t.same(await tx.collection('cars').countDocuments({ owner: null }), 0, 'nothing of it is seen');
    await owners.deleteOne({ _id: 'o3' });
  });
  t.same((await db.collection('owners').find({}).toArray()).map((d) => d._id).sort(), ['o1', 'o2']);
  t.same(
    await db
      .collection('cars')
      .find({}, { sort: { _id: 1 } })
      .toArray(),
    [
      { _id: 'c1', owner: 'o1' },
      { _id: 'c2', owner: 'o2' },
    ],
  );
});

t.test('a delete that fails after writing while other operations ran is taken back alone', async (t) => {
  const db = await garage(t);
  await db.transaction(async (tx) => {
    const owners = tx.collection('owners');
    // The delete plans (reading the cars) while the insert runs, then fails half-way through its writes.
    const [del, ins] = await Promise.allSettled([
      owners.deleteMany({ _id: { $in: ['o1', 'o2'] } }),
      owners.insertOne({ _id: 'o9' }),
    ]);
    t.equal(del.status, 'rejected');
    t.equal(ins.status, 'fulfilled');
    t.same(await tx.collection('cars').countDocuments({ owner: null }), 0, 'nothing of the delete is seen');
  });
  t.same((await db.collection('owners').find({}).toArray()).map((d) => d._id).sort(), [
    'o1',
    'o2',
    'o3',
    'o9',
  ]);
  t.same(
    await db
      .collection('cars')
      .find({}, { sort: { _id: 1 } })
      .toArray(),
    [
      { _id: 'c1', owner: 'o1' },
      { _id: 'c2', owner: 'o2' },
    ],
  );
});

t.test('a synchronous operation that fails while a delete waits is taken back alone', async (t) => {
  const db = await garage(t);
  await db.transaction(async (tx) => {
    const [del, ins] = await Promise.allSettled([
      tx.collection('owners').deleteOne({ _id: 'o3' }),
      // The first car is written before the duplicate _id is found.
      tx.collection('cars').insertMany([{ _id: 'c3', owner: null }, { _id: 'c3' }]),
    ]);
    t.equal(del.status, 'fulfilled');
    t.equal(ins.status, 'rejected');
  });
  t.same((await db.collection('owners').find({}).toArray()).map((d) => d._id).sort(), ['o1', 'o2']);
  t.same((await db.collection('cars').find({}).toArray()).map((d) => d._id).sort(), ['c1', 'c2']);
});

t.test('a failed operation takes back its reference touches too', async (t) => {
  const db = await garage(t);
  let attempts = 0;
  await db.transaction(
    async (tx) => {
      attempts++;
      // The new car's owner is touched (so a delete of it conflicts) before the duplicate _id is found.
      await t.rejects(tx.collection('cars').insertOne({ _id: 'c1', owner: 'o3' }), DuplicateKeyError);
      // A delete of that owner commits meanwhile: only a touch left behind would conflict with it.
      if (attempts === 1) await db.collection('owners').deleteOne({ _id: 'o3' });
      await tx.collection('owners').insertOne({ _id: 'o4' });
    },
    { retries: 0 },
  );
  t.equal(attempts, 1, 'no conflict');
  t.same((await db.collection('owners').find({}).toArray()).map((d) => d._id).sort(), ['o1', 'o2', 'o4']);
});
