import { percentile, Samples } from '../stats.js';

export interface TimedLoopOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Concurrent callers; only meaningful when `op` is asynchronous. */
  readonly concurrency: number;
  readonly opsPerCall: number;
}

export interface TimedLoopResult {
  readonly opsPerSec: number;
  readonly ops: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

type Op = (i: number) => void | Promise<void>;

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Calls `op` in a loop for a fixed time after a warm-up and reports throughput and per-call latency.
 * `i` keeps counting across warm-up and measurement so that workloads never revisit the same keys.
 */
export async function timedLoop(op: Op, options: TimedLoopOptions): Promise<TimedLoopResult> {
  const counter = { next: 0 };
  const first = op(counter.next++);
  const isAsync = first !== undefined && typeof (first as Promise<void>).then === 'function';
  if (isAsync) await first;

  const run = isAsync ? runAsync : runSync;
  await run(op, counter, nowMs() + options.warmupSeconds * 1000, options.concurrency, null);
  const samples = new Samples();
  const start = nowMs();
  await run(op, counter, start + options.seconds * 1000, options.concurrency, samples);
  const elapsedMs = nowMs() - start;

  const sorted = samples.sorted();
  const ops = samples.count * options.opsPerCall;
  return {
    opsPerSec: elapsedMs > 0 ? (ops * 1000) / elapsedMs : 0,
    ops,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

async function runSync(
  op: Op,
  counter: { next: number },
  deadline: number,
  _concurrency: number,
  samples: Samples | null,
): Promise<void> {
  let t = nowMs();
  while (t < deadline) {
    op(counter.next++);
    const after = nowMs();
    samples?.add(after - t);
    t = after;
  }
}

async function runAsync(
  op: Op,
  counter: { next: number },
  deadline: number,
  concurrency: number,
  samples: Samples | null,
): Promise<void> {
  const worker = async (): Promise<void> => {
    while (nowMs() < deadline) {
      const t = nowMs();
      await op(counter.next++);
      samples?.add(nowMs() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
