/**
 * maxmemory and its policies: OOM under noeviction, eviction that keeps memory bounded under the others,
 * the sampled LRU/LFU keeping hot keys, volatile policies touching only keys with a TTL, and evictions
 * reaching keyspace notifications and the AOF. Limits are set relative to the memory in use at the start
 * of each test, with values large enough (16 KiB) and limits loose enough (32 MiB above the start) that the dataset dominates the measurement.
 */
import { getHeapStatistics } from 'node:v8';
import t from 'tap';
import { Bunder, ReplyError } from '../src/index.js';
import { collectGarbage } from '../src/util/memory.js';

// A Buffer becomes a fresh 8 KiB string on every call (one shared JS string would be stored by reference).
const VALUE = Buffer.alloc(16384, 'v');
const used = () => {
  const h = getHeapStatistics();
  return h.used_heap_size + h.external_memory;
};

async function open(policy: string, headroom: number) {
  // Measured after a full collection, so that earlier tests' garbage does not inflate the limit.
  collectGarbage();
  const kv = await Bunder.open({ maxmemoryPolicy: policy });
  await kv.call('CONFIG', 'SET', 'maxmemory', String(used() + headroom));
  return kv;
}

t.test('noeviction refuses writes with OOM once over the limit; reads and deletes still work', async (t) => {
  const kv = await open('noeviction', 16 << 20);
  let oom: unknown = null;
  let written = 0;
  for (let i = 0; i < 5000 && oom === null; i++) {
    const r = await kv.call('SET', `k${i}`, VALUE);
    if (r instanceof ReplyError) oom = r;
    else written++;
  }
  t.match(String(oom), /^ReplyError: OOM command not allowed when used memory > 'maxmemory'\./);
  t.ok(written > 500, `${written} writes before the limit`);
  t.equal((await kv.call('GET', 'k0'))?.toString(), VALUE.toString(), 'reads are served');
  // (a collection may bring memory back under the limit for a moment: keep growing until refused)
  let listRefused = false;
  for (let i = 0; i < 200 && !listRefused; i++)
    listRefused = /OOM/.test(String(await kv.call('RPUSH', 'l', VALUE)));
  t.ok(listRefused, 'every growing command is refused, not only SET');
  await kv.call('MULTI');
  let queued = 0;
  for (let i = 0; i < 200; i++) {
    if ((await kv.call('SET', `m${i}`, VALUE)) !== 'QUEUED') break;
    queued++;
  }
  t.ok(queued < 200, `a command refused while queueing (${queued} queued before)`);
  t.match(String(await kv.call('EXEC')), /EXECABORT/, 'a transaction with a refused command aborts');
  t.equal(await kv.call('DEL', 'k0'), 1, 'DEL is not refused');
  await kv.call('CONFIG', 'SET', 'maxmemory', '0');
  t.equal(await kv.call('SET', 'a', 'b'), 'OK', 'maxmemory 0 lifts the limit');
  await kv.close();
});

for (const policy of ['allkeys-random', 'allkeys-lru', 'allkeys-lfu']) {
  t.test(`${policy} evicts to stay within the limit, never refusing a write`, async (t) => {
    const kv = await open(policy, 32 << 20);
    for (let i = 0; i < 4000; i++) {
      const r = await kv.call('SET', `k${i}`, VALUE);
      if (r instanceof ReplyError) {
        t.fail(`write ${i} refused: ${r.message}`);
        break;
      }
    }
    const info = String(await kv.call('INFO', 'stats'));
    const evicted = Number(/evicted_keys:(\d+)/.exec(info)![1]);
    const size = Number(await kv.call('DBSIZE'));
    t.ok(evicted > 1000, `${evicted} keys evicted`);
    t.equal(size + evicted, 4000, 'every key is either present or counted as evicted');
    t.ok(size * VALUE.length < 40 << 20, `${size} keys left, about ${(size * VALUE.length) >> 20} MiB`);
    await kv.close();
  });
}

