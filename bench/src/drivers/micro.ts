import Benchmark from 'benchmark';
import { percentile } from '../stats.js';
import type { TimedLoopResult } from './timed-loop.js';

/**
 * benchmark.js for hot synchronous functions: it calibrates loop counts so that timer resolution does
 * not dominate, and gives per-sample mean times from which the percentiles are taken.
 */
export function microBenchmark(name: string, fn: () => void, seconds: number): TimedLoopResult {
  const bench = new Benchmark(name, fn, { maxTime: seconds, minSamples: 5, initCount: 1, async: false });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  const sampleMs = Float64Array.from(bench.stats.sample, (s) => s * 1000).sort();
  return {
    opsPerSec: bench.hz,
    ops: bench.count * bench.stats.sample.length,
    p50Ms: percentile(sampleMs, 50),
    p99Ms: percentile(sampleMs, 99),
  };
}
