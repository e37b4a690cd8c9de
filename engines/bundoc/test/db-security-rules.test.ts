import fc from 'fast-check';
import t from 'tap';
import {
  type AuditEvent,
  type AuthContext,
  Bundoc,
  type Collection,
  type Document,
  InvalidAuthContextError,
  InvalidOptionError,
  PermissionDenied,
} from '../src/index.js';
import { caught, checkIndexes, dump, openDb, refused } from './db-security-fixtures.js';

// Rules through the public API: truth tables of every operation for callers without a context,
// signed out, signed in as different users, with claims, and admin, compared with the same policy
// written in JavaScript; queries only see what the caller may list.

const RULES = {
  read: 'resource.data.public == true || (request.auth != null && resource.data.owner == request.auth.uid)',
  create: 'request.auth != null && request.resource.data.owner == request.auth.uid',
  update:
    'request.auth != null && resource.data.owner == request.auth.uid && request.resource.data.owner == resource.data.owner',
  delete: "request.auth != null && request.auth.claims.role == 'mod'",
};

type Note = { _id: string; owner: string; public: boolean; n: number; tag?: string };
const NOTES: Note[] = [
  { _id: 'n1', owner: 'alice', public: true, n: 1, tag: 'a' },
  { _id: 'n2', owner: 'alice', public: false, n: 2, tag: 'b' },
  { _id: 'n3', owner: 'bob', public: false, n: 3, tag: 'a' },
  { _id: 'n4', owner: 'bob', public: true, n: 4, tag: 'c' },
  { _id: 'n5', owner: 'mo', public: false, n: 5 },
];

const CALLERS: Array<[string, AuthContext | undefined]> = [
  ['no context', undefined],
  ['signed out', { auth: null }],
  ['alice', { auth: { uid: 'alice' } }],
  ['bob', { auth: { uid: 'bob', claims: { role: 'user' } } }],
  ['mod', { auth: { uid: 'mo', claims: { role: 'mod' } } }],
  ['admin', { auth: null, admin: true }],
];

// The same policy in JavaScript (the oracle).
const uid = (c: AuthContext | undefined) => c?.auth?.uid;
const isAdmin = (c: AuthContext | undefined) => c?.admin === true;
const mayRead = (c: AuthContext | undefined, d: Note | null) =>
  isAdmin(c) || (d !== null && (d.public || (uid(c) !== undefined && d.owner === uid(c))));
const mayCreate = (c: AuthContext | undefined, d: Note) =>
  isAdmin(c) || (uid(c) !== undefined && d.owner === uid(c));
const mayUpdate = (c: AuthContext | undefined, b: Note, a: Note) =>
  isAdmin(c) || (uid(c) !== undefined && b.owner === uid(c) && a.owner === b.owner);
const mayDelete = (c: AuthContext | undefined) => isAdmin(c) || c?.auth?.claims?.role === 'mod';

async function notes(t: Parameters<typeof openDb>[0], events: AuditEvent[] = []) {
  const h = await openDb(t, { audit: (e) => void events.push(e) });
  await h.db.createCollection('notes', { rules: RULES });
  const c = h.db.collection<Note>('notes');
  await c.createIndex({ owner: 1, n: 1 });
  await c.insertMany(NOTES, { ctx: { auth: null, admin: true } });
  events.length = 0;
  return { ...h, c };
}

const opt = (ctx: AuthContext | undefined) => (ctx === undefined ? undefined : { ctx });

async function expectDenied(
  t: Parameters<typeof openDb>[0],
  db: Bundoc,
  what: string,
  op: () => unknown,
  props: Record<string, unknown>,
) {
  await refused(t, db, what, op, PermissionDenied, { collection: 'notes', ...props });
}

t.test('get: the read rule decides, also for a missing document', async (t) => {
  const { c, db } = await notes(t);
  for (const [who, ctx] of CALLERS) {
    for (const id of [...NOTES.map((d) => d._id), 'missing']) {
      const doc = NOTES.find((d) => d._id === id) ?? null;
      if (mayRead(ctx, doc)) t.same(await c.get(id, opt(ctx)), doc, `${who} reads ${id}`);
      else
        await expectDenied(t, db, `${who} reads ${id}`, () => c.get(id, opt(ctx)), {
          op: 'read',
          rule: 'read',
        });
    }
  }
});

