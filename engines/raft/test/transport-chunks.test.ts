import { createConnection, type Socket } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import {
  ChunkReassembler,
  chunkFrames,
  encodeChunkFrame,
  FRAME_CHUNK,
  MessageTooLargeError,
} from '../src/chunking.js';
import { encodeMessages } from '../src/codec.js';
import { encodeFrame, FrameDecoder } from '../src/framing.js';
import { RaftGroup } from '../src/group.js';
import { MemoryHostStorage } from '../src/host-storage.js';
import { CorruptDataError, type Message, message, type NodeId, RaftError } from '../src/index.js';
import { encodeKvCommand, KvStateMachine } from '../src/kv/kv-state-machine.js';
import type { TransportHandler } from '../src/transport.js';
import { TcpTransport } from '../src/transport-tcp.js';

const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);
const fcOpts = { seed: SEED, numRuns: Number(process.env.FC_RUNS ?? 300) };
t.comment(`seed ${SEED} (SEED=n reproduces)`);

/** The chunk frames of a payload as whole frames (header and data joined). */
function framesOf(id: number, payload: Buffer, chunkBytes: number): Buffer[] {
  return [...chunkFrames(id, payload, chunkBytes)].map(([h, d]) => Buffer.concat([h, d]));
}

/** Runs frames (with their length prefix) through a frame decoder and a reassembler, as a connection does. */
function receive(stream: Buffer, split: number[], limit: number): { whole: Buffer[]; error?: unknown } {
  const decoder = new FrameDecoder(1 << 20);
  const r = new ChunkReassembler(limit);
  const whole: Buffer[] = [];
  let at = 0;
  const cuts = [...new Set(split.map((s) => s % (stream.length + 1)))].sort((a, b) => a - b);
  try {
    for (const cut of [...cuts, stream.length]) {
      for (const f of decoder.push(stream.subarray(at, cut))) {
        const out = r.push(f);
        if (out) whole.push(Buffer.from(out));
      }
      at = cut;
    }
  } catch (error) {
    return { whole, error };
  }
  return { whole, error: undefined };
}

t.test('chunk frames reassemble to the payload, however the stream is split', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 700 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (payloads, chunk, split) => {
        const stream = Buffer.concat(payloads.flatMap((p, i) => framesOf(i + 1, Buffer.from(p), chunk)));
        const { whole, error } = receive(stream, split, 1 << 20);
        if (error) throw error;
        return whole.length === payloads.length && whole.every((w, i) => w.equals(Buffer.from(payloads[i]!)));
      },
    ),
    fcOpts,
  );
  t.pass('every payload whole');
});

