/** The package's version, for `backbeat --version`, from wherever the code runs (lib or dist). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = '@chorus-services/backbeat';

/**
 * The version in the package.json of `@chorus-services/backbeat` above `fromDir`.
 *
 * @example
 * packageVersion(__dirname); // '0.1.0'
 * @return The version, or `'unknown'` when no such package.json is found.
 */
export function packageVersion(fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (json.name === PACKAGE_NAME && typeof json.version === 'string') return json.version;
    } catch {
      // No package.json here, or not JSON: look further up.
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
