import { createConnection, createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { decodeMessages, encodeMessages } from '../src/codec.js';
import { encodeFrame, FrameDecoder, FrameTooLargeError } from '../src/framing.js';
import { CorruptDataError, type Message, type MessageType, message, type NodeId } from '../src/index.js';
import type { TransportHandler } from '../src/transport.js';
import { TcpTransport } from '../src/transport-tcp.js';

const WIRE_TYPES: MessageType[] = [
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap',
  'heartbeat',
  'heartbeatResp',
  'timeoutNow',
];

const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const id = fc.integer({ min: 1, max: 0xffffffff });
const bytesArb = fc.uint8Array({ maxLength: 40 });
const entryArb = fc.record({
  term: u53,
  index: u53,
  type: fc.constantFrom('normal' as const, 'conf' as const),
  data: bytesArb,
});
const messageArb: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...WIRE_TYPES),
    from: id,
    to: id,
    term: u53,
    logTerm: u53,
    index: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 10 }),
    entries: fc.array(entryArb, { maxLength: 4 }),
    commit: u53,
    reject: fc.boolean(),
    rejectHint: u53,
    context: bytesArb,
    snapshot: fc.option(
      fc.record({
        metadata: fc.record({
          index: u53,
          term: u53,
          confState: fc.record({
            voters: fc.array(id, { maxLength: 5 }),
            learners: fc.array(id, { maxLength: 3 }),
          }),
        }),
        data: bytesArb,
      }),
      { nil: undefined },
    ),
  })
  .map((m) => {
    // the shape the decoder insists on: entries numbered on from index, only on appends; snapshots on snap
    const { snapshot, ...rest } = m;
    const entries = m.type === 'app' ? m.entries.map((e, i) => ({ ...e, index: m.index + 1 + i })) : [];
    const snap =
      m.type === 'snap'
        ? (snapshot ?? {
            metadata: { index: 1, term: 1, confState: { voters: [1], learners: [] } },
            data: new Uint8Array(0),
          })
        : undefined;
    return snap ? { ...rest, entries, snapshot: snap } : { ...rest, entries };
  });

/** Uint8Array vs Buffer differences do not matter: compare as plain JSON with hex bytes. */
function plain(x: unknown): unknown {
  return JSON.parse(
    JSON.stringify(x, (_k, v) =>
      v instanceof Uint8Array || v?.type === 'Buffer' ? Buffer.from(v.data ?? v).toString('hex') : v,
    ),
  );
}

t.test('message codec round trip', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  fc.assert(
    fc.property(fc.array(messageArb, { maxLength: 5 }), (msgs) => {
      const back = decodeMessages(encodeMessages(msgs));
      return JSON.stringify(plain(back)) === JSON.stringify(plain(msgs));
    }),
    { seed, numRuns: 300 },
  );
  t.pass(`seed ${seed}`);
});

t.test('garbage and truncations decode to CorruptDataError only', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
  fc.assert(
    fc.property(
      fc.array(messageArb, { minLength: 1, maxLength: 3 }),
      fc.nat(),
      fc.nat(255),
      (msgs, at, flip) => {
        const buf = encodeMessages(msgs);
        const cut = buf.subarray(0, at % buf.length);
        const damaged = Buffer.from(buf);
        damaged[at % buf.length] ^= flip || 1;
        for (const b of [cut, damaged]) {
          try {
            decodeMessages(b);
          } catch (err) {
            if (!(err instanceof CorruptDataError)) return false;
          }
        }
        return true;
      },
    ),
    { seed, numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
      try {
        decodeMessages(Buffer.from(junk));
      } catch (err) {
        return err instanceof CorruptDataError;
      }
      return true;
    }),
    { seed, numRuns: 500 },
  );
  t.pass(`seed ${seed}`);
});

