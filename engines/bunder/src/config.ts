/**
 * Server configuration: the redis.conf directives bunder understands, with CONFIG GET/SET semantics
 * (glob lookup, validation, Redis's error texts).
 */
import { globMatch } from './util/glob.js';

type Kind = 'string' | 'int' | 'bool' | 'enum' | 'memory' | 'special';

interface Param {
  kind: Kind;
  value: string;
  values?: readonly string[];
  immutable?: boolean;
  /** Smallest value of an int parameter. */
  min?: number;
}

const MEMORY_UNITS: Record<string, number> = {
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 * 1000,
  mb: 1024 * 1024,
  g: 1000 * 1000 * 1000,
  gb: 1024 * 1024 * 1024,
};

/** "100mb" → 104857600, as redis.conf memory values are written. Null when invalid. */
export function parseMemory(s: string): number | null {
  const m = /^(-?\d+)([a-z]*)$/i.exec(s.trim());
  if (!m) return null;
  const unit = MEMORY_UNITS[m[2]!.toLowerCase() || 'b'];
  return unit === undefined ? null : Number(m[1]) * unit;
}

export class ConfigError extends Error {}

export class Config {
  private readonly params = new Map<string, Param>();
  /** Called after a successful CONFIG SET of a parameter. */
  onChange: (name: string, value: string) => void = () => {};

  constructor() {
    const p = (name: string, kind: Kind, value: string, extra: Partial<Param> = {}) =>
      this.params.set(name, { kind, value, ...extra });
    p('port', 'int', '6379', { immutable: true });
    p('bind', 'string', '127.0.0.1', { immutable: true });
    p('dir', 'string', process.cwd());
    p('dbfilename', 'string', 'dump.rdb');
    p('appendonly', 'bool', 'no');
    p('appendfsync', 'enum', 'everysec', { values: ['always', 'everysec', 'no'] });
    p('appendfilename', 'string', 'appendonly.aof', { immutable: true });
    p('appenddirname', 'string', 'appendonlydir', { immutable: true });
    p('aof-load-truncated', 'bool', 'yes');
    p('save', 'special', '3600 1 300 100 60 10000');
    p('requirepass', 'string', '');
    p('protected-mode', 'bool', 'yes');
    p('timeout', 'int', '0');
    p('tcp-keepalive', 'int', '300');
    p('maxmemory', 'memory', '0');
    p('maxmemory-policy', 'enum', 'noeviction', {
      values: [
        'noeviction',
        'allkeys-lru',
        'allkeys-lfu',
        'allkeys-random',
        'volatile-lru',
        'volatile-lfu',
        'volatile-random',
        'volatile-ttl',
      ],
    });
    p('maxmemory-samples', 'int', '5');
    p('lfu-log-factor', 'int', '10', { min: 0 });
    p('lfu-decay-time', 'int', '1', { min: 0 });
    p('notify-keyspace-events', 'special', '');
    p('databases', 'int', '16', { immutable: true });
    p('proto-max-bulk-len', 'memory', String(512 * 1024 * 1024));
    p('client-query-buffer-limit', 'memory', String(1024 * 1024 * 1024));
    p(
      'client-output-buffer-limit',
      'special',
      'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
    );
    p('slowlog-log-slower-than', 'int', '10000');
    p('slowlog-max-len', 'int', '128');
    p('hz', 'int', '10');
    p('maxclients', 'int', '10000');
    p('loglevel', 'enum', 'notice', { values: ['debug', 'verbose', 'notice', 'warning', 'nothing'] });
    p('logfile', 'string', '', { immutable: true });
    p('daemonize', 'bool', 'no', { immutable: true });
    p('lazyfree-lazy-user-flush', 'bool', 'no');
    p('hash-max-listpack-entries', 'int', '128');
    p('hash-max-listpack-value', 'int', '64');
    p('set-max-intset-entries', 'int', '512');
    p('zset-max-listpack-entries', 'int', '128');
    p('zset-max-listpack-value', 'int', '64');
    p('list-max-listpack-size', 'int', '-2');
    p('stream-node-max-entries', 'int', '100');
    p('rdbcompression', 'bool', 'yes');
    p('rdbchecksum', 'bool', 'yes');
    p('stop-writes-on-bgsave-error', 'bool', 'yes');
    p('aof-use-rdb-preamble', 'bool', 'yes');
    p('auto-aof-rewrite-percentage', 'int', '100');
    p('auto-aof-rewrite-min-size', 'memory', String(64 * 1024 * 1024));
  }

