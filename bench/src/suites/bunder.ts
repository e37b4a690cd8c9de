import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineSuite, type Measurement, type RunContext, type Subject } from '../suite.js';

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
  const persistence = aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
  const child =
    flavor === 'bunder'
      ? spawn(process.execPath, [bunderCli, ...common, ...persistence], { stdio: 'ignore' })
      : spawn('redis-server', [...common, '--save', '', ...persistence], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { port, child };
}

async function stopServer(s: Server | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGKILL');
  await exited;
}

/** One redis-benchmark run; parses its --csv output ("test","rps","avg_latency_ms",...,"p99_latency_ms",...). */
function redisBenchmark(port: number, args: string[]): Map<string, Measurement> {
  const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '--csv', ...args], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  const results = new Map<string, Measurement>();
  for (const line of out.trim().split('\n').slice(1)) {
    const cells = line.split(',').map((c) => c.replace(/^"|"$/g, ''));
    const [test, rps, , , p50, , p99] = cells;
    if (!test || rps === undefined) continue;
    results.set(test.split(' ')[0]!, { opsPerSec: Number(rps), p50Ms: Number(p50), p99Ms: Number(p99) });
  }
  return results;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function requests(ctx: RunContext): number {
  return ctx.quick ? 5_000 : 200_000;
}

/** A workload whose subjects run one redis-benchmark test against a fresh server of each flavor. */
function benchmarkWorkload(name: string, test: string, extra: string[], aof = false) {
  const subject = (system: string, flavor: Flavor, withAof = aof): Subject<Server> => ({
    system,
    setup: (ctx) => startServer(flavor, ctx.tmpDir(system), withAof),
    measure: (s, ctx) => {
      const r = redisBenchmark(s.port, ['-c', '50', '-n', String(requests(ctx)), '-t', test, ...extra]);
      const m = r.get(test.toUpperCase()) ?? [...r.values()][0];
      if (!m) throw new Error(`redis-benchmark reported nothing for ${test}`);
      return m;
    },
    teardown: stopServer,
  });
  return { name, subjects: [subject('bunbase', 'bunder'), subject('redis', 'redis')] };
}

const SIMPLE = ['set', 'get', 'incr', 'lpush', 'lpop', 'sadd', 'hset', 'zadd'];

export default defineSuite({
  name: 'bunder',
  description: 'redis-benchmark: bunder-server vs real redis-server (same flags, same run)',
  unavailable: () =>
    have('redis-server') && have('redis-benchmark') ? null : 'redis-server or redis-benchmark not found',
  workloads: [
    ...SIMPLE.map((t) => benchmarkWorkload(`${t.toUpperCase()} -c 50`, t, [])),
    ...['set', 'get'].map((t) => benchmarkWorkload(`${t.toUpperCase()} -c 50 -P 16`, t, ['-P', '16'])),
    benchmarkWorkload('LRANGE_100 -c 50', 'lrange_100', []),
    {
      name: 'SET with appendfsync everysec vs no AOF',
      description:
        'bunder with AOF against bunder without (the AOF overhead), and Redis with AOF for reference',
      subjects: [
        ...benchmarkWorkload('aof', 'set', [], true).subjects.map((s) =>
          s.system === 'redis' ? { ...s, system: 'redis (AOF everysec)' } : s,
        ),
        { ...benchmarkWorkload('no-aof', 'set', [], false).subjects[0]!, system: 'bunder without AOF' },
      ],
    },
    {
      name: 'memory for small string keys (RSS growth)',
      lowerIsBetter: true,
      subjects: (['bunder', 'redis'] as const).map(
        (flavor): Subject<Server> => ({
          system: flavor === 'bunder' ? 'bunbase' : 'redis',
          setup: (ctx) => startServer(flavor, ctx.tmpDir(flavor), false),
          measure: (s, ctx) => {
            const keys = ctx.quick ? 50_000 : 1_000_000;
            const before = rssBytes(s.child.pid!);
            // -r with __rand_int__ gives keys key:000000000000 … over a keyspace of `keys` names.
            redisBenchmark(s.port, [
              '-c',
              '50',
              '-n',
              String(keys * 2),
              '-r',
              String(keys),
              '-t',
              'set',
              '-d',
              '16',
            ]);
            const after = rssBytes(s.child.pid!);
            const dbsize = Number(
              execFileSync('redis-cli', ['-p', String(s.port), 'dbsize'], { encoding: 'utf8' }),
            );
            if (!(dbsize > 0)) throw new Error(`DBSIZE after the load was ${dbsize}`);
            return { value: (after - before) / dbsize, unit: 'B/key' };
          },
          teardown: stopServer,
        }),
      ),
    },
  ],
});
