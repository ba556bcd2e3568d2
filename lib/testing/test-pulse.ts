/**
 * A pulse a test scripts: each beat, silence, jump (a timeline reset) and tempo change comes
 * when the test says, as valid frames of the dev pulse's own frame maker.
 */
import { Subscription } from 'rxjs';
import { carriedWallClock } from '../clock/carried-wall-clock';
import { monotonicNow } from '../clock/monotonic-now';
import { HybridLogicalClock } from '../clock/hlc';
import { parseSigningKey, type SigningKey } from '../crypto/keys';
import { ConfigError } from '../errors';
import { beatSubject } from '../protocol/subjects';
import { beatIndexSchema, MAX_BEAT_INDEX } from '../protocol/text';
import { makePulseFrame, type PulseFrame } from '../pulse/frame';
import { checkPulseTempo, resolvePulseOptions } from '../pulse/options';
import { startBeatSchedule, type BeatSchedule } from '../pulse/schedule';
import { periodMs } from '../beats/schedule';
import { toMsgHdrs } from '../transport/msg-headers';
import type { TestConnection } from './test-connection';
import type { TestTimers } from './test-timers';

/** Options of `test.pulse()`: those of `startPulse` a test may script. */
export interface TestPulseOptions {
  /** Default `test-pulse-<n>`, n counting the pulses of the test client from 1. */
  readonly pulseId?: string;
  /** Default 120 (a 500 ms period). */
  readonly tempoBpm?: number;
  /** Default 4. */
  readonly beatsPerBar?: number;
  /** Default `['plan', 'work', 'work', 'review']`. */
  readonly phases?: readonly string[];
  /** The first beat's index. Default 0. */
  readonly startIndex?: number;
  /** Signs each frame (for clients with `trustedPulseKeys`). Default: unsigned. */
  readonly signingKey?: Uint8Array | string;
}

/** A beat frame as a test pulse sent it (`beats_per_bar` always present). */
export type TestPulseFrame = PulseFrame['frame'];

/** What a test pulse needs of its test client. */
export interface TestPulseContext {
  readonly connection: TestConnection;
  readonly clusterId: string;
  readonly timers: TestTimers;
  readonly wallNow: () => number;
}

/**
 * A scripted pulse on a test connection. Nothing happens unless the test says: `beat()` sends
 * the next frame now; `play(n)` sends `n` on the pulse's absolute schedule, on the test's
 * scheduler. A silence is time passing without frames (after `play(n)` ends, or around
 * `silence(ms)`): a client degrades one period plus its jitter tolerance after the last frame.
 *
 * @example
 * const pulse = test.pulse({ tempoBpm: 120 });
 * pulse.beats(3); // beats 0, 1, 2 now
 * pulse.setTempo(60).play(4); // beats 3 to 6, the first now, then one a second
 * pulse.jumpTo(0).beat(); // a restarted pulse: the client flags a timeline reset
 */
export class TestPulse {
  /** This pulse's id: the `pulse_id` of its frames. */
  readonly pulseId: string;
  private readonly subject: string;
  private readonly clock: HybridLogicalClock;
  private readonly phases: readonly string[];
  private readonly signingKey: SigningKey | undefined;
  private next: number;
  private tempo: number;
  private barLength: number;
  private silentUntilMs = -Infinity;
  private playing: { readonly subscription: Subscription; setTempo(bpm: number): void } | null =
    null;

  /**
   * @param context The test client's connection, cluster, timers and wall clock.
   * @param options The pulse's settings.
   * @param defaultPulseId The id when `options` gives none.
   * @throws ConfigError naming the first invalid option.
   * @internal Made by `test.pulse(options)`.
   */
  constructor(
    private readonly context: TestPulseContext,
    options: TestPulseOptions,
    defaultPulseId: string,
  ) {
    const resolved = resolvePulseOptions({
      ...options,
      pulseId: options.pulseId ?? defaultPulseId,
      phases: options.phases === undefined ? undefined : [...options.phases],
      clusterId: context.clusterId,
      connection: context.connection,
    });
    this.pulseId = resolved.pulseId;
    this.subject = beatSubject(context.clusterId);
    // As startPulse's: the wall clock as the test's monotonic clock carries it.
    this.clock = new HybridLogicalClock(resolved.pulseId, {
      physicalNow: carriedWallClock({
        wallNow: context.wallNow,
        monoNow: monotonicNow(context.timers),
      }),
    });
    this.phases = resolved.phases;
    this.signingKey =
      resolved.signingKey === undefined ? undefined : parseSigningKey(resolved.signingKey);
    this.next = resolved.startIndex;
    this.tempo = resolved.tempoBpm;
    this.barLength = resolved.beatsPerBar;
  }

  /** The index the next frame will carry. */
  get nextIndex(): number {
    return this.next;
  }

  /** The tempo of the next frame. */
  get tempoBpm(): number {
    return this.tempo;
  }

  /** The bar length of the next frame. */
  get beatsPerBar(): number {
    return this.barLength;
  }

  /** Whether `play()` is sending beats. */
  get isPlaying(): boolean {
    return this.playing !== null;
  }

