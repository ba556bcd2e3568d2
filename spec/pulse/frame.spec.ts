import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HybridLogicalClock, parseHlc } from '../../lib/clock/hlc';
import { decodeStrictBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { verifyBytes } from '../../lib/crypto/signature';
import { BeatFrameSchema } from '../../lib/protocol/beat-frame';
import { windowIdFor } from '../../lib/protocol/windows';
import {
  formatDeadline,
  makePulseFrame,
  pulsePhase,
  type PulseFrameInput,
} from '../../lib/pulse/frame';

const windowVectors = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/vectors/windows.json'), 'utf8'),
) as {
  cases: { cluster_id: string; beat_index: number; beats_per_bar: number; window_id: string }[];
};

const WALL_MS = 1_700_000_000_000;
const DEFAULT_PHASES = ['plan', 'work', 'work', 'review'];

function frameInput(overrides: Partial<PulseFrameInput> = {}): PulseFrameInput {
  return {
    clusterId: 'chorus-dev',
    pulseId: 'pulse-a',
    beatIndex: 0,
    tempoBpm: 120,
    beatsPerBar: 4,
    phases: DEFAULT_PHASES,
    clock: new HybridLogicalClock('pulse-a', { physicalNow: () => WALL_MS }),
    deadlineAtMs: WALL_MS + 500,
    ...overrides,
  };
}

describe('makePulseFrame', () => {
  it('fills every BeatFrame field, and the payload is exactly the frame as JSON', () => {
    const { frame, payload, headers } = makePulseFrame(
      frameInput({ beatIndex: 9, tempoBpm: 90.5, beatsPerBar: 3 }),
    );
    expect(frame).toEqual({
      type: 'backbeat.beatframe.v1',
      cluster_id: 'chorus-dev',
      pulse_id: 'pulse-a',
      beat_index: 9,
      downbeat: true,
      phase: 'plan',
      hlc: '018bcfe56800:0000:pulse-a',
      deadline_at: '2023-11-14T22:13:20.500Z',
      tempo_bpm: 90.5,
      window_id: windowIdFor('chorus-dev', 9, 3),
      beats_per_bar: 3,
    });
    expect(BeatFrameSchema.parse(frame)).toEqual(frame);
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual(frame);
    expect(Object.isFrozen(frame)).toBe(true);
    expect(headers).toEqual({});
  });

  it('uses the protocol window of each beat (the window vectors)', () => {
    for (const vector of windowVectors.cases) {
      const { frame } = makePulseFrame(
        frameInput({
          clusterId: vector.cluster_id,
          beatIndex: vector.beat_index,
          beatsPerBar: vector.beats_per_bar,
        }),
      );
      expect(frame.window_id).toBe(vector.window_id);
    }
  });

  it('marks a downbeat exactly when the index is a multiple of the bar length', () => {
    for (const beatsPerBar of [1, 3, 4, 7, 64]) {
      for (let beatIndex = 0; beatIndex < 130; beatIndex++) {
        const { frame } = makePulseFrame(frameInput({ beatIndex, beatsPerBar }));
        expect(frame.downbeat).toBe(beatIndex % beatsPerBar === 0);
      }
    }
  });

  it('cycles the phases within each bar, restarting on each downbeat', () => {
    const phasesOf = (beatsPerBar: number, phases: string[], count: number) =>
      Array.from(
        { length: count },
        (_, beatIndex) =>
          makePulseFrame(frameInput({ beatIndex, beatsPerBar, phases })).frame.phase,
      );
    expect(phasesOf(4, DEFAULT_PHASES, 8)).toEqual([...DEFAULT_PHASES, ...DEFAULT_PHASES]);
    // A bar of 3 is not a multiple of 2 phases: each bar starts again at 'a'.
    expect(phasesOf(3, ['a', 'b'], 7)).toEqual(['a', 'b', 'a', 'a', 'b', 'a', 'a']);
    // More phases than beats in a bar: the last ones are never reached.
    expect(phasesOf(2, ['a', 'b', 'c'], 4)).toEqual(['a', 'b', 'a', 'b']);
    expect(pulsePhase(13, 5, ['x', 'y'])).toBe('y');
  });

  it('ticks the clock once per frame: stamps increase and name the pulse', () => {
    let wallMs = WALL_MS;
    const clock = new HybridLogicalClock('pulse-b', { physicalNow: () => wallMs });
    const stamps = [0, 1, 2].map((beatIndex) => {
      if (beatIndex === 2) wallMs += 500;
      return makePulseFrame(frameInput({ pulseId: 'pulse-b', beatIndex, clock })).frame.hlc;
    });
    expect(stamps.map((stamp) => parseHlc(stamp))).toEqual([
      { l: WALL_MS, c: 0, node: 'pulse-b' },
      { l: WALL_MS, c: 1, node: 'pulse-b' },
      { l: WALL_MS + 500, c: 0, node: 'pulse-b' },
    ]);
    expect(clock.current()).toBe(stamps[2]);
  });

  it('writes deadline_at in UTC with exactly three fraction digits and Z', () => {
    const cases: [number, string][] = [
      [WALL_MS, '2023-11-14T22:13:20.000Z'],
      [WALL_MS + 7, '2023-11-14T22:13:20.007Z'],
      [WALL_MS + 499.6, '2023-11-14T22:13:20.500Z'],
      [0, '1970-01-01T00:00:00.000Z'],
    ];
    for (const [wallMs, text] of cases) {
      expect(formatDeadline(wallMs)).toBe(text);
      expect(makePulseFrame(frameInput({ deadlineAtMs: wallMs })).frame.deadline_at).toBe(text);
    }
  });

  it('signs the exact payload bytes: x-signature and x-public-key verify', () => {
    const keyPair = generateSigningKey();
    const signingKey = parseSigningKey(keyPair.secretKey);
    const { payload, headers } = makePulseFrame(frameInput({ beatIndex: 5, signingKey }));
    expect(Object.keys(headers).sort()).toEqual(['x-public-key', 'x-signature']);
    const publicKey = decodeStrictBase64(headers['x-public-key'], 32);
    const signature = decodeStrictBase64(headers['x-signature'], 64);
    expect(publicKey).toEqual(keyPair.publicKey);
    expect(signature).not.toBeNull();
    expect(verifyBytes(publicKey!, payload, signature!)).toBe(true);
    const tampered = Uint8Array.from(payload);
    tampered[tampered.length - 2] ^= 1;
    expect(verifyBytes(publicKey!, tampered, signature!)).toBe(false);
  });

  it('signs with a 32-byte seed as well as with a 64-byte secret key', () => {
    const keyPair = generateSigningKey();
    const fromSeed = makePulseFrame(
      frameInput({ signingKey: parseSigningKey(keyPair.secretKey.slice(0, 32)) }),
    );
    const fromSecret = makePulseFrame(
      frameInput({ signingKey: parseSigningKey(keyPair.secretKey) }),
    );
    // Same clock reading, same key: Ed25519 is deterministic.
    expect(fromSeed.headers).toEqual(fromSecret.headers);
  });
});
