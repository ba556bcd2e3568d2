/**
 * Fuzzing with fast-check. Over NATS: 10,000 mutated and random payloads, each published on the
 * beat subject right after the valid, signed frame it was made from, to two live clients (one
 * open to unsigned and legacy frames, one trusting only the pulse's key). In process: 10,000
 * mutated signed claims and junk messages fed to `verifyStatus`. Nothing may throw or end a
 * stream, every payload must be counted under exactly one outcome from the closed lists, and the
 * valid traffic in between must still be delivered.
 *
 * Runs are random; a failure names its seed, and `CHAOS_SEED=<seed>` replays it.
 */
import fc from 'fast-check';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { Subject } from 'rxjs';
import { makeDefaultTaskId } from '../../lib/claims/default-task-id';
import { sealClaim, type SealedClaim } from '../../lib/claims/seal-claim';
import { createClient, type BackbeatClient } from '../../lib/client';
import type { ClientParts } from '../../lib/client-parts';
import { formatHlc, HybridLogicalClock } from '../../lib/clock/hlc';
import { encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { signBytes } from '../../lib/crypto/signature';
import { STATUS_REJECT_REASONS } from '../../lib/observers/judge-claim';
import {
  verifyStatus,
  type StatusMessage,
  type StatusVerdict,
} from '../../lib/operators/verify-status';
import { FRAME_REJECT_REASONS } from '../../lib/protocol/judge';
import { beatSubject, statusSubject } from '../../lib/protocol/subjects';
import { windowIdFor } from '../../lib/protocol/windows';
import { makePulseFrame } from '../../lib/pulse/frame';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { clientHasSeen, rawConnection } from '../client/client-support';
import { logBeats, reportFigures, timelineViolations, type BeatLog } from './chaos-support';

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 2 ** 31);
const CLUSTER = 'chaos-fuzz';
const PULSE_ID = 'fuzz-pulse';
const VALID_FRAMES = 200;
const MUTANTS_PER_FRAME = 50; // 10,000 in all
const CLAIM_RUNS = 10_000;
const encoder = new TextEncoder();

type HeaderRecord = Record<string, string | string[]>;
interface Payload {
  readonly kind: string;
  readonly data: Uint8Array;
  readonly headers: HeaderRecord;
}

/** Appends the seed to a failure, so that `CHAOS_SEED` can replay it. */
async function withSeed(run: () => Promise<void> | void): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof Error) error.message += `\n(fuzz seed ${SEED}: CHAOS_SEED=${SEED})`;
    throw error;
  }
}

/** Values of other types than a field's, and values far out of range. */
const otherTypes = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue(), { maxKeys: 3 }),
);
const hugeValues = fc.constantFrom<unknown>(
  1e308,
  -1e308,
  2 ** 53,
  2 ** 53 + 2,
  -1,
  0.5,
  1e-300,
  'x'.repeat(5000),
  'é'.repeat(1500),
  '\u0000'.repeat(40),
  Array.from({ length: 1500 }, () => 0),
  JSON.parse('['.repeat(500) + ']'.repeat(500)) as unknown,
);

/** Byte-level damage: bit flips, truncation, spliced junk, a byte order mark, invalid UTF-8. */
function byteMutants(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const last = bytes.length - 1;
  return fc.oneof(
    fc
      .array(fc.tuple(fc.nat(last), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
      .map((flips) => {
        const copy = Uint8Array.from(bytes);
        for (const [at, bit] of flips) copy[at] ^= 1 << bit;
        return copy;
      }),
    fc.nat(last).map((length) => bytes.slice(0, length)),
    fc.tuple(fc.nat(last), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, junk]) => {
      return Uint8Array.from([...bytes.slice(0, at), ...junk, ...bytes.slice(at)]);
    }),
    fc.constant(Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes])),
    fc
      .nat(last)
      .map((at) => Uint8Array.from([...bytes.slice(0, at), 0xc3, 0x28, ...bytes.slice(at)])),
  );
}