t.test('messages the core could not take are refused when decoding', async (t) => {
  const e = (index: number) => ({ term: 1, index, type: 'normal' as const, data: new Uint8Array(0) });
  const snapshot = {
    metadata: { index: 3, term: 1, confState: { voters: [1], learners: [] } },
    data: new Uint8Array(0),
  };
  const bad: [string, Message][] = [
    ['entries out of sequence', message({ type: 'app', from: 1, to: 2, index: 5, entries: [e(6), e(8)] })],
    ['entries not after index', message({ type: 'app', from: 1, to: 2, index: 5, entries: [e(5)] })],
    ['entries on a heartbeat', message({ type: 'heartbeat', from: 1, to: 2, entries: [e(1)] })],
    ['snap without a snapshot', message({ type: 'snap', from: 1, to: 2 })],
    ['snapshot on an append', message({ type: 'app', from: 1, to: 2, snapshot })],
  ];
  for (const [what, m] of bad) t.throws(() => decodeMessages(encodeMessages([m])), CorruptDataError, what);
  t.same(
    decodeMessages(
      encodeMessages([message({ type: 'app', from: 1, to: 2, index: 5, entries: [e(6), e(7)] })]),
    )[0]!.entries.length,
    2,
  );
});

t.test('frame decoder: split chunks, many frames per chunk, size limit', async (t) => {
  const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(1000, 7), Buffer.from('tail')];
  const stream = Buffer.concat(frames.map(encodeFrame));
  for (const size of [1, 3, 5, 64, stream.length]) {
    const d = new FrameDecoder(2000);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) got.push(...d.push(stream.subarray(i, i + size)));
    t.same(
      got.map((b) => b.toString('hex')),
      frames.map((b) => b.toString('hex')),
      `chunks of ${size}`,
    );
  }
  const d = new FrameDecoder(100);
  t.throws(() => d.push(encodeFrame(Buffer.alloc(101))), FrameTooLargeError);
});

interface Inbox extends TransportHandler {
  batches: Message[][];
  unreachable: NodeId[];
  snapshots: [NodeId, boolean][];
  waitFor(n: number, ms?: number): Promise<Message[]>;
}

