import { Counter, Gauge, type Registry, type RegistryContentType } from 'prom-client';
import type { BackbeatClient } from '../client';
import { ConfigError } from '../errors';
import { tokenSchema } from '../protocol/text';
import { METRIC_FAMILIES, type ClientReading, type MetricFamily } from './families';

/**
 * What `registerBackbeatMetrics` reads: a client, or anything with its two snapshots.
 *
 * @example
 * ```ts
 * // A proxy that reports whichever client is current (e.g. across restarts):
 * const source: MetricsSource = { metrics: () => current.metrics(), health: () => current.health() };
 * registerBackbeatMetrics(source, registry, { clusterId: 'chorus-dev', agentId: 'my-service' });
 * ```
 */
export type MetricsSource = Pick<BackbeatClient, 'metrics' | 'health'>;

/**
 * Options of {@link registerBackbeatMetrics}: the series' labels and the metric name prefix.
 *
 * @example
 * ```ts
 * const options: BackbeatMetricsOptions = { clusterId: client.clusterId, agentId: client.agentId, prefix: 'svc_' };
 * registerBackbeatMetrics(client, registry, options); // svc_beats_delivered_total{cluster=…,agent=…}
 * ```
 */
export interface BackbeatMetricsOptions {
  /** The client's cluster: the `cluster` label of its series. */
  clusterId: string;
  /** The client's agent: the `agent` label of its series. */
  agentId: string;
  /** Prepended to every metric name; default `'backbeat_'`. */
  prefix?: string;
}

/**
 * Removes what one `registerBackbeatMetrics` call added; calling it again does nothing.
 *
 * @example
 * ```ts
 * const unregister: UnregisterBackbeatMetrics = registerBackbeatMetrics(client, registry, labels);
 * await client.stop();
 * unregister(); // the client's series leave the registry
 * ```
 */
export type UnregisterBackbeatMetrics = () => void;

/** The labels every series of a client carries. */
const CLIENT_LABELS = ['cluster', 'agent'] as const;

const DEFAULT_PREFIX = 'backbeat_';
const METRIC_NAME_PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

type AnyRegistry = Registry<RegistryContentType>;

/** One client in a binding; `registrations` counts the calls that registered it under its labels. */
interface Entry {
  readonly source: MetricsSource;
  readonly labels: Readonly<Record<(typeof CLIENT_LABELS)[number], string>>;
  registrations: number;
}

/** One reading per client, shared by every family of one scrape. */
interface LabelledReading {
  readonly labels: Entry['labels'];
  readonly reading: ClientReading;
}

/**
 * The metric families of one prefix in one registry, and the clients they report. Created at
 * the first registration, removed from the registry when its last client is unregistered.
 */
class Binding {
  readonly entries = new Map<string, Entry>();
  private readonly metrics: ReadonlyArray<{ name: string; metric: Counter | Gauge }>;
  private readings: LabelledReading[] | null = null;

  constructor(
    private readonly registry: AnyRegistry,
    prefix: string,
    private readonly onDetach: () => void,
  ) {
    this.metrics = METRIC_FAMILIES.map((family) => {
      const name = prefix + family.name;
      return { name, metric: this.createMetric(name, family) };
    });
  }

  private createMetric(name: string, family: MetricFamily): Counter | Gauge {
    const config = {
      name,
      help: family.help,
      labelNames: [...CLIENT_LABELS, ...family.labelNames],
      registers: [],
    };
    if (family.type === 'counter') {
      const metric: Counter = new Counter({
        ...config,
        collect: () => this.fill(family, (labels, value) => metric.inc(labels, value), metric),
      });
      return metric;
    }
    const metric: Gauge = new Gauge({
      ...config,
      collect: () => this.fill(family, (labels, value) => metric.set(labels, value), metric),
    });
    return metric;
  }

  /** Sets a family's series afresh from this scrape's readings (unregistered clients vanish). */
  private fill(
    family: MetricFamily,
    put: (labels: Record<string, string>, value: number) => void,
    metric: Counter | Gauge,
  ): void {
    metric.reset();
    for (const { labels, reading } of this.read()) {
      for (const sample of family.read(reading)) {
        // A value Prometheus cannot carry is left out rather than failing the whole scrape.
        if (Number.isFinite(sample.value)) put({ ...labels, ...sample.labels }, sample.value);
      }
    }
  }

