import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..', '..');

function findNodeModules(from: string): string {
  for (let d = from; ; d = path.dirname(d)) {
    const nm = path.join(d, 'node_modules');
    if (fs.existsSync(path.join(nm, 'crc-32'))) return nm;
    if (path.dirname(d) === d) throw new Error('node_modules with crc-32 not found');
  }
}

function transpileDir(srcDir: string, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of fs.readdirSync(srcDir)) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
    const out = ts.transpileModule(fs.readFileSync(path.join(srcDir, name), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    fs.writeFileSync(path.join(outDir, name.replace(/\.ts$/, '.js')), out.outputText);
  }
}

/**
 * Child processes for crash tests must start in milliseconds, so instead of a TypeScript loader they run
 * plain JavaScript transpiled here from the current sources into a temporary directory.
 */
export function buildFixtures(): { root: string; script: (name: string) => string; cleanup: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bundoc-fixtures-'));
  fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}');
  fs.symlinkSync(findNodeModules(pkg), path.join(root, 'node_modules'), 'dir');
  transpileDir(path.join(pkg, 'src', 'storage'), path.join(root, 'src', 'storage'));
  transpileDir(here, path.join(root, 'test', 'fixtures-storage'));
  return {
    root,
    script: (name) => path.join(root, 'test', 'fixtures-storage', `${name}.js`),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
