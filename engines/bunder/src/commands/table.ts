/**
 * The command table: one entry per command with Redis's arity, flags and key positions. Dispatch,
 * arity errors, COMMAND output and key extraction (WATCH, notifications) are all driven from it.
 */
import type { Client } from '../client.js';
import type { Engine } from '../engine.js';
import type { Reply } from '../reply.js';

/** Returned by a blocking command that must wait; the engine replies later. */
export const BLOCKED = Symbol('blocked');

export type Handler = (c: Client, argv: string[], e: Engine) => Reply | typeof BLOCKED;

export interface CommandSpec {
  /** Lowercase name; subcommands are "parent|sub". */
  readonly name: string;
  /** Positive: exact argument count including the name; negative: at least -arity. */
  readonly arity: number;
  readonly flags: readonly string[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  readonly group: string;
  readonly since: string;
  readonly summary: string;
  readonly handler: Handler;
  readonly subcommands?: ReadonlyMap<string, CommandSpec>;
}

export interface Def {
  arity: number;
  flags?: string;
  keys?: [number, number, number];
  group: string;
  since?: string;
  summary?: string;
  handler: Handler;
  sub?: Record<string, Omit<Def, 'group'> & { group?: string }>;
}

export function defineAll(defs: Record<string, Def>): CommandSpec[] {
  return Object.entries(defs).map(([name, d]) => build(name, d, d.group));
}

function build(name: string, d: Omit<Def, 'group'> & { group?: string }, group: string): CommandSpec {
  const [firstKey, lastKey, step] = d.keys ?? [0, 0, 0];
  let subcommands: Map<string, CommandSpec> | undefined;
  if (d.sub) {
    subcommands = new Map();
    for (const [sub, sd] of Object.entries(d.sub)) {
      subcommands.set(sub, build(`${name}|${sub}`, sd, sd.group ?? group));
    }
  }
  return {
    name,
    arity: d.arity,
    flags: d.flags ? d.flags.split(' ') : [],
    firstKey,
    lastKey,
    step,
    group,
    since: d.since ?? '1.0.0',
    summary: d.summary ?? '',
    handler: d.handler,
    ...(subcommands ? { subcommands } : {}),
  };
}

/** The keys a command touches, from its key positions (negative last = counted from the end). */
export function commandKeys(spec: CommandSpec, argv: readonly string[]): string[] {
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey;
  const keys: string[] = [];
  for (let i = spec.firstKey; i <= last && i < argv.length; i += spec.step) keys.push(argv[i]!);
  return keys;
}
