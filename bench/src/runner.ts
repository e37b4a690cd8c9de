import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { microBenchmark } from './drivers/micro.js';
import { timedLoop } from './drivers/timed-loop.js';
import {
  type RunResult,
  ratioOf,
  SUBJECT_UNDER_TEST,
  type SubjectResult,
  type SuiteResult,
  type WorkloadResult,
} from './results.js';
import type { RunContext, Subject, Suite, Workload } from './suite.js';

export interface RunOptions {
  readonly quick: boolean;
  readonly seconds: number;
  /** Called with progress lines (stderr in the CLI). */
  readonly log: (line: string) => void;
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function runSubject(workload: Workload, subject: Subject, ctx: RunContext): Promise<SubjectResult> {
  const opsPerCall = workload.opsPerCall ?? 1;
  let state: unknown;
  try {
    state = await subject.setup?.(ctx);
    if (subject.measure) return { system: subject.system, ...(await subject.measure(state, ctx)) };
    const op = subject.op;
    if (!op) throw new Error('subject has neither op nor measure');
    if (workload.kind === 'micro') {
      const r = microBenchmark(`${workload.name}/${subject.system}`, () => void op(state, 0), ctx.seconds);
      return { system: subject.system, ...r, opsPerSec: r.opsPerSec * opsPerCall };
    }
    const r = await timedLoop((i) => op(state, i), {
      seconds: ctx.seconds,
      warmupSeconds: Math.min(1, ctx.seconds / 5),
      concurrency: workload.concurrency ?? 1,
      opsPerCall,
    });
    return { system: subject.system, ...r };
  } catch (e) {
    return { system: subject.system, error: describeError(e) };
  } finally {
    try {
      await subject.teardown?.(state);
    } catch (e) {
      ctx.log(`teardown of ${subject.system} failed: ${describeError(e)}`);
    }
  }
}

async function runWorkload(workload: Workload, ctx: RunContext): Promise<WorkloadResult> {
  const results: SubjectResult[] = [];
  for (const subject of workload.subjects) {
    ctx.log(`${workload.name}: ${subject.system}`);
    results.push(await runSubject(workload, subject, ctx));
  }
  const lowerIsBetter = workload.lowerIsBetter ?? false;
  const ours = results.find((r) => r.system === SUBJECT_UNDER_TEST);
  const ratios: Record<string, number> = {};
  if (ours) {
    for (const peer of results) {
      if (peer === ours) continue;
      const r = ratioOf(ours, peer, lowerIsBetter);
      if (r !== null) ratios[peer.system] = r;
    }
  }
  return {
    name: workload.name,
    ...(workload.description ? { description: workload.description } : {}),
    kind: workload.kind ?? 'macro',
    opsPerCall: workload.opsPerCall ?? 1,
    concurrency: workload.concurrency ?? 1,
    lowerIsBetter,
    results,
    ratios,
  };
}

/** Runs every workload of every suite, BunBase and its peers one after the other in this process. */
export async function runSuites(suites: readonly Suite[], options: RunOptions): Promise<RunResult> {
  const root = mkdtempSync(join(tmpdir(), 'bunbase-bench-'));
  let dirs = 0;
  const out: SuiteResult[] = [];
  try {
    for (const suite of suites) {
      const log = (m: string) => options.log(`[${suite.name}] ${m}`);
      const ctx: RunContext = {
        quick: options.quick,
        seconds: options.seconds,
        log,
        tmpDir: (label) =>
          mkdtempSync(join(root, `${String(dirs++).padStart(3, '0')}-${label.replace(/[^\w.-]/g, '_')}-`)),
      };
      let skipped: string | null = null;
      try {
        skipped = (await suite.unavailable?.()) ?? null;
      } catch (e) {
        skipped = `availability check failed: ${describeError(e)}`;
      }
      if (skipped) {
        log(`skipped: ${skipped}`);
        out.push({ name: suite.name, description: suite.description, skipped, workloads: [] });
        continue;
      }
      const workloads: WorkloadResult[] = [];
      for (const w of suite.workloads) workloads.push(await runWorkload(w, ctx));
      out.push({ name: suite.name, description: suite.description, workloads });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return {
    startedAt: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: `${cpus().length}× ${cpus()[0]?.model ?? 'unknown cpu'}`,
    quick: options.quick,
    seconds: options.seconds,
    suites: out,
  };
}

/** Every subject that failed, as "suite/workload/system: message". */
export function failures(run: RunResult): string[] {
  const out: string[] = [];
  for (const s of run.suites) {
    for (const w of s.workloads) {
      for (const r of w.results) if (r.error) out.push(`${s.name}/${w.name}/${r.system}: ${r.error}`);
    }
  }
  return out;
}
