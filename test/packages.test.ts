import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';

// Imports go through each package's `exports` map and built dist/, exactly as an app that installed it would.
const require = createRequire(import.meta.url);

t.test('engine packages resolve by name through their export maps', async (t) => {
  const storage = await import('@bunbase/bundoc/storage');
  const bundoc = await import('@bunbase/bundoc');
  t.equal(bundoc.CorruptionError, storage.CorruptionError, 'bundoc re-exports its storage layer');
  const replication = await import('@bunbase/bundoc/replication');
  t.equal(typeof replication.ReplicatedStorage.open, 'function', 'the replicated mode has its own entry');
  t.equal(typeof bundoc.Bundoc.open, 'function', 'the document API is the package root');
  const raft = await import('@bunbase/raft');
  t.equal(raft.majorityIndex([3, 2, 1]), 2);
  const bunder = await import('@bunbase/bunder');
  t.equal(bunder.simpleString('OK').toString(), '+OK\r\n');
});

t.test('bunder declares the bunder-server bin', async (t) => {
  const pkgPath = require.resolve('@bunbase/bunder/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  t.equal(pkg.bin['bunder-server'], './dist/cli.js');
});
