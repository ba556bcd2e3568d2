/**
 * The scripted pulse: valid, consistent frames (the dev pulse's maker), signing, bar length,
 * deadlines, option checks, and a play schedule whose errors fail the test.
 */
import { map } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import {
  createTestClient,
  TEST_EPOCH_MS,
  type TestClient,
} from '@chorus-services/backbeat/testing';
import { ConfigError, generateSigningKey, windowIdFor } from '@chorus-services/backbeat';
import { judgeFrame, type JudgeContext } from '../../lib/protocol/judge';
import { at, label, testScheduler } from '../beats/frames';

const context: JudgeContext = {
  clusterId: 'test-cluster',
  acceptLegacyFrames: false,
  maxClockSkewMs: 60_000,
  physicalNow: () => TEST_EPOCH_MS,
  legacy: () => ({ beatsPerBar: 4, tempoBpm: 60, hlc: '' }),
};

describe('TestPulse', () => {
  let scheduler: TestScheduler;
  let test: TestClient;

  beforeEach(() => {
    scheduler = testScheduler();
    test = createTestClient({}, { scheduler });
  });

  afterEach(async () => {
    await test.stop({ timeoutMs: 0 });
  });

  it('sends frames the judge accepts, consistent with the bar length, and published as sent', () => {
    const pulse = test.pulse({ tempoBpm: 90, phases: ['a', 'b', 'c'] });
    const frames = [...pulse.beats(4), ...pulse.setBeatsPerBar(3).beats(3)];
    expect(frames.map((f) => [f.beat_index, f.downbeat, f.phase, f.beats_per_bar])).toEqual([
      [0, true, 'a', 4],
      [1, false, 'b', 4],
      [2, false, 'c', 4],
      [3, false, 'a', 4],
      [4, false, 'b', 3],
      [5, false, 'c', 3],
      [6, true, 'a', 3],
    ]);
    expect(frames[6].window_id).toBe(windowIdFor('test-cluster', 6, 3));
    const published = test.connection.published.filter((m) => m.subject.endsWith('.beat'));
    expect(published).toHaveLength(7);
    for (const [i, message] of published.entries()) {
      const verdict = judgeFrame(message.data, message.headers, context);
      expect(verdict).toMatchObject({ ok: true, frame: frames[i] });
    }
  });

  it("promises the next beat a period ahead on the test's wall clock", () => {
    scheduler.run(() => {
      const pulse = test.pulse({ tempoBpm: 120 });
      at(scheduler, 300, () => {
        const frame = pulse.beat();
        expect(Date.parse(frame.deadline_at)).toBe(TEST_EPOCH_MS + 800);
        expect(frame.pulse_id).toBe('test-pulse-1');
        expect(frame.tempo_bpm).toBe(120);
      });
      at(scheduler, 400, () => void test.stop());
    });
    expect(test.pulse().pulseId).toBe('test-pulse-2');
  });

  it('signs its frames when given a key: a client trusting it follows, others are refused', () => {
    const key = generateSigningKey();
    const trusting = createTestClient(
      { trustedPulseKeys: [key.publicKey], connection: test.connection, agentId: 'trusting' },
      { scheduler },
    );
    scheduler.run((helpers) => {
      helpers
        .expectObservable(trusting.client.beat$.pipe(map(label)))
        .toBe('a 499ms b 99ms |', { a: 'p0', b: 'p1' });
      void trusting.client.start();
      test.pulse({ pulseId: 'forger' }).beat(); // unsigned: refused
      trusting.pulse({ signingKey: key.secretKey }).play(2);
      at(scheduler, 600, () => void trusting.stop());
      at(scheduler, 600, () => void test.stop());
    });
    expect(trusting.client.metrics().beats.rejected['unsigned-frame']).toBe(1);
  });

  it('refuses invalid settings with a ConfigError naming the field', () => {
    const field = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return error instanceof ConfigError ? error.field : 'not a ConfigError';
      }
      return 'nothing thrown';
    };
    expect(field(() => test.pulse({ tempoBpm: 0 }))).toBe('tempoBpm');
    expect(field(() => test.pulse({ phases: ['degraded'] }))).toBe('phases');
    expect(field(() => test.pulse({ pulseId: 'a.b' }))).toBe('pulseId');
    expect(field(() => test.pulse({ signingKey: 'short' }))).toBe('signingKey');
    expect(field(() => test.pulse({ tempo: 60 } as never))).toBe('tempo');
    const pulse = test.pulse();
    expect(field(() => pulse.setTempo(7000))).toBe('tempoBpm');
    expect(field(() => pulse.setBeatsPerBar(65))).toBe('beatsPerBar');
    expect(field(() => pulse.jumpTo(-1))).toBe('beatIndex');
    expect(() => pulse.play(0)).toThrow(RangeError);
    expect(() => pulse.beats(-1)).toThrow(RangeError);
    expect(() => pulse.silence(-5)).toThrow(RangeError);
  });

  it('plays one schedule at a time, stops when told, and can play again from where it was', () => {
    scheduler.run(() => {
      const pulse = test.pulse({ tempoBpm: 600 });
      pulse.play(Infinity);
      at(scheduler, 250, () => pulse.play(2)); // replaces the first schedule
      at(scheduler, 300, () => expect(pulse.isPlaying).toBe(true));
      at(scheduler, 400, () => expect(pulse.isPlaying).toBe(false));
      at(scheduler, 500, () => pulse.play(Infinity).unsubscribe()); // stopped before its turn
      at(scheduler, 600, () => void test.stop());
    });
    const indexes = test.connection.published.map(
      (m) => (JSON.parse(new TextDecoder().decode(m.data)) as { beat_index: number }).beat_index,
    );
    expect(indexes).toEqual([0, 1, 2, 3, 4]);
  });

  it('fails the run when a subscriber throws on a played beat', () => {
    test.connection.subscribe('backbeat.test-cluster.beat', {
      callback: () => {
        throw new Error('a subscriber that throws');
      },
    });
    expect(() =>
      scheduler.run(() => {
        test.pulse().play(3);
        at(scheduler, 2000, () => void test.stop());
      }),
    ).toThrow('a subscriber that throws');
  });
});