t.test('chunks out of order, duplicated, of another transfer or past the total are refused', async (t) => {
  const payload = Buffer.alloc(1000, 5);
  const frames = framesOf(7, payload, 100).map((f) => f.subarray(4)); // without the length prefix
  const feed = (seq: Buffer[], limit = 1 << 20) => {
    const r = new ChunkReassembler(limit);
    let out: Buffer | undefined;
    for (const f of seq) out = r.push(f) ?? out;
    return out;
  };
  t.ok(feed(frames)?.equals(payload), 'in order: whole');
  const swapped = [...frames];
  [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
  t.throws(() => feed(swapped), CorruptDataError, 'two chunks swapped');
  t.throws(
    () => feed([...frames.slice(0, 5), frames[4]!, ...frames.slice(5)]),
    CorruptDataError,
    'a duplicate',
  );
  t.throws(() => feed([...frames.slice(0, 4), ...frames.slice(5)]), CorruptDataError, 'a chunk missing');
  t.throws(() => feed(frames.slice(1)), CorruptDataError, 'no first chunk');
  const other = framesOf(8, payload, 100).map((f) => f.subarray(4));
  t.throws(() => feed([...frames.slice(0, 3), other[0]!]), CorruptDataError, 'a new transfer mid-transfer');
  t.throws(() => feed([...frames.slice(0, 3), other[3]!]), CorruptDataError, 'a chunk of another transfer');
  const longer = framesOf(7, Buffer.alloc(2000, 5), 100).map((f) => f.subarray(4));
  t.throws(() => feed([...frames.slice(0, 3), longer[3]!]), CorruptDataError, 'another total');
  t.throws(
    () => feed([encodeChunkFrame(1, 10, 0, Buffer.alloc(11)).subarray(4)]),
    CorruptDataError,
    'more data than the total',
  );
  t.throws(
    () => feed([encodeChunkFrame(1, 10, 0, Buffer.alloc(0)).subarray(4)]),
    CorruptDataError,
    'no data',
  );
  t.throws(() => feed(frames, 999), MessageTooLargeError, 'a total over the limit, at the first chunk');
  t.equal(feed(frames.slice(0, -1)), undefined, 'incomplete: nothing yet');
});

t.test(
  'fuzz: any chunk frame sequence yields whole payloads or a RaftError, never anything else',
  async (t) => {
    const frameArb = fc.oneof(
      // a well-formed header with arbitrary fields
      fc
        .record({
          id: fc.integer({ min: 0, max: 3 }),
          total: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(2 ** 53 - 1), fc.nat()),
          offset: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.nat()),
          data: fc.uint8Array({ maxLength: 200 }),
        })
        .map(({ id, total, offset, data }) => encodeChunkFrame(id, total, offset, data).subarray(4)),
      // arbitrary bytes behind the chunk kind
      fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.concat([Buffer.from([FRAME_CHUNK]), b])),
      // arbitrary bytes
      fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), (frames) => {
        const r = new ChunkReassembler(1000);
        for (const f of frames) {
          try {
            const out = r.push(f);
            if (out && out.length > 1000) return false;
          } catch (err) {
            if (!(err instanceof RaftError)) throw err;
            return true;
          }
        }
        return r.pendingBytes <= 1000;
      }),
      { ...fcOpts, numRuns: fcOpts.numRuns * 10 },
    );
    t.pass('no other outcome');
  },
);

// ---- real sockets ----------------------------------------------------------------------------------

interface Inbox extends TransportHandler {
  batches: Message[][];
  snapshots: [NodeId, boolean][];
  all(): Message[];
}

function inbox(): Inbox {
  const box: Inbox = {
    batches: [],
    snapshots: [],
    onMessages(m) {
      box.batches.push(m);
    },
    onUnreachable() {},
    onSnapshotStatus(id, ok) {
      box.snapshots.push([id, ok]);
    },
    all: () => box.batches.flat(),
  };
  return box;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const FRAME = 64 * 1024;
const hb = (from: NodeId, to: NodeId, commit: number): Message =>
  message({ type: 'heartbeat', from, to, term: 1, commit });

function snapOf(from: NodeId, to: NodeId, bytes: number, seed: number): Message {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) data.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return message({
    type: 'snap',
    from,
    to,
    term: 1,
    snapshot: { metadata: { index: 100, term: 1, confState: { voters: [1, 2, 3], learners: [] } }, data },
  });
}

async function trio(t: { teardown(fn: () => Promise<void>): void }) {
  const opts = { maxFrameBytes: FRAME, chunkBytes: 16 * 1024 };
  const ts = [1, 2, 3].map((id) => new TcpTransport({ id, listen: { port: 0 }, ...opts }));
  const boxes = ts.map(() => inbox());
  for (let i = 0; i < 3; i++) await ts[i]!.start(boxes[i]!);
  for (const a of ts) for (const b of ts) if (a !== b) a.addPeer(b.id, b.address());
  t.teardown(async () => {
    for (const x of ts) await x.close();
  });
  // links up
  for (const a of ts) a.send(ts.filter((b) => b !== a).map((b) => hb(a.id, b.id, 0)));
  await until(() => boxes.every((b) => b.all().length === 2), 'links');
  return { ts, boxes };
}

