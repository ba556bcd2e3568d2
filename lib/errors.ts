/**
 * Every error the SDK raises on purpose is a {@link BackbeatError} with a stable `code`, so
 * callers can branch on `err.code` without depending on messages.
 */

/**
 * Stable codes of the SDK's errors, by error kind; each error's `code` is one of them.
 *
 * @example
 * ```ts
 * if (err instanceof BackbeatError && err.code === ErrorCode.BeatBudgetExceeded) retryLater();
 * ```
 */
export const ErrorCode = {
  Config: 'BACKBEAT_CONFIG',
  Connection: 'BACKBEAT_CONNECTION',
  ClientState: 'BACKBEAT_CLIENT_STATE',
  StatusClaimValidation: 'BACKBEAT_STATUS_CLAIM_INVALID',
  BeatBudgetExceeded: 'BACKBEAT_BEAT_BUDGET_EXCEEDED',
  BeatSourceClosed: 'BACKBEAT_BEAT_SOURCE_CLOSED',
  StatusClaimDropped: 'BACKBEAT_STATUS_CLAIM_DROPPED',
} as const;
/**
 * One of the stable error codes, e.g. `'BACKBEAT_CONFIG'`.
 *
 * @example
 * ```ts
 * const code: ErrorCode = ErrorCode.Config; // 'BACKBEAT_CONFIG'
 * ```
 */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Base class of the SDK's errors: each has a stable `code` and its class's `name`.
 *
 * @example
 * ```ts
 * try {
 *   await client.start();
 * } catch (err) {
 *   if (err instanceof BackbeatError) log.error({ code: err.code }, err.message);
 * }
 * ```
 */