  get(name: string): string {
    return this.params.get(name)?.value ?? '';
  }

  int(name: string): number {
    return Number(this.get(name));
  }

  bool(name: string): boolean {
    return this.get(name) === 'yes';
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  /** CONFIG GET: every parameter whose name matches one of the globs, name/value flattened. */
  match(patterns: readonly string[]): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const pattern of patterns) {
      const lower = pattern.toLowerCase();
      for (const [name, p] of this.params) {
        if (!seen.has(name) && globMatch(lower, name)) {
          seen.add(name);
          out.push(name, p.value);
        }
      }
    }
    return out;
  }

  /** Sets a parameter from a redis.conf line or CONFIG SET (`startup` allows immutable ones). */
  set(name: string, value: string, startup = false): void {
    const key = name.toLowerCase();
    const p = this.params.get(key);
    if (!p) throw new ConfigError(`Unknown option or number of arguments for CONFIG SET - '${name}'`);
    if (p.immutable && !startup) throw new ConfigError(`can't set immutable config`);
    let v = value;
    switch (p.kind) {
      case 'int':
        if (!/^-?\d+$/.test(v)) throw new ConfigError("argument couldn't be parsed into an integer");
        if (p.min !== undefined && (Number(v) < p.min || Number(v) > 2147483647)) {
          throw new ConfigError(`argument must be between ${p.min} and 2147483647 inclusive`);
        }
        break;
      case 'memory': {
        const n = parseMemory(v);
        if (n === null || n < 0) throw new ConfigError('argument must be a memory value');
        v = String(n);
        break;
      }
      case 'bool':
        v = v.toLowerCase();
        if (v !== 'yes' && v !== 'no') throw new ConfigError("argument must be 'yes' or 'no'");
        break;
      case 'enum':
        v = v.toLowerCase();
        if (!p.values!.includes(v))
          throw new ConfigError('argument(s) must be one of the following: ' + p.values!.join(', '));
        break;
      case 'special':
        if (key === 'save') v = validateSave(v);
        if (key === 'notify-keyspace-events') v = normalizeNotify(v);
        break;
      default:
        break;
    }
    p.value = v;
    if (!startup) this.onChange(key, v);
  }

  /** The `save` points as [seconds, changes] pairs. */
  savePoints(): Array<[number, number]> {
    const parts = this.get('save').split(/\s+/).filter(Boolean);
    const out: Array<[number, number]> = [];
    for (let i = 0; i + 1 < parts.length; i += 2) out.push([Number(parts[i]), Number(parts[i + 1])]);
    return out;
  }
}

function validateSave(v: string): string {
  const parts = v.split(/\s+/).filter(Boolean);
  if (parts.length % 2 !== 0 || parts.some((x) => !/^\d+$/.test(x)))
    throw new ConfigError('Invalid save parameters');
  return parts.join(' ');
}

/** Keyspace notification flag letters; "A" is an alias for "g$lshzxet". */
export const NOTIFY_FLAGS = 'g$lshzxetmndKE';

function normalizeNotify(v: string): string {
  for (const ch of v) {
    if (!'KEg$lshzxeAtmnd'.includes(ch))
      throw new ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmd'.");
  }
  let flags = '';
  const expanded = v.replace('A', 'g$lshzxet');
  for (const ch of 'g$lshzxetmndKE') if (expanded.includes(ch)) flags += ch;
  // Redis prints the set back in its own canonical order with A collapsed.
  const classes = flags.replace(/[KE]/g, '');
  let out = classes.includes('g$lshzxet') ? classes.replace('g$lshzxet', 'A') : classes;
  if (flags.includes('K')) out += 'K';
  if (flags.includes('E')) out += 'E';
  return out;
}
