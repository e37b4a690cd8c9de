import { writeSync } from 'node:fs';
import { referenceDocs } from '../data.js';
import { seededRandom } from '../rng.js';
import { dirBytes, docSystems } from './doc-stores.js';

// One document store in a process of its own, for what a shared bench process cannot measure: the
// memory one system takes, and recovery after kill -9. Prints one JSON line on stdout.
//   doc-store-child.js memory <system> <dir> <docs>   load docs in batches of 1000, read each once
//   doc-store-child.js build  <system> <dir> <docs>   load docs in batches of 1000, close
//   doc-store-child.js tail   <system> <dir> <n>      n single-document durable inserts, then SIGKILL
//   doc-store-child.js open   <system> <dir> <ids>    open and read the comma-separated ids, timed

const BATCH = 1000;

function reply(result: Record<string, unknown>): void {
  // A synchronous write: `tail` kills the process right after it.
  writeSync(1, `${JSON.stringify(result)}\n`);
}

async function memory(system: string, dir: string, count: number): Promise<void> {
  const docs = referenceDocs(count);
  const order = docs.map((d) => d._id);
  const random = seededRandom(11);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const rssBefore = process.memoryUsage().rss;
  const store = await docSystems[system]!.open(dir);
  for (let i = 0; i < docs.length; i += BATCH) await store.insertBatch(docs.slice(i, i + BATCH));
  for (const id of order) if ((await store.get(id)) === null) throw new Error(`missing ${id}`);
  const peak = process.resourceUsage().maxRSS * 1024;
  const rssAfter = process.memoryUsage().rss;
  await store.close();
  reply({ peakGrowth: peak - rssBefore, rssGrowth: rssAfter - rssBefore });
}

async function build(system: string, dir: string, count: number): Promise<void> {
  const store = await docSystems[system]!.open(dir);
  for (let first = 0; first < count; first += BATCH) {
    await store.insertBatch(referenceDocs(Math.min(BATCH, count - first), 1000 + first / BATCH, first));
  }
  await store.close();
  reply({ bytes: dirBytes(dir) });
}

async function tail(system: string, dir: string, count: number): Promise<void> {
  const store = await docSystems[system]!.open(dir);
  const docs = referenceDocs(count, 77);
  let last = '';
  for (const [i, d] of docs.entries()) {
    last = `t${i}`;
    await store.insertOne({ ...d, _id: last });
  }
  reply({ lastAcknowledged: last, bytes: dirBytes(dir) });
  process.kill(process.pid, 'SIGKILL');
}

/** Opens the store and reads `ids`: the time of both, in a process that has done nothing else yet. */
async function open(system: string, dir: string, ids: readonly string[]): Promise<void> {
  const start = performance.now();
  const store = await docSystems[system]!.open(dir);
  const got: unknown[] = [];
  for (const id of ids) got.push(await store.get(id));
  const ms = performance.now() - start;
  await store.close();
  reply({ ms, lost: ids.filter((_, i) => got[i] === null) });
}

const [task, system, dir, arg] = process.argv.slice(2);
const counted: Record<string, (s: string, d: string, n: number) => Promise<void>> = { memory, build, tail };
if (!system || !docSystems[system] || !dir || !arg) {
  console.error('usage: doc-store-child.js memory|build|tail <system> <dir> <count>');
  console.error('       doc-store-child.js open <system> <dir> <id,id,...>');
  process.exit(2);
}
if (task === 'open') await open(system, dir, arg.split(','));
else {
  const run = counted[task ?? ''];
  const n = Number(arg);
  if (!run || !(n > 0)) {
    console.error(`unknown task ${task} or bad count ${arg}`);
    process.exit(2);
  }
  await run(system, dir, n);
}
