import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import {
  type AuditEvent,
  Bundoc,
  type ChangeEvent,
  type ChangeStream,
  ChangeStreamOverflowError,
  type Document,
  HistoryUnavailableError,
  InvalidArgumentError,
  InvalidAuthContextError,
  InvalidCollectionNameError,
  InvalidFilterError,
  InvalidOptionError,
} from '../src/index.js';

// db.watch(): every committed write as an event in commit order, resumable from an LSN (from the log),
// filtered by collection, query and the caller's list rule.

async function tempDir(t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-watch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The next `n` events, failing the test if they do not come within `ms`. */
async function take<T extends object>(s: ChangeStream<T>, n: number, ms = 5000): Promise<ChangeEvent<T>[]> {
  const out: ChangeEvent<T>[] = [];
  const timer = setTimeout(() => s.close(), ms);
  try {
    while (out.length < n) {
      const r = await s.next();
      if (r.done) throw new Error(`stream ended after ${out.length} of ${n} events`);
      out.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** Every event until none comes for `ms`; closes the stream. */
async function drain<T extends object>(s: ChangeStream<T>, ms = 100): Promise<ChangeEvent<T>[]> {
  const out: ChangeEvent<T>[] = [];
  for (;;) {
    const r = await Promise.race([s.next(), new Promise<null>((res) => setTimeout(() => res(null), ms))]);
    if (r === null || r.done) break;
    out.push(r.value);
  }
  s.close();
  return out;
}

/** Whether the stream yields nothing more within `ms`. */
async function quiet<T extends object>(s: ChangeStream<T>, ms = 50): Promise<boolean> {
  const r = await Promise.race([
    s.next().then(() => false),
    new Promise<true>((res) => setTimeout(() => res(true), ms)),
  ]);
  return r;
}

const brief = (e: ChangeEvent<Document>) => [e.op, e.collection, e.id, e.doc];

t.test('every kind of write produces its events, in commit order, one LSN per transaction', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const s = db.watch();
  const users = db.collection('users');
  await users.insertOne({ _id: 'a', n: 1 });
  await users.updateOne({ _id: 'a' }, { $inc: { n: 1 } });
  await users.replaceOne({ _id: 'a' }, { n: 10 });
  await users.insertMany([{ _id: 'b' }, { _id: 'c' }]);
  await users.updateOne({ _id: 'd' }, { $set: { n: 4 } }, { upsert: true });
  await users.deleteMany({ _id: { $in: ['b', 'c'] } });
  await db.transaction(async (tx) => {
    await tx.collection('users').insertOne({ _id: 'tmp' });
    await tx.collection('users').deleteOne({ _id: 'tmp' }); // nets to nothing: no event
    await tx.collection('posts').insertOne({ _id: 1, by: 'a' });
    await tx.collection('users').updateOne({ _id: 'a' }, { $set: { posts: 1 } });
  });
  await users.updateOne({ _id: 'zz' }, { $set: { n: 1 } }); // matches nothing: no commit
  await db.dropCollection('posts');
  const ev = await take(s, 11);
  t.same(ev.map(brief), [
    ['insert', 'users', 'a', { _id: 'a', n: 1 }],
    ['update', 'users', 'a', { _id: 'a', n: 2 }],
    ['update', 'users', 'a', { _id: 'a', n: 10 }],
    ['insert', 'users', 'b', { _id: 'b' }],
    ['insert', 'users', 'c', { _id: 'c' }],
    ['insert', 'users', 'd', { _id: 'd', n: 4 }],
    ['delete', 'users', 'b', undefined],
    ['delete', 'users', 'c', undefined],
    // One transaction: its events share an LSN (order: by collection tree, then _id).
    ['update', 'users', 'a', { _id: 'a', n: 10, posts: 1 }],
    ['insert', 'posts', 1, { _id: 1, by: 'a' }],
    ['drop', 'posts', undefined, undefined],
  ]);
  const lsns = ev.map((e) => e.lsn);
  t.same(
    [...new Set(lsns)].length,
    8,
    'the batch insert, the batch delete and the transaction are one commit each',
  );
  t.equal(ev[3]!.lsn, ev[4]!.lsn);
  t.equal(ev[8]!.lsn, ev[9]!.lsn);
  for (let i = 1; i < lsns.length; i++) t.ok(lsns[i]! >= lsns[i - 1]!, 'LSNs never go back');
  t.ok(ev.every((e) => e.ts instanceof Date && Math.abs(e.ts.getTime() - Date.now()) < 60_000));
  t.ok(await quiet(s), 'nothing else');
  t.equal(s.resumeLsn, ev[10]!.lsn, 'resumeLsn: the last commit fully delivered');
});

t.test('a write is announced before its promise resolves', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const s = db.watch({ collection: 'c' });
  const got: ChangeEvent<Document>[] = [];
  const reader = (async () => {
    for await (const e of s) got.push(e);
  })();
  for (let i = 0; i < 20; i++) {
    await db.collection('c').insertOne({ _id: i });
    await new Promise((r) => setImmediate(r));
    t.equal(got.length, i + 1, `event ${i} delivered by the time the next write starts`);
  }
  s.close();
  await reader;
});

t.test('re-put documents of reference checks are not changes', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  await db.createCollection('posts', {
    schema: {
      type: 'object',
      properties: {
        author: { type: 'string', 'x-bundoc-ref': { collection: 'users', onDelete: 'cascade' } },
      },
    },
  });
  await db.collection('users').insertOne({ _id: 'u1' });
  const s = db.watch();
  await db.collection('posts').insertOne({ _id: 'p1', author: 'u1' });
  await db.collection('users').deleteOne({ _id: 'u1' }); // cascades to p1
  const ev = await take(s, 3);
  t.same(ev.map(brief), [
    ['insert', 'posts', 'p1', { _id: 'p1', author: 'u1' }],
    ['delete', 'posts', 'p1', undefined],
    ['delete', 'users', 'u1', undefined],
  ]);
  t.equal(ev[1]!.lsn, ev[2]!.lsn, 'the cascade is one commit');
  t.ok(await quiet(s), 'the touched user document made no update event');
});

t.test('collection and query filters', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const onlyA = db.watch({ collection: 'a' });
  const big = db.watch({ filter: { n: { $gte: 10 } } });
  const byId = db.watch({ collection: 'a', filter: { _id: 2 } });
  await db.collection('a').insertMany([
    { _id: 1, n: 5 },
    { _id: 2, n: 50 },
  ]);
  await db.collection('b').insertOne({ _id: 3, n: 30 });
  await db.collection('a').deleteMany({});
  await db.dropCollection('b');
  t.same(
    (await take(onlyA, 4)).map((e) => [e.op, e.id]),
    [
      ['insert', 1],
      ['insert', 2],
      ['delete', 1],
      ['delete', 2],
    ],
  );
  t.ok(await quiet(onlyA), 'the drop of b is not a event of a');
  t.same(
    (await take(big, 3)).map((e) => [e.op, e.collection, e.id]),
    [
      ['insert', 'a', 2],
      ['insert', 'b', 3],
      ['drop', 'b', undefined],
    ],
  );
  t.ok(await quiet(big), 'deletes are tested as { _id } and do not match n >= 10');
  t.same(
    (await take(byId, 2)).map((e) => [e.op, e.id]),
    [
      ['insert', 2],
      ['delete', 2],
    ],
  );
});

