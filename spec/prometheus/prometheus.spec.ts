import type { NatsConnection } from 'nats';
import {
  Counter,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
  type OpenMetricsContentType,
} from 'prom-client';
import { createClient, type BackbeatClient } from '../../lib/client';
import { BeatBudgetExceededError, ConfigError } from '../../lib/errors';
import type { HealthStatus } from '../../lib/observability/health';
import type { ClientMetrics } from '../../lib/observability/metrics';
import type { SummarySnapshot } from '../../lib/observability/summary';
import { registerBackbeatMetrics } from '../../lib/prometheus';
import { startPulse, type Pulse } from '../../lib/pulse/pulse';
import { clientHasSeen, nextBeat, publishFrame, rawConnection } from '../client/client-support';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';

const CLUSTER = 'prom';

/** `name{label="value",…}` → value, labels sorted: one key per series. */
type Series = Record<string, number>;

function seriesKey(name: string, labels: Record<string, string | number>): string {
  const text = Object.keys(labels)
    .sort()
    .map((label) => `${label}="${labels[label]}"`)
    .join(',');
  return `${name}{${text}}`;
}

async function scrape(registry: Registry): Promise<Series> {
  const families: MetricObjectWithValues<MetricValue<string>>[] = await registry.getMetricsAsJSON();
  const series: Series = {};
  for (const family of families) {
    for (const { labels, value } of family.values) {
      const key = seriesKey(family.name, labels as Record<string, string>);
      expect(series).not.toHaveProperty([key]);
      series[key] = value;
    }
  }
  return series;
}

/** The series one client should have: the mapping of the README, written out independently. */
function expectedSeries(
  metrics: ClientMetrics,
  health: HealthStatus,
  ids: { cluster: string; agent: string },
): Series {
  const series: Series = {};
  const put = (name: string, value: number, labels: Record<string, string> = {}): void => {
    series[seriesKey(`backbeat_${name}`, { ...ids, ...labels })] = value;
  };
  const summary = (name: string, snapshot: SummarySnapshot): void => {
    put(name, snapshot.mean / 1000, { stat: 'mean' });
    put(name, snapshot.p50 / 1000, { stat: 'p50' });
    put(name, snapshot.p99 / 1000, { stat: 'p99' });
    put(name, snapshot.max / 1000, { stat: 'max' });
  };
  put('connected', metrics.connection.connected);
  put('reconnects_total', metrics.connection.reconnects);
  put('connected_seconds_total', metrics.connection.connectedTimeMs / 1000);
  put('beat_frames_received_total', metrics.beats.received);
  for (const [reason, count] of Object.entries(metrics.beats.rejected)) {
    put('beat_frames_rejected_total', count, { reason });
  }
  put('beats_delivered_total', metrics.beats.delivered);
  put('synthetic_beats_total', metrics.beats.synthetic);
  put('missed_beats_total', metrics.beats.missed);
  put('timeline_resets_total', metrics.beats.timelineResets);
  summary('beat_jitter_seconds', metrics.beats.jitterMs);
  put('beat_jitter_samples_total', metrics.beats.jitterMs.count);
  summary('beat_callback_duration_seconds', metrics.beats.callbackLatencyMs);
  put('beat_callbacks_total', metrics.beats.callbackLatencyMs.count);
  put('beat_callback_errors_total', metrics.beats.callbackErrors);
  put('status_claims_emitted_total', metrics.status.emitted);
  put('status_claim_errors_total', metrics.status.errors);
  put('status_claims_buffered', metrics.status.buffered);
  put('status_claims_dropped_total', metrics.status.dropped);
  put('status_claim_retries_total', metrics.status.retries);
  put('budgets_created_total', metrics.budgets.created);
  put('budgets_completed_total', metrics.budgets.completed);
  put('budgets_timed_out_total', metrics.budgets.timedOut);
  put('budgets_pending', metrics.budgets.pending);
  put('errors_total', metrics.errors.total);
  put('last_error_timestamp_seconds', (metrics.errors.last?.atMs ?? 0) / 1000);
  put('local_degradation', health.localDegradation ? 1 : 0);
  put('tempo_bpm', health.tempoBpm);
  put('time_drift_seconds', health.timeDriftMs / 1000);
  put('current_beat', health.lastBeat);
  put('last_beat_timestamp_seconds', (health.lastBeatTime?.getTime() ?? 0) / 1000);
  return series;
}

function idleClient(agentId: string): BackbeatClient {
  return createClient({ clusterId: CLUSTER, agentId });
}

const ids = (agentId: string) => ({ clusterId: CLUSTER, agentId });

