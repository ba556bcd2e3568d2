/**
 * Beat budgets at scale: 100,000 pending budgets on one beat stream, in three forms, in one run:
 * - `shared`: `withinBeats` on a stream registered with a SharedBudgetIndex (a client's beat$);
 * - `perSubscription`: `withinBeats` on a plain Subject (each budget subscribes on its own);
 * - `naive` (the baseline): `takeUntil(beat$.pipe(scan(...), filter(...)))` per budget.
 * Prints JSON: heap bytes per pending budget, and ms per beat on beats that expire none and on
 * beats that expire a few (means include GC pauses; medians show the work itself). Each form runs
 * in its own child process, so one form's garbage does not slow the next.
 * Run: `npm run bench:budgets` (BUDGETS sets the count; BENCH_QUICK=1: 10,000).
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { filter, NEVER, scan, Subject, takeUntil, type Observable, type Subscription } from 'rxjs';
import type { CountedBeat } from '../lib/beats/budget-index';
import { shareBeatBudgets } from '../spec/beats/shared-budgets';
import { withinBeats } from '../lib/operators/within-beats';
import { sized } from './support';

const BUDGETS = Math.round(sized('BUDGETS', 100_000, 10_000));
/** Budgets last FIRST_EXPIRY … FIRST_EXPIRY + DISTINCT_BUDGETS − 1 beats: a few expire per beat. */
const FIRST_EXPIRY = 201;
const DISTINCT_BUDGETS = Math.max(1, Math.round(BUDGETS / 5));
const EXPIRING_BEATS = 500;

type Form = 'shared' | 'perSubscription' | 'naive';

const gc = (globalThis as { gc?: () => void }).gc;

function collect(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function budgetOf(i: number): number {
  return FIRST_EXPIRY + (i % DISTINCT_BUDGETS);
}

function subscribeBudget(form: Form, beats: number, beat$: Observable<CountedBeat>): Subscription {
  const observer = { error: () => undefined };
  if (form !== 'naive') return NEVER.pipe(withinBeats(beats, beat$)).subscribe(observer);
  const expired$ = beat$.pipe(
    scan((elapsed) => elapsed + 1, 0),
    filter((elapsed) => elapsed >= beats),
  );
  return NEVER.pipe(takeUntil(expired$)).subscribe(observer);
}

/** Mean and median ms per beat over beats `from` … `to` (the mean includes any GC pause). */
function timeBeats(beat$: Subject<CountedBeat>, from: number, to: number) {
  const costs: number[] = [];
  for (let index = from; index <= to; index++) {
    const started = performance.now();
    beat$.next({ beat_index: index, timelineReset: false });
    costs.push(performance.now() - started);
  }
  costs.sort((a, b) => a - b);
  const mean = costs.reduce((sum, cost) => sum + cost, 0) / costs.length;
  return { mean: round(mean), median: round(costs[costs.length >> 1]) };
}

function measure(form: Form) {
  const beat$ = new Subject<CountedBeat>();
  const shared = form === 'shared' ? shareBeatBudgets(beat$) : null;
  const subscriptions: Subscription[] = new Array<Subscription>(BUDGETS);
  const heapBefore = collect();
  for (let i = 0; i < BUDGETS; i++) subscriptions[i] = subscribeBudget(form, budgetOf(i), beat$);
  const firstBeatMs = timeBeats(beat$, 1, 1).mean; // the shared index files every newcomer here
  const heapBytesPerBudget = (collect() - heapBefore) / BUDGETS;
  const msPerBeatNoExpiry = timeBeats(beat$, 2, FIRST_EXPIRY - 1);
  const msPerBeatFewExpiries = timeBeats(beat$, FIRST_EXPIRY, FIRST_EXPIRY + EXPIRING_BEATS - 1);
  const pendingAfter = subscriptions.filter((subscription) => !subscription.closed).length;
  for (const subscription of subscriptions) subscription.unsubscribe();
  shared?.subscription.unsubscribe();
  return {
    heapBytesPerBudget: Math.round(heapBytesPerBudget),
    firstBeatMs,
    msPerBeatNoExpiry,
    msPerBeatFewExpiries,
    expiredPerBeat: (BUDGETS - pendingAfter) / EXPIRING_BEATS,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10_000) / 10_000;
}

type Measurement = ReturnType<typeof measure>;

/** Runs one form in a child process with the same node flags (`--expose-gc --import tsx`). */
function measureApart(form: Form): Measurement {
  const output = execFileSync(process.execPath, [...process.execArgv, __filename, form], {
    encoding: 'utf8',
  });
  return JSON.parse(output) as Measurement;
}

const onlyForm = process.argv[2] as Form | undefined;
if (onlyForm) {
  console.log(JSON.stringify(measure(onlyForm)));
} else {
  const naive = measureApart('naive');
  const perSubscription = measureApart('perSubscription');
  const shared = measureApart('shared');
  const heapRatio = Math.round((shared.heapBytesPerBudget / naive.heapBytesPerBudget) * 100) / 100;
  const perSubscriptionRatio =
    Math.round((shared.heapBytesPerBudget / perSubscription.heapBytesPerBudget) * 100) / 100;
  console.log(
    JSON.stringify(
      {
        budgets: BUDGETS,
        gcExposed: gc !== undefined,
        node: process.version,
        shared,
        perSubscription,
        naive,
        sharedHeapVsNaive: heapRatio,
        sharedHeapVsPerSubscription: perSubscriptionRatio,
        goals: {
          msPerBeatAtMost: 0.1,
          sharedHeapVsNaiveAtMost: 0.6,
          met:
            shared.msPerBeatNoExpiry.mean <= 0.1 &&
            shared.msPerBeatFewExpiries.mean <= 0.1 &&
            heapRatio <= 0.6,
        },
      },
      null,
      2,
    ),
  );
}
