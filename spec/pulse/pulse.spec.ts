import type { MsgHdrs, NatsConnection, PublishOptions } from 'nats';
import { decodeStrictBase64 } from '../../lib/crypto/base64';
import { generateSigningKey } from '../../lib/crypto/keys';
import { verifyBytes } from '../../lib/crypto/signature';
import { ConfigError } from '../../lib/errors';
import { BeatFrameSchema, type BeatFrame } from '../../lib/protocol/beat-frame';
import { headerValues } from '../../lib/protocol/headers';
import { windowIdFor } from '../../lib/protocol/windows';
import { startPulse, type PulseOptions } from '../../lib/pulse/pulse';
import { advanceTo, pendingTimers, virtualScheduler } from '../support/virtual-time';

const WALL_START_MS = 1_700_000_000_000;

interface Published {
  subject: string;
  payload: Uint8Array;
  headers: MsgHdrs | undefined;
  frame: BeatFrame;
}

/** A stand-in for a shared nats.js connection: records publishes, closes when told. */
function fakeConnection() {
  const published: Published[] = [];
  let close: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (close = resolve));
  let failPublish: Error | undefined;
  const connection = {
    publish: jest.fn((subject: string, payload: Uint8Array, options?: PublishOptions) => {
      if (failPublish) throw failPublish;
      const frame = BeatFrameSchema.parse(JSON.parse(new TextDecoder().decode(payload)));
      published.push({ subject, payload, headers: options?.headers, frame });
    }),
    closed: () => closed,
    close: jest.fn(() => {
      close();
      return Promise.resolve();
    }),
    isClosed: () => false,
  };
  return {
    connection: connection as unknown as NatsConnection,
    spy: connection,
    published,
    closeFromOutside: () => close(),
    failPublishWith: (error: Error | undefined) => (failPublish = error),
  };
}

/** A pulse on virtual time: the wall clock moves with the scheduler's clock. */
async function virtualPulse(options: Partial<PulseOptions> = {}) {
  const scheduler = virtualScheduler();
  const nats = fakeConnection();
  const pulse = await startPulse({
    connection: nats.connection,
    clusterId: 'chorus-dev',
    pulseId: 'pulse-t',
    scheduler,
    physicalNow: () => WALL_START_MS + scheduler.now(),
    ...options,
  });
  return { scheduler, pulse, ...nats };
}

