import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { readAof, readAofFile, truncateAofFile } from '../src/persistence/aof-reader.js';
import { AofWriter, type AppendFsync } from '../src/persistence/aof-writer.js';
import { encodeCommand } from '../src/persistence/command-encoder.js';
import { AofError } from '../src/persistence/errors.js';
import { hasBinary, run, tempDir } from './fixtures/persistence/helpers.js';

const commandsOf = (buf: Buffer) => {
  const out: string[][] = [];
  for (const item of readAof(buf))
    if (item.kind === 'command') out.push(item.argv.map((a) => a.toString('hex')));
  return out;
};

const arbArgv = fc.array(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  { minLength: 1, maxLength: 6 },
);

t.test('appended commands read back exactly, with SELECT on database changes', async (t) => {
  for (const policy of ['always', 'everysec', 'no'] as AppendFsync[]) {
    const dir = tempDir(t);
    const path = join(dir, 'appendonly.aof');
    const cmds = fc.sample(fc.tuple(fc.nat({ max: 3 }), arbArgv), { numRuns: 200, seed: 7 });
    const aof = await AofWriter.open(path, { fsync: policy });
    await Promise.all(cmds.map(([db, argv]) => aof.append(db, argv)));
    await aof.close();
    const expected: string[][] = [];
    let db = -1;
    for (const [d, argv] of cmds) {
      if (d !== db) expected.push(['SELECT', String(d)].map((s) => Buffer.from(s).toString('hex')));
      db = d;
      expected.push(argv.map((a) => a.toString('hex')));
    }
    t.same(commandsOf(readFileSync(path)), expected, `${policy}: ${cmds.length} commands`);
    t.rejects(aof.append(0, ['PING']), { code: 'AOF_CLOSED' });
  }
});

t.test('reopening appends after the existing content', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.aof');
  let aof = await AofWriter.open(path, { fsync: 'always' });
  await aof.append(0, ['SET', 'a', '1']);
  await aof.close();
  aof = await AofWriter.open(path, { fsync: 'always' });
  t.equal(aof.size, readFileSync(path).length);
  await aof.append(0, ['SET', 'b', '2']);
  await aof.close();
  t.same(
    commandsOf(readFileSync(path)).map((c) => c.map((h) => Buffer.from(h, 'hex').toString())),
    [
      ['SELECT', '0'],
      ['SET', 'a', '1'],
      ['SELECT', '0'],
      ['SET', 'b', '2'],
    ],
  );
});

function sampleAof(): Buffer {
  const parts = [
    encodeCommand(['SELECT', '0']),
    encodeCommand(['SET', 'k1', 'v1']),
    encodeCommand(['MULTI']),
    encodeCommand(['INCR', 'counter']),
    encodeCommand(['RPUSH', 'list', 'a', Buffer.from([0, 13, 10, 255])]),
    encodeCommand(['EXEC']),
    encodeCommand(['SET', 'k2', 'x'.repeat(300)]),
    encodeCommand(['MULTI']),
    encodeCommand(['DEL', 'k1']),
  ];
  return Buffer.concat(parts);
}

t.test('a truncated tail is dropped at the last complete command, as Redis does', async (t) => {
  const full = sampleAof();
  const gen = readAof(full);
  let r = gen.next();
  const names: string[] = [];
  while (!r.done) {
    if (r.value.kind === 'command') names.push(r.value.argv[0]!.toString());
    r = gen.next();
  }
  t.same(
    names,
    ['SELECT', 'SET', 'MULTI', 'INCR', 'RPUSH', 'EXEC', 'SET'],
    'an unfinished MULTI is not replayed',
  );
  const multiAt = full.lastIndexOf(encodeCommand(['MULTI']));
  t.same(r.value.truncated, { offset: multiAt, reason: 'MULTI without EXEC at end of file' });
  t.equal(r.value.validUpTo, multiAt);

  // Every cut: never an error, only complete commands, and the offset matches redis-check-aof.
  const checkAof = hasBinary('redis-check-aof');
  const dir = tempDir(t);
  let differential = 0;
  for (let cut = 0; cut <= full.length; cut++) {
    const part = full.subarray(0, cut);
    const g = readAof(part);
    let x = g.next();
    while (!x.done) x = g.next();
    const res = x.value;
    if (res.validUpTo > cut) t.fail(`cut ${cut}: validUpTo ${res.validUpTo}`);
    if (checkAof && (cut % 9 === 0 || cut === full.length)) {
      const path = join(dir, `cut-${cut}.aof`);
      writeFileSync(path, part);
      const out = (await run('redis-check-aof', [path])).out;
      const m = /ok_up_to=(\d+)/.exec(out);
      if (m) {
        differential++;
        if (Number(m[1]) !== res.validUpTo)
          t.fail(`cut ${cut}: redis-check-aof says ${m[1]}, we say ${res.validUpTo}`);
      }
    }
  }
  if (checkAof)
    t.ok(differential > 30, `${differential} cuts agree with redis-check-aof on the valid length`);
  t.pass('every prefix of the file loads');
});

