#!/usr/bin/env node
/**
 * bunder-server: a Redis-compatible server. Flags mirror redis-server (`--port 6380 --appendonly yes`),
 * a config file path may come first or via --config, and SIGTERM/SIGINT shut down gracefully.
 */
import { readFileSync } from 'node:fs';
import { Bunder } from './bunder.js';
import { splitArgs } from './resp/parser.js';

/** Parses redis.conf text into directive → value (later lines win; `save` lines accumulate). */
export function parseConfigFile(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = splitArgs(line);
    if (!words || words.length === 0) throw new Error(`bad config line: ${line}`);
    out.push([words[0]!.toLowerCase(), words.slice(1).join(' ')]);
  }
  return out;
}

/** Parses `--name value…` flags into directives. */
export function parseFlags(argv: readonly string[]): {
  configFile: string | null;
  directives: Array<[string, string]>;
} {
  let configFile: string | null = null;
  const directives: Array<[string, string]> = [];
  let i = 0;
  if (argv[0] && !argv[0].startsWith('--')) configFile = argv[i++]!;
  while (i < argv.length) {
    const flag = argv[i++]!;
    if (!flag.startsWith('--')) throw new Error(`unexpected argument: ${flag}`);
    const name = flag.slice(2).toLowerCase();
    const values: string[] = [];
    while (i < argv.length && !argv[i]!.startsWith('--')) values.push(argv[i++]!);
    if (name === 'config') configFile = values[0] ?? null;
    else directives.push([name, values.join(' ')]);
  }
  return { configFile, directives };
}

async function main(): Promise<void> {
  const { configFile, directives } = parseFlags(process.argv.slice(2));
  const all: Array<[string, string]> = [];
  if (configFile) all.push(...parseConfigFile(readFileSync(configFile, 'utf8')));
  all.push(...directives);
  const config: Record<string, string> = {};
  let port = 6379;
  let host = '127.0.0.1';
  let httpPort: number | null = null;
  const saves: string[] = [];
  for (const [name, value] of all) {
    if (name === 'port') port = Number(value);
    else if (name === 'bind') host = value.split(/\s+/)[0] ?? host;
    if (name === 'http') {
      // bunder's own directive: the HTTP API's port, on the same address as RESP
      httpPort = Number(value);
      if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
        throw new Error(`--http needs a port number, not '${value}'`);
      }
    } else if (name === 'save') saves.push(value);
    else config[name] = value;
  }
  if (saves.length > 0) config.save = saves.join(' ');
  // Like redis-server: files go to the working directory unless `dir` says otherwise.
  config.dir ??= '.';
  const kv = await Bunder.open({ config });
  let addr: { port: number; host: string };
  try {
    addr = await kv.listen({ port, host });
  } catch (e) {
    process.stderr.write(`bunder-server: cannot listen on ${host}:${port}: ${(e as Error).message}\n`);
    await kv.close();
    process.exit(1);
  }
  if (httpPort !== null) {
    try {
      const h = await kv.listenHttp({ port: httpPort, host });
      process.stdout.write(`bunder-server HTTP on ${h.host}:${h.port}\n`);
    } catch (e) {
      process.stderr.write(
        `bunder-server: cannot serve HTTP on ${host}:${httpPort}: ${(e as Error).message}\n`,
      );
      await kv.close();
      process.exit(1);
    }
  }
  process.stdout.write(`bunder-server ready on ${addr.host}:${addr.port} (pid ${process.pid})\n`);
  let stopping = false;
  const stop = async (signal: string, mode: 'save' | 'nosave' | 'default' = 'default') => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`bunder-server: ${signal} received, shutting down\n`);
    try {
      await kv.close(mode);
    } catch (e) {
      process.stderr.write(`bunder-server: error while shutting down: ${(e as Error).message}\n`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  kv.engine.hooks.shutdown = (mode) => {
    void stop('SHUTDOWN', mode);
    return null;
  };
}

main().catch((e: unknown) => {
  process.stderr.write(`bunder-server: ${(e as Error).message}\n`);
  process.exit(1);
});
