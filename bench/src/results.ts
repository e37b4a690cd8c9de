/** The shape of bench/results/latest.json. */

export interface SubjectResult {
  readonly system: string;
  readonly opsPerSec?: number;
  readonly ops?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly value?: number;
  readonly unit?: string;
  readonly error?: string;
}

export interface WorkloadResult {
  readonly name: string;
  readonly description?: string;
  readonly kind: 'macro' | 'micro';
  readonly opsPerCall: number;
  readonly concurrency: number;
  readonly lowerIsBetter: boolean;
  readonly results: SubjectResult[];
  /** BunBase's advantage over each peer: > 1 means BunBase is better (faster, or smaller). */
  readonly ratios: Record<string, number>;
}

export interface SuiteResult {
  readonly name: string;
  readonly description: string;
  readonly skipped?: string;
  readonly workloads: WorkloadResult[];
}

export interface RunResult {
  readonly startedAt: string;
  readonly node: string;
  readonly platform: string;
  readonly cpus: string;
  readonly quick: boolean;
  readonly seconds: number;
  readonly suites: SuiteResult[];
}

export const SUBJECT_UNDER_TEST = 'bunbase';

/** Ratio of BunBase to one peer, oriented so that > 1 always means BunBase is better. */
export function ratioOf(bunbase: SubjectResult, peer: SubjectResult, lowerIsBetter: boolean): number | null {
  if (bunbase.error || peer.error) return null;
  if (bunbase.opsPerSec !== undefined && peer.opsPerSec !== undefined) {
    return peer.opsPerSec > 0 ? bunbase.opsPerSec / peer.opsPerSec : null;
  }
  if (bunbase.value !== undefined && peer.value !== undefined) {
    const [num, den] = lowerIsBetter ? [peer.value, bunbase.value] : [bunbase.value, peer.value];
    return den > 0 ? num / den : null;
  }
  return null;
}

export function ratioKey(suite: string, workload: string, peer: string): string {
  return `${suite}/${workload}/${peer}`;
}

/** Every ratio of a run, keyed "suite/workload/peer". */
export function allRatios(run: RunResult): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of run.suites) {
    for (const w of s.workloads) {
      for (const [peer, r] of Object.entries(w.ratios)) out.set(ratioKey(s.name, w.name, peer), r);
    }
  }
  return out;
}
