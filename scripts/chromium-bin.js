'use strict';
/**
 * Finds a working Chromium for the browser specs (npm run test:browser), installing Debian's
 * `chromium` package when none is found and we may (root with apt-get). Plain CommonJS without
 * dependencies, like nats-server-bin.js. The specs drive it with playwright-core; no browser is
 * ever downloaded by Playwright.
 *
 * Search order: $CHROMIUM_BIN (trusted as given: an explicit choice that does not work is an
 * error), then chromium, chromium-browser, google-chrome-stable, google-chrome on PATH, then
 * /usr/bin/chromium.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const INSTALL_HINT =
  'chromium not found: install it (apt-get install chromium, as root) or set CHROMIUM_BIN to a Chromium or Chrome binary';
const NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/**
 * Flags that let Chromium run headless here: as root (no sandbox), without a GPU, and without
 * reaching out to Google's services while the specs run.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * @param {string} binary
 * @return {string | null} e.g. "Chromium 131.0.6778.85 built on Debian", or null
 */
function chromiumVersion(binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (result.error || result.status !== 0) return null;
  const text = `${result.stdout}`.trim();
  return /chrom/i.test(text) ? text : null;
}

/** @param {string} file @return {boolean} */
function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The first working Chromium on this machine, without installing anything.
 * @return {string | null}
 * @throws {Error} when CHROMIUM_BIN is set but is not a working Chromium
 */
function findChromium() {
  const explicit = process.env.CHROMIUM_BIN;
  if (explicit) {
    if (chromiumVersion(explicit) === null) {
      throw new Error(`CHROMIUM_BIN=${explicit} is not a working Chromium (--version failed)`);
    }
    return path.resolve(explicit);
  }
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const candidates = [
    ...NAMES.flatMap((name) => dirs.map((dir) => path.join(dir, name))),
    '/usr/bin/chromium',
  ];
  return candidates.find((file) => isExecutableFile(file) && chromiumVersion(file)) ?? null;
}

/**
 * @param {string[]} args
 * @return {{ ok: boolean, output: string }}
 */
function aptGet(args) {
  const result = spawnSync('apt-get', args, {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    timeout: 900_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`;
  return { ok: !result.error && result.status === 0, output: output.trim() };
}

/** @param {string} text @return {string} */
function lastLine(text) {
  return text.split('\n').filter(Boolean).pop() ?? '(no output)';
}

/**
 * A working Chromium's path: found, or installed with apt-get when running as root.
 * @example
 * const { ensureChromium, CHROMIUM_ARGS } = require('./scripts/chromium-bin.js');
 * await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
 * @param {{ log?: (line: string) => void }} [options]
 * @return {string}
 * @throws {Error} a one-line message with an install hint when no Chromium can be had
 */
function ensureChromium(options = {}) {
  const found = findChromium();
  if (found) return found;
  const canInstall = process.getuid?.() === 0 && aptGet(['--version']).ok;
  if (!canInstall) throw new Error(INSTALL_HINT);
  const log = options.log ?? ((line) => console.error(line));
  log('chromium: not installed; apt-get install -y chromium');
  let install = aptGet(['install', '-y', '--no-install-recommends', 'chromium']);
  if (!install.ok) {
    log('chromium: apt-get install failed; running apt-get update once and retrying');
    const update = aptGet(['update']);
    if (!update.ok)
      throw new Error(`${INSTALL_HINT} (apt-get update failed: ${lastLine(update.output)})`);
    install = aptGet(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  if (!install.ok) throw new Error(`${INSTALL_HINT} (${lastLine(install.output)})`);
  const installed = findChromium();
  if (!installed) throw new Error(`${INSTALL_HINT} (installed, yet no working binary found)`);
  return installed;
}

module.exports = { ensureChromium, findChromium, chromiumVersion, CHROMIUM_ARGS };

if (require.main === module) {
  try {
    const binary = ensureChromium();
    console.log(`${binary} (${chromiumVersion(binary)})`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
