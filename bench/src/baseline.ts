import { allRatios, type RunResult } from './results.js';

export interface Baseline {
  readonly note?: string;
  /** Ratios of full runs. */
  readonly ratios: Record<string, number>;
  /**
   * Ratios of `--quick` runs, which CI checks. Small data shifts ratios a lot (an in-memory peer over 2k
   * documents, a 64-writer workload of a few commits), so quick runs are never compared with full ones.
   */
  readonly quick?: Record<string, number>;
}

/** The baseline ratios a run of this mode is compared with. */
export function ratiosFor(baseline: Baseline, quick: boolean): Record<string, number> {
  return (quick ? baseline.quick : baseline.ratios) ?? {};
}

export interface CheckOutcome {
  readonly collapsed: { key: string; baseline: number; now: number }[];
  readonly missing: string[];
  readonly checked: number;
}

/**
 * A ratio "collapses" when it falls below half its committed baseline. Machines here are noisy, so only a
 * collapse fails: a drift of tens of percent is expected between runs. Given several runs, each key is
 * judged by its best one.
 */
export function checkAgainstBaseline(
  run: RunResult | readonly RunResult[],
  baseline: Baseline,
  suitesRun: Set<string>,
  quick = false,
): CheckOutcome {
  const now = bestRatios(Array.isArray(run) ? run : [run as RunResult]);
  const collapsed: CheckOutcome['collapsed'] = [];
  const missing: string[] = [];
  let checked = 0;
  for (const [key, base] of Object.entries(ratiosFor(baseline, quick))) {
    const suite = key.slice(0, key.indexOf('/'));
    if (!suitesRun.has(suite)) continue;
    const value = now.get(key);
    if (value === undefined) {
      missing.push(key);
      continue;
    }
    checked++;
    if (value < base / 2) collapsed.push({ key, baseline: base, now: value });
  }
  return { collapsed, missing, checked };
}

/**
 * The best ratio of each key over several runs of the same suites. A re-run after a collapse is checked
 * with this: a slow moment of a shared machine rarely repeats, a real regression does.
 */
export function bestRatios(runs: readonly RunResult[]): Map<string, number> {
  const best = new Map<string, number>();
  for (const run of runs) {
    for (const [key, value] of allRatios(run)) {
      const seen = best.get(key);
      if (seen === undefined || value > seen) best.set(key, value);
    }
  }
  return best;
}

/** The suites a set of ratio keys belong to. */
export function suitesOf(keys: readonly string[]): string[] {
  return [...new Set(keys.map((k) => k.slice(0, k.indexOf('/'))))];
}

/** A new baseline from a run (into the map of its mode), keeping entries of suites that did not run. */
export function updatedBaseline(old: Baseline | null, run: RunResult, quick = false): Baseline {
  const ratios: Record<string, number> = { ...(old ? ratiosFor(old, quick) : {}) };
  for (const [key, value] of allRatios(run)) ratios[key] = Math.round(value * 1000) / 1000;
  const sorted = Object.fromEntries(Object.entries(ratios).sort(([a], [b]) => (a < b ? -1 : 1)));
  const next: Baseline = {
    note:
      old?.note ??
      'BunBase/peer ratios (>1: BunBase better). bench --check fails when a ratio falls below half of these.',
    ratios: quick ? (old?.ratios ?? {}) : sorted,
  };
  const quickRatios = quick ? sorted : old?.quick;
  return quickRatios ? { ...next, quick: quickRatios } : next;
}
