import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Bundoc, type Collection } from '@bunbase/bundoc';
import Database from 'better-sqlite3';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import Loki from 'lokijs';
import { type ReferenceDoc, referenceDocs } from '../data.js';
import { seededRandom } from '../rng.js';
import { defineSuite, type RunContext, type Subject } from '../suite.js';

// The document workloads of the bundoc spec (§4): 100k reference documents, an index on `age`, durable
// commits wherever the system offers them (bundoc "full", SQLite WAL + synchronous=FULL, LMDB's default
// sync). NeDB appends to its file without fsync and LokiJS is in memory: they take part in the read
// workloads and the bulk load (labelled), not in the durable-write ones, where they would not be peers.

const BATCH = 1000;
// NeDB is CommonJS with `export default` typings that NodeNext cannot see through: load it by require.
const Datastore: typeof import('@seald-io/nedb').default = createRequire(import.meta.url)('@seald-io/nedb');
const CITIES = ['Paris', 'Oslo', 'Rome'];

function docCount(ctx: RunContext): number {
  return ctx.quick ? 5_000 : 100_000;
}

/** One system's document store, behind the operations the workloads need. Reads return parsed docs. */
interface DocStore {
  insertBatch(docs: readonly ReferenceDoc[]): Promise<void>;
  insertOne(doc: ReferenceDoc): Promise<void>;
  get(id: string): Promise<unknown>;
  /** Documents with `age === age`, at most `limit`. */
  byAge(age: number, limit: number): Promise<unknown[]>;
  /** Every document whose address.city equals `city` (no index). */
  byCity(city: string): Promise<unknown[]>;
  /** Adds 1 to `score` of one document, durably, in its own commit. */
  bumpScore(id: string): Promise<void>;
  close(): Promise<void>;
}

interface System {
  open(dir: string): Promise<DocStore>;
  /** Takes part in the durable-write workloads. */
  durable: boolean;
}

async function openBundoc(dir: string): Promise<DocStore> {
  const db = await Bundoc.open(dir, { durability: 'full' });
  const users: Collection<ReferenceDoc> = db.collection<ReferenceDoc>('users');
  await users.createIndex({ age: 1 });
  return {
    async insertBatch(docs) {
      await users.insertMany(docs as ReferenceDoc[]);
    },
    async insertOne(doc) {
      await users.insertOne({ ...doc });
    },
    get: (id) => users.get(id),
    byAge: (age, limit) => users.find({ age }, { limit }).toArray(),
    byCity: (city) => users.find({ 'address.city': city }).toArray(),
    async bumpScore(id) {
      await users.updateOne({ _id: id }, { $inc: { score: 1 } });
    },
    close: () => db.close(),
  };
}