function inbox(): Inbox {
  const box: Inbox = {
    batches: [],
    unreachable: [],
    snapshots: [],
    onMessages(m) {
      box.batches.push(m);
    },
    onUnreachable(id) {
      box.unreachable.push(id);
    },
    onSnapshotStatus(id, ok) {
      box.snapshots.push([id, ok]);
    },
    async waitFor(n, ms = 5000) {
      const deadline = Date.now() + ms;
      while (box.batches.flat().length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out with ${box.batches.flat().length}/${n} messages`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return box.batches.flat();
    },
  };
  return box;
}

async function pair(
  t: { teardown(fn: () => Promise<void>): void },
  opts: { maxFrameBytes?: number; maxMessageBytes?: number; chunkBytes?: number } = {},
) {
  const a = new TcpTransport({ id: 1, listen: { port: 0 }, ...opts });
  const b = new TcpTransport({ id: 2, listen: { port: 0 }, ...opts });
  const ia = inbox();
  const ib = inbox();
  await a.start(ia);
  await b.start(ib);
  a.addPeer(2, b.address());
  b.addPeer(1, a.address());
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  return { a, b, ia, ib };
}

const hb = (from: NodeId, to: NodeId, commit: number): Message =>
  message({ type: 'heartbeat', from, to, term: 1, commit });

t.test('messages cross real sockets, batched per peer per turn', async (t) => {
  const { a, b, ia, ib } = await pair(t);
  // wait for the link, then send 100 messages in one turn
  a.send([hb(1, 2, 0)]);
  await ib.waitFor(1);
  const framesBefore = a.stats.framesSent;
  a.send(Array.from({ length: 100 }, (_, i) => hb(1, 2, i + 1)));
  const got = await ib.waitFor(101);
  t.same(
    got.slice(1).map((m) => m.commit),
    Array.from({ length: 100 }, (_, i) => i + 1),
    'in order',
  );
  t.equal(a.stats.framesSent - framesBefore, 1, 'one frame for the batch');
  b.send([message({ type: 'appResp', from: 2, to: 1, term: 1, index: 5 })]);
  const back = await ia.waitFor(1);
  t.equal(back[0]!.index, 5);
});

t.test('a dead peer is reported unreachable; reconnect with backoff once it is back', async (t) => {
  const a = new TcpTransport({ id: 1, listen: { port: 0 }, initialBackoffMs: 40, maxBackoffMs: 400 });
  const ia = inbox();
  await a.start(ia);
  t.teardown(() => a.close());
  // reserve a port, then close it so nothing listens there
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  a.addPeer(2, { host: '127.0.0.1', port });
  await new Promise((r) => setTimeout(r, 1000));
  const attempts = a.stats.connectAttempts;
  // with backoff 40, 80, 160, 320, 400, 400... about 5 attempts in a second; without it, hundreds
  t.ok(attempts >= 3 && attempts <= 9, `${attempts} connect attempts in 1 s`);
  a.send([hb(1, 2, 1)]);
  // dropped at once while in backoff, or when the dial in flight fails
  for (let i = 0; i < 100 && !ia.unreachable.includes(2); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(ia.unreachable.includes(2), 'reported unreachable');
  const snapMsg = message({
    type: 'snap',
    from: 1,
    to: 2,
    term: 1,
    snapshot: {
      metadata: { index: 5, term: 1, confState: { voters: [1, 2], learners: [] } },
      data: new Uint8Array(3),
    },
  });
  a.send([snapMsg]);
  for (let i = 0; i < 100 && ia.snapshots.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(ia.snapshots, [[2, false]], 'snapshot to a dead peer fails');

  const b = new TcpTransport({ id: 2, listen: { port } });
  const ib = inbox();
  await b.start(ib);
  t.teardown(() => b.close());
  const deadline = Date.now() + 3000;
  while (ib.batches.length === 0 && Date.now() < deadline) {
    a.send([hb(1, 2, 7)]);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(ib.batches.length > 0, 'delivered after the peer came back');
  t.equal(ib.batches[0]![0]!.commit, 7);
  ia.snapshots.length = 0;
  a.send([snapMsg]);
  const got = await ib.waitFor(ib.batches.flat().length + 1);
  t.equal(got[got.length - 1]!.type, 'snap');
  t.same(ia.snapshots, [[2, true]], 'snapshot reported sent');
});

async function rawConnect(port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.on('error', () => {});
  return s;
}

function closed(s: Socket, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function hello(from: number, to: number): Buffer {
  const h = Buffer.alloc(13);
  h.write('RAFT', 0);
  h[4] = 2;
  h.writeUInt32BE(from, 5);
  h.writeUInt32BE(to, 9);
  return encodeFrame(h);
}

/** A batch frame: kind byte 0, then the batch. */
function batchFrame(msgs: Message[]): Buffer {
  return encodeFrame(Buffer.concat([Buffer.from([0]), encodeMessages(msgs)]));
}

t.test('malformed input closes that connection only', async (t) => {
  const { a, b, ib } = await pair(t, { maxFrameBytes: 1 << 16 });
  a.send([hb(1, 2, 1)]);
  await ib.waitFor(1);
  const port = b.address().port;
  const cases: [string, Buffer][] = [
    ['bad hello', encodeFrame(Buffer.from('HELLO'))],
    ['hello for another node', hello(3, 9)],
    ['garbage batch', Buffer.concat([hello(3, 2), encodeFrame(Buffer.from([0, 0, 0, 0, 1, 99, 1, 2]))])],
    ['unknown frame kind', Buffer.concat([hello(3, 2), encodeFrame(Buffer.from([7, 0, 0, 0, 0]))])],
    [
      'a frame of the previous wire version (no kind byte)',
      Buffer.concat([hello(3, 2), encodeFrame(encodeMessages([hb(3, 2, 5)]))]),
    ],
    ['oversized frame', Buffer.concat([hello(3, 2), Buffer.from([0xff, 0xff, 0xff, 0xff])])],
    ['message from a node other than the hello', Buffer.concat([hello(3, 2), batchFrame([hb(1, 2, 5)])])],
  ];
  for (const [what, bytes] of cases) {
    const s = await rawConnect(port);
    s.write(bytes);
    t.ok(await closed(s), `${what}: closed`);
  }
  t.equal(b.stats.connectionsRejected, cases.length);
  // a valid raw peer and the real one still work
  const ok = await rawConnect(port);
  ok.write(Buffer.concat([hello(3, 2), batchFrame([hb(3, 2, 42)])]));
  const before = ib.batches.flat().length;
  a.send([hb(1, 2, 43)]);
  const got = await ib.waitFor(before + 2);
  t.same(
    got
      .slice(before)
      .map((m) => m.commit)
      .sort(),
    [42, 43],
  );
  t.notOk(ok.destroyed, 'the valid connection stays open');
  ok.destroy();
});

t.test('a message larger than maxMessageBytes is dropped, the rest goes through', async (t) => {
  const { a, ib, ia } = await pair(t, { maxFrameBytes: 4096, maxMessageBytes: 8192 });
  a.send([hb(1, 2, 1)]);
  await ib.waitFor(1);
  const big = message({
    type: 'snap',
    from: 1,
    to: 2,
    term: 1,
    snapshot: {
      metadata: { index: 9, term: 1, confState: { voters: [1, 2], learners: [] } },
      data: new Uint8Array(10_000),
    },
  });
  a.send([hb(1, 2, 2), big, hb(1, 2, 3)]);
  const got = await ib.waitFor(3);
  t.same(
    got.slice(1).map((m) => m.commit),
    [2, 3],
  );
  t.same(ia.snapshots, [[2, false]]);
});

t.test('a batch over the frame limit is split across frames', async (t) => {
  const { a, ib } = await pair(t, { maxFrameBytes: 4096 });
  const ent = (i: number) => ({ term: 1, index: i, type: 'normal' as const, data: new Uint8Array(1000) });
  const msgs = Array.from({ length: 40 }, (_, i) =>
    message({ type: 'app', from: 1, to: 2, term: 1, index: i, entries: [ent(i + 1)] }),
  );
  const before = a.stats.framesSent;
  a.send(msgs);
  const got = await ib.waitFor(40);
  t.same(
    got.map((m) => m.index),
    msgs.map((m) => m.index),
    'all delivered, in order',
  );
  t.ok(a.stats.framesSent - before >= 10, `${a.stats.framesSent - before} frames`);
});

t.test('a peer that stops reading: messages beyond maxQueuedBytes are dropped, not buffered', async (t) => {
  const stalled = new Set<Socket>();
  const server = createServer((s) => {
    stalled.add(s);
    s.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    for (const s of stalled) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const a = new TcpTransport({ id: 1, listen: { port: 0 }, maxQueuedBytes: 256 * 1024 });
  const ia = inbox();
  await a.start(ia);
  t.teardown(() => a.close());
  a.addPeer(2, { host: '127.0.0.1', port: (server.address() as { port: number }).port });
  const big = (i: number) =>
    message({
      type: 'app',
      from: 1,
      to: 2,
      term: 1,
      index: i,
      entries: [{ term: 1, index: i + 1, type: 'normal', data: new Uint8Array(64 * 1024) }],
    });
  for (let i = 0; i < 400 && a.stats.messagesDropped === 0; i++) {
    a.send([big(i)]);
    await new Promise((r) => setImmediate(r));
  }
  t.ok(a.stats.messagesDropped > 0, `${a.stats.messagesDropped} messages dropped`);
  t.ok(ia.unreachable.includes(2), 'the slow peer is reported unreachable');
});
