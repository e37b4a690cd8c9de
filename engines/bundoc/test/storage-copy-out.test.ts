import t from 'tap';
import { ByteArena, EMPTY_BYTES } from '../src/storage/copy-out.js';

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