  /**
   * Sends the next frame now; its `deadline_at` promises the one after a period from now.
   *
   * @return The frame (lost on the way during a `silence`, but returned all the same).
   * @throws RangeError past the last beat index.
   */
  beat(): TestPulseFrame {
    return this.send(periodMs(this.tempo), this.tempo);
  }

  /**
   * Sends `count` frames now, one after the other (a burst: each index is delivered).
   *
   * @return The frames.
   */
  beats(count: number): TestPulseFrame[] {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`count must be an integer ≥ 0, got ${count}`);
    }
    return Array.from({ length: count }, () => this.beat());
  }

  /**
   * Sets the index of the next frame: ahead, the client counts the skipped beats as missed;
   * behind by more than a bar, it flags a timeline reset (a restarted pulse).
   *
   * @throws ConfigError (field `beatIndex`) when `index` is not an integer from 0 to 2^53 − 1.
   */
  jumpTo(index: number): this {
    if (!beatIndexSchema.safeParse(index).success) {
      throw new ConfigError('beatIndex', 'must be an integer from 0 to 2^53 − 1');
    }
    this.next = index;
    return this;
  }

  /**
   * Changes the tempo from the next frame on. While playing, that frame still comes when the
   * last one promised, and later ones follow the new period (as the dev pulse does).
   *
   * @throws ConfigError (field `tempoBpm`) when `bpm` is not a number from 1 to 6000.
   */
  setTempo(bpm: number): this {
    this.tempo = checkPulseTempo(bpm);
    this.playing?.setTempo(this.tempo);
    return this;
  }

  /**
   * Changes the bar length from the next frame on.
   *
   * @throws ConfigError (field `beatsPerBar`) when `beatsPerBar` is not an integer from 1 to 64.
   */
  setBeatsPerBar(beatsPerBar: number): this {
    if (!Number.isInteger(beatsPerBar) || beatsPerBar < 1 || beatsPerBar > 64) {
      throw new ConfigError('beatsPerBar', 'must be an integer from 1 to 64');
    }
    this.barLength = beatsPerBar;
    return this;
  }

  /**
   * Loses the frames of the next `ms` ms on the way, as a partition would: they are made (their
   * indexes are used) but never reach the connection. `play()` keeps its schedule meanwhile.
   */
  silence(ms: number): this {
    if (!(ms >= 0)) throw new RangeError(`ms must be a number ≥ 0, got ${ms}`);
    this.silentUntilMs = this.context.timers.now() + ms;
    return this;
  }

  /**
   * Sends `count` frames on an absolute schedule at the current tempo, on the test's scheduler:
   * the first at the scheduler's next turn (a delay of 0), then one a period. Replaces a
   * schedule already playing. A test client's `stop()` ends it too.
   *
   * @param count Frames to send: a positive integer, or Infinity (then stop it).
   * @return Unsubscribe to stop it early.
   */
  play(count: number): Subscription {
    if (!(count === Infinity || (Number.isInteger(count) && count > 0))) {
      throw new RangeError(`count must be a positive integer or Infinity, got ${count}`);
    }
    this.stop();
    const { timers } = this.context;
    let schedule: BeatSchedule | undefined;
    let played = 0;
    const subscription = new Subscription(() => {
      schedule?.stop();
      if (this.playing?.subscription === subscription) this.playing = null;
    });
    subscription.add(
      timers.schedule(() => {
        schedule = startBeatSchedule({
          scheduler: timers,
          startIndex: 0,
          tempoBpm: this.tempo,
          onBeat: (due) => {
            this.next += due.skipped;
            this.send(due.nextDueAtMs - due.nowMs, due.tempoBpm);
            if (++played >= count) subscription.unsubscribe();
          },
          // The schedule swallows what onBeat throws; thrown again on the scheduler, it fails
          // the test (out of TestScheduler.run, or out of jest's timer advance).
          onError: (error) => timers.schedule(() => rethrow(error)),
        });
        if (subscription.closed) schedule.stop();
      }, 0),
    );
    this.playing = { subscription, setTempo: (bpm) => schedule?.setTempo(bpm) };
    return subscription;
  }

  /** Stops `play()`; the pulse can still `beat()` or `play()` again. */
  stop(): void {
    this.playing?.subscription.unsubscribe();
  }

  private send(nextDueInMs: number, tempoBpm: number): TestPulseFrame {
    if (this.next > MAX_BEAT_INDEX) {
      throw new RangeError('the test pulse is past the last beat index');
    }
    const made = makePulseFrame({
      clusterId: this.context.clusterId,
      pulseId: this.pulseId,
      beatIndex: this.next,
      tempoBpm,
      beatsPerBar: this.barLength,
      phases: this.phases,
      clock: this.clock,
      deadlineAtMs: this.context.wallNow() + nextDueInMs,
      signingKey: this.signingKey,
    });
    this.next++;
    if (this.context.timers.now() >= this.silentUntilMs) {
      const headers = Object.keys(made.headers).length > 0 ? toMsgHdrs(made.headers) : undefined;
      this.context.connection.publish(this.subject, made.payload, { headers });
    }
    return made.frame;
  }
}

function rethrow(error: unknown): never {
  throw error;
}
