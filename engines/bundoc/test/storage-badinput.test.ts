import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import CRC32 from 'crc-32';
import t, { type Test } from 'tap';
import {
  BundocError,
  ClosedError,
  EncryptionKeyError,
  FormatError,
  InvalidArgumentError,
  LockedError,
  MAX_VALUE_BYTES,
  Storage,
} from '../src/storage/index.js';
import { buildFixtures } from './fixtures-storage/build.js';
import { dirBytes } from './fixtures-storage/format-reader.js';

// Bad input: every misuse gets a typed error with a clear message, and nothing on disk changes
// (the directory's bytes are compared before and after).

function tmp(t: Test): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-bad-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs `fn`, expects a BundocError of class `cls`, and checks the directory did not change. */
async function refused(
  t: Test,
  dir: string,
  cls: new (...args: never[]) => BundocError,
  what: string,
  fn: () => unknown,
): Promise<void> {
  const before = dirBytes(dir);
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof cls, `${what}: ${cls.name} (${String(err)})`);
  if (err instanceof BundocError)
    t.ok(err.message.length > 10 && err.code.length > 0, 'clear message and code');
  t.same(dirBytes(dir), before, `${what}: nothing on disk changed`);
}

const K = Buffer.from('key');
const V = Buffer.from('value');

t.test('open refuses bad arguments and foreign directories without touching them', async (t) => {
  const base = tmp(t);
  const bad: Array<[string, unknown, unknown]> = [
    ['dir is a number', 42, {}],
    ['dir is empty', '', {}],
    ['options is a string', path.join(base, 'a'), 'fast'],
    ['pageSize 1000', path.join(base, 'a'), { pageSize: 1000 }],
    ['durability maybe', path.join(base, 'a'), { durability: 'maybe' }],
    ['cacheBytes negative', path.join(base, 'a'), { cacheBytes: -1 }],
    ['walSegmentBytes tiny', path.join(base, 'a'), { walSegmentBytes: 10 }],
  ];
  for (const [what, dir, opts] of bad) {
    await refused(t, base, InvalidArgumentError, what, () => Storage.open(dir as string, opts as object));
  }
  await refused(t, base, EncryptionKeyError, 'encryptionKey of 31 bytes', () =>
    Storage.open(path.join(base, 'a'), { encryptionKey: new Uint8Array(31) }),
  );
  await refused(t, base, EncryptionKeyError, 'encryptionKey a string', () =>
    Storage.open(path.join(base, 'a'), { encryptionKey: 'x'.repeat(32) as unknown as Uint8Array }),
  );

  const foreign = path.join(base, 'foreign');
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
  await refused(t, base, FormatError, 'a directory holding other files', () => Storage.open(foreign));
  const garbage = path.join(base, 'garbage');
  fs.mkdirSync(garbage);
  fs.writeFileSync(path.join(garbage, 'data.bdb'), Buffer.alloc(20000, 0x41));
  await refused(t, base, FormatError, 'a data.bdb that is not bundoc', () => Storage.open(garbage));
  const file = path.join(base, 'plain-file');
  fs.writeFileSync(file, 'x');
  await refused(t, base, FormatError, 'a path that is a file', () => Storage.open(file));
});

t.test('a store written by a newer format version is refused unchanged', async (t) => {
  const dir = tmp(t);
  const st = await Storage.open(dir, { pageSize: 4096 });
  await st.transaction((tx) => tx.put('t', K, V));
  await st.close();
  const file = path.join(dir, 'data.bdb');
  const data = fs.readFileSync(file);
  for (const slot of [0, 1]) {
    const m = data.subarray(slot * 4096, slot * 4096 + 128);
    if (m.toString('latin1', 4, 12) !== 'BUNDOCDB') continue;
    m.writeUInt32LE(2, 12);
    m.writeInt32LE(CRC32.buf(m.subarray(4)), 0);
  }
  fs.writeFileSync(file, data);
  await refused(t, dir, FormatError, 'format version 2', () => Storage.open(dir));
});