t.test('find, countDocuments, distinct: documents the caller may not list are invisible', async (t) => {
  const { c } = await notes(t);
  for (const [who, ctx] of CALLERS) {
    const visible = NOTES.filter((d) => mayRead(ctx, d));
    const o = ctx === undefined ? {} : { ctx };
    t.same(await c.find({}, { ...o, sort: { _id: 1 } }).toArray(), visible, `${who}: find`);
    t.same(await c.countDocuments({}, opt(ctx)), visible.length, `${who}: count`);
    t.same(await c.countDocuments({ tag: 'a' }, opt(ctx)), visible.filter((d) => d.tag === 'a').length);
    t.same(
      await c.distinct('owner', {}, opt(ctx)),
      [...new Set(visible.map((d) => d.owner))].sort(),
      `${who}: distinct`,
    );
    // skip and limit count visible documents only (index scan on owner, then the rule).
    t.same(
      await c.find({ owner: { $gte: '' } }, { ...o, sort: { owner: 1, n: 1 }, skip: 1, limit: 2 }).toArray(),
      visible
        .slice()
        .sort((a, b) => a.owner.localeCompare(b.owner) || a.n - b.n)
        .slice(1, 3),
      `${who}: skip/limit after the rule`,
    );
    t.same(
      await c.findOne({ n: { $gte: 2 } }, { ...o, sort: { n: 1 } }),
      visible.find((d) => d.n >= 2) ?? null,
    );
    // Keyset pages walk the visible documents.
    const pages: string[] = [];
    let after: string | undefined;
    for (;;) {
      const cur = c.find({}, { ...o, sort: { n: -1 }, limit: 2, ...(after ? { after } : {}) });
      const page = await cur.toArray();
      if (page.length === 0) break;
      pages.push(...page.map((d) => d._id));
      after = cur.token;
    }
    t.same(pages, visible.map((d) => d._id).reverse(), `${who}: keyset pages`);
  }
});

t.test('inserts: the create rule decides', async (t) => {
  for (const [who, ctx] of CALLERS) {
    const { c, db } = await notes(t);
    for (const owner of ['alice', 'bob', 'mo']) {
      const doc: Note = { _id: `new-${owner}`, owner, public: false, n: 9 };
      if (mayCreate(ctx, doc))
        t.same(await c.insertOne(doc, opt(ctx)), { _id: doc._id }, `${who} creates for ${owner}`);
      else
        await expectDenied(t, db, `${who} creates for ${owner}`, () => c.insertOne(doc, opt(ctx)), {
          op: 'create',
          rule: 'create',
        });
    }
    // insertMany: ordered fails whole, unordered reports per document.
    const batch: Note[] = ['alice', 'bob'].map((owner) => ({ _id: `b-${owner}`, owner, public: true, n: 7 }));
    const allowed = batch.filter((d) => mayCreate(ctx, d));
    if (allowed.length === batch.length) await c.insertMany(batch, opt(ctx));
    else {
      await expectDenied(t, db, `${who} insertMany ordered`, () => c.insertMany(batch, opt(ctx)), {
        op: 'create',
      });
      const e = (await caught(() => c.insertMany(batch, { ...opt(ctx), ordered: false }))) as {
        writeErrors: Array<{ index: number; error: Error }>;
        insertedIds: string[];
      };
      t.same(
        e.insertedIds,
        allowed.map((d) => d._id),
        `${who}: unordered inserts the allowed ones`,
      );
      t.ok(e.writeErrors.every((w) => w.error instanceof PermissionDenied));
    }
    checkIndexes(t, db, who);
  }
});

t.test('updates and replaces: visible documents only, then the update rule', async (t) => {
  for (const [who, ctx] of CALLERS) {
    const { c, db } = await notes(t);
    for (const d of NOTES) {
      const set = { n: d.n + 100 };
      const after = { ...d, ...set };
      const visible = mayRead(ctx, d);
      if (!visible) {
        const before = dump(db);
        t.same(
          await c.updateOne({ _id: d._id }, { $set: set }, opt(ctx)),
          { matchedCount: 0, modifiedCount: 0, upsertedId: null },
          `${who}: ${d._id} is invisible to update`,
        );
        t.same(dump(db), before);
      } else if (mayUpdate(ctx, d, after)) {
        t.equal(
          (await c.updateOne({ _id: d._id }, { $set: set }, opt(ctx))).modifiedCount,
          1,
          `${who} updates ${d._id}`,
        );
      } else {
        await expectDenied(
          t,
          db,
          `${who} updates ${d._id}`,
          () => c.updateOne({ _id: d._id }, { $set: set }, opt(ctx)),
          {
            op: 'update',
            rule: 'update',
          },
        );
      }
      // Changing the owner is never allowed by the rule (admin bypasses).
      const steal = { ...d, owner: 'zed' };
      if (visible && !mayUpdate(ctx, d, steal))
        await expectDenied(
          t,
          db,
          `${who} replaces the owner of ${d._id}`,
          () => c.replaceOne({ _id: d._id }, steal, opt(ctx)),
          {
            op: 'update',
          },
        );
    }
    checkIndexes(t, db, who);
  }
});

