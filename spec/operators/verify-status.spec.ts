import { headers as natsHeaders } from 'nats';
import { from, Observable, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { encodeBase64 } from '../../lib/crypto/base64';
import { generateSigningKey, parseSigningKey } from '../../lib/crypto/keys';
import { ConfigError } from '../../lib/errors';
import {
  verifyStatus,
  type StatusMessage,
  type StatusVerdict,
  type VerifyStatusOptions,
} from '../../lib/operators/verify-status';
import verify from '../fixtures/vectors/verify.json';
import {
  AGENT,
  claimAt,
  claimMessage,
  CLUSTER,
  NOW_MS,
  vectorKey,
} from '../observers/claim-messages';

/** The vectors' observer: trusts the vector key for the vector agent, requires signatures. */
const vectorOptions: VerifyStatusOptions = {
  trustedKeys: { [verify.agent_id]: verify.trusted_key_b64 },
  physicalNow: () => NOW_MS,
};

/** Every verdict of one subscription, which must not error or be left incomplete. */
function verdictsOf(messages: readonly unknown[], options: VerifyStatusOptions): StatusVerdict[] {
  const verdicts: StatusVerdict[] = [];
  let completed = false;
  from(messages as StatusMessage[])
    .pipe(verifyStatus(options))
    .subscribe({
      next: (verdict) => verdicts.push(verdict),
      error: (error: unknown) => {
        throw new Error(`the verdict stream errored: ${String(error)}`);
      },
      complete: () => (completed = true),
    });
  expect(completed).toBe(true);
  return verdicts;
}

/** 'ok' or the rejection reason of each message, in order. */
function outcomes(messages: readonly unknown[], options: VerifyStatusOptions = vectorOptions) {
  return verdictsOf(messages, options).map((verdict) => (verdict.ok ? 'ok' : verdict.reason));
}

const now = NOW_MS;
const otherKey = parseSigningKey(generateSigningKey().secretKey);

describe('verifyStatus', () => {
  describe('the verify vectors', () => {
    it('gives each of the 16 steps, in order through one operator, its verdict', () => {
      const messages = verify.steps.map((step) => ({
        subject: step.subject,
        data: new TextEncoder().encode(step.payload),
        headers: step.headers as Record<string, string>,
      }));
      expect(outcomes(messages)).toEqual(verify.steps.map((step) => step.verdict));
    });

    it('names the subject in a rejection and returns the parsed claim on acceptance', () => {
      const [first, , , , , intruder] = verify.steps;
      const verdicts = verdictsOf(
        [first, intruder].map((step) => ({
          subject: step.subject,
          data: step.payload,
          headers: step.headers as Record<string, string>,
        })),
        vectorOptions,
      );
      expect(verdicts).toEqual([
        { ok: true, claim: JSON.parse(first.payload) },
        { ok: false, reason: 'subject-mismatch', subject: 'backbeat.chorus-dev.status.intruder' },
      ]);
    });

    it('reads nats.js headers, whatever the case of their names', () => {
      const step = verify.steps[0];
      const headers = natsHeaders();
      for (const [name, value] of Object.entries(step.headers))
        headers.set(name.toUpperCase(), value);
      const message = {
        subject: step.subject,
        data: new TextEncoder().encode(step.payload),
        headers,
      };
      expect(outcomes([message])).toEqual(['ok']);
    });
  });

  it('maps messages to verdicts one for one, in time, and completes with its source', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const first = claimMessage(claimAt(now - 900));
    const second = claimMessage(claimAt(now - 800));
    scheduler.run(({ cold, expectObservable }) => {
      const messages = cold<StatusMessage>('a-b--a|', { a: first, b: second });
      expectObservable(messages.pipe(verifyStatus(vectorOptions))).toBe('x-y--z|', {
        x: { ok: true, claim: claimAt(now - 900) },
        y: { ok: true, claim: claimAt(now - 800) },
        z: { ok: false, reason: 'replay', subject: first.subject },
      });
    });
  });

  describe('1. schema', () => {
    const at = claimAt(now);

    it('accepts a payload of exactly 4096 bytes and refuses one of 4097', () => {
      const base = JSON.stringify(at);
      const padded = (size: number) =>
        `${base.slice(0, -1)},"pad":"${'x'.repeat(size - base.length - 9)}"}`;
      expect(new TextEncoder().encode(padded(4096)).length).toBe(4096);
      expect(outcomes([claimMessage(at, { payload: padded(4097) })])).toEqual(['schema']);
      expect(outcomes([claimMessage(at, { payload: padded(4096) })])).toEqual(['ok']);
    });

    it.each([
      ['not JSON', '{"type":'],
      ['a JSON array', '[1,2]'],
      ['JSON null', 'null'],
      ['a JSON string', '"claim"'],
      ['a byte order mark', `\ufeff${JSON.stringify(at)}`],
      ['a missing field', JSON.stringify({ ...at, notes: undefined })],
      ['another type', JSON.stringify({ ...at, type: 'backbeat.statusclaim.v2' })],
      ['a bad state', JSON.stringify({ ...at, state: 'sleeping' })],
      ['progress above 1', JSON.stringify({ ...at, progress: 1.5 })],
      ['a malformed hlc', JSON.stringify({ ...at, hlc: 'yesterday' })],
    ])('refuses %s', (_, payload) => {
      expect(outcomes([claimMessage(at, { payload })])).toEqual(['schema']);
    });

    it('refuses bytes that are not UTF-8', () => {
      // A lenient decoder would read U+FFFD here and find a valid claim.
      const message = claimMessage(at);
      const data = Uint8Array.from(message.data as Uint8Array);
      data[new TextDecoder().decode(data).indexOf('Processing')] = 0xff;
      expect(outcomes([{ ...message, data }])).toEqual(['schema']);
    });

    it('takes a string payload as its UTF-8 bytes, and ignores unknown fields', () => {
      const payload = JSON.stringify({ ...at, notes: 'ünïcödé', future_field: [1] });
      const message = claimMessage({ ...at, notes: 'ünïcödé' }, { payload });
      const verdicts = verdictsOf([{ ...message, data: payload }], vectorOptions);
      expect(verdicts).toEqual([{ ok: true, claim: { ...at, notes: 'ünïcödé' } }]);
    });

    it('refuses data that is neither bytes nor a string', () => {
      const message = claimMessage(at);
      expect(
        outcomes([
          { ...message, data: [...message.data] },
          { ...message, data: null },
        ]),
      ).toEqual(['schema', 'schema']);
    });
  });

  describe('2. subject-mismatch', () => {
    const at = claimAt(now);
    it.each([
      ['another agent', `backbeat.${CLUSTER}.status.other`],
      ['another cluster', `backbeat.other.status.${AGENT}`],
      ['an extra token', `backbeat.${CLUSTER}.status.${AGENT}.x`],
      ['the beat subject', `backbeat.${CLUSTER}.beat`],
      ['an empty subject', ''],
    ])('refuses %s', (_, subject) => {
      expect(outcomes([claimMessage(at, { subject })])).toEqual(['subject-mismatch']);
    });

    it('refuses a message whose subject is not a string, naming the subject as empty', () => {
      const message = { ...claimMessage(at), subject: 42 };
      expect(verdictsOf([message], vectorOptions)).toEqual([
        { ok: false, reason: 'subject-mismatch', subject: '' },
      ]);
    });
  });

  describe('3. header-mismatch', () => {
    const at = claimAt(now);
    it.each([
      ['x-agent-id missing', { 'x-agent-id': undefined }],
      ['x-window-id missing', { 'x-window-id': undefined }],
      ['x-hlc missing', { 'x-hlc': undefined }],
      ['x-agent-id disagreeing', { 'x-agent-id': 'someone-else' }],
      ['x-hlc given twice (same value)', { 'x-hlc': [at.hlc, at.hlc] }],
      ['x-agent-id given twice in two cases', { 'X-Agent-Id': AGENT }],
      ['x-signature given twice', { 'X-SIGNATURE': 'AAAA' }],
      [
        'x-public-key given twice',
        { 'x-public-key': [vectorKey.publicKeyBase64, vectorKey.publicKeyBase64] },
      ],
      ['Nats-Msg-Id given twice', { 'nats-msg-id': 'x' }],
    ])('refuses %s', (_, headers) => {
      expect(outcomes([claimMessage(at, { headers })])).toEqual(['header-mismatch']);
    });

    it('refuses no headers at all, and headers that are not strings', () => {
      const message = claimMessage(at);
      const numeric = { ...(message.headers as Record<string, string>), 'x-agent-id': 7 };
      const throwing = {
        get 'x-hlc'(): string {
          throw new Error('boom');
        },
      };
      expect(
        outcomes([
          { ...message, headers: undefined },
          { ...message, headers: numeric },
          { ...message, headers: throwing },
        ]),
      ).toEqual(['header-mismatch', 'header-mismatch', 'header-mismatch']);
    });

    it('ignores other headers given twice', () => {
      expect(outcomes([claimMessage(at, { headers: { traceparent: ['a', 'b'] } })])).toEqual([
        'ok',
      ]);
    });
  });

  describe('4. unsigned: no x-signature, whatever else is present', () => {
    const unsigned = claimMessage(claimAt(now), { key: null });
    const keyOnly = claimMessage(claimAt(now), { headers: { 'x-signature': undefined } });

    it('judges x-public-key without x-signature as unsigned, as the frame judge does', () => {
      expect(outcomes([keyOnly])).toEqual(['unsigned']);
      expect(outcomes([keyOnly], { ...vectorOptions, requireSignature: false })).toEqual([
        'unsigned',
      ]);
      expect(outcomes([keyOnly], { requireSignature: false, physicalNow: () => now })).toEqual([
        'ok',
      ]);
    });

    it('is refused by default, trusted key or not', () => {
      expect(outcomes([unsigned])).toEqual(['unsigned']);
      expect(outcomes([unsigned], { physicalNow: () => now })).toEqual(['unsigned']);
    });

    it('is refused when signatures are optional but a key is trusted for the agent (no downgrade)', () => {
      expect(outcomes([unsigned], { ...vectorOptions, requireSignature: false })).toEqual([
        'unsigned',
      ]);
    });

    it('passes when signatures are optional and the agent has no trusted key', () => {
      const options = {
        requireSignature: false,
        trustedKeys: { other: vectorKey.publicKey },
        physicalNow: () => now,
      };
      expect(outcomes([unsigned], options)).toEqual(['ok']);
    });

    it('an empty list of keys trusts nothing', () => {
      expect(
        outcomes([unsigned], {
          requireSignature: false,
          trustedKeys: { [AGENT]: [] },
          physicalNow: () => now,
        }),
      ).toEqual(['ok']);
    });
  });

  describe('5. untrusted-key', () => {
    it('refuses a well-formed key not trusted for the agent, even one trusted for another agent', () => {
      const options = {
        ...vectorOptions,
        trustedKeys: { [AGENT]: otherKey.publicKey, other: vectorKey.publicKey },
      };
      expect(outcomes([claimMessage(claimAt(now))], options)).toEqual(['untrusted-key']);
    });

    it('with signatures required, an agent with no trusted key always fails here: no trust on first use', () => {
      const options = { physicalNow: () => now };
      const messages = [
        claimMessage(claimAt(now - 2)),
        claimMessage(claimAt(now - 1)),
        claimMessage(claimAt(now), { headers: { 'x-public-key': 'not base64' } }),
        claimMessage(claimAt(now), { headers: { 'x-public-key': undefined } }),
      ];
      expect(outcomes(messages, options)).toEqual([
        'untrusted-key',
        'untrusted-key',
        'untrusted-key',
        'untrusted-key',
      ]);
    });

    it('accepts any of several trusted keys, given as bytes or base64', () => {
      const options = {
        physicalNow: () => now,
        trustedKeys: { [AGENT]: [otherKey.publicKeyBase64, vectorKey.publicKey] },
      };
      expect(
        outcomes(
          [claimMessage(claimAt(now - 1)), claimMessage(claimAt(now), { key: otherKey })],
          options,
        ),
      ).toEqual(['ok', 'ok']);
    });

    it('trusts keys by own agent id only, not by inherited names', () => {
      const claim = claimAt(now, { agent_id: 'constructor' });
      expect(outcomes([claimMessage(claim)], { physicalNow: () => now })).toEqual([
        'untrusted-key',
      ]);
    });
  });

  describe('6. bad-signature', () => {
    const at = claimAt(now);
    const signed = claimMessage(at);
    const signature = (signed.headers as Record<string, string>)['x-signature'];

    it.each([
      [
        'a malformed x-public-key (a malformed key is judged here, not as untrusted)',
        { 'x-public-key': 'QUJD!!!' },
      ],
      [
        'a trusted key in non-canonical base64 (stray bits)',
        { 'x-public-key': verify.trusted_key_b64.replace('Ro=', 'Rp=') },
      ],
      ['a key of the wrong length', { 'x-public-key': encodeBase64(new Uint8Array(31)) }],
      [
        'x-public-key missing (x-signature alone still means signed)',
        { 'x-public-key': undefined },
      ],
      ['an empty x-signature', { 'x-signature': '' }],
      [
        'a signature in the URL alphabet',
        { 'x-signature': signature.replace(/\+/g, '-').replace(/\//g, '_') },
      ],
      ['a signature without padding', { 'x-signature': signature.replace(/=+$/, '') }],
      [
        'a signature over other bytes',
        {
          'x-signature': (claimMessage(claimAt(now - 1)).headers as Record<string, string>)[
            'x-signature'
          ],
        },
      ],
    ])('refuses %s', (_, headers) => {
      expect(outcomes([claimMessage(at, { headers })])).toEqual(['bad-signature']);
    });

    it('refuses a non-canonical signature (S + L, which tweetnacl would accept)', () => {
      const bytes = Buffer.from(signature, 'base64');
      const order = 2n ** 252n + 27742317777372353535851937790883648493n;
      const s = BigInt(`0x${Buffer.from(bytes.subarray(32)).reverse().toString('hex')}`) + order;
      const sBytes = Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse();
      const malleable = encodeBase64(Buffer.concat([bytes.subarray(0, 32), sBytes]));
      expect(outcomes([claimMessage(at, { headers: { 'x-signature': malleable } })])).toEqual([
        'bad-signature',
      ]);
    });

    it('with signatures optional and no key trusted for the agent, checks the signature against its own key', () => {
      const options = { requireSignature: false, physicalNow: () => now };
      const messages = [
        claimMessage(claimAt(now - 3), { key: otherKey }),
        claimMessage(claimAt(now - 2), { headers: { 'x-signature': signature } }),
        claimMessage(claimAt(now - 1), { headers: { 'x-public-key': 'QUJD' } }),
        claimMessage(claimAt(now), { headers: { 'x-signature': undefined } }),
      ];
      expect(outcomes(messages, options)).toEqual(['ok', 'bad-signature', 'bad-signature', 'ok']);
    });

    it('with signatures optional and a trusted key, judges a signed claim as if they were required', () => {
      const options = { ...vectorOptions, requireSignature: false };
      expect(
        outcomes(
          [claimMessage(claimAt(now - 1), { key: otherKey }), claimMessage(claimAt(now))],
          options,
        ),
      ).toEqual(['untrusted-key', 'ok']);
    });
  });

  describe('7. clock-skew and 8. stale', () => {
    it('accepts a stamp exactly the maximum skew ahead and refuses one a millisecond further', () => {
      expect(
        outcomes([claimMessage(claimAt(now + 60001)), claimMessage(claimAt(now + 60000))]),
      ).toEqual(['clock-skew', 'ok']);
    });

    it('accepts a stamp exactly the maximum age behind and refuses one a millisecond older', () => {
      expect(
        outcomes([claimMessage(claimAt(now - 300001)), claimMessage(claimAt(now - 300000))]),
      ).toEqual(['stale', 'ok']);
    });

    it('uses the configured limits and reads the clock at each message', () => {
      let clock = now;
      const options = {
        ...vectorOptions,
        maxClockSkewMs: 10,
        maxClaimAgeMs: 20,
        physicalNow: () => clock,
      };
      const messages = [
        claimMessage(claimAt(now + 11)),
        claimMessage(claimAt(now - 21)),
        claimMessage(claimAt(now + 10)),
      ];
      const subject = new Subject<StatusMessage>();
      const results: string[] = [];
      subject
        .pipe(verifyStatus(options))
        .subscribe((verdict) => results.push(verdict.ok ? 'ok' : verdict.reason));
      subject.next(messages[0]);
      subject.next(messages[1]);
      clock = now + 1;
      subject.next(messages[0]);
      clock = now + 31;
      subject.next(messages[2]);
      expect(results).toEqual(['clock-skew', 'stale', 'ok', 'stale']);
    });
  });

  describe('9. duplicate and 10. replay', () => {
    it('calls the same stamp with the same bytes a duplicate, and with other bytes a replay', () => {
      const claim = claimAt(now);
      const sameStampOtherBytes = claimMessage({ ...claim, progress: 0.9 });
      expect(outcomes([claimMessage(claim), claimMessage(claim), sameStampOtherBytes])).toEqual([
        'ok',
        'duplicate',
        'replay',
      ]);
    });

    it('orders stamps by counter within a millisecond', () => {
      const messages = [
        claimMessage(claimAt(now, {}, 1)),
        claimMessage(claimAt(now, {}, 0)),
        claimMessage(claimAt(now, {}, 2)),
      ];
      expect(outcomes(messages)).toEqual(['ok', 'replay', 'ok']);
    });

    it('a rejected claim never changes the memory', () => {
      const newer = claimAt(now);
      const messages = [
        claimMessage(claimAt(now - 10)),
        claimMessage(newer, { headers: { 'x-signature': undefined } }),
        claimMessage(newer, { key: otherKey }),
        claimMessage(newer, { subject: `backbeat.${CLUSTER}.status.other` }),
        claimMessage(claimAt(now - 5)),
        claimMessage(newer),
      ];
      expect(outcomes(messages)).toEqual([
        'ok',
        'unsigned',
        'untrusted-key',
        'subject-mismatch',
        'ok',
        'ok',
      ]);
    });

    it('keeps one memory per agent and per cluster', () => {
      const options = { requireSignature: false, physicalNow: () => now };
      const messages = [
        claimMessage(claimAt(now), { key: null }),
        claimMessage(claimAt(now - 1, { agent_id: 'agent-b' }), { key: null }),
        claimMessage(claimAt(now - 1, { cluster_id: 'other-cluster' }), { key: null }),
        claimMessage(claimAt(now - 1), { key: null }),
      ];
      expect(outcomes(messages, options)).toEqual(['ok', 'ok', 'ok', 'replay']);
    });

    it('gives each subscription its own memory', () => {
      const operator = verifyStatus(vectorOptions);
      const message = claimMessage(claimAt(now));
      const run = () => {
        const results: string[] = [];
        from([message, message])
          .pipe(operator)
          .subscribe((v) => results.push(v.ok ? 'ok' : v.reason));
        return results;
      };
      expect(run()).toEqual(['ok', 'duplicate']);
      expect(run()).toEqual(['ok', 'duplicate']);
    });

    it('still refuses an old claim as stale after its agent is forgotten', () => {
      let clock = now;
      const options = { ...vectorOptions, physicalNow: () => clock };
      const subject = new Subject<StatusMessage>();
      const results: string[] = [];
      subject.pipe(verifyStatus(options)).subscribe((v) => results.push(v.ok ? 'ok' : v.reason));
      const old = claimMessage(claimAt(now));
      subject.next(old);
      clock = now + 300001;
      // Another agent's accepted claim sweeps the memory.
      subject.next(claimMessage(claimAt(clock, { agent_id: 'agent-b' }), { key: otherKey }));
      subject.next(old);
      expect(results).toEqual(['ok', 'untrusted-key', 'stale']);
    });
  });

  describe('never errors', () => {
    it('judges junk of any shape as schema, then goes on', () => {
      const throwing = {
        get subject(): string {
          throw new Error('boom');
        },
      };
      const hostile = new Proxy(
        {},
        {
          get() {
            throw new Error('boom');
          },
        },
      );
      const data = {
        subject: `backbeat.${CLUSTER}.status.${AGENT}`,
        get data(): Uint8Array {
          throw new Error('boom');
        },
      };
      const messages = [
        null,
        undefined,
        42,
        'text',
        [],
        {},
        throwing,
        hostile,
        data,
        claimMessage(claimAt(now)),
      ];
      expect(outcomes(messages)).toEqual([...Array<string>(9).fill('schema'), 'ok']);
    });

    it('errors and completes only as its source does', () => {
      const failure = new Error('source failed');
      const results: unknown[] = [];
      new Observable<StatusMessage>((subscriber) => {
        subscriber.next(claimMessage(claimAt(now)));
        subscriber.error(failure);
      })
        .pipe(verifyStatus(vectorOptions))
        .subscribe({ next: (v) => results.push(v.ok), error: (error) => results.push(error) });
      expect(results).toEqual([true, failure]);
    });
  });

  describe('options', () => {
    /** The ConfigError field `options` throws on, synchronously, at call time. */
    function fieldOf(options: unknown): string {
      try {
        verifyStatus(options as VerifyStatusOptions);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).field;
      }
      throw new Error('no ConfigError');
    }

    it.each([
      [{ trustedKeys: { [AGENT]: 'not a key' } }, `trustedKeys.${AGENT}`],
      [
        { trustedKeys: { [AGENT]: [vectorKey.publicKey, new Uint8Array(31)] } },
        `trustedKeys.${AGENT}.1`,
      ],
      [{ trustedKeys: { [AGENT]: vectorKey.secretKey } }, `trustedKeys.${AGENT}`],
      [{ trustedKeys: { 'not.a.token': vectorKey.publicKey } }, 'trustedKeys.not.a.token'],
      [{ trustedKeys: new Map() }, 'trustedKeys'],
      [{ trustedKeys: null }, 'trustedKeys'],
      [{ requireSignature: 'yes' }, 'requireSignature'],
      [{ maxClockSkewMs: -1 }, 'maxClockSkewMs'],
      [{ maxClaimAgeMs: Number.NaN }, 'maxClaimAgeMs'],
      [{ maxClaimAgeMs: Number.POSITIVE_INFINITY }, 'maxClaimAgeMs'],
      [{ physicalNow: 5 }, 'physicalNow'],
      [{ maxAgents: 0 }, 'maxAgents'],
      [{ maxAgents: 1.5 }, 'maxAgents'],
      [{ onEvict: 'log' }, 'onEvict'],
      [null, 'options'],
    ])('refuses %p, naming %s', (options, field) => {
      expect(fieldOf(options)).toBe(field);
    });

    it('remembers at most maxAgents agents: the least recently heard is forgotten and counted', () => {
      const evictions: unknown[] = [];
      const options = {
        requireSignature: false,
        physicalNow: () => now,
        maxAgents: 2,
        onEvict: (evicted: unknown) => evictions.push(evicted),
      };
      const claim = (agent: string, counter: number) =>
        claimMessage(claimAt(now, { agent_id: agent }, counter), { key: null });
      expect(
        outcomes(
          [
            claim('a', 1),
            claim('b', 1),
            claim('a', 2),
            claim('c', 1),
            claim('b', 1),
            claim('c', 1),
            claim('a', 1),
          ],
          options,
        ),
      ).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'duplicate', 'ok']);
      // 'b' was heard least recently when 'c' came: forgotten, so its old claim passes again
      // (the price of the bound); then 'a' went for 'b', and 'c' (still remembered: its
      // redelivery is a duplicate) for 'a'.
      expect(evictions).toEqual([
        { clusterId: CLUSTER, agentId: 'b', count: 1 },
        { clusterId: CLUSTER, agentId: 'a', count: 2 },
        { clusterId: CLUSTER, agentId: 'c', count: 3 },
      ]);
    });

    it('ignores an onEvict that throws', () => {
      const options = {
        requireSignature: false,
        physicalNow: () => now,
        maxAgents: 1,
        onEvict: () => {
          throw new Error('user code');
        },
      };
      const claim = (agent: string) =>
        claimMessage(claimAt(now, { agent_id: agent }), { key: null });
      expect(outcomes([claim('a'), claim('b'), claim('c')], options)).toEqual(['ok', 'ok', 'ok']);
    });

    it('forgets silent agents on a timer with no further claim, and ends the timer with the subscription', () => {
      jest.useFakeTimers();
      try {
        let clock = now;
        const input = new Subject<StatusMessage>();
        const verdicts: StatusVerdict[] = [];
        const subscription = input
          .pipe(
            verifyStatus({
              requireSignature: false,
              physicalNow: () => clock,
              maxClaimAgeMs: 1000,
            }),
          )
          .subscribe((verdict) => verdicts.push(verdict));
        expect(jest.getTimerCount()).toBe(0); // nothing remembered, no timer
        const old = claimMessage(claimAt(now), { key: null });
        input.next(old);
        expect(jest.getTimerCount()).toBe(1);
        clock += 1001;
        jest.advanceTimersByTime(1000);
        // Forgotten with no new input: the timer is gone with the last agent.
        expect(jest.getTimerCount()).toBe(0);
        // Forgetting changed no verdict: the stale rule refuses the old claim.
        input.next(old);
        expect(verdicts.map((verdict) => (verdict.ok ? 'ok' : verdict.reason))).toEqual([
          'ok',
          'stale',
        ]);
        input.next(claimMessage(claimAt(clock), { key: null }));
        expect(jest.getTimerCount()).toBe(1);
        subscription.unsubscribe();
        expect(jest.getTimerCount()).toBe(0);
      } finally {
        jest.useRealTimers();
      }
    });

    it('accepts an unsigned stamp built with the defaults against Date.now', () => {
      const message = claimMessage(claimAt(Date.now()), { key: null });
      expect(outcomes([message], { requireSignature: false })).toEqual(['ok']);
    });
  });
});