t.test('wrong page size, missing or wrong key, and a second opener are refused unchanged', async (t) => {
  const dir = tmp(t);
  const key = new Uint8Array(32).fill(9);
  const st = await Storage.open(dir, { pageSize: 4096, encryptionKey: key });
  await st.transaction((tx) => tx.put('t', K, V));
  await st.close();
  await refused(t, dir, InvalidArgumentError, 'pageSize 8192 for a 4096 store', () =>
    Storage.open(dir, { pageSize: 8192, encryptionKey: key }),
  );
  await refused(t, dir, EncryptionKeyError, 'no key for an encrypted store', () => Storage.open(dir));
  await refused(t, dir, EncryptionKeyError, 'wrong key', () =>
    Storage.open(dir, { encryptionKey: new Uint8Array(32).fill(8) }),
  );
  const plain = tmp(t);
  await (await Storage.open(plain)).close();
  await refused(t, plain, EncryptionKeyError, 'a key for a plain store', () =>
    Storage.open(plain, { encryptionKey: key }),
  );

  const open = await Storage.open(dir, { encryptionKey: key });
  await refused(t, dir, LockedError, 'second open in this process', () =>
    Storage.open(dir, { encryptionKey: key }),
  );
  // Another process: it must fail with LockedError too.
  const fixtures = buildFixtures();
  t.teardown(fixtures.cleanup);
  const probe = path.join(fixtures.root, 'probe.mjs');
  fs.writeFileSync(
    probe,
    `import { Storage } from './src/storage/index.js';
try { await Storage.open(process.argv[2], { encryptionKey: new Uint8Array(32).fill(9) }); console.log('OPENED'); }
catch (e) { console.log(e.name, e.code, e.message); }`,
  );
  const before = dirBytes(dir);
  const r = spawnSync(process.execPath, [probe, dir], { encoding: 'utf8' });
  t.match(r.stdout, /^LockedError LOCKED .*already open in another process \(pid \d+\)/);
  t.same(dirBytes(dir), before, 'the other process changed nothing');
  await open.close();
});

t.test('transactions and stores refuse bad calls with typed errors and write nothing', async (t) => {
  const dir = tmp(t);
  const st = await Storage.open(dir, { pageSize: 8192, checkpointIntervalMs: 0 });
  await st.transaction((tx) => tx.put('t', K, V));
  const tx = st.begin();
  const cases: Array<[string, () => unknown]> = [
    ['put with a string key', () => tx.put('t', 'key' as unknown as Uint8Array, V)],
    ['put with a number value', () => tx.put('t', K, 5 as unknown as Uint8Array)],
    ['put with a 2049-byte key', () => tx.put('t', new Uint8Array(2049), V)],
    ['put with a 16 MiB + 1 value', () => tx.put('t', K, new Uint8Array(MAX_VALUE_BYTES + 1))],
    ['put into tree ""', () => tx.put('', K, V)],
    ['put into a tree named by a number', () => tx.put(7 as unknown as string, K, V)],
    ['put into a 256-byte tree name', () => tx.put('x'.repeat(256), K, V)],
    ['get with an array key', () => tx.get('t', [1, 2] as unknown as Uint8Array)],
    ['delete with a null key', () => tx.delete('t', null as unknown as Uint8Array)],
    ['range with gt and gte', () => tx.range('t', { gt: K, gte: K })],
    ['range with a string bound', () => tx.range('t', { lt: 'z' as unknown as Uint8Array })],
    ['range with limit -1', () => tx.range('t', { limit: -1 })],
    ['range with reverse "yes"', () => tx.range('t', { reverse: 'yes' as unknown as boolean })],
    ['begin with readOnly 1', () => st.begin({ readOnly: 1 as unknown as boolean })],
    ['transaction without a function', () => st.transaction(5 as unknown as () => void)],
    ['transaction with retries -1', () => st.transaction(() => {}, { retries: -1 })],
    ['dropTree of a number', () => st.dropTree(5 as unknown as string)],
    ['backup to a number', () => st.backup(5 as unknown as string)],
  ];
  for (const [what, fn] of cases) await refused(t, dir, InvalidArgumentError, what, fn);
  const notEmpty = tmp(t);
  fs.writeFileSync(path.join(notEmpty, 'x'), 'x');
  await refused(t, notEmpty, InvalidArgumentError, 'backup into a non-empty directory', () =>
    st.backup(notEmpty),
  );
  const ro = st.begin({ readOnly: true });
  await refused(t, dir, InvalidArgumentError, 'put in a read-only transaction', () => ro.put('t', K, V));
  // The transaction survived the refused calls and still works.
  tx.put('t', Buffer.from('k2'), V);
  await tx.commit();
  await refused(t, dir, ClosedError, 'put after commit', () => tx.put('t', K, V));
  await refused(t, dir, ClosedError, 'commit twice', () => tx.commit());
  await refused(t, dir, ClosedError, 'get after commit', () => tx.get('t', K));
  const aborted = st.begin();
  aborted.abort();
  await refused(t, dir, ClosedError, 'range after abort', () => aborted.range('t'));
  const survivor = st.begin();
  await st.close();
  await refused(t, dir, ClosedError, 'begin on a closed store', () => st.begin());
  await refused(t, dir, ClosedError, 'stats on a closed store', () => st.stats());
  await refused(t, dir, ClosedError, 'checkpoint on a closed store', () => st.checkpoint());
  await refused(t, dir, ClosedError, 'transaction open across close', () => survivor.get('t', K));
  await refused(t, dir, ClosedError, 'backup on a closed store', () => st.backup(path.join(dir, 'b')));
  await st.close(); // closing twice is harmless
  const again = await Storage.open(dir);
  t.equal(Buffer.from(again.begin().get('t', Buffer.from('k2'))!).toString(), 'value');
  await again.close();
});
