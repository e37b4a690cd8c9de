import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Bundoc, type Collection } from '@bunbase/bundoc';
import Database from 'better-sqlite3';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import Loki from 'lokijs';
import type { ReferenceDoc } from '../data.js';

// The document stores of the bundoc-docs suite, each as an app would use it: bundoc with durability
// "full", SQLite as JSON text with an expression index (WAL, synchronous=FULL), LMDB with msgpack values
// and a dupsort index, NeDB (appends without fsync) and LokiJS (in memory). Shared by the suite and by
// its child processes (memory, crash recovery).

// NeDB is CommonJS with `export default` typings that NodeNext cannot see through: load it by require.
const Datastore: typeof import('@seald-io/nedb').default = createRequire(import.meta.url)('@seald-io/nedb');

/** One system's document store, behind the operations the workloads need. Reads return parsed docs. */
export interface DocStore {
  insertBatch(docs: readonly ReferenceDoc[]): Promise<void>;
  insertOne(doc: ReferenceDoc): Promise<void>;
  get(id: string): Promise<unknown>;
  /** Documents with `age === age`, at most `limit`. */
  byAge(age: number, limit: number): Promise<unknown[]>;
  /** How many documents have `age === age` (through the index on age). */
  countByAge(age: number): Promise<number>;
  /** Every document whose address.city equals `city` (no index). */
  byCity(city: string): Promise<unknown[]>;
  /** Adds 1 to `score` of one document, durably, in its own commit. */
  bumpScore(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface System {
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
    countByAge: (age) => users.countDocuments({ age }),
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
  const countByAge = db.prepare("SELECT count(*) FROM docs WHERE json_extract(doc, '$.age') = ?").pluck();
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
    countByAge: async (age) => countByAge.get(age) as number,
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
    async countByAge(age) {
      return ages.getValuesCount(age);
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
    countByAge: (age) => db.countAsync({ age }),
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
    countByAge: async (age) => users.count({ age }),
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

export const docSystems: Record<string, System> = {
  bunbase: { open: openBundoc, durable: true },
  'better-sqlite3': { open: openSqlite, durable: true },
  lmdb: { open: openLmdbStore, durable: true },
  '@seald-io/nedb (no fsync)': { open: openNedb, durable: false },
  'lokijs (in memory)': { open: () => openLoki(), durable: false },
};

/** Bytes of every file under `dir` (file sizes, as `ls` shows them). */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    total += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return total;
}
