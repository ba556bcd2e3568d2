import fc from 'fast-check';
import { headers as natsHeaders } from 'nats';
import frameVectors from '../fixtures/vectors/frames.json';
import windowVectors from '../fixtures/vectors/windows.json';
import { encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { signBytes } from '../../lib/crypto/signature';
import { BeatFrameSchema } from '../../lib/protocol/beat-frame';
import type { HeadersLike } from '../../lib/protocol/headers';
import {
  FRAME_REJECT_REASONS,
  judgeFrame,
  type FrameVerdict,
  type JudgeContext,
} from '../../lib/protocol/judge';
import { windowIdFor } from '../../lib/protocol/windows';

const CLUSTER = frameVectors.cluster_id;
/** 2023-11-14T22:13:20.000Z, the physical part of the vectors' stamps. */
const NOW = 1_700_000_000_000;
const AGENT_HLC = '018bcfe56800:0005:my-service';
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

function context(overrides: Partial<JudgeContext> = {}): JudgeContext {
  return {
    clusterId: CLUSTER,
    acceptLegacyFrames: false,
    maxClockSkewMs: 60000,
    physicalNow: () => NOW,
    legacy: jest.fn(() => ({ beatsPerBar: 4, tempoBpm: 120, hlc: AGENT_HLC })),
    ...overrides,
  };
}

/** The window of a beat, or a placeholder when the test's values have none. */
function windowOrPlaceholder(cluster: string, beatIndex: number, beatsPerBar: number): string {
  try {
    return windowIdFor(cluster, beatIndex, beatsPerBar);
  } catch {
    return 'no-window';
  }
}

/** A frame that is valid unless `fields` say otherwise (downbeat and window follow the index). */
function frame(fields: Record<string, unknown> = {}): Record<string, unknown> {
  // Fields of any JSON shape (the property test's) override these; only numbers and strings are
  // used to derive the downbeat and window (an object without a prototype cannot be `%`-ed).
  const beatIndex = typeof fields.beat_index === 'number' ? fields.beat_index : 8;
  const beatsPerBar = typeof fields.beats_per_bar === 'number' ? fields.beats_per_bar : 4;
  const cluster = typeof fields.cluster_id === 'string' ? fields.cluster_id : CLUSTER;
  return {
    type: 'backbeat.beatframe.v1',
    cluster_id: cluster,
    pulse_id: 'pulse-a',
    beat_index: beatIndex,
    downbeat: beatIndex % beatsPerBar === 0,
    phase: 'plan',
    hlc: '018bcfe56800:0000:pulse-a',
    deadline_at: '2023-11-14T22:13:20.500Z',
    tempo_bpm: 120,
    window_id: windowOrPlaceholder(cluster, beatIndex, beatsPerBar),
    ...fields,
  };
}

const judge = (payload: unknown, ctx = context(), headers?: HeadersLike) =>
  judgeFrame(bytes(typeof payload === 'string' ? payload : JSON.stringify(payload)), headers, ctx);

const reasonOf = (verdict: FrameVerdict) => (verdict.ok ? 'accepted' : verdict.reason);

describe('judgeFrame on the frame vectors (legacy frames off)', () => {
  it.each(frameVectors.cases)('$why: $verdict', (vector) => {
    const verdict = judgeFrame(bytes(vector.payload), undefined, context());
    expect(reasonOf(verdict)).toBe(vector.verdict);
    if (verdict.ok) {
      expect(verdict.source).toBe('pulse');
      expect(verdict.hlcSkew).toBe((vector as { flag?: string }).flag === 'hlc-skew');
    }
  });

  it('returns accepted frames frozen, unknown fields stripped, beats_per_bar filled', () => {
    const [plain, withExtra] = frameVectors.cases;
    const verdict = judgeFrame(bytes(plain.payload), undefined, context());
    expect(verdict.ok && Object.isFrozen(verdict.frame)).toBe(true);
    expect(verdict.ok && verdict.frame).toEqual({
      ...JSON.parse(plain.payload),
      beats_per_bar: 4,
    });
    const extra = judgeFrame(bytes(withExtra.payload), undefined, context());
    const { extra: _dropped, ...expected } = JSON.parse(withExtra.payload);
    expect(extra.ok && extra.frame).toEqual(expected);
    expect(extra.ok && extra.frame.beats_per_bar).toBe(3);
  });
});

describe('judgeFrame on the window vectors', () => {
  it.each(windowVectors.cases)(
    'accepts cluster $cluster_id beat $beat_index in window $window_id, and no other window',
    ({ cluster_id, beat_index, beats_per_bar, window_id }) => {
      const ctx = context({ clusterId: cluster_id });
      const fields = { cluster_id, beat_index, beats_per_bar, window_id };
      expect(reasonOf(judge(frame(fields), ctx))).toBe('accepted');
      const otherBar = windowIdFor(cluster_id, beat_index + beats_per_bar, beats_per_bar);
      expect(reasonOf(judge(frame({ ...fields, window_id: otherBar }), ctx))).toBe('inconsistent');
    },
  );
});

describe('judgeFrame checks', () => {
  it('takes exactly 4096 bytes and refuses 4097 before parsing', () => {
    const base = JSON.stringify(frame());
    const full = base.slice(0, -1) + ' '.repeat(4096 - base.length) + '}';
    expect(bytes(full).byteLength).toBe(4096);
    expect(reasonOf(judge(full))).toBe('accepted');
    expect(reasonOf(judge(full.slice(0, -1) + ' }'))).toBe('too-large');
  });

  it('refuses bytes that are not UTF-8 as not-json', () => {
    const payload = bytes(JSON.stringify(frame({ phase: 'xx' })));
    payload[payload.indexOf(0x78)] = 0xff;
    expect(reasonOf(judgeFrame(payload, undefined, context()))).toBe('not-json');
  });

  it('checks in the closed order: other-cluster before inconsistent', () => {
    const payload = frame({ cluster_id: 'chorus-devx', downbeat: false, window_id: 'nope' });
    expect(reasonOf(judge(payload))).toBe('other-cluster');
  });

  it('checks in the closed order: schema before other-cluster, inconsistent before reserved-phase', () => {
    expect(reasonOf(judge(frame({ cluster_id: 'other', tempo_bpm: 0 })))).toBe('schema');
    expect(reasonOf(judge(frame({ phase: 'legacy', downbeat: false })))).toBe('inconsistent');
    expect(reasonOf(judge(frame({ phase: 'legacy' })))).toBe('reserved-phase');
  });

  it('checks in the closed order: too-large before not-json, legacy-off before schema', () => {
    expect(reasonOf(judge('{'.repeat(4097)))).toBe('too-large');
    expect(reasonOf(judge({ bar: 0, beat: 'x' }))).toBe('legacy-off');
  });

  it('reads a payload without type and with bar and beat as legacy-shaped only', () => {
    expect(reasonOf(judge({ bar: 1 }))).toBe('schema');
    expect(reasonOf(judge({ beat: 1 }))).toBe('schema');
    expect(reasonOf(judge({ type: 'backbeat.beatframe.v1', bar: 1, beat: 1 }))).toBe('schema');
    expect(reasonOf(judge({ type: null, bar: 1, beat: 1 }))).toBe('schema');
    expect(reasonOf(judge([{ bar: 1, beat: 1 }]))).toBe('schema');
    expect(reasonOf(judge({ bar: 1, beat: 1 }))).toBe('legacy-off');
  });

  it('accepts indexes up to 2^53-1 with up to 64 beats per bar', () => {
    const last = Number.MAX_SAFE_INTEGER;
    for (const beatsPerBar of [1, 4, 63, 64]) {
      const verdict = judge(frame({ beat_index: last, beats_per_bar: beatsPerBar }));
      expect(verdict.ok && verdict.frame.beat_index).toBe(last);
    }
    expect(reasonOf(judge(frame({ beat_index: last - 63, beats_per_bar: 64 })))).toBe('accepted');
    expect(judge(frame({ beat_index: last - 63, beats_per_bar: 64 }))).toMatchObject({
      frame: { downbeat: true },
    });
    expect(reasonOf(judge(frame({ beats_per_bar: 65 })))).toBe('schema');
  });

  it('flags hlc-skew only beyond maxClockSkewMs ahead of the wall clock', () => {
    const stampAt = (ms: number) => `${ms.toString(16).padStart(12, '0')}:0000:pulse-a`;
    const skew = (ms: number) => {
      const verdict = judge(frame({ hlc: stampAt(ms) }));
      return verdict.ok && verdict.hlcSkew;
    };
    expect(skew(NOW + 60000)).toBe(false);
    expect(skew(NOW + 60001)).toBe(true);
    expect(skew(NOW - 1_000_000)).toBe(false);
  });

  it('judges plainly valid frames without calling the zod schema', () => {
    const safeParse = jest.spyOn(BeatFrameSchema, 'safeParse');
    try {
      expect(reasonOf(judge(frame()))).toBe('accepted');
      expect(safeParse).not.toHaveBeenCalled();
      expect(reasonOf(judge(frame({ phase: '😀'.repeat(20) })))).toBe('accepted');
      expect(safeParse).toHaveBeenCalledTimes(1);
    } finally {
      safeParse.mockRestore();
    }
  });

  it('never calls legacy() for pulse frames', () => {
    const ctx = context({ acceptLegacyFrames: true });
    judge(frame(), ctx);
    expect(ctx.legacy).not.toHaveBeenCalled();
  });

  it('gives a verdict, never an exception, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.boolean(), (payload, legacy) => {
        const verdict = judgeFrame(payload, undefined, context({ acceptLegacyFrames: legacy }));
        expect(verdict.ok || FRAME_REJECT_REASONS.includes(verdict.reason)).toBe(true);
      }),
    );
  });

  it('gives a verdict, never an exception, for any JSON and any headers', () => {
    const { publicKey } = generateSigningKey();
    const anyHeaders = fc.option(
      fc.dictionary(
        fc.constantFrom('x-signature', 'X-Public-Key', 'x-public-key', 'other'),
        fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })),
      ),
      { nil: undefined },
    );
    const anyJson = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          bar: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
          beat: fc.oneof(fc.integer({ min: -1, max: 70 }), fc.jsonValue()),
          beats_per_bar: fc.oneof(fc.integer({ min: -1, max: 70 }), fc.jsonValue()),
          tempo_bpm: fc.oneof(fc.double(), fc.jsonValue()),
          cluster_id: fc.oneof(fc.constant(CLUSTER), fc.jsonValue()),
        },
        { requiredKeys: ['bar', 'beat'] },
      ),
      fc
        .dictionary(fc.constantFrom(...Object.keys(frame())), fc.jsonValue())
        .map((fields) => frame(fields)),
    );
    fc.assert(
      fc.property(
        anyJson,
        anyHeaders,
        fc.boolean(),
        fc.boolean(),
        (json, headers, legacy, keys) => {
          const ctx = context({
            acceptLegacyFrames: legacy,
            ...(keys && { trustedPulseKeys: [publicKey] }),
          });
          const verdict = judgeFrame(bytes(JSON.stringify(json) ?? ''), headers, ctx);
          if (verdict.ok) {
            expect(Object.isFrozen(verdict.frame)).toBe(true);
            expect(verdict.frame.downbeat).toBe(
              verdict.frame.beat_index % verdict.frame.beats_per_bar === 0,
            );
          } else {
            expect(FRAME_REJECT_REASONS).toContain(verdict.reason);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives a verdict even when the context throws', () => {
    const ctx = context({
      acceptLegacyFrames: true,
      physicalNow: () => {
        throw new Error('clock broke');
      },
    });
    expect(reasonOf(judge(frame(), ctx))).toBe('schema');
  });
});

