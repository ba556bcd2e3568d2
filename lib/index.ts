/**
 * `@chorus-services/backbeat`: the public surface (README.md). Re-exports only.
 * @packageDocumentation
 */
export {
  BackbeatError,
  ErrorCode,
  ConfigError,
  ConnectionError,
  ClientStateError,
  StatusClaimValidationError,
  BeatBudgetExceededError,
  BeatSourceClosedError,
} from './errors';
export type { BeatBudgetInfo, StatusClaimIssue } from './errors';

export { windowIdFor } from './protocol/windows';
export { BeatFrameSchema, BEAT_FRAME_TYPE, type BeatFrame } from './protocol/beat-frame';
export {
  StatusClaimSchema,
  StatusClaimInputSchema,
  STATUS_CLAIM_TYPE,
  CLAIM_STATES,
  type StatusClaim,
  type StatusClaimInput,
  type ValidStatusClaimInput,
} from './protocol/status-claim';
export { beatSubject, statusSubject, statusWildcard } from './protocol/subjects';
export type { Beat, BeatSource } from './beats/beat';

export { HybridLogicalClock } from './clock/hlc';
export { carriedWallClock, type CarriedWallClockOptions } from './clock/carried-wall-clock';
export { generateSigningKey } from './crypto/keys';
export { loadSigningKey } from './crypto/load-signing-key';

export {
  verifyStatus,
  type StatusVerdict,
  type StatusRejectReason,
  type VerifyStatusOptions,
  type StatusMessage,
} from './operators/verify-status';

export { startPulse, type Pulse, type PulseOptions } from './pulse/pulse';
export type { Logger } from './observability/logger';

export { createClient, BackbeatClient, type StopOptions, type StatusClaimsOptions } from './client';
export {
  defaultConfig,
  type ClientConfig,
  type Config,
  type ResolvedConfig,
  type NatsOptions,
  type StatusDelivery,
} from './config';
export { withinBeats, type WithinBeatsConfig } from './operators/within-beats';
export { emitStatus } from './operators/emit-status';
export { validateClaim } from './operators/validate-claim';
export { signClaim } from './operators/sign-claim';
export { publishClaim } from './operators/publish-claim';
export type { SignedClaim } from './claims/claim-flow';
export { legacyToBeatIndex, beatIndexToLegacy } from './protocol/legacy';
export { FRAME_REJECT_REASONS, type FrameRejectReason } from './protocol/judge';
export {
  ensureStatusStream,
  type EnsureStatusStreamOptions,
  type EnsureStatusStreamResult,
} from './transport/ensure-status-stream';
export { StatusClaimDroppedError } from './transport/status-publisher';
export type { ClaimDelivery } from './transport/claim-messages';
export type { HealthStatus } from './observability/health';
export type { ClientMetrics, LastError } from './observability/metrics';
export type { SummarySnapshot } from './observability/summary';
export type { HybridLogicalClockOptions } from './clock/hlc';
export { STATUS_REJECT_REASONS } from './observers/judge-claim';
export type { TrustedKey } from './operators/verify-status';
export type { HeadersLike } from './protocol/headers';
export type { CountedBeat } from './beats/elapsed';
export type { RejectedCounts } from './beats/frame-intake';
export type { SigningKey } from './crypto/keys';
export type { PulseFrame } from './pulse/frame';
