/**
 * Usage errors of the `backbeat` command: exit code 2 and a message naming what to fix, before
 * any attempt to reach NATS; help and version exit 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../support/nats-server';
import { runCli } from './cli-harness';

describe('backbeat arguments', () => {
  it.each([
    [[], /Usage: backbeat/],
    [['dance'], /unknown command 'dance'/],
    [['tap', '--cluster', 'dev', '--bogus'], /unknown option '--bogus'/],
    [['tap'], /required option '--cluster <id>' not specified/],
    [['pulse', '--cluster', 'a.b'], /'--cluster <id>' argument 'a\.b' is invalid/],
    [['pulse', '--cluster', 'dev', '--tempo', '0'], /'--tempo <bpm>' argument '0' is invalid/],
    [['pulse', '--cluster', 'dev', '--tempo', 'fast'], /'--tempo <bpm>'.*from 1 to 6000/],
    [['pulse', '--cluster', 'dev', '--tempo', '6001'], /'--tempo <bpm>'/],
    [['pulse', '--cluster', 'dev', '--beats-per-bar', '65'], /'--beats-per-bar <n>'.*1 to 64/],
    [['pulse', '--cluster', 'dev', '--beats-per-bar', '2.5'], /'--beats-per-bar <n>'/],
    [['pulse', '--cluster', 'dev', '--phases', 'plan,,work'], /'--phases <list>'.*none empty/],
    [['pulse', '--cluster', 'dev', '--phases', 'plan,degraded'], /--phases: item 1: is reserved/],
    [['pulse', '--cluster', 'dev', '--pulse-id', 'a b'], /'--pulse-id <id>' argument 'a b'/],
    [['pulse', '--cluster', 'dev', '--epoch', 'yesterday'], /'--epoch <time>'.*RFC 3339/],
    [['pulse', '--cluster', 'dev', '--epoch', '4102444800000'], /--epoch: must not be later/],
    [
      ['pulse', '--cluster', 'dev', '--key', '/nonexistent/pulse.key'],
      /--key \/nonexistent\/pulse\.key: cannot read it/,
    ],
    [['tap', '--cluster', 'dev', '--count', '0'], /'--count <n>'.*at least 1/],
    [
      ['tap', '--cluster', 'dev', '--pulse-key', 'AQID'],
      /--pulse-key AQID: must be the base64 of a 32-byte/,
    ],
    [
      ['tap', '--cluster', 'dev', '--trusted-keys', '/nonexistent/keys.json'],
      /--trusted-keys \/nonexistent\/keys\.json: cannot read it/,
    ],
    [['stream'], /Usage: backbeat stream/],
    [['stream', 'ensure', '--cluster', 'dev', '--replicas', '0'], /'--replicas <n>'.*1 to 5/],
    [['keygen', 'extra'], /too many arguments/],
  ])('exits 2 for %j, saying what is wrong on stderr', async (argv, message) => {
    const run = runCli(argv);
    expect(await run.code).toBe(2);
    expect(run.stderr.text).toMatch(message);
    expect(run.stdout.text).toBe('');
  });

  it.each([
    [['--help']],
    [['tap', '--help']],
    [['help', 'pulse']],
    [['stream', 'ensure', '--help']],
  ])('exits 0 for %j, with the usage and the exit codes on stdout', async (argv) => {
    const run = runCli(argv);
    expect(await run.code).toBe(0);
    expect(run.stdout.text).toMatch(/^Usage: backbeat/);
    expect(run.stdout.text).toContain('Exit codes:');
    expect(run.stdout.text).toContain('2  usage error');
    expect(run.stderr.text).toBe('');
  });

  it('documents in tap --help whether claims need signatures', async () => {
    const run = runCli(['tap', '--help']);
    expect(await run.code).toBe(0);
    expect(run.stdout.text.replace(/\s+/g, ' ')).toContain(
      'without it signatures are not required',
    );
  });

  it('prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    const run = runCli(['--version']);
    expect(await run.code).toBe(0);
    expect(run.stdout.text).toBe(`${pkg.version}\n`);
  });

  it('exits 1 when NATS cannot be reached, saying what to do', async () => {
    const [port] = await freePorts(1);
    const url = `nats://127.0.0.1:${port}`;
    const run = runCli(['tap', '--cluster', 'dev', '--nats', url]);
    expect(await run.code).toBe(1);
    expect(run.stderr.text).toContain(
      `error: cannot reach NATS at ${url}: is nats-server running? start one (nats-server -js) or pass --nats URL`,
    );
  });

  it('takes the default of --nats from NATS_URL', async () => {
    const [port] = await freePorts(1);
    const url = `nats://127.0.0.1:${port}`;
    const run = runCli(['stream', 'ensure', '--cluster', 'dev'], { NATS_URL: url });
    expect(await run.code).toBe(1);
    expect(run.stderr.text).toContain(`cannot reach NATS at ${url}`);
  });

  it.each([
    [{}, 'nats://localhost:4222'],
    [{ NATS_URL: ' , ' }, 'nats://localhost:4222'],
    [{ NATS_URL: 'nats://a:4222, nats://b:4222' }, 'nats://a:4222,nats://b:4222'],
  ])('shows the default of --nats for NATS_URL %j', async (env, shown) => {
    const run = runCli(['tap', '--help'], env);
    expect(await run.code).toBe(0);
    expect(run.stdout.text.replace(/\s+/g, ' ')).toContain(`(default: ${shown})`);
  });
});