describe('startPulse on a shared connection', () => {
  it('publishes one valid frame per beat on the cluster beat subject', async () => {
    const { scheduler, pulse, published } = await virtualPulse({ beatsPerBar: 3 });
    expect(pulse.pulseId).toBe('pulse-t');
    expect(published).toHaveLength(1); // the first beat goes out at once
    advanceTo(scheduler, 2000);
    expect(published.map((p) => p.subject)).toEqual(Array(5).fill('backbeat.chorus-dev.beat'));
    expect(published.map((p) => p.frame.beat_index)).toEqual([0, 1, 2, 3, 4]);
    for (const { frame, headers } of published) {
      expect(frame).toMatchObject({
        pulse_id: 'pulse-t',
        cluster_id: 'chorus-dev',
        tempo_bpm: 120,
        beats_per_bar: 3,
        downbeat: frame.beat_index % 3 === 0,
        window_id: windowIdFor('chorus-dev', frame.beat_index, 3),
        phase: ['plan', 'work', 'work'][frame.beat_index % 3],
      });
      // deadline_at: when the next beat is due, on the wall clock.
      expect(Date.parse(frame.deadline_at)).toBe(WALL_START_MS + (frame.beat_index + 1) * 500);
      expect(headers).toBeUndefined();
    }
    const stamps = published.map((p) => p.frame.hlc);
    expect([...stamps].sort()).toEqual(stamps);
    expect(new Set(stamps).size).toBe(stamps.length);
    expect(pulse.beatIndex()).toBe(4);
    await pulse.stop();
  });

  it('signs every frame with the headers spelt as the protocol spells them', async () => {
    const keyPair = generateSigningKey();
    const { scheduler, pulse, published } = await virtualPulse({ signingKey: keyPair.secretKey });
    advanceTo(scheduler, 500);
    expect(published).toHaveLength(2);
    for (const { payload, headers } of published) {
      expect([...headers!.keys()].sort()).toEqual(['x-public-key', 'x-signature']);
      const publicKey = decodeStrictBase64(headerValues(headers, 'x-public-key')[0], 32)!;
      const signature = decodeStrictBase64(headerValues(headers, 'x-signature')[0], 64)!;
      expect(publicKey).toEqual(keyPair.publicKey);
      expect(verifyBytes(publicKey, payload, signature)).toBe(true);
    }
    await pulse.stop();
  });

  it('stamps on the wall clock as its scheduler carries it: an hour stepped for 12 s leaves no trace', async () => {
    let stepMs = 0;
    const scheduler = virtualScheduler();
    const { pulse, published } = await virtualPulse({
      scheduler,
      physicalNow: () => WALL_START_MS + scheduler.now() + stepMs,
    });
    advanceTo(scheduler, 5000);
    stepMs = 3_600_000;
    advanceTo(scheduler, 17_000);
    stepMs = 0;
    advanceTo(scheduler, 30_000);
    const leads = published.map(
      (p) => parseInt(p.frame.hlc.slice(0, 12), 16) - (WALL_START_MS + p.frame.beat_index * 500),
    );
    expect(published).toHaveLength(61);
    expect(new Set(leads)).toEqual(new Set([0]));
    // deadline_at is a wall instant: it says what the wall clock said.
    expect(Date.parse(published[20].frame.deadline_at)).toBe(WALL_START_MS + 21 * 500 + 3_600_000);
    await pulse.stop();
  });

  it('starts at startIndex', async () => {
    const { scheduler, pulse, published } = await virtualPulse({ startIndex: 1000 });
    advanceTo(scheduler, 500);
    expect(published.map((p) => p.frame.beat_index)).toEqual([1000, 1001]);
    await pulse.stop();
  });

  it('on an epoch: beat i is due at epochMs + i × period; it starts at the index due now', async () => {
    // Started 1.7 s after the epoch at 120 BPM: beat 3 (due at +1.5 s) goes out at once.
    const epochMs = WALL_START_MS - 1_700;
    const { scheduler, pulse, published } = await virtualPulse({ epochMs });
    advanceTo(scheduler, 1_300);
    expect(
      published.map((p) => [p.frame.beat_index, Date.parse(p.frame.deadline_at) - epochMs]),
    ).toEqual([
      [3, 2_000],
      [4, 2_500],
      [5, 3_000],
      [6, 3_500],
    ]);
    await pulse.stop();
  });

  it('restarted on the same epoch, continues the same indexes and phase', async () => {
    const epochMs = WALL_START_MS - 10_000;
    const first = await virtualPulse({ epochMs });
    advanceTo(first.scheduler, 1_000);
    await first.pulse.stop();
    // A second instance (a restart, or a standby) 2.2 s later on the same wall clock.
    const scheduler = virtualScheduler(50_000);
    const nats = fakeConnection();
    const second = await startPulse({
      connection: nats.connection,
      clusterId: 'chorus-dev',
      pulseId: 'pulse-t',
      scheduler,
      physicalNow: () => WALL_START_MS + 3_200 + (scheduler.now() - 50_000),
      epochMs,
    });
    advanceTo(scheduler, 51_000);
    const timeline = [...first.published, ...nats.published].map((p) => [
      p.frame.beat_index,
      Date.parse(p.frame.deadline_at) - epochMs,
    ]);
    expect(timeline).toEqual([
      [20, 10_500],
      [21, 11_000],
      [22, 11_500],
      // Beats 23–25 fell in the gap; 26 was due 200 ms before the restart and goes out at once.
      [26, 13_500],
      [27, 14_000],
      [28, 14_500],
    ]);
    expect(new Set(timeline.map(([index]) => windowIdFor('chorus-dev', index, 4))).size).toBe(3);
    await second.stop();
  });

  it('changes the tempo from the next beat, keeping the deadline it announced', async () => {
    const { scheduler, pulse, published } = await virtualPulse({ tempoBpm: 60 });
    advanceTo(scheduler, 1000);
    pulse.setTempo(120);
    advanceTo(scheduler, 3000);
    expect(
      published.map((p) => [
        p.frame.beat_index,
        p.frame.tempo_bpm,
        Date.parse(p.frame.deadline_at),
      ]),
    ).toEqual([
      [0, 60, WALL_START_MS + 1000],
      [1, 60, WALL_START_MS + 2000],
      [2, 120, WALL_START_MS + 2500],
      [3, 120, WALL_START_MS + 3000],
      [4, 120, WALL_START_MS + 3500],
    ]);
    await pulse.stop();
  });

  it('refuses a bad tempo with a ConfigError naming tempoBpm, and keeps its own', async () => {
    const { scheduler, pulse, published } = await virtualPulse();
    expect(() => pulse.setTempo(0)).toThrow(ConfigError);
    expect(() => pulse.setTempo(6001)).toThrow(/tempoBpm/);
    advanceTo(scheduler, 500);
    expect(published.map((p) => p.frame.tempo_bpm)).toEqual([120, 120]);
    await pulse.stop();
  });

  it('stops publishing on stop(), never closes a shared connection, and is idempotent', async () => {
    const { scheduler, pulse, published, spy } = await virtualPulse();
    advanceTo(scheduler, 500);
    const first = pulse.stop();
    expect(pulse.stop()).toBe(first);
    await first;
    await pulse[Symbol.asyncDispose]();
    pulse.setTempo(60); // harmless after stop
    advanceTo(scheduler, 10000);
    expect(published).toHaveLength(2);
    expect(pendingTimers(scheduler)).toBe(0);
    expect(spy.close).not.toHaveBeenCalled();
  });

  it('survives publish errors, telling onError, and keeps its schedule', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown) => {
      errors.push(error);
      throw new Error('a reporter that fails');
    };
    const { scheduler, pulse, published, failPublishWith } = await virtualPulse({ onError });
    const failure = new Error('CONNECTION_CLOSED');
    failPublishWith(failure);
    advanceTo(scheduler, 1000); // beats 1 and 2 fail
    failPublishWith(undefined);
    advanceTo(scheduler, 1500);
    expect(errors).toEqual([failure, failure]);
    expect(published.map((p) => p.frame.beat_index)).toEqual([0, 3]);
    await pulse.stop();
  });

  it('stops its schedule when the connection closes for good', async () => {
    const { scheduler, published, closeFromOutside } = await virtualPulse();
    closeFromOutside();
    await Promise.resolve();
    await Promise.resolve();
    advanceTo(scheduler, 5000);
    expect(published).toHaveLength(1);
    expect(pendingTimers(scheduler)).toBe(0);
  });

  it('rejects invalid options with a ConfigError before publishing anything', async () => {
    const nats = fakeConnection();
    await expect(
      startPulse({ connection: nats.connection, clusterId: 'chorus-dev', phases: ['degraded'] }),
    ).rejects.toMatchObject({ name: 'ConfigError', field: 'phases' });
    await expect(
      startPulse({ connection: nats.connection, clusterId: 'c', signingKey: new Uint8Array(31) }),
    ).rejects.toMatchObject({ name: 'ConfigError', field: 'signingKey' });
    expect(nats.published).toHaveLength(0);
  });
});

