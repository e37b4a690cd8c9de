/**
 * Sorted set: a skip list ordered by (score, member) with span counts, so rank lookups and range
 * walks are O(log n), plus a Map member → score for O(1) ZSCORE. Members are latin1 strings, so
 * JS string comparison is byte order, as in Redis.
 */

const MAX_LEVEL = 32;
const P = 0.25;

interface Level {
  forward: SkipNode | null;
  span: number;
}

export interface SkipNode {
  member: string;
  score: number;
  backward: SkipNode | null;
  level: Level[];
}

function makeNode(levels: number, score: number, member: string): SkipNode {
  const level: Level[] = new Array(levels);
  for (let i = 0; i < levels; i++) level[i] = { forward: null, span: 0 };
  return { member, score, backward: null, level };
}

function randomLevel(): number {
  let l = 1;
  while (l < MAX_LEVEL && Math.random() < P) l++;
  return l;
}

/** (score, member) ordering. */
function before(score: number, member: string, node: SkipNode): boolean {
  return node.score < score || (node.score === score && node.member < member);
}

export interface ScoreRange {
  min: number;
  max: number;
  minex: boolean;
  maxex: boolean;
}

export interface LexRange {
  min: string;
  max: string;
  minex: boolean;
  maxex: boolean;
  /** -1 for '-', +1 for '+', 0 for a real bound */
  minInf: number;
  maxInf: number;
}

export function gteMin(score: number, r: ScoreRange): boolean {
  return r.minex ? score > r.min : score >= r.min;
}
export function lteMax(score: number, r: ScoreRange): boolean {
  return r.maxex ? score < r.max : score <= r.max;
}
export function lexGteMin(m: string, r: LexRange): boolean {
  if (r.minInf !== 0) return r.minInf < 0;
  return r.minex ? m > r.min : m >= r.min;
}
export function lexLteMax(m: string, r: LexRange): boolean {
  if (r.maxInf !== 0) return r.maxInf > 0;
  return r.maxex ? m < r.max : m <= r.max;
}

/** Compares a lex range's min and max bounds ('-' below every string, '+' above), as sdscmplex does. */
function compareLexBounds(r: LexRange): number {
  const rank = (inf: number) => (inf < 0 ? -1 : inf > 0 ? 1 : 0);
  const a = rank(r.minInf);
  const b = rank(r.maxInf);
  if (a !== 0 || b !== 0) return a === b ? 0 : a < b ? -1 : 1;
  return r.min < r.max ? -1 : r.min > r.max ? 1 : 0;
}

export class ZSet {
  readonly dict = new Map<string, number>();
  private readonly header = makeNode(MAX_LEVEL, 0, '');
  private tail: SkipNode | null = null;
  private level = 1;

  get size(): number {
    return this.dict.size;
  }

  score(member: string): number | undefined {
    return this.dict.get(member);
  }

  /** Inserts or updates; returns true when the member is new. */
  add(member: string, score: number): boolean {
    const old = this.dict.get(member);
    if (old !== undefined) {
      if (old !== score) {
        this.deleteNode(old, member);
        this.insert(score, member);
        this.dict.set(member, score);
      }
      return false;
    }
    this.insert(score, member);
    this.dict.set(member, score);
    return true;
  }

  remove(member: string): boolean {
    const old = this.dict.get(member);
    if (old === undefined) return false;
    this.deleteNode(old, member);
    this.dict.delete(member);
    return true;
  }

