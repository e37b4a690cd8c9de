import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Bundoc, InvalidArgumentError, MIN_STORE_PAGES, SharedCache, Storage } from '../src/index.js';

// Many databases per process (spec §2): one cache budget shared by every open database, small databases
// that open quickly, and close() that gives every file handle back.

async function tempDir(t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-many-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const openFds = async () => (await readdir('/proc/self/fd')).length;
const key = (i: number) => new TextEncoder().encode(`k${String(i).padStart(7, '0')}`);

t.test('stores sharing a budget stay within it together; idle stores give pages back first', async (t) => {
  const dir = await tempDir(t);
  const cache = new SharedCache(2 * 1024 * 1024); // 256 pages of 8 KiB
  const stores = await Promise.all(
    ['a', 'b', 'c'].map((n) => Storage.open(path.join(dir, n), { cache, durability: 'off' })),
  );
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  const value = new Uint8Array(300);
  for (const st of stores) {
    for (let b = 0; b < 20; b++) {
      const tx = st.begin();
      for (let i = 0; i < 1000; i++) tx.put('t', key(b * 1000 + i), value);
      await tx.commit();
      t.ok(cache.usedBytes <= cache.bytes, `within budget after a commit (${cache.usedBytes})`);
    }
  }
  const pages = () => stores.map((s) => s.stats().cache.pages);
  t.ok(
    pages().every((p) => p >= MIN_STORE_PAGES),
    `every store keeps at least ${MIN_STORE_PAGES} pages: ${pages()}`,
  );
  t.ok(pages()[0]! < pages()[2]!, `writers in turn: the last one holds the most: ${pages()}`);
  t.equal(stores[0]!.stats().cache.shared?.stores, 3);
  // Store a reads everything again, b and c are idle: they give their pages up to a.
  const before = pages();
  for (let round = 0; round < 2; round++) {
    const r = stores[0]!.begin({ readOnly: true });
    for (let i = 0; i < 20_000; i += 7) r.get('t', key(i));
    r.abort();
    stores[0]!.begin({ readOnly: true }).abort();
  }
  // Reads evict when the next write ends; one small commit on a triggers it.
  const tx = stores[0]!.begin();
  tx.put('t', key(0), value);
  await tx.commit();
  const after = pages();
  t.ok(cache.usedBytes <= cache.bytes, 'within budget after the reads');
  t.ok(after[0]! > 2 * before[0]!, `the busy store took the idle ones' memory: ${before} -> ${after}`);
  t.ok(
    after[2]! < before[2]! && after[1]! === MIN_STORE_PAGES,
    `the idle stores shrank: ${before} -> ${after}`,
  );
  for (const st of stores) {
    const r = st.begin({ readOnly: true });
    let n = 0;
    for (const _ of r.range('t')) n++;
    r.abort();
    t.equal(n, 20_000, 'every key still there');
    t.equal((await st.verify()).keys, 20_000, 'the tree verifies');
  }
  await stores[2]!.close();
  t.equal(cache.stats().stores, 2, 'a closed store leaves the budget');
  t.ok(cache.usedBytes <= (stores[0]!.stats().cache.pages + stores[1]!.stats().cache.pages) * 8192);
});

t.test(
  'hundreds of databases open at once under one configured budget; close releases every handle',
  async (t) => {
    const dir = await tempDir(t);
    const N = 300;
    const OPEN = 200;
    const fdsBefore = await openFds();
    Bundoc.configure({ cacheBytes: 4 * 1024 * 1024 });
    t.teardown(() => Bundoc.configure({ cacheBytes: null }));
    const shared = Bundoc.sharedCache!;
    for (let i = 0; i < N; i++) {
      const db = await Bundoc.open(path.join(dir, `p${i}`), { durability: 'normal' });
      await db.collection('users').insertMany(Array.from({ length: 20 }, (_, j) => ({ _id: j, project: i })));
      await db.close();
    }
    t.equal(await openFds(), fdsBefore, `creating and closing ${N} databases leaks no file handle`);
    t.equal(shared.stats().stores, 0);

    const open: Bundoc[] = [];
    for (let i = 0; i < OPEN; i++) open.push(await Bundoc.open(path.join(dir, `p${(i * 7) % N}`)));
    t.equal(shared.stats().stores, OPEN, 'every database joined the configured budget');
    t.ok(open[0]!.storage.stats().cache.shared !== undefined);
    for (let round = 0; round < 2; round++) {
      await Promise.all(
        open.map(async (db, i) => {
          const users = db.collection('users');
          const doc = await users.get(i % 20);
          if (doc?.project !== (i * 7) % N)
            throw new Error(`database ${i}: wrong document ${JSON.stringify(doc)}`);
          await users.updateOne({ _id: i % 20 }, { $inc: { visits: 1 } });
        }),
      );
    }
    t.ok(shared.usedBytes <= shared.bytes, `${OPEN} open databases within 4 MiB: ${shared.usedBytes} bytes`);
    const fdsOpen = await openFds();
    t.ok(
      fdsOpen - fdsBefore <= OPEN * 3,
      `a few handles per open database (${fdsOpen - fdsBefore} for ${OPEN})`,
    );
    await Promise.all(open.map((db) => db.close()));
    t.equal(await openFds(), fdsBefore, 'closing them releases every handle');
    t.equal(shared.stats().stores, 0);
    t.equal(shared.usedBytes, 0, 'and every cached page');

    // What they wrote is there after reopening (with a private cache: configure(null)).
    Bundoc.configure({ cacheBytes: null });
    const db = await Bundoc.open(path.join(dir, 'p7'));
    t.equal(
      db.storage.stats().cache.shared,
      undefined,
      'configure({ cacheBytes: null }): private caches again',
    );
    t.same(await db.collection('users').get(1), { _id: 1, project: 7, visits: 2 });
    await db.close();
  },
);

t.test('bad cache settings are refused', async (t) => {
  const dir = await tempDir(t);
  t.throws(() => new SharedCache(-1), InvalidArgumentError);
  t.throws(() => new SharedCache(Number.NaN), InvalidArgumentError);
  t.throws(() => new SharedCache('1' as never), InvalidArgumentError);
  t.throws(() => Bundoc.configure(null as never), InvalidArgumentError);
  t.throws(() => Bundoc.configure({ cacheByte: 1 } as never), /unknown configure setting/);
  t.throws(() => Bundoc.configure({ cacheBytes: -5 }), InvalidArgumentError);
  t.equal(Bundoc.sharedCache, undefined, 'a refused configure changes nothing');
  await t.rejects(Storage.open(dir, { cache: {} as never }), InvalidArgumentError);
  await t.rejects(Storage.open(dir, { cache: new SharedCache(1 << 20), cacheBytes: 1 << 20 }), /not both/);
  t.same(await readdir(dir), [], 'nothing was created');
});

t.test('busy stores share the budget evenly', async (t) => {
  const dir = await tempDir(t);
  const cache = new SharedCache(1024 * 1024); // 128 pages
  const stores = await Promise.all(
    ['a', 'b'].map((n) => Storage.open(path.join(dir, n), { cache, durability: 'off' })),
  );
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  // Both write in alternation, so neither is ever idle.
  for (let b = 0; b < 30; b++) {
    for (const st of stores) {
      const tx = st.begin();
      for (let i = 0; i < 500; i++) tx.put('t', key(b * 500 + i), new Uint8Array(200));
      await tx.commit();
    }
  }
  const [a, b] = stores.map((s) => s.stats().cache.pages) as [number, number];
  t.ok(cache.usedBytes <= cache.bytes);
  t.ok(Math.abs(a - b) <= 8, `even shares: ${a} and ${b} pages`);
});
