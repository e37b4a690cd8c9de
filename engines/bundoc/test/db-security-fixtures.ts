// Shared by the db-security-*.test.ts files: databases in real temporary directories, byte-for-byte
// dumps of every tree, and an index integrity check.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { docTree, readAll } from '../src/db/catalog.js';
import { IndexKeyer } from '../src/db/index-keys.js';
import { decodeDocument } from '../src/document/codec.js';
import { Bundoc, type BundocOptions } from '../src/index.js';

export interface TestDb {
  db: Bundoc;
  dir: string;
  /** Closes the database and opens it again from the same directory. */
  reopen(options?: BundocOptions): Promise<Bundoc>;
}

export async function openDb(t: Test, options: BundocOptions = {}): Promise<TestDb> {
  const root = await mkdtemp(path.join(tmpdir(), 'bundoc-sec-'));
  const dir = path.join(root, 'db');
  const handle: TestDb = {
    db: await Bundoc.open(dir, { durability: 'off', ...options }),
    dir,
    async reopen(again: BundocOptions = {}) {
      await handle.db.close();
      handle.db = await Bundoc.open(dir, { durability: 'off', ...again });
      return handle.db;
    },
  };
  t.teardown(async () => {
    await handle.db.close();
    await rm(root, { recursive: true, force: true });
  });
  return handle;
}

/** Every tree of the store, key → value, as hex. */
export function dump(db: Bundoc): Record<string, Record<string, string>> {
  const tx = db.storage.begin({ readOnly: true });
  try {
    const out: Record<string, Record<string, string>> = {};
    for (const tree of db.storage.trees().sort()) {
      const entries: Record<string, string> = {};
      for (const [k, v] of tx.range(tree))
        entries[Buffer.from(k).toString('hex')] = Buffer.from(v).toString('hex');
      out[tree] = entries;
    }
    return out;
  } finally {
    tx.abort();
  }
}

/** Each secondary index's entries as they are and as its collection's documents imply them. */
function indexContents(db: Bundoc): Array<{ name: string; have: string[]; want: string[] }> {
  const tx = db.storage.begin({ readOnly: true });
  try {
    const out: Array<{ name: string; have: string[]; want: string[] }> = [];
    for (const meta of readAll(tx)) {
      for (const ix of meta.indexes) {
        const keyer = new IndexKeyer(ix, db.storage.maxKey);
        const want = new Map<string, string>();
        for (const [key, bytes] of tx.range(docTree(meta))) {
          const e = keyer.entries(decodeDocument(bytes), key);
          for (const k of e?.keys ?? [])
            want.set(Buffer.from(k).toString('hex'), Buffer.from(key).toString('hex'));
        }
        const have = new Map<string, string>();
        for (const [k, v] of tx.range(keyer.tree))
          have.set(Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex'));
        const entries = (m: Map<string, string>) => [...m].map(([k, v]) => `${k}=${v}`).sort();
        out.push({ name: `${meta.name}.${ix.name}`, have: entries(have), want: entries(want) });
      }
    }
    return out;
  } finally {
    tx.abort();
  }
}

/**
 * Checks that every secondary index holds exactly the entries its collection's documents imply (no
 * stale entry of a deleted or updated document, none missing).
 */
export function checkIndexes(t: Test, db: Bundoc, what: string): void {
  for (const { name, have, want } of indexContents(db))
    t.same(have, want, `${what}: index ${name} matches the documents`);
}

/** The names of the secondary indexes whose entries differ from what their documents imply. */
export function indexMismatches(db: Bundoc): string[] {
  return indexContents(db)
    .filter(({ have, want }) => have.join() !== want.join())
    .map(({ name }) => name);
}

/** Runs `op` and returns what it threw (undefined: it did not). */
export async function caught(op: () => unknown): Promise<unknown> {
  try {
    await op();
    return undefined;
  } catch (e) {
    return e;
  }
}

/**
 * Runs `op`, expects an error of class `type` (and `props`), and checks that the store is unchanged
 * byte for byte and the collections are the same.
 */
export async function refused(
  t: Test,
  db: Bundoc,
  what: string,
  op: () => unknown,
  type: new (...args: never[]) => Error,
  props: Record<string, unknown> = {},
): Promise<Error | undefined> {
  const before = dump(db);
  const collections = db.listCollections();
  const error = await caught(op);
  if (!(error instanceof type)) {
    t.fail(`${what}: expected ${type.name}, got ${error === undefined ? 'success' : String(error)}`);
    return undefined;
  }
  t.match(error, props, `${what}: ${error.message.slice(0, 200)}`);
  t.same(dump(db), before, `${what}: store unchanged byte for byte`);
  t.same(db.listCollections(), collections, `${what}: no collection created or dropped`);
  return error;
}
