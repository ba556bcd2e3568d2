import { map, startWith, switchMap, timer, type OperatorFunction, type SchedulerLike } from 'rxjs';

/**
 * `tap`'s silence watch: each value of the source (a message on the beat subject) is how long a
 * silence after it may last; emits that length once when the silence reaches it, and again only
 * after another message and another such silence. Counts from subscription with `firstQuietMs`.
 *
 * @example
 * ```ts
 * // '--a 1999ms ...': a beat at 2 ms, then silence: emits 2000 at 2002 ms.
 * arrivals$.pipe(silenceAfter(2000)).subscribe((ms) => warn(`no beat for ${ms} ms`));
 * ```
 * @param firstQuietMs The silence allowed before the first message.
 * @param scheduler The timers' scheduler (a TestScheduler in tests); `asyncScheduler` by default.
 * @return The operator: the source's values are quiet lengths (ms), the output the silences.
 */
export function silenceAfter(
  firstQuietMs: number,
  scheduler?: SchedulerLike,
): OperatorFunction<number, number> {
  return (quiet$) =>
    quiet$.pipe(
      startWith(firstQuietMs),
      switchMap((quietMs) => timer(quietMs, scheduler).pipe(map(() => quietMs))),
    );
}
