/**
 * The Prometheus metric families of one client: each a name, help, type and how to read its
 * samples off a `metrics()` + `health()` snapshot. Names follow the Prometheus conventions:
 * counters end in `_total`, durations and instants are in seconds (the SDK's milliseconds are
 * divided by 1000), 0/1 gauges for booleans.
 */
import type { HealthStatus } from '../observability/health';
import type { ClientMetrics } from '../observability/metrics';
import type { SummarySnapshot } from '../observability/summary';

/** One client's snapshot, taken once per scrape. */
export interface ClientReading {
  readonly metrics: ClientMetrics;
  readonly health: HealthStatus;
}

/** One sample of a family: its own labels (beyond `cluster` and `agent`) and its value. */
export interface FamilySample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family, without the registration's prefix. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  /** Labels of its own, beyond `cluster` and `agent`. */
  readonly labelNames: readonly string[];
  read(reading: ClientReading): readonly FamilySample[];
}

/** The `stat` label values of a summary of recent samples, in `SummarySnapshot` order. */
const SUMMARY_STATS = ['mean', 'p50', 'p99', 'max'] as const;

const seconds = (ms: number): number => ms / 1000;

function single(
  type: MetricFamily['type'],
  name: string,
  help: string,
  pick: (reading: ClientReading) => number,
): MetricFamily {
  return {
    name,
    help,
    type,
    labelNames: [],
    read: (reading) => [{ labels: {}, value: pick(reading) }],
  };
}

const counter = (name: string, help: string, pick: (reading: ClientReading) => number) =>
  single('counter', name, help, pick);
const gauge = (name: string, help: string, pick: (reading: ClientReading) => number) =>
  single('gauge', name, help, pick);

/** A gauge labelled `stat` (mean, p50, p99, max) of a summary of the last samples, in seconds. */
function recentSummary(
  name: string,
  help: string,
  pick: (reading: ClientReading) => SummarySnapshot,
): MetricFamily {
  return {
    name,
    help,
    type: 'gauge',
    labelNames: ['stat'],
    read: (reading) => {
      const summary = pick(reading);
      return SUMMARY_STATS.map((stat) => ({ labels: { stat }, value: seconds(summary[stat]) }));
    },
  };
}

/** Every family, in the order of `metrics()`'s groups, then health. */
export const METRIC_FAMILIES: readonly MetricFamily[] = Object.freeze([
  gauge(
    'connected',
    '1 when the NATS connection is up, else 0.',
    (r) => r.metrics.connection.connected,
  ),
  counter(
    'reconnects_total',
    'Reconnections to NATS since start.',
    (r) => r.metrics.connection.reconnects,
  ),
  counter('connected_seconds_total', 'Time connected to NATS since start, in seconds.', (r) =>
    seconds(r.metrics.connection.connectedTimeMs),
  ),
  counter(
    'beat_frames_received_total',
    'Payloads received on the beat subject.',
    (r) => r.metrics.beats.received,
  ),
  {
    name: 'beat_frames_rejected_total',
    help: 'Beat subject payloads not delivered or not merged, by reason (docs/protocol.md sections 3 and 9).',
    type: 'counter',
    labelNames: ['reason'],
    read: (r) =>
      Object.entries(r.metrics.beats.rejected).map(([reason, value]) => ({
        labels: { reason },
        value,
      })),
  },
  counter(
    'beats_delivered_total',
    'Beats delivered from pulse (and legacy) frames.',
    (r) => r.metrics.beats.delivered,
  ),
  counter(
    'synthetic_beats_total',
    'Beats the client made on its own (degraded).',
    (r) => r.metrics.beats.synthetic,
  ),
  counter('missed_beats_total', 'Beat indexes skipped.', (r) => r.metrics.beats.missed),
  counter(
    'timeline_resets_total',
    'Timeline resets of the beat.',
    (r) => r.metrics.beats.timelineResets,
  ),
  recentSummary(
    'beat_jitter_seconds',
    'Lateness of accepted frames against the schedule over the last samples, in seconds.',
    (r) => r.metrics.beats.jitterMs,
  ),
  counter(
    'beat_jitter_samples_total',
    'Accepted frames whose lateness was measured.',
    (r) => r.metrics.beats.jitterMs.count,
  ),
  recentSummary(
    'beat_callback_duration_seconds',
    'Time spent in onBeat/onDownbeat callbacks over the last calls, in seconds.',
    (r) => r.metrics.beats.callbackLatencyMs,
  ),
  counter(
    'beat_callbacks_total',
    'onBeat/onDownbeat callback calls.',
    (r) => r.metrics.beats.callbackLatencyMs.count,
  ),
  counter(
    'beat_callback_errors_total',
    'onBeat/onDownbeat callbacks that threw or rejected.',
    (r) => r.metrics.beats.callbackErrors,
  ),
  counter(
    'status_claims_emitted_total',
    'Status claims sent (JetStream: acknowledged).',
    (r) => r.metrics.status.emitted,
  ),
  counter(
    'status_claim_errors_total',
    'Status claim publish errors.',
    (r) => r.metrics.status.errors,
  ),
  gauge(
    'status_claims_buffered',
    'Status claims held, not yet sent or acknowledged.',
    (r) => r.metrics.status.buffered,
  ),
  counter(
    'status_claims_dropped_total',
    'Status claims dropped: buffer full or client stopped.',
    (r) => r.metrics.status.dropped,
  ),
  counter(
    'status_claim_retries_total',
    'Status claim delivery retries (JetStream).',
    (r) => r.metrics.status.retries,
  ),
  counter('budgets_created_total', 'Beat budgets started.', (r) => r.metrics.budgets.created),
  counter(
    'budgets_completed_total',
    'Beat budgets whose work finished in time.',
    (r) => r.metrics.budgets.completed,
  ),
  counter('budgets_timed_out_total', 'Beat budgets exceeded.', (r) => r.metrics.budgets.timedOut),
  gauge(
    'budgets_pending',
    'Beat budgets waiting for their deadline beat.',
    (r) => r.metrics.budgets.pending,
  ),
  counter(
    'errors_total',
    'Errors of the client (callbacks, NATS, publishing).',
    (r) => r.metrics.errors.total,
  ),
  gauge(
    'last_error_timestamp_seconds',
    'When the last error happened (Unix seconds), 0 when none.',
    (r) => seconds(r.metrics.errors.last?.atMs ?? 0),
  ),
  gauge(
    'local_degradation',
    '1 when the client keeps time on its own synthetic beats, else 0.',
    (r) => (r.health.localDegradation ? 1 : 0),
  ),
  gauge('tempo_bpm', 'The tempo followed now, in beats per minute.', (r) => r.health.tempoBpm),
  gauge(
    'time_drift_seconds',
    'How late pulse frames arrive against their deadline_at schedule, in seconds.',
    (r) => seconds(r.health.timeDriftMs),
  ),
  gauge('current_beat', 'The last delivered beat index, -1 before any.', (r) => r.health.lastBeat),
  gauge(
    'last_beat_timestamp_seconds',
    'When the last beat was delivered (Unix seconds), 0 before any.',
    (r) => seconds(r.health.lastBeatTime?.getTime() ?? 0),
  ),
]);
