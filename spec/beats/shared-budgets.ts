import type { Observable, Subscription } from 'rxjs';
import {
  registerSharedBeatSource,
  SharedBudgetIndex,
  type CountedBeat,
} from '../../lib/beats/budget-index';

/**
 * What a client does with its `beat$` (for tests and benches of budgets without a client): a
 * {@link SharedBudgetIndex} subscribed to `beat$` and registered, so that `withinBeats` on
 * `beat$` waits in it. Call it before anything else subscribes to a hot `beat$`, so the index
 * sees each beat first.
 *
 * @param beat$ The shared beat stream.
 * @return The index and its subscription to `beat$`.
 */
export function shareBeatBudgets(beat$: Observable<CountedBeat>): {
  index: SharedBudgetIndex;
  subscription: Subscription;
} {
  const index = new SharedBudgetIndex();
  registerSharedBeatSource(beat$, index);
  return { index, subscription: beat$.subscribe(index) };
}
