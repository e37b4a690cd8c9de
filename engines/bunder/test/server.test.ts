/** The RESP server end to end over real sockets: pipelining, bad input isolation, transactions,
 * pub/sub, blocking commands, auth, and the embedded API. */
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { Bunder, ReplyError } from '../src/index.js';
import { RespClient } from './helpers/resp-client.js';

async function start(t: Test, opts: Parameters<typeof Bunder.open>[0] = {}) {
  const kv = await Bunder.open(opts);
  const { port } = await kv.listen({ port: 0 });
  const clients: RespClient[] = [];
  const connect = async () => {
    const c = await RespClient.connect(port);
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    for (const c of clients) c.close();
    await kv.close();
  });
  return { kv, port, connect };
}

t.test('pipelined commands are answered in order', async (t) => {
  const { connect } = await start(t);
  const c = await connect();
  const n = 2000;
  let wire = '';
  for (let i = 0; i < n; i++) wire += RespClient.encode(['INCR', 'counter']).toString('latin1');
  const replies = await c.sendRaw(Buffer.from(wire, 'latin1'), n);
  t.same(
    replies.map((r) => r.v),
    Array.from({ length: n }, (_, i) => String(i + 1)),
  );
  const inline = await c.sendRaw('PING\r\nECHO hello\r\nGET counter\r\n', 3);
  t.same(inline, [
    { t: 'simple', v: 'PONG' },
    { t: 'bulk', v: 'hello' },
    { t: 'bulk', v: String(n) },
  ]);
});

t.test('a malformed request closes only that connection', async (t) => {
  const { connect } = await start(t);
  const good = await connect();
  await good.call('SET', 'k', 'v');
  const bad = await connect();
  const [r] = await bad.sendRaw('*1\r\n$abc\r\n');
  t.same(r, { t: 'error', v: 'ERR Protocol error: invalid bulk length' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(bad.closed, 'bad client disconnected');
  t.same(await good.call('GET', 'k'), { t: 'bulk', v: 'v' }, 'other client and data unaffected');
});

t.test('fuzz: garbage from many clients never hurts the server or its data', async (t) => {
  const { connect } = await start(t);
  const good = await connect();
  await good.call('SET', 'keep', 'safe');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
      const c = await connect();
      c.socket.write(Buffer.from(bytes));
      await new Promise((resolve) => setTimeout(resolve, 2));
      c.close();
    }),
    { numRuns: 150 },
  );
  t.same(await good.call('GET', 'keep'), { t: 'bulk', v: 'safe' });
  t.same(await good.call('PING'), { t: 'simple', v: 'PONG' });
});

t.test('arity and unknown command errors use Redis wording', async (t) => {
  const { connect } = await start(t);
  const c = await connect();
  t.same(await c.call('GET'), { t: 'error', v: "ERR wrong number of arguments for 'get' command" });
  t.same(await c.call('FOO', 'a'), {
    t: 'error',
    v: "ERR unknown command 'FOO', with args beginning with: 'a' ",
  });
  t.same(await c.call('CONFIG', 'NOPE'), {
    t: 'error',
    v: "ERR unknown subcommand 'NOPE'. Try CONFIG HELP.",
  });
  t.same(await c.call('CONFIG', 'GET'), {
    t: 'error',
    v: "ERR wrong number of arguments for 'config|get' command",
  });
  const count = await c.call('COMMAND', 'COUNT');
  t.ok(Number(count.v) > 150, `COMMAND COUNT = ${count.v}`);
  const info = await c.call('COMMAND', 'INFO', 'get');
  t.match(JSON.stringify(info), /"get"/);
});

t.test('MULTI/EXEC/DISCARD/WATCH', async (t) => {
  const { connect } = await start(t);
  const a = await connect();
  const b = await connect();
  t.same(await a.call('MULTI'), { t: 'simple', v: 'OK' });
  t.same(await a.call('SET', 'x', '1'), { t: 'simple', v: 'QUEUED' });
  t.same(await a.call('INCR', 'x'), { t: 'simple', v: 'QUEUED' });
  const exec = await a.call('EXEC');
  t.same(exec, {
    t: 'array',
    v: [
      { t: 'simple', v: 'OK' },
      { t: 'int', v: '2' },
    ],
  });
  await a.call('MULTI');
  await a.call('GET');
  t.same(await a.call('EXEC'), {
    t: 'error',
    v: 'EXECABORT Transaction discarded because of previous errors.',
  });
  await a.call('WATCH', 'x');
  await b.call('SET', 'x', 'changed');
  await a.call('MULTI');
  await a.call('SET', 'x', 'mine');
  t.same(await a.call('EXEC'), { t: 'array', v: null }, 'WATCH invalidated: null array');
  t.same(await a.call('GET', 'x'), { t: 'bulk', v: 'changed' });
  await a.call('WATCH', 'x');
  await a.call('MULTI');
  await a.call('SET', 'x', 'mine');
  t.same(await a.call('EXEC'), { t: 'array', v: [{ t: 'simple', v: 'OK' }] }, 'untouched WATCH passes');
  t.same(await a.call('DISCARD'), { t: 'error', v: 'ERR DISCARD without MULTI' });
  t.same(await a.call('EXEC'), { t: 'error', v: 'ERR EXEC without MULTI' });
});