  private insert(score: number, member: string): void {
    const update: SkipNode[] = new Array(MAX_LEVEL);
    const rank: number[] = new Array(MAX_LEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1]!;
      while (x.level[i]!.forward && before(score, member, x.level[i]!.forward!)) {
        rank[i]! += x.level[i]!.span;
        x = x.level[i]!.forward!;
      }
      update[i] = x;
    }
    const lvl = randomLevel();
    if (lvl > this.level) {
      for (let i = this.level; i < lvl; i++) {
        rank[i] = 0;
        update[i] = this.header;
        this.header.level[i]!.span = this.dict.size;
      }
      this.level = lvl;
    }
    const node = makeNode(lvl, score, member);
    for (let i = 0; i < lvl; i++) {
      const u = update[i]!;
      node.level[i]!.forward = u.level[i]!.forward;
      u.level[i]!.forward = node;
      node.level[i]!.span = u.level[i]!.span - (rank[0]! - rank[i]!);
      u.level[i]!.span = rank[0]! - rank[i]! + 1;
    }
    for (let i = lvl; i < this.level; i++) update[i]!.level[i]!.span++;
    node.backward = update[0] === this.header ? null : update[0]!;
    if (node.level[0]!.forward) node.level[0]!.forward.backward = node;
    else this.tail = node;
  }

  private deleteNode(score: number, member: string): void {
    const update: SkipNode[] = new Array(MAX_LEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && before(score, member, x.level[i]!.forward!)) x = x.level[i]!.forward!;
      update[i] = x;
    }
    const node = x.level[0]!.forward;
    if (!node || node.score !== score || node.member !== member) return;
    for (let i = 0; i < this.level; i++) {
      const u = update[i]!;
      if (u.level[i]!.forward === node) {
        u.level[i]!.span += node.level[i]!.span - 1;
        u.level[i]!.forward = node.level[i]!.forward;
      } else {
        u.level[i]!.span--;
      }
    }
    if (node.level[0]!.forward) node.level[0]!.forward.backward = node.backward;
    else this.tail = node.backward;
    while (this.level > 1 && this.header.level[this.level - 1]!.forward === null) this.level--;
  }

  /** 0-based rank of a member in ascending order, or -1. */
  rank(member: string): number {
    const score = this.dict.get(member);
    if (score === undefined) return -1;
    let r = 0;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (
        x.level[i]!.forward &&
        (before(score, member, x.level[i]!.forward!) ||
          (x.level[i]!.forward!.score === score && x.level[i]!.forward!.member === member))
      ) {
        r += x.level[i]!.span;
        x = x.level[i]!.forward!;
      }
      if (x !== this.header && x.member === member) return r - 1;
    }
    return -1;
  }

  /** Node at a 0-based rank (must be in range). */
  byRank(rank: number): SkipNode | null {
    let traversed = 0;
    const target = rank + 1;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && traversed + x.level[i]!.span <= target) {
        traversed += x.level[i]!.span;
        x = x.level[i]!.forward!;
      }
      if (traversed === target) return x;
    }
    return null;
  }

  first(): SkipNode | null {
    return this.header.level[0]!.forward;
  }

  last(): SkipNode | null {
    return this.tail;
  }

  static next(n: SkipNode): SkipNode | null {
    return n.level[0]!.forward;
  }

  /** First node with score inside the range, or null. */
  firstInRange(r: ScoreRange): SkipNode | null {
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && !gteMin(x.level[i]!.forward!.score, r)) x = x.level[i]!.forward!;
    }
    const n = x.level[0]!.forward;
    return n && lteMax(n.score, r) ? n : null;
  }

  /** Last node with score inside the range, or null. */
  lastInRange(r: ScoreRange): SkipNode | null {
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && lteMax(x.level[i]!.forward!.score, r)) x = x.level[i]!.forward!;
    }
    return x !== this.header && gteMin(x.score, r) ? x : null;
  }

  /**
   * Whether Redis would store this set as a listpack (zset-max-listpack-entries 128 and -value 64). Lex
   * ranges over members with different scores are unspecified; Redis answers them with a linear walk for
   * listpacks and a skip-list descent otherwise, and bunder follows the same two algorithms.
   */
  private compact(): boolean {
    if (this.dict.size > 128) return false;
    for (const m of this.dict.keys()) if (m.length > 64) return false;
    return true;
  }

  /** Redis's zslIsInLexRange: false for an empty range, or when the set lies wholly outside it. */
  inLexRange(r: LexRange): boolean {
    const cmp = compareLexBounds(r);
    if (cmp > 0 || (cmp === 0 && (r.minex || r.maxex))) return false;
    const head = this.header.level[0]!.forward;
    return !!this.tail && lexGteMin(this.tail.member, r) && !!head && lexLteMax(head.member, r);
  }

  firstInLex(r: LexRange): SkipNode | null {
    if (!this.inLexRange(r)) return null;
    if (this.compact()) {
      for (let n = this.header.level[0]!.forward; n; n = n.level[0]!.forward) {
        if (lexGteMin(n.member, r)) return lexLteMax(n.member, r) ? n : null;
      }
      return null;
    }
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && !lexGteMin(x.level[i]!.forward!.member, r)) x = x.level[i]!.forward!;
    }
    const n = x.level[0]!.forward;
    return n && lexLteMax(n.member, r) ? n : null;
  }

  lastInLex(r: LexRange): SkipNode | null {
    if (!this.inLexRange(r)) return null;
    if (this.compact()) {
      for (let n = this.tail; n; n = n.backward) {
        if (lexLteMax(n.member, r)) return lexGteMin(n.member, r) ? n : null;
      }
      return null;
    }
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && lexLteMax(x.level[i]!.forward!.member, r)) x = x.level[i]!.forward!;
    }
    return x !== this.header && lexGteMin(x.member, r) ? x : null;
  }

  /** ZLEXCOUNT, with Redis's arithmetic (linear for listpack-sized sets, ranks otherwise). */
  lexCount(r: LexRange): number {
    const first = this.firstInLex(r);
    if (!first) return 0;
    if (this.compact()) {
      let n = 0;
      for (let x: SkipNode | null = first; x && lexLteMax(x.member, r); x = x.level[0]!.forward) n++;
      return n;
    }
    const len = this.dict.size;
    let count = len - this.rank(first.member);
    const last = this.lastInLex(r);
    if (last) count -= len - (this.rank(last.member) + 1);
    return count;
  }

  /** Rank of the first element with score >= / > the range minimum (count of elements before it). */
  countBelow(r: ScoreRange): number {
    let x = this.header;
    let rank = 0;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && !gteMin(x.level[i]!.forward!.score, r)) {
        rank += x.level[i]!.span;
        x = x.level[i]!.forward!;
      }
    }
    return rank;
  }

  /** Count of elements with score <= / < the range maximum. */
  countUpTo(r: ScoreRange): number {
    let x = this.header;
    let rank = 0;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.level[i]!.forward && lteMax(x.level[i]!.forward!.score, r)) {
        rank += x.level[i]!.span;
        x = x.level[i]!.forward!;
      }
    }
    return rank;
  }

  *entries(): Generator<[string, number]> {
    for (let n = this.first(); n; n = n.level[0]!.forward) yield [n.member, n.score];
  }
}
