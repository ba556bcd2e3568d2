/**
 * `@chorus-services/backbeat/testing`: a client with no NATS on a `TestScheduler` or jest's fake
 * timers, an in-memory connection, and a pulse a test scripts.
 * @packageDocumentation
 */
export {
  createTestClient,
  TEST_EPOCH_MS,
  DEFAULT_MAX_VIRTUAL_MS,
  type TestClient,
  type TestClientRuntime,
  type RecordedClaim,
} from './test-client';
export {
  createTestConnection,
  TestConnection,
  type TestConnectionOptions,
  type PublishedMessage,
} from './test-connection';
export { TestPulse, type TestPulseOptions, type TestPulseFrame } from './test-pulse';
export { subjectMatches } from './test-subscription';
export type { ClientRuntime } from '../client';
