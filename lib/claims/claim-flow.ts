/**
 * A client's claim flow, the steps behind `signClaim`, `publishClaim` and `emitStatusClaim`:
 * stamp an input with the beat, window and HLC current when it arrives, seal and sign it, and
 * hand it to the client's one bounded buffer.
 */
import { AsyncSubject, first, of, type Observable } from 'rxjs';
import type { Beat } from '../beats/beat';
import type { SigningKey } from '../crypto/keys';
import { ClientStateError } from '../errors';
import type { Logger } from '../observability/logger';
import type {
  StatusClaim,
  StatusClaimInput,
  ValidStatusClaimInput,
} from '../protocol/status-claim';
import { StatusClaimDroppedError, type StatusPublisher } from '../transport/status-publisher';
import { makeDefaultTaskId } from './default-task-id';
import { sealClaim } from './seal-claim';
import { validatedClaimInput } from './validate-claim-input';

/**
 * A claim stamped, encoded once and signed, ready to publish: what `signClaim` emits. Its
 * `{ subject, data, headers }` is also what `verifyStatus` takes.
 *
 * @example
 * ```ts
 * inputs$.pipe(validateClaim(), signClaim(client)).subscribe(({ claim, data, headers }) => {
 *   console.log(claim.beat_index, data.byteLength, headers['x-signature'] !== undefined);
 * });
 * ```
 */
export interface SignedClaim {
  /** `backbeat.<cluster>.status.<agent>`. */
  readonly subject: string;
  /** The claim (snake_case, frozen), as it will go on the wire. */
  readonly claim: Readonly<StatusClaim>;
  /** Its UTF-8 JSON payload: the bytes signed are the bytes sent. */
  readonly data: Uint8Array;
  /** `x-agent-id`, `x-window-id`, `x-hlc`, `Nats-Msg-Id`, and when signed `x-signature`, `x-public-key`. */
  readonly headers: Readonly<Record<string, string>>;
}

/** What a claim flow needs of its client. */
export interface ClaimFlowOptions {
  readonly clusterId: string;
  readonly agentId: string;
  readonly signingKey?: SigningKey;
  /** Inputs that may wait for the first beat: the client's `statusBufferSize`. */
  readonly bufferSize: number;
  /** The client's HLC: ticked once per claim. */
  readonly tick: () => string;
  /** The last delivered beat, or null before any. */
  readonly currentBeat: () => Beat | null;
  /** The client's `beat$`: claims that arrive before any beat wait for its first. */
  readonly beat$: Observable<Beat>;
  readonly publisher: Pick<StatusPublisher, 'publish'>;
  /** Throws ClientStateError unless the client is running; `what` names the caller. */
  readonly assertRunning: (what: string) => void;
  readonly logger: Pick<Logger, 'warn'>;
  /** Told of each input refused as invalid (the client counts them in its errors). */
  readonly onInvalid?: (error: unknown) => void;
}

/** An input waiting for the first beat; `signed` completes empty when it is dropped. */
interface Waiting {
  readonly input: ValidStatusClaimInput;
  readonly signed: AsyncSubject<SignedClaim>;
}

/**
 * One client's claim steps. Before the first beat, inputs wait for it in order, at most
 * `bufferSize` of them (beyond, the oldest are dropped and counted): the only queue in front of
 * the publisher's own bounded buffer.
 */
export class ClaimFlow {
  private readonly defaultTaskId = makeDefaultTaskId();
  private readonly waiting: Waiting[] = [];
  private droppedWaiting = 0;
  private awaitingFirstBeat = false;

  constructor(private readonly options: ClaimFlowOptions) {}

  /** Inputs dropped while waiting for the first beat. */
  get dropped(): number {
    return this.droppedWaiting;
  }

  /** Inputs waiting for the first beat now. */
  get buffered(): number {
    return this.waiting.length;
  }

