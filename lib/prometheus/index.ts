/**
 * `@chorus-services/backbeat/prometheus`: a client's metrics and health in a prom-client
 * registry. prom-client is an optional peer dependency: install it to use this entry.
 * @packageDocumentation
 */
export {
  registerBackbeatMetrics,
  type BackbeatMetricsOptions,
  type MetricsSource,
  type UnregisterBackbeatMetrics,
} from './register-metrics';
