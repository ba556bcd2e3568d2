import type { Logger } from '../observability/logger';
import { describeError } from '../observability/logger';
import { RecentSummary } from '../observability/summary';
import { isPromiseLike } from '../promise-like';
import type { Beat } from './beat';

/**
 * Runs the users' `onBeat`/`onDownbeat` callbacks: a throwing or rejecting one is counted and
 * logged and harms no other subscriber.
 */
export class BeatCallbacks {
  errors = 0;
  readonly latency = new RecentSummary();

  constructor(
    private readonly logger: Pick<Logger, 'error'>,
    private readonly noteError: (err: unknown, fallbackCode: string) => void,
  ) {}

  run(callback: (beat: Beat) => unknown, beat: Beat): void {
    const started = performance.now();
    try {
      const result = callback(beat);
      if (isPromiseLike(result)) {
        result.then(undefined, (err: unknown) => this.failed(err, beat));
      }
    } catch (err) {
      this.failed(err, beat);
    } finally {
      this.latency.record(performance.now() - started);
    }
  }

  private failed(err: unknown, beat: Beat): void {
    this.errors++;
    this.noteError(err, 'BEAT_CALLBACK');
    this.logger.error(
      { err: describeError(err), beatIndex: beat.beat_index },
      'backbeat: beat callback threw',
    );
  }
}
