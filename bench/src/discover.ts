import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Suite } from './suite.js';

/** Loads every suite module (default export) from a directory of compiled suites, sorted by file name. */
export async function discoverSuites(dir: string): Promise<Suite[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort();
  const suites: Suite[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default?: Suite };
    const suite = mod.default;
    if (!suite || typeof suite.name !== 'string' || !Array.isArray(suite.workloads)) {
      throw new Error(`${f} does not default-export a suite (use defineSuite from bench/src/suite.ts)`);
    }
    suites.push(suite);
  }
  const names = new Set<string>();
  for (const s of suites) {
    if (names.has(s.name)) throw new Error(`two suites are named "${s.name}"`);
    names.add(s.name);
  }
  return suites;
}
