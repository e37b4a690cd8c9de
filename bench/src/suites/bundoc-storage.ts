import { join } from 'node:path';
import { Storage } from '@bunbase/bundoc/storage';
import Database from 'better-sqlite3';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { seededRandom, shuffledIndexes } from '../rng.js';
import { defineSuite, type RunContext, type Subject } from '../suite.js';

// Ordered key-value workloads of issue 3: 16-byte keys, 100-byte values, durable commits everywhere
// (bundoc durability "full", LMDB default sync, SQLite WAL with synchronous=FULL).

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const BATCH = 1000;
const TREE = 'kv';

function sizes(ctx: RunContext) {
  return { keys: ctx.quick ? 20_000 : 1_000_000 };
}

function keyOf(n: number): Buffer {
  const k = Buffer.alloc(KEY_BYTES, 0x30);
  k.write(n.toString(16).padStart(KEY_BYTES, '0'), 0, 'latin1');
  return k;
}

const value = Buffer.alloc(VALUE_BYTES, 0x61);

/** A store of one system, behind the few operations the workloads need. */
interface KvHandle {
  putBatch(keys: readonly Buffer[]): Promise<void>;
  putOne(key: Buffer): Promise<void>;
  get(key: Buffer): Buffer | undefined;
  scan(from: Buffer, limit: number): number;
  close(): Promise<void>;
}

async function openBundoc(dir: string): Promise<KvHandle> {
  const st = await Storage.open(dir, { durability: 'full' });
  return {
    async putBatch(keys) {
      const tx = st.begin();
      for (const k of keys) tx.put(TREE, k, value);
      await tx.commit();
    },
    async putOne(key) {
      const tx = st.begin();
      tx.put(TREE, key, value);
      await tx.commit();
    },
    get(key) {
      const tx = st.begin({ readOnly: true });
      try {
        const v = tx.get(TREE, key);
        return v === undefined ? undefined : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      } finally {
        tx.abort();
      }
    },
    scan(from, limit) {
      const tx = st.begin({ readOnly: true });
      let n = 0;
      try {
        for (const _ of tx.range(TREE, { gte: from, limit })) n++;
      } finally {
        tx.abort();
      }
      return n;
    },
    close: () => st.close(),
  };
}

function openLmdbStore(dir: string): Promise<KvHandle> {
  const db: RootDatabase<Buffer, Buffer> = openLmdb({
    path: join(dir, 'lmdb'),
    keyEncoding: 'binary',
    encoding: 'binary',
    compression: false,
  });
  return Promise.resolve({
    async putBatch(keys) {
      await db.transaction(() => {
        for (const k of keys) db.put(k, value);
      });
    },
    async putOne(key) {
      await db.put(key, value);
    },
    get: (key) => db.getBinary(key) as Buffer | undefined,
    scan(from, limit) {
      let n = 0;
      for (const _ of db.getRange({ start: from, limit })) n++;
      return n;
    },
    close: () => db.close(),
  });
}

function openSqlite(dir: string): Promise<KvHandle> {
  const db = new Database(join(dir, 'kv.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
  const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  const get = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
  const scan = db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw();
  const putMany = db.transaction((keys: readonly Buffer[]) => {
    for (const k of keys) put.run(k, value);
  });
  return Promise.resolve({
    async putBatch(keys) {
      putMany(keys);
    },
    async putOne(key) {
      put.run(key, value);
    },
    get: (key) => get.get(key) as Buffer | undefined,
    scan(from, limit) {
      let n = 0;
      for (const _ of scan.iterate(from, limit)) n++;
      return n;
    },
    async close() {
      db.close();
    },
  });
}

const systems: Record<string, (dir: string) => Promise<KvHandle>> = {
  bunbase: openBundoc,
  lmdb: openLmdbStore,
  'better-sqlite3': openSqlite,
};

/** Loaded stores, shared by the read workloads after the bulk load has measured filling them. */
const loaded = new Map<string, { handle: KvHandle; keys: number }>();

async function loadedStore(system: string, ctx: RunContext): Promise<{ handle: KvHandle; keys: number }> {
  const have = loaded.get(system);
  if (have) return have;
  const handle = await systems[system]!(ctx.tmpDir(`${system}-loaded`));
  const { keys } = sizes(ctx);
  const order = shuffledIndexes(keys, seededRandom(1));
  for (let i = 0; i < keys; i += BATCH) {
    await handle.putBatch(Array.from(order.subarray(i, Math.min(keys, i + BATCH)), keyOf));
  }
  const entry = { handle, keys };
  loaded.set(system, entry);
  return entry;
}

function subjects(make: (system: string) => Omit<Subject, 'system'>): Subject[] {
  return Object.keys(systems).map((system) => ({ system, ...make(system) }));
}

export default defineSuite({
  name: 'bundoc-storage',
  description: 'ordered KV: bundoc storage vs lmdb and better-sqlite3 (16 B keys, 100 B values, durable)',
  workloads: [
    {
      name: 'bulk put in batches of 1000',
      opsPerCall: BATCH,
      subjects: subjects((system) => ({
        async measure(_state, ctx) {
          const start = performance.now();
          const { keys } = await loadedStore(system, ctx);
          const seconds = (performance.now() - start) / 1000;
          return { opsPerSec: keys / seconds, ops: keys };
        },
      })),
    },
    {
      name: 'random get',
      subjects: subjects((system) => ({
        async setup(ctx: RunContext) {
          const { handle, keys } = await loadedStore(system, ctx);
          return { handle, order: shuffledIndexes(keys, seededRandom(2)), keys };
        },
        op(s: { handle: KvHandle; order: Uint32Array; keys: number }, i: number) {
          if (s.handle.get(keyOf(s.order[i % s.keys]!)) === undefined) throw new Error('missing key');
        },
      })),
    },
    {
      name: 'range scan of 1000',
      opsPerCall: 1,
      subjects: subjects((system) => ({
        async setup(ctx: RunContext) {
          const { handle, keys } = await loadedStore(system, ctx);
          return { handle, random: seededRandom(3), keys };
        },
        op(s: { handle: KvHandle; random: () => number; keys: number }) {
          const from = keyOf(Math.floor(s.random() * (s.keys - 1000)));
          if (s.handle.scan(from, 1000) !== 1000) throw new Error('short scan');
        },
      })),
    },
    ...[1, 64].map((writers) => ({
      name: `durable single-put commits, ${writers} writer${writers > 1 ? 's' : ''}`,
      concurrency: writers,
      subjects: subjects((system) => ({
        async setup(ctx: RunContext) {
          return systems[system]!(ctx.tmpDir(`${system}-durable-${writers}`));
        },
        op: (h: KvHandle, i: number) => h.putOne(keyOf(i)),
        teardown: async (h: KvHandle) => {
          await h?.close();
          if (writers === 64) {
            for (const { handle } of loaded.values()) await handle.close();
            loaded.clear();
          }
        },
      })),
    })),
  ],
});