t.test('a 5 MiB snapshot crosses 64 KiB frames; other messages interleave with it', async (t) => {
  const { ts, boxes } = await trio(t);
  const [a, , c] = ts;
  const b = boxes[1]!;
  const snap = snapOf(1, 2, 5 * 1024 * 1024, SEED);
  const before = a!.stats.chunksSent;
  a!.send([snap]);
  // while it travels, 1 keeps sending heartbeats to 2 on the same connection, and 3 on its own
  let n = 0;
  const got = () => b.all().find((m) => m.type === 'snap');
  while (!got()) {
    n++;
    a!.send([hb(1, 2, n)]);
    c!.send([hb(3, 2, n)]);
    await new Promise((r) => setImmediate(r));
    if (n > 200_000) throw new Error('snapshot never arrived');
  }
  const msgs = b.all();
  const at = msgs.findIndex((m) => m.type === 'snap');
  const early1 = msgs
    .slice(0, at)
    .filter((m) => m.from === 1 && m.type === 'heartbeat' && m.commit > 0).length;
  const early3 = msgs
    .slice(0, at)
    .filter((m) => m.from === 3 && m.type === 'heartbeat' && m.commit > 0).length;
  t.ok(early1 > 0, `${early1} heartbeats from the same sender arrived during the transfer`);
  t.ok(early3 > 0, `${early3} heartbeats from another peer arrived during the transfer`);
  const recv = got()!;
  t.ok(
    Buffer.from(recv.snapshot!.data).equals(Buffer.from(snap.snapshot!.data)),
    'the snapshot bytes are intact',
  );
  t.same(recv.snapshot!.metadata, snap.snapshot!.metadata);
  const chunks = a!.stats.chunksSent - before;
  t.ok(chunks >= (5 * 1024 * 1024) / (16 * 1024), `${chunks} chunk frames`);
  await until(() => boxes[0]!.snapshots.length > 0, 'snapshot status');
  t.same(boxes[0]!.snapshots, [[2, true]], 'reported sent');
  t.equal(ts[1]!.stats.transfersReceived, 1);
  t.equal(ts[1]!.stats.connectionsRejected, 0);
});

t.test('a snapshot over maxMessageBytes is refused by the sender', async (t) => {
  const a = new TcpTransport({ id: 1, listen: { port: 0 }, maxFrameBytes: FRAME, maxMessageBytes: 1 << 20 });
  const b = new TcpTransport({ id: 2, listen: { port: 0 }, maxFrameBytes: FRAME });
  const ia = inbox();
  const ib = inbox();
  await a.start(ia);
  await b.start(ib);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  a.addPeer(2, b.address());
  a.send([hb(1, 2, 1)]);
  await until(() => ib.all().length === 1, 'link');
  a.send([snapOf(1, 2, 2 << 20, 1), hb(1, 2, 2)]);
  await until(() => ib.all().length === 2 && ia.snapshots.length === 1, 'the heartbeat and the status');
  t.same(ia.snapshots, [[2, false]]);
  t.equal(ib.all()[1]!.commit, 2);
});

