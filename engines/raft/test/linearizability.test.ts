import fc from 'fast-check';
import t from 'tap';
import { checkOperations, type KvInput, type KvOutput, kvModel, type Operation } from '../src/index.js';

type Op = Operation<KvInput, KvOutput>;
const put = (key: string, value: string, call: number, ret: number): Op => ({
  input: { kind: 'put', key, value },
  output: null,
  call,
  return: ret,
});
const get = (key: string, value: string | null, call: number, ret: number): Op => ({
  input: { kind: 'get', key },
  output: value,
  call,
  return: ret,
});

/** Reference: tries every order that respects real time. Exponential; only for tiny histories. */
function bruteForce(ops: readonly Op[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const search = (state: Map<string, string | null>, done: number): boolean => {
    if (done === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      // i may go next only if no unused op finished before i started
      if (ops.some((o, j) => !used[j] && j !== i && o.return < ops[i]!.call)) continue;
      const op = ops[i]!;
      const cur = state.get(op.input.key) ?? null;
      let next = state;
      if (op.input.kind === 'put') next = new Map(state).set(op.input.key, op.input.value);
      else if (op.output !== cur) continue;
      used[i] = true;
      if (search(next, done + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(new Map(), 0);
}

t.test('accepts linearizable histories', async (t) => {
  t.equal(checkOperations(kvModel, []), 'ok');
  t.equal(checkOperations(kvModel, [put('x', '1', 0, 10), get('x', '1', 11, 12)]), 'ok');
  // concurrent read may see either value
  t.equal(checkOperations(kvModel, [put('x', '1', 0, 10), get('x', null, 5, 6)]), 'ok');
  t.equal(checkOperations(kvModel, [put('x', '1', 0, 10), get('x', '1', 5, 6)]), 'ok');
  // a write with unknown outcome may be seen or not
  t.equal(
    checkOperations(kvModel, [put('x', '1', 0, Infinity), get('x', null, 5, 6), get('x', '1', 7, 8)]),
    'ok',
  );
});

t.test('rejects known non-linearizable histories', async (t) => {
  // stale read after the write completed
  t.equal(checkOperations(kvModel, [put('x', '1', 0, 10), get('x', null, 11, 12)]), 'illegal');
  // a value that was never written
  t.equal(checkOperations(kvModel, [get('x', '7', 0, 1)]), 'illegal');
  // reads that observe two writes in opposite orders, without overlap between the reads
  t.equal(
    checkOperations(kvModel, [
      put('x', '1', 0, 100),
      put('x', '2', 0, 100),
      get('x', '1', 10, 20),
      get('x', '2', 30, 40),
      get('x', '1', 50, 60),
    ]),
    'illegal',
  );
  // a value read and then lost: the later read sees the older value
  t.equal(
    checkOperations(kvModel, [
      put('x', '1', 0, 1),
      put('x', '2', 2, 3),
      get('x', '2', 4, 5),
      get('x', '1', 6, 7),
    ]),
    'illegal',
  );
  // per-key partitioning still finds the violation on one key among many
  t.equal(
    checkOperations(kvModel, [
      put('a', '1', 0, 1),
      put('b', '1', 0, 1),
      get('a', '1', 2, 3),
      get('b', null, 2, 3),
    ]),
    'illegal',
  );
});

t.test('agrees with brute force on small random histories', async (t) => {
  const opArb = fc.record({
    kind: fc.constantFrom('put', 'get'),
    key: fc.constantFrom('x', 'y'),
    value: fc.constantFrom('1', '2', '3'),
    readNull: fc.boolean(),
    call: fc.nat(20),
    len: fc.nat(8),
    unknown: fc.boolean(),
  });
  let illegal = 0;
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 6 }), (raw) => {
      const ops: Op[] = raw.map((r) =>
        r.kind === 'put'
          ? put(r.key, r.value, r.call, r.unknown && r.len > 5 ? Infinity : r.call + r.len)
          : get(r.key, r.readNull ? null : r.value, r.call, r.call + r.len),
      );
      const expected = bruteForce(ops);
      if (!expected) illegal++;
      return checkOperations(kvModel, ops) === (expected ? 'ok' : 'illegal');
    }),
    { numRuns: 2000 },
  );
  t.ok(illegal > 100, `the generator produced illegal histories too (${illegal})`);
});

t.test('a large concurrent legal history is checked quickly', async (t) => {
  const ops: Op[] = [];
  // 200 writes and reads in overlapping windows, generated from a sequential run so the result is legal
  let value: string | null = null;
  for (let i = 0; i < 200; i++) {
    if (i % 3 === 0) {
      value = String(i);
      ops.push(put('k', value, i, i + 5));
    } else {
      ops.push(get('k', value, i - 3, i + 1));
    }
  }
  t.equal(checkOperations(kvModel, ops, { timeoutMs: 5000 }), 'ok');
});
