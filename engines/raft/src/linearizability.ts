/**
 * A linearizability checker in the style of Wing & Gong with Lowe's memoization (as in Porcupine): it
 * searches for an order of the operations that respects real time and the sequential model, caching
 * (linearized set, model state) pairs it already explored. Histories are split per partition (per key for
 * a key-value store), which is sound because linearizability is compositional.
 */

export interface Operation<I, O> {
  readonly input: I;
  readonly output: O;
  /** Invocation time. */
  readonly call: number;
  /** Response time; Infinity when the outcome is unknown (the op may or may not have taken effect). */
  readonly return: number;
}

export interface Model<S, I, O> {
  init(): S;
  /** Whether `output` is a legal result of `input` in `state`, and the next state. */
  step(state: S, input: I, output: O): [boolean, S];
  /** A string that identifies the state, for memoization. */
  key(state: S): string;
  partition?(ops: readonly Operation<I, O>[]): Operation<I, O>[][];
}

export type CheckResult = 'ok' | 'illegal' | 'unknown';

interface Node<I, O> {
  readonly op: Operation<I, O> | undefined;
  readonly id: number;
  readonly isCall: boolean;
  match: Node<I, O> | undefined;
  prev: Node<I, O> | undefined;
  next: Node<I, O> | undefined;
}

function makeList<I, O>(ops: readonly Operation<I, O>[]): Node<I, O> {
  const events: { time: number; isCall: boolean; id: number }[] = [];
  ops.forEach((op, id) => {
    if (!(op.call <= op.return)) throw new RangeError(`operation ${id} returns before it is called`);
    events.push({ time: op.call, isCall: true, id }, { time: op.return, isCall: false, id });
  });
  // calls before returns at equal times: such ops are treated as concurrent
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node<I, O> = {
    op: undefined,
    id: -1,
    isCall: false,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let tail = head;
  const calls = new Map<number, Node<I, O>>();
  for (const e of events) {
    const n: Node<I, O> = {
      op: ops[e.id],
      id: e.id,
      isCall: e.isCall,
      match: undefined,
      prev: tail,
      next: undefined,
    };
    tail.next = n;
    tail = n;
    if (e.isCall) calls.set(e.id, n);
    else calls.get(e.id)!.match = n;
  }
  return head;
}

function lift<I, O>(call: Node<I, O>): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift<I, O>(call: Node<I, O>): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  deadline: number,
): CheckResult {
  if (ops.length === 0) return 'ok';
  const head = makeList(ops);
  // the linearized set as 16-bit words, so that a cache key is a short string
  const linearized = new Uint16Array(Math.ceil(ops.length / 16));
  const flip = (id: number) => {
    linearized[id >> 4]! ^= 1 << (id & 15);
  };
  const cache = new Set<string>();
  const stack: { node: Node<I, O>; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if ((++steps & 0xfff) === 0 && Date.now() > deadline) return 'unknown';
    if (entry === undefined) return 'illegal';
    if (entry.isCall) {
      const [ok, next] = model.step(state, entry.op!.input, entry.op!.output);
      let advanced = false;
      if (ok) {
        flip(entry.id);
        const key = `${String.fromCharCode(...linearized)}|${model.key(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ node: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          advanced = true;
        } else {
          flip(entry.id);
        }
      }
      if (!advanced) entry = entry.next;
    } else {
      // a return whose call is not linearized yet: undo the last choice
      const top = stack.pop();
      if (!top) return 'illegal';
      state = top.state;
      flip(top.node.id);
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return 'ok';
}

/** Checks a history against a model; 'unknown' when the time budget ran out. */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  options: { timeoutMs?: number } = {},
): CheckResult {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const parts = model.partition ? model.partition(ops) : [ops.slice()];
  let result: CheckResult = 'ok';
  for (const part of parts) {
    const r = checkPartition(model, part, deadline);
    if (r === 'illegal') return 'illegal';
    if (r === 'unknown') result = 'unknown';
  }
  return result;
}

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string };
/** For a get: the value read (null when absent). For a put: ignored. */
export type KvOutput = string | null;

/** A key-value store of registers: put overwrites, get returns the latest value or null. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step: (state, input, output) => (input.kind === 'put' ? [true, input.value] : [output === state, state]),
  key: (state) => (state === null ? '\u0000' : `=${state}`),
  partition(ops) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key) ?? [];
      list.push(op);
      byKey.set(op.input.key, list);
    }
    return [...byKey.values()];
  },
};
