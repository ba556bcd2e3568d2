/**
 * The running count of elapsed beats (PROTOCOL.md section 9) at each delivered beat, kept beside
 * the beat rather than on it so that the {@link Beat} type stays the frame plus its four fields.
 * Budgets on a client's `beat$` key one shared deadline on this count.
 */
import type { Beat } from './beat';

const elapsedByBeat = new WeakMap<Beat, number>();

/**
 * The running count of elapsed beats when `beat` was delivered: its engine's first delivered
 * beat is 1; each later one adds `max(1, index difference)`, or 1 across a timeline reset.
 *
 * @example
 * engine.beats$.subscribe((beat) => elapsedBeatsAt(beat)); // 1, 2, 3, 6 (after 2 missed) …
 * @param beat A beat as delivered by a {@link BeatEngine}.
 * @return The count, or undefined for a beat no engine delivered (e.g. a copy).
 */
export function elapsedBeatsAt(beat: Beat): number | undefined {
  return elapsedByBeat.get(beat);
}

/** Records the count of a beat being delivered (the engine's side of {@link elapsedBeatsAt}). */
export function recordElapsedBeats(beat: Beat, elapsed: number): void {
  elapsedByBeat.set(beat, elapsed);
}
