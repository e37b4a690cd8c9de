import fc from 'fast-check';
import t from 'tap';
import { EMPTY_BYTES as EMPTY_VALUE } from '../src/storage/copy-out.js';
import {
  buildHeads,
  buildPackedHeads,
  HEAD_BYTES,
  lastExact,
  searchHeads,
} from '../src/storage/key-heads.js';
import { decodeNode, encodeNode, type LeafNode, leafEntrySize, newLeaf } from '../src/storage/node.js';

// Key heads must find exactly the positions a byte-by-byte binary search finds: for every sorted set of
// distinct keys (long shared prefixes, keys that are prefixes of others, ties beyond the head, bytes 0
// and 255) and every probe, present or not; over a node's key arrays and over a packed leaf's page.

/** The keys as a packed leaf: encoded into a page and read back. */
function packedLeaf(keys: Uint8Array[]): LeafNode {
  const leaf = newLeaf(7);
  leaf.keys = keys;
  leaf.values = keys.map(() => EMPTY_VALUE);
  leaf.size = keys.reduce((n, k) => n + leafEntrySize(k, EMPTY_VALUE), 0);
  const node = decodeNode(encodeNode(leaf, 4096), 7);
  if (node.kind !== 'leaf' || node.offs === null) throw new Error('not a packed leaf');
  return node;
}

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
        const packed = packedLeaf(keys);
        const packedHeads = buildPackedHeads(packed.page!, packed.offs!);
        if (JSON.stringify(packedHeads) !== JSON.stringify(heads)) {
          t.fail('heads read in the page differ');
          return false;
        }
        const probes: Uint8Array[] = [...keys, ...keys.map((k) => k.subarray(0, k.length >> 1))];
        for (const [pre, rest] of probeParts) probes.push(Uint8Array.from([...pre, ...rest]));
        for (const [, rest] of probeParts) probes.push(Uint8Array.from([...prefix, ...rest]));
        for (const k of keys)
          probes.push(Uint8Array.from([...k, 0]), Uint8Array.from([...k.subarray(0, -1)]));
        for (const p of probes) {
          for (const upper of [false, true]) {
            const inPage = searchHeads(null, packed.page, packed.offs, packedHeads, p, upper);
            const pageExact = lastExact;
            const got = searchHeads(keys, null, null, heads, p, upper);
            const want = reference(keys, p, upper);
            if (inPage !== got || pageExact !== lastExact) {
              t.fail(
                `in the page: ${inPage} (exact ${pageExact}), in the arrays ${got} (exact ${lastExact})`,
              );
              return false;
            }
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
  t.equal(searchHeads(keys, null, null, buildHeads(keys), keys[6]!, false), 6);
  t.equal(searchHeads(keys, null, null, buildHeads(keys), keys[6]!, true), 7);
});

t.test('reads between writes on dirty nodes never use stale heads', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { Storage } = await import('../src/storage/index.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-heads-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // No checkpoint: every node stays dirty, so only the mutation-count rule keeps heads honest.
  const st = await Storage.open(dir, { durability: 'off', checkpointIntervalMs: 0, pageSize: 4096 });
  t.teardown(() => st.close());
  const model = new Map<string, string>();
  const key = (i: number) => Buffer.from(`k${String(i).padStart(6, '0')}`);
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 48271) % 2147483647;
    return seed % n;
  };
  await st.transaction((tx) => {
    for (let i = 0; i < 6000; i += 2) {
      tx.put('t', key(i), Buffer.from(`v${i}`));
      model.set(key(i).toString('latin1'), `v${i}`);
    }
  });
  let checked = 0;
  for (let round = 0; round < 400; round++) {
    const tx = st.begin({ readOnly: true });
    // enough reads of the same region for dirty nodes to get heads
    const base = rnd(6000);
    for (let r = 0; r < 12; r++) {
      const k = key(base + rnd(40));
      const got = tx.get('t', k);
      const want = model.get(k.toString('latin1'));
      if ((got === undefined ? undefined : Buffer.from(got).toString()) !== want) {
        t.fail(`round ${round}: ${k} = ${got && Buffer.from(got).toString()}, want ${want}`);
        return;
      }
      checked++;
    }
    const from = key(base);
    const scanned = [...tx.range('t', { gte: from, limit: 5 })].map(([k]) =>
      Buffer.from(k).toString('latin1'),
    );
    const wantScan = [...model.keys()]
      .filter((k) => k >= from.toString('latin1'))
      .sort()
      .slice(0, 5);
    t.same(scanned, wantScan, `round ${round}: range from ${from}`);
    tx.abort();
    // then a write into the same region: inserts, replacements and deletes (which merge nodes)
    await st.transaction((w) => {
      for (let j = 0; j < 8; j++) {
        const i = base + rnd(40);
        const k = key(i);
        if (rnd(3) === 0) {
          w.delete('t', k);
          model.delete(k.toString('latin1'));
        } else {
          w.put('t', k, Buffer.from(`w${round}-${i}`));
          model.set(k.toString('latin1'), `w${round}-${i}`);
        }
      }
    });
  }
  t.ok(checked >= 4800, `${checked} reads checked`);
});

t.test('reads between deletes that merge and redistribute nodes never use stale heads', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { Storage } = await import('../src/storage/index.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'bundoc-heads-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const st = await Storage.open(dir, { durability: 'off', checkpointIntervalMs: 0, pageSize: 4096 });
  t.teardown(() => st.close());
  const model = new Map<string, number>();
  const key = (i: number) => Buffer.from(`k${String(i).padStart(6, '0')}`);
  // Values of varied length: a sibling often cannot take a whole underfull node, so entries and the
  // separator between them move (a new separator in the parent) instead of a merge.
  const value = (i: number) => Buffer.alloc(20 + ((i * 7919) % 300), i % 251);
  let seed = 11;
  const rnd = (n: number) => {
    seed = (seed * 48271) % 2147483647;
    return seed % n;
  };
  const N = 8000;
  await st.transaction((tx) => {
    for (let i = 0; i < N; i++) {
      tx.put('t', key(i), value(i));
      model.set(key(i).toString('latin1'), i);
    }
  });
  await st.checkpoint(); // clean nodes get heads at their second search
  let checked = 0;
  const readRegion = (from: number, to: number, round: number): boolean => {
    const tx = st.begin({ readOnly: true });
    try {
      for (let pass = 0; pass < 5; pass++) {
        for (let i = from; i < to; i += 1 + rnd(3)) {
          const got = tx.get('t', key(i));
          const want = model.get(key(i).toString('latin1'));
          const ok =
            want === undefined
              ? got === undefined
              : got !== undefined && Buffer.from(got).equals(value(want));
          if (!ok) {
            t.fail(`round ${round}: ${key(i)} read ${got === undefined ? 'nothing' : 'a wrong value'}`);
            return false;
          }
          checked++;
        }
      }
    } finally {
      tx.abort();
    }
    return true;
  };
  for (let round = 0; round < 60; round++) {
    const from = rnd(N - 400);
    if (!readRegion(Math.max(0, from - 300), Math.min(N, from + 700), round)) return;
    // delete most of a stretch: leaves underflow, merge with or borrow from their siblings
    await st.transaction((w) => {
      for (let i = from; i < from + 400; i++) {
        if (rnd(5) === 0) continue;
        w.delete('t', key(i));
        model.delete(key(i).toString('latin1'));
      }
    });
    if (!readRegion(Math.max(0, from - 300), Math.min(N, from + 700), round)) return;
  }
  t.ok(checked > 50_000, `${checked} reads checked`);
  t.equal(st.verify().keys, model.size, 'the tree is well formed and holds what the model does');
});
