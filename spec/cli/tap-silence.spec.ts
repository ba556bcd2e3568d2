import { TestScheduler } from 'rxjs/testing';
import { clusterSize } from '../../lib/cli/stream-command';
import { silenceAfter } from '../../lib/cli/tap-silence';

describe('silenceAfter (tap: no beat)', () => {
  const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

  it('says a silence once it lasts as long as the last message allowed, once per silence', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Messages at 0 and 1 ms allow 5 ms each; one at 20 ms allows 3 ms; then nothing.
      const arrivals = cold('a b 18ms c', { a: 5, b: 5, c: 3 });
      expectObservable(arrivals.pipe(silenceAfter(5)), '^ 40ms !').toBe('6ms x 16ms y', {
        x: 5,
        y: 3,
      });
    });
  });

  it('counts the first silence from subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<number>('').pipe(silenceAfter(2000)), '^ 3000ms !').toBe('2000ms x', {
        x: 2000,
      });
    });
  });
});

describe('clusterSize (stream ensure --replicas)', () => {
  it('is 1 for a server outside a cluster', () => {
    expect(clusterSize({})).toBe(1);
  });

  it('counts the client URLs a clustered server advertises, itself included', () => {
    const connect_urls = ['127.0.0.1:38847', '127.0.0.1:33557', '127.0.0.1:45507'];
    expect(clusterSize({ cluster: 'c1', connect_urls })).toBe(3);
  });

  it('is unknown for a clustered server that advertises nothing', () => {
    expect(clusterSize({ cluster: 'c1' })).toBeUndefined();
    expect(clusterSize(undefined)).toBeUndefined();
  });
});