t.test(
  'resuming from an LSN reads the log and joins the live events without a gap or a repeat',
  async (t) => {
    const dir = await tempDir(t);
    const db = await Bundoc.open(dir, { durability: 'normal' });
    t.teardown(() => db.close());
    const live = db.watch();
    const c = db.collection('c');
    for (let i = 0; i < 50; i++) await c.insertOne({ _id: i, v: 0 });
    const mid = (await take(live, 50))[24]!.lsn;
    // Writers keep committing while the resumed stream reads the log.
    const resumed = db.watch({ resumeAfter: mid });
    const writers = Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) await c.updateOne({ _id: w * 5 + (i % 5) }, { $inc: { v: 1 } });
      }),
    );
    await writers;
    const fromLive = await take(live, 200);
    const fromResumed = await take(resumed, 25 + 200);
    t.same(
      fromResumed.map((e) => [e.lsn, e.op, e.id, e.doc]),
      [
        ...Array.from({ length: 25 }, (_, k) => [mid + 1 + k, 'insert', 25 + k, { _id: 25 + k, v: 0 }]),
        ...fromLive.map((e) => [e.lsn, e.op, e.id, e.doc]),
      ],
    );
    t.ok(await quiet(resumed));
    const all = db.watch({ resumeAfter: 0 });
    t.equal((await take(all, 250))[0]!.lsn, 1, 'resumeAfter 0: from the first commit');
  },
);

