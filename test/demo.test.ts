import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// The Quick start's demo, run exactly as `npm start` runs it (after the build), checked line by line.
const demo = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'demo.mjs');

t.test('the quick-start demo opens bundoc and bunder and shows their guarantees', async (t) => {
  const run = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /committed 1000 keys in one durable transaction/);
  t.match(run.stdout, /an older reader sees \{"n":0\}, a newer one sees \{"n":"changed"\}/);
  t.match(run.stdout, /range from user:0500: user:0500, user:0501, user:0502/);
  t.match(run.stdout, /closed and reopened: 1000 keys present/);
  t.match(run.stdout, /GET greeting = hello, TTL = 60 s/);
  t.match(run.stdout, /visits = 2, LRANGE queue = a,b,c/);
  t.match(run.stdout, /ZRANGE board REV WITHSCORES = grace 30 alan 20 ada 10/);
  t.match(run.stdout, /GET visits -> "\$1\\r\\n2\\r\\n"/);
  t.match(run.stdout, /demo complete\n$/);
});