t.test('updateMany is all or nothing; upserts go through create', async (t) => {
  const { c, db } = await notes(t);
  const bob = { auth: { uid: 'bob' } };
  // bob sees n1 (public, alice's), n3 and n4: n1 is denied, so nothing changes.
  await expectDenied(t, db, 'bob updateMany', () => c.updateMany({}, { $inc: { n: 1 } }, { ctx: bob }), {
    op: 'update',
  });
  t.same((await c.updateMany({ owner: 'bob' }, { $inc: { n: 1 } }, { ctx: bob })).modifiedCount, 2);
  // An update that changes nothing writes nothing and is not checked.
  t.same(await c.updateOne({ _id: 'n1' }, { $set: { n: 1 } }, { ctx: bob }), {
    matchedCount: 1,
    modifiedCount: 0,
    upsertedId: null,
  });
  await expectDenied(
    t,
    db,
    'upsert for someone else',
    () =>
      c.updateOne(
        { _id: 'u1' },
        { $set: { owner: 'alice', public: true, n: 0 } },
        { upsert: true, ctx: bob },
      ),
    { op: 'create' },
  );
  const r = await c.updateOne(
    { _id: 'u1' },
    { $set: { owner: 'bob', public: true, n: 0 } },
    { upsert: true, ctx: bob },
  );
  t.equal(r.upsertedId, 'u1');
  // An upsert whose filter matches a document the caller cannot see inserts (and collides on _id).
  const e = await caught(() =>
    c.updateOne({ _id: 'n2' }, { $set: { owner: 'bob', public: true, n: 0 } }, { upsert: true, ctx: bob }),
  );
  t.match(e, { code: 'DUPLICATE_KEY' });
});

t.test('deletes: visible documents only, then the delete rule', async (t) => {
  for (const [who, ctx] of CALLERS) {
    const { c, db } = await notes(t);
    for (const d of NOTES) {
      if (!mayRead(ctx, d)) {
        t.same(
          await c.deleteOne({ _id: d._id }, opt(ctx)),
          { deletedCount: 0 },
          `${who}: ${d._id} invisible to delete`,
        );
      } else if (mayDelete(ctx)) {
        t.same(await c.deleteOne({ _id: d._id }, opt(ctx)), { deletedCount: 1 }, `${who} deletes ${d._id}`);
      } else {
        await expectDenied(t, db, `${who} deletes ${d._id}`, () => c.deleteOne({ _id: d._id }, opt(ctx)), {
          op: 'delete',
          rule: 'delete',
        });
      }
    }
    const remaining = NOTES.filter((d) => !(mayRead(ctx, d) && mayDelete(ctx)));
    t.same(
      (await c.find({}, { ctx: { auth: null, admin: true }, sort: { _id: 1 } }).toArray()).map((d) => d._id),
      remaining.map((d) => d._id),
    );
    checkIndexes(t, db, who);
  }
  // deleteMany is all or nothing too.
  const { c, db } = await notes(t);
  await db.setCollectionSecurity('notes', { rules: { ...RULES, delete: 'resource.data.public == true' } });
  await expectDenied(
    t,
    db,
    'deleteMany with one denied',
    () => c.deleteMany({}, { ctx: { auth: { uid: 'alice' } } }),
    {
      op: 'delete',
    },
  );
});

