#!/usr/bin/env node
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeDocument, encodeDocument } from '@bunbase/bundoc';
import Database from 'better-sqlite3';
import { type ReferenceDoc, referenceDocs } from './data.js';
import { type DocStore, docSystems } from './drivers/doc-stores.js';
import { seededRandom } from './rng.js';

/**
 * The floors under two bundoc-docs targets that do not hold (bulk insert ≥ 1.5× and indexed query ≥ 2×
 * better-sqlite3): each workload taken apart into the parts one system cannot avoid, measured in one
 * process, rounds alternating between systems, medians reported. The indexed query: bundoc must hand out
 * 100 fresh objects, whose decoding alone is most of the time the target leaves it; SQLite's engine
 * part (the rows as JSON text) against the JSON.parse an app then runs. The bulk insert: a document's
 * validation and encoding, which bundoc does before storage, against the whole budget; LMDB (native,
 * the fastest peer) on the same load. Usage:
 * node dist/floors.js [--docs N] [--rounds N] [--queries N] [--seconds N].
 */

export interface FloorLine {
  readonly name: string;
  /** Median microseconds per query (indexed query) or per document (bulk insert). */
  readonly us: number;
}

export interface FloorReport {
  readonly query: FloorLine[];
  readonly bulk: FloorLine[];
  /** The 64 concurrent writers: each system's inserts per second, and bundoc's CPU per insert. */
  readonly writers: { bundocPerSec: number; bundocCpuUs: number; sqlitePerSec: number };
  /** Derived budgets, each a sentence with its figures. */
  readonly findings: string[];
}

export interface FloorOptions {
  readonly docs: number;
  readonly rounds: number;
  readonly queries: number;
  /** Seconds per system of the 64-writer loop. */
  readonly seconds: number;
}

const BATCH = 1000;
const LIMIT = 100;
const AGES = 70;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Microseconds per call of `fn` over `n` calls. */
async function perCall(n: number, fn: (i: number) => unknown): Promise<number> {
  let results = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const r = fn(i);
    // Every result is used (counted), so no call can be optimised away.
    if ((r instanceof Promise ? await r : r) !== undefined) results++;
  }
  const us = ((performance.now() - start) * 1000) / n;
  if (results !== n) throw new Error(`${n - results} of ${n} calls returned nothing`);
  return us;
}

async function load(system: string, dir: string, docs: readonly ReferenceDoc[]): Promise<DocStore> {
  mkdirSync(dir);
  const store = await docSystems[system]!.open(dir);
  for (let i = 0; i < docs.length; i += BATCH) await store.insertBatch(docs.slice(i, i + BATCH));
  return store;
}

async function queryFloors(docs: ReferenceDoc[], o: FloorOptions, root: string): Promise<FloorLine[]> {
  const bundoc = await load('bunbase', join(root, 'q-bundoc'), docs);
  const sqliteDir = join(root, 'q-sqlite');
  const sqlite = await load('better-sqlite3', sqliteDir, docs);
  // The bench's query, on a second connection to the same file, without the JSON.parse of its rows.
  const raw = new Database(join(sqliteDir, 'docs.sqlite'), { readonly: true });
  const rows = raw.prepare("SELECT doc FROM docs WHERE json_extract(doc, '$.age') = ? LIMIT ?").pluck();
  // Each age's 100 result documents: bundoc's as stored (the codec's bytes), SQLite's as its rows.
  const stored: Uint8Array[][] = [];
  const texts: string[][] = [];
  for (let a = 0; a < AGES; a++) {
    const got = (await bundoc.byAge(18 + a, LIMIT)) as ReferenceDoc[];
    stored.push(got.map((d) => encodeDocument(d)));
    texts.push(rows.all(18 + a, LIMIT) as string[]);
    if (stored[a]!.length !== LIMIT || texts[a]!.length !== LIMIT) {
      throw new Error(`age ${18 + a} holds fewer than ${LIMIT} documents: raise --docs`);
    }
  }
  const random = seededRandom(3);
  const ages = Array.from({ length: o.queries }, () => Math.floor(random() * AGES));
  const parts: Record<string, (i: number) => unknown> = {
    'bundoc: find({ age }, { limit: 100 }).toArray()': (i) => bundoc.byAge(18 + ages[i]!, LIMIT),
    'bundoc: decoding its 100 documents alone': (i) => stored[ages[i]!]!.map((b) => decodeDocument(b)),
    'better-sqlite3: the query + JSON.parse of each row (the bench)': (i) =>
      sqlite.byAge(18 + ages[i]!, LIMIT),
    'better-sqlite3: the query alone (rows as JSON text)': (i) => rows.all(18 + ages[i]!, LIMIT),
    'JSON.parse of its 100 rows alone': (i) => texts[ages[i]!]!.map((t) => JSON.parse(t)),
  };
  const times = await rounds(parts, o.rounds, o.queries);
  raw.close();
  await bundoc.close();
  await sqlite.close();
  return times;
}

