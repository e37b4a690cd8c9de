import fc from 'fast-check';
import t from 'tap';
import {
  arrayHeader,
  bulk,
  command,
  ErrorReply,
  errorReply,
  integer,
  MapReply,
  type Reply,
  ReplyBuffer,
  SetReply,
  SimpleString,
  simpleString,
} from '../src/index.js';

t.test('replies are encoded byte for byte as RESP2', async (t) => {
  t.equal(simpleString('OK').toString(), '+OK\r\n');
  t.equal(errorReply('ERR unknown command').toString(), '-ERR unknown command\r\n');
  t.equal(integer(-42).toString(), ':-42\r\n');
  t.equal(integer(2n ** 63n - 1n).toString(), ':9223372036854775807\r\n');
  t.equal(bulk(null).toString(), '$-1\r\n');
  t.equal(bulk('').toString(), '$0\r\n\r\n');
  t.equal(bulk('héllo').toString(), '$6\r\nhéllo\r\n', 'length counts bytes, not characters');
  t.same(bulk(Buffer.from([0, 13, 10, 255])), Buffer.from('$4\r\n\x00\r\n\xff\r\n', 'latin1'), 'binary safe');
  t.equal(arrayHeader(null).toString(), '*-1\r\n');
  t.equal(command(['SET', 'k', 'v']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
});

/** The obvious encoder, by string concatenation: what ReplyBuffer's byte-level fast paths must match. */
function reference(r: Reply, resp3: boolean): string {
  if (typeof r === 'string') return `$${r.length}\r\n${r}\r\n`;
  if (typeof r === 'number' || typeof r === 'bigint') return `:${r}\r\n`;
  if (r === null) return resp3 ? '_\r\n' : '$-1\r\n';
  if (Array.isArray(r)) return `*${r.length}\r\n${r.map((x) => reference(x, resp3)).join('')}`;
  if (r instanceof SimpleString) return `+${r.value}\r\n`;
  if (r instanceof ErrorReply) return `-${r.message}\r\n`;
  if (r instanceof MapReply) {
    return `${resp3 ? '%' : '*'}${resp3 ? r.items.length / 2 : r.items.length}\r\n${r.items.map((x) => reference(x, resp3)).join('')}`;
  }
  if (r instanceof SetReply)
    return `${resp3 ? '~' : '*'}${r.items.length}\r\n${r.items.map((x) => reference(x, resp3)).join('')}`;
  throw new Error('reference: unexpected reply');
}

const latin1 = fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a).toString('latin1'));
const integerReply = fc.oneof(
  fc.integer(),
  fc.integer({ min: 0, max: 20 }),
  fc.constantFrom(0, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const status = fc.stringMatching(/^[A-Za-z0-9 ]{0,60}$/);
const { reply } = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    latin1,
    integerReply,
    fc.constant(null),
    status.map((s) => new SimpleString(s)),
    status.map((s) => new ErrorReply(`ERR ${s}`)),
    fc.array(tie('reply'), { maxLength: 5 }),
    fc.array(tie('reply'), { maxLength: 3 }).map((a) => new MapReply(a.flatMap((x) => [x, x]))),
    fc.array(tie('reply'), { maxLength: 3 }).map((a) => new SetReply(a)),
  ),
}));

t.test('ReplyBuffer matches a plain encoder byte for byte (RESP2 and RESP3), across takes', async (t) => {
  const out = new ReplyBuffer();
  fc.assert(
    fc.property(fc.array(reply, { minLength: 1, maxLength: 20 }), fc.boolean(), (replies, resp3) => {
      for (const r of replies) out.write(r, resp3);
      const got = out.take() ?? Buffer.alloc(0);
      const want = Buffer.from(replies.map((r) => reference(r, resp3)).join(''), 'latin1');
      t.ok(got.equals(want), 'same bytes');
      t.equal(out.take(), null, 'take() empties the buffer');
    }),
    { numRuns: 400 },
  );
});

t.test('ReplyBuffer grows past its initial size and hands over large batches intact', async (t) => {
  const out = new ReplyBuffer();
  const big = 'x'.repeat(40_000);
  const items = Array.from({ length: 30 }, (_, i) => `${i}:${big.slice(0, i * 1000)}`);
  out.write(items, false);
  out.write(big, false);
  const got = out.take()!;
  t.ok(got.equals(Buffer.from(reference(items, false) + reference(big, false), 'latin1')));
});