describe('registerBackbeatMetrics, a client never started', () => {
  it('reports every group of metrics() and health, labelled cluster and agent', async () => {
    const client = idleClient('idle');
    const registry = new Registry();
    registerBackbeatMetrics(client, registry, ids('idle'));
    const series = await scrape(registry);
    expect(series).toEqual(
      expectedSeries(client.metrics(), client.health(), { cluster: CLUSTER, agent: 'idle' }),
    );
    expect(series[seriesKey('backbeat_current_beat', { cluster: CLUSTER, agent: 'idle' })]).toBe(
      -1,
    );
  });

  it('writes Prometheus text: counters end in _total, one HELP and TYPE per family', async () => {
    const registry = new Registry();
    registerBackbeatMetrics(idleClient('a'), registry, ids('a'));
    registerBackbeatMetrics(idleClient('b'), registry, ids('b'));
    const text = await registry.metrics();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({
      name,
      type,
    }));
    expect(types.length).toBeGreaterThan(20);
    expect(new Set(types.map((t) => t.name)).size).toBe(types.length);
    for (const { name, type } of types) {
      expect(name).toMatch(/^backbeat_[a-z_]+$/);
      expect(name.endsWith('_total')).toBe(type === 'counter');
      expect(['counter', 'gauge']).toContain(type);
    }
    expect(text).toContain(
      'backbeat_beat_frames_rejected_total{cluster="prom",agent="b",reason="not-json"} 0',
    );
    expect(text).toContain(
      'backbeat_beat_frames_rejected_total{cluster="prom",agent="b",reason="stale-frame"} 0',
    );
    expect(text).toContain('backbeat_tempo_bpm{cluster="prom",agent="a"} 60');
  });

  it('works in an OpenMetrics registry', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registerBackbeatMetrics(idleClient('om'), registry, ids('om'));
    const text = await registry.metrics();
    expect(text).toContain('# TYPE backbeat_beats_delivered counter');
    expect(text).toContain('backbeat_beats_delivered_total{cluster="prom",agent="om"} 0');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('reports two clients of one registry side by side, and unregisters them one at a time', async () => {
    const registry = new Registry();
    const first = idleClient('first');
    const second = idleClient('second');
    const unregisterFirst = registerBackbeatMetrics(first, registry, ids('first'));
    const unregisterSecond = registerBackbeatMetrics(second, registry, ids('second'));
    const both = {
      ...expectedSeries(first.metrics(), first.health(), { cluster: CLUSTER, agent: 'first' }),
      ...expectedSeries(second.metrics(), second.health(), { cluster: CLUSTER, agent: 'second' }),
    };
    expect(await scrape(registry)).toEqual(both);

    unregisterFirst();
    expect(await scrape(registry)).toEqual(
      expectedSeries(second.metrics(), second.health(), { cluster: CLUSTER, agent: 'second' }),
    );
    unregisterSecond();
    expect(registry.getMetricsAsArray()).toEqual([]);
    expect(await registry.metrics()).toBe('\n');
  });

  it('registers the same client twice without a duplicate error; each unregister counts once', async () => {
    const registry = new Registry();
    const client = idleClient('twice');
    const unregisterA = registerBackbeatMetrics(client, registry, ids('twice'));
    const unregisterB = registerBackbeatMetrics(client, registry, ids('twice'));
    const expected = expectedSeries(client.metrics(), client.health(), {
      cluster: CLUSTER,
      agent: 'twice',
    });
    expect(await scrape(registry)).toEqual(expected);

    unregisterA();
    unregisterA();
    expect(await scrape(registry)).toEqual(expected);
    unregisterB();
    expect(await scrape(registry)).toEqual({});
  });

  it('lets a new client under the same labels replace the old one', async () => {
    const registry = new Registry();
    const old = idleClient('same');
    const unregisterOld = registerBackbeatMetrics(old, registry, ids('same'));
    const replacement = idleClient('same');
    const oldReadings = jest.spyOn(old, 'metrics');
    const newReadings = jest.spyOn(replacement, 'metrics');
    const unregisterNew = registerBackbeatMetrics(replacement, registry, ids('same'));
    await scrape(registry);
    expect(oldReadings).not.toHaveBeenCalled();
    expect(newReadings).toHaveBeenCalledTimes(1);

    unregisterOld();
    expect(Object.keys(await scrape(registry)).length).toBeGreaterThan(0);
    unregisterNew();
    expect(await scrape(registry)).toEqual({});
  });

  it('reads each client once per scrape', async () => {
    const registry = new Registry();
    const client = idleClient('once');
    const metrics = jest.spyOn(client, 'metrics');
    const health = jest.spyOn(client, 'health');
    registerBackbeatMetrics(client, registry, ids('once'));
    await registry.metrics();
    await registry.metrics();
    expect(metrics).toHaveBeenCalledTimes(2);
    expect(health).toHaveBeenCalledTimes(2);
  });

  it('refuses a registry that already has a metric of the same name, and registers none', () => {
    const registry = new Registry();
    new Counter({ name: 'backbeat_errors_total', help: 'theirs', registers: [registry] });
    const attempt = () => registerBackbeatMetrics(idleClient('x'), registry, ids('x'));
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/backbeat_errors_total/);
    expect(registry.getMetricsAsArray()).toHaveLength(1);

    registerBackbeatMetrics(idleClient('x'), registry, { ...ids('x'), prefix: 'mine_' });
    expect(registry.getSingleMetric('mine_errors_total')).toBeDefined();
  });

  it('registers again after registry.clear()', async () => {
    const registry = new Registry();
    const client = idleClient('cleared');
    registerBackbeatMetrics(client, registry, ids('cleared'));
    registry.clear();
    registerBackbeatMetrics(client, registry, ids('cleared'));
    expect(await scrape(registry)).toEqual(
      expectedSeries(client.metrics(), client.health(), { cluster: CLUSTER, agent: 'cleared' }),
    );
  });

  it.each([
    ['clusterId', { clusterId: 'not a token', agentId: 'a' }],
    ['agentId', { clusterId: CLUSTER, agentId: '' }],
    ['agentId', { clusterId: CLUSTER }],
    ['prefix', { clusterId: CLUSTER, agentId: 'a', prefix: '1bad' }],
  ])('names the bad option %s', (field, options) => {
    const registry = new Registry();
    const attempt = () =>
      registerBackbeatMetrics(
        idleClient('a'),
        registry,
        options as unknown as Parameters<typeof registerBackbeatMetrics>[2],
      );
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(expect.objectContaining({ field }) as Error);
    expect(registry.getMetricsAsArray()).toEqual([]);
  });
});

