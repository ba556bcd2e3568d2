/**
 * The elapsed-beat rule of docs/protocol.md section 9, in one place: the beat engine counts its
 * timeline with it, and every beat budget counts its beats with it.
 */
import type { Beat } from './beat';

/**
 * What counting reads of a beat: its index and whether it starts a new timeline. Any stream of
 * these can drive a beat budget.
 *
 * @example
 * ```ts
 * const ticks$: Observable<CountedBeat> = interval(100).pipe(map((i) => ({ beat_index: i, timelineReset: false })));
 * work$.pipe(withinBeats(5, ticks$));
 * ```
 */
export type CountedBeat = Pick<Beat, 'beat_index' | 'timelineReset'>;

/**
 * Beats elapsed when `beat` is delivered after the beat at `fromIndex`: `max(1, index
 * difference)`, and one across a timeline reset or when nothing precedes it.
 *
 * @example
 * elapsedSince(4, { beat_index: 9, timelineReset: false }); // 5
 * elapsedSince(4, { beat_index: 0, timelineReset: true }); // 1
 * @param fromIndex The index counted from: the previous delivered beat, or a budget's
 * `startBeat`; `undefined` when there is none.
 * @param beat The delivered beat.
 * @return The number of beats that elapse with `beat`, at least one.
 */
export function elapsedSince(fromIndex: number | undefined, beat: CountedBeat): number {
  return beat.timelineReset || fromIndex === undefined
    ? 1
    : Math.max(1, beat.beat_index - fromIndex);
}
