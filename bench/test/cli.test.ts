import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// Runs the built CLI as `npm run bench` does, on the real suites, writing into a temp dir.
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const bench = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

t.test('--list names every suite and each suite runs in quick mode', async (t) => {
  const list = bench('--list');
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, /^codec\t/m);

  const out = mkdtempSync(join(tmpdir(), 'bench-cli-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const run = bench(
    '--quick',
    '--suite',
    'codec',
    '--seconds',
    '0.05',
    '--out',
    out,
    '--update-baseline',
    '--baseline',
    join(out, 'b.json'),
  );
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /\| encode reference doc \| bunbase \|/);
  const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
  t.equal(json.suites[0].name, 'codec');
  t.match(readFileSync(join(out, 'latest.md'), 'utf8'), /### codec/);
  const baseline = JSON.parse(readFileSync(join(out, 'b.json'), 'utf8'));
  t.ok(baseline.quick['codec/encode reference doc/node:v8'] > 0, 'a quick run writes the quick map');
  t.same(baseline.ratios, {}, '... not the full one');

  // A baseline far above what this run can reach must fail --check, naming the ratio.
  writeFileSync(
    join(out, 'high.json'),
    JSON.stringify({ ratios: {}, quick: { 'codec/encode reference doc/node:v8': 1e9 } }),
  );
  const check = bench(
    '--quick',
    '--suite',
    'codec',
    '--seconds',
    '0.05',
    '--out',
    out,
    '--check',
    '--baseline',
    join(out, 'high.json'),
  );
  t.equal(check.status, 1);
  t.match(check.stderr, /COLLAPSE codec\/encode reference doc\/node:v8/);
  t.match(check.stderr, /re-running codec \(recheck 1 of 2\)/, 'a collapse is re-run before it fails');
  t.match(check.stderr, /re-running codec \(recheck 2 of 2\)/);
  t.notMatch(check.stderr, /recheck 3/);
});

t.test('bad arguments are refused with a clear message', async (t) => {
  const unknown = bench('--suite', 'nope');
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown suite\(s\): nope/);
  for (const bad of ['--seconds=-1', '--seconds=abc', '--seconds=0']) {
    const seconds = bench(bad);
    t.equal(seconds.status, 2, bad);
    t.match(seconds.stderr, /--seconds must be a positive number/);
  }
  const flag = bench('--frobnicate');
  t.equal(flag.status, 2);
  t.match(flag.stderr, /Unknown option '--frobnicate'/);
  t.notMatch(flag.stderr, /at /, 'a usage error, not a stack trace');
});
