import type { RunResult, SubjectResult, WorkloadResult } from './results.js';

function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toPrecision(3);
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 0.01) return `${(ms * 1000).toFixed(2)} µs`;
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  return `${ms.toFixed(2)} ms`;
}

function throughput(r: SubjectResult): string {
  if (r.error) return `error: ${r.error.split('\n')[0]}`;
  if (r.opsPerSec !== undefined) return `${fmtNumber(r.opsPerSec)} ops/s`;
  if (r.value !== undefined) return `${fmtNumber(r.value)} ${r.unit ?? ''}`.trim();
  return '–';
}

function ratioCell(w: WorkloadResult, system: string): string {
  if (system === 'bunbase') return '—';
  const r = w.ratios[system];
  return r === undefined ? '–' : `${r.toFixed(2)}×`;
}

/** A markdown table per suite: one row per system per workload; the last column is BunBase ÷ that peer. */
export function markdownReport(run: RunResult): string {
  const lines: string[] = [];
  lines.push(
    `Benchmarks — ${run.startedAt}, node ${run.node}, ${run.cpus}${run.quick ? ', QUICK mode (smoke only)' : ''}`,
    '',
  );
  for (const s of run.suites) {
    lines.push(`### ${s.name} — ${s.description}`, '');
    if (s.skipped) {
      lines.push(`Skipped: ${s.skipped}`, '');
      continue;
    }
    lines.push(
      '| workload | system | throughput | p50 | p99 | BunBase advantage |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const w of s.workloads) {
      const label = `${w.name}${w.opsPerCall > 1 ? ` (${w.opsPerCall}/call)` : ''}${w.concurrency > 1 ? ` ×${w.concurrency}` : ''}`;
      for (const r of w.results) {
        lines.push(
          `| ${label} | ${r.system} | ${throughput(r)} | ${fmtMs(r.p50Ms)} | ${fmtMs(r.p99Ms)} | ${ratioCell(w, r.system)} |`,
        );
      }
    }
    lines.push('');
  }
  lines.push('Latencies are per call (a call may be a batch). Advantage > 1× means BunBase is better.');
  return lines.join('\n');
}