async function openSqlite(dir: string): Promise<DocStore> {
  const db = new Database(join(dir, 'docs.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
           CREATE INDEX IF NOT EXISTS docs_age ON docs (json_extract(doc, '$.age'));`);
  const insert = db.prepare('INSERT INTO docs (id, doc) VALUES (?, ?)');
  const get = db.prepare('SELECT doc FROM docs WHERE id = ?').pluck();
  const byAge = db.prepare("SELECT doc FROM docs WHERE json_extract(doc, '$.age') = ? LIMIT ?").pluck();
  const byCity = db.prepare("SELECT doc FROM docs WHERE json_extract(doc, '$.address.city') = ?").pluck();
  const bump = db.prepare(
    "UPDATE docs SET doc = json_set(doc, '$.score', json_extract(doc, '$.score') + 1) WHERE id = ?",
  );
  const insertMany = db.transaction((docs: readonly ReferenceDoc[]) => {
    for (const d of docs) insert.run(d._id, JSON.stringify(d));
  });
  const parseAll = (rows: unknown[]) => rows.map((r) => JSON.parse(r as string));
  return {
    async insertBatch(docs) {
      insertMany(docs);
    },
    async insertOne(doc) {
      insert.run(doc._id, JSON.stringify(doc));
    },
    async get(id) {
      const row = get.get(id) as string | undefined;
      return row === undefined ? null : JSON.parse(row);
    },
    byAge: async (age, limit) => parseAll(byAge.all(age, limit)),
    byCity: async (city) => parseAll(byCity.all(city)),
    async bumpScore(id) {
      bump.run(id);
    },
    async close() {
      db.close();
    },
  };
}

/** LMDB as an app would use it for documents: msgpack values by _id, and a dupsort index age → _id. */
async function openLmdbStore(dir: string): Promise<DocStore> {
  const root: RootDatabase = openLmdb({ path: join(dir, 'lmdb') });
  const docs = root.openDB<ReferenceDoc, string>({ name: 'docs' });
  const ages = root.openDB<string, number>({ name: 'age', dupSort: true, encoding: 'string' });
  const put = (d: ReferenceDoc) => {
    docs.put(d._id, d);
    ages.put(d.age, d._id);
  };
  return {
    async insertBatch(batch) {
      await root.transaction(() => batch.forEach(put));
    },
    async insertOne(doc) {
      await root.transaction(() => put(doc));
    },
    async get(id) {
      return docs.get(id) ?? null;
    },
    async byAge(age, limit) {
      const out: unknown[] = [];
      for (const id of ages.getValues(age, { limit })) out.push(docs.get(id));
      return out;
    },
    async byCity(city) {
      const out: unknown[] = [];
      for (const { value } of docs.getRange()) if (value.address.city === city) out.push(value);
      return out;
    },
    async bumpScore(id) {
      await root.transaction(() => {
        const d = docs.get(id)!;
        docs.put(id, { ...d, score: d.score + 1 });
      });
    },
    async close() {
      await root.close();
    },
  };
}

async function openNedb(dir: string): Promise<DocStore> {
  const db = new Datastore<ReferenceDoc>({ filename: join(dir, 'users.nedb') });
  await db.loadDatabaseAsync();
  await db.ensureIndexAsync({ fieldName: 'age' });
  return {
    async insertBatch(docs) {
      await db.insertAsync(docs as ReferenceDoc[]);
    },
    async insertOne(doc) {
      await db.insertAsync(doc);
    },
    get: (id) => db.findOneAsync({ _id: id }),
    byAge: (age, limit) => db.findAsync({ age }).limit(limit).execAsync(),
    byCity: (city) => db.findAsync({ 'address.city': city }),
    async bumpScore(id) {
      await db.updateAsync({ _id: id }, { $inc: { score: 1 } });
    },
    async close() {
      await db.compactDatafileAsync();
    },
  };
}

async function openLoki(): Promise<DocStore> {
  const db = new Loki('bench.db');
  const users = db.addCollection<ReferenceDoc>('users', { indices: ['age'], unique: ['_id'] });
  // Loki stores and returns its own objects with $loki/meta fields; insert copies, as an app would.
  return {
    async insertBatch(docs) {
      users.insert(docs.map((d) => ({ ...d })));
    },
    async insertOne(doc) {
      users.insert({ ...doc });
    },
    async get(id) {
      return users.by('_id', id) ?? null;
    },
    byAge: async (age, limit) => users.chain().find({ age }).limit(limit).data(),
    byCity: async (city) => users.find({ 'address.city': city } as never),
    async bumpScore(id) {
      const d = users.by('_id', id)!;
      d.score += 1;
      users.update(d);
    },
    async close() {
      db.close();
    },
  };
}

const systems: Record<string, System> = {
  bunbase: { open: openBundoc, durable: true },
  'better-sqlite3': { open: openSqlite, durable: true },
  lmdb: { open: openLmdbStore, durable: true },
  '@seald-io/nedb (no fsync)': { open: openNedb, durable: false },
  'lokijs (in memory)': { open: () => openLoki(), durable: false },
};

interface Loaded {
  store: DocStore;
  dir: string;
  docs: ReferenceDoc[];
  /** Time of the insert loop alone (not opening the store or generating the documents). */
  loadMs: number;
  ageCounts: Map<number, number>;
}

/** Loaded stores, shared by the read workloads after the bulk load has measured filling them. */
const loaded = new Map<string, Loaded>();

async function loadedStore(system: string, ctx: RunContext): Promise<Loaded> {
  const have = loaded.get(system);
  if (have) return have;
  const dir = ctx.tmpDir(`docs-${system.split(' ')[0]!.replace(/[^a-z0-9-]/gi, '')}`);
  const store = await systems[system]!.open(dir);
  const docs = referenceDocs(docCount(ctx));
  const batches: ReferenceDoc[][] = [];
  for (let i = 0; i < docs.length; i += BATCH) batches.push(docs.slice(i, i + BATCH));
  const start = performance.now();
  for (const batch of batches) await store.insertBatch(batch);
  const loadMs = performance.now() - start;
  const ageCounts = new Map<number, number>();
  for (const d of docs) ageCounts.set(d.age, (ageCounts.get(d.age) ?? 0) + 1);
  const entry = { store, dir, docs, loadMs, ageCounts };
  loaded.set(system, entry);
  return entry;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    total += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return total;
}

function subjects(
  make: (system: string) => Omit<Subject, 'system'>,
  filter: (s: System) => boolean = () => true,
): Subject[] {
  return Object.entries(systems)
    .filter(([, s]) => filter(s))
    .map(([system]) => ({ system, ...make(system) }));
}

type ReadState = { loaded: Loaded; random: () => number };

const readSetup = (system: string, seed: number) => async (ctx: RunContext) => ({
  loaded: await loadedStore(system, ctx),
  random: seededRandom(seed),
});

/** Closes one system's loaded store after the last workload that reads it. */
async function release(system: string): Promise<void> {
  const l = loaded.get(system);
  loaded.delete(system);
  await l?.store.close();
}

export default defineSuite({
  name: 'bundoc-docs',
  description:
    'documents: bundoc vs better-sqlite3 (JSON + expression index), lmdb, NeDB, LokiJS (reference docs, index on age)',
  workloads: [
    {
      name: 'bulk insert, 1000 docs per transaction, index on age',
      opsPerCall: BATCH,
      subjects: subjects((system) => ({
        // Only the inserts are timed: opening the store and generating the documents (the same work for
        // every system: 0.3-1.3 s for 100k documents on the 2-core bench box) used to be included, which
        // shrank the differences between systems.
        async measure(_state, ctx) {
          const { docs, loadMs } = await loadedStore(system, ctx);
          return { opsPerSec: docs.length / (loadMs / 1000), ops: docs.length };
        },
      })),
    },
    {
      name: 'point get by _id, random',
      subjects: subjects((system) => ({
        setup: readSetup(system, 2),
        async op(s: ReadState) {
          const d = s.loaded.docs[Math.floor(s.random() * s.loaded.docs.length)]!;
          if ((await s.loaded.store.get(d._id)) === null) throw new Error(`missing ${d._id}`);
        },
      })),
    },
    {
      name: 'indexed equality query returning 100 docs',
      subjects: subjects((system) => ({
        setup: readSetup(system, 3),
        async op(s: ReadState) {
          const age = 18 + Math.floor(s.random() * 70);
          const got = await s.loaded.store.byAge(age, 100);
          // quick mode has fewer than 100 documents of some ages
          const expected = Math.min(100, s.loaded.ageCounts.get(age) ?? 0);
          if (got.length !== expected)
            throw new Error(`age ${age}: ${got.length} docs, expected ${expected}`);
        },
      })),
    },
    {
      name: 'unindexed filter over all docs (address.city)',
      subjects: subjects((system) => ({
        setup: readSetup(system, 4),
        async op(s: ReadState) {
          const city = CITIES[Math.floor(s.random() * CITIES.length)]!;
          const got = await s.loaded.store.byCity(city);
          if (got.length === 0) throw new Error(`no doc in ${city}`);
        },
        // the in-memory and non-durable peers are done after this workload
        teardown: systems[system]!.durable ? undefined : () => release(system),
      })),
    },
    {
      name: 'bytes on disk per document',
      lowerIsBetter: true,
      subjects: subjects(
        (system) => ({
          async measure(_state, ctx) {
            const { dir, docs } = await loadedStore(system, ctx);
            return { value: Math.round(dirBytes(dir) / docs.length), unit: 'B/doc' };
          },
        }),
        // NeDB's file is the only other on-disk peer that is not a database file with free space
        (s) => s.durable,
      ),
    },
    {
      name: 'durable update, one per commit, one writer',
      subjects: subjects(
        (system) => ({
          setup: readSetup(system, 5),
          op: (s: ReadState) =>
            s.loaded.store.bumpScore(s.loaded.docs[Math.floor(s.random() * s.loaded.docs.length)]!._id),
          teardown: () => release(system),
        }),
        (s) => s.durable,
      ),
    },
    {
      name: 'durable inserts, 64 concurrent writers',
      concurrency: 64,
      subjects: subjects(
        (system) => ({
          async setup(ctx: RunContext) {
            const store = await systems[system]!.open(
              ctx.tmpDir(`docs-ins-${system.replace(/[^a-z0-9]/gi, '')}`),
            );
            return { store, docs: referenceDocs(ctx.quick ? 20_000 : 200_000, 7) };
          },
          op: (s: { store: DocStore; docs: ReferenceDoc[] }, i: number) => {
            const d = s.docs[i % s.docs.length]!;
            return s.store.insertOne({ ...d, _id: `w${i}` });
          },
          teardown: (s: { store: DocStore }) => s.store.close(),
        }),
        (s) => s.durable,
      ),
    },
    {
      name: 'cold open of a loaded database + first read',
      lowerIsBetter: true,
      subjects: subjects(
        (system) => ({
          async setup(ctx: RunContext) {
            const dir = ctx.tmpDir(`docs-cold-${system.replace(/[^a-z0-9]/gi, '')}`);
            const store = await systems[system]!.open(dir);
            const docs = referenceDocs(docCount(ctx), 9);
            for (let i = 0; i < docs.length; i += BATCH) await store.insertBatch(docs.slice(i, i + BATCH));
            await store.close();
            return { dir, id: docs[docs.length >> 1]!._id };
          },
          async measure(s: { dir: string; id: string }) {
            const start = performance.now();
            const store = await systems[system]!.open(s.dir);
            const got = await store.get(s.id);
            const ms = performance.now() - start;
            await store.close();
            if (got === null) throw new Error('cold open lost a document');
            return { value: Math.round(ms * 10) / 10, unit: 'ms' };
          },
        }),
        (s) => s.durable,
      ),
    },
  ],
});