/** Field-level damage of a JSON object: deletions, type swaps, huge values, plausible edits. */
function objectMutants(
  object: Record<string, unknown>,
  plausible: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(object);
  const replace = (key: string, value: unknown) => ({ ...object, [key]: value });
  return fc.oneof(
    fc.subarray(keys, { minLength: 1 }).map((gone) => {
      const copy = { ...object };
      for (const key of gone) delete copy[key];
      return copy;
    }),
    fc.tuple(fc.constantFrom(...keys), otherTypes).map(([key, value]) => replace(key, value)),
    fc.tuple(fc.constantFrom(...keys), hugeValues).map(([key, value]) => replace(key, value)),
    fc
      .tuple(fc.constantFrom(...Object.keys(plausible)), fc.constant(null))
      .chain(([key]) => plausible[key].map((value) => replace(key, value))),
    fc
      .dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue(), {
        minKeys: 1,
        maxKeys: 3,
      })
      .map((extra) => ({ ...extra, ...object })),
  );
}

/** Junk that was never a frame or a claim. */
const junk: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.jsonValue().map((value) => encoder.encode(JSON.stringify(value) ?? 'undefined')),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => encoder.encode(text)),
  fc.integer({ min: 4097, max: 6000 }).map((n) => encoder.encode(`{"a":"${'x'.repeat(n)}"}`)),
  fc
    .record(
      {
        bar: fc.oneof(fc.integer({ min: -2, max: 2 ** 40 }), fc.string()),
        beat: fc.oneof(fc.integer({ min: -2, max: 80 }), fc.double()),
        beats_per_bar: fc.integer({ min: -1, max: 70 }),
        tempo_bpm: fc.oneof(fc.double({ min: -10, max: 7000 }), fc.string()),
        cluster_id: fc.constantFrom(CLUSTER, 'elsewhere', ''),
      },
      { requiredKeys: [] },
    )
    .map((legacy) => encoder.encode(JSON.stringify(legacy))),
);

/** The mutants of one signed frame: its payload, object or headers damaged, or plain junk. */
function frameMutants(
  frame: Record<string, unknown>,
  payload: Uint8Array,
  signed: HeaderRecord,
  pulseKey: ReturnType<typeof parseSigningKey>,
  foreignKey: ReturnType<typeof parseSigningKey>,
): fc.Arbitrary<Payload> {
  const sign = (key: typeof pulseKey, data: Uint8Array): HeaderRecord => ({
    'x-signature': encodeBase64(signBytes(key, data)),
    'x-public-key': key.publicKeyBase64,
  });
  const index = frame.beat_index as number;
  const plausible = {
    pulse_id: fc.constantFrom('other-pulse', 'legacy', 'a'.repeat(128), 'bad id'),
    cluster_id: fc.constantFrom('elsewhere', CLUSTER.toUpperCase()),
    phase: fc.constantFrom('degraded', 'legacy', '', 'p'.repeat(33)),
    downbeat: fc.boolean(),
    // Within the frame's own bar (the same window): at most the next valid frame's index.
    beat_index: fc.integer({ min: index - (index % 4), max: index - (index % 4) + 3 }),
    tempo_bpm: fc.constantFrom(0, 1, 6000, 6001, 120.5),
    beats_per_bar: fc.constantFrom(0, 1, 2, 64, 65),
    hlc: fc.constantFrom(formatHlc(Date.now() + 3_600_000, 0, PULSE_ID), 'not-a-stamp'),
    deadline_at: fc.constantFrom('2024-02-30T00:00:00Z', 'yesterday', '2024-01-01T00:00:00+01:00'),
    window_id: fc.constantFrom(windowIdFor(CLUSTER, index + 4), 'f'.repeat(32)),
    type: fc.constantFrom('backbeat.beatframe.v2', 'backbeat.statusclaim.v1'),
  };
  return fc.oneof(
    // Object damage, sent with the original (now stale) signature, re-signed by the pulse's
    // key, or signed by a foreign key.
    fc
      .tuple(objectMutants(frame, plausible), fc.constantFrom('stale', 'resigned', 'foreign'))
      .map(([object, signing]) => {
        const data = encoder.encode(JSON.stringify(object));
        const headers =
          signing === 'stale' ? signed : sign(signing === 'resigned' ? pulseKey : foreignKey, data);
        return { kind: `object/${signing}`, data, headers };
      }),
    byteMutants(payload).map((data) => ({ kind: 'bytes', data, headers: signed })),
    // The exact payload with its signature headers damaged.
    fc
      .constantFrom(
        { 'x-public-key': signed['x-public-key'] },
        { 'x-signature': signed['x-signature'] },
        {
          ...signed,
          'x-signature': [signed['x-signature'] as string, signed['x-signature'] as string],
        },
        { ...signed, 'x-signature': (signed['x-signature'] as string).replace(/^./, '+') },
        { ...signed, 'x-public-key': 'AAAA' },
        sign(foreignKey, payload),
        { 'X-SIGNATURE': signed['x-signature'], 'X-Public-Key': signed['x-public-key'] },
        {},
      )
      .map((headers) => ({ kind: 'headers', data: payload, headers })),
    junk.map((data) => ({ kind: 'junk', data, headers: {} })),
  );
}

