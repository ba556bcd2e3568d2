import { defer, finalize, map, type OperatorFunction } from 'rxjs';
import { encodeBase64 } from '../crypto/base64';
import { verifyAhead } from '../crypto/verify-ahead';
import { parsePublicKey } from '../crypto/keys';
import { ConfigError } from '../errors';
import {
  judgeClaim,
  type ClaimPolicy,
  type StatusMessage,
  type StatusVerdict,
} from '../observers/judge-claim';
import { DEFAULT_MAX_AGENTS, ReplayMemory } from '../observers/replay-memory';
import { isToken } from '../protocol/subjects';

export type { StatusMessage, StatusRejectReason, StatusVerdict } from '../observers/judge-claim';

/**
 * A trusted public key: 32 bytes, or their standard padded base64.
 *
 * @example
 * ```ts
 * const key: TrustedKey = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=';
 * verifyStatus({ trustedKeys: { 'my-service': [key, generateSigningKey().publicKey] } });
 * ```
 */
export type TrustedKey = Uint8Array | string;

/**
 * Options of {@link verifyStatus}: whom to trust and how old or early a claim may be.
 *
 * @example
 * ```ts
 * const options: VerifyStatusOptions = {
 *   trustedKeys: { 'my-service': '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' },
 *   maxClaimAgeMs: 60_000,
 * };
 * from(connection.subscribe('backbeat.chorus-dev.status.*')).pipe(verifyStatus(options));
 * ```
 */
export interface VerifyStatusOptions {
  /** Agent id → the public key, or keys, trusted for that agent. Default: none. */
  readonly trustedKeys?: Readonly<Record<string, TrustedKey | readonly TrustedKey[]>>;
  /** Refuse claims that are not signed by a trusted key. Default `true`. */
  readonly requireSignature?: boolean;
  /** Claims stamped further ahead of `physicalNow()` than this (ms) are `clock-skew`. Default 60000. */
  readonly maxClockSkewMs?: number;
  /** Claims stamped further behind `physicalNow()` than this (ms) are `stale`. Default 300000. */
  readonly maxClaimAgeMs?: number;
  /** The observer's wall clock, ms since the epoch. Default `Date.now`. */
  readonly physicalNow?: () => number;
  /**
   * Agents whose last claim each subscription remembers at most (replay memory). Beyond it the
   * least recently heard agent is forgotten and counted (`onEvict`): a replay of its claims
   * younger than `maxClaimAgeMs` would then pass. Default 100000.
   */
  readonly maxAgents?: number;
  /**
   * Told each agent forgotten for `maxAgents`, with the number forgotten so far by this
   * subscription. A throwing function is ignored.
   */
  readonly onEvict?: (evicted: { clusterId: string; agentId: string; count: number }) => void;
}

/**
 * Turns each status claim message into a verdict: accepted, or rejected with the first failing
 * reason of docs/protocol.md section 5.
 *
 * Never errors: junk of any shape is a `schema` rejection. In a browser with WebCrypto's
 * Ed25519, a signed message's verdict comes a moment after it (verified there, in order). Each
 * subscription keeps its own replay memory (one stamp per agent, at most `maxAgents` of them,
 * forgotten on a timer once older than the maximum claim age, so it is released with time even
 * when no claim comes; the timer never keeps the process alive and ends with the subscription);
 * a rejected claim never changes it.
 *
 * @example
 * from(connection.subscribe('backbeat.chorus-dev.status.*'))
 *   .pipe(verifyStatus({ trustedKeys: { 'my-service': '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' } }))
 *   .subscribe((verdict) => (verdict.ok ? show(verdict.claim) : count(verdict.reason)));
 * @param options Trusted keys, whether signatures are required, skew and age limits, the clock.
 * @return An operator from claim messages to verdicts.
 * @throws ConfigError naming the option when one is invalid (a key that is not 32 bytes or
 * strict base64 of them, an agent id that is not a token, a negative or non-finite duration).
 */
export function verifyStatus(
  options: VerifyStatusOptions = {},
): OperatorFunction<StatusMessage, StatusVerdict> {
  const policy = claimPolicy(options);
  const maxAgents = positiveInteger('maxAgents', options.maxAgents ?? DEFAULT_MAX_AGENTS);
  const { onEvict } = options;
  if (onEvict !== undefined && typeof onEvict !== 'function') {
    throw new ConfigError('onEvict', 'must be a function');
  }
  return (messages) =>
    defer(() => {
      const memory = new ReplayMemory(policy.maxClaimAgeMs, {
        maxAgents,
        // Silent agents are forgotten on a timer too: memory goes with time, without input.
        sweepNow: policy.physicalNow,
        ...(onEvict && {
          onEvict: (agentKey: string, count: number) => {
            const [clusterId, agentId] = agentKey.split(' ');
            onEvict({ clusterId, agentId, count });
          },
        }),
      });
      return messages.pipe(
        verifyAhead(),
        map((message) => judgeClaim(message, policy, memory)),
        finalize(() => memory.close()),
      );
    });
}

/** Validates the options, once, when the operator is made. */
function claimPolicy(options: VerifyStatusOptions): ClaimPolicy {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'must be an object');
  }
  const {
    trustedKeys = {},
    requireSignature = true,
    maxClockSkewMs = 60000,
    maxClaimAgeMs = 300000,
    physicalNow = Date.now,
  } = options;
  if (typeof requireSignature !== 'boolean') {
    throw new ConfigError('requireSignature', 'must be a boolean');
  }
  if (typeof physicalNow !== 'function') {
    throw new ConfigError('physicalNow', 'must be a function returning ms since the epoch');
  }
  return {
    trustedKeys: parseTrustedKeys(trustedKeys),
    requireSignature,
    maxClockSkewMs: duration('maxClockSkewMs', maxClockSkewMs),
    maxClaimAgeMs: duration('maxClaimAgeMs', maxClaimAgeMs),
    physicalNow,
  };
}

/**
 * Each agent's trusted keys as canonical base64 (one text per key, so a Set compares them as
 * bytes). An agent given an empty list trusts nothing, as if it were not listed.
 */
function parseTrustedKeys(
  trustedKeys: NonNullable<VerifyStatusOptions['trustedKeys']>,
): ReadonlyMap<string, ReadonlySet<string>> {
  if (
    typeof trustedKeys !== 'object' ||
    trustedKeys === null ||
    Array.isArray(trustedKeys) ||
    trustedKeys instanceof Map
  ) {
    throw new ConfigError('trustedKeys', 'must be a record from agent id to public key(s)');
  }
  const byAgent = new Map<string, ReadonlySet<string>>();
  for (const [agentId, keys] of Object.entries(trustedKeys)) {
    const field = `trustedKeys.${agentId}`;
    if (!isToken(agentId)) {
      throw new ConfigError(field, 'agent ids must be 1 to 128 of A-Z a-z 0-9 _ -');
    }
    const list = Array.isArray(keys)
      ? (keys as readonly TrustedKey[]).map((key, i) => parsePublicKey(key, `${field}.${i}`))
      : [parsePublicKey(keys as TrustedKey, field)];
    if (list.length > 0) byAgent.set(agentId, new Set(list.map(encodeBase64)));
  }
  return byAgent;
}

function positiveInteger(field: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new ConfigError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value as number;
}

/** A duration option: a finite number of ms, not negative (finite keeps the memory bounded). */
function duration(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(field, `must be a finite number of ms ≥ 0, got ${String(value)}`);
  }
  return value;
}
