/**
 * The Redis 7 multi-part AOF manifest (appendonlydir/appendonly.aof.manifest), one file per line:
 *   file appendonly.aof.1.base.rdb seq 1 type b
 *   file appendonly.aof.1.incr.aof seq 1 type i
 * type b = base (RDB or AOF), h = history (awaiting deletion), i = incremental, replayed in order.
 */

import { AofError } from './errors.js';

export type AofFileType = 'b' | 'h' | 'i';

export interface AofManifestEntry {
  readonly file: string;
  readonly seq: number;
  readonly type: AofFileType;
}

/** Splits a line the way Redis's sdssplitargs does for manifest lines (plain words or "quoted"). */
function splitArgs(line: string, lineNo: number, file?: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    if (line[i] === '"') {
      let word = '';
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          const n = line[i + 1]!;
          word += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n;
          i += 2;
        } else {
          word += line[i++];
        }
      }
      if (i >= line.length)
        throw new AofError('AOF_MANIFEST', `unbalanced quotes on line ${lineNo}`, undefined, file);
      i++;
      out.push(word);
    } else {
      let word = '';
      while (i < line.length && !/\s/.test(line[i]!)) word += line[i++];
      out.push(word);
    }
  }
  return out;
}

export function parseManifest(text: string, file?: string): AofManifestEntry[] {
  const entries: AofManifestEntry[] = [];
  const lines = text.split('\n');
  let bases = 0;
  lines.forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const words = splitArgs(line, idx + 1, file);
    if (words.length % 2 !== 0)
      throw new AofError('AOF_MANIFEST', `invalid manifest line ${idx + 1}`, undefined, file);
    const fields = new Map<string, string>();
    for (let i = 0; i < words.length; i += 2) fields.set(words[i]!, words[i + 1]!);
    const name = fields.get('file');
    const seq = Number(fields.get('seq'));
    const type = fields.get('type');
    if (
      !name ||
      name.includes('/') ||
      !Number.isInteger(seq) ||
      seq < 1 ||
      (type !== 'b' && type !== 'h' && type !== 'i')
    ) {
      throw new AofError('AOF_MANIFEST', `invalid manifest line ${idx + 1}: ${line}`, undefined, file);
    }
    if (type === 'b' && ++bases > 1)
      throw new AofError('AOF_MANIFEST', 'manifest lists two base files', undefined, file);
    entries.push({ file: name, seq, type });
  });
  const incr = entries.filter((e) => e.type === 'i');
  for (let i = 1; i < incr.length; i++) {
    if (incr[i]!.seq <= incr[i - 1]!.seq) {
      throw new AofError('AOF_MANIFEST', 'incremental files are not in ascending order', undefined, file);
    }
  }
  return entries;
}

export function formatManifest(entries: readonly AofManifestEntry[]): string {
  return entries
    .map((e) => {
      const name = /^[\w.-]+$/.test(e.file) ? e.file : JSON.stringify(e.file);
      return `file ${name} seq ${e.seq} type ${e.type}\n`;
    })
    .join('');
}