  /**
   * Stamps, seals and signs `input` now, or, before the first beat, at that beat (after the
   * inputs already waiting). Validates it unless `validateClaimInput` already has.
   *
   * @return The signed claim (at once when a beat is current); empty when it was dropped while
   * waiting; an error when the client stops first.
   * @throws StatusClaimValidationError for an invalid input; ClientStateError when not running.
   */
  sign(input: StatusClaimInput, what: string): Observable<SignedClaim> {
    this.options.assertRunning(what);
    let valid: ValidStatusClaimInput;
    try {
      valid = validatedClaimInput(input);
    } catch (err) {
      this.options.onInvalid?.(err);
      throw err;
    }
    const beat = this.options.currentBeat();
    if (beat !== null && this.waiting.length === 0) return of(this.seal(valid, beat));
    const signed = new AsyncSubject<SignedClaim>();
    this.waiting.push({ input: valid, signed });
    if (!this.awaitingFirstBeat) this.awaitFirstBeat();
    if (this.waiting.length > this.options.bufferSize) {
      this.droppedWaiting++;
      this.waiting.shift()!.signed.complete();
      this.options.logger.warn(
        { bufferSize: this.options.bufferSize, dropped: this.droppedWaiting },
        'backbeat: status buffer full before the first beat: oldest claim dropped',
      );
    }
    return signed;
  }

  /**
   * Hands a signed claim to the publisher, after every claim handed before it.
   *
   * @return Resolves with the claim once sent (core: handed to nats.js, or held in the bounded
   * buffer while disconnected) or acknowledged (JetStream).
   * @throws (rejects) StatusClaimDroppedError when JetStream gives it up; ClientStateError
   * once stopping; nats.js's error when it refuses the publish.
   */
  publish(signed: SignedClaim): Promise<Readonly<StatusClaim>> {
    const { subject, data: payload, headers, claim } = signed;
    return this.options.publisher.publish({ subject, payload, headers }).then(() => claim);
  }

  /**
   * `emitStatusClaim`: {@link sign}, then {@link publish} in the same turn as the claim is
   * stamped, so that claims go out in the order of their HLC stamps.
   *
   * @return Resolves with the claim as sent or acknowledged.
   * @throws (rejects) StatusClaimValidationError, ClientStateError, StatusClaimDroppedError.
   */
  emit(input: StatusClaimInput, what: string): Promise<Readonly<StatusClaim>> {
    return new Promise((resolve, reject) => {
      let stamped = false;
      this.sign(input, what).subscribe({
        next: (signed) => {
          stamped = true;
          this.publish(signed).then(resolve, reject);
        },
        error: reject,
        complete: () => {
          if (!stamped) reject(new StatusClaimDroppedError('buffer-full', 'first-beat'));
        },
      });
    });
  }

  private seal(valid: ValidStatusClaimInput, beat: Beat): SignedClaim {
    const { subject, claim, payload, headers } = sealClaim(valid, {
      clusterId: this.options.clusterId,
      agentId: this.options.agentId,
      defaultTaskId: this.defaultTaskId,
      beat,
      hlc: this.options.tick(),
      signingKey: this.options.signingKey,
    });
    return { subject, claim, data: payload, headers };
  }

  /** At the first beat, stamps every waiting input with it, in order, synchronously. */
  private awaitFirstBeat(): void {
    this.awaitingFirstBeat = true;
    this.options.beat$.pipe(first()).subscribe({
      next: (beat) => {
        this.awaitingFirstBeat = false;
        for (const { input, signed } of this.waiting.splice(0)) {
          try {
            signed.next(this.seal(input, beat));
            signed.complete();
          } catch (err) {
            signed.error(err);
          }
        }
      },
      error: () => {
        this.awaitingFirstBeat = false;
        this.stopped();
      },
    });
  }

  private stopped(): void {
    for (const { signed } of this.waiting.splice(0)) {
      signed.error(new ClientStateError('the client stopped before the first beat'));
    }
  }
}

const flows = new WeakMap<object, ClaimFlow>();

/** Makes `flow` the claim flow of `client`, for the claim operators to find. */
export function registerClaimFlow(client: object, flow: ClaimFlow): void {
  flows.set(client, flow);
}

/**
 * The claim flow of a client made by `createClient`.
 *
 * @param client The client given to a claim operator.
 * @param operator The operator's name, for the error.
 * @throws TypeError when `client` is not such a client.
 */
export function claimFlowOf(client: object, operator: string): ClaimFlow {
  const flow = flows.get(client);
  if (flow === undefined) {
    throw new TypeError(`${operator}(client) takes a client made by createClient`);
  }
  return flow;
}
