import type { JetStreamClient, MsgHdrs } from 'nats';
import { backoffDelayMs } from './backoff';

/** How one claim is published to JetStream: the acknowledgement's limit, and the backoff. */
export interface JetStreamRetryPolicy {
  /** How long one attempt waits for the stream's acknowledgement. Default 5000. */
  readonly ackTimeoutMs: number;
  /** Delay after the first failed attempt; doubled after each further one, ±20 %. Default 250. */
  readonly retryDelayMs: number;
  /** Cap of that delay. Default 5000. */
  readonly maxRetryDelayMs: number;
}

/** The default {@link JetStreamRetryPolicy}. */
export const DEFAULT_JETSTREAM_RETRY_POLICY: JetStreamRetryPolicy = {
  ackTimeoutMs: 5000,
  retryDelayMs: 250,
  maxRetryDelayMs: 5000,
};

/** What {@link publishUntilAcknowledged} needs to know and to tell while it runs. */
export interface JetStreamAttempts {
  /** Overrides of the default policy. */
  readonly policy?: Partial<JetStreamRetryPolicy>;
  /** The message's `Nats-Msg-Id`: the stream stores a re-sent claim once. */
  readonly msgID?: string;
  /** Fresh headers for each attempt (nats.js adds its own to them). */
  readonly headers: () => MsgHdrs;
  /** A number in [0, 1) for the backoff's jitter; `Math.random` by default. */
  readonly random?: () => number;
  /** Attempts made so far for this claim, kept across calls; incremented here. */
  readonly state: { attempts: number };
  /** True once the claim is given up (dropped, or the publisher stopped). */
  readonly givenUp: () => boolean;
  /** Whether the connection is up now. */
  readonly connectionUp: () => boolean;
  /** Calls `wake` once when the connection goes down or the publisher stops; returns an unsubscribe. */
  readonly onInterrupt: (wake: () => void) => () => void;
  /** An attempt failed (not counting interruptions); `attempt` counts from 1. */
  readonly onFailure: (error: unknown, attempt: number) => void;
  /** An attempt after the claim's first one is about to start. */
  readonly onRetry: () => void;
}

const ACKNOWLEDGED = Symbol('acknowledged');
const INTERRUPTED = Symbol('interrupted');

/**
 * Publishes one message to JetStream with its msgID, retrying with backoff until the stream
 * acknowledges it (a duplicate acknowledgement counts: the stream holds it already). Stops early,
 * returning false, when the message is given up or the connection goes down; the caller waits
 * for the reconnection and calls again, and the attempt left behind is harmless thanks to the msgID.
 *
 * @example
 * const acknowledged = await publishUntilAcknowledged(nc.jetstream(), subject, payload, attempts);
 * @param js The JetStream client.
 * @param subject The subject, captured by the stream.
 * @param payload The exact bytes.
 * @param attempts Policy, msgID, headers, and the publisher's state and callbacks.
 * @return True once acknowledged; false when interrupted or given up.
 */
export async function publishUntilAcknowledged(
  js: JetStreamClient,
  subject: string,
  payload: Uint8Array,
  attempts: JetStreamAttempts,
): Promise<boolean> {
  const policy = { ...DEFAULT_JETSTREAM_RETRY_POLICY, ...attempts.policy };
  const { state } = attempts;
  while (!attempts.givenUp() && attempts.connectionUp()) {
    if (state.attempts > 0) attempts.onRetry();
    state.attempts++;
    const outcome = await untilInterrupted(
      js
        .publish(subject, payload, {
          headers: attempts.headers(),
          ...(attempts.msgID === undefined ? {} : { msgID: attempts.msgID }),
          timeout: policy.ackTimeoutMs,
        })
        .then(
          (): typeof ACKNOWLEDGED => ACKNOWLEDGED,
          (error: unknown) => ({ error }),
        ),
      attempts.onInterrupt,
    );
    if (outcome === ACKNOWLEDGED) return true;
    if (outcome === INTERRUPTED) return false;
    attempts.onFailure(outcome.error, state.attempts);
    const delayMs = backoffDelayMs(
      state.attempts - 1,
      policy.retryDelayMs,
      policy.maxRetryDelayMs,
      attempts.random,
    );
    await untilInterrupted(delay(delayMs), attempts.onInterrupt);
  }
  return false;
}

/** Settles like `work`, or with INTERRUPTED as soon as an interruption comes first. */
function untilInterrupted<T>(
  work: Promise<T>,
  onInterrupt: (wake: () => void) => () => void,
): Promise<T | typeof INTERRUPTED> {
  let unsubscribe = (): void => undefined;
  const interrupted = new Promise<typeof INTERRUPTED>((resolve) => {
    unsubscribe = onInterrupt(() => resolve(INTERRUPTED));
  });
  return Promise.race([work, interrupted]).finally(unsubscribe);
}

/** Resolves after `ms`; the timer does not keep the process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
