/**
 * Shared pieces of the differential tests against the real Redis: a seeded PRNG (seed printed on
 * failure), random picks, and a runner that sends each generated command to both servers and compares
 * the replies after a per-command normalisation.
 */
import type { Test } from 'tap';
import { Bunder } from '../../src/index.js';
import { RespClient, type RespValue, reachable } from './resp-client.js';

export const REDIS_PORT = 6379;

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rand {
  constructor(private readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Why the reference is missing, or false when Redis answers on 127.0.0.1:6379. */
export async function redisSkip(): Promise<string | false> {
  return (await reachable(REDIS_PORT))
    ? false
    : `no Redis on 127.0.0.1:${REDIS_PORT}; the differential test needs the reference server`;
}

export interface DiffOptions<R> {
  /** The reference database used on the real Redis (FLUSHDB only there). */
  db: string;
  sequences: number;
  steps: number;
  /** Per-sequence generator state. */
  makeState: (r: Rand) => R;
  next: (r: Rand, state: R) => string[];
  /** Normalises a reply before comparison (time-dependent fields, unordered replies). */
  canon?: (cmd: string[], v: RespValue) => unknown;
  /** Called after each step with both replies, e.g. to resynchronise random effects. */
  after?: (cmd: string[], a: RespValue, redis: RespClient, bunder: RespClient) => Promise<void>;
}

/** Runs seeded random sequences against Redis and bunder; fails on the first differing reply. */
export async function runDifferential<R>(t: Test, o: DiffOptions<R>): Promise<void> {
  const kv = await Bunder.open();
  const { port } = await kv.listen({ port: 0 });
  const redis = await RespClient.connect(REDIS_PORT);
  const bunder = await RespClient.connect(port);
  t.teardown(async () => {
    await redis.call('FLUSHDB');
    redis.close();
    bunder.close();
    await kv.close();
  });
  await redis.call('SELECT', o.db);
  await bunder.call('SELECT', o.db);
  const baseSeed = Number(process.env.BUNDER_DIFF_SEED ?? Date.now() % 1e9);
  const canon = o.canon ?? ((_c, v) => v);
  let compared = 0;
  for (let s = 0; s < o.sequences; s++) {
    const seed = baseSeed + s;
    const r = new Rand(rng(seed));
    const state = o.makeState(r);
    await redis.call('FLUSHDB');
    await bunder.call('FLUSHDB');
    const history: string[][] = [];
    for (let i = 0; i < o.steps; i++) {
      const cmd = o.next(r, state);
      history.push(cmd);
      const [a, b] = await Promise.all([redis.call(...cmd), bunder.call(...cmd)]);
      const ca = JSON.stringify(canon(cmd, a));
      const cb = JSON.stringify(canon(cmd, b));
      if (ca !== cb) {
        // DIFF_DUMP='XINFO STREAM k FULL;GET x' prints both servers' answers to these commands on failure.
        if (process.env.DIFF_DUMP) {
          for (const c of process.env.DIFF_DUMP.split(';')) {
            const args = c.split(' ');
            t.comment(`redis  ${c}: ${JSON.stringify(await redis.call(...args))}`);
            t.comment(`bunder ${c}: ${JSON.stringify(await bunder.call(...args))}`);
          }
        }
        t.same(JSON.parse(cb), JSON.parse(ca), `seed ${seed} step ${i}: ${JSON.stringify(cmd)}`, {
          history: history
            .slice(-25)
            .map((h) =>
              JSON.stringify(h.map((a) => (a.length > 40 ? `${a.slice(0, 20)}…(${a.length})` : a))),
            ),
        });
        return;
      }
      compared++;
      await o.after?.(cmd, a, redis, bunder);
    }
  }
  t.pass(`${compared} replies identical (seeds ${baseSeed}..${baseSeed + o.sequences - 1})`);
}
