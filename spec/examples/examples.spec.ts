import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { NatsConnection } from 'nats';
import { filter, firstValueFrom, from, ReplaySubject, toArray } from 'rxjs';
import { runServiceMonitor } from '../../examples/service-monitor';
import { runSimpleAgent } from '../../examples/simple-agent';
import { runTaskProcessor, type Job } from '../../examples/task-processor';
import { BeatBudgetExceededError } from '../../lib/errors';
import type { ClientMetrics } from '../../lib/observability/metrics';
import { verifyStatus } from '../../lib/operators/verify-status';
import { statusSubject } from '../../lib/protocol/subjects';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { collect, healthWhere, nextBeat, rawConnection } from '../client/client-support';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

const CLUSTER = 'examples';
const TEMPO_BPM = 1200;

/** A `print` for an example, and a way to wait for the first line (printed or to come) matching. */
function printer() {
  const lines = new ReplaySubject<string>();
  const printed: string[] = [];
  return {
    printed,
    print: (line: string) => {
      printed.push(line);
      lines.next(line);
    },
    line: (pattern: RegExp) => firstValueFrom(lines.pipe(filter((line) => pattern.test(line)))),
  };
}

/** An example run as a script (`require.main === module`) in its own Node process. */
function runScript(file: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join('examples', file)], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = new ReplaySubject<string>();
  createInterface({ input: child.stdout }).on('line', (line) => lines.next(line));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = once(child, 'close').then(([code, signal]) => ({ code, signal, stderr }));
  return {
    line: (pattern: RegExp) =>
      Promise.race([
        firstValueFrom(lines.pipe(filter((line) => pattern.test(line)))),
        exited.then((exit) => {
          throw new Error(`${file} exited (${exit.code}) before printing ${pattern}: ${stderr}`);
        }),
      ]),
    signal: (name: NodeJS.Signals) => child.kill(name),
    exited,
  };
}

/** Work that never ends on its own: it waits for its budget to abort it. */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });

