/**
 * AOF reader: replays a Redis-format append-only file (optionally starting with an RDB preamble) as a
 * stream of commands. Like Redis with `aof-load-truncated yes`, a command cut short at the end of the
 * file — or a MULTI never closed by EXEC — ends the replay at the last complete command and reports
 * that offset; garbage in the middle is an AofError naming the offset.
 */

import { closeSync, fsyncSync, ftruncateSync, openSync } from 'node:fs';
import { ByteInput, TruncatedInput } from './byte-input.js';
import { AofError } from './errors.js';
import type { StoredEntry } from './model.js';
import { type RdbSummary, readRdb, readRdbFile } from './rdb-reader.js';

export type AofItem =
  | { readonly kind: 'command'; readonly argv: Buffer[]; readonly offset: number }
  | { readonly kind: 'entry'; readonly entry: StoredEntry };

export interface AofReadOptions {
  /** File name for messages when reading a Buffer. */
  readonly file?: string;
  /** Accept a truncated tail (Redis's aof-load-truncated, default true); false makes it an error. */
  readonly loadTruncated?: boolean;
  /** Longest bulk argument accepted (Redis's proto-max-bulk-len, 512 MiB). */
  readonly maxBulkLength?: number;
}

export interface AofReadResult {
  readonly commands: number;
  /** Offset just past the last complete command: where a repaired file ends. */
  readonly validUpTo: number;
  /** Set when the tail was incomplete; the bytes from `offset` on were ignored. */
  readonly truncated: { readonly offset: number; readonly reason: string } | null;
  readonly preamble: RdbSummary | null;
}

const MAX_ARGS = 1024 * 1024 * 1024;
const MULTI = Buffer.from('multi');
const EXEC = Buffer.from('exec');

/** Reads an AOF file from disk in chunks. */
export function readAofFile(path: string, options: AofReadOptions = {}): Generator<AofItem, AofReadResult> {
  return readAofInput(() => ByteInput.fromFile(path), { ...options, file: options.file ?? path }, path);
}

export function readAof(buf: Buffer, options: AofReadOptions = {}): Generator<AofItem, AofReadResult> {
  return readAofInput((start = 0) => ByteInput.fromBuffer(buf, start), options, buf);
}

function* readAofInput(
  openInput: (start?: number) => ByteInput,
  options: AofReadOptions,
  source: string | Buffer,
): Generator<AofItem, AofReadResult> {
  let preamble: RdbSummary | null = null;
  let start = 0;
  const probe = openInput();
  let hasPreamble: boolean;
  try {
    hasPreamble = probe.remaining >= 5 && probe.view(5).toString('latin1') === 'REDIS';
  } finally {
    probe.close();
  }
  if (hasPreamble) {
    const rdb =
      typeof source === 'string'
        ? readRdbFile(source, { file: options.file })
        : readRdb(source, { file: options.file });
    let r = rdb.next();
    while (!r.done) {
      yield { kind: 'entry', entry: r.value };
      r = rdb.next();
    }
    preamble = r.value;
    start = preamble.endOffset;
  }
  const input = openInput();
  try {
    if (start > 0) input.skip(start);
    return { ...(yield* readCommands(input, options)), preamble };
  } finally {
    input.close();
  }
}

function* readCommands(
  input: ByteInput,
  options: AofReadOptions,
): Generator<AofItem, Omit<AofReadResult, 'preamble'>> {
  const loadTruncated = options.loadTruncated ?? true;
  const maxBulk = options.maxBulkLength ?? 512 * 1024 * 1024;
  const fail = (message: string, at: number): never => {
    throw new AofError(
      'AOF_CORRUPT',
      `Bad file format reading the append only file: ${message}`,
      at,
      options.file,
    );
  };
  let commands = 0;
  let validUpTo = input.offset;
  /** Commands of an open MULTI, held back until its EXEC. */
  let transaction: Array<{ argv: Buffer[]; offset: number }> | null = null;
  let transactionStart = 0;

  const readLine = (): string => {
    // Lines here are short headers ("*3", "$5"); a long one means garbage.
    let line = '';
    for (;;) {
      const c = input.u8();
      if (c === 13) {
        if (input.u8() !== 10) fail('expected \\n after \\r', input.offset - 1);
        return line;
      }
      line += String.fromCharCode(c);
      if (line.length > 32) fail('header line too long', input.offset);
    }
  };

  const truncatedAt = (reason: string): Omit<AofReadResult, 'preamble'> => {
    const offset = transaction ? transactionStart : validUpTo;
    if (!loadTruncated) {
      throw new AofError('AOF_TRUNCATED', `AOF ends unexpectedly (${reason})`, offset, options.file);
    }
    return { commands, validUpTo: offset, truncated: { offset, reason } };
  };

  for (;;) {
    const start = input.offset;
    if (input.remaining <= 0) break;
    let argv: Buffer[];
    try {
      const first = input.u8();
      if (first === 0x23) {
        // Annotation line ("#..."), written by Redis 7 for timestamps; skipped.
        while (input.u8() !== 10);
        validUpTo = input.offset;
        continue;
      }
      if (first !== 0x2a) fail(`expected '*', found 0x${first.toString(16)}`, start);
      const header = readLine();
      const argc = Number(header);
      if (!/^\d+$/.test(header) || argc < 1 || argc > MAX_ARGS)
        fail(`invalid argument count "${header}"`, start);
      argv = [];
      for (let i = 0; i < argc; i++) {
        const at = input.offset;
        if (input.u8() !== 0x24) fail("expected '$'", at);
        const lenText = readLine();
        const len = Number(lenText);
        if (!/^\d+$/.test(lenText) || len > maxBulk) fail(`invalid bulk length "${lenText}"`, at);
        argv.push(input.bytes(len));
        const cr = input.u8();
        const lf = input.u8();
        if (cr !== 13 || lf !== 10) fail('bulk string not terminated by \\r\\n', input.offset - 2);
      }
    } catch (err) {
      if (err instanceof TruncatedInput) return truncatedAt('incomplete command at end of file');
      throw err;
    }
    validUpTo = input.offset;
    const name = argv[0]!;
    if (transaction) {
      transaction.push({ argv, offset: start });
      if (equalsIgnoreCase(name, EXEC)) {
        for (const c of transaction) yield { kind: 'command', argv: c.argv, offset: c.offset };
        commands += transaction.length;
        transaction = null;
      }
    } else if (equalsIgnoreCase(name, MULTI)) {
      transaction = [{ argv, offset: start }];
      transactionStart = start;
    } else {
      commands++;
      yield { kind: 'command', argv, offset: start };
    }
  }
  if (transaction) return truncatedAt('MULTI without EXEC at end of file');
  return { commands, validUpTo, truncated: null };
}

function equalsIgnoreCase(a: Buffer, lower: Buffer): boolean {
  if (a.length !== lower.length) return false;
  for (let i = 0; i < a.length; i++) if ((a[i]! | 0x20) !== lower[i]) return false;
  return true;
}

/** Cuts a file back to its last complete command (what Redis does with aof-load-truncated yes). */
export function truncateAofFile(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
