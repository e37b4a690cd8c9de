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
