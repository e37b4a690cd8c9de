/**
 * The server's files end to end: what is written through the engine survives a restart (RDB by SAVE,
 * BGSAVE, save points and shutdown; AOF under each fsync policy, across rewrites), the load order is
 * Redis's, and under `appendfsync always` nothing acknowledged is lost when the process is SIGKILLed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Bunder, type BunderOptions } from '../src/index.js';
import { keyspaceEntries } from '../src/persistence/keyspace-codec.js';
import { RespClient } from './helpers/resp-client.js';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bunder-host-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The whole dataset in a comparable form (db, key, type, value, expiry). */
function dataset(kv: Bunder): string[] {
  return [...keyspaceEntries(kv.engine.ks)]
    .map((e) =>
      JSON.stringify([
        e.db,
        e.key.toString('hex'),
        e.value.type,
        e.value.type === 'zset' || e.value.type === 'hash'
          ? e.value.value.map(([a, b]) => [a.toString('hex'), String(b)]).sort()
          : e.value.type === 'set'
            ? e.value.value.map((b) => b.toString('hex')).sort()
            : e.value.type === 'string'
              ? e.value.value.toString('hex')
              : e.value.type === 'list'
                ? e.value.value.map((b) => b.toString('hex'))
                : null,
        e.expireAtMs,
      ]),
    )
    .sort();
}

/** A little of every type, binary keys and values, several databases, TTLs. */
async function fill(kv: Bunder, tag: string): Promise<void> {
  const bin = Buffer.from([0, 255, 13, 10, 128, 7]);
  await kv.call('SET', `s:${tag}`, 'hello');
  await kv.call('SET', Buffer.concat([bin, Buffer.from(tag)]), bin);
  await kv.call('SET', `ttl:${tag}`, 'x', 'PX', '600000');
  await kv.call('RPUSH', `l:${tag}`, 'a', 'b', 'c', bin);
  await kv.call('HSET', `h:${tag}`, 'f1', 'v1', 'f2', bin);
  await kv.call('SADD', `set:${tag}`, '1', '2', '3', 'x');
  await kv.call('ZADD', `z:${tag}`, '1.5', 'a', '-2', 'b', 'inf', 'c');
  await kv.call('SELECT', '3');
  await kv.call('INCRBY', `n:${tag}`, '42');
  await kv.call('SETRANGE', `mut:${tag}`, '5', 'xyz');
  await kv.call('SELECT', '0');
}

t.test('without a dir the store is memory only and writes no files', async (t) => {
  const cwd = process.cwd();
  const before = readdirSync(cwd);
  const kv = await Bunder.open();
  await fill(kv, 'a');
  await kv.close();
  t.same(readdirSync(cwd), before);
  t.equal(kv.persistence, null);
});

t.test('SAVE, then a restart loads the RDB exactly', async (t) => {
  const dir = tmp(t);
  const opts: BunderOptions = { dir, save: [] };
  const kv = await Bunder.open(opts);
  await fill(kv, 'a');
  t.equal(await kv.call('SAVE'), 'OK');
  const want = dataset(kv);
  await kv.call('SET', 'after-save', '1'); // not saved: save points are off and close must not save
  await kv.close();
  t.ok(existsSync(join(dir, 'dump.rdb')));
  const back = await Bunder.open(opts);
  t.same(dataset(back), want);
  t.equal(back.persistence?.loadReport.source, 'rdb');
  await back.close();
});

t.test('close saves when save points are configured; nosave does not', async (t) => {
  const dir = tmp(t);
  const kv = await Bunder.open({ dir, save: [[3600, 1]] });
  await fill(kv, 'b');
  const want = dataset(kv);
  await kv.close();
  const back = await Bunder.open({ dir, save: [[3600, 1]] });
  t.same(dataset(back), want);
  await back.call('SET', 'extra', '1');
  await back.close('nosave');
  const again = await Bunder.open({ dir, save: [] });
  t.same(dataset(again), want, 'the nosave close wrote nothing');
  await again.close();
});

t.test('BGSAVE writes a snapshot of the moment it was asked for', async (t) => {
  const dir = tmp(t);
  const kv = await Bunder.open({ dir, save: [] });
  for (let i = 0; i < 5000; i++) await kv.call('SET', `k${i}`, `v${i}`);
  await kv.call('RPUSH', 'list', 'a', 'b');
  const want = dataset(kv);
  t.equal(await kv.call('BGSAVE'), 'Background saving started');
  // Writes right after BGSAVE must not leak into the snapshot.
  await kv.call('SET', 'k0', 'changed');
  await kv.call('RPUSH', 'list', 'c');
  await kv.call('DEL', 'k1');
  while ((await kv.call('INFO', 'persistence'))!.toString().includes('rdb_bgsave_in_progress:1')) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await kv.close('nosave');
  const back = await Bunder.open({ dir, save: [] });
  t.same(dataset(back), want);
  await back.close();
});