async function bulkFloors(docs: ReferenceDoc[], o: FloorOptions, root: string): Promise<FloorLine[]> {
  let run = 0;
  const insert = (system: string) => async () => {
    const dir = join(root, `b-${system.replace(/[^a-z0-9]/gi, '')}-${run++}`);
    mkdirSync(dir);
    const store = await docSystems[system]!.open(dir);
    const start = performance.now();
    for (let i = 0; i < docs.length; i += BATCH) await store.insertBatch(docs.slice(i, i + BATCH));
    const us = ((performance.now() - start) * 1000) / docs.length;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    return us;
  };
  const parts: Record<string, () => Promise<number>> = {
    'bundoc: insertMany, 1000 per transaction': insert('bunbase'),
    'bundoc: validating and encoding the document alone': () =>
      perCall(docs.length, (i) => encodeDocument(docs[i])),
    'better-sqlite3: JSON.stringify + INSERT (the bench)': insert('better-sqlite3'),
    'better-sqlite3 side: JSON.stringify alone': () => perCall(docs.length, (i) => JSON.stringify(docs[i])),
    'lmdb: msgpack put + age index put': insert('lmdb'),
  };
  const samples = new Map<string, number[]>(Object.keys(parts).map((k) => [k, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const [name, fn] of Object.entries(parts)) samples.get(name)!.push(await fn());
  }
  return [...samples].map(([name, xs]) => ({ name, us: median(xs) }));
}

/**
 * The bench's 64 concurrent durable writers, one round per system: SQLite commits one insert per fsync
 * (its calls are synchronous: concurrency changes nothing), bundoc groups concurrent commits into one
 * fsync and is bound by its CPU per insert, measured here with process.cpuUsage.
 */
async function writerFloors(
  docs: ReferenceDoc[],
  o: FloorOptions,
  root: string,
): Promise<FloorReport['writers']> {
  const rate = async (system: string) => {
    const dir = join(root, `w-${system.replace(/[^a-z0-9]/gi, '')}`);
    mkdirSync(dir);
    const store = await docSystems[system]!.open(dir);
    let next = 0;
    const run = async (ms: number) => {
      const until = performance.now() + ms;
      const writer = async () => {
        while (performance.now() < until) {
          const i = next++;
          await store.insertOne({ ...docs[i % docs.length]!, _id: `w${i}` });
        }
      };
      await Promise.all(Array.from({ length: 64 }, writer));
    };
    await run(500); // warm-up
    const first = next;
    const start = performance.now();
    const cpu = process.cpuUsage();
    await run(o.seconds * 1000);
    const used = process.cpuUsage(cpu);
    const inserts = next - first;
    const perSec = (inserts * 1000) / (performance.now() - start);
    await store.close();
    return { perSec, cpuUs: (used.user + used.system) / inserts };
  };
  const b = await rate('bunbase');
  const s = await rate('better-sqlite3');
  return { bundocPerSec: b.perSec, bundocCpuUs: b.cpuUs, sqlitePerSec: s.perSec };
}

/** Runs every part `n` times per round, the parts alternating, and returns their medians per call. */
async function rounds(
  parts: Record<string, (i: number) => unknown>,
  count: number,
  n: number,
): Promise<FloorLine[]> {
  const samples = new Map<string, number[]>(Object.keys(parts).map((k) => [k, []]));
  for (let r = 0; r < count; r++) {
    for (const [name, fn] of Object.entries(parts)) samples.get(name)!.push(await perCall(n, fn));
  }
  return [...samples].map(([name, xs]) => ({ name, us: median(xs) }));
}

export async function measureFloors(o: FloorOptions): Promise<FloorReport> {
  const root = mkdtempSync(join(tmpdir(), 'bunbase-floors-'));
  try {
    const docs = referenceDocs(o.docs);
    const query = await queryFloors(docs, o, root);
    const bulk = await bulkFloors(docs, o, root);
    const writers = await writerFloors(docs, o, root);
    const q = (k: number) => query[k]!.us;
    const b = (k: number) => bulk[k]!.us;
    const qBudget = q(2) / 2;
    const bBudget = b(2) / 1.5;
    const findings = [
      `indexed query: ${(q(2) / q(0)).toFixed(2)}× better-sqlite3 here. The 2× target gives bundoc ` +
        `${qBudget.toFixed(1)} µs per query; decoding the 100 documents takes ${q(1).toFixed(1)} µs of ` +
        `it (${((100 * q(1)) / qBudget).toFixed(0)}%), which is already ${(q(4) / q(1)).toFixed(2)}× ` +
        `faster than V8's JSON.parse of the same documents, and leaves ${(qBudget - q(1)).toFixed(1)} µs ` +
        `for the index walk and the 100 primary-key lookups, where bundoc spends ${(q(0) - q(1)).toFixed(1)} ` +
        `µs and SQLite's C engine ${q(3).toFixed(1)} µs for its rows.`,
      `bulk insert: ${(b(2) / b(0)).toFixed(2)}× better-sqlite3 here, lmdb ${(b(2) / b(4)).toFixed(2)}×. ` +
        `The 1.5× target gives bundoc ${bBudget.toFixed(2)} µs per document; validating and encoding it ` +
        `takes ${b(1).toFixed(2)} µs (JSON.stringify alone ${b(3).toFixed(2)}), which leaves ` +
        `${(bBudget - b(1)).toFixed(2)} µs for the write set, index entry, log and B+tree, where bundoc ` +
        `spends ${(b(0) - b(1)).toFixed(2)} µs and SQLite ${(b(2) - b(3)).toFixed(2)} µs past its stringify.`,
      `64 writers: ${(writers.bundocPerSec / writers.sqlitePerSec).toFixed(2)}× better-sqlite3 here ` +
        `(${Math.round(writers.bundocPerSec)} inserts/s against ${Math.round(writers.sqlitePerSec)}, one ` +
        `fsync each). bundoc's groups are bound by its CPU, ~${writers.bundocCpuUs.toFixed(1)} µs per ` +
        `insert; 8× this SQLite needs ${Math.round(8 * writers.sqlitePerSec)}/s, ` +
        `${(1e6 / (8 * writers.sqlitePerSec)).toFixed(1)} µs per insert all in, so the ratio follows ` +
        `the disk's fsync rate, not only bundoc.`,
    ];
    return { query, bulk, writers, findings };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function formatFloors(r: FloorReport): string {
  const table = (title: string, unit: string, lines: FloorLine[]) => [
    `${title} (median µs ${unit})`,
    ...lines.map((l) => `  ${l.us.toFixed(2).padStart(9)}  ${l.name}`),
  ];
  return [
    ...table('indexed equality query returning 100 docs', 'per query', r.query),
    ...table('bulk insert, 1000 docs per transaction, age index', 'per document', r.bulk),
    '',
    ...r.findings,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      docs: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '5' },
      queries: { type: 'string', default: '2000' },
      seconds: { type: 'string', default: '3' },
    },
  });
  const num = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const report = await measureFloors({
    docs: num('docs', values.docs, 10_000),
    rounds: num('rounds', values.rounds, 1),
    queries: num('queries', values.queries, 1),
    seconds: num('seconds', values.seconds, 1),
  });
  process.stdout.write(`${formatFloors(report)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
