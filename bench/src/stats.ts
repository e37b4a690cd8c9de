/** Latency samples in milliseconds, stored compactly so a long run does not allocate per sample. */
export class Samples {
  private chunks: Float64Array[] = [];
  private current = new Float64Array(65536);
  private used = 0;

  add(ms: number): void {
    if (this.used === this.current.length) {
      this.chunks.push(this.current);
      this.current = new Float64Array(this.current.length);
      this.used = 0;
    }
    this.current[this.used++] = ms;
  }

  get count(): number {
    return this.chunks.length * this.current.length + this.used;
  }

  /** All samples, sorted ascending. */
  sorted(): Float64Array {
    const all = new Float64Array(this.count);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    all.set(this.current.subarray(0, this.used), at);
    return all.sort();
  }
}

/** Nearest-rank percentile (p in 0..100) of ascending-sorted values; NaN when there are none. */
export function percentile(sortedValues: ArrayLike<number>, p: number): number {
  const n = sortedValues.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  return sortedValues[Math.min(n, Math.max(1, rank)) - 1]!;
}
