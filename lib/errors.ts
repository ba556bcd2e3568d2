/**
 * Every error the SDK raises on purpose is a {@link BackbeatError} with a stable `code`, so
 * callers can branch on `err.code` without depending on messages.
 */

/** Stable codes of the SDK's errors. */
export const ErrorCode = {
  Config: 'BACKBEAT_CONFIG',
  Connection: 'BACKBEAT_CONNECTION',
  ClientState: 'BACKBEAT_CLIENT_STATE',
  StatusClaimValidation: 'BACKBEAT_STATUS_CLAIM_INVALID',
  BeatBudgetExceeded: 'BACKBEAT_BEAT_BUDGET_EXCEEDED',
  BeatSourceClosed: 'BACKBEAT_BEAT_SOURCE_CLOSED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of the SDK's errors. */
export abstract class BackbeatError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A configuration value is invalid; `field` names it (dotted for nested fields, e.g.
 * `natsOptions.servers`).
 */
export class ConfigError extends BackbeatError {
  readonly code = ErrorCode.Config;
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** NATS refused the client for good: authentication, authorization or TLS. */
export class ConnectionError extends BackbeatError {
  readonly code = ErrorCode.Connection;
}

/** A call made in a state that cannot serve it: before `start()` or after `stop()`. */
export class ClientStateError extends BackbeatError {
  readonly code = ErrorCode.ClientState;
}

/** One problem with a status claim input: the field's path and what is wrong. */
export interface StatusClaimIssue {
  /** Path of the bad field in the caller's (camelCase) input, e.g. `['waitFor', 3]`. */
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** A status claim input is invalid; `issues` name every bad field. Nothing was published. */
export class StatusClaimValidationError extends BackbeatError {
  readonly code = ErrorCode.StatusClaimValidation;
  constructor(readonly issues: readonly StatusClaimIssue[]) {
    super(
      `invalid status claim: ${issues
        .map((issue) => `${issue.path.join('.') || '(claim)'}: ${issue.message}`)
        .join('; ')}`,
    );
  }
}

/** What a beat budget knew when it expired. */
export interface BeatBudgetInfo {
  /** The budget, in beats. */
  readonly budget: number;
  /**
   * The beat index counted from; before any beat is known, the index just before the first
   * delivered beat.
   */
  readonly startBeat: number;
  /** The index of the delivered beat at which the budget expired. */
  readonly expiredAtBeat: number;
}

/** A beat budget expired before the work finished. */
export class BeatBudgetExceededError extends BackbeatError implements BeatBudgetInfo {
  readonly code = ErrorCode.BeatBudgetExceeded;
  readonly budget: number;
  readonly startBeat: number;
  readonly expiredAtBeat: number;
  constructor(readonly info: BeatBudgetInfo) {
    super(
      `beat budget of ${info.budget} beats exceeded at beat ${info.expiredAtBeat} (started at ${info.startBeat})`,
    );
    this.budget = info.budget;
    this.startBeat = info.startBeat;
    this.expiredAtBeat = info.expiredAtBeat;
  }
}

/** The beat source completed (the client stopped) before a budget could expire or finish. */
export class BeatSourceClosedError extends BackbeatError {
  readonly code = ErrorCode.BeatSourceClosed;
  constructor(message = 'the beat source closed before the beat budget ended') {
    super(message);
  }
}