describe('the examples against a real nats-server and the dev pulse', () => {
  let server: NatsServerHandle;
  let pulse: Pulse;
  let raw: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    pulse = await startPulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: TEMPO_BPM });
    raw = await rawConnection(server.url);
  });
  afterAll(async () => {
    await raw.close();
    await pulse.stop();
    await server.stop();
  });

  it('simple agent: prints beat lines and ok verdicts of its own claims', async () => {
    const out = printer();
    const agent = await runSimpleAgent({
      natsUrl: server.url,
      clusterId: CLUSTER,
      agentId: 'simple',
      print: out.print,
    });
    await out.line(/^beat \d+ {2}\d+:\d+ .* 1200 BPM {2}pulse/);
    await out.line(/^ {2}claim at beat \d+: ok$/);
    await agent.stop();
    expect(out.printed).toContain(`following the pulse at ${TEMPO_BPM} BPM`);
    expect(out.printed.filter((line) => line.startsWith('  claim: '))).toEqual([]);
  });

  it('task processor: a job done in its budget, one over budget and one that throws, each claimed', async () => {
    const out = printer();
    const processor = await runTaskProcessor({
      natsUrl: server.url,
      clusterId: CLUSTER,
      agentId: 'tasks',
      print: out.print,
    });
    const claims = collect(raw, statusSubject(CLUSTER, 'tasks'));
    await raw.flush();

    const signals: AbortSignal[] = [];
    const jobs: Job[] = [
      { id: 'quick-job', budgetBeats: 4, work: () => Promise.resolve('result') },
      {
        id: 'stuck-job',
        budgetBeats: 1,
        work: (signal) => {
          signals.push(signal);
          return untilAborted(signal);
        },
      },
      { id: 'broken-job', budgetBeats: 4, work: () => Promise.reject(new Error('disk full')) },
    ];
    const outcomes = [];
    for (const job of jobs) outcomes.push(await processor.submit(job));
    await processor.client.flush();

    expect(outcomes.map(({ job, state }) => [job, state])).toEqual([
      ['quick-job', 'done'],
      ['stuck-job', 'failed'],
      ['broken-job', 'failed'],
    ]);
    expect(outcomes[1].notes).toMatch(/^budget of 1 beats exceeded at beat \d+$/);
    expect(outcomes[2].notes).toBe('error: disk full');
    expect(signals[0].aborted).toBe(true);
    expect(signals[0].reason).toBeInstanceOf(BeatBudgetExceededError);

    const verdicts = await firstValueFrom(
      from(await claims.take(6)).pipe(
        verifyStatus({ trustedKeys: { tasks: processor.publicKey }, requireSignature: true }),
        toArray(),
      ),
    );
    const seen = verdicts.map((verdict) =>
      verdict.ok ? [verdict.claim.task_id, verdict.claim.state, verdict.claim.notes] : verdict,
    );
    expect(seen).toEqual([
      ['quick-job', 'executing', 'budget 4 beats'],
      ['quick-job', 'done', outcomes[0].notes],
      ['stuck-job', 'executing', 'budget 1 beats'],
      ['stuck-job', 'failed', outcomes[1].notes],
      ['broken-job', 'executing', 'budget 4 beats'],
      ['broken-job', 'failed', 'error: disk full'],
    ]);
    expect(outcomes.map((outcome) => outcome.claim)).toEqual(
      [1, 3, 5].map((i) => (verdicts[i].ok ? verdicts[i].claim : null)),
    );
    expect(out.printed).toContain(`stuck-job: failed (${outcomes[1].notes})`);
    await processor.stop();
  });

  it('task processor: a job still running at stop() ends failed, without a claim', async () => {
    const processor = await runTaskProcessor({
      natsUrl: server.url,
      clusterId: CLUSTER,
      agentId: 'stopping',
      print: () => undefined,
    });
    await nextBeat(processor.client);
    let started!: () => void;
    const working = new Promise<void>((resolve) => (started = resolve));
    const outcome = processor.submit({
      id: 'long-job',
      budgetBeats: 1000,
      work: (signal) => {
        started();
        return untilAborted(signal);
      },
    });
    await working;
    await processor.stop();
    await expect(outcome).resolves.toMatchObject({ state: 'failed', claim: null });
  });

  it('service monitor: /health JSON, /debug/vars expvar JSON, /metrics Prometheus text', async () => {
    const out = printer();
    const monitor = await runServiceMonitor({
      natsUrl: server.url,
      clusterId: CLUSTER,
      agentId: 'monitor',
      print: out.print,
    });
    expect(monitor.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out.printed).toEqual([
      `service monitor on ${monitor.url} (/health, /debug/vars, /metrics)`,
    ]);
    await nextBeat(monitor.client, (beat) => beat.source === 'pulse');

    const health = await fetch(`${monitor.url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await health.json()).toMatchObject({
      connected: true,
      // Whether a 50 ms beat came late while the request ran depends on the machine's load.
      localDegradation: expect.any(Boolean),
      tempoBpm: TEMPO_BPM,
      lastBeat: expect.any(Number),
      lastBeatTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const vars = await fetch(`${monitor.url}/debug/vars`);
    expect(vars.status).toBe(200);
    const body = (await vars.json()) as {
      cmdline: string[];
      memstats: NodeJS.MemoryUsage;
      backbeat: ClientMetrics;
    };
    expect(body.cmdline).toEqual(process.argv);
    expect(body.memstats).toEqual(
      expect.objectContaining({ rss: expect.any(Number), heapUsed: expect.any(Number) }),
    );
    expect(body.backbeat.connection.connected).toBe(1);
    expect(body.backbeat.beats.delivered).toBeGreaterThan(0);
    expect(Object.keys(body.backbeat)).toEqual(Object.keys(monitor.client.metrics()));

    const metrics = await fetch(`${monitor.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    const labels = `{cluster="${CLUSTER}",agent="monitor"}`;
    expect(text).toContain('# TYPE backbeat_beats_delivered_total counter');
    expect(text).toMatch(new RegExp(`^backbeat_beats_delivered_total${labels} [1-9]`, 'm'));
    expect(text).toContain(`backbeat_connected${labels} 1`);
    expect(text).toContain(`backbeat_tempo_bpm${labels} ${TEMPO_BPM}`);

    expect((await fetch(`${monitor.url}/nowhere`)).status).toBe(404);
    expect((await fetch(`${monitor.url}/metrics`, { method: 'POST' })).status).toBe(405);

    await monitor.stop();
    await expect(fetch(`${monitor.url}/health`)).rejects.toThrow();
  });

  it('service monitor: /health answers 503 once NATS is gone', async () => {
    const own = await startNatsServer();
    const monitor = await runServiceMonitor({
      natsUrl: own.url,
      clusterId: CLUSTER,
      agentId: 'alone',
      print: () => undefined,
    });
    expect((await fetch(`${monitor.url}/health`)).status).toBe(200);
    const disconnected = healthWhere(monitor.client, (health) => !health.connected);
    await own.stop();
    await disconnected;
    const health = await fetch(`${monitor.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ connected: false });
    await monitor.stop();
  });

  describe('run as scripts: print, then stop quietly on a signal', () => {
    const env = () => ({ NATS_URL: server.url, BACKBEAT_CLUSTER: CLUSTER, PORT: '0' });

    it('simple-agent.ts on SIGINT', async () => {
      const script = runScript('simple-agent.ts', env());
      await script.line(/^ {2}claim at beat \d+: ok$/);
      script.signal('SIGINT');
      expect(await script.exited).toEqual({ code: 0, signal: null, stderr: '' });
    });

    it('task-processor.ts on SIGTERM, after a demo job', async () => {
      const script = runScript('task-processor.ts', env());
      await script.line(/^demo-job-1: (done|failed) /);
      script.signal('SIGTERM');
      expect(await script.exited).toEqual({ code: 0, signal: null, stderr: '' });
    });

    it('main.ts (npm start) with no NATS_URL: its own server and pulse, verdicts, then SIGINT', async () => {
      const script = runScript('main.ts', { BACKBEAT_CLUSTER: CLUSTER });
      await script.line(/^started nats-server on nats:\/\/127\.0\.0\.1:\d+ and a dev pulse/);
      await script.line(/^beat \d+ +\d+:\d+ +\w+ +60 BPM +pulse$/);
      await script.line(/^ {2}claim at beat \d+: ok$/);
      script.signal('SIGINT');
      expect(await script.exited).toEqual({ code: 0, signal: null, stderr: '' });
    });

    it('main.ts (npm start) with NATS_URL: joins that server', async () => {
      const script = runScript('main.ts', env());
      await script.line(/^joining the pulse of cluster examples on nats:/);
      await script.line(/^beat \d+ .* pulse$/);
      script.signal('SIGTERM');
      expect(await script.exited).toEqual({ code: 0, signal: null, stderr: '' });
    });

    it('service-monitor.ts on SIGINT, after answering /metrics', async () => {
      const script = runScript('service-monitor.ts', env());
      const [, url] = /^service monitor on (\S+) /.exec(await script.line(/^service monitor on /))!;
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toContain('# TYPE backbeat_connected gauge');
      script.signal('SIGINT');
      expect(await script.exited).toEqual({ code: 0, signal: null, stderr: '' });
    });
  });
});
