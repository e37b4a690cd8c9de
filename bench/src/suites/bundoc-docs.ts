import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ReferenceDoc, referenceDocs } from '../data.js';
import { type DocStore, dirBytes, docSystems, type System } from '../drivers/doc-stores.js';
import { seededRandom } from '../rng.js';
import { defineSuite, type RunContext, type Subject } from '../suite.js';

// The document workloads of the bundoc spec (§4): 100k reference documents, an index on `age`, durable
// commits wherever the system offers them (bundoc "full", SQLite WAL + synchronous=FULL, LMDB's default
// sync). NeDB appends to its file without fsync and LokiJS is in memory: they take part in the read
// workloads and the bulk load (labelled), not in the durable-write ones, where they would not be peers.

const BATCH = 1000;
const CITIES = ['Paris', 'Oslo', 'Rome'];

function docCount(ctx: RunContext): number {
  return ctx.quick ? 5_000 : 100_000;
}

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
  const store = await docSystems[system]!.open(dir);
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

interface BigDatabase {
  dir: string;
  docs: number;
  bytes: number;
  /** A document from the middle of the load. */
  probe: string;
}

/**
 * Documents of the big database: 1 GiB of reference documents in bundoc and SQLite (~280-310 B each on
 * disk), LMDB a little less; quick mode 60k.
 */
const bigDocs = (ctx: RunContext) => (ctx.quick ? 60_000 : 3_800_000);

/** One system's big database, built once in a child process. */
const big = new Map<string, BigDatabase>();

async function bigDatabase(system: string, ctx: RunContext): Promise<BigDatabase> {
  const have = big.get(system);
  if (have) return have;
  const dir = ctx.tmpDir(`docs-big-${slug(system)}`);
  const docs = bigDocs(ctx);
  const out = await inChild('build', system, dir, docs);
  const made = { dir, docs, bytes: Number(out.bytes), probe: referenceDocs(1, 1, docs >> 1)[0]!._id };
  big.set(system, made);
  return made;
}

/**
 * Milliseconds to open the store at `dir` and read `ids` (each must be there), in a fresh process (as an
 * app starts): the bench process's own heap and history made single samples swing 12-60 ms.
 */
async function openAndRead(system: string, dir: string, ids: readonly string[]): Promise<number> {
  const out = await inChild('open', system, dir, ids.join(','));
  const lost = out.lost as string[];
  if (lost.length > 0) throw new Error(`the open lost acknowledged document(s) ${lost.join(', ')}`);
  return Math.round(Number(out.ms) * 10) / 10;
}

/** The median of `n` runs. */
async function median(n: number, run: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await run());
  return xs.sort((a, b) => a - b)[n >> 1]!;
}

const childScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'drivers', 'doc-store-child.js');

/** Runs a task of doc-store-child.js and returns its JSON line. `tail` ends killed by SIGKILL. */
function inChild(
  task: string,
  system: string,
  dir: string,
  arg: number | string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [childScript, task, system, dir, String(arg)],
      { maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const ok = task === 'tail' ? err?.signal === 'SIGKILL' : err === null;
        const line = stdout.trim().split('\n').pop() ?? '';
        if (!ok || !line.startsWith('{')) {
          reject(new Error(`${task} ${system}: ${err?.message ?? 'no result'} ${stderr.trim()}`));
        } else resolve(JSON.parse(line) as Record<string, unknown>);
      },
    );
  });
}

const slug = (system: string) => system.replace(/[^a-z0-9]/gi, '');
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function subjects(
  make: (system: string) => Omit<Subject, 'system'>,
  filter: (s: System) => boolean = () => true,
): Subject[] {
  return Object.entries(docSystems)
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
      // Not a workload of the spec: countDocuments answered from the index's keys (covered.ts).
      name: 'count by indexed equality (one age)',
      subjects: subjects((system) => ({
        setup: readSetup(system, 6),
        async op(s: ReadState) {
          const age = 18 + Math.floor(s.random() * 70);
          const n = await s.loaded.store.countByAge(age);
          if (n !== (s.loaded.ageCounts.get(age) ?? 0)) throw new Error(`age ${age}: counted ${n}`);
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
        teardown: docSystems[system]!.durable ? undefined : () => release(system),
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
            const store = await docSystems[system]!.open(
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
      name: 'peak RSS growth, own process: load the docs, read each once',
      lowerIsBetter: true,
      subjects: subjects((system) => ({
        async measure(_state, ctx) {
          const dir = ctx.tmpDir(`docs-mem-${slug(system)}`);
          const out = await inChild('memory', system, dir, docCount(ctx));
          return { value: Math.round(Number(out.peakGrowth) / 2 ** 20), unit: 'MB' };
        },
      })),
    },
    {
      // 3.8M documents (quick mode 60k). The OS page cache holds the files (they were just written).
      // The median of three opens, each in a fresh process.
      name: 'cold open of a 1 GiB database + first read',
      lowerIsBetter: true,
      subjects: subjects(
        (system) => ({
          setup: (ctx: RunContext) => bigDatabase(system, ctx),
          async measure(big: BigDatabase) {
            return { value: await median(3, () => openAndRead(system, big.dir, [big.probe])), unit: 'ms' };
          },
        }),
        (s) => s.durable,
      ),
    },
    {
      // The same database after a child process made TAIL_COMMITS durable single-document inserts and
      // was killed with SIGKILL: the open replays (or, for LMDB, needs no) log, then reads the last
      // acknowledged insert and an older document. Each system's files are removed afterwards.
      name: 'recovery after kill -9 (1 GiB + 10k-commit tail) + first read',
      lowerIsBetter: true,
      subjects: subjects(
        (system) => ({
          async setup(ctx: RunContext) {
            const big = await bigDatabase(system, ctx);
            const out = await inChild('tail', system, big.dir, ctx.quick ? 500 : 10_000);
            ctx.log(
              `${system}: ${big.docs} docs, ${mib(big.bytes)} MiB, ${mib(Number(out.bytes))} MiB killed`,
            );
            return { big, last: String(out.lastAcknowledged) };
          },
          async measure(s: { big: BigDatabase; last: string }) {
            return { value: await openAndRead(system, s.big.dir, [s.last, s.big.probe]), unit: 'ms' };
          },
          teardown: (s: { big: BigDatabase }) => {
            big.delete(system);
            rmSync(s.big.dir, { recursive: true, force: true });
          },
        }),
        (s) => s.durable,
      ),
    },
  ],
});
