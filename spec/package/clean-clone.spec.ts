/**
 * The package as a user gets it (issue 16): packed from a clean tree (the files git would clone,
 * no dist/), so `prepack` must build; installed from the tarball into fresh ES-module and
 * CommonJS projects; run there against a real nats-server: a beat followed from a pulse, a
 * claim signed and verified, `npx backbeat --help`.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  readFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

const root = resolve(__dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** Runs a command; resolves with its stdout, rejects with both outputs. */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      {
        cwd,
        env: { ...process.env, ...env, npm_config_audit: 'false', npm_config_fund: 'false' },
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        timeout: 240_000,
      },
      (error, stdout, stderr) =>
        error
          ? fail(
              new Error(
                `${command} ${args.join(' ')} in ${cwd} failed: ${error.message}\n${stdout}\n${stderr}`,
              ),
            )
          : done(stdout),
    );
  });
}

/** A clean checkout: every file git would commit from this tree (tracked or new, not ignored). */
async function cleanTree(into: string): Promise<void> {
  const listed = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    root,
  );
  for (const file of listed.split('\0').filter((path) => path !== '')) {
    const from = join(root, file);
    if (!existsSync(from)) continue; // deleted in the working tree, not yet committed
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(from, join(into, file));
  }
}

/** The README's code blocks marked with a file name (```js filename=agent.mjs), by name. */
function readmeFiles(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const files = new Map<string, string>();
  for (const [, name, text] of readme.matchAll(/^```\w+ filename=(\S+)\n([\s\S]*?)^```$/gm)) {
    files.set(name, text);
  }
  return files;
}

/** What each project's app prints: a pulse beat followed, a signed claim verified. */
interface AppResult {
  source: string;
  verdict: { ok: boolean; state?: string; agent?: string };
}

/** The app, in either module system; its claim must be signed by the key it trusts. */
function appSource(module: 'esm' | 'cjs'): string {
  const imports =
    module === 'esm'
      ? `import { createClient, generateSigningKey, startPulse } from '@chorus-services/backbeat';
import { filter, firstValueFrom } from 'rxjs';`
      : `const { createClient, generateSigningKey, startPulse } = require('@chorus-services/backbeat');
const { filter, firstValueFrom } = require('rxjs');`;
  return `${imports}
async function main() {
  const natsUrl = process.env.NATS_URL;
  const clusterId = 'pkg-${module}';
  const pulse = await startPulse({ clusterId, natsUrl, tempoBpm: 600 });
  const { secretKey, publicKey } = generateSigningKey();
  const client = createClient({ clusterId, agentId: 'app', natsUrl, signingKey: secretKey });
  const beat = firstValueFrom(client.beat$.pipe(filter((b) => b.source === 'pulse')));
  await client.start();
  const followed = await beat;
  const verdict = firstValueFrom(
    client.statusClaims$({ trustedKeys: { app: publicKey }, requireSignature: true }),
  );
  await client.emitStatusClaim({ state: 'executing', beatsLeft: 2, progress: 0.5 });
  const seen = await verdict;
  await client.stop();
  await pulse.stop();
  console.log(JSON.stringify({
    source: followed.source,
    verdict: seen.ok ? { ok: true, state: seen.claim.state, agent: seen.claim.agent_id } : seen,
  }));
}
main().catch((error) => { console.error(error); process.exit(1); });
`;
}

/**
 * The lowest nats.js the peer range admits (`^2.29` → `2.29.0`): the CommonJS project runs on
 * it, the ES-module project on the newest in range, so both ends of the declared range are run.
 */
function natsRangeFloor(): string {
  const { peerDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    peerDependencies: Record<string, string>;
  };
  const match = /^\^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(peerDependencies.nats);
  if (match === null) throw new Error(`unexpected nats peer range ${peerDependencies.nats}`);
  return `${match[1]}.${match[2]}.${match[3] ?? 0}`;
}