for (const policy of ['allkeys-lru', 'allkeys-lfu']) {
  t.test(`${policy} keeps the keys that are used`, async (t) => {
    const kv = await open(policy, 32 << 20);
    const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`);
    for (const k of hot) await kv.call('SET', k, VALUE);
    for (let i = 0; i < 3000; i++) {
      await kv.call('SET', `cold${i}`, VALUE);
      // the hot keys are read all along (several times each, so LFU counters rise too)
      for (let r = 0; r < 3; r++) await kv.call('GET', hot[(i * 3 + r) % hot.length]!);
    }
    let hotLeft = 0;
    for (const k of hot) if ((await kv.call('EXISTS', k)) === 1) hotLeft++;
    let coldLeft = 0;
    for (let i = 0; i < 3000; i++) if ((await kv.call('EXISTS', `cold${i}`)) === 1) coldLeft++;
    t.ok(hotLeft / hot.length > 0.8, `${hotLeft}/50 hot keys survive`);
    t.ok(coldLeft / 3000 < 0.7, `${coldLeft}/3000 cold keys survive`);
    await kv.close();
  });
}

t.test('volatile-ttl evicts only keys with a TTL, the nearest expiries of each sample first', async (t) => {
  const kv = await open('volatile-ttl', 32 << 20);
  for (let i = 0; i < 300; i++) await kv.call('SET', `keep${i}`, VALUE);
  // TTLs in random order, so that which keys go says something about the policy, not about insertion
  const ttl = (i: number) => 1000 + ((i * 7919) % 3000) * 100;
  for (let i = 0; i < 3000; i++) await kv.call('SET', `t${i}`, VALUE, 'EX', String(ttl(i)));
  let kept = 0;
  for (let i = 0; i < 300; i++) kept += Number(await kv.call('EXISTS', `keep${i}`));
  t.equal(kept, 300, 'no key without a TTL was evicted');
  const gone: number[] = [];
  const left: number[] = [];
  for (let i = 0; i < 3000; i++) ((await kv.call('EXISTS', `t${i}`)) === 1 ? left : gone).push(ttl(i));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // ~1250 should go (52 MiB written, 32 MiB of headroom); heap accounting moved it between 480 and 1160.
  t.ok(gone.length > 200, `${gone.length} volatile keys evicted`);
  t.ok(mean(gone) < mean(left) * 0.8, `mean TTL evicted ${mean(gone) | 0} s, kept ${mean(left) | 0} s`);
  // With nothing volatile left to evict, writes are refused.
  await kv.call('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
  let refused = false;
  for (let i = 0; i < 6000 && !refused; i++) {
    refused = (await kv.call('SET', `more${i}`, VALUE)) instanceof ReplyError;
  }
  t.ok(refused, 'OOM once only keys without a TTL remain');
  await kv.close();
});

t.test('evictions are notified, propagated and counted; OBJECT reports access data', async (t) => {
  const kv = await open('allkeys-lru', 16 << 20);
  await kv.call('CONFIG', 'SET', 'notify-keyspace-events', 'Eeg');
  const events: string[] = [];
  kv.on('keyspace', (ev) => {
    if (ev.event === 'evicted') events.push(ev.key.toString());
  });
  const propagated: string[][] = [];
  kv.engine.propagate = (_db, argv) => propagated.push([...argv]);
  for (let i = 0; i < 2000; i++) await kv.call('SET', `k${i}`, VALUE);
  t.ok(events.length > 0, `${events.length} evicted events`);
  const dels = propagated.filter((a) => a[0] === 'DEL').map((a) => a[1]);
  t.same(dels, events, 'each eviction reaches the AOF as a DEL, in order');
  await kv.call('SET', 'idle', 'x');
  t.equal(await kv.call('OBJECT', 'IDLETIME', 'idle'), 0);
  t.match(String(await kv.call('OBJECT', 'FREQ', 'idle')), /LFU maxmemory policy is not selected/);
  await kv.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu');
  await kv.call('SET', 'f', 'x');
  for (let i = 0; i < 100; i++) await kv.call('GET', 'f');
  t.ok(Number(await kv.call('OBJECT', 'FREQ', 'f')) > 5, 'the LFU counter rises with accesses');
  await kv.close();
});

// From the first OBJECT IDLETIME on (before it, keys read as just used). Not differential: the reference Redis caches its LRU clock in serverCron, and on this machine (whose clock
// steps) it reported 6 s and 1827 s of idle time for keys written the moment before.
t.test('OBJECT IDLETIME under every non-LFU policy (1.1 s of idling)', async (t) => {
  const kv = await Bunder.open();
  t.teardown(() => kv.close());
  t.equal(kv.engine.ks.tracking, null, 'by default no access data is kept (a map entry per key)');
  for (const policy of ['noeviction', 'volatile-ttl', 'allkeys-random', 'volatile-lru']) {
    await kv.call('CONFIG', 'SET', 'maxmemory-policy', policy);
    await kv.call('SET', 'a', '1');
    await kv.call('SET', 'b', '1');
    t.equal(await kv.call('OBJECT', 'IDLETIME', 'a'), 0, `${policy}: just written`);
  }
  await new Promise((r) => setTimeout(r, 1100));
  await kv.call('GET', 'b');
  t.equal(await kv.call('OBJECT', 'IDLETIME', 'a'), 1, 'idle for a second');
  t.equal(await kv.call('OBJECT', 'IDLETIME', 'a'), 1, 'OBJECT itself is no access');
  t.equal(await kv.call('OBJECT', 'IDLETIME', 'b'), 0, 'a read is an access');
  await kv.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  t.equal(kv.engine.ks.tracking, 'idle', 'once asked for, idle times are kept under any policy');
  t.equal(await kv.call('OBJECT', 'IDLETIME', 'a'), 1, 'from LRU to idle tracking the times are kept');
  t.equal(await kv.call('OBJECT', 'IDLETIME', 'nosuchkey'), null);
  await kv.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu');
  t.match(String(await kv.call('OBJECT', 'IDLETIME', 'a')), /LFU maxmemory policy is selected/);
});

t.test('the LFU counter decays by one per lfu-decay-time minutes without access', async (t) => {
  const kv = await Bunder.open({ maxmemoryPolicy: 'allkeys-lfu' });
  t.teardown(() => kv.close());
  await kv.call('SET', 'k', 'v');
  t.equal(await kv.call('OBJECT', 'FREQ', 'k'), 5, 'new keys start at 5');
  const ks = kv.engine.ks;
  const access = ks.dbs[0]!.access!;
  // Counter 20, last decremented 7 minutes ago.
  const minutes = Math.floor(Date.now() / 60_000);
  access.set('k', (minutes - 7) * 256 + 20);
  t.equal(await kv.call('OBJECT', 'FREQ', 'k'), 13, 'lfu-decay-time 1: 7 periods');
  await kv.call('CONFIG', 'SET', 'lfu-decay-time', '2');
  t.equal(await kv.call('OBJECT', 'FREQ', 'k'), 17, 'lfu-decay-time 2: 3 periods');
  await kv.call('CONFIG', 'SET', 'lfu-decay-time', '0');
  t.equal(await kv.call('OBJECT', 'FREQ', 'k'), 20, 'lfu-decay-time 0: no decay');
  await kv.call('CONFIG', 'SET', 'lfu-decay-time', '1');
  access.set('k', (minutes - 500) * 256 + 20);
  t.equal(await kv.call('OBJECT', 'FREQ', 'k'), 0, 'never below 0');
  await kv.call('GET', 'k');
  const after = access.get('k')!;
  t.equal(Math.floor(after / 256), Math.floor(Date.now() / 60_000), 'an access restamps the minute');
  t.ok(after % 256 <= 1, 'and counts from the decayed value');
  await kv.call('CONFIG', 'SET', 'lfu-log-factor', '0');
  for (let i = 0; i < 50; i++) await kv.call('GET', 'k');
  t.ok(Number(await kv.call('OBJECT', 'FREQ', 'k')) >= 50, 'lfu-log-factor 0: every access counts');
  for (const [name, bad] of [
    ['lfu-log-factor', '-1'],
    ['lfu-decay-time', '-5'],
    ['lfu-decay-time', 'x'],
  ] as const) {
    t.match(
      String(await kv.call('CONFIG', 'SET', name, bad)),
      /ERR CONFIG SET failed.*(between 0 and|integer)/,
    );
  }
  t.equal(kv.engine.ks.lfuLogFactor, 0, 'refused values changed nothing');
  t.equal(kv.engine.ks.lfuDecayTime, 1);
});