t.test('a save point triggers a background save', async (t) => {
  const dir = tmp(t);
  const kv = await Bunder.open({ dir, save: [[1, 2]] });
  const last = Number(await kv.call('LASTSAVE'));
  await kv.call('SET', 'a', '1');
  await kv.call('SET', 'b', '2');
  const deadline = Date.now() + 5000;
  while (!existsSync(join(dir, 'dump.rdb')) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  t.ok(existsSync(join(dir, 'dump.rdb')), 'dump.rdb written by the save point');
  while (Number(await kv.call('LASTSAVE')) === last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(Number(await kv.call('LASTSAVE')) >= last);
  await kv.close('nosave');
});

for (const policy of ['always', 'everysec', 'no'] as const) {
  t.test(`AOF (${policy}) replays every write after a restart, including TTLs and databases`, async (t) => {
    const dir = tmp(t);
    const opts: BunderOptions = { dir, appendonly: true, appendfsync: policy, save: [] };
    const kv = await Bunder.open(opts);
    await fill(kv, 'c');
    await kv.call('LPOP', 'l:c');
    await kv.call('EXPIRE', 's:c', '1000');
    await kv.call('DEL', 'set:c');
    await kv.call('INCRBYFLOAT', 'f', '1.1');
    const want = dataset(kv);
    await kv.close();
    const back = await Bunder.open(opts);
    t.equal(back.persistence?.loadReport.source, 'aof');
    t.same(dataset(back), want);
    await back.close();
  });
}

t.test('BGREWRITEAOF compacts the AOF; writes made during the rewrite are kept', async (t) => {
  const dir = tmp(t);
  const opts: BunderOptions = { dir, appendonly: true, appendfsync: 'everysec', save: [] };
  const kv = await Bunder.open(opts);
  for (let i = 0; i < 3000; i++) await kv.call('INCR', `c${i % 10}`);
  t.equal(await kv.call('BGREWRITEAOF'), 'Background append only file rewriting started');
  for (let i = 0; i < 100; i++) await kv.call('RPUSH', 'during', String(i));
  while ((await kv.call('INFO', 'persistence'))!.toString().includes('aof_rewrite_in_progress:1')) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await kv.call('SET', 'after', 'yes');
  const want = dataset(kv);
  await kv.close();
  const files = readdirSync(join(dir, 'appendonlydir'));
  t.ok(
    files.some((f) => f.includes('.base.')),
    `a base file exists (${files.join(', ')})`,
  );
  const back = await Bunder.open(opts);
  t.same(dataset(back), want);
  t.ok(back.persistence!.loadReport.commands < 3000, 'the rewritten AOF replays fewer commands');
  await back.close();
});

t.test(
  'load order: with appendonly the AOF wins over dump.rdb; enabling AOF keeps an RDB dataset',
  async (t) => {
    const dir = tmp(t);
    const rdbOnly = await Bunder.open({ dir, save: [] });
    await rdbOnly.call('SET', 'from', 'rdb');
    await rdbOnly.call('SAVE');
    await rdbOnly.close();
    // AOF switched on over an existing RDB: the RDB is loaded and becomes the AOF's base.
    const aofOn = await Bunder.open({ dir, appendonly: true, save: [] });
    t.equal((await aofOn.call('GET', 'from'))?.toString(), 'rdb');
    await aofOn.call('SET', 'from', 'aof');
    await aofOn.close();
    const back = await Bunder.open({ dir, appendonly: true, save: [] });
    t.equal((await back.call('GET', 'from'))?.toString(), 'aof');
    await back.close();
    const rdbAgain = await Bunder.open({ dir, save: [] });
    t.equal(
      (await rdbAgain.call('GET', 'from'))?.toString(),
      'rdb',
      'without appendonly, dump.rdb is loaded',
    );
    await rdbAgain.close();
  },
);

t.test('a corrupt RDB or AOF fails the open with an error naming the file and offset', async (t) => {
  const dir = tmp(t);
  writeFileSync(
    join(dir, 'dump.rdb'),
    Buffer.concat([Buffer.from('REDIS0011'), Buffer.from([0xfe, 0x00, 0x77])]),
  );
  await t.rejects(Bunder.open({ dir, save: [] }), /dump\.rdb/);
  const dir2 = tmp(t);
  const kv = await Bunder.open({ dir: dir2, appendonly: true, save: [] });
  await kv.call('SET', 'a', '1');
  await kv.close();
  const incr = readdirSync(join(dir2, 'appendonlydir')).find((f) => f.endsWith('.incr.aof'))!;
  writeFileSync(join(dir2, 'appendonlydir', incr), '*2\r\n$3\r\nSET\r\n$1\r\na\r\n*1\r\n$9\r\nNOSUCHCMD\r\n');
  await t.rejects(Bunder.open({ dir: dir2, appendonly: true, save: [] }), /NOSUCHCMD.*offset/);
});

t.test('a truncated AOF tail is cut off and the rest loads', async (t) => {
  const dir = tmp(t);
  const kv = await Bunder.open({ dir, appendonly: true, save: [] });
  await kv.call('SET', 'a', '1');
  await kv.call('SET', 'b', '2');
  await kv.close();
  const incr = join(
    dir,
    'appendonlydir',
    readdirSync(join(dir, 'appendonlydir')).find((f) => f.endsWith('.incr.aof'))!,
  );
  writeFileSync(incr, '*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\n3', { flag: 'a' });
  const back = await Bunder.open({ dir, appendonly: true, save: [] });
  t.equal((await back.call('GET', 'b'))?.toString(), '2');
  t.equal(await back.call('GET', 'c'), null);
  t.ok(back.persistence!.loadReport.truncated, 'the truncation is reported');
  await back.call('SET', 'd', '4');
  await back.close();
  const again = await Bunder.open({ dir, appendonly: true, save: [] });
  t.equal((await again.call('GET', 'd'))?.toString(), '4', 'appends after the repair replay');
  await again.close();
});

/**
 * The built bunder-server (npm test builds first). Loading the TypeScript sources in every child would
 * take seconds per start; a dist older than the sources would test stale code, so that is an error.
 */
function builtCli(): string {
  const cli = join(import.meta.dirname, '../dist/cli.js');
  const newest = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((d) =>
        d.isDirectory() ? newest(join(dir, d.name)) : statSync(join(dir, d.name)).mtimeMs,
      ),
    );
  // The newest file of dist, not cli.js: tsc -b leaves an output whose content did not change untouched.
  const dist = join(import.meta.dirname, '../dist');
  if (!existsSync(cli) || newest(dist) < newest(join(import.meta.dirname, '../src'))) {
    throw new Error('engines/bunder/dist is missing or older than src: run `npm run build` first');
  }
  return cli;
}

/** bunder-server on a free port; resolves once it prints its address. */
function startServer(dir: string, args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [builtCli(), '--port', '0', '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready on [^:]+:(\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.on('exit', (code) => reject(new Error(`bunder-server exited (${code}): ${out}`)));
  });
}

