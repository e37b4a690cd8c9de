import fc from 'fast-check';
import t, { type Test } from 'tap';
import {
  BulkWriteError,
  type Bundoc,
  type BundocOptions,
  type Collection,
  type DbTransaction,
  type Document,
  DuplicateKeyError,
} from '../src/index.js';
import { compileFilter, compileUpdate, sortDocuments } from '../src/query/index.js';
import { upsertDocument } from '../src/query/upsert.js';
import { indexMismatches, openDb } from './db-security-fixtures.js';

// A model of the whole write path: random sequences of inserts (one, many ordered and unordered),
// updates (one, many, upserts, replacements), deletes, index creations and drops, collection drops,
// transactions over two collections that commit or throw (their writes awaited one by one or started
// together), and close/reopen, run against a database and against plain arrays of documents. The arrays
// apply the query language's own compiled filters and updates (their semantics are checked against mingo
// elsewhere): what is tested here is the database around them — storage, index maintenance, unique
// checks, the planner's choice of index, atomicity of failed writes, savepoints in transactions, drops
// and persistence. After every step each collection must equal its model (contents, and a random query
// through whatever plan the indexes give); at the end every index must hold exactly its documents'
// entries, and a change stream resumed from the start of the log must rebuild both collections.

const RUNS = process.env.BUNBASE_STRESS === '1' ? 1000 : 200;

type Id = number;
interface Model {
  docs: Document[];
  /** Names of the indexes created (by spec label), for drops. */
  indexes: Map<string, string>;
}

/** The indexes a run may create: label → spec and options. `u` is unique, `s` sparse. */
const INDEXES: Record<string, { spec: Record<string, 1 | -1>; unique?: boolean; sparse?: boolean }> = {
  a: { spec: { a: 1 } },
  bc: { spec: { 'b.c': -1 } },
  tags: { spec: { tags: 1 } },
  a_bc: { spec: { a: 1, 'b.c': 1 } },
  u: { spec: { u: 1 }, unique: true },
  us: { spec: { u: 1, s: 1 }, unique: true, sparse: true },
  s: { spec: { s: 1 }, sparse: true },
};

// ---- generators ----

const scalar = fc.oneof(
  fc.integer({ min: -3, max: 6 }),
  fc.constantFrom('x', 'y', 'z', ''),
  fc.constant(null),
  fc.boolean(),
);
const aValue = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) },
);
const tag = fc.constantFrom('t1', 't2', 't3');

const docArb = fc.record(
  {
    _id: fc.integer({ min: 0, max: 24 }),
    a: aValue,
    b: fc.oneof(fc.record({ c: fc.integer({ min: 0, max: 5 }) }, { requiredKeys: [] }), fc.constant(7)),
    tags: fc.array(tag, { maxLength: 3 }),
    u: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constant(null)),
    s: fc.integer({ min: 0, max: 3 }),
    // Long values: LZ4-compressed documents (repetitive) and overflow pages (4 KiB pages, see options).
    pad: fc.oneof(
      fc.integer({ min: 100, max: 3000 }).map((n) => 'ab'.repeat(n)),
      fc.uint8Array({ minLength: 500, maxLength: 3000 }).map((b) => Buffer.from(b).toString('base64')),
    ),
  },
  { requiredKeys: ['_id'] },
);

const filterArb: fc.Arbitrary<Document> = fc.oneof(
  fc.constant({}),
  fc.integer({ min: 0, max: 24 }).map((id) => ({ _id: id })),
  fc.record({ _id: fc.record({ $in: fc.array(fc.integer({ min: 0, max: 24 }), { maxLength: 4 }) }) }),
  scalar.map((v) => ({ a: v })),
  fc.integer({ min: -2, max: 5 }).map((n) => ({ a: { $gte: n } })),
  fc.array(scalar, { maxLength: 3 }).map((vs) => ({ a: { $in: vs } })),
  fc.integer({ min: 0, max: 5 }).map((n) => ({ 'b.c': { $lt: n } })),
  tag.map((x) => ({ tags: x })),
  fc.tuple(scalar, fc.integer({ min: 0, max: 8 })).map(([v, n]) => ({ $or: [{ a: v }, { u: n }] })),
  fc.constant({ u: { $exists: false } }),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5 })).map(([s, c]) => ({
    s,
    'b.c': { $gte: c },
  })),
);

