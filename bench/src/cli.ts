#!/usr/bin/env node
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Baseline, checkAgainstBaseline, suitesOf, updatedBaseline } from './baseline.js';
import { discoverSuites } from './discover.js';
import { markdownReport } from './report.js';
import { failures, runSuites } from './runner.js';

const HELP = `bunbase-bench — BunBase against its peers, same workload, same run

  npm run bench [-- options]
    --quick              a few seconds per suite with small data (CI smoke test)
    --suite NAME         run only this suite (repeatable)
    --seconds N          measurement time per system per workload (default 3, quick 0.3)
    --check              fail when a ratio falls below half of bench/baseline.json (the
                         quick map for --quick runs, the full map otherwise); the suites of
                         collapsed ratios are re-run up to twice and each ratio is judged
                         by its best run
    --update-baseline    write this run's ratios into bench/baseline.json (same map)
    --list               list the suites and exit
    --out DIR            where to write latest.json and latest.md (default bench/results)
    --baseline FILE      baseline file (default bench/baseline.json)
Writes latest.json and latest.md (a markdown table) into the results directory.`;

/** How many times the suites of collapsed ratios are re-run before a collapse fails the check. */
const RECHECKS = 2;

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      suite: { type: 'string', multiple: true },
      seconds: { type: 'string' },
      check: { type: 'boolean', default: false },
      'update-baseline': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      out: { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const all = await discoverSuites(join(here, 'suites'));
  if (values.list) {
    for (const s of all) console.log(`${s.name}\t${s.description}`);
    return 0;
  }
  const wanted = values.suite ?? [];
  const unknown = wanted.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const suites = wanted.length > 0 ? all.filter((s) => wanted.includes(s.name)) : all;
  const seconds = values.seconds !== undefined ? Number(values.seconds) : values.quick ? 0.3 : 3;
  if (!(seconds > 0)) {
    console.error(`--seconds must be a positive number, got ${values.seconds}`);
    return 2;
  }

  const run = await runSuites(suites, { quick: values.quick, seconds, log: (l) => console.error(l) });
  const resultsDir = values.out ?? join(pkgDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const md = markdownReport(run);
  writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(resultsDir, 'latest.md'), `${md}\n`);
  console.log(md);

  let status = 0;
  const broken = failures(run);
  if (broken.length > 0) {
    console.error(`\n${broken.length} workload run(s) failed:\n  ${broken.join('\n  ')}`);
    status = 1;
  }

  const baselinePath = values.baseline ?? join(pkgDir, 'baseline.json');
  const baseline: Baseline | null = existsSync(baselinePath)
    ? (JSON.parse(readFileSync(baselinePath, 'utf8')) as Baseline)
    : null;
  if (values.check) {
    if (!baseline) {
      console.error('--check: bench/baseline.json is missing');
      return 1;
    }
    const ran = new Set(run.suites.filter((s) => !s.skipped).map((s) => s.name));
    const runs = [run];
    let outcome = checkAgainstBaseline(runs, baseline, ran, values.quick);
    for (let retry = 1; retry <= RECHECKS && outcome.collapsed.length > 0; retry++) {
      const again = suitesOf(outcome.collapsed.map((c) => c.key));
      for (const c of outcome.collapsed) {
        console.error(`check: ${c.key}: ratio ${c.now.toFixed(3)} < half of baseline ${c.baseline}`);
      }
      console.error(`check: re-running ${again.join(', ')} (recheck ${retry} of ${RECHECKS})`);
      runs.push(
        await runSuites(
          suites.filter((s) => again.includes(s.name)),
          { quick: values.quick, seconds, log: (l) => console.error(l) },
        ),
      );
      outcome = checkAgainstBaseline(runs, baseline, ran, values.quick);
    }
    for (const m of outcome.missing) console.error(`check: no result for baseline entry ${m}`);
    for (const c of outcome.collapsed) {
      console.error(`check: COLLAPSE ${c.key}: ratio ${c.now.toFixed(3)} < half of baseline ${c.baseline}`);
    }
    console.error(`check: ${outcome.checked} ratios checked, ${outcome.collapsed.length} collapsed`);
    if (outcome.collapsed.length > 0 || outcome.missing.length > 0) status = 1;
  }
  if (values['update-baseline']) {
    writeFileSync(baselinePath, `${JSON.stringify(updatedBaseline(baseline, run, values.quick), null, 2)}\n`);
    console.error(`wrote ${baselinePath}`);
  }
  return status;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const usage = e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS');
    console.error(
      usage ? `${(e as Error).message}\n\n${HELP}` : e instanceof Error ? (e.stack ?? e.message) : e,
    );
    process.exitCode = usage ? 2 : 1;
  },
);