t.test('events replayed into a model give the collection (random concurrent writes)', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.array(
          fc.record({
            op: fc.constantFrom('insert', 'update', 'delete', 'replace', 'upsert'),
            id: fc.integer({ min: 0, max: 12 }),
            v: fc.integer({ min: 0, max: 3 }),
          }),
          { maxLength: 15 },
        ),
        { minLength: 1, maxLength: 4 },
      ),
      fc.boolean(),
      async (writers, preImages) => {
        const db = await Bundoc.open(':memory:', { changeStreamPreImages: preImages });
        try {
          const s = db.watch({ collection: 'm' });
          const c = db.collection('m');
          await Promise.all(
            writers.map(async (ops) => {
              for (const o of ops) {
                if (o.op === 'insert') await c.insertOne({ _id: o.id, v: o.v }).catch(() => {});
                else if (o.op === 'update') await c.updateMany({ v: o.v }, { $inc: { v: 1 } });
                else if (o.op === 'delete') await c.deleteOne({ _id: o.id });
                else if (o.op === 'replace') await c.replaceOne({ _id: o.id }, { v: o.v, r: true });
                else await c.updateOne({ _id: o.id }, { $set: { v: o.v } }, { upsert: true });
              }
            }),
          );
          const final = await c.find({}).toArray();
          const events = await drain(s, 5); // all queued already: announced before the writes resolved
          const replay = db.watch({ collection: 'm', resumeAfter: 0 });
          const replayed = await take(replay, events.length);
          if (!(await quiet(replay, 10))) throw new Error('log replay has more events than were live');
          if (JSON.stringify(replayed) !== JSON.stringify(events))
            throw new Error('log replay != live events');
          const model = new Map<unknown, Document>();
          for (const e of events) {
            // Pre-images: an update or delete carries exactly the version it replaced; nothing else has one.
            const want = preImages && e.op !== 'insert' ? model.get(e.id) : undefined;
            if (JSON.stringify(e.before) !== JSON.stringify(want))
              throw new Error(
                `before of ${e.op} ${e.id}: ${JSON.stringify(e.before)} != ${JSON.stringify(want)}`,
              );
            if (e.op === 'insert') {
              if (model.has(e.id)) throw new Error(`insert of existing ${e.id}`);
              model.set(e.id, e.doc!);
            } else if (e.op === 'update') {
              if (!model.has(e.id)) throw new Error(`update of missing ${e.id}`);
              model.set(e.id, e.doc!);
            } else if (e.op === 'delete') {
              if (!model.delete(e.id)) throw new Error(`delete of missing ${e.id}`);
            }
          }
          const sorted = [...model.values()].sort((a, b) => (a._id as number) - (b._id as number));
          if (JSON.stringify(sorted) !== JSON.stringify(final)) {
            throw new Error(`model ${JSON.stringify(sorted)} != collection ${JSON.stringify(final)}`);
          }
          for (let i = 1; i < events.length; i++) {
            if (events[i]!.lsn < events[i - 1]!.lsn) throw new Error('LSN went back');
          }
        } finally {
          await db.close();
        }
      },
    ),
    { numRuns: 60 },
  );
  t.pass(
    '60 random histories: live events = log replay, they rebuild the collection, pre-images are the replaced versions',
  );
});

