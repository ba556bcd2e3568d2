/**
 * The SDK's browser bundle (scripts/browser-build.js): nothing of Node on its path, only rxjs
 * and nats.ws left to the page, and a size kept in check. Its behaviour in a real browser is
 * spec/browser's (npm run test:browser).
 */
import { build } from 'esbuild';
import { checkSdkBundle } from '../../scripts/browser-build';
import { nodeBuiltinRecorder } from '../../scripts/browser-build';

/** gzip budget of the bundle without rxjs and nats.ws: about 63 kB today, zod two fifths. */
const GZIP_BUDGET_BYTES = 80_000;

describe('the browser bundle', () => {
  let result: Awaited<ReturnType<typeof checkSdkBundle>>;
  beforeAll(async () => {
    result = await checkSdkBundle();
  });

  it('imports no Node builtin and names no Buffer', () => {
    expect(result.builtins).toEqual([]);
    expect(result.bufferMentions).toBe(0);
  });

  it('leaves only rxjs and nats.ws to the page', () => {
    expect(result.imports).toEqual(['nats.ws', 'rxjs']);
  });

  it(`stays under ${GZIP_BUDGET_BYTES} bytes gzipped`, () => {
    process.stdout.write(
      `browser bundle: ${result.size.minified} bytes minified, ${result.size.gzipped} gzipped (rxjs and nats.ws excluded); minified by input: ${JSON.stringify(result.size.inputs)}\n`,
    );
    expect(result.size.gzipped).toBeLessThan(GZIP_BUDGET_BYTES);
  });

  it('would catch a Node builtin on the path', async () => {
    const found: string[] = [];
    await build({
      stdin: {
        contents:
          "import 'node:fs';\nimport { createHash } from 'crypto';\nconsole.log(createHash);",
      },
      bundle: true,
      write: false,
      platform: 'browser',
      logLevel: 'silent',
      plugins: [nodeBuiltinRecorder(found)],
    });
    expect(found.map((line) => line.split(' ')[0])).toEqual(['node:fs', 'crypto']);
  });
});
