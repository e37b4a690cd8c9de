import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { Storage } from '../src/storage/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function tmpDir(t: { teardown: (f: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-basic-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('put, get, delete, range and reopen', async (t) => {
  const dir = tmpDir(t);
  let st = await Storage.open(dir);
  const tx = st.begin();
  for (let i = 0; i < 2000; i++) tx.put('t', enc(`k${String(i).padStart(5, '0')}`), enc(`v${i}`));
  await tx.commit();
  const r = st.begin({ readOnly: true });
  t.equal(dec(r.get('t', enc('k00042'))), 'v42');
  t.equal(r.get('t', enc('nope')), undefined);
  const keys = [...r.range('t', { gte: enc('k00010'), lt: enc('k00020') })].map(([k]) => dec(k));
  t.equal(keys.length, 10);
  t.equal(keys[0], 'k00010');
  const rev = [...r.range('t', { lte: enc('k00019'), gt: enc('k00010'), reverse: true, limit: 3 })].map(
    ([k]) => dec(k),
  );
  t.same(rev, ['k00019', 'k00018', 'k00017']);
  r.abort();
  await st.transaction(async (tx) => {
    let deleted = 0;
    for (let i = 0; i < 2000; i += 2) if (tx.delete('t', enc(`k${String(i).padStart(5, '0')}`))) deleted++;
    t.equal(deleted, 1000);
  });
  t.equal(st.verify().keys, 1000);
  await st.close();
  st = await Storage.open(dir);
  const r2 = st.begin();
  t.equal([...r2.range('t')].length, 1000);
  t.equal(dec(r2.get('t', enc('k00043'))), 'v43');
  t.equal(r2.get('t', enc('k00042')), undefined);
  t.same(st.trees(), ['t']);
  t.equal(st.verify().keys, 1000);
  await st.close();
});

t.test('large values use overflow pages and survive reopen', async (t) => {
  const dir = tmpDir(t);
  let st = await Storage.open(dir, { pageSize: 4096 });
  const big = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  await st.transaction((tx) => {
    tx.put('b', enc('big'), big);
    tx.put('b', enc('small'), enc('x'));
  });
  t.ok(Buffer.from(st.begin().get('b', enc('big'))!).equals(big), 'big value intact');
  st.verify();
  await st.close();
  st = await Storage.open(dir);
  t.ok(Buffer.from(st.begin().get('b', enc('big'))!).equals(big), 'big value intact');
  await st.transaction((tx) => {
    tx.delete('b', enc('big'));
  });
  st.verify();
  await st.close();
});

t.test(
  'the store keeps its own copies: callers changing their Buffers or the results change nothing',
  async (t) => {
    const dir = tmpDir(t);
    let st = await Storage.open(dir, { cacheBytes: 0 });
    const key = Buffer.from('reused-key');
    const value = Buffer.from('value-one');
    let tx = st.begin();
    tx.put('t', key, value);
    for (let i = 0; i < 300; i++)
      tx.put('t', Buffer.from(`k${String(i).padStart(4, '0')}`), Buffer.alloc(200, i));
    // A caller reusing its Buffers (Buffer#slice is a view, not a copy) before and after commit.
    key.write('mutated!!!');
    value.write('changed!!');
    t.equal(dec(tx.get('t', Buffer.from('reused-key'))), 'value-one', 'own write unchanged');
    await tx.commit();
    tx = st.begin({ readOnly: true });
    const got = tx.get('t', Buffer.from('reused-key'))!;
    t.equal(dec(got), 'value-one');
    got.fill(0);
    for (const [k, v] of tx.range('t', { limit: 50 })) {
      k.fill(0xff);
      v.fill(0xff);
    }
    t.equal(dec(tx.get('t', Buffer.from('reused-key'))), 'value-one', 'changing a result changes nothing');
    const entries = [...tx.range('t', { limit: 3 })].map(([k, v]) => [dec(k), v[0]]);
    t.same(entries, [
      ['k0000', 0],
      ['k0001', 1],
      ['k0002', 2],
    ]);
    tx.abort();
    t.equal(st.verify().keys, 301);
    await st.close();
    // Pages read back from disk: results are copies there too.
    st = await Storage.open(dir, { cacheBytes: 0 });
    tx = st.begin({ readOnly: true });
    for (const [k, v] of tx.range('t')) {
      k.fill(0);
      v.fill(0);
    }
    t.same(
      [...tx.range('t', { limit: 2 })].map(([k]) => dec(k)),
      ['k0000', 'k0001'],
    );
    t.equal(dec(tx.get('t', Buffer.from('reused-key'))), 'value-one');
    tx.abort();
    t.equal(st.verify().keys, 301);
    await st.close();
  },
);