describe('registerBackbeatMetrics, a client following a real pulse', () => {
  let server: NatsServerHandle;
  let pulse: Pulse;
  let raw: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    pulse = await startPulse({ natsUrl: server.url, clusterId: CLUSTER, tempoBpm: 1200 });
    raw = await rawConnection(server.url);
  });
  afterAll(async () => {
    await raw.close();
    await pulse.stop();
    await server.stop();
  });

  it('follows the client while it runs and keeps its last values once stopped', async () => {
    const client = createClient({ clusterId: CLUSTER, agentId: 'live', natsUrl: server.url });
    const registry = new Registry();
    const unregister = registerBackbeatMetrics(client, registry, ids('live'));
    const labels = { cluster: CLUSTER, agent: 'live' };
    client.onBeat(() => {
      throw new Error('a failing callback, counted');
    });
    await client.start();
    await nextBeat(client, (beat) => beat.source === 'pulse');

    publishFrame(raw, CLUSTER, new TextEncoder().encode('not json'));
    await clientHasSeen(raw, client);
    await client.emitStatusClaim({ state: 'executing', beatsLeft: 1, progress: 0.5 });
    await client.flush();
    await expect(client.withBeatBudget(4, () => 'in time')).resolves.toBe('in time');
    await expect(
      client.withBeatBudget(
        1,
        (signal) => new Promise((resolve) => signal.addEventListener('abort', resolve)),
      ),
    ).rejects.toBeInstanceOf(BeatBudgetExceededError);

    const running = await scrape(registry);
    expect(running[seriesKey('backbeat_connected', labels)]).toBe(1);
    expect(running[seriesKey('backbeat_tempo_bpm', labels)]).toBe(1200);
    expect(running[seriesKey('backbeat_current_beat', labels)]).toBeGreaterThanOrEqual(0);
    expect(
      running[seriesKey('backbeat_beat_frames_rejected_total', { ...labels, reason: 'not-json' })],
    ).toBe(1);
    expect(running[seriesKey('backbeat_status_claims_emitted_total', labels)]).toBe(1);
    expect(running[seriesKey('backbeat_budgets_completed_total', labels)]).toBe(1);
    expect(running[seriesKey('backbeat_budgets_timed_out_total', labels)]).toBe(1);
    expect(running[seriesKey('backbeat_beat_callback_errors_total', labels)]).toBeGreaterThan(0);

    await client.stop();
    const stopped = await scrape(registry);
    expect(stopped).toEqual(expectedSeries(client.metrics(), client.health(), labels));
    expect(stopped[seriesKey('backbeat_beats_delivered_total', labels)]).toBeGreaterThan(0);
    expect(stopped[seriesKey('backbeat_last_beat_timestamp_seconds', labels)]).toBeGreaterThan(0);
    unregister();
    expect(await scrape(registry)).toEqual({});
  });
});
