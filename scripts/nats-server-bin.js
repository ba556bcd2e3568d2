'use strict';
/**
 * Finds a working `nats-server` binary, fetching Debian's package into the project cache when
 * none is installed. Plain CommonJS without dependencies so that jest's global setup, tests and
 * `npm start` can all load it without compiling TypeScript.
 *
 * Search order: $NATS_SERVER_BIN (trusted as given: an explicit choice that does not work is an
 * error, not a reason to look elsewhere), `nats-server` on PATH, /usr/sbin/nats-server, then
 * <project>/.cache/nats-server/usr/sbin/nats-server. When nothing is found on a Debian-like system,
 * `apt-get download nats-server` + `dpkg -x` unpack the package into the cache without root.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const CACHE_DIR = path.join(PROJECT_ROOT, '.cache', 'nats-server');
const BINARY_IN_PACKAGE = path.join('usr', 'sbin', 'nats-server');
const INSTALL_HINT =
  'nats-server not found: install it (apt-get install nats-server, or https://github.com/nats-io/nats-server/releases) or set NATS_SERVER_BIN to its path';

/**
 * The version a binary reports, or null when it is not a working nats-server.
 * @param {string} binary path of the candidate binary
 * @return {string | null} e.g. "nats-server: v2.9.10"
 */
function natsServerVersion(binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return null;
  const text = `${result.stdout}${result.stderr}`.trim();
  return /nats-server/i.test(text) ? text : null;
}

/**
 * @param {string} command a command name to look up on PATH
 * @return {string[]} every executable file of that name on PATH, in PATH order
 */
function onPath(command) {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, command))
    .filter(isExecutableFile);
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
 * The first working nats-server already on this machine (or in the project cache), without
 * fetching anything.
 * @param {{ cacheDir?: string }} [options] cacheDir: where fetched packages are unpacked
 * @return {string | null} an absolute path, or null when none is found
 * @throws {Error} when NATS_SERVER_BIN is set but is not a working nats-server
 */
function findNatsServer(options = {}) {
  const explicit = process.env.NATS_SERVER_BIN;
  if (explicit) {
    if (natsServerVersion(explicit) === null) {
      throw new Error(
        `NATS_SERVER_BIN=${explicit} is not a working nats-server (--version failed)`,
      );
    }
    return path.resolve(explicit);
  }
  const cached = path.join(options.cacheDir ?? CACHE_DIR, BINARY_IN_PACKAGE);
  const candidates = [...onPath('nats-server'), '/usr/sbin/nats-server', cached];
  return candidates.find((file) => isExecutableFile(file) && natsServerVersion(file)) ?? null;
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {string} cwd
 * @return {{ ok: boolean, output: string }}
 */
function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`;
  return { ok: !result.error && result.status === 0, output: output.trim() };
}

/** @return {boolean} */
function hasAptGet() {
  return (
    run('apt-get', ['--version'], os.tmpdir()).ok && run('dpkg', ['--version'], os.tmpdir()).ok
  );
}

/**
 * Downloads Debian's nats-server package and unpacks it into cacheDir, without root. When the download
 * fails and we are root, runs `apt-get update` once and retries (empty package lists are the
 * usual cause in fresh containers).
 * @param {string} cacheDir the directory the package's tree (usr/sbin/...) is unpacked into
 * @param {(line: string) => void} log progress lines
 * @return {string} the unpacked binary's path
 */
function fetchDebianNatsServer(cacheDir, log) {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nats-server-deb-'));
  try {
    log(`nats-server: not installed; fetching Debian's package into ${cacheDir}`);
    let download = run('apt-get', ['download', 'nats-server'], workDir);
    if (!download.ok && process.getuid?.() === 0) {
      log('nats-server: apt-get download failed; running apt-get update once and retrying');
      const update = run('apt-get', ['update'], workDir);
      if (!update.ok) throw new Error(`apt-get update failed: ${lastLine(update.output)}`);
      download = run('apt-get', ['download', 'nats-server'], workDir);
    }
    if (!download.ok)
      throw new Error(`apt-get download nats-server failed: ${lastLine(download.output)}`);
    const deb = fs.readdirSync(workDir).find((name) => /^nats-server_.*\.deb$/.test(name));
    if (!deb) throw new Error('apt-get download nats-server produced no .deb file');

    // Unpack beside the cache, then rename into place: a concurrent run never sees half a tree.
    fs.mkdirSync(path.dirname(cacheDir), { recursive: true });
    const staging = fs.mkdtempSync(`${cacheDir}.partial-`);
    const unpack = run('dpkg', ['-x', path.join(workDir, deb), staging], workDir);
    if (!unpack.ok) throw new Error(`dpkg -x ${deb} failed: ${lastLine(unpack.output)}`);
    try {
      fs.renameSync(staging, cacheDir);
    } catch {
      fs.rmSync(staging, { recursive: true, force: true }); // another run won the race
    }
    return path.join(cacheDir, BINARY_IN_PACKAGE);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** @param {string} text @return {string} */
function lastLine(text) {
  return text.split('\n').filter(Boolean).pop() ?? '(no output)';
}

/**
 * A working nats-server's path: found on this machine, or fetched into the project cache.
 * @example
 * const { ensureNatsServer } = require('./scripts/nats-server-bin.js');
 * spawn(ensureNatsServer(), ['-p', '4222']);
 * @param {{ cacheDir?: string, log?: (line: string) => void }} [options]
 * @return {string} an absolute path that answers `--version`
 * @throws {Error} a one-line message with an install hint when no binary can be had
 */
function ensureNatsServer(options = {}) {
  const cacheDir = options.cacheDir ?? CACHE_DIR;
  const found = findNatsServer({ cacheDir });
  if (found) return found;
  if (!hasAptGet()) throw new Error(INSTALL_HINT);
  let fetched;
  try {
    fetched = fetchDebianNatsServer(cacheDir, options.log ?? ((line) => console.error(line)));
  } catch (error) {
    throw new Error(`${INSTALL_HINT} (${error instanceof Error ? error.message : String(error)})`);
  }
  if (natsServerVersion(fetched) === null) {
    throw new Error(`${INSTALL_HINT} (fetched ${fetched} does not answer --version)`);
  }
  return fetched;
}

module.exports = { ensureNatsServer, findNatsServer, natsServerVersion, CACHE_DIR };

if (require.main === module) {
  try {
    const binary = ensureNatsServer();
    console.log(`${binary} (${natsServerVersion(binary)})`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