t.test('pub/sub with channels, patterns and keyspace notifications', async (t) => {
  const { connect } = await start(t);
  const sub = await connect();
  const pub = await connect();
  t.same(await sub.call('SUBSCRIBE', 'news'), {
    t: 'array',
    v: [
      { t: 'bulk', v: 'subscribe' },
      { t: 'bulk', v: 'news' },
      { t: 'int', v: '1' },
    ],
  });
  t.same(await sub.call('PSUBSCRIBE', '__keyevent@0__:*'), {
    t: 'array',
    v: [
      { t: 'bulk', v: 'psubscribe' },
      { t: 'bulk', v: '__keyevent@0__:*' },
      { t: 'int', v: '2' },
    ],
  });
  t.same(await sub.call('GET', 'x'), {
    t: 'error',
    v: "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
  });
  t.same(await pub.call('PUBLISH', 'news', 'hello'), { t: 'int', v: '1' });
  t.same(await sub.next(), {
    t: 'array',
    v: [
      { t: 'bulk', v: 'message' },
      { t: 'bulk', v: 'news' },
      { t: 'bulk', v: 'hello' },
    ],
  });
  await pub.call('CONFIG', 'SET', 'notify-keyspace-events', 'E$');
  await pub.call('SET', 'k1', 'v');
  t.same(await sub.next(), {
    t: 'array',
    v: [
      { t: 'bulk', v: 'pmessage' },
      { t: 'bulk', v: '__keyevent@0__:*' },
      { t: 'bulk', v: '__keyevent@0__:set' },
      { t: 'bulk', v: 'k1' },
    ],
  });
  const numsub = await pub.call('PUBSUB', 'NUMSUB', 'news');
  t.same(numsub.v, [
    { t: 'bulk', v: 'news' },
    { t: 'int', v: '1' },
  ]);
});

