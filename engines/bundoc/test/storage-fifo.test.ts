import fc from 'fast-check';
import t from 'tap';
import { Fifo } from '../src/storage/fifo.js';

// The buffer pool's queues: a Fifo behaves as an array used as a queue, through pushes, shifts past
// its compaction point, retains and clears.

t.test('Fifo agrees with an array model', async (t) => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('push' as const), n: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ k: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ k: fc.constant('retain' as const), m: fc.integer({ min: 1, max: 5 }) }),
    fc.constant({ k: 'clear' as const }),
  );
  let next = 0;
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const q = new Fifo<number>();
      let model: number[] = [];
      for (const o of ops) {
        if (o.k === 'push') {
          for (let i = 0; i < o.n; i++) {
            q.push(next);
            model.push(next++);
          }
        } else if (o.k === 'shift') {
          for (let i = 0; i < o.n; i++) if (q.shift() !== model.shift()) return false;
        } else if (o.k === 'retain') {
          q.retain((x) => x % o.m !== 0);
          model = model.filter((x) => x % o.m !== 0);
        } else {
          q.clear();
          model = [];
        }
        if (q.length !== model.length) return false;
      }
      while (model.length > 0) if (q.shift() !== model.shift()) return false;
      return q.shift() === undefined && q.length === 0;
    }),
    { numRuns: 300, seed: 20261130 },
  );
  t.pass('300 random sequences');
});