function publish(nc: NatsConnection, subject: string, payload: Payload): void {
  const hdrs = natsHeaders();
  for (const [name, value] of Object.entries(payload.headers)) {
    for (const one of typeof value === 'string' ? [value] : value) hdrs.append(name, one);
  }
  nc.publish(subject, payload.data, { headers: hdrs });
}

/** Frames judged and handed to the engine, yet at or below the last index: `behind`. */
function behindCount(client: BackbeatClient): number {
  return (client as unknown as { parts: ClientParts }).parts.engine.state.counters.behind;
}

describe('fuzzing the beat subject of live clients', () => {
  let server: NatsServerHandle;
  let raw: NatsConnection;
  const clients: BackbeatClient[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop({ timeoutMs: 0 })));
    await raw?.close();
    await server?.stop();
  });

  it('counts each of 10,000 bad payloads under one reason and still delivers the valid frames', () =>
    withSeed(async () => {
      server = await startNatsServer();
      raw = await rawConnection(server.url);
      const pulseKeyPair = generateSigningKey();
      const pulseKey = parseSigningKey(pulseKeyPair.secretKey);
      const foreignKey = parseSigningKey(generateSigningKey().secretKey);
      // A long tolerance: however slowly this machine works through the burst, the clients
      // never degrade in it (degradation is the restarts suite's business).
      const common = { clusterId: CLUSTER, natsUrl: server.url, jitterToleranceMs: 60_000 };
      const open = createClient({ ...common, agentId: 'fuzz-open', acceptLegacyFrames: true });
      const strict = createClient({
        ...common,
        agentId: 'fuzz-strict',
        trustedPulseKeys: [pulseKeyPair.publicKey],
      });
      clients.push(open, strict);
      const logs = new Map<BackbeatClient, BeatLog>(clients.map((c) => [c, logBeats(c.beat$)]));
      await Promise.all(clients.map((client) => client.start()));

      const clock = new HybridLogicalClock(PULSE_ID);
      const validIndexes: number[] = [];
      const kinds = new Map<string, number>();
      let published = 0;
      for (let k = 1; k <= VALID_FRAMES; k++) {
        // Valid frames a thousand indexes apart: no mutant of one (kept within its bar) can
        // overtake the next.
        const beatIndex = 1000 * k + (k % 4);
        const { frame, payload, headers } = makePulseFrame({
          clusterId: CLUSTER,
          pulseId: PULSE_ID,
          beatIndex,
          tempoBpm: 600,
          beatsPerBar: 4,
          phases: ['plan', 'work'],
          clock,
          deadlineAtMs: Date.now() + 100,
          signingKey: pulseKey,
        });
        validIndexes.push(beatIndex);
        publish(raw, beatSubject(CLUSTER), {
          kind: 'valid',
          data: payload,
          headers: { ...headers },
        });
        published++;
        const mutants = fc.sample(
          frameMutants({ ...frame }, payload, { ...headers }, pulseKey, foreignKey),
          { numRuns: MUTANTS_PER_FRAME, seed: SEED + k },
        );
        for (const mutant of mutants) {
          publish(raw, beatSubject(CLUSTER), mutant);
          kinds.set(mutant.kind, (kinds.get(mutant.kind) ?? 0) + 1);
          published++;
        }
      }
      for (const client of clients) await clientHasSeen(raw, client);

      const figures: Record<string, unknown> = {
        seed: SEED,
        published,
        kinds: Object.fromEntries(kinds),
      };
      for (const client of clients) {
        const { beats } = client.metrics();
        const log = logs.get(client)!;
        expect(beats.received).toBe(published);
        // Every reason is one of the closed list (section 3's, section 9's other-pulse and
        // stale-frame, and the hlc-skew flag).
        expect(Object.keys(beats.rejected).sort()).toEqual(
          [...FRAME_REJECT_REASONS, 'other-pulse', 'stale-frame', 'hlc-skew'].sort(),
        );
        // One outcome each: rejected by the judge, refused as another pulse, delivered, or
        // accepted but at or below the last index (hlc-skew only flags an accepted frame).
        const rejected = Object.entries(beats.rejected)
          .filter(([reason]) => reason !== 'hlc-skew')
          .reduce((sum, [, count]) => sum + count, 0);
        const behind = behindCount(client);
        expect(rejected + beats.delivered + behind).toBe(published);
        // The valid frames, all delivered, in order, on one timeline; the streams still open.
        const delivered = new Set(
          log.beats
            .filter((b) => b.source === 'pulse' && b.pulseId === PULSE_ID)
            .map((b) => b.index),
        );
        expect(validIndexes.filter((index) => !delivered.has(index))).toEqual([]);
        expect(timelineViolations(log.beats)).toEqual([]);
        expect(log.ended).toEqual({ completed: false });
        expect(client.health().connected).toBe(true);
        figures[client === open ? 'open' : 'strict'] = {
          delivered: beats.delivered,
          behind,
          synthetic: beats.synthetic,
          rejected: beats.rejected,
        };
      }
      reportFigures('fuzz-frames', figures);
    }));
});