t.test('SIGKILL under appendfsync always loses no acknowledged write', async (t) => {
  const dir = tmp(t);
  const rounds = Number(process.env.BUNBASE_STRESS ? 50 : 10);
  const acked = new Map<string, number>(); // counter key → highest acknowledged value
  for (let round = 0; round < rounds; round++) {
    const { proc, port } = await startServer(dir, [
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
    ]);
    const clients = await Promise.all(Array.from({ length: 4 }, () => RespClient.connect(port)));
    // Everything acknowledged before this round is there after the restart.
    for (const [key, value] of acked) {
      const got = await clients[0]!.call('GET', key);
      if (Number(got.v) < value) {
        t.fail(`round ${round}: ${key} is ${got.v}, but ${value} was acknowledged`);
        return;
      }
      acked.set(key, Number(got.v));
    }
    let stop = false;
    const work = clients.map(async (c, i) => {
      const key = `counter:${i}`;
      while (!stop) {
        const r = await c.call('INCR', key).catch(() => null);
        if (r?.t !== 'int') return;
        acked.set(key, Number(r.v));
      }
    });
    const exited = new Promise((r) => proc.once('exit', r));
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
    proc.kill('SIGKILL');
    stop = true;
    await Promise.all(work);
    for (const c of clients) c.close();
    await exited;
  }
  t.ok(
    [...acked.values()].every((v) => v > 0),
    `${rounds} kills, counters reached ${[...acked.values()].join(', ')}`,
  );
});

t.test(
  'DEBUG RELOAD puts the dataset through the RDB format (and dump.rdb when there is a dir)',
  async (t) => {
    const mem = await Bunder.open();
    await fill(mem, 'r');
    await mem.call('XADD', 'st', '1-1', 'f', 'v');
    const want = dataset(mem);
    t.equal(await mem.call('DEBUG', 'RELOAD'), 'OK');
    t.same(dataset(mem), want, 'memory only: the same dataset after the round trip');
    await mem.close();
    const dir = tmp(t);
    const kv = await Bunder.open({ dir, save: [] });
    await fill(kv, 'r');
    const want2 = dataset(kv);
    t.equal(await kv.call('DEBUG', 'RELOAD'), 'OK');
    t.same(dataset(kv), want2);
    t.ok(existsSync(join(dir, 'dump.rdb')), 'dump.rdb written first, as Redis does');
    await kv.close();
  },
);
