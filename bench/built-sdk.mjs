// Loaded with `--import ./bench/built-sdk.mjs` after tsx: the benches import '../lib/…' (typed and
// linted against the sources) but run the built package, dist/cjs: the code users run. Run by
// tsx from lib/, the SDK would pay for tsx's module interop, which turns every imported binding
// into a getter call (about 10 µs a beat on the beat path at ten frames a second).
import { existsSync, readdirSync, statSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib') + sep;
const dist = join(root, 'dist', 'cjs') + sep;

/** The newest modification time (ms) of the files under `dir`. */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const built = join(dist, 'index.js');
if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(lib)) {
  throw new Error('bench: dist/cjs is missing or older than lib/: run `npm run build` first');
}

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const resolved = resolveFilename.call(this, request, parent, ...rest);
  if (!resolved.startsWith(lib) || !resolved.endsWith('.ts')) return resolved;
  const target = dist + resolved.slice(lib.length, -'.ts'.length) + '.js';
  if (!existsSync(target)) throw new Error(`bench: ${target} is not built`);
  return target;
};