describe('fuzzing verifyStatus with mutated signed claims and junk', () => {
  const NOW = 1_800_000_000_000;
  const agentKey = parseSigningKey(generateSigningKey().secretKey);
  const otherKey = parseSigningKey(generateSigningKey().secretKey);
  const clock = new HybridLogicalClock('fuzz-agent', { physicalNow: () => NOW });
  const taskId = makeDefaultTaskId();

  const freshClaim = (): SealedClaim =>
    sealClaim(
      { state: 'executing', beatsLeft: 3, progress: 0.25, notes: 'fuzz', waitFor: ['x'] },
      {
        clusterId: CLUSTER,
        agentId: 'fuzz-agent',
        defaultTaskId: taskId,
        beat: { beat_index: 41, window_id: windowIdFor(CLUSTER, 41) },
        hlc: clock.tick(),
        signingKey: agentKey,
      },
    );

  /** Message-shaped junk: not objects, throwing getters, proxies, wrong field types. */
  const junkMessages = fc.oneof(
    fc.jsonValue(),
    fc.constant(undefined),
    fc.record({ subject: otherTypes, data: otherTypes, headers: otherTypes }, { requiredKeys: [] }),
    fc.constant(
      Object.defineProperty({ subject: 'backbeat.c.status.a' }, 'data', {
        get: () => {
          throw new Error('getter');
        },
      }),
    ),
    fc.constant(
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('proxy');
          },
        },
      ),
    ),
  );

  /** The mutants of one sealed claim, as messages. */
  const claimMutants = (sealed: SealedClaim): fc.Arbitrary<unknown> => {
    const subject = sealed.subject;
    const headers: HeaderRecord = { ...sealed.headers };
    const object = { ...sealed.claim } as Record<string, unknown>;
    const resign = (key: typeof agentKey, data: Uint8Array): HeaderRecord => ({
      ...headers,
      'x-signature': encodeBase64(signBytes(key, data)),
      'x-public-key': key.publicKeyBase64,
    });
    const plausible = {
      agent_id: fc.constantFrom('other-agent', 'fuzz agent'),
      cluster_id: fc.constantFrom('elsewhere'),
      state: fc.constantFrom('sleeping', 'DONE', ''),
      beats_left: fc.constantFrom(-1, 2 ** 31, 1.5),
      progress: fc.constantFrom(-0.1, 1.1, Number.NaN),
      notes: fc.constantFrom('n'.repeat(257), ''),
      wait_for: fc.constantFrom(
        [],
        Array.from({ length: 33 }, () => 'w'),
        [''],
      ),
      hlc: fc.constantFrom(
        formatHlc(NOW - 600_000, 0, 'fuzz-agent'),
        formatHlc(NOW + 120_000, 0, 'fuzz-agent'),
      ),
    };
    /** Headers rebuilt from a mutant, as a forger holding the agent's key would send them. */
    const forged = (mutant: Record<string, unknown>, data: Uint8Array): HeaderRecord => {
      const copy: HeaderRecord = { ...resign(agentKey, data) };
      for (const [header, field] of [
        ['x-agent-id', 'agent_id'],
        ['x-window-id', 'window_id'],
        ['x-hlc', 'hlc'],
      ] as const) {
        if (typeof mutant[field] === 'string') copy[header] = mutant[field];
      }
      return copy;
    };
    return fc.oneof(
      fc
        .tuple(
          objectMutants(object, plausible),
          fc.constantFrom('stale', 'resigned', 'foreign', 'forged'),
        )
        .map(([mutant, signing]) => {
          const data = encoder.encode(JSON.stringify(mutant));
          if (signing === 'forged') return { subject, data, headers: forged(mutant, data) };
          return {
            subject,
            data,
            headers:
              signing === 'stale'
                ? headers
                : resign(signing === 'resigned' ? agentKey : otherKey, data),
          };
        }),
      byteMutants(sealed.payload).map((data) => ({ subject, data, headers })),
      fc
        .tuple(
          fc.constantFrom(...Object.keys(headers), 'X-HLC', 'x-extra'),
          fc.oneof(
            fc.constant(undefined),
            fc.string({ maxLength: 100 }),
            fc.array(fc.string(), { maxLength: 3 }),
          ),
        )
        .map(([name, value]) => {
          const copy: HeaderRecord = { ...headers };
          if (value === undefined) delete copy[name];
          else copy[name] = value;
          return { subject, data: sealed.payload, headers: copy };
        }),
      fc.constant(null).map(() => {
        const { 'x-signature': _signature, 'x-public-key': _key, ...unsigned } = headers;
        return { subject, data: sealed.payload, headers: unsigned };
      }),
      fc
        .constantFrom(
          statusSubject(CLUSTER, 'other-agent'),
          statusSubject('elsewhere', 'fuzz-agent'),
          '',
          'backbeat',
        )
        .map((other) => ({ subject: other, data: sealed.payload, headers })),
      junk.map((data) => ({ subject, data, headers: {} })),
      junkMessages,
    );
  };

  it('gives each of 10,000 mutants a verdict from the closed list and accepts every genuine claim', () =>
    withSeed(() => {
      // Typed as messages, fed anything: the operator must judge whatever arrives.
      const input = new Subject<StatusMessage>();
      const verdicts: StatusVerdict[] = [];
      let ended = false;
      input
        .pipe(
          verifyStatus({
            trustedKeys: { 'fuzz-agent': agentKey.publicKey },
            physicalNow: () => NOW,
          }),
        )
        .subscribe({
          next: (verdict) => verdicts.push(verdict),
          error: () => (ended = true),
          complete: () => (ended = true),
        });
      const reasons = new Map<string, number>();
      let fed = 0;
      fc.assert(
        fc.property(
          fc
            .constant(null)
            .map(() => freshClaim())
            .chain((sealed) => fc.tuple(fc.constant(sealed), claimMutants(sealed))),
          ([sealed, mutant]) => {
            // The genuine claim first: always accepted (its stamp is the newest yet).
            input.next({ subject: sealed.subject, data: sealed.payload, headers: sealed.headers });
            input.next(mutant as StatusMessage);
            fed += 2;
            const [genuine, judged] = verdicts.slice(-2);
            expect(verdicts).toHaveLength(fed);
            expect(genuine).toEqual({ ok: true, claim: sealed.claim });
            if (!judged.ok) {
              expect(STATUS_REJECT_REASONS).toContain(judged.reason);
              reasons.set(judged.reason, (reasons.get(judged.reason) ?? 0) + 1);
            } else {
              // Only the genuine bytes can pass; sent again, they are a duplicate, so an
              // accepted mutant is one the judge could not tell from a new genuine claim.
              reasons.set('accepted', (reasons.get('accepted') ?? 0) + 1);
            }
          },
        ),
        { numRuns: CLAIM_RUNS, seed: SEED, endOnFailure: true },
      );
      expect(ended).toBe(false);
      expect(reasons.get('accepted') ?? 0).toBe(0);
      reportFigures('fuzz-claims', {
        seed: SEED,
        runs: CLAIM_RUNS,
        reasons: Object.fromEntries(reasons),
      });
    }));
});