describe('the package packed from a clean tree', () => {
  let dir: string;
  let tarball: string;
  let packed: string[];
  let server: NatsServerHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backbeat-package-'));
    const tree = join(dir, 'tree');
    await cleanTree(tree);
    expect(existsSync(join(tree, 'dist'))).toBe(false);
    // The tools to build with (typescript); a clean clone would `npm ci` the same lockfile.
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
    const [pack] = JSON.parse(
      await run(NPM, ['pack', '--json', '--pack-destination', dir], tree),
    ) as [{ filename: string; files: { path: string }[] }];
    tarball = join(dir, pack.filename);
    packed = pack.files.map((file) => file.path);
    server = await startNatsServer();
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the build, because prepack ran', () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/backbeat.js',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/cjs/cli/main.js',
        'dist/esm/index.mjs',
        'dist/esm/index.d.mts',
        'dist/esm/testing/index.mjs',
        'dist/esm/prometheus/index.mjs',
      ]),
    );
    expect(packed.filter((path) => path.startsWith('lib/') || path.startsWith('spec/'))).toEqual(
      [],
    );
  });

  it.each(['esm', 'cjs'] as const)(
    'installs into a fresh %s project and follows a pulse, signs and verifies a claim there (cjs: on the lowest nats.js of the peer range)',
    async (module) => {
      const project = join(dir, module);
      mkdirSync(project);
      const type = module === 'esm' ? 'module' : 'commonjs';
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: `app-${module}`, private: true, type }),
      );
      const nats = module === 'cjs' ? `nats@${natsRangeFloor()}` : 'nats';
      await run(NPM, ['install', tarball, 'rxjs', nats, '--prefer-offline'], project);
      const installed = JSON.parse(
        readFileSync(join(project, 'node_modules/nats/package.json'), 'utf8'),
      ) as { version: string };
      if (module === 'cjs') expect(installed.version).toBe(natsRangeFloor());
      writeFileSync(join(project, 'app.js'), appSource(module));
      const output = await run(process.execPath, ['app.js'], project, { NATS_URL: server.url });
      const result = JSON.parse(output.trim().split('\n').pop()!) as AppResult;
      expect(result).toEqual({
        source: 'pulse',
        verdict: { ok: true, state: 'executing', agent: 'app' },
      });
      if (module === 'cjs') {
        const help = await run(NPX, ['--no', '--', 'backbeat', '--help'], project);
        expect(help).toMatch(/Usage: backbeat/);
        expect(help).toMatch(/pulse/);
      }
    },
    240_000,
  );
  it("runs the README's first hour as written: a pulse, a key, agent.mjs", async () => {
    const project = join(dir, 'esm'); // installed by the test above
    const files = readmeFiles();
    writeFileSync(join(project, 'agent.mjs'), files.get('agent.mjs')!);
    await run(NPX, ['--no', '--', 'backbeat', 'keygen', '--out', 'agent.key'], project);
    // `npx backbeat pulse` as the README says, without npx in between: npm exec does not pass
    // SIGINT on to the command, which would outlive the test.
    const pulse = spawn(
      process.execPath,
      ['node_modules/.bin/backbeat', 'pulse', '--cluster', 'chorus-dev', '--nats', server.url],
      { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = once(pulse, 'exit');
    try {
      let out = '';
      await new Promise<void>((ready, fail) => {
        pulse.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('stop with Ctrl-C')) ready();
        });
        void exited.then(() => fail(new Error(`backbeat pulse exited: ${out}`)));
      });
      const printed = await run(process.execPath, ['agent.mjs'], project, {
        NATS_URL: server.url,
      });
      const lines = printed.trim().split('\n');
      expect(lines.filter((line) => /^beat \d+ \w+ \(pulse\)$/.test(line))).toHaveLength(8);
      expect(lines).toContainEqual(expect.stringMatching(/^claim sent at beat \d+$/));
      expect(printed).toContain('backbeat: connected to NATS');
      expect(printed).toContain("backbeat: following pulse 'pulse-");
    } finally {
      pulse.kill('SIGINT');
      await exited;
    }
  }, 240_000);

  it("runs the README's ES-module Jest recipe as written", async () => {
    const project = join(dir, 'esm');
    const files = readmeFiles();
    await run(NPM, ['install', '--save-dev', 'jest', '@jest/globals', '--prefer-offline'], project);
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as object;
    const recipe = JSON.parse(files.get('package.json')!) as object;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ ...pkg, ...recipe }));
    writeFileSync(join(project, 'jest.config.js'), files.get('jest.config.js')!);
    writeFileSync(join(project, 'budget.test.js'), files.get('budget.test.js')!);
    const result = await new Promise<{ code: number | null; output: string }>((done) => {
      execFile(NPM, ['test'], { cwd: project, encoding: 'utf8' }, (error, stdout, stderr) =>
        done({
          code: error ? ((error.code as number | undefined) ?? 1) : 0,
          output: stdout + stderr,
        }),
      );
    });
    expect(result.output).toMatch(/Tests:\s+1 passed, 1 total/);
    expect(result.code).toBe(0);
  }, 240_000);
});
