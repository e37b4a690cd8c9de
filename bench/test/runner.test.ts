import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { checkAgainstBaseline, suitesOf, updatedBaseline } from '../src/baseline.js';
import { timedLoop } from '../src/drivers/timed-loop.js';
import { markdownReport } from '../src/report.js';
import { allRatios } from '../src/results.js';
import { failures, runSuites } from '../src/runner.js';
import { defineSuite } from '../src/suite.js';

const quiet = { quick: true, seconds: 0.05, log: () => {} };

t.test('timedLoop runs async ops with the requested concurrency and counts ops per call', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const seen = new Set<number>();
  const r = await timedLoop(
    async (i) => {
      seen.add(i);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(2);
      inFlight--;
    },
    { seconds: 0.1, warmupSeconds: 0.01, concurrency: 8, opsPerCall: 10 },
  );
  t.equal(maxInFlight, 8);
  t.ok(r.ops > 0 && r.ops % 10 === 0, 'ops are whole calls times opsPerCall');
  t.ok(r.p50Ms >= 1, 'latency measures the awaited call');
  t.ok(r.p99Ms >= r.p50Ms);
  t.equal(seen.size, Math.max(...seen) + 1, 'call numbers are unique and dense');
});

t.test('timedLoop runs sync ops', async (t) => {
  let calls = 0;
  const r = await timedLoop(
    () => {
      calls++;
    },
    { seconds: 0.02, warmupSeconds: 0, concurrency: 1, opsPerCall: 1 },
  );
  t.ok(calls > 100);
  t.ok(r.ops > 0 && r.ops < calls, 'the first call and warm-up are not counted');
});

t.test('runSuites runs every subject, computes oriented ratios and reports errors', async (t) => {
  const suite = defineSuite({
    name: 'demo',
    description: 'a test suite',
    workloads: [
      {
        name: 'sleepy',
        concurrency: 2,
        subjects: [
          { system: 'bunbase', op: () => sleep(1) },
          { system: 'slowpeer', op: () => sleep(4) },
          {
            system: 'brokenpeer',
            op: () => {
              throw new Error('boom');
            },
          },
        ],
      },
      {
        name: 'size',
        lowerIsBetter: true,
        subjects: [
          { system: 'bunbase', measure: () => ({ value: 50, unit: 'B/doc' }) },
          { system: 'bigpeer', measure: () => ({ value: 200, unit: 'B/doc' }) },
        ],
      },
      {
        name: 'micro',
        kind: 'micro',
        subjects: [{ system: 'bunbase', op: () => void Math.sqrt(2) }],
      },
    ],
  });
  const skipped = defineSuite({
    name: 'absent',
    description: 'x',
    unavailable: () => 'no server',
    workloads: [],
  });
  const teardowns: string[] = [];
  const withState = defineSuite({
    name: 'stateful',
    description: 'setup state reaches op and teardown',
    workloads: [
      {
        name: 'w',
        subjects: [
          {
            system: 'bunbase',
            setup: (ctx) => ({ dir: ctx.tmpDir('x'), n: 0 }),
            op: (s: { n: number }) => {
              s.n++;
            },
            teardown: (s: { n: number; dir: string }) => {
              teardowns.push(`${s.n > 0}:${s.dir.includes('bunbase-bench-')}`);
            },
          },
        ],
      },
    ],
  });
  const run = await runSuites([suite, skipped, withState], quiet);
  const [demo, absent] = run.suites;
  t.equal(absent!.skipped, 'no server');
  const sleepy = demo!.workloads[0]!;
  t.ok(sleepy.ratios.slowpeer! > 1.5, `bunbase (1 ms) beats slowpeer (4 ms): ${sleepy.ratios.slowpeer}`);
  t.equal(sleepy.ratios.brokenpeer, undefined, 'no ratio against a failed subject');
  t.equal(demo!.workloads[1]!.ratios.bigpeer, 4, 'smaller is better: 200 / 50');
  t.ok(demo!.workloads[2]!.results[0]!.opsPerSec! > 0);
  t.same(failures(run), ['demo/sleepy/brokenpeer: boom']);
  t.same(teardowns, ['true:true']);
  t.match(markdownReport(run), /\| sleepy ×2 \| slowpeer \| .* ops\/s \|/);
  t.match(markdownReport(run), /Skipped: no server/);

  const ratios = allRatios(run);
  t.equal(ratios.get('demo/size/bigpeer'), 4);
  const base = updatedBaseline(null, run);
  t.equal(base.ratios['demo/size/bigpeer'], 4);
  const ok = checkAgainstBaseline(run, base, new Set(['demo']));
  t.equal(ok.collapsed.length, 0);
  t.ok(ok.checked >= 2);
  const collapsed = checkAgainstBaseline(
    run,
    { ratios: { 'demo/size/bigpeer': 8.1, 'demo/gone/x': 1, 'other/w/p': 100 } },
    new Set(['demo']),
  );
  t.same(collapsed.collapsed, [{ key: 'demo/size/bigpeer', baseline: 8.1, now: 4 }], 'below half collapses');
  t.same(collapsed.missing, ['demo/gone/x'], 'a baseline entry of a suite that ran must have a result');
  const notCollapsed = checkAgainstBaseline(run, { ratios: { 'demo/size/bigpeer': 7.9 } }, new Set(['demo']));
  t.equal(notCollapsed.collapsed.length, 0, 'a drop to just above half is noise, not a collapse');

  const quickBase = updatedBaseline({ ratios: { 'demo/size/bigpeer': 100 } }, run, true);
  t.equal(quickBase.quick?.['demo/size/bigpeer'], 4, 'a quick run updates the quick map');
  t.equal(quickBase.ratios['demo/size/bigpeer'], 100, '... and leaves the full map alone');
  t.equal(
    checkAgainstBaseline(run, quickBase, new Set(['demo']), true).collapsed.length,
    0,
    'quick vs quick',
  );
  t.equal(
    checkAgainstBaseline(run, quickBase, new Set(['demo']), false).collapsed.length,
    1,
    'a full run is checked against the full map',
  );
  const slow = {
    ...run,
    suites: [{ ...demo!, workloads: demo!.workloads.map((w) => ({ ...w, ratios: {} })) }],
  };
  const noisy = {
    ...run,
    suites: [{ ...demo!, workloads: demo!.workloads.map((w) => ({ ...w, ratios: { bigpeer: 1 } })) }],
  };
  t.same(
    checkAgainstBaseline([noisy, run], { ratios: { 'demo/size/bigpeer': 7.9 } }, new Set(['demo'])).collapsed,
    [],
    'over several runs a ratio is judged by its best run',
  );
  t.same(
    checkAgainstBaseline([noisy, slow], { ratios: { 'demo/size/bigpeer': 7.9 } }, new Set(['demo']))
      .collapsed,
    [{ key: 'demo/size/bigpeer', baseline: 7.9, now: 1 }],
    '... and collapses when every run is below half',
  );
  t.same(suitesOf(['a/w/p', 'b/w/p', 'a/v/q']), ['a', 'b']);
  t.equal(
    checkAgainstBaseline(run, { ratios: {} }, new Set(['demo']), true).checked,
    0,
    'no quick map: nothing',
  );
});
