import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Bundoc } from '../src/index.js';
import { checkIndexes } from './db-security-fixtures.js';
import { tsLoaderArgs } from './ts-loader.js';

// SIGKILL while an index is built online and writes go on (db-index-build-crash-writer.ts): after
// reopening, an index whose build was cut is gone (no catalog entry, no tree), a finished one matches
// its documents, and every acknowledged write is there.

const here = path.dirname(fileURLToPath(import.meta.url));
const STRESS = process.env.BUNBASE_STRESS === '1';

function runAndKill(dir: string, seed: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...tsLoaderArgs, path.join(here, 'db-index-build-crash-writer.ts'), dir, String(seed)],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
    );
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      out += d;
      if (!timer && out.includes('READY\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), 200 + (seed % 700));
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // possibly cut by the kill
      resolve(lines.filter((l) => l.startsWith('A ') || l.startsWith('T ')));
    });
  });
}

t.test('SIGKILL during online index builds leaves no half-built index and loses no write', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'bundoc-ixb-crash-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'db');
  const base = Number(process.env.BUNDOC_SEED ?? Date.now() % 100_000);
  t.comment(`seed ${base} (BUNDOC_SEED=${base} to replay)`);
  const inserted = new Set<string>();
  let builds = 0;
  let cut = 0;
  for (let round = 0; round < (STRESS ? 12 : 3); round++) {
    const lines = await runAndKill(dir, base + round);
    // Per document: the last acknowledged value, and the values tried after it (the kill may have come
    // between such an update's commit and its acknowledgement).
    const lastSet = new Map<string, number>();
    const triedAfter = new Map<string, Set<number>>();
    for (const l of lines) {
      const [ack, kind, a, b] = l.split(' ');
      if (ack === 'T') {
        if (!triedAfter.has(a!)) triedAfter.set(a!, new Set());
        triedAfter.get(a!)!.add(Number(b));
      } else if (kind === 'insert') inserted.add(a!);
      else if (kind === 'set') {
        lastSet.set(a!, Number(b));
        triedAfter.set(a!, new Set());
      } else if (kind === 'built') builds++;
    }
    const db = await Bundoc.open(dir, { durability: 'full' });
    try {
      const c = db.collection('c');
      const listed = await c.listIndexes();
      t.same(
        listed.filter((x) => x.building),
        [],
        `round ${round} (BUNDOC_SEED=${base}): no index is left building`,
      );
      if (!listed.some((x) => x.name === 'v_1')) cut++;
      const trees = db.storage.trees().filter((x) => x.includes('/x/'));
      t.equal(
        trees.length <= listed.length - 1,
        true,
        `round ${round} (BUNDOC_SEED=${base}): no orphan index tree (${trees})`,
      );
      const ids = new Set(
        (await c.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id as string),
      );
      const lost = [...inserted].filter((id) => !ids.has(id));
      t.same(lost, [], `round ${round} (BUNDOC_SEED=${base}): every acknowledged insert is there`);
      // The last acknowledged value of each document this round set (a later delete may have removed it).
      const wrong: string[] = [];
      for (const [id, v] of lastSet) {
        const d = await c.findOne({ _id: id });
        if (d !== null && d.v !== v && !triedAfter.get(id)?.has(d.v as number))
          wrong.push(`${id}: ${String(d.v)} instead of ${v}`);
      }
      t.same(wrong, [], `round ${round} (BUNDOC_SEED=${base}): acknowledged updates are there`);
      checkIndexes(t, db, `round ${round} (BUNDOC_SEED=${base})`);
    } finally {
      await db.close();
    }
  }
  t.ok(
    inserted.size > 0,
    `${inserted.size} acknowledged inserts, ${builds} finished builds, ${cut} rounds cut a build`,
  );
});
