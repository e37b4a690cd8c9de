import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');
const NODE_MODULES = join(import.meta.dirname, '../../../../node_modules');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/**
 * Child processes of the cluster tests run plain JavaScript: starting three nodes through the tap
 * TypeScript loader takes many seconds each. The sources are transpiled (no type check: the typecheck
 * step does that) into a temporary directory that resolves packages from the repository's node_modules.
 * Returns the directory that stands for the package root (`src/...`, and `extra` files by their path).
 */
export function transpileSources(
  t: { teardown(fn: () => void): void },
  extra: readonly string[] = [],
): string {
  const out = mkdtempSync(join(tmpdir(), 'raft-js-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  symlinkSync(NODE_MODULES, join(out, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  for (const file of [...walk(SRC), ...extra.map((f) => join(ROOT, f))]) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: file,
    });
    const dest = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, outputText);
  }
  return out;
}
