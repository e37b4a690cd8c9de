#!/usr/bin/env node
// Sums the closing counts that tap prints per package ("# { total: 9, pass: 8, fail: 1, skip: 0 }")
// and prints the project's one-line summary: "N passed, N failed[, N skipped]".
import { readFileSync } from 'node:fs';

const [file, statusArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tap-summary.mjs <test output file> [exit status of the test command]');
  process.exit(2);
}
const totals = { pass: 0, fail: 0, skip: 0, todo: 0, runs: 0 };
// Runners under lerna may colour their output: strip ANSI escapes before matching.
const ansi = /\x1b\[[0-9;?]*[A-Za-z]/g;
for (const line of readFileSync(file, 'utf8').replace(ansi, '').split('\n')) {
  const m = /^# \{ (total: \d+(?:, \w+: \d+)*) \}\s*$/.exec(line.trim());
  if (!m) continue;
  totals.runs++;
  for (const part of m[1].split(', ')) {
    const [key, value] = part.split(': ');
    if (key in totals) totals[key] += Number(value);
  }
}
// A runner that died before printing its counts still failed: never report an all-green line for it.
if (Number(statusArg ?? 0) !== 0 && totals.fail === 0) {
  console.log(
    'the test command failed without a failing tap count (a crash, or a build error): counted as 1 failure',
  );
  totals.fail = 1;
}
const skipped = totals.skip + totals.todo;
console.log(`tap runs summed: ${totals.runs}`);
console.log(`${totals.pass} passed, ${totals.fail} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
