import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

// The built package as its users load it: `require` and `import` of '@chorus-services/backbeat'
// from inside the project resolve through package.json "exports" (package self-reference).
const root = resolve(__dirname, '../..');
const PACKAGE = '@chorus-services/backbeat';
const cjsEntry = join(root, 'dist/cjs/index.js');
const esmEntry = join(root, 'dist/esm/index.mjs');

function newestMtimeMs(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs;
    return Math.max(newest, mtime);
  }, 0);
}

/** The build is stale when an output is missing or older than a source that shapes it. */
function buildIsStale(): boolean {
  if (!existsSync(cjsEntry) || !existsSync(esmEntry)) return true;
  const sources = Math.max(
    newestMtimeMs(join(root, 'lib')),
    statSync(join(root, 'package.json')).mtimeMs,
    statSync(join(root, 'scripts/build.mjs')).mtimeMs,
  );
  return Math.min(statSync(cjsEntry).mtimeMs, statSync(esmEntry).mtimeMs) < sources;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

/** Runs a script in a child node (ES module or CommonJS) from the project root; parses its JSON. */
function nodeJson(script: string, inputType: 'module' | 'commonjs'): Record<string, unknown> {
  return JSON.parse(run(process.execPath, [`--input-type=${inputType}`, '-e', script])) as Record<
    string,
    unknown
  >;
}

beforeAll(() => {
  if (buildIsStale()) run(process.execPath, ['scripts/build.mjs']);
}, 180_000);

describe('the dual-format build', () => {
  it('require() from the project root loads the CommonJS build', () => {
    const seen = nodeJson(
      `const m = require('${PACKAGE}');
       console.log(JSON.stringify({ file: require.resolve('${PACKAGE}'), names: Object.keys(m) }));`,
      'commonjs',
    );
    expect(seen.file).toBe(cjsEntry);
    expect(seen.names).toEqual(expect.arrayContaining(['ConfigError']));
  });

  // Every subpath ('.', later './testing' and './prometheus') that package.json exports.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const subpaths = Object.entries(pkg.exports)
    .filter(([, target]) => target.import?.default?.endsWith('.mjs'))
    .map(([subpath, target]) => [subpath, join(root, target.import!.default!)] as const);

  it.each(subpaths)(
    'import and require of %s share one copy of every export',
    (subpath, esmFile) => {
      const specifier = join(PACKAGE, subpath);
      const seen = nodeJson(
        `import * as esm from '${specifier}';
       import { createRequire } from 'node:module';
       const cjs = createRequire(process.cwd() + '/')('${specifier}');
       const names = Object.keys(cjs);
       const classes = names.filter((name) => /^class /.test(String(cjs[name])));
       console.log(JSON.stringify({
         file: new URL(import.meta.resolve('${specifier}')).pathname,
         esmNames: Object.keys(esm).sort(),
         cjsNames: names.sort(),
         different: names.filter((name) => esm[name] !== cjs[name]),
         classes: classes.length,
       }));`,
        'module',
      );
      expect(seen.file).toBe(esmFile);
      expect(seen.esmNames).toEqual(seen.cjsNames);
      expect(seen.different).toEqual([]);
      // The main entry's classes (errors, the client) must be one copy; subpaths may have none.
      if (subpath === '.') expect(seen.classes).toBeGreaterThan(0);
    },
  );

  it('an error thrown by one format is an instance of the class the other format gives', () => {
    const seen = nodeJson(
      `import { ConfigError } from '${PACKAGE}';
       import { createRequire } from 'node:module';
       const cjs = createRequire(process.cwd() + '/')('${PACKAGE}');
       console.log(JSON.stringify({
         importedIsRequired: new ConfigError('f', 'm') instanceof cjs.ConfigError,
         requiredIsImported: new cjs.ConfigError('f', 'm') instanceof ConfigError,
       }));`,
      'module',
    );
    expect(seen).toEqual({ importedIsRequired: true, requiredIsImported: true });
  });

  it('gives TypeScript users types for both import and require', () => {
    // Inside the package, so that TypeScript resolves the self-reference through "exports".
    const dir = join(root, 'dist/.typecheck');
    mkdirSync(dir, { recursive: true });
    try {
      const use = (ref: string): string =>
        `const error: Error & { field: string } = new ${ref}.ConfigError('f', 'm');\nexport const field: string = error.field;\n`;
      writeFileSync(join(dir, 'esm.mts'), `import * as bb from '${PACKAGE}';\n${use('bb')}`);
      writeFileSync(join(dir, 'cjs.cts'), `import bb = require('${PACKAGE}');\n${use('bb')}`);
      writeFileSync(
        join(dir, 'wrong.mts'),
        `import { NoSuchExport } from '${PACKAGE}';\nexport const x: unknown = NoSuchExport;\n`,
      );
      const tsc = (files: string[]) =>
        spawnSync(
          process.execPath,
          [
            require.resolve('typescript/bin/tsc'),
            ...['--noEmit', '--strict', '--skipLibCheck', '--types', 'node'],
            ...['--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022'],
            ...files.map((file) => join(dir, file)),
          ],
          { cwd: root, encoding: 'utf8' },
        );

      const good = tsc(['esm.mts', 'cjs.cts']);
      expect(`${good.stdout}${good.stderr}`).toBe('');
      // The check can fail: a name the package lacks is a type error through the same path.
      expect(tsc(['wrong.mts']).stdout).toContain("has no exported member 'NoSuchExport'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