t.test(
  'resume across a restart needs the log kept (walRetentionBytes); otherwise a clear error',
  async (t) => {
    const dir = await tempDir(t);
    let db = await Bundoc.open(dir, { walRetentionBytes: 64 * 1024 * 1024, walSegmentBytes: 4096 });
    for (let i = 0; i < 100; i++) await db.collection('c').insertOne({ _id: i, pad: 'x'.repeat(100) });
    await db.storage.checkpoint();
    await db.close();
    db = await Bundoc.open(dir, { walRetentionBytes: 64 * 1024 * 1024, walSegmentBytes: 4096 });
    await db.storage.checkpoint();
    await db.collection('c').insertOne({ _id: 100 });
    const ev = await take(db.watch({ resumeAfter: 0 }), 101);
    t.same(
      ev.map((e) => e.id),
      Array.from({ length: 101 }, (_, i) => i),
      'every insert since the start, from segments two checkpoints old',
    );
    t.ok(db.storage.stats().wal.segments > 3, 'old segments were kept');
    await db.close();

    db = await Bundoc.open(dir, { walSegmentBytes: 4096 });
    t.teardown(() => db.close());
    await db.collection('c').insertOne({ _id: 101 });
    await db.storage.checkpoint();
    await db.collection('c').insertOne({ _id: 102 });
    await db.storage.checkpoint();
    const gone = db.watch({ resumeAfter: 0 });
    await t.rejects(gone.next(), HistoryUnavailableError, 'without retention, checkpoints drop the log');
    t.equal(gone.closed, true);
    t.same((await gone.next()).done, true, 'a failed stream then ends');
  },
);

t.test('a consumer that falls behind gets an overflow error with an exact resume point', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const s = db.watch({ maxBuffered: 5 });
  const c = db.collection('c');
  await c.insertOne({ _id: 0 });
  await c.insertOne({ _id: 1 });
  t.same(
    (await take(s, 2)).map((e) => e.id),
    [0, 1],
  );
  for (let i = 2; i < 12; i++) await c.insertOne({ _id: i });
  const err = await s.next().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, ChangeStreamOverflowError);
  const lastLsn = (err as ChangeStreamOverflowError).lastLsn;
  t.equal(lastLsn, s.resumeLsn);
  const rest = await take(db.watch({ resumeAfter: lastLsn }), 10);
  t.same(
    rest.map((e) => e.id),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    'resuming there misses nothing and repeats nothing',
  );
});

t.test('resuming reads history at the pace of the consumer, never overflowing on it', async (t) => {
  const db = await Bundoc.open(':memory:');
  t.teardown(() => db.close());
  const c = db.collection('c');
  for (let i = 0; i < 200; i++) await c.insertOne({ _id: i });
  const s = db.watch({ resumeAfter: 0, maxBuffered: 10 });
  const ids: unknown[] = [];
  for (let i = 0; i < 200; i++) {
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20)); // a slow consumer
    const r = await s.next();
    if (r.done) break;
    ids.push(r.value.id);
    if (i === 100) await c.insertOne({ _id: 'live' }); // held until the replay is done
  }
  t.same(
    ids,
    Array.from({ length: 200 }, (_, i) => i),
    '200 events through a buffer of 10',
  );
  t.same(
    (await take(s, 1)).map((e) => e.id),
    ['live'],
    'then the live commit',
  );
  s.close();
});

