import fc from 'fast-check';
import t from 'tap';
import { buildHeads, HEAD_BYTES, lastExact, searchHeads } from '../src/storage/key-heads.js';

// Key heads must find exactly the positions a byte-by-byte binary search finds: for every sorted set of
// distinct keys (long shared prefixes, keys that are prefixes of others, ties beyond the head, bytes 0
// and 255) and every probe, present or not.

const byte = fc.constantFrom(0, 1, 2, 0x7f, 0xfe, 0xff);
const tail = fc.array(byte, { maxLength: HEAD_BYTES + 4 });

function reference(keys: Uint8Array[], key: Uint8Array, upper: boolean): number {
  let i = 0;
  while (i < keys.length) {
    const c = Buffer.compare(keys[i]!, key);
    if (upper ? c > 0 : c >= 0) break;
    i++;
  }
  return i;
}

t.test('searchHeads agrees with a byte-by-byte search', async (t) => {
  let checked = 0;
  let exact = 0;
  fc.assert(
    fc.property(
      fc.array(byte, { maxLength: 10 }),
      fc.array(fc.tuple(tail, tail), { minLength: 1, maxLength: 40 }),
      fc.array(fc.tuple(fc.array(byte, { maxLength: 12 }), tail), { maxLength: 20 }),
      (prefix, parts, probeParts) => {
        // Keys share `prefix`, then many share a second run of bytes (ties beyond the head).
        const set = new Map<string, Uint8Array>();
        for (const [a, b] of parts) {
          const k = Uint8Array.from([...prefix, ...a, ...(b.length % 2 ? [9, 9, 9, 9, 9, 9, 9] : []), ...b]);
          set.set(Buffer.from(k).toString('latin1'), k);
        }
        const keys = [...set.values()].sort((x, y) => Buffer.compare(x, y));
        const heads = buildHeads(keys);
        const probes: Uint8Array[] = [...keys, ...keys.map((k) => k.subarray(0, k.length >> 1))];
        for (const [pre, rest] of probeParts) probes.push(Uint8Array.from([...pre, ...rest]));
        for (const [, rest] of probeParts) probes.push(Uint8Array.from([...prefix, ...rest]));
        for (const k of keys)
          probes.push(Uint8Array.from([...k, 0]), Uint8Array.from([...k.subarray(0, -1)]));
        for (const p of probes) {
          for (const upper of [false, true]) {
            const got = searchHeads(keys, heads, p, upper);
            const want = reference(keys, p, upper);
            // lastExact: the key found (lower bound) or just passed (upper bound) is the probe itself
            const at = upper ? got - 1 : got;
            if (lastExact && !(at >= 0 && at < keys.length && Buffer.compare(keys[at]!, p) === 0)) {
              t.fail(`lastExact set wrongly for ${Buffer.from(p).toString('hex')}`);
              return false;
            }
            if (lastExact) exact++;
            if (got !== want) {
              t.fail(
                `${upper ? 'upper' : 'lower'} bound of ${Buffer.from(p).toString('hex')}: ${got}, want ${want}`,
              );
              return false;
            }
            checked++;
          }
        }
        return true;
      },
    ),
    { numRuns: 2000, seed: 20261130 },
  );
  t.ok(checked > 50_000, `${checked} searches checked`);
  t.ok(exact > 1000, `${exact} matches proved by their heads`);
});

t.test('heads are ordered as the keys', async (t) => {
  const keys = [
    [],
    [0],
    [0, 0],
    [0, 1],
    [1],
    [1, 255, 255, 255, 255, 255, 255],
    [1, 255, 255, 255, 255, 255, 255, 0],
    [2],
  ].map((a) => Uint8Array.from(a));
  const { heads, prefix } = buildHeads(keys);
  t.equal(prefix.length, 0);
  for (let i = 1; i < heads.length; i++) t.ok(heads[i - 1]! <= heads[i]!, `head ${i - 1} <= head ${i}`);
  // the two keys that agree on their first six bytes tie, and are told apart by their bytes
  t.equal(heads[5], heads[6]);
  t.equal(searchHeads(keys, buildHeads(keys), keys[6]!, false), 6);
  t.equal(searchHeads(keys, buildHeads(keys), keys[6]!, true), 7);
});
