import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { encodeBase64 } from '../../lib/crypto/base64';
import {
  judgeClaim,
  STATUS_REJECT_REASONS,
  type ClaimPolicy,
  type StatusMessage,
  type StatusVerdict,
} from '../../lib/observers/judge-claim';
import { ReplayMemory } from '../../lib/observers/replay-memory';
import { verifyStatus } from '../../lib/operators/verify-status';
import { statusSubject } from '../../lib/protocol/subjects';
import { AGENT, claimAt, claimMessage, CLUSTER, NOW_MS, vectorKey } from './claim-messages';

/** An observer that trusts the vector key for the vector agent and requires signatures. */
const policy: ClaimPolicy = {
  trustedKeys: new Map([[AGENT, new Set([vectorKey.publicKeyBase64])]]),
  requireSignature: true,
  maxClockSkewMs: 60000,
  maxClaimAgeMs: 300000,
  physicalNow: () => NOW_MS,
};

/** A fresh observer's verdict on one message. */
function judgeFresh(message: unknown, with_: ClaimPolicy = policy): StatusVerdict {
  return judgeClaim(message, with_, new ReplayMemory(with_.maxClaimAgeMs));
}

/** Whether `verdict` has one of the shapes the API promises. */
function isWellFormed(verdict: StatusVerdict): boolean {
  return verdict.ok
    ? typeof verdict.claim === 'object'
    : STATUS_REJECT_REASONS.includes(verdict.reason) && typeof verdict.subject === 'string';
}

const signed = claimMessage(claimAt(NOW_MS, { notes: 'ünïcödé — signed', wait_for: ['x'] }));
const signedHeaders = signed.headers as Record<string, string>;
const signature = Buffer.from(signedHeaders['x-signature'], 'base64');

describe('judgeClaim properties', () => {
  it('accepts the untouched signed claim (the baseline the properties below change)', () => {
    expect(judgeFresh(signed).ok).toBe(true);
  });

  it('refuses any single-byte change to a signed payload', () => {
    const payload = signed.data as Uint8Array;
    fc.assert(
      fc.property(
        fc.nat({ max: payload.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (index, flip) => {
          const data = Uint8Array.from(payload);
          data[index] ^= flip;
          const verdict = judgeFresh({ ...signed, data });
          expect(verdict.ok).toBe(false);
        },
      ),
    );
  });

  it('refuses any single-byte change to the signature as bad-signature', () => {
    fc.assert(
      fc.property(fc.nat({ max: 63 }), fc.integer({ min: 1, max: 255 }), (index, flip) => {
        const bytes = Uint8Array.from(signature);
        bytes[index] ^= flip;
        const headers = { ...signedHeaders, 'x-signature': encodeBase64(bytes) };
        expect(judgeFresh({ ...signed, headers })).toEqual({
          ok: false,
          reason: 'bad-signature',
          subject: signed.subject,
        });
      }),
    );
  });

  it('refuses any single-character change to the signature text', () => {
    const text = signedHeaders['x-signature'];
    fc.assert(
      fc.property(
        fc.nat({ max: text.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1 }),
        (index, char) => {
          fc.pre(text[index] !== char);
          const headers = {
            ...signedHeaders,
            'x-signature': text.slice(0, index) + char + text.slice(index + 1),
          };
          const verdict = judgeFresh({ ...signed, headers });
          expect(verdict.ok).toBe(false);
        },
      ),
    );
  });

  it('never throws on anything, and answers with a well-formed rejection', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBoxedValues: true, withMap: true, withTypedArray: true }),
        (junk) => {
          const verdict = judgeFresh(junk);
          expect(isWellFormed(verdict)).toBe(true);
          expect(verdict.ok).toBe(false);
        },
      ),
    );
  });

  it('never throws on random fields in the right places', () => {
    const subject = fc.oneof(
      fc.constant(statusSubject(CLUSTER, AGENT)),
      fc.string(),
      fc.anything(),
    );
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 5000 }),
      fc.string({ maxLength: 5000 }),
      fc.anything(),
    );
    const headers = fc.oneof(
      fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.array(fc.string()), fc.anything())),
      fc.anything(),
    );
    fc.assert(
      fc.property(subject, data, headers, (s, d, h) => {
        const verdict = judgeFresh({ subject: s, data: d, headers: h });
        expect(isWellFormed(verdict)).toBe(true);
        expect(verdict.ok).toBe(false);
      }),
    );
  });

  it('never throws on random headers beside a valid signed payload, accepting only the right ones', () => {
    const names = fc.constantFrom(
      'x-agent-id',
      'X-HLC',
      'x-window-id',
      'x-signature',
      'X-Public-Key',
      'nats-msg-id',
    );
    const values = fc.oneof(
      fc.constantFrom(...Object.values(signedHeaders)),
      fc.string(),
      fc.array(fc.constantFrom(...Object.values(signedHeaders))),
      fc.anything(),
    );
    fc.assert(
      fc.property(fc.dictionary(names, values), fc.boolean(), (extra, keep) => {
        const headers = keep ? { ...signedHeaders, ...extra } : extra;
        const verdict = judgeFresh({ ...signed, headers });
        expect(isWellFormed(verdict)).toBe(true);
        if (verdict.ok) {
          for (const name of [
            'x-agent-id',
            'x-hlc',
            'x-window-id',
            'x-signature',
            'x-public-key',
          ]) {
            // A name given with an empty list of values is no header on the wire.
            const given = Object.keys(headers)
              .filter((key) => key.toLowerCase() === name)
              .flatMap((key) => headers[key] as string | string[]);
            expect(given).toEqual([signedHeaders[name]]);
          }
        }
      }),
      // Found by a run: a name with no values beside the real header is still one header.
      { examples: [[{ 'X-HLC': [] }, true]] },
    );
  });

  it('never errors the stream, whatever it is fed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.anything(), { maxLength: 20 }), async (junk) => {
        const messages = [...junk, signed] as StatusMessage[];
        const verdicts = await lastValueFrom(
          from(messages).pipe(
            verifyStatus({
              physicalNow: () => NOW_MS,
              trustedKeys: { [AGENT]: vectorKey.publicKey },
            }),
            toArray(),
          ),
        );
        expect(verdicts).toHaveLength(messages.length);
        expect(verdicts.at(-1)!.ok).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('keeps its memory bounded under 20,000 distinct agents with a moving clock', () => {
    // ReplayMemory's own spec runs 100,000 agents; here the whole judge drives it.
    const stepMs = 100;
    let nowMs = NOW_MS;
    const open: ClaimPolicy = {
      ...policy,
      trustedKeys: new Map(),
      requireSignature: false,
      physicalNow: () => nowMs,
    };
    const memory = new ReplayMemory(open.maxClaimAgeMs);
    const bound = open.maxClaimAgeMs / stepMs + 1;
    let accepted = 0;
    let largest = 0;
    for (let i = 0; i < 20000; i++) {
      nowMs += stepMs;
      const agentId = `agent-${i}`;
      const claim = claimAt(nowMs, { agent_id: agentId });
      const payload = JSON.stringify(claim);
      const message = {
        subject: statusSubject(CLUSTER, agentId),
        data: payload,
        headers: { 'x-agent-id': agentId, 'x-window-id': claim.window_id, 'x-hlc': claim.hlc },
      };
      if (judgeClaim(message, open, memory).ok) accepted++;
      largest = Math.max(largest, memory.size);
    }
    expect(accepted).toBe(20000);
    expect(largest).toBe(bound);
  });
});
