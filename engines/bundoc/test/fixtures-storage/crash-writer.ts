// Child process for crash tests: commits forever and reports each acknowledged commit on stdout
// (pipes are synchronous on Linux, so a printed line means the commit had resolved): "A <i>", plus " d"
// when its delete removed a key.
import { Storage } from '../../src/storage/index.js';
import { applyCommit } from './workload.js';

const [dir, durability, startArg, concurrencyArg] = process.argv.slice(2);
let next = Number(startArg);
const concurrency = Number(concurrencyArg ?? 4);

const st = await Storage.open(dir, {
  pageSize: 4096,
  cacheBytes: 48 * 4096,
  durability: durability as 'full' | 'normal' | 'off',
  checkpointBytes: 128 * 1024,
  walSegmentBytes: 64 * 1024,
  checkpointIntervalMs: 0,
});
process.stdout.write('READY\n');

async function writer(): Promise<void> {
  for (;;) {
    const i = next++;
    const removed = await st.transaction((tx) => applyCommit(tx, i));
    process.stdout.write(`A ${i}${removed ? ' d' : ''}\n`);
  }
}
await Promise.all(Array.from({ length: concurrency }, () => writer()));