t.test("the caller's list rule decides which documents it sees; admin streams are audited", async (t) => {
  const audits: AuditEvent[] = [];
  const db = await Bundoc.open(':memory:', { audit: (e) => void audits.push(e) });
  t.teardown(() => db.close());
  await db.createCollection('notes', {
    rules: {
      read: 'request.auth != null && resource.data.owner == request.auth.uid',
      write: 'true',
    },
  });
  const alice = db.watch({ ctx: { auth: { uid: 'alice' } } });
  const anon = db.watch();
  const admin = db.watch({ ctx: { auth: null, admin: true } });
  t.same(
    audits.filter((a) => a.op === 'list').map((a) => [a.collection, a.admin, a.outcome]),
    [['*', true, 'admin']],
    "the admin stream was audited once (collection '*': every collection)",
  );
  const notes = db.collection('notes');
  await notes.insertOne({ _id: 1, owner: 'alice' }, { ctx: { auth: { uid: 'alice' } } });
  await notes.insertOne({ _id: 2, owner: 'bob' }, { ctx: { auth: { uid: 'bob' } } });
  await db.collection('open').insertOne({ _id: 3 });
  await notes.deleteOne({ _id: 1 }, { ctx: { auth: null, admin: true } });
  t.same(
    (await take(alice, 2)).map((e) => [e.collection, e.id]),
    [
      ['notes', 1],
      ['open', 3],
    ],
  );
  t.ok(await quiet(alice), "no event of bob's note, no delete (no document to check the rule on)");
  t.same(
    (await take(anon, 1)).map((e) => [e.collection, e.id]),
    [['open', 3]],
  );
  t.ok(await quiet(anon));
  t.same(
    (await take(admin, 4)).map((e) => [e.op, e.id]),
    [
      ['insert', 1],
      ['insert', 2],
      ['insert', 3],
      ['delete', 1],
    ],
  );
});

t.test(
  'bad options are refused with typed errors; close ends a stream and db.close ends them all',
  async (t) => {
    const db = await Bundoc.open(':memory:');
    await db.collection('c').insertOne({ _id: 1 });
    const bad: Array<[unknown, new (...a: never[]) => Error]> = [
      ['nope', InvalidOptionError],
      [{ colection: 'c' }, InvalidOptionError],
      [{ collection: 5 }, InvalidOptionError],
      [{ collection: '$bad' }, InvalidCollectionNameError],
      [{ filter: { a: { $nope: 1 } } }, InvalidFilterError],
      [{ filter: [1] }, InvalidOptionError],
      [{ resumeAfter: -1 }, InvalidOptionError],
      [{ resumeAfter: 1.5 }, InvalidOptionError],
      [{ resumeAfter: '1' }, InvalidOptionError],
      [{ resumeAfter: 99 }, InvalidArgumentError],
      [{ maxBuffered: 0 }, InvalidOptionError],
      [{ ctx: { auth: 'alice' } }, InvalidAuthContextError],
    ];
    for (const [o, E] of bad) t.throws(() => db.watch(o as never), E, JSON.stringify(o));
    const a = db.watch();
    const b = db.watch({ resumeAfter: 0 });
    const pending = a.next();
    a.close();
    t.same(await pending, { value: undefined, done: true }, 'close resolves a waiting next()');
    t.same(await a.next(), { value: undefined, done: true });
    const pendingB = (async () => {
      const first = await b.next();
      return [first.value?.id, await b.next()];
    })();
    await new Promise((r) => setTimeout(r, 20));
    await db.close();
    t.same(await pendingB, [1, { value: undefined, done: true }], 'db.close ends open streams');
    t.throws(() => db.watch(), /closed/);
  },
);

t.test('an encrypted store resumes from its (encrypted) log', async (t) => {
  const dir = await tempDir(t);
  const key = new Uint8Array(32).fill(7);
  const db = await Bundoc.open(dir, { encryptionKey: key });
  t.teardown(() => db.close());
  await db.collection('s').insertOne({ _id: 'k', secret: 'v' });
  await db.collection('s').updateOne({ _id: 'k' }, { $set: { secret: 'w' } });
  t.same(
    (await take(db.watch({ resumeAfter: 0 }), 2)).map((e) => e.doc),
    [
      { _id: 'k', secret: 'v' },
      { _id: 'k', secret: 'w' },
    ],
  );
});

