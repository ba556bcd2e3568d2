/** This package's own package.json, found from wherever the code runs (lib/cli or dist/cjs/cli). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = '@chorus-services/backbeat';

/**
 * The directory and version of the package.json of `@chorus-services/backbeat` above `fromDir`.
 *
 * @example
 * ownPackage(__dirname)?.version; // '0.1.0'
 * @return Null when no such package.json is found.
 */
export function ownPackage(fromDir: string): { dir: string; version: string } | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (json.name === PACKAGE_NAME && typeof json.version === 'string') {
        return { dir, version: json.version };
      }
    } catch {
      // No package.json here, or not JSON: look further up.
    }
    if (dirname(dir) === dir) return null;
  }
}