const updateArb: fc.Arbitrary<Document> = fc.oneof(
  aValue.map((v) => ({ $set: { a: v } })),
  fc.constant({ $inc: { 'b.c': 1 } }),
  fc.constant({ $unset: { u: '' } }),
  fc.integer({ min: 0, max: 8 }).map((n) => ({ $set: { u: n } })),
  tag.map((x) => ({ $push: { tags: x } })),
  tag.map((x) => ({ $pull: { tags: x } })),
  fc.integer({ min: 0, max: 3 }).map((n) => ({ $set: { s: n }, $unset: { b: '' } })),
  // a replacement (keeps the _id)
  docArb.map(({ _id, ...rest }) => rest),
);

/** The two collections a sequence writes (transactions span both). */
type Coll = 'm' | 'n';
const COLLS: readonly Coll[] = ['m', 'n'];
const collArb = fc.constantFrom<Coll>(...COLLS);

type Op =
  | { kind: 'insertOne'; coll: Coll; doc: Document }
  | { kind: 'insertMany'; coll: Coll; docs: Document[]; ordered: boolean }
  | { kind: 'update'; coll: Coll; many: boolean; filter: Document; update: Document; upsert: boolean }
  | { kind: 'delete'; coll: Coll; many: boolean; filter: Document }
  | { kind: 'createIndex'; coll: Coll; label: string }
  | { kind: 'dropIndex'; coll: Coll; label: string }
  | { kind: 'dropCollection'; coll: Coll }
  | { kind: 'transaction'; ops: Op[]; fail: boolean; together: boolean }
  | { kind: 'reopen' };

/** `arb`'s ops, each on one of the collections. */
const inColl = (arb: fc.Arbitrary<object>): fc.Arbitrary<Op> =>
  fc.tuple(arb, collArb).map(([o, coll]) => ({ ...o, coll }) as Op);

const writeArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: inColl(docArb.map((doc) => ({ kind: 'insertOne' as const, doc }))) },
  {
    weight: 2,
    arbitrary: inColl(
      fc.record({
        kind: fc.constant('insertMany' as const),
        docs: fc.array(docArb, { maxLength: 6 }),
        ordered: fc.boolean(),
      }),
    ),
  },
  {
    weight: 4,
    arbitrary: inColl(
      fc.record({
        kind: fc.constant('update' as const),
        many: fc.boolean(),
        filter: filterArb,
        update: updateArb,
        upsert: fc.boolean(),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: inColl(
      fc.record({ kind: fc.constant('delete' as const), many: fc.boolean(), filter: filterArb }),
    ),
  },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: writeArb },
  {
    weight: 2,
    arbitrary: inColl(
      fc.constantFrom(...Object.keys(INDEXES)).map((label) => ({ kind: 'createIndex' as const, label })),
    ),
  },
  {
    weight: 1,
    arbitrary: inColl(
      fc.constantFrom(...Object.keys(INDEXES)).map((label) => ({ kind: 'dropIndex' as const, label })),
    ),
  },
  { weight: 1, arbitrary: collArb.map((coll) => ({ kind: 'dropCollection' as const, coll })) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('transaction' as const),
      ops: fc.array(writeArb, { minLength: 1, maxLength: 4 }),
      fail: fc.boolean(),
      together: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

// ---- the model ----

/** _id order: numbers (as given), then generated ids (strings). */
function byId(x: Document, y: Document): number {
  const a = x._id;
  const b = y._id;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}
const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);

/** The unique keys a document has under the model's unique indexes (undefined: not indexed there). */
function uniqueKeys(model: Model, doc: Document): string[] {
  const out: string[] = [];
  for (const label of model.indexes.keys()) {
    const ix = INDEXES[label]!;
    if (!ix.unique) continue;
    const fields = Object.keys(ix.spec);
    if (ix.sparse && fields.every((f) => !(f in doc))) continue;
    out.push(`${label}:${JSON.stringify(fields.map((f) => (f in doc ? doc[f] : null)))}`);
  }
  return out;
}

/** Whether documents violate an index: a duplicate _id or unique key. */
function violates(model: Model, docs: readonly Document[]): boolean {
  const seen = new Set<string>();
  for (const d of docs) {
    for (const k of [`_id:${d._id}`, ...uniqueKeys(model, d)]) {
      if (seen.has(k)) return true;
      seen.add(k);
    }
  }
  return false;
}

class ExpectedRefusal extends Error {}

/** A difference between the database and the model: fails the run (fast-check then shrinks it). */
class Mismatch extends Error {}

function mismatch(what: string, details?: unknown): never {
  throw new Mismatch(details === undefined ? what : `${what}\n${JSON.stringify(details)}`);
}

function refuses(f: () => unknown): boolean {
  try {
    f();
    return false;
  } catch (e) {
    if (e instanceof ExpectedRefusal) return true;
    throw e;
  }
}

/**
 * Applies `op` to the model's documents; returns the new documents, or throws ExpectedRefusal where the
 * database must refuse it and change nothing. `result` is what the database returned (for the document
 * updateOne/deleteOne chose and an upsert's generated _id).
 */
function applyModel(
  model: Model,
  docs: Document[],
  op: Op,
  chosen: Id | undefined,
  upserted: unknown,
  refusedByDb: boolean,
): Document[] {
  switch (op.kind) {
    case 'insertOne': {
      const next = [...docs, structuredClone(op.doc)];
      if (violates(model, next)) throw new ExpectedRefusal();
      return next;
    }
    case 'insertMany': {
      let next = docs;
      for (const d of op.docs) {
        const tried = [...next, structuredClone(d)];
        if (violates(model, tried)) {
          if (op.ordered) throw new ExpectedRefusal();
          continue;
        }
        next = tried;
      }
      return next;
    }
    case 'update': {
      const match = compileFilter(op.filter);
      const compiled = compileUpdate(op.update);
      const one = !op.many || compiled.kind === 'replacement';
      const matched = docs.filter((d) => match(d));
      if (matched.length === 0) {
        if (!op.upsert) return docs;
        let doc: Document;
        try {
          doc = upsertDocument(op.filter, op.update, { now: new Date(0) });
        } catch {
          throw new ExpectedRefusal(); // the update does not apply to the filter's equalities
        }
        // a generated _id comes first, as MongoDB puts it
        if (doc._id === undefined) doc = { _id: upserted, ...doc };
        const next = [...docs, doc];
        if (violates(model, next)) throw new ExpectedRefusal();
        return next;
      }
      const outcome = (targets: readonly Document[]): Document[] => {
        const changed = new Map<unknown, Document>();
        for (const d of targets) {
          try {
            changed.set(d._id, compiled.apply(d));
          } catch {
            throw new ExpectedRefusal(); // e.g. $inc of a non-number, $push onto a non-array
          }
        }
        const next = docs.map((d) => changed.get(d._id) ?? d);
        if (violates(model, next)) throw new ExpectedRefusal();
        return next;
      };
      if (!one || matched.length === 1) return outcome(matched);
      if (chosen !== undefined) return outcome(matched.filter((d) => d._id === chosen));
      // updateOne of several matches changed nothing: a no-op on the one it took, or a refusal, which
      // one of them must then give.
      if (refusedByDb && !matched.some((d) => refuses(() => outcome([d])))) return docs;
      if (refusedByDb) throw new ExpectedRefusal();
      return docs;
    }
    case 'delete': {
      const match = compileFilter(op.filter);
      if (op.many) return docs.filter((d) => !match(d));
      const targets = docs.filter((d) => match(d));
      if (targets.length === 0) return docs;
      const gone = targets.length === 1 ? targets[0]!._id : chosen;
      return docs.filter((d) => d._id !== gone);
    }
    default:
      throw new Error(`not a document write: ${op.kind}`);
  }
}

/** What one document write did to the collection, read from the database: for the model's choices. */
async function runWrite(c: Collection, op: Op): Promise<{ error?: unknown; upserted?: unknown }> {
  try {
    switch (op.kind) {
      case 'insertOne':
        await c.insertOne(structuredClone(op.doc));
        return {};
      case 'insertMany':
        await c.insertMany(structuredClone(op.docs), { ordered: op.ordered });
        return {};
      case 'update': {
        const isReplacement = !Object.keys(op.update).some((k) => k.startsWith('$'));
        const r = isReplacement
          ? await c.replaceOne(op.filter, structuredClone(op.update), { upsert: op.upsert })
          : op.many
            ? await c.updateMany(op.filter, op.update, { upsert: op.upsert })
            : await c.updateOne(op.filter, op.update, { upsert: op.upsert });
        return { upserted: r.upsertedId };
      }
      case 'delete':
        await (op.many ? c.deleteMany(op.filter) : c.deleteOne(op.filter));
        return {};
      default:
        throw new Error(`not a document write: ${op.kind}`);
    }
  } catch (error) {
    return { error };
  }
}

function isRefusal(e: unknown): boolean {
  return (
    e instanceof DuplicateKeyError || (e instanceof Error && (e as { code?: string }).code !== undefined)
  );
}

async function contents(c: Collection): Promise<Document[]> {
  return (await c.find({}).toArray()).sort(byId);
}

/**
 * Runs one document write on the database and the model. updateOne/deleteOne may pick any matching
 * document: the one the database picked is found by comparing before and after.
 */
async function step(
  c: Collection,
  model: Model,
  docs: Document[],
  op: Op,
  where: string,
): Promise<Document[]> {
  const before = await contents(c);
  const { error, upserted } = await runWrite(c, op);
  const after = await contents(c);
  let chosen: Id | undefined;
  if (op.kind === 'update' || op.kind === 'delete') {
    const afterById = new Map(after.map((d) => [d._id, d]));
    const touched = before.filter((d) => !same(d, afterById.get(d._id)));
    if (touched.length === 1) chosen = touched[0]!._id as Id;
  }
  const expected = expect(model, docs, op, chosen, { error, upserted }, where);
  const wanted = [...expected].sort(byId);
  if (!same(after, wanted)) {
    mismatch(`${where}: the collection differs from the model after ${JSON.stringify(op)}`, {
      found: after,
      wanted,
    });
  }
  return wanted;
}

/** Whether a write's effect is the same whatever order a scan finds its documents in. */
function orderFree(op: Op): boolean {
  if (op.kind === 'update') return op.many && Object.keys(op.update).some((k) => k.startsWith('$'));
  if (op.kind === 'delete') return op.many;
  return op.kind === 'insertOne' || op.kind === 'insertMany';
}

/**
 * The documents after `op` by the model, checked against how the database answered: the same refusal
 * (a typed error, nothing written) or acceptance.
 */
function expect(
  model: Model,
  docs: Document[],
  op: Op,
  chosen: Id | undefined,
  { error, upserted }: { error?: unknown; upserted?: unknown },
  where: string,
): Document[] {
  let expected: Document[];
  let refused = false;
  try {
    expected = applyModel(model, docs, op, chosen, upserted, error !== undefined);
  } catch (e) {
    if (!(e instanceof ExpectedRefusal)) throw e;
    expected = docs;
    refused = true;
  }
  // An unordered insertMany that lost some documents reports them with a BulkWriteError.
  const partial = op.kind === 'insertMany' && !op.ordered && error instanceof BulkWriteError;
  if (refused !== (error !== undefined && !partial)) {
    mismatch(`${where}: ${refused ? 'the model refuses' : 'the model accepts'} ${JSON.stringify(op)}`, {
      error: error instanceof Error ? `${error.name}: ${error.message}` : error,
    });
  } else if (error !== undefined && !partial && !isRefusal(error)) {
    mismatch(`${where}: an untyped error for ${JSON.stringify(op)}`, { error: String(error) });
  }
  return expected;
}

/** A query through whatever plan the indexes give, against the model. */
async function compareQuery(c: Collection, docs: Document[], filter: Document, where: string) {
  const match = compileFilter(filter);
  const want = sortDocuments(
    docs.filter((d) => match(d)),
    { a: 1, _id: -1 },
  );
  const found = await c.find(filter, { sort: { a: 1, _id: -1 } }).toArray();
  if (!same(found, want)) mismatch(`${where}: find(${JSON.stringify(filter)}) differs`, { found, want });
  const n = await c.countDocuments(filter);
  if (n !== want.length)
    mismatch(`${where}: countDocuments(${JSON.stringify(filter)}) = ${n}, want ${want.length}`);
}

/**
 * The collection rebuilt from its change stream, resumed from the start of the log: each event must
 * follow from the ones before it (an insert of a new _id, an update or delete of a present one whose
 * pre-image is the version the events built).
 */
async function replayed(db: Bundoc): Promise<Record<Coll, Document[]>> {
  const stream = db.watch({ resumeAfter: 0 });
  // A write after the sequence marks the end of its events (several events may share the last LSN).
  await db.collection('end').insertOne({});
  const colls = new Map<string, Map<unknown, Document>>(COLLS.map((c) => [c, new Map()]));
  try {
    for (;;) {
      const r = await Promise.race([
        stream.next(),
        new Promise<null>((res) => setTimeout(() => res(null), 5000)),
      ]);
      if (r === null || r.done) mismatch('the change stream ended before the sequence did');
      const e = r.value;
      if (e.collection === 'end') break;
      const docs = colls.get(e.collection);
      if (docs === undefined) mismatch(`lsn ${e.lsn}: an event of collection ${e.collection}`);
      const at = `lsn ${e.lsn} (${e.collection})`;
      if (e.op === 'insert' && docs.has(e.id)) mismatch(`${at}: insert of present _id ${e.id}`);
      if (e.op === 'update' || e.op === 'delete') {
        if (!same(e.before, docs.get(e.id)))
          mismatch(`${at}: the pre-image of ${e.op} ${e.id} is not the version it replaced`, e);
      }
      if (e.op === 'delete') docs.delete(e.id);
      else if (e.op === 'drop') docs.clear();
      else docs.set(e.id, e.doc!);
    }
  } finally {
    stream.close();
  }
  const out = {} as Record<Coll, Document[]>;
  for (const c of COLLS) out[c] = [...colls.get(c)!.values()].sort(byId);
  return out;
}

/** Runs one sequence on a fresh database; throws Mismatch at the first difference from the model. */
async function runSequence(
  t: Test,
  ops: readonly Op[],
  queries: readonly Document[],
  tally: Record<string, number>,
): Promise<void> {
  // The whole log is kept, with pre-images: the change stream must replay the sequence (see replayed).
  const options: BundocOptions = { walRetentionBytes: 1 << 30, changeStreamPreImages: true, pageSize: 4096 };
  const handle = await openDb(t, options);
  let db: Bundoc = handle.db;
  const models: Record<Coll, Model> = {
    m: { docs: [], indexes: new Map() },
    n: { docs: [], indexes: new Map() },
  };
  const checkCollection = async (c: Coll, where: string) => {
    const now = await contents(db.collection(c));
    if (!same(now, [...models[c].docs].sort(byId)))
      mismatch(`${where}: collection ${c} differs from the model`, { found: now, wanted: models[c].docs });
  };
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const where = `step ${i}`;
    tally[op.kind] = (tally[op.kind] ?? 0) + 1;
    switch (op.kind) {
      case 'createIndex': {
        const model = models[op.coll];
        const ix = INDEXES[op.label]!;
        const tried: Model = { ...model, indexes: new Map([...model.indexes, [op.label, '']]) };
        try {
          const name = await db.collection(op.coll).createIndex(ix.spec, {
            ...(ix.unique ? { unique: true } : {}),
            ...(ix.sparse ? { sparse: true } : {}),
          });
          if (violates(tried, model.docs))
            mismatch(`${where}: unique index ${op.label} built over duplicates`);
          model.indexes.set(op.label, name);
        } catch (e) {
          if (e instanceof Mismatch) throw e;
          if (!(e instanceof DuplicateKeyError) || !violates(tried, model.docs))
            mismatch(`${where}: createIndex(${op.label}) refused`, { error: String(e) });
          tally.refusedIndexBuilds = (tally.refusedIndexBuilds ?? 0) + 1;
        }
        break;
      }
      case 'dropIndex': {
        const model = models[op.coll];
        const name = model.indexes.get(op.label);
        if (name === undefined) break;
        await db.collection(op.coll).dropIndex(name);
        model.indexes.delete(op.label);
        break;
      }
      case 'dropCollection': {
        await db.dropCollection(op.coll);
        if (db.listCollections().includes(op.coll))
          mismatch(`${where}: ${op.coll} still listed after its drop`);
        models[op.coll] = { docs: [], indexes: new Map() };
        await checkCollection(op.coll, where);
        break;
      }
      case 'reopen':
        db = await handle.reopen(options);
        break;
      case 'transaction': {
        // The model runs the same writes on copies, kept only if the transaction commits (it throws only
        // where asked to: a write it refuses is taken back alone). `together`: the writes are started at
        // once (Promise.all), those whose effect does not depend on the order of reads (no updateOne,
        // replaceOne or deleteOne); each runs to its end when called, so in the order they are started.
        let docs = { m: models.m.docs, n: models.n.docs };
        let committed = true;
        try {
          await db.transaction(async (tx: DbTransaction) => {
            docs = { m: models.m.docs, n: models.n.docs };
            if (!op.together) {
              for (const w of op.ops) {
                const c = (w as { coll: Coll }).coll;
                docs[c] = await step(tx.collection(c), models[c], docs[c], w, `${where} (in a transaction)`);
              }
            } else {
              const writes = op.ops.filter(orderFree);
              const results = await Promise.all(
                writes.map((w) => runWrite(tx.collection((w as { coll: Coll }).coll), w)),
              );
              writes.forEach((w, k) => {
                const c = (w as { coll: Coll }).coll;
                docs[c] = expect(
                  models[c],
                  docs[c],
                  w,
                  undefined,
                  results[k]!,
                  `${where} (started together)`,
                );
              });
              for (const c of COLLS) {
                const inside = await contents(tx.collection(c));
                if (!same(inside, [...docs[c]].sort(byId)))
                  mismatch(`${where}: writes started together differ from the model in ${c}`, {
                    found: inside,
                    wanted: docs[c],
                  });
              }
            }
            if (op.fail) throw new Error('rolled back');
          });
        } catch (e) {
          if (e instanceof Mismatch) throw e;
          if (!op.fail || (e as Error).message !== 'rolled back')
            mismatch(`${where}: the transaction failed`, { error: String(e) });
          committed = false;
        }
        if (committed) for (const c of COLLS) models[c].docs = docs[c];
        for (const c of COLLS) await checkCollection(c, `${where}: after a transaction (fail: ${op.fail})`);
        break;
      }
      default:
        models[op.coll].docs = await step(
          db.collection(op.coll),
          models[op.coll],
          models[op.coll].docs,
          op,
          where,
        );
    }
    for (const c of COLLS)
      await compareQuery(db.collection(c), models[c].docs, queries[i % queries.length]!, `${where} (${c})`);
  }
  const bad = indexMismatches(db);
  if (bad.length > 0) mismatch(`after ${ops.length} steps, indexes differ from their documents: ${bad}`);
  const rebuilt = await replayed(db);
  for (const c of COLLS)
    if (!same(rebuilt[c], [...models[c].docs].sort(byId)))
      mismatch(`after ${ops.length} steps, the change stream does not rebuild collection ${c}`, {
        rebuilt: rebuilt[c],
        wanted: models[c].docs,
      });
  tally.steps = (tally.steps ?? 0) + ops.length;
}

t.test('random write sequences agree with a model of the collections', async (t) => {
  const tally: Record<string, number> = {};
  const seed = Number(process.env.BUNBASE_SEED ?? 20261201);
  const out = await fc.check(
    fc.asyncProperty(
      fc.array(opArb, { minLength: 5, maxLength: 60, size: 'max' }),
      fc.array(filterArb, { minLength: 60, maxLength: 60 }),
      (ops, queries) => runSequence(t, ops, queries, tally),
    ),
    { numRuns: RUNS, seed },
  );
  if (out.failed) {
    t.fail(`seed ${seed}: ${String(out.errorInstance)}`, {
      counterexample: JSON.stringify(out.counterexample),
    });
  } else t.pass(`${out.numRuns} sequences agree with the model`);
  t.comment(JSON.stringify(tally));
});