describe('startPulse on the default clocks', () => {
  afterEach(() => jest.useRealTimers());

  it('runs on asyncScheduler, performance.now and Date.now (here, jest fake timers)', async () => {
    jest.useFakeTimers({ now: WALL_START_MS });
    const nats = fakeConnection();
    const pulse = await startPulse({ connection: nats.connection, clusterId: 'c', tempoBpm: 240 });
    jest.advanceTimersByTime(1000);
    expect(nats.published.map((p) => p.frame.beat_index)).toEqual([0, 1, 2, 3, 4]);
    expect(nats.published.map((p) => Date.parse(p.frame.deadline_at))).toEqual(
      [1, 2, 3, 4, 5].map((k) => WALL_START_MS + k * 250),
    );
    await pulse.stop();
    expect(jest.getTimerCount()).toBe(0);
  });

  it("keeps its beat through a step of the wall clock: the schedule reads performance.now, not asyncScheduler's Date.now", async () => {
    jest.useFakeTimers({ now: WALL_START_MS });
    const nats = fakeConnection();
    const pulse = await startPulse({ connection: nats.connection, clusterId: 'c', tempoBpm: 240 });
    jest.advanceTimersByTime(500);
    jest.setSystemTime(WALL_START_MS + 3_600_000); // an hour ahead; performance.now() is not moved
    jest.advanceTimersByTime(500);
    expect(nats.published.map((p) => p.frame.beat_index)).toEqual([0, 1, 2, 3, 4]);
    await pulse.stop();
  });
});
