import { defer, lastValueFrom, tap, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import { BeatBudgetExceededError, BeatSourceClosedError } from '../errors';
import { withinBeats } from '../operators/within-beats';
import type { Beat } from './beat';

/** A client's beat budgets: `client.withinBeats` and `client.withBeatBudget`, counted. */
export class ClientBudgets {
  created = 0;
  completed = 0;
  timedOut = 0;

  constructor(
    private readonly beat$: Observable<Beat>,
    private readonly currentBeat: () => Beat | null,
  ) {}

  withinBeats<T>(beats: number): MonoTypeOperatorFunction<T> {
    return (source) =>
      defer(() => {
        const current = this.currentBeat();
        this.created++;
        return source.pipe(
          withinBeats<T>({
            beats,
            beat$: this.beat$,
            ...(current ? { startBeat: current.beat_index } : {}),
          }),
          tap({
            complete: () => this.completed++,
            error: (err: unknown) => {
              if (err instanceof BeatBudgetExceededError) this.timedOut++;
            },
          }),
        );
      });
  }

  withBeatBudget<T>(beats: number, fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<T> {
    if (!Number.isSafeInteger(beats) || beats < 1) {
      return Promise.reject(
        new RangeError(`withBeatBudget: beats must be a positive integer, got ${String(beats)}`),
      );
    }
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError('withBeatBudget: fn must be a function'));
    }
    const controller = new AbortController();
    const work$ = defer(() => Promise.resolve(fn(controller.signal)));
    return lastValueFrom(work$.pipe(this.withinBeats(beats))).catch((err: unknown) => {
      if (err instanceof BeatBudgetExceededError || err instanceof BeatSourceClosedError) {
        controller.abort(err);
      }
      throw err;
    });
  }
}