export abstract class BackbeatError extends Error {
  /** The stable code of this kind of error, to branch on instead of the message. */
  abstract readonly code: ErrorCode;
  /**
   * @param options `cause`: the underlying error, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A configuration value is invalid; `field` names it (dotted for nested fields, e.g.
 * `natsOptions.servers`).
 *
 * @example
 * ```ts
 * try {
 *   createClient({ clusterId: 'chorus dev', agentId: 'a1' });
 * } catch (err) {
 *   if (err instanceof ConfigError) console.error(err.field); // 'clusterId'
 * }
 * ```
 */
export class ConfigError extends BackbeatError {
  /** `'BACKBEAT_CONFIG'`. */
  readonly code = ErrorCode.Config;
  /**
   * @param message What is wrong with it; the error's message is `${field}: ${message}`.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(
    /** The invalid field, dotted when nested (e.g. `natsOptions.servers`). */
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/**
 * NATS refused the client or one of its operations: authentication, authorization or TLS at
 * connect, a subscription or a publish the server or nats.js refused, a shared connection
 * already closed. `cause` holds nats.js's own error when there is one.
 *
 * @example
 * ```ts
 * await client.start().catch((err) => {
 *   if (err instanceof ConnectionError) process.exitCode = 1; // fix the credentials
 * });
 * ```
 */
export class ConnectionError extends BackbeatError {
  /** `'BACKBEAT_CONNECTION'`. */
  readonly code = ErrorCode.Connection;
}

/**
 * A call made in a state that cannot serve it: before `start()` or after `stop()`.
 *
 * @example
 * ```ts
 * const client = createClient({ clusterId: 'chorus-dev', agentId: 'a1' });
 * await client.emitStatusClaim({ state: 'planning', beatsLeft: 3, progress: 0 }); // rejects: ClientStateError (not started)
 * ```
 */
export class ClientStateError extends BackbeatError {
  /** `'BACKBEAT_CLIENT_STATE'`. */
  readonly code = ErrorCode.ClientState;
}

/**
 * One problem with a status claim input: the field's path and what is wrong.
 *
 * @example
 * ```ts
 * const issue: StatusClaimIssue = { path: ['progress'], message: 'Too big: expected number to be <=1' };
 * ```
 */
export interface StatusClaimIssue {
  /** Path of the bad field in the caller's (camelCase) input, e.g. `['waitFor', 3]`. */
  readonly path: ReadonlyArray<string | number>;
  /** What is wrong with it, in words. */
  readonly message: string;
}

/**
 * A status claim input is invalid; `issues` name every bad field. Nothing was published.
 *
 * @example
 * ```ts
 * await client.emitStatusClaim({ state: 'executing', beatsLeft: 5, progress: 2 }).catch((err) => {
 *   if (err instanceof StatusClaimValidationError) console.error(err.issues); // [{ path: ['progress'], … }]
 * });
 * ```
 */
export class StatusClaimValidationError extends BackbeatError {
  /** `'BACKBEAT_STATUS_CLAIM_INVALID'`. */
  readonly code = ErrorCode.StatusClaimValidation;
  /** @param issues Every bad field of the input; the message lists them. */
  constructor(
    /** Every bad field of the input. */
    readonly issues: readonly StatusClaimIssue[],
  ) {
    super(
      `invalid status claim: ${issues
        .map((issue) => `${issue.path.join('.') || '(claim)'}: ${issue.message}`)
        .join('; ')}`,
    );
  }
}

/**
 * What a beat budget knew when it expired.
 *
 * @example
 * ```ts
 * work$.pipe(withinBeats({ beats: 8, beat$: client.beat$, with: (info: BeatBudgetInfo) => of(info.expiredAtBeat) }));
 * ```
 */
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

/**
 * A beat budget expired before the work finished.
 *
 * @example
 * ```ts
 * await client.withBeatBudget(10, (signal) => work(signal)).catch((err) => {
 *   if (err instanceof BeatBudgetExceededError) console.warn(`late at beat ${err.expiredAtBeat}`);
 * });
 * ```
 */
export class BeatBudgetExceededError extends BackbeatError implements BeatBudgetInfo {
  /** `'BACKBEAT_BEAT_BUDGET_EXCEEDED'`. */
  readonly code = ErrorCode.BeatBudgetExceeded;
  readonly budget: number;
  readonly startBeat: number;
  readonly expiredAtBeat: number;
  /** @param info The budget, where it was counted from, and where it expired. */
  constructor(
    /** The same facts as one object, e.g. for logging. */
    readonly info: BeatBudgetInfo,
  ) {
    super(
      `beat budget of ${info.budget} beats exceeded at beat ${info.expiredAtBeat} (started at ${info.startBeat})`,
    );
    this.budget = info.budget;
    this.startBeat = info.startBeat;
    this.expiredAtBeat = info.expiredAtBeat;
  }
}

/**
 * The beat source completed (the client stopped) before a budget could expire or finish.
 *
 * @example
 * ```ts
 * const pending = client.withBeatBudget(10, (signal) => work(signal));
 * await client.stop();
 * await pending; // rejects: BeatSourceClosedError, when the work had not finished
 * ```
 */
export class BeatSourceClosedError extends BackbeatError {
  /** `'BACKBEAT_BEAT_SOURCE_CLOSED'`. */
  readonly code = ErrorCode.BeatSourceClosed;
  /** @param message What closed; a default says the beat source closed before the budget ended. */
  constructor(message = 'the beat source closed before the beat budget ended') {
    super(message);
  }
}

/**
 * A JetStream claim was given up before the stream acknowledged it: pushed out of a full
 * buffer by newer claims (`'buffer-full'`), or still waiting when the client stopped
 * (`'stopped'`). It may still have been stored. Not a lifecycle error: a claim dropped from a
 * full buffer says nothing of the client's state.
 *
 * @example
 * ```ts
 * await client.emitStatusClaim({ state: 'done', beatsLeft: 0, progress: 1 }).catch((err) => {
 *   if (err instanceof StatusClaimDroppedError) console.warn(`claim given up: ${err.reason}`);
 * });
 * ```
 */
export class StatusClaimDroppedError extends BackbeatError {
  /** `'BACKBEAT_STATUS_CLAIM_DROPPED'`. */
  readonly code = ErrorCode.StatusClaimDropped;
  /**
   * @param reason `'buffer-full'` or `'stopped'`.
   * @param waitingFor What the claim was still waiting for: its acknowledgement (default), or
   * the first beat, which stamps it.
   */
  constructor(
    /** Why it was given up: pushed out of a full buffer, or still waiting at `stop()`. */
    readonly reason: 'buffer-full' | 'stopped',
    waitingFor: 'acknowledgement' | 'first-beat' = 'acknowledgement',
  ) {
    const before = waitingFor === 'first-beat' ? 'the first beat' : 'it was acknowledged';
    super(
      reason === 'buffer-full'
        ? `status claim dropped: newer claims filled the status buffer before ${before}`
        : `status claim dropped: the client stopped before ${before}`,
    );
  }
}
