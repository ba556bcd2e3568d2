import { config, map, Observable, Subscriber, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Broadcast } from '../../lib/beats/broadcast';

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('Broadcast', () => {
  it('is hot: each subscriber gets the values given while it is subscribed, then the end', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const broadcast = new Broadcast<string>();
      cold('-a-b-c-|').subscribe({
        next: (value) => broadcast.next(value),
        complete: () => broadcast.complete(),
      });
      expectObservable(broadcast.observable).toBe('-a-b-c-|');
      expectObservable(broadcast.observable, '^-!').toBe('-a');
      expectObservable(broadcast.observable, '--^').toBe('---b-c-|');
      expectObservable(broadcast.observable, '--------^').toBe('--------|');
    });
  });

  it('is an rxjs Observable that operators compose with', () => {
    const broadcast = new Broadcast<number>();
    const seen: number[] = [];
    let completed = false;
    expect(broadcast.observable).toBeInstanceOf(Observable);
    broadcast.observable
      .pipe(
        map((n) => n * 10),
        take(2),
      )
      .subscribe({
        next: (n) => seen.push(n),
        complete: () => (completed = true),
      });
    [1, 2, 3].forEach((n) => broadcast.next(n));
    expect(seen).toEqual([10, 20]);
    expect(completed).toBe(true);
  });

  it('gives a subscriber added during a delivery the next value, and one removed no more', () => {
    const broadcast = new Broadcast<number>();
    const seen: string[] = [];
    const late = { subscribed: false };
    const second = broadcast.observable.subscribe((n) => seen.push(`second ${n}`));
    broadcast.observable.subscribe((n) => {
      seen.push(`first ${n}`);
      if (!late.subscribed) {
        late.subscribed = true;
        broadcast.observable.subscribe((m) => seen.push(`late ${m}`));
      }
    });
    broadcast.observable.subscribe((n) => {
      seen.push(`third ${n}`);
      if (n === 1) second.unsubscribe();
    });
    broadcast.next(1);
    broadcast.next(2);
    expect(seen).toEqual(['second 1', 'first 1', 'third 1', 'first 2', 'third 2', 'late 2']);
  });

  it('drops values after complete(), which it does once', () => {
    const broadcast = new Broadcast<number>();
    const events: string[] = [];
    broadcast.observable.subscribe({
      next: (n) => events.push(`next ${n}`),
      complete: () => events.push('complete'),
    });
    broadcast.complete();
    broadcast.complete();
    broadcast.next(1);
    expect(events).toEqual(['complete']);
  });

  it('reports a subscriber that throws past rxjs’s guard as rxjs does, and serves the others', () => {
    jest.useFakeTimers();
    const reported: unknown[] = [];
    const before = config.onUnhandledError;
    config.onUnhandledError = (error) => reported.push(error);
    try {
      const broadcast = new Broadcast<number>();
      const boom = new Error('boom');
      // A Subscriber is used as it is (no SafeSubscriber around it): its throw reaches us.
      class Throwing extends Subscriber<number> {
        override next(): void {
          throw boom;
        }
      }
      const seen: number[] = [];
      broadcast.observable.subscribe(new Throwing());
      broadcast.observable.subscribe((n) => seen.push(n));
      broadcast.next(7);
      expect(seen).toEqual([7]);
      expect(reported).toEqual([]); // reported later, as rxjs does
      jest.runAllTimers();
      expect(reported).toEqual([boom]);
    } finally {
      config.onUnhandledError = before;
      jest.useRealTimers();
    }
  });
});
