import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Bundoc, type ChangeEvent, type Document } from '../src/index.js';
import { tsLoaderArgs } from './ts-loader.js';

// SIGKILL while four writers insert, update and delete: after each restart, a change stream resumed from
// LSN 0 (the log kept by walRetentionBytes) replays every acknowledged write, in an order that rebuilds
// the collection exactly.

const here = path.dirname(fileURLToPath(import.meta.url));
const STRESS = process.env.BUNBASE_STRESS === '1';

function runAndKill(dir: string, seed: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...tsLoaderArgs, path.join(here, 'db-change-stream-crash-writer.ts'), dir, String(seed)],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
    );
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      out += d;
      if (!timer && out.includes('READY\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), 300 + (seed % 700));
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // possibly cut by the kill
      resolve(lines.filter((l) => l.startsWith('A ')));
    });
  });
}

t.test(
  'after SIGKILL, a stream resumed from LSN 0 holds every acknowledged write, with its pre-image',
  async (t) => {
    const root = await mkdtemp(path.join(tmpdir(), 'bundoc-watch-crash-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const dir = path.join(root, 'db');
    const base = Number(process.env.BUNDOC_SEED ?? Date.now() % 100_000);
    t.comment(`seed ${base} (BUNDOC_SEED=${base} to replay)`);
    const acked: string[] = [];
    for (let round = 0; round < (STRESS ? 10 : 2); round++) {
      acked.push(...(await runAndKill(dir, base + round)));
      const db = await Bundoc.open(dir, { walRetentionBytes: 1 << 30, walSegmentBytes: 64 * 1024 });
      try {
        const stream = db.watch({ resumeAfter: 0 });
        // A write after the recovered log marks its end (several events may share the last LSN).
        await db.collection('end').insertOne({ _id: round });
        const events: ChangeEvent<Document>[] = [];
        for (;;) {
          const r = await Promise.race([
            stream.next(),
            new Promise<null>((res) => setTimeout(() => res(null), 5000)),
          ]);
          if (r === null || r.done) break;
          if (r.value.collection === 'end' && r.value.id === round) break;
          if (r.value.collection === 'c') events.push(r.value);
        }
        stream.close();
        const model = new Map<unknown, Document>();
        const problems: string[] = [];
        for (const e of events) {
          // The writer logs pre-images: an update or delete carries the version the events had built.
          if (e.op !== 'insert' && JSON.stringify(e.before) !== JSON.stringify(model.get(e.id)))
            problems.push(`lsn ${e.lsn}: before of ${e.op} ${e.id} is not the version it replaced`);
          if (e.op === 'insert' && model.has(e.id)) problems.push(`lsn ${e.lsn}: insert of existing ${e.id}`);
          if (e.op === 'update' && !model.has(e.id)) problems.push(`lsn ${e.lsn}: update of missing ${e.id}`);
          if (e.op === 'delete' && !model.has(e.id)) problems.push(`lsn ${e.lsn}: delete of missing ${e.id}`);
          if (e.op === 'delete') model.delete(e.id);
          else if (e.doc) model.set(e.id, e.doc);
        }
        const seen = new Set(events.map((e) => `A ${e.op} ${e.id} ${e.doc ? e.doc.v : '-'}`));
        for (const a of acked) if (!seen.has(a)) problems.push(`acknowledged "${a}" has no event`);
        const docs = await db
          .collection('c')
          .find({}, { sort: { _id: 1 } })
          .toArray();
        const rebuilt = [...model.values()].sort((a, b) => (String(a._id) < String(b._id) ? -1 : 1));
        if (JSON.stringify(rebuilt) !== JSON.stringify(docs))
          problems.push('the events do not rebuild the collection');
        t.same(
          problems.slice(0, 10),
          [],
          `round ${round} (BUNDOC_SEED=${base}): ${acked.length} acknowledged writes, ${events.length} events`,
        );
      } finally {
        await db.close();
      }
    }
    t.ok(acked.length > 0, `${acked.length} acknowledged writes`);
  },
);