  /**
   * Every client's snapshot. prom-client calls each family's `collect` in the same turn of a
   * scrape, so one snapshot per client serves them all: cheaper, and the families of one scrape
   * agree with each other.
   */
  private read(): LabelledReading[] {
    if (this.readings === null) {
      this.readings = [...this.entries.values()].map(({ source, labels }) => ({
        labels,
        reading: { metrics: source.metrics(), health: source.health() },
      }));
      queueMicrotask(() => (this.readings = null));
    }
    return this.readings;
  }

  /**
   * Registers the families not yet in the registry (all of them at first; again after
   * `registry.clear()`). Registers none when another metric already holds one of the names.
   */
  attach(): void {
    const missing = this.metrics.filter(({ name, metric }) => {
      const found = this.registry.getSingleMetric(name);
      if (found !== undefined && found !== metric) {
        throw new ConfigError(
          'prefix',
          `the registry already has another metric named ${name}: choose another prefix`,
        );
      }
      return found === undefined;
    });
    for (const { metric } of missing) this.registry.registerMetric(metric);
  }

  /** Takes the families out of the registry. */
  detach(): void {
    for (const { name, metric } of this.metrics) {
      if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name);
    }
    this.onDetach();
  }
}

const bindings = new WeakMap<AnyRegistry, Map<string, Binding>>();

function bindingFor(registry: AnyRegistry, prefix: string): Binding {
  let byPrefix = bindings.get(registry);
  if (!byPrefix) {
    byPrefix = new Map();
    bindings.set(registry, byPrefix);
  }
  const prefixes = byPrefix;
  let binding = prefixes.get(prefix);
  if (!binding) {
    binding = new Binding(registry, prefix, () => prefixes.delete(prefix));
    prefixes.set(prefix, binding);
  }
  return binding;
}

function parseOptions(options: BackbeatMetricsOptions): Required<BackbeatMetricsOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'must be an object with clusterId and agentId');
  }
  for (const field of ['clusterId', 'agentId'] as const) {
    const parsed = tokenSchema.safeParse(options[field]);
    if (!parsed.success) {
      throw new ConfigError(field, parsed.error.issues[0]?.message ?? 'must be a NATS token');
    }
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || !METRIC_NAME_PREFIX.test(prefix)) {
    throw new ConfigError('prefix', 'must be empty or start a Prometheus metric name');
  }
  return { clusterId: options.clusterId, agentId: options.agentId, prefix };
}

/**
 * Reports a client's `metrics()` and `health()` in a prom-client registry, read on each scrape.
 *
 * Every series is labelled `cluster` and `agent`, so several clients can share one registry.
 * Registering a client again under the same labels adds nothing (each call still returns its
 * own unregister); a different client under the same labels replaces the first one (a client
 * restarted under the same ids). A stopped client keeps reporting its last values until it is
 * unregistered. When the last client of a registry is unregistered, the families leave it.
 *
 * @example
 * import { Registry } from 'prom-client';
 * import { registerBackbeatMetrics } from '@chorus-services/backbeat/prometheus';
 * const registry = new Registry();
 * const unregister = registerBackbeatMetrics(client, registry, {
 *   clusterId: 'chorus-dev',
 *   agentId: 'my-service',
 * });
 * const text = await registry.metrics(); // backbeat_beats_delivered_total{cluster=…,agent=…} …
 * unregister();
 * @param client The client to report (its `metrics()` and `health()` are all that is read).
 * @param registry A prom-client `Registry` (the global `register` works too).
 * @param options The `cluster` and `agent` label values (the client's `clusterId` and
 *   `agentId`), and a name prefix (default `'backbeat_'`).
 * @return A function that removes this registration.
 * @throws ConfigError when an option is invalid, or (field `prefix`) when another metric of
 *   the registry already has one of the names.
 */
export function registerBackbeatMetrics(
  client: MetricsSource,
  registry: Registry<RegistryContentType>,
  options: BackbeatMetricsOptions,
): UnregisterBackbeatMetrics {
  const { clusterId, agentId, prefix } = parseOptions(options);
  const binding = bindingFor(registry, prefix);
  try {
    binding.attach();
  } catch (error) {
    if (binding.entries.size === 0) binding.detach();
    throw error;
  }
  const key = JSON.stringify([clusterId, agentId]);
  let entry = binding.entries.get(key);
  if (entry?.source === client) {
    entry.registrations++;
  } else {
    entry = { source: client, labels: { cluster: clusterId, agent: agentId }, registrations: 1 };
    binding.entries.set(key, entry);
  }
  const registered = entry;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (binding.entries.get(key) !== registered || --registered.registrations > 0) return;
    binding.entries.delete(key);
    if (binding.entries.size === 0) binding.detach();
  };
}
