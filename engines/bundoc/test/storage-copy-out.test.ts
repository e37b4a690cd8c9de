import fc from 'fast-check';
import t from 'tap';
import { ByteArena, EMPTY_BYTES, isOwned, ownedText } from '../src/storage/copy-out.js';

// Copies carved out of arenas: independent of their source and of each other, whatever the sizes, from
// the first copy of a fresh arena on (a process whose first read returned an empty value used to throw
// "offset is out of bounds": the arena did not exist yet).

t.test('copies from a fresh arena, empty ones first', async (t) => {
  for (const [track, minCopy] of [
    [false, 0],
    [false, 1],
    [true, 1],
  ] as const) {
    const arena = new ByteArena(track, minCopy);
    t.equal(arena.copy(new Uint8Array(0)), EMPTY_BYTES, `empty copy (track ${track}, minCopy ${minCopy})`);
    const sources = [1, 7, 4096, 4097, 30_000, 0, 3].map((n, i) =>
      Uint8Array.from({ length: n }, (_, j) => (i + j) & 255),
    );
    const copies = sources.map((s) => arena.copy(s));
    for (const s of sources) s.fill(0xee); // changing a source must not reach its copy
    copies.forEach((c, i) => {
      t.equal(c.length, sources[i]!.length);
      t.ok(
        c.every((b, j) => b === ((i + j) & 255)),
        `copy ${i} of ${c.length} bytes intact`,
      );
    });
  }
});

t.test('text: a byte and UTF-8 encoded in place, like Buffer.from, each in a range of its own', async (t) => {
  const arena = new ByteArena(true, 1, 4096); // small arenas: many texts cross into fresh ones
  const made: Array<[Uint8Array, Buffer]> = [];
  await fc.assert(
    fc.property(
      fc.nat(255),
      fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 400 })),
      (first, s) => {
        const want = Buffer.concat([Buffer.from([first]), Buffer.from(s, 'utf8')]);
        const got = arena.text(first, s);
        if (1 + 3 * s.length > 1024) return got === undefined; // a quarter of the arena at most
        if (got === undefined || !Buffer.from(got).equals(want)) return false;
        made.push([got, want]);
        return true;
      },
    ),
    { numRuns: 2000, seed: 20261201 },
  );
  // every earlier text intact after all the later ones (no range handed out twice)
  t.ok(
    made.every(([got, want]) => Buffer.from(got).equals(want)),
    `${made.length} texts intact`,
  );
  t.equal(arena.text(7, 'x'.repeat(2000)), undefined, 'too long for this arena');
  // the store's write arenas: owned, so a transaction keeps them without a copy
  const doc = ownedText(0x10, '{"a":"é"}')!;
  t.same([...doc], [...Buffer.from('\u0010{"a":"é"}', 'utf8')]);
  t.ok(isOwned(doc), 'owned');
  t.notOk(isOwned(Buffer.from('abc')), 'a buffer of its own is not');
  t.notOk(isOwned(new Uint8Array(3)), 'nor a short array');
  t.equal(ownedText(1, 'y'.repeat(5000)), undefined, 'longer than ARENA_MAX_COPY');
});
