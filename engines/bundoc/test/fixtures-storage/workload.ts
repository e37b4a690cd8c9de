/** Deterministic crash-test workload shared by the child writer and the checking parent. */
export function keyFor(i: number): Uint8Array {
  return Buffer.from(`k${String(i).padStart(8, '0')}`);
}

/** Sizes vary from a few bytes to overflow chains of several pages. */
export function expectedValue(i: number): Uint8Array {
  const size = i % 17 === 0 ? 9000 + (i % 5) * 1000 : 20 + ((i * 37) % 300);
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 13 + j) & 255;
  return b;
}

/** Commit i deletes key i-7 when i % 5 === 0. */
export function deleterOf(i: number): number | undefined {
  const j = i + 7;
  return j % 5 === 0 ? j : undefined;
}