t.test('no rules allow everything; rules: {} deny everything but admin', async (t) => {
  const h = await openDb(t);
  const open = h.db.collection('open');
  await open.insertOne({ _id: 1, a: 1 });
  t.same(await open.get(1), { _id: 1, a: 1 });
  await open.updateOne({ _id: 1 }, { $set: { a: 2 } });
  t.same(await open.find({}).toArray(), [{ _id: 1, a: 2 }]);
  await open.deleteOne({ _id: 1 });
  // A schema without rules still allows everyone.
  await h.db.createCollection('schemaOnly', { schema: { type: 'object' } });
  await h.db.collection('schemaOnly').insertOne({ _id: 1 });
  t.same(await h.db.collection('schemaOnly').get(1), { _id: 1 });

  await h.db.createCollection('closed', { rules: {} });
  const closed = h.db.collection('closed');
  const alice = { auth: { uid: 'alice' } };
  await refused(
    t,
    h.db,
    'closed insert',
    () => closed.insertOne({ _id: 1 }, { ctx: alice }),
    PermissionDenied,
    { rule: 'none' },
  );
  await closed.insertOne({ _id: 1 }, { ctx: { auth: null, admin: true } });
  await refused(t, h.db, 'closed get', () => closed.get(1, { ctx: alice }), PermissionDenied);
  t.same(await closed.find({}, { ctx: alice }).toArray(), []);
  t.same(await closed.find({}, { ctx: { auth: null, admin: true } }).toArray(), [{ _id: 1 }]);
});

t.test('rules fail closed on evaluation errors', async (t) => {
  const h = await openDb(t);
  await h.db.createCollection('c', {
    rules: {
      read: 'resource.data.level > 2',
      write: 'request.auth.uid == request.resource.data.owner',
    },
  });
  const c = h.db.collection('c');
  const admin = { auth: null, admin: true };
  await c.insertMany([{ _id: 1, level: 5 }, { _id: 2 }, { _id: 3, level: 'high' }], { ctx: admin });
  t.same(
    await c.find({}).toArray(),
    [{ _id: 1, level: 5 }],
    'a missing field or a type error hides the document',
  );
  const e = await refused(
    t,
    h.db,
    'signed out on write',
    () => c.insertOne({ owner: 'x' }),
    PermissionDenied,
    {
      rule: 'write',
    },
  );
  t.match(e?.message, /evaluation error/);
  await refused(
    t,
    h.db,
    'delete with only write',
    () => c.deleteOne({ _id: 1 }, { ctx: { auth: { uid: 'x' } } }),
    PermissionDenied,
    {
      op: 'delete',
      rule: 'write',
    },
  );
});

t.test('bad contexts and options are refused before anything happens', async (t) => {
  const { c, db } = await notes(t);
  const bad: unknown[] = [
    null,
    'alice',
    { auth: { uid: '' } },
    { auth: { uid: 'a', role: 'x' } },
    { auth: null, admin: 'yes' },
    { user: 'a' },
  ];
  for (const ctx of bad) {
    const o = { ctx } as never;
    await refused(
      t,
      db,
      `insertOne ctx ${JSON.stringify(ctx)}`,
      () => c.insertOne({ _id: 'x', owner: 'a', public: true, n: 1 }, o),
      InvalidAuthContextError,
    );
    await refused(t, db, `get ctx ${JSON.stringify(ctx)}`, () => c.get('n1', o), InvalidAuthContextError);
    t.throws(() => c.find({}, o), InvalidAuthContextError);
    await refused(
      t,
      db,
      `deleteMany ctx ${JSON.stringify(ctx)}`,
      () => c.deleteMany({}, o),
      InvalidAuthContextError,
    );
    await refused(
      t,
      db,
      `transaction ctx ${JSON.stringify(ctx)}`,
      () => db.transaction(() => 1, o),
      InvalidAuthContextError,
    );
  }
  // The auth context passed as the options object itself is a mistake, not an anonymous call.
  await refused(
    t,
    db,
    'auth at the top level',
    () => c.insertOne({ _id: 'x', owner: 'alice', public: true, n: 1 }, { auth: { uid: 'alice' } } as never),
    InvalidOptionError,
  );
  await refused(
    t,
    db,
    'unknown option',
    () => c.updateOne({}, { $set: { n: 1 } }, { upsrt: true } as never),
    InvalidOptionError,
  );
  await refused(
    t,
    db,
    'unknown delete option',
    () => c.deleteOne({}, { justOne: true } as never),
    InvalidOptionError,
  );
});

