import { InvalidFilterError } from './errors.js';

/**
 * Builds a JavaScript RegExp from a MongoDB $regex/$options pair. Options i, m, s map to flags; x
 * (extended) is applied by stripping unescaped whitespace and #-comments outside character classes.
 * The pattern syntax is JavaScript's, not PCRE's (documented divergence: no possessive quantifiers etc.).
 */
export function buildRegex(source: string | RegExp, options: string | undefined, where: string): RegExp {
  let pattern = typeof source === 'string' ? source : source.source;
  let flags = typeof source === 'string' ? '' : source.flags.replace(/[gy]/g, '');
  if (options !== undefined) {
    for (const o of options) {
      if (o === 'x') continue;
      if (o !== 'i' && o !== 'm' && o !== 's' && o !== 'u') {
        throw new InvalidFilterError(`${where}: unsupported $options flag "${o}" (allowed: i, m, s, x, u)`);
      }
      if (!flags.includes(o)) flags += o;
    }
    if (options.includes('x')) pattern = stripExtended(pattern);
  }
  try {
    return new RegExp(pattern, flags);
  } catch (e) {
    throw new InvalidFilterError(`${where}: invalid regular expression: ${(e as Error).message}`);
  }
}

function stripExtended(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) {
      out += c + p[++i];
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
    } else if (c === '#') {
      while (i < p.length && p[i] !== '\n') i++;
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

/** Tests without the lastIndex state that g/y flags would carry between documents. */
export function regexTest(re: RegExp, s: string): boolean {
  re.lastIndex = 0;
  return re.test(s);
}