describe('judgeFrame with legacy frames on', () => {
  const legacyContext = (known = { beatsPerBar: 4, tempoBpm: 120 }) =>
    context({
      acceptLegacyFrames: true,
      legacy: jest.fn(() => ({ ...known, hlc: AGENT_HLC })),
    });

  it('converts a bare legacy frame with the last known bar length and tempo', () => {
    const ctx = legacyContext();
    const verdict = judge({ bar: 3, beat: 2 }, ctx);
    expect(verdict).toEqual({
      ok: true,
      source: 'legacy',
      hlcSkew: false,
      frame: {
        type: 'backbeat.beatframe.v1',
        cluster_id: CLUSTER,
        pulse_id: 'legacy',
        beat_index: 9,
        downbeat: false,
        phase: 'legacy',
        hlc: AGENT_HLC,
        deadline_at: '2023-11-14T22:13:20.500Z',
        tempo_bpm: 120,
        window_id: windowIdFor(CLUSTER, 9, 4),
        beats_per_bar: 4,
      },
    });
    expect(verdict.ok && Object.isFrozen(verdict.frame)).toBe(true);
    expect(ctx.legacy).toHaveBeenCalledTimes(1);
  });

  it('uses the bar length, tempo and cluster the frame carries', () => {
    const verdict = judge(
      { bar: 3, beat: 1, beats_per_bar: 3, tempo_bpm: 90, cluster_id: CLUSTER },
      legacyContext(),
    );
    expect(verdict).toMatchObject({
      ok: true,
      frame: {
        beat_index: 6,
        downbeat: true,
        beats_per_bar: 3,
        tempo_bpm: 90,
        window_id: windowIdFor(CLUSTER, 6, 3),
        // arrival + 666.67 ms, written with 3 fraction digits
        deadline_at: '2023-11-14T22:13:20.666Z',
      },
    });
  });

  it('never flags hlc-skew: the stamp is the agent’s own', () => {
    const ctx = context({
      acceptLegacyFrames: true,
      legacy: () => ({ beatsPerBar: 4, tempoBpm: 60, hlc: '03bb2cc3d800:0000:my-service' }),
    });
    expect(judge({ bar: 1, beat: 1 }, ctx)).toMatchObject({ ok: true, hlcSkew: false });
  });

  it('measures beat against the bar length it carries, else the last known one', () => {
    expect(reasonOf(judge({ bar: 1, beat: 4, beats_per_bar: 3 }, legacyContext()))).toBe('schema');
    expect(reasonOf(judge({ bar: 1, beat: 5 }, legacyContext()))).toBe('schema');
    const eight = legacyContext({ beatsPerBar: 8, tempoBpm: 60 });
    expect(judge({ bar: 2, beat: 5 }, eight)).toMatchObject({
      frame: { beat_index: 12, beats_per_bar: 8 },
    });
    expect(judge({ bar: 1, beat: 64, beats_per_bar: 64 }, legacyContext())).toMatchObject({
      frame: { beat_index: 63, beats_per_bar: 64 },
    });
  });

  it.each([
    ['bar 0', { bar: 0, beat: 1 }],
    ['beat 0', { bar: 1, beat: 0 }],
    ['fractional bar', { bar: 1.5, beat: 1 }],
    ['bar as string', { bar: '1', beat: 1 }],
    ['tempo 0', { bar: 1, beat: 1, tempo_bpm: 0 }],
    ['beats_per_bar 65', { bar: 1, beat: 1, beats_per_bar: 65 }],
    ['null beat', { bar: 1, beat: null }],
  ])('refuses %s as schema', (_why, payload) => {
    expect(reasonOf(judge(payload, legacyContext()))).toBe('schema');
  });

  it('refuses another cluster as other-cluster, after schema', () => {
    expect(reasonOf(judge({ bar: 1, beat: 1, cluster_id: 'chorus-devx' }, legacyContext()))).toBe(
      'other-cluster',
    );
    expect(reasonOf(judge({ bar: 1, beat: 9, cluster_id: 'chorus-devx' }, legacyContext()))).toBe(
      'schema',
    );
  });

  it('maps extreme bars exactly up to 2^53-1 and refuses beyond', () => {
    const last = judge({ bar: 140737488355328, beat: 64, beats_per_bar: 64 }, legacyContext());
    expect(last).toMatchObject({
      ok: true,
      frame: { beat_index: Number.MAX_SAFE_INTEGER, downbeat: false },
    });
    expect(
      reasonOf(judge({ bar: 140737488355329, beat: 1, beats_per_bar: 64 }, legacyContext())),
    ).toBe('schema');
    expect(reasonOf(judge({ bar: Number.MAX_SAFE_INTEGER, beat: 1 }, legacyContext()))).toBe(
      'schema',
    );
    expect(
      judge({ bar: Number.MAX_SAFE_INTEGER, beat: 1, beats_per_bar: 1 }, legacyContext()),
    ).toMatchObject({ frame: { beat_index: Number.MAX_SAFE_INTEGER - 1, downbeat: true } });
  });
});