t.test('transactions: default context, per-call override, denials do not poison', async (t) => {
  const { c, db } = await notes(t);
  const alice = { auth: { uid: 'alice' } };
  const out = await db.transaction(
    async (tx) => {
      const n = tx.collection<Note>('notes');
      const seen = (await n.find({}, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
      const denied = await caught(() => n.insertOne({ _id: 'x', owner: 'bob', public: true, n: 1 }));
      await n.insertOne({ _id: 't1', owner: 'alice', public: false, n: 10 });
      const asAdmin = await n.countDocuments({}, { ctx: { auth: null, admin: true } });
      return { seen, denied: (denied as Error).constructor.name, asAdmin };
    },
    { ctx: alice },
  );
  t.same(out, { seen: ['n1', 'n2', 'n4'], denied: 'PermissionDenied', asAdmin: 6 });
  t.same(await c.get('t1', { ctx: alice }), { _id: 't1', owner: 'alice', public: false, n: 10 });
});

t.test('audit: denied and admin operations, schema changes; a failing hook changes nothing', async (t) => {
  const events: AuditEvent[] = [];
  const { c, db } = await notes(t, events);
  const bob = { auth: { uid: 'bob', claims: { role: 'user' } } };
  const admin = { auth: { uid: 'ops' }, admin: true };
  await caught(() => c.get('n2', { ctx: bob }));
  await caught(() => c.insertOne({ _id: 'z', owner: 'alice', public: true, n: 0 }, { ctx: bob }));
  await c.find({}, { ctx: bob }).toArray(); // filtering is not a denial
  await c.find({}, { ctx: admin }).toArray();
  await c.countDocuments({}, { ctx: admin });
  await c.updateOne({ _id: 'n3' }, { $inc: { n: 1 } }, { ctx: admin });
  await c.deleteOne({ _id: 'n5' }, { ctx: admin });
  await db.setCollectionSecurity('notes', { rules: RULES });
  await db.createCollection('other');
  await db.dropCollection('other');
  const summary = events.map((e) => [e.op, e.outcome, e.id ?? null, e.auth?.uid ?? null, e.admin]);
  t.same(summary, [
    ['read', 'denied', 'n2', 'bob', false],
    ['create', 'denied', 'z', 'bob', false],
    ['list', 'admin', null, 'ops', true],
    ['list', 'admin', null, 'ops', true],
    // The filters of updates and deletes are not audited as queries: each document they change is.
    ['update', 'admin', 'n3', 'ops', true],
    ['delete', 'admin', 'n5', 'ops', true],
    ['setCollectionSecurity', 'admin', null, null, true],
    ['createCollection', 'admin', null, null, true],
    ['dropCollection', 'admin', null, null, true],
  ]);
  t.ok(events.every((e) => e.time instanceof Date && typeof e.collection === 'string'));
  t.match(events[0], { collection: 'notes', reason: /rule "read" evaluated to false/ });

  // A hook that throws or rejects observes only: operations go on, errors go to onAuditError.
  const errors: unknown[] = [];
  let calls = 0;
  const h = await openDb(t, {
    audit: () => {
      calls++;
      if (calls % 2 === 0) return Promise.reject(new Error('async boom'));
      throw new Error('boom');
    },
    onAuditError: (e) => void errors.push(e),
  });
  await h.db.createCollection('a', { rules: { read: 'false', create: 'true' } });
  const a = h.db.collection('a');
  await a.insertOne({ _id: 1 }, { ctx: { auth: null, admin: true } });
  await t.rejects(a.get(1), PermissionDenied);
  t.same(await a.get(1, { ctx: { auth: null, admin: true } }), { _id: 1 });
  await new Promise((r) => setTimeout(r, 10));
  t.equal(calls, 4);
  t.same(errors.map((e) => (e as Error).message).sort(), ['async boom', 'async boom', 'boom', 'boom']);
});

t.test('the embedded app: no context on a collection without rules, admin on one with rules', async (t) => {
  const h = await openDb(t);
  await h.db.createCollection('profiles', {
    rules: { read: 'request.auth != null && resource.data.uid == request.auth.uid' },
  });
  const trusted = { auth: null, admin: true };
  const p: Collection<Document> = h.db.collection('profiles');
  await p.insertOne({ _id: 'p', uid: 'u' }, { ctx: trusted });
  t.same(await p.get('p', { ctx: { auth: { uid: 'u' } } }), { _id: 'p', uid: 'u' });
  await t.rejects(p.get('p'), PermissionDenied, 'no context is anonymous: fail closed');
});

t.test(
  'property: find/count/distinct with rules equal the oracle filter (random documents, callers, queries)',
  async (t) => {
    const stress = process.env.BUNBASE_STRESS === '1';
    const seed = process.env.BUNBASE_SEED === undefined ? undefined : Number(process.env.BUNBASE_SEED);
    const { c } = await notes(t);
    const admin = { auth: null, admin: true };
    const noteArb = fc.record({
      owner: fc.constantFrom('alice', 'bob', 'mo'),
      public: fc.boolean(),
      n: fc.integer({ min: 0, max: 9 }),
      tag: fc.constantFrom('a', 'b', 'c'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(noteArb, { maxLength: 30 }),
        fc.constantFrom(...CALLERS),
        fc.integer({ min: 0, max: 9 }),
        fc.nat({ max: 5 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        async (docs, [who, ctx], min, skip, limit) => {
          await c.deleteMany({}, { ctx: admin });
          const all: Note[] = docs.map((d, i) => ({ _id: `d${String(i).padStart(2, '0')}`, ...d }));
          if (all.length > 0) await c.insertMany(all, { ctx: admin });
          const visible = all.filter((d) => mayRead(ctx, d) && d.n >= min);
          const sorted = visible.slice().sort((a, b) => b.n - a.n || a._id.localeCompare(b._id));
          const want = sorted.slice(skip, limit === undefined ? undefined : skip + limit).map((d) => d._id);
          const o = ctx === undefined ? {} : { ctx };
          const got = (
            await c
              .find(
                { n: { $gte: min } },
                { ...o, sort: { n: -1, _id: 1 }, skip, ...(limit ? { limit } : {}) },
              )
              .toArray()
          ).map((d) => d._id);
          if (JSON.stringify(got) !== JSON.stringify(want))
            throw new Error(`${who}: find ${got} want ${want}`);
          const count = await c.countDocuments({ n: { $gte: min } }, opt(ctx));
          if (count !== visible.length) throw new Error(`${who}: count ${count} want ${visible.length}`);
          const tags = await c.distinct('tag', { n: { $gte: min } }, opt(ctx));
          const wantTags = [...new Set(visible.map((d) => d.tag))].sort();
          if (JSON.stringify(tags) !== JSON.stringify(wantTags)) throw new Error(`${who}: distinct ${tags}`);
        },
      ),
      { numRuns: stress ? 500 : 60, ...(seed ? { seed } : {}) },
    );
    t.pass('find, countDocuments and distinct agree with the oracle');
  },
);

t.test('bad audit and schema-change options are refused', async (t) => {
  const h = await openDb(t);
  await t.rejects(Bundoc.open(`${h.dir}-x`, { audit: 'log' } as never), { code: 'INVALID_ARGUMENT' });
  await t.rejects(Bundoc.open(`${h.dir}-x`, { onAuditError: 1 } as never), { code: 'INVALID_ARGUMENT' });
  await t.rejects(Bundoc.open(`${h.dir}-x`, null as never), { code: 'INVALID_ARGUMENT' });
  await h.db.createCollection('c');
  await refused(
    t,
    h.db,
    'dropCollection option',
    () => h.db.dropCollection('c', { forced: true } as never),
    InvalidOptionError,
  );
  await refused(
    t,
    h.db,
    'dropCollection force type',
    () => h.db.dropCollection('c', { force: 'yes' } as never),
    InvalidOptionError,
  );
  await refused(
    t,
    h.db,
    'transaction option',
    () => h.db.transaction(() => 1, { ctx: undefined, retry: 1 } as never),
    Error,
    {
      code: 'INVALID_ARGUMENT',
    },
  );
});

t.test('rules see Dates as timestamps and request.time as the call time', async (t) => {
  const h = await openDb(t);
  await h.db.createCollection('offers', {
    rules: {
      read: 'resource.data.expiresAt > request.time',
      create: 'request.auth != null && request.auth.claims.since < request.resource.data.expiresAt',
    },
  });
  const c = h.db.collection('offers');
  const hour = 3_600_000;
  const ctx = { auth: { uid: 'u', claims: { since: new Date(Date.now() - hour) } } };
  await c.insertOne({ _id: 'live', expiresAt: new Date(Date.now() + hour) }, { ctx });
  await c.insertOne(
    { _id: 'old', expiresAt: new Date(Date.now() - 2 * hour) },
    { ctx: { auth: null, admin: true } },
  );
  await refused(
    t,
    h.db,
    'claim Date after the document Date',
    () => c.insertOne({ expiresAt: new Date(0) }, { ctx }),
    PermissionDenied,
  );
  t.same(
    (await c.find({}).toArray()).map((d) => d._id),
    ['live'],
  );
  await t.rejects(c.get('old'), PermissionDenied);
});
