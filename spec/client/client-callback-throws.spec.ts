/**
 * Whatever a beat callback throws or rejects with — a null-prototype object, an Error whose
 * `message` and `code` getters throw — is counted and logged; the beats go on (README.md, A
 * tour: onBeat). Fake time: the test kit's pulse, no NATS.
 */
import { createTestClient } from '../../lib/testing';

/** An Error whose every read of `message` or `code` throws. */
function hostileError(): Error {
  const error = new Error('unused');
  Object.defineProperty(error, 'message', {
    get() {
      throw new Error('message getter');
    },
  });
  Object.defineProperty(error, 'code', {
    get() {
      throw new Error('code getter');
    },
  });
  return error;
}

describe('a beat callback that throws what cannot be read', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('is counted and logged, and the beats go on', async () => {
    const logged: unknown[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (obj: unknown) => logged.push(obj),
    };
    const faults: unknown[] = [];
    const onFault = (error: unknown) => faults.push(error);
    process.on('uncaughtException', onFault);
    process.on('unhandledRejection', onFault);
    try {
      await using test = createTestClient({ logger });
      const { client } = test;
      const throws = [
        () => {
          throw Object.create(null);
        },
        () => {
          throw hostileError();
        },
        // What user code may reject with is exactly what this test is about.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        () => Promise.reject(Object.create(null)),
        () => Promise.reject(hostileError()),
      ];
      for (const thrower of throws) client.onBeat(thrower);
      const seen: number[] = [];
      client.onBeat((beat) => void seen.push(beat.beat_index));
      await client.start();
      test.pulse({ tempoBpm: 600 }).play(Infinity);
      await jest.advanceTimersByTimeAsync(1_050);

      expect(seen.length).toBeGreaterThanOrEqual(10);
      const { beats, errors } = client.metrics();
      expect(beats.callbackErrors).toBe(throws.length * seen.length);
      expect(errors.total).toBeGreaterThanOrEqual(throws.length * seen.length);
      expect(errors.last?.code).toBe('BACKBEAT_BEAT_CALLBACK');
      expect(logged.length).toBe(throws.length * seen.length);
      expect(faults).toEqual([]);
    } finally {
      process.off('uncaughtException', onFault);
      process.off('unhandledRejection', onFault);
    }
  });
});