t.test('a transfer cut by a closed connection is reported failed; a later one goes through', async (t) => {
  const { ts, boxes } = await trio(t);
  const [a, b] = ts;
  a!.send([snapOf(1, 2, 4 << 20, 2)]);
  await until(() => a!.stats.chunksSent > 10, 'the transfer started');
  // the receiver drops its inbound connections (as if the network broke): its half transfer goes too
  for (const s of (b as unknown as { inbound: Set<Socket> }).inbound) s.destroy();
  await until(() => boxes[0]!.snapshots.length === 1, 'status');
  t.same(boxes[0]!.snapshots, [[2, false]], 'reported failed');
  // the link comes back (reconnect with backoff) and a new transfer starts from scratch
  const deadline = Date.now() + 10_000;
  while (!boxes[1]!.all().some((m) => m.type === 'snap')) {
    if (Date.now() > deadline) throw new Error('no snapshot after reconnect');
    a!.send([snapOf(1, 2, 1 << 20, 3)]);
    await new Promise((r) => setTimeout(r, 300));
  }
  t.equal(b!.stats.connectionsRejected, 0, 'nothing was malformed');
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

t.test('malformed chunks close that connection only; a reconnect starts clean', async (t) => {
  const { ts, boxes } = await trio(t);
  const b = ts[1]!;
  const port = b.address().port;
  const payload = encodeMessages([snapOf(3, 2, 300_000, 4)]);
  const frames = framesOf(1, payload, 50_000);
  const other = framesOf(2, payload, 50_000);
  const cases: [string, Buffer[]][] = [
    ['chunks out of order', [frames[0]!, frames[2]!]],
    ['a new transfer before the last one ends', [frames[0]!, other[0]!]],
    ['a chunk with no transfer started', [frames[1]!]],
    ['a total over the limit', [encodeChunkFrame(1, 2 ** 31, 0, Buffer.alloc(10))]],
    ['a transfer that is not a message batch', framesOf(3, Buffer.alloc(100_000, 0xee), 50_000)],
    [
      'a transfer with a message from another node',
      framesOf(4, encodeMessages([snapOf(1, 2, 100_000, 5)]), 50_000),
    ],
  ];
  for (const [what, seq] of cases) {
    const s = await rawConnect(port);
    s.write(Buffer.concat([hello(3, 2), ...seq]));
    t.ok(await closed(s), `${what}: closed`);
  }
  t.equal(b.stats.connectionsRejected, cases.length);
  // half a transfer, then the connection goes away: a new connection's transfer is whole again
  const half = await rawConnect(port);
  half.write(Buffer.concat([hello(3, 2), ...frames.slice(0, 3)]));
  await new Promise((r) => setTimeout(r, 50));
  half.destroy();
  const again = await rawConnect(port);
  again.write(Buffer.concat([hello(3, 2), ...frames]));
  await until(() => boxes[1]!.all().some((m) => m.type === 'snap' && m.from === 3), 'the whole transfer');
  t.notOk(again.destroyed, 'the valid connection stays open');
  again.destroy();
  // the real peers were never disturbed
  ts[0]!.send([hb(1, 2, 99)]);
  await until(() => boxes[1]!.all().some((m) => m.commit === 99), 'a heartbeat from 1');
  t.equal(b.stats.connectionsRejected, cases.length);
});

t.test('options are checked', async (t) => {
  const bad = [
    { maxFrameBytes: 10 },
    { maxMessageBytes: 0 },
    { maxMessageBytes: 2 ** 40 },
    { maxFrameBytes: 4096, chunkBytes: 4096 },
    { chunkBytes: 0.5 },
  ];
  for (const o of bad)
    t.throws(() => new TcpTransport({ id: 1, listen: { port: 0 }, ...o }), { code: 'INVALID_CONFIG' });
});

t.test('raft groups over TCP with 64 KiB frames: a member catches up by a multi-MiB snapshot', async (t) => {
  const ids: NodeId[] = [1, 2, 3];
  const running = new Map<
    NodeId,
    { group: RaftGroup<string | null>; sm: KvStateMachine; tr: TcpTransport }
  >();
  t.teardown(async () => {
    for (const m of running.values()) await m.group.stop();
  });
  const start = async (id: NodeId) => {
    const tr = new TcpTransport({ id, listen: { port: 0 }, maxFrameBytes: FRAME });
    const sm = new KvStateMachine();
    const group = await RaftGroup.start({
      id,
      peers: ids,
      storage: new MemoryHostStorage(),
      transport: tr,
      stateMachine: sm,
      tickMs: 20,
      snapshotEvery: 20,
      keepEntries: 2,
    });
    for (const o of running.values()) {
      o.tr.addPeer(id, tr.address());
      tr.addPeer(o.tr.id, o.tr.address());
    }
    const m = { group, sm, tr };
    running.set(id, m);
    return m;
  };
  await start(1);
  await start(2);
  await until(() => [...running.values()].some((m) => m.group.isLeader()), 'a leader');
  const leader = [...running.values()].find((m) => m.group.isLeader())!;
  const value = (i: number) => `${i}:`.padEnd(50_000, String.fromCharCode(97 + (i % 26)));
  for (let i = 0; i < 100; i++)
    await leader.group.propose(encodeKvCommand({ op: 'put', key: `k${i}`, value: value(i) }));
  await until(() => leader.group.status().snapshotIndex >= 80, 'a snapshot');
  const three = await start(3);
  await until(
    () => three.group.status().applied >= leader.group.status().applied,
    'member 3 caught up',
    20_000,
  );
  t.ok(three.sm.restores >= 1, 'by a snapshot');
  t.ok(three.tr.stats.transfersReceived >= 1, `${three.tr.stats.transfersReceived} chunked transfers`);
  t.ok(leader.tr.stats.chunksSent >= (100 * 50_000) / FRAME, `${leader.tr.stats.chunksSent} chunks sent`);
  t.same([...three.sm.map].sort(), [...leader.sm.map].sort(), 'same state');
});
