/**
 * The highest log index that a majority of voters has stored: with match indexes sorted in descending
 * order, it is the one at position floor(n/2). Empty voter sets commit nothing.
 */
export function majorityIndex(matchIndexes: readonly number[]): number {
  const n = matchIndexes.length;
  if (n === 0) return 0;
  const sorted = [...matchIndexes].sort((a, b) => b - a);
  return sorted[Math.floor(n / 2)]!;
}

/** Whether `granted` votes out of `voters` voters form a majority. */
export function isMajority(granted: number, voters: number): boolean {
  return granted > voters / 2;
}
