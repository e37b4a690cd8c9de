import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Bundoc } from '../src/index.js';
import { checkIndexes } from './db-security-fixtures.js';
import { tsLoaderArgs } from './ts-loader.js';

// SIGKILL while a writer inserts referencing documents and deletes users with multi-level cascades and
// setNull: after reopening, the specs are there, no reference dangles, acknowledged deletes took their
// whole cascade with them, and every index matches its documents.

const here = path.dirname(fileURLToPath(import.meta.url));
const STRESS = process.env.BUNBASE_STRESS === '1';

function runAndKill(dir: string, seed: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...tsLoaderArgs, path.join(here, 'db-security-crash-writer.ts'), dir, String(seed)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      out += d;
      if (!timer && out.includes('READY\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), 300 + (seed % 900));
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

t.test('SIGKILL during cascading writes leaves references and indexes consistent', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'bundoc-sec-crash-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = path.join(root, 'db');
  const base = Number(process.env.BUNDOC_SEED ?? Date.now() % 100_000);
  t.comment(`seed ${base} (BUNDOC_SEED=${base} to replay)`);
  const deleted = new Set<string>();
  let acked = 0;
  for (let round = 0; round < (STRESS ? 12 : 2); round++) {
    const lines = await runAndKill(dir, base + round);
    acked += lines.length;
    for (const l of lines) if (l.startsWith('A delete ')) deleted.add(l.slice(9));
    const db = await Bundoc.open(dir, { durability: 'full' });
    try {
      t.ok(
        db.getCollectionSecurity('posts')?.schema,
        `round ${round} (BUNDOC_SEED=${base}): the posts spec survived`,
      );
      const users = new Set((await db.collection('users').find({}).toArray()).map((d) => d._id));
      const posts = await db.collection('posts').find({}).toArray();
      const postIds = new Set(posts.map((p) => p._id));
      const problems: string[] = [];
      for (const d of deleted) if (users.has(d)) problems.push(`acknowledged delete of ${d} lost`);
      for (const p of posts) {
        if (!users.has(p.author)) problems.push(`post ${String(p._id)} author ${String(p.author)} missing`);
        if (p.editor != null && !users.has(p.editor)) problems.push(`post ${String(p._id)} editor dangles`);
      }
      for (const c of await db.collection('comments').find({}).toArray())
        if (!postIds.has(c.post)) problems.push(`comment ${String(c._id)} post ${String(c.post)} missing`);
      t.same(
        problems,
        [],
        `round ${round} (BUNDOC_SEED=${base}): ${lines.length} acknowledged operations, references consistent`,
      );
      checkIndexes(t, db, `round ${round} (BUNDOC_SEED=${base})`);
    } finally {
      await db.close();
    }
  }
  t.ok(acked > 0, `${acked} acknowledged operations, ${deleted.size} acknowledged deletes`);
});