t.test('BLPOP blocks, is served first-come first-served, and times out', async (t) => {
  const { connect } = await start(t);
  const w1 = await connect();
  const w2 = await connect();
  const p = await connect();
  const r1 = w1.call('BLPOP', 'q', '0');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const r2 = w2.call('BLPOP', 'q', '0');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(await p.call('RPUSH', 'q', 'a', 'b'), { t: 'int', v: '2' });
  t.same((await r1).v, [
    { t: 'bulk', v: 'q' },
    { t: 'bulk', v: 'a' },
  ]);
  t.same((await r2).v, [
    { t: 'bulk', v: 'q' },
    { t: 'bulk', v: 'b' },
  ]);
  t.same(await p.call('EXISTS', 'q'), { t: 'int', v: '0' }, 'emptied list is gone');
  const started = Date.now();
  t.same(await w1.call('BRPOP', 'nothing', '0.1'), { t: 'array', v: null });
  t.ok(Date.now() - started >= 90, 'waited for the timeout');
  t.same(await w1.call('BLPOP', 'q', '-1'), { t: 'error', v: 'ERR timeout is negative' });
  // a client blocked on a key keeps its pipelined commands for after the wake-up
  const both = w2.sendRaw(
    RespClient.encode(['BLPOP', 'z', '0']).toString() + RespClient.encode(['PING']).toString(),
    2,
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  await p.call('LPUSH', 'z', 'v');
  t.same(await both, [
    {
      t: 'array',
      v: [
        { t: 'bulk', v: 'z' },
        { t: 'bulk', v: 'v' },
      ],
    },
    { t: 'simple', v: 'PONG' },
  ]);
});

t.test('requirepass: NOAUTH until AUTH succeeds', async (t) => {
  const { connect } = await start(t, { requirepass: 's3cret' });
  const c = await connect();
  t.same(await c.call('GET', 'k'), { t: 'error', v: 'NOAUTH Authentication required.' });
  t.same(await c.call('AUTH', 'wrong'), {
    t: 'error',
    v: 'WRONGPASS invalid username-password pair or user is disabled.',
  });
  t.same(await c.call('AUTH', 's3cret'), { t: 'simple', v: 'OK' });
  t.same(await c.call('GET', 'k'), { t: 'bulk', v: null });
});

t.test('RESP3 via HELLO 3', async (t) => {
  const { connect } = await start(t);
  const c = await connect();
  const hello = await c.call('HELLO', '3');
  t.equal(hello.t, 'other');
  await c.call('HSET', 'h', 'f', 'v');
  const all = await c.call('HGETALL', 'h');
  t.same(all, {
    t: 'other',
    v: '%',
    items: [
      { t: 'bulk', v: 'f' },
      { t: 'bulk', v: 'v' },
    ],
  });
  t.same(await c.call('GET', 'missing'), { t: 'other', v: '_' });
  await c.call('ZADD', 'z', '1.5', 'm');
  t.same(await c.call('ZSCORE', 'z', 'm'), { t: 'other', v: ',1.5' });
});

t.test('embedded API: call, helpers, keyspace events, expiry', async (t) => {
  const kv = await Bunder.open();
  t.teardown(() => kv.close());
  const events: string[] = [];
  kv.on('keyspace', (ev) => events.push(`${ev.db}:${ev.event}:${ev.key.toString()}`));
  t.equal(await kv.call('SET', 'a', 'héllo'), 'OK');
  t.same(await kv.get('a'), Buffer.from('héllo'));
  t.equal(await kv.set('a', 'x', { NX: true }), null);
  t.equal(await kv.incr('n'), 1);
  t.equal(await kv.hset('h', { f: 'v' }), 1);
  t.same(await kv.hgetall('h'), { f: Buffer.from('v') });
  t.equal(await kv.rpush('l', 'a', 'b'), 2);
  t.same(await kv.lrange('l', 0, -1), [Buffer.from('a'), Buffer.from('b')]);
  const err = await kv.call('INCR', 'a');
  t.ok(err instanceof ReplyError);
  t.equal((err as Error).message, 'ERR value is not an integer or out of range');
  await t.rejects(kv.incr('a'), ReplyError);
  const bin = Buffer.from([0, 255, 13, 10]);
  await kv.set(bin, bin);
  t.same(await kv.get(bin), bin, 'binary-safe keys and values');
  await kv.set('short', 'v', { PX: 30 });
  await new Promise((resolve) => setTimeout(resolve, 250));
  t.equal(kv.engine.ks.dbs[0]!.dict.has('short'), false, 'active expiry removed the key without access');
  t.ok(events.includes('0:set:a'));
  t.ok(events.includes('0:hset:h'));
  t.ok(events.includes('0:expired:short'));
});

t.test('active expiry samples incrementally and removes every expired key', async (t) => {
  const kv = await Bunder.open();
  t.teardown(() => kv.close());
  for (let i = 0; i < 5000; i++) kv.callSync('SET', `k${i}`, 'v', 'PX', i % 2 === 0 ? '20' : '100000');
  // Let every short TTL pass before the expiry timer can first run (a loaded machine may fire it within
  // 20 ms of the last SET; keys still alive then would wait for the sampling cursor's next lap).
  const expiredBy = Date.now() + 25;
  while (Date.now() < expiredBy) {}
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.equal(kv.engine.ks.dbs[0]!.dict.size, 2500);
  t.equal(kv.callSync('DBSIZE'), 2500);
});

t.test('keyspace events are forwarded only while the embedded store has listeners', async (t) => {
  const kv = await Bunder.open();
  t.teardown(() => kv.close());
  t.equal(kv.engine.listenerCount('keyspace'), 0, 'no event is built per write without a listener');
  const seen: string[] = [];
  const listener = (ev: { event: string }) => seen.push(ev.event);
  kv.on('keyspace', listener);
  kv.once('keyspace', () => seen.push('once'));
  t.equal(kv.engine.listenerCount('keyspace'), 1);
  kv.callSync('SET', 'a', '1');
  kv.callSync('DEL', 'a');
  t.same(seen, ['set', 'once', 'del']);
  kv.off('keyspace', listener);
  t.equal(kv.engine.listenerCount('keyspace'), 0, 'the last listener gone, forwarding stops');
  kv.callSync('SET', 'a', '1');
  t.same(seen, ['set', 'once', 'del']);
});

t.test(
  'connections read through the shared buffer: many clients, large values, close() with clients connected',
  async (t) => {
    const kv = await Bunder.open();
    const { port } = await kv.listen({ port: 0 });
    const clients = await Promise.all(Array.from({ length: 20 }, () => RespClient.connect(port)));
    // Values larger than one read (64 KiB) from many clients at once: each parser must copy what it keeps
    // out of the shared read buffer before another connection's read overwrites it.
    const values = clients.map((_, i) => String.fromCharCode(97 + (i % 26)).repeat(70_000 + i * 1000));
    // A parser that kept bytes of the shared buffer reads garbage and waits for more: time out then.
    const within = <T>(p: Promise<T>, what: string) =>
      Promise.race([
        p,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), 10_000)),
      ]);
    await within(Promise.all(clients.map((c, i) => c.call('SET', `big${i}`, values[i]!))), 'SETs');
    const got = await within(Promise.all(clients.map((c, i) => c.call('GET', `big${i}`))), 'GETs');
    t.same(
      got.map((r) => r.v),
      values,
    );
    const list = await clients[0]!.call('CLIENT', 'LIST');
    t.equal(String(list.v).match(/ addr=127\.0\.0\.1:/g)?.length, 20, 'every connection is a client');
    // close() must not wait forever: the adopted sockets count as the server's connections.
    await within(kv.close(), 'close()');
    for (const c of clients) c.close();
  },
);
