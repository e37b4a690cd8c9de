import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineSuite, type RunContext, type Subject } from '../suite.js';

// redis-benchmark against bunder-server and a real redis-server started here, one after the other, with
// the same flags: the spec's workloads (shared/specs/bunder.md, "Performance targets").

const require = createRequire(import.meta.url);
const bunderCli = join(dirname(require.resolve('@bunbase/bunder/package.json')), 'dist', 'cli.js');

function have(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`server did not listen on ${port}`);
}

interface Server {
  port: number;
  child: ChildProcess;
}

type Flavor = 'bunder' | 'redis';

async function startServer(flavor: Flavor, dir: string, aof: boolean): Promise<Server> {
  const port = await freePort();
  const common = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  const persistence = [
    '--save',
    '',
    ...(aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']),
  ];
  const child =
    flavor === 'bunder'
      ? spawn(process.execPath, [bunderCli, ...common, ...persistence], { stdio: 'ignore' })
      : spawn('redis-server', [...common, ...persistence], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { port, child };
}

async function stopServer(s: Server | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGKILL');
  await exited;
}

interface Throughput {
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One redis-benchmark run; parses its --csv output ("test","rps","avg_latency_ms",...,"p99_latency_ms",...). */
function redisBenchmark(port: number, args: string[]): Map<string, Throughput> {
  const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '--csv', ...args], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  const results = new Map<string, Throughput>();
  for (const line of out.trim().split('\n').slice(1)) {
    const cells = line.split(',').map((c) => c.replace(/^"|"$/g, ''));
    const [test, rps, , , p50, , p99] = cells;
    if (!test || rps === undefined) continue;
    results.set(test.split(' ')[0]!, { opsPerSec: Number(rps), p50Ms: Number(p50), p99Ms: Number(p99) });
  }
  return results;
}

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** USER_HZ: the unit of /proc/PID/stat times (100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU time (user + system, all threads) the process has used so far, in microseconds. */
function cpuMicros(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name, in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / CLOCK_TICKS);
}

/** `used_memory` from INFO memory, after MEMORY PURGE (a full GC in bunder; the allocator purge in Redis). */
function usedMemory(port: number): number {
  redisCli(port, 'memory', 'purge');
  const m = /used_memory:(\d+)/.exec(redisCli(port, 'info', 'memory'));
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/**
 * Measurement protocol, the same for both servers (each a fresh process, nothing else in it):
 * - a warm-up run of the same test first, so that bunder's JIT has compiled the hot path (a fresh Node
 *   process runs its first thousands of commands in the interpreter; Redis has no such phase);
 * - then `rounds` runs, and the best one counts. This machine is shared (other processes come and go), so
 *   the best of a few runs is the figure least disturbed by them; both servers get the same treatment.
 * Requests per run are sized so that a run of the faster server still lasts well over a second in full
 * mode. The server's CPU time per request is logged too: it does not depend on the load of the machine.
 */
interface Sizes {
  readonly quick: number;
  readonly full: number;
}

function requests(ctx: RunContext, sizes: Sizes): number {
  return ctx.quick ? sizes.quick : sizes.full;
}

const PLAIN: Sizes = { quick: 20_000, full: 200_000 };
const PIPELINED: Sizes = { quick: 200_000, full: 2_000_000 };
const LRANGE: Sizes = { quick: 10_000, full: 100_000 };

function bestOf(s: Server, ctx: RunContext, label: string, test: string, args: string[], sizes: Sizes) {
  const n = requests(ctx, sizes);
  const run = (count: number) => {
    const r = redisBenchmark(s.port, ['-c', '50', '-n', String(count), '-t', test, ...args]);
    const m = r.get(test.toUpperCase()) ?? [...r.values()][0];
    if (!m) throw new Error(`redis-benchmark reported nothing for ${test}`);
    return m;
  };
  run(Math.max(1000, Math.floor(n / 4)));
  let best: Throughput | null = null;
  const cpu: number[] = [];
  for (let round = 0; round < (ctx.quick ? 2 : 3); round++) {
    const before = cpuMicros(s.child.pid!);
    const m = run(n);
    // lrange_100 also runs its LPUSH fill: count both tests' requests.
    const sent = test === 'lrange_100' ? 2 * n : n;
    cpu.push((cpuMicros(s.child.pid!) - before) / sent);
    if (!best || m.opsPerSec > best.opsPerSec) best = m;
  }
  ctx.log(
    `${label}: ${best!.opsPerSec.toFixed(0)} ops/s best; server CPU µs/request per round: ${cpu.map((x) => x.toFixed(2)).join(' ')}`,
  );
  return { throughput: { ...best!, ops: n }, cpuMicros: Math.min(...cpu) };
}

/**
 * Server CPU time per request, recorded by each throughput run (key: workload and system) and reported by
 * the "server CPU per request" workloads. Throughput on a shared 2-core machine swings by tens of percent
 * between runs (the client and other processes compete for the cores); CPU time per request barely moves,
 * so its ratios are the ones to watch for regressions.
 */
const cpuPerRequest = new Map<string, number>();

function cpuWorkload(of: { name: string; subjects: readonly Subject<Server>[] }) {
  return {
    name: `server CPU per request: ${of.name}`,
    description: 'user + system CPU time of the server process per request (lowest of the rounds)',
    lowerIsBetter: true,
    subjects: of.subjects.map(
      (s): Subject<null> => ({
        system: s.system,
        measure: () => {
          const v = cpuPerRequest.get(`${of.name}|${s.system}`);
          if (v === undefined) throw new Error(`no throughput run of ${of.name} for ${s.system}`);
          return { value: Math.round(v * 100) / 100, unit: 'µs/request' };
        },
      }),
    ),
  };
}

/** A workload whose subjects run one redis-benchmark test against a fresh server of each flavor. */
function benchmarkWorkload(
  name: string,
  test: string,
  extra: string[],
  sizes: Sizes,
  aof = false,
  systems: readonly [string, Flavor, boolean][] = [
    ['bunbase', 'bunder', aof],
    ['redis', 'redis', aof],
  ],
) {
  const subject = ([system, flavor, withAof]: [string, Flavor, boolean]): Subject<Server> => ({
    system,
    setup: (ctx) => startServer(flavor, ctx.tmpDir(system), withAof),
    measure: (s, ctx) => {
      const { throughput, cpuMicros } = bestOf(s, ctx, `${name} ${system}`, test, extra, sizes);
      cpuPerRequest.set(`${name}|${system}`, cpuMicros);
      return throughput;
    },
    teardown: stopServer,
  });
  return { name, subjects: systems.map(subject) };
}

const SIMPLE = ['set', 'get', 'incr', 'lpush', 'lpop', 'sadd', 'hset', 'zadd'];

/** Loads small string keys (16-byte values, 1M distinct names in full mode) with pipelined SETs. */
function loadSmallKeys(s: Server, ctx: RunContext): number {
  const keys = ctx.quick ? 100_000 : 1_000_000;
  // -r with __rand_int__ gives keys key:000000000000 … over a keyspace of `keys` names.
  redisBenchmark(s.port, [
    '-c',
    '50',
    '-P',
    '16',
    '-n',
    String(keys * 3),
    '-r',
    String(keys),
    '-t',
    'set',
    '-d',
    '16',
  ]);
  const dbsize = Number(redisCli(s.port, 'dbsize'));
  if (!(dbsize > 0)) throw new Error(`DBSIZE after the load was ${dbsize}`);
  return dbsize;
}

function memoryWorkload(name: string, description: string, perKey: (s: Server, ctx: RunContext) => number) {
  return {
    name,
    description,
    lowerIsBetter: true,
    subjects: (['bunder', 'redis'] as const).map(
      (flavor): Subject<Server> => ({
        system: flavor === 'bunder' ? 'bunbase' : 'redis',
        setup: (ctx) => startServer(flavor, ctx.tmpDir(flavor), false),
        measure: (s, ctx) => ({ value: perKey(s, ctx), unit: 'B/key' }),
        teardown: stopServer,
      }),
    ),
  };
}

/**
 * One dump.rdb of small string keys, written once by a real redis-server (pipelined SETs, SAVE) and then
 * loaded by each server at start: the figure is the time from spawn until the server answers with the
 * whole dataset (Redis listens while loading and answers LOADING until done; bunder listens after).
 */
const rdbFiles = new Map<boolean, { file: string; keys: number }>();

async function populatedRdb(ctx: RunContext): Promise<{ file: string; keys: number }> {
  const have = rdbFiles.get(ctx.quick);
  if (have) return have;
  const dir = ctx.tmpDir('rdb-source');
  const s = await startServer('redis', dir, false);
  let keys: number;
  try {
    keys = loadSmallKeys(s, ctx);
    redisCli(s.port, 'save');
  } finally {
    await stopServer(s);
  }
  const entry = { file: join(dir, 'dump.rdb'), keys };
  rdbFiles.set(ctx.quick, entry);
  return entry;
}

async function timeRdbLoad(flavor: Flavor, ctx: RunContext): Promise<number> {
  const { file, keys } = await populatedRdb(ctx);
  const dir = ctx.tmpDir(`rdb-load-${flavor}`);
  copyFileSync(file, join(dir, 'dump.rdb'));
  const start = performance.now();
  const s = await startServer(flavor, dir, false);
  try {
    for (;;) {
      let size: string;
      try {
        size = redisCli(s.port, 'dbsize');
      } catch (e) {
        size = String((e as { stdout?: string }).stdout ?? e); // redis-cli may exit non-zero on LOADING
      }
      if (size === String(keys)) break;
      if (!/LOADING/.test(size)) throw new Error(`${flavor} loaded ${size} keys, expected ${keys}`);
      await sleep(5);
    }
    return (performance.now() - start) / 1000;
  } finally {
    await stopServer(s);
  }
}

const THROUGHPUT = [
  ...SIMPLE.map((t) => benchmarkWorkload(`${t.toUpperCase()} -c 50`, t, [], PLAIN)),
  ...['set', 'get'].map((t) =>
    benchmarkWorkload(`${t.toUpperCase()} -c 50 -P 16`, t, ['-P', '16'], PIPELINED),
  ),
  benchmarkWorkload('LRANGE_100 -c 50', 'lrange_100', [], LRANGE),
  {
    ...benchmarkWorkload('SET with appendfsync everysec vs no AOF', 'set', [], PLAIN, true, [
      ['bunbase', 'bunder', true],
      ['redis (AOF everysec)', 'redis', true],
      ['bunder without AOF', 'bunder', false],
    ]),
    description:
      'bunder with AOF against bunder without (the AOF overhead), and Redis with AOF for reference',
  },
];

export default defineSuite({
  name: 'bunder',
  description: 'redis-benchmark: bunder-server vs real redis-server (same flags, same run)',
  unavailable: () =>
    have('redis-server') && have('redis-benchmark') && have('redis-cli')
      ? null
      : 'redis-server, redis-benchmark or redis-cli not found',
  workloads: [
    ...THROUGHPUT,
    ...THROUGHPUT.map(cpuWorkload),
    memoryWorkload(
      'memory for small string keys (used_memory)',
      'INFO memory used_memory growth per key after MEMORY PURGE (bunder: V8 heap after a full GC plus ' +
        'external memory; Redis: bytes allocated by jemalloc): the spec target (≤ 2× Redis)',
      (s, ctx) => {
        const before = usedMemory(s.port);
        const keys = loadSmallKeys(s, ctx);
        return (usedMemory(s.port) - before) / keys;
      },
    ),
    {
      name: 'RDB load of small string keys (start until serving)',
      description:
        'a dump.rdb written by Redis (DEBUG POPULATE; 1M keys, 100k in quick mode), loaded at start',
      lowerIsBetter: true,
      subjects: (['bunder', 'redis'] as const).map(
        (flavor): Subject => ({
          system: flavor === 'bunder' ? 'bunbase' : 'redis',
          measure: async (_s, ctx) => ({ value: await timeRdbLoad(flavor, ctx), unit: 's' }),
        }),
      ),
    },
    memoryWorkload(
      'memory for small string keys (RSS growth)',
      'resident set growth per key after MEMORY PURGE: includes what each runtime keeps but does not use ' +
        '(V8 semi-spaces and heap headroom, jemalloc dirty pages)',
      (s, ctx) => {
        redisCli(s.port, 'memory', 'purge');
        const before = rssBytes(s.child.pid!);
        const keys = loadSmallKeys(s, ctx);
        redisCli(s.port, 'memory', 'purge');
        return (rssBytes(s.child.pid!) - before) / keys;
      },
    ),
  ],
});