describe('judgeFrame with trusted pulse keys', () => {
  const pulseKey = parseSigningKey(generateSigningKey().secretKey);
  const strangerKey = parseSigningKey(generateSigningKey().secretKey);
  const trusted = context({ trustedPulseKeys: [Uint8Array.from(pulseKey.publicKey)] });

  function signed(payload: string, key = pulseKey): Record<string, string> {
    return {
      'x-signature': encodeBase64(signBytes(key, bytes(payload))),
      'x-public-key': key.publicKeyBase64,
    };
  }
  const text = JSON.stringify(frame());
  const verdictOf = (headers: HeadersLike | undefined, payload = text, ctx = trusted) =>
    reasonOf(judgeFrame(bytes(payload), headers, ctx));

  it('accepts a frame signed by a trusted key, header names in any case', () => {
    expect(verdictOf(signed(text))).toBe('accepted');
    const { 'x-signature': signature, 'x-public-key': key } = signed(text);
    expect(verdictOf({ 'X-Signature': signature, 'X-PUBLIC-KEY': key })).toBe('accepted');
  });

  it('accepts nats.js headers', () => {
    const headers = natsHeaders();
    for (const [name, value] of Object.entries(signed(text))) headers.set(name, value);
    expect(verdictOf(headers)).toBe('accepted');
  });

  it('refuses an unsigned frame', () => {
    expect(verdictOf(undefined)).toBe('unsigned-frame');
    expect(verdictOf({ 'x-public-key': pulseKey.publicKeyBase64 })).toBe('unsigned-frame');
  });

  it('refuses a frame signed by a key it does not trust', () => {
    expect(verdictOf(signed(text, strangerKey))).toBe('untrusted-pulse');
  });

  it('refuses a tampered payload', () => {
    const tampered = JSON.stringify(frame({ phase: 'work' }));
    expect(verdictOf(signed(text), tampered)).toBe('bad-signature');
    expect(verdictOf(signed(text), text + ' ')).toBe('bad-signature');
  });

  it('refuses a signature header given twice', () => {
    const good = signed(text);
    expect(verdictOf({ ...good, 'X-Signature': good['x-signature'] })).toBe('bad-signature');
    expect(verdictOf({ ...good, 'x-signature': [good['x-signature'], good['x-signature']] })).toBe(
      'bad-signature',
    );
    expect(verdictOf({ ...good, 'X-Public-Key': good['x-public-key'] })).toBe('bad-signature');
  });

  it('refuses malformed signature headers', () => {
    const good = signed(text);
    expect(verdictOf({ 'x-signature': good['x-signature'] })).toBe('bad-signature');
    expect(verdictOf({ ...good, 'x-public-key': good['x-public-key'].slice(0, -1) })).toBe(
      'bad-signature',
    );
    expect(verdictOf({ ...good, 'x-signature': good['x-signature'].replace(/==$/, '') })).toBe(
      'bad-signature',
    );
  });

  it('compares keys as bytes, whatever array holds them', () => {
    const copy = context({
      trustedPulseKeys: [strangerKey.publicKey, new Uint8Array(pulseKey.publicKey)],
    });
    expect(verdictOf(signed(text), text, copy)).toBe('accepted');
  });

  it('ignores signatures when the trusted key list is empty', () => {
    expect(verdictOf(undefined, text, context({ trustedPulseKeys: [] }))).toBe('accepted');
  });

  it('checks signatures after the frame checks', () => {
    const reserved = JSON.stringify(frame({ phase: 'degraded' }));
    expect(verdictOf(undefined, reserved)).toBe('reserved-phase');
    expect(verdictOf(undefined, JSON.stringify(frame({ cluster_id: 'x' })))).toBe('other-cluster');
  });

  it('requires signed legacy frames too', () => {
    const ctx = context({ acceptLegacyFrames: true, trustedPulseKeys: [pulseKey.publicKey] });
    const legacy = '{"bar":1,"beat":1}';
    expect(verdictOf(undefined, legacy, ctx)).toBe('unsigned-frame');
    expect(verdictOf(signed(legacy, strangerKey), legacy, ctx)).toBe('untrusted-pulse');
    expect(verdictOf(signed(legacy), legacy, ctx)).toBe('accepted');
  });
});
