/** Redis's glob matcher (stringmatchlen): * ? [a-z] [^x] and backslash escapes, byte-wise. */

export function globMatch(pattern: string, str: string, nocase = false): boolean {
  return match(pattern, 0, str, 0, nocase, 0);
}

function lower(c: number, nocase: boolean): number {
  return nocase && c >= 65 && c <= 90 ? c + 32 : c;
}

function match(p: string, pi: number, s: string, si: number, nocase: boolean, depth: number): boolean {
  // Redis caps recursion to avoid pathological patterns; so do we.
  if (depth > 1000) return false;
  const plen = p.length;
  const slen = s.length;
  while (pi < plen && si <= slen) {
    const pc = p.charCodeAt(pi);
    switch (pc) {
      case 42: {
        // '*'
        while (pi + 1 < plen && p.charCodeAt(pi + 1) === 42) pi++;
        if (pi + 1 === plen) return true;
        for (let k = si; k <= slen; k++) {
          if (match(p, pi + 1, s, k, nocase, depth + 1)) return true;
        }
        return false;
      }
      case 63: // '?'
        if (si >= slen) return false;
        si++;
        break;
      case 91: {
        // '['
        if (si >= slen) return false;
        pi++;
        const not = p.charCodeAt(pi) === 94;
        if (not) pi++;
        let matched = false;
        const c = lower(s.charCodeAt(si), nocase);
        for (;;) {
          if (pi >= plen) {
            pi--;
            break;
          }
          const q = p.charCodeAt(pi);
          if (q === 92 && pi + 2 < plen + 1 && pi + 1 < plen) {
            pi++;
            if (lower(p.charCodeAt(pi), nocase) === c) matched = true;
          } else if (q === 93) {
            break;
          } else if (pi + 2 < plen && p.charCodeAt(pi + 1) === 45) {
            let start = lower(q, nocase);
            let end = lower(p.charCodeAt(pi + 2), nocase);
            if (start > end) [start, end] = [end, start];
            pi += 2;
            if (c >= start && c <= end) matched = true;
          } else if (lower(q, nocase) === c) {
            matched = true;
          }
          pi++;
        }
        if (not) matched = !matched;
        if (!matched) return false;
        si++;
        break;
      }
      default:
        // a backslash escapes the next pattern character
        if (pc === 92 && pi + 1 < plen) pi++;
        if (si >= slen) return false;
        if (lower(p.charCodeAt(pi), nocase) !== lower(s.charCodeAt(si), nocase)) return false;
        si++;
        break;
    }
    pi++;
    if (si === slen) {
      while (pi < plen && p.charCodeAt(pi) === 42) pi++;
      break;
    }
  }
  return pi === plen && si === slen;
}
