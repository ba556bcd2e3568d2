// The browser build (used by scripts/build.mjs and by the browser specs): the SDK as one ESM
// bundle for pages and bundlers, and the `backbeat board` page.
//
// One code path for Node and the browser: esbuild bundles lib/ as it is, except that each
// module with a `<name>.browser.ts` sibling is replaced by it. Those edges are the only
// differences: lib/crypto/* (Ed25519, SHA-256, base64, random ids, byte checks) and
// lib/transport/dial (nats.ws instead of nats.js's Node transport). Imports of `nats` become
// `nats.ws`, nats.js's WebSocket client, whose API is the same.
// Plain CommonJS, like nats-server-bin.js, so that jest's specs can require it; run as a script
// it builds a test page or measures the bundle (see the end of the file).
'use strict';
const { copyFileSync, existsSync, mkdirSync, readFileSync } = require('node:fs');
const { builtinModules } = require('node:module');
const { join, resolve } = require('node:path');
const { gzipSync } = require('node:zlib');
const esbuild = require('esbuild');

const root = resolve(__dirname, '..');
const libDir = join(root, 'lib');
const boardSourceDir = join(libDir, 'cli', 'board-page');

/** What the SDK bundle leaves to the page or its bundler: the peer dependencies of a browser. */
const BROWSER_EXTERNALS = ['rxjs', 'rxjs/*', 'nats.ws'];

/** @type {esbuild.Plugin} lib/x.ts → lib/x.browser.ts wherever the latter exists, whoever imports it. */
const browserEdges = {
  name: 'backbeat-browser-edges',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (!target.startsWith(libDir)) return undefined;
      const edge = `${target}.browser.ts`;
      return existsSync(edge) ? { path: edge } : undefined;
    });
  },
};

/**
 * `import { z } from 'zod'` → `import * as z from 'zod'` in lib/: the same namespace, but esbuild
 * shakes a namespace import's unused members and keeps every member (all of zod's locales, 350
 * kB) of a namespace imported by name. The bundle's size spec fails if a form this misses comes.
 * @type {esbuild.Plugin}
 */
const zodNamespaceImports = {
  name: 'zod-namespace-imports',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!args.path.startsWith(libDir)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      return {
        loader: 'ts',
        contents: source.replaceAll("import { z } from 'zod';", "import * as z from 'zod';"),
      };
    });
  },
};

/**
 * nats.ws's copy of tweetnacl requires Node's `crypto` only when the page has no WebCrypto
 * (`globalThis.crypto`); tweetnacl's own package.json maps it to nothing in browsers, as here.
 * @type {esbuild.Plugin}
 */
