import t from 'tap';
import { formatFloors, measureFloors } from '../src/floors.js';

// A smoke run on small data: every part is measured, and the report names each with its figure (the
// figures themselves are not checked: benchmarks are never timed tests).
t.test('measureFloors takes each workload apart and derives the budgets', async (t) => {
  const r = await measureFloors({ docs: 10_000, rounds: 1, queries: 20, seconds: 1 });
  t.equal(r.query.length, 5);
  t.equal(r.bulk.length, 5);
  for (const line of [...r.query, ...r.bulk]) t.ok(line.us > 0 && Number.isFinite(line.us), line.name);
  t.ok(r.writers.bundocPerSec > 0 && r.writers.sqlitePerSec > 0 && r.writers.bundocCpuUs > 0);
  t.equal(r.findings.length, 3);
  const text = formatFloors(r);
  for (const line of [...r.query, ...r.bulk]) t.match(text, line.name);
  t.match(text, /The 2× target gives bundoc [\d.]+ µs per query/);
  t.match(text, /The 1\.5× target gives bundoc [\d.]+ µs per document/);
});
