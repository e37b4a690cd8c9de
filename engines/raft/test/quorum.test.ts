import fc from 'fast-check';
import t from 'tap';
import { isMajority, majorityIndex } from '../src/index.js';

t.test('majorityIndex is stored on a majority and is the largest such index', async (t) => {
  t.equal(majorityIndex([]), 0);
  t.equal(majorityIndex([5]), 5);
  t.equal(majorityIndex([5, 1, 3]), 3);
  t.equal(majorityIndex([9, 9, 1, 1]), 1);
  fc.assert(
    fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 9 }), (match) => {
      const m = majorityIndex(match);
      const atLeast = (x: number) => match.filter((v) => v >= x).length;
      // a majority has stored m, and no larger index is stored on a majority
      return isMajority(atLeast(m), match.length) && !isMajority(atLeast(m + 1), match.length);
    }),
  );
});

t.test('isMajority', async (t) => {
  t.ok(isMajority(2, 3));
  t.notOk(isMajority(1, 3));
  t.notOk(isMajority(2, 4));
  t.ok(isMajority(3, 5));
});
