import type { Test } from 'tap';
import { runSeed, SimFailure } from './simulation.js';

/** Cluster size and options derived from the seed alone, so SEED=n reproduces a run exactly. */
export function optionsFor(seed: number) {
  return { seed, size: seed % 2 === 1 ? 3 : 5, steps: 400, checkLinearizability: seed % 4 === 0 };
}

/**
 * Runs a range of seeds. SEED=n runs only that seed (with SIM_TRACE=1 for an event trace); SEEDS=N or
 * BUNBASE_STRESS=1 widens the range.
 */
export function runSeedRange(t: Test, part: number, parts: number): void {
  const single = process.env.SEED;
  const total = Number(process.env.SEEDS ?? (process.env.BUNBASE_STRESS ? 20_000 : 2_000));
  const seeds: number[] = [];
  if (single !== undefined) {
    if (part === 0) seeds.push(Number(single));
  } else {
    const per = Math.ceil(total / parts);
    for (let s = part * per + 1; s <= Math.min(total, (part + 1) * per); s++) seeds.push(s);
  }
  const totals: Record<string, number> = {};
  let failures = 0;
  let checked = 0;
  for (const seed of seeds) {
    try {
      const sim = runSeed(optionsFor(seed));
      for (const [k, v] of Object.entries(sim.stats)) totals[k] = (totals[k] ?? 0) + v;
      if (optionsFor(seed).checkLinearizability) checked++;
    } catch (err) {
      failures++;
      t.fail(
        err instanceof SimFailure ? err.message : `seed ${seed} threw (reproduce with SEED=${seed}): ${err}`,
      );
      if (failures >= 5) break;
    }
  }
  t.equal(failures, 0, `${seeds.length} seeds without an invariant violation`);
  t.comment(`${JSON.stringify(totals)}, linearizability checked on ${checked} histories`);
  if (seeds.length >= 500) {
    // the faults the simulation claims to inject did happen
    for (const k of ['elections', 'crashes', 'confChanges', 'snapshots', 'installs', 'writes', 'reads']) {
      t.ok((totals[k] ?? 0) > seeds.length / 10, `${k} happened (${totals[k]})`);
    }
  }
}