t.test('loadTruncated=false makes a cut tail an error; repair cuts the file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'cut.aof');
  const full = sampleAof();
  writeFileSync(path, full.subarray(0, full.length - 3));
  t.throws(
    () => {
      for (const _ of readAofFile(path, { loadTruncated: false }));
    },
    { code: 'AOF_TRUNCATED', file: path },
  );
  const g = readAofFile(path);
  let r = g.next();
  while (!r.done) r = g.next();
  truncateAofFile(path, r.value.validUpTo);
  t.equal(readFileSync(path).length, r.value.validUpTo);
  const again = readAofFile(path);
  let r2 = again.next();
  while (!r2.done) r2 = again.next();
  t.equal(r2.value.truncated, null, 'the repaired file is clean');
});

t.test('garbage in the middle is AOF_CORRUPT with the offset; fuzzed input never crashes', async (t) => {
  const good = encodeCommand(['SET', 'a', 'b']);
  const bad = Buffer.concat([good, Buffer.from('xx'), good]);
  t.throws(() => [...readAof(bad, { file: 'x.aof' })], {
    code: 'AOF_CORRUPT',
    offset: good.length,
    file: 'x.aof',
  });
  t.throws(() => [...readAof(Buffer.from('*2\r\n$3\r\nGET\r\n$Z\r\n'))], { code: 'AOF_CORRUPT' });
  t.throws(() => [...readAof(Buffer.from('*1\r\n$3\r\nGETXX'))], { code: 'AOF_CORRUPT' });
  t.throws(() => [...readAof(Buffer.from('*0\r\n'))], { code: 'AOF_CORRUPT' });
  t.same(
    commandsOf(Buffer.concat([Buffer.from('#ts:1700000000\r\n'), good])).length,
    1,
    'annotations are skipped',
  );
  const sample = sampleAof();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: sample.length - 1 }), fc.nat({ max: 255 })), { maxLength: 4 }),
      (edits) => {
        const b = Buffer.from(sample);
        for (const [at, v] of edits) b[at] = v;
        try {
          for (const _ of readAof(b));
          return true;
        } catch (err) {
          return err instanceof AofError && typeof err.offset === 'number';
        }
      },
    ),
    { numRuns: 2000 },
  );
});

t.test(
  'our AOF passes redis-check-aof',
  { skip: hasBinary('redis-check-aof') ? false : 'redis-check-aof absent' },
  async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'appendonly.aof');
    const aof = await AofWriter.open(path, { fsync: 'no' });
    for (let i = 0; i < 500; i++) void aof.append(i % 4, ['SET', `k${i}`, Buffer.from([i % 256, 0, 13, 10])]);
    await aof.append(0, ['MULTI']);
    await aof.append(0, ['INCR', 'x']);
    await aof.append(0, ['EXEC']);
    await aof.close();
    const res = await run('redis-check-aof', [path]);
    t.equal(res.code, 0, res.out);
    t.match(res.out, /is valid/);
    appendFileSync(path, '*2\r\n$3\r\nGET');
    t.not((await run('redis-check-aof', [path])).code, 0, 'and redis-check-aof does notice a damaged one');
  },
);

t.test('appendfsync always: nothing acknowledged is lost when the process is SIGKILLed', async (t) => {
  for (let round = 0; round < 3; round++) {
    const dir = tempDir(t);
    const path = join(dir, 'crash.aof');
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        join(import.meta.dirname, 'fixtures/persistence/aof-crash-child.ts'),
        path,
        'always',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Let it run until it has acknowledged a good number of writes, then kill it mid-flight.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (out.split('\n').length > 40 + round * 40) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    child.kill('SIGKILL');
    await exited;
    const acked = out
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
    const present = new Set<number>();
    const g = readAofFile(path);
    let r = g.next();
    while (!r.done) {
      if (r.value.kind === 'command' && r.value.argv[0]!.toString() === 'SET') {
        present.add(Number(r.value.argv[1]!.toString().slice(4)));
      }
      r = g.next();
    }
    const lost = acked.filter((n) => !present.has(n));
    t.same(
      lost,
      [],
      `round ${round}: all ${acked.length} acknowledged writes are in the AOF (${present.size} present)`,
    );
  }
});
