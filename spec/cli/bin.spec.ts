/**
 * The real `bin/backbeat.js` shim on a build of the CLI, as a user runs it: a child process with
 * real arguments, exit codes and signals. The build goes to a temporary directory under .cache
 * (so that the repository's node_modules resolve) and compiles only the CLI's own imports.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { Capture } from './cli-harness';

const ROOT = resolve(__dirname, '../..');

/** Compiles lib/cli/main.ts and what it imports, with the build's settings, under `dir`. */
function buildCli(dir: string): void {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: {
        outDir: join(dir, 'dist/cjs'),
        rootDir: join(ROOT, 'lib'),
        declaration: false,
        sourceMap: false,
        noEmitOnError: true,
      },
      files: [join(ROOT, 'lib/cli/main.ts')],
      include: [],
    }),
  );
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], {
    encoding: 'utf8',
  });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin/backbeat.js'), join(dir, 'bin/backbeat.js'));
}

/** Runs the built shim: its output, and its exit as a promise of [code, signal]. */
function spawnBin(dir: string, argv: readonly string[]) {
  const child = spawn(process.execPath, [join(dir, 'bin/backbeat.js'), ...argv], {
    env: { ...process.env, NATS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = new Capture();
  const stderr = new Capture();
  child.stdout.setEncoding('utf8').on('data', (text: string) => stdout.write(text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => stderr.write(text));
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.once('close', (code, signal) => done([code, signal])),
  );
  return { child, stdout, stderr, exit };
}

describe('bin/backbeat.js', () => {
  let dir: string;
  let server: NatsServerHandle | undefined;

  beforeAll(() => {
    mkdirSync(join(ROOT, '.cache'), { recursive: true });
    dir = mkdtempSync(join(ROOT, '.cache', 'cli-bin-'));
    buildCli(dir);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints help (exit 0) and refuses a bad option (exit 2)', async () => {
    const help = spawnBin(dir, ['--help']);
    expect(await help.exit).toEqual([0, null]);
    expect(help.stdout.text).toMatch(/^Usage: backbeat \[options\] \[command\]/);
    expect(help.stdout.text).toContain('stream');

    const bad = spawnBin(dir, ['tap', '--cluster', 'dev', '--count', 'many']);
    expect(await bad.exit).toEqual([2, null]);
    expect(bad.stderr.text).toContain("option '--count <n>' argument 'many' is invalid");
  });

  it('runs pulse until SIGTERM, then stops cleanly with exit 0', async () => {
    server = await startNatsServer();
    const run = spawnBin(dir, [
      'pulse',
      '--cluster',
      'bin',
      '--tempo',
      '600',
      '--nats',
      server.url,
    ]);
    await run.stdout.until((out) => out.text.includes('stop with Ctrl-C'));
    run.child.kill('SIGTERM');
    expect(await run.exit).toEqual([0, null]);
    expect(run.stdout.lines().at(-1)).toMatch(
      /^backbeat pulse pulse-[0-9a-f]{16}: stopped after beat \d+$/,
    );
  });
});
