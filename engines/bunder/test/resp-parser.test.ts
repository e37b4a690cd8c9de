import fc from 'fast-check';
import t from 'tap';
import { command, ProtocolError, RespParser, splitArgs } from '../src/index.js';

function parseAll(chunks: Buffer[], limits = {}): { cmds: string[][]; error: string | null } {
  const p = new RespParser(limits);
  const cmds: string[][] = [];
  try {
    for (const c of chunks) p.feed(c, cmds);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { cmds, error: e.reply };
  }
  return { cmds, error: null };
}

const arg = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1'));
const cmd = fc.array(arg, { minLength: 1, maxLength: 6 });

t.test('multibulk commands survive any split into chunks (pipelining)', async (t) => {
  fc.assert(
    fc.property(
      fc.array(cmd, { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (cmds, cuts) => {
        const wire = Buffer.concat(cmds.map((c) => command(c.map((a) => Buffer.from(a, 'latin1')))));
        const points = [...new Set(cuts.map((x) => x % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(wire.subarray(prev, p));
          prev = p;
        }
        chunks.push(wire.subarray(prev));
        const { cmds: got, error } = parseAll(chunks);
        t.equal(error, null);
        t.same(got, cmds);
      },
    ),
    { numRuns: 300 },
  );
});

t.test('a transient read buffer may be overwritten after each feed (the server reuses one)', async (t) => {
  fc.assert(
    fc.property(
      fc.array(cmd, { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (cmds, sizes) => {
        const wire = Buffer.concat(cmds.map((c) => command(c.map((a) => Buffer.from(a, 'latin1')))));
        const p = new RespParser();
        const got: string[][] = [];
        const readBuffer = Buffer.alloc(64);
        for (let at = 0, i = 0; at < wire.length; i++) {
          const n = Math.min(sizes[i % sizes.length]!, wire.length - at);
          wire.copy(readBuffer, 0, at, at + n);
          p.feed(readBuffer.subarray(0, n), got, true);
          readBuffer.fill(0x2a); // what the next read would leave there: '*' everywhere
          at += n;
        }
        t.same(got, cmds);
        t.equal(p.buffered, 0);
      },
    ),
    { numRuns: 300 },
  );
});

t.test('inline commands and quoting follow sdssplitargs', async (t) => {
  const { cmds } = parseAll([Buffer.from("PING\r\nset a \"b c\\x41\\n\"\r\n  \r\nget 'it\\'s'\n")]);
  t.same(cmds, [['PING'], ['set', 'a', 'b cA\n'], ['get', "it's"]]);
  t.equal(splitArgs('"unbalanced'), null);
  t.equal(splitArgs('"a"b'), null);
  t.same(splitArgs(''), []);
});

t.test('protocol errors carry Redis wording', async (t) => {
  t.equal(parseAll([Buffer.from('*abc\r\n')]).error, 'ERR Protocol error: invalid multibulk length');
  t.equal(parseAll([Buffer.from('*1\r\n$-5\r\n')]).error, 'ERR Protocol error: invalid bulk length');
  t.equal(parseAll([Buffer.from('*1\r\n:5\r\n')]).error, "ERR Protocol error: expected '$', got ':'");
  t.equal(
    parseAll([Buffer.from('*1\r\n$100\r\n')], { maxBulkLen: 10 }).error,
    'ERR Protocol error: invalid bulk length',
    'proto-max-bulk-len',
  );
  t.equal(parseAll([Buffer.from('set "a\r\n')]).error, 'ERR Protocol error: unbalanced quotes in request');
  t.equal(parseAll([Buffer.alloc(70 * 1024, 97)]).error, 'ERR Protocol error: too big inline request');
  t.equal(
    parseAll([Buffer.from(`*1\r\n$${'1'.repeat(70 * 1024)}`)]).error,
    'ERR Protocol error: too big bulk count string',
  );
  const ok = parseAll([Buffer.from('*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n')]);
  t.same(ok.cmds, [['PING']], 'commands before the error are kept');
  t.ok(ok.error);
  t.same(
    parseAll([Buffer.from('*0\r\n*-1\r\n*1\r\n$0\r\n\r\n')]).cmds,
    [['']],
    'empty multibulks are skipped',
  );
});

t.test('a large bulk arriving in many small chunks is assembled once', async (t) => {
  const value = Buffer.alloc(1 << 20, 120);
  const wire = command([Buffer.from('SET'), Buffer.from('k'), value]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < wire.length; i += 1000) chunks.push(wire.subarray(i, i + 1000));
  const { cmds, error } = parseAll(chunks);
  t.equal(error, null);
  t.equal(cmds.length, 1);
  t.equal(cmds[0]![2]!.length, value.length);
});

t.test('query buffer limit', async (t) => {
  const r = parseAll([Buffer.from('*1\r\n$2000\r\n'), Buffer.alloc(600), Buffer.alloc(600)], {
    maxQueryBuffer: 1000,
  });
  t.match(r.error, /query buffer/);
});

t.test('fuzz: random and mutated frames never throw anything but ProtocolError', async (t) => {
  fc.assert(
    fc.property(
      fc.array(cmd, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 64 }),
      (cmds, mutations, garbage) => {
        const wire = Buffer.concat([...cmds.map((c) => command(c)), Buffer.from(garbage)]);
        for (const [pos, byte] of mutations) wire[pos % wire.length] = byte;
        const p = new RespParser({ maxBulkLen: 1 << 16, maxQueryBuffer: 1 << 20 });
        try {
          p.feed(wire, []);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      },
    ),
    { numRuns: 2000 },
  );
  t.pass('no crash');
});
