/**
 * The contract between the bench runner and a suite. A suite names workloads; each workload runs the same
 * job on BunBase (system "bunbase") and on each peer, in the same process run, so that ratios are fair.
 */

/** What the runner hands to every hook. */
export interface RunContext {
  /** Quick mode (CI smoke): suites shrink data sizes so that every suite finishes in a few seconds. */
  readonly quick: boolean;
  /** Measurement time per subject, in seconds (timed-loop and micro workloads). */
  readonly seconds: number;
  /** A fresh empty directory under the OS temp dir, removed after the run. */
  tmpDir(label: string): string;
  /** Log a line to stderr, prefixed with the suite name. */
  log(message: string): void;
}

/** A result that a subject measured itself (e.g. by running redis-benchmark, or reading RSS). */
export type Measurement =
  | { readonly opsPerSec: number; readonly p50Ms?: number; readonly p99Ms?: number; readonly ops?: number }
  | { readonly value: number; readonly unit: string };

/** One system running one workload. Give `op` (the runner times it in a loop) or `measure`. */
// biome-ignore lint/suspicious/noExplicitAny: a workload mixes subjects whose states differ in type
export interface Subject<S = any> {
  /** "bunbase" for the system under test, or the peer's package name (e.g. "better-sqlite3"). */
  readonly system: string;
  /** Prepare data and handles; not timed. */
  setup?(ctx: RunContext): S | Promise<S>;
  /** One call of the timed loop; it performs `opsPerCall` operations. `i` counts calls from 0. */
  op?(state: S, i: number): void | Promise<void>;
  /** For workloads that measure themselves instead of a timed loop. */
  measure?(state: S, ctx: RunContext): Measurement | Promise<Measurement>;
  /** Release handles; not timed. */
  teardown?(state: S): void | Promise<void>;
}

export interface Workload {
  readonly name: string;
  readonly description?: string;
  /**
   * "macro" (default): a timed loop over `op`, or `measure`. "micro": benchmark.js runs `op` as a
   * synchronous hot function (use it for functions that take well under a microsecond).
   */
  readonly kind?: 'macro' | 'micro';
  /** Operations performed by one `op` call (e.g. a batch of 1000 puts); ops/s counts operations. */
  readonly opsPerCall?: number;
  /** Concurrent callers of `op` (async ops), e.g. 64 concurrent writers. Default 1. */
  readonly concurrency?: number;
  /** For `{ value, unit }` measurements: whether a lower value is better (memory, bytes on disk). */
  readonly lowerIsBetter?: boolean;
  readonly subjects: readonly Subject[];
}

export interface Suite {
  readonly name: string;
  readonly description: string;
  /** Return a reason to skip the whole suite (e.g. "redis-server not found"), or null to run it. */
  unavailable?(): string | null | Promise<string | null>;
  readonly workloads: readonly Workload[];
}

/** Identity helper that gives suite files type checking without a cast. */
export function defineSuite(suite: Suite): Suite {
  return suite;
}