t.test(
  'changeStreamPreImages: updates and deletes carry the replaced document, live and from the log',
  async (t) => {
    const dir = await tempDir(t);
    let db = await Bundoc.open(dir, { changeStreamPreImages: true, walRetentionBytes: 1 << 20 });
    const live = db.watch();
    const users = db.collection('users');
    await users.insertOne({ _id: 'a', n: 1, role: 'x' });
    await users.updateOne({ _id: 'a' }, { $inc: { n: 1 } });
    await users.replaceOne({ _id: 'a' }, { n: 10 });
    await users.insertMany([{ _id: 'b', role: 'admin' }, { _id: 'c' }]);
    await users.updateOne({ _id: 'd' }, { $set: { n: 4 } }, { upsert: true });
    await users.deleteMany({ _id: { $in: ['b', 'c'] } });
    await users.updateOne({ _id: 'a' }, { $set: { n: 10 } }); // no change: no event
    const expected = [
      ['insert', 'a', { _id: 'a', n: 1, role: 'x' }, undefined],
      ['update', 'a', { _id: 'a', n: 2, role: 'x' }, { _id: 'a', n: 1, role: 'x' }],
      ['update', 'a', { _id: 'a', n: 10 }, { _id: 'a', n: 2, role: 'x' }],
      ['insert', 'b', { _id: 'b', role: 'admin' }, undefined],
      ['insert', 'c', { _id: 'c' }, undefined],
      ['insert', 'd', { _id: 'd', n: 4 }, undefined],
      ['delete', 'b', undefined, { _id: 'b', role: 'admin' }],
      ['delete', 'c', undefined, { _id: 'c' }],
    ];
    const got = (ev: ChangeEvent<Document>[]) => ev.map((e) => [e.op, e.id, e.doc, e.before]);
    t.same(got(await take(live, 8)), expected, 'live');
    t.ok(await quiet(live), 'nothing else');
    // A filter on a delete sees the document before it.
    const admins = db.watch({ filter: { role: 'admin' }, resumeAfter: 0 });
    t.same(
      (await drain(admins)).map((e) => [e.op, e.id]),
      [
        ['insert', 'b'],
        ['delete', 'b'],
      ],
    );
    await db.close();
    // The pre-images are in the log: a stream resumed after a restart has them.
    db = await Bundoc.open(dir, { walRetentionBytes: 1 << 20 });
    t.same(
      got(await drain(db.watch({ resumeAfter: 0 }))),
      expected,
      'from the log, opened without the option',
    );
    // ... and a store opened without the option logs none from then on.
    const lsn = db.storage.visibleLsn;
    await db.collection('users').deleteOne({ _id: 'a' });
    t.same(got(await drain(db.watch({ resumeAfter: lsn }))), [['delete', 'a', undefined, undefined]]);
    await db.close();
  },
);

t.test(
  'with pre-images, a caller under rules sees the deletes of documents its list rule allows',
  async (t) => {
    const db = await Bundoc.open(':memory:', { changeStreamPreImages: true });
    t.teardown(() => db.close());
    await db.createCollection('notes', {
      rules: { read: 'request.auth != null && resource.data.owner == request.auth.uid', write: 'true' },
    });
    const s = db.watch({ ctx: { auth: { uid: 'alice' } } });
    const notes = db.collection('notes');
    const admin = { ctx: { auth: null, admin: true } };
    await notes.insertMany(
      [
        { _id: 1, owner: 'alice' },
        { _id: 2, owner: 'bob' },
      ],
      admin,
    );
    await notes.deleteMany({}, admin);
    t.same(
      (await drain(s)).map((e) => [e.op, e.id, e.before]),
      [
        ['insert', 1, undefined],
        ['delete', 1, { _id: 1, owner: 'alice' }],
      ],
      "alice sees her note's delete, not bob's",
    );
  },
);

t.test('pre-image options are checked', async (t) => {
  const dir = await tempDir(t);
  await t.rejects(
    Bundoc.open(dir, { changeStreamPreImages: 'yes' as unknown as boolean }),
    InvalidArgumentError,
  );
  await t.rejects(
    Bundoc.open(dir, { preImages: () => true } as unknown as Parameters<typeof Bundoc.open>[1]),
    /use changeStreamPreImages/,
  );
});