const natsWsNodeCrypto = {
  name: 'nats-ws-node-crypto',
  setup(build) {
    build.onResolve({ filter: /^crypto$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'nats.ws')}`)
        ? { path: 'crypto', namespace: 'empty-module' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'empty-module' }, () => ({ contents: '' }));
  },
};

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * Records every import of a Node builtin (`node:x` or a bare builtin name) that reaches the
 * bundle, and leaves it out instead of failing; put it first among the plugins. A builtin that a
 * package's own `browser` field maps away (tweetnacl's `crypto`) is not one: esbuild resolves it
 * to an empty module.
 * @param {string[]} found receives "<builtin> (from <importer>)" lines
 * @return {esbuild.Plugin}
 */
function nodeBuiltinRecorder(found) {
  return {
    name: 'node-builtin-recorder',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === 'node-builtin-recorder') return undefined;
        if (!NODE_BUILTINS.has(args.path) && !args.path.startsWith('node:')) return undefined;
        const resolved = await build.resolve(args.path, {
          importer: args.importer,
          resolveDir: args.resolveDir,
          kind: args.kind,
          pluginData: 'node-builtin-recorder',
        });
        if (resolved.errors.length === 0 && !resolved.external) return undefined;
        found.push(`${args.path} (from ${args.importer.replace(`${root}/`, '')})`);
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * esbuild options of the SDK's browser bundle: lib/index.ts with the browser edges, rxjs and
 * nats.ws left as imports.
 * @param {Partial<esbuild.BuildOptions>} [overrides]
 * @return {esbuild.BuildOptions}
 */
function sdkBundleOptions(overrides = {}) {
  return {
    entryPoints: [join(libDir, 'index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    alias: { nats: 'nats.ws' },
    external: BROWSER_EXTERNALS,
    plugins: [browserEdges, zodNamespaceImports],
    logLevel: 'silent',
    ...overrides,
  };
}

/**
 * The SDK bundle's size, minified and gzipped, without rxjs and nats.ws.
 * @return {Promise<{ minified: number, gzipped: number, inputs: Record<string, number> }>}
 */
async function measureSdkBundle() {
  const result = await esbuild.build(
    sdkBundleOptions({ minify: true, write: false, metafile: true }),
  );
  const bytes = result.outputFiles[0].contents;
  const [output] = Object.values(result.metafile.outputs);
  const inputs = {};
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
    const group = file.startsWith('node_modules/')
      ? file
          .split('/')
          .slice(1, file.split('/')[1].startsWith('@') ? 3 : 2)
          .join('/')
      : 'lib';
    inputs[group] = (inputs[group] ?? 0) + bytesInOutput;
  }
  return { minified: bytes.byteLength, gzipped: gzipSync(bytes, { level: 9 }).byteLength, inputs };
}

/**
 * Writes the board page (index.html, board.css, board.js: the page's script with the SDK,
 * rxjs and nats.ws in one file) into `outDir`.
 * @param {string} outDir
 */
async function buildBoardPage(outDir) {
  mkdirSync(outDir, { recursive: true });
  await buildPageScript(join(boardSourceDir, 'board.ts'), join(outDir, 'board.js'), {
    minify: true,
  });
  for (const file of ['index.html', 'board.css']) {
    copyFileSync(join(boardSourceDir, file), join(outDir, file));
  }
}

/**
 * `npm run build`'s browser part: dist/browser/index.mjs (the `browser` export condition) and
 * dist/board/ (the page `backbeat board` serves).
 * @return {Promise<string>} a line saying what was built
 */
async function buildBrowser() {
  await esbuild.build(sdkBundleOptions({ outfile: join(root, 'dist/browser/index.mjs') }));
  await buildBoardPage(join(root, 'dist/board'));
  const size = await measureSdkBundle();
  return `built browser: dist/browser/index.mjs (${size.minified} bytes minified, ${size.gzipped} gzipped, rxjs and nats.ws excluded) + dist/board/`;
}

/**
 * Bundles a page script (the board's, a spec's page) with the browser edges, rxjs and nats.ws
 * included.
 * @param {string} entry the page's TypeScript entry
 * @param {string} outfile where the script goes
 * @param {{ minify?: boolean }} [options]
 * @return {Promise<void>}
 */
async function buildPageScript(entry, outfile, { minify = false } = {}) {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    alias: { nats: 'nats.ws' },
    plugins: [browserEdges, zodNamespaceImports, natsWsNodeCrypto],
    logLevel: 'warning',
  });
}

/**
 * The SDK bundle checked for Node: every Node builtin it imports (none allowed), whether it
 * names `Buffer`, the bare imports it leaves to the page, and its size.
 * @return {Promise<{ builtins: string[], bufferMentions: number, imports: string[], size: object }>}
 */
async function checkSdkBundle() {
  const builtins = [];
  const result = await esbuild.build(
    sdkBundleOptions({
      write: false,
      plugins: [nodeBuiltinRecorder(builtins), browserEdges, zodNamespaceImports],
    }),
  );
  const text = result.outputFiles[0].text;
  const imports = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gms)].map(
    (match) => match[1],
  );
  return {
    builtins,
    bufferMentions: (text.match(/\bBuffer\b/g) ?? []).length,
    imports: [...new Set(imports)].sort(),
    size: await measureSdkBundle(),
  };
}

module.exports = {
  root,
  BROWSER_EXTERNALS,
  browserEdges,
  zodNamespaceImports,
  nodeBuiltinRecorder,
  sdkBundleOptions,
  measureSdkBundle,
  buildBoardPage,
  buildBrowser,
  buildPageScript,
  checkSdkBundle,
};

if (require.main === module) {
  // node scripts/browser-build.js check | board <outDir> | page <entry.ts> <outfile>
  const [command, ...args] = process.argv.slice(2);
  const run = {
    check: async () => console.log(JSON.stringify(await checkSdkBundle(), null, 2)),
    board: () => buildBoardPage(resolve(args[0])),
    page: () => buildPageScript(resolve(args[0]), resolve(args[1])),
  }[command];
  if (run === undefined) {
    console.error(
      'usage: node scripts/browser-build.js check | board <outDir> | page <entry.ts> <outfile>',
    );
    process.exitCode = 2;
  } else {
    run().catch((error) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    });
  }
}
