/**
 * Set with O(1) add, remove, membership and uniform random pick (SPOP, SRANDMEMBER): members live in a
 * dense array and a Map holds each member's index; removal swaps the last member into the hole.
 */
export class RSet {
  private readonly items: string[] = [];
  private readonly index = new Map<string, number>();

  constructor(members?: Iterable<string>) {
    if (members) for (const m of members) this.add(m);
  }

  get size(): number {
    return this.items.length;
  }

  has(m: string): boolean {
    return this.index.has(m);
  }

  add(m: string): boolean {
    if (this.index.has(m)) return false;
    this.index.set(m, this.items.length);
    this.items.push(m);
    return true;
  }

  delete(m: string): boolean {
    const i = this.index.get(m);
    if (i === undefined) return false;
    const last = this.items.pop()!;
    if (i < this.items.length) {
      this.items[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(m);
    return true;
  }

  random(): string {
    return this.items[Math.floor(Math.random() * this.items.length)]!;
  }

  members(): readonly string[] {
    return this.items;
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.items[Symbol.iterator]();
  }
}
