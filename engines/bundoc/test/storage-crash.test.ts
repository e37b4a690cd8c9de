import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { Storage } from '../src/storage/index.js';
import { buildFixtures } from './fixtures-storage/build.js';
import { checkWorkload } from './fixtures-storage/check.js';
import { deleterOf } from './fixtures-storage/workload.js';

const STRESS = process.env.BUNBASE_STRESS === '1';
const fixtures = buildFixtures();
t.teardown(fixtures.cleanup);

interface RunResult {
  acked: number[];
  /** Acknowledged commits whose delete removed a key. */
  removers: number[];
  ready: boolean;
}

/**
 * Starts the writer and SIGKILLs it: usually a random moment after it opened (commits in flight),
 * sometimes a random moment after spawning (during open and recovery).
 */
function runAndKill(dir: string, durability: string, start: number, duringOpen: boolean): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixtures.script('crash-writer'), dir, durability, String(start)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Without tap's NODE_OPTIONS (a process-info hook that more than doubles a child's start-up cost).
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const killIn = (ms: number) => {
      timer = setTimeout(() => child.kill('SIGKILL'), ms);
    };
    if (duringOpen) killIn(Math.random() * 300);
    child.stdout.on('data', (d) => {
      if (!duringOpen && !timer && `${out}${d}`.includes('READY\n')) killIn(Math.random() * 120);
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      const lines = out.split('\n');
      // The last line may be cut mid-write by the kill; only complete lines count.
      lines.pop();
      resolve({
        ready: lines.includes('READY'),
        acked: lines.filter((l) => l.startsWith('A ')).map((l) => Number.parseInt(l.slice(2), 10)),
        removers: lines.filter((l) => /^A \d+ d$/.test(l)).map((l) => Number.parseInt(l.slice(2), 10)),
      });
    });
  });
}

async function checkStore(
  dir: string,
  acked: Set<number>,
  removers: Set<number>,
  maxStarted: number,
  toCheck: Set<number>,
): Promise<void> {
  const st = await Storage.open(dir, { pageSize: 4096, checkpointIntervalMs: 0 });
  try {
    checkWorkload(st, acked, removers, maxStarted, toCheck);
  } finally {
    await st.close();
  }
}

/** One lane: a store directory crashed over and over, checked after every crash. */
async function lane(durability: string, iterations: number): Promise<{ acked: number; ready: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-crash-'));
  try {
    const acked = new Set<number>();
    const removers = new Set<number>();
    const toCheck = new Set<number>();
    let next = 0;
    let ready = 0;
    for (let it = 0; it < iterations; it++) {
      const r = await runAndKill(dir, durability, next, it % 5 === 4);
      if (r.ready) ready++;
      for (const a of r.acked) {
        acked.add(a);
        toCheck.add(a);
      }
      for (const a of r.removers) removers.add(a);
      // Numbers handed out but never acknowledged may or may not be present; never reuse them.
      next += 100_000;
      await checkStore(dir, acked, removers, next, toCheck);
      // A key whose acknowledged delete was just checked is settled: no commit writes it again.
      for (const i of toCheck) {
        const d = deleterOf(i);
        if (d !== undefined && acked.has(d)) toCheck.delete(i);
      }
    }
    return { acked: acked.size, ready };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

t.test('SIGKILL at random moments never loses an acknowledged commit', async (t) => {
  // 200 kills by default (BUNDOC_CRASH_ITERATIONS or BUNBASE_STRESS=1 for more). Lanes run in parallel
  // so that they fit in CI time even though each child needs a Node start.
  const iterations = Number(process.env.BUNDOC_CRASH_ITERATIONS ?? (STRESS ? 1000 : 200));
  const share: Array<[string, number]> = [
    ['full', 0.3],
    ['full', 0.3],
    ['normal', 0.25],
    ['off', 0.15],
  ];
  const counts = share.map(([, f]) => Math.round(iterations * f));
  counts[0] += iterations - counts.reduce((a, b) => a + b, 0);
  const results = await Promise.all(share.map(([d], i) => lane(d, counts[i])));
  const total = results.reduce((a, r) => a + r.acked, 0);
  const ready = results.reduce((a, r) => a + r.ready, 0);
  // Every fifth kill aims at open/recovery; most of the others must have hit a running writer.
  t.ok(ready >= iterations * 0.6, `${ready} of ${iterations} killed runs had opened and were committing`);
  t.ok(total >= iterations, `${total} acknowledged commits checked after ${iterations} SIGKILLs`);
});
