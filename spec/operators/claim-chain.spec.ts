/**
 * The claim chain as operators: validateClaim, signClaim, publishClaim and their composition
 * emitStatus, on a real client over a test connection (virtual time for the marbles).
 */
import { filter, firstValueFrom, from, lastValueFrom, map, of, Subject, toArray } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { createTestClient, type TestClient } from '@chorus-services/backbeat/testing';
import {
  ClientStateError,
  createClient,
  emitStatus,
  publishClaim,
  signClaim,
  StatusClaimDroppedError,
  StatusClaimValidationError,
  validateClaim,
  verifyStatus,
  generateSigningKey,
  type SignedClaim,
  type StatusClaimInput,
} from '@chorus-services/backbeat';
import { at, testScheduler } from '../beats/frames';

const input = (notes: string, progress = 0.5): StatusClaimInput => ({
  state: 'executing',
  beatsLeft: 3,
  progress,
  notes,
});

/** `notes` and the beat a signed claim was stamped with, e.g. `a0`. */
const stamp = ({ claim }: SignedClaim) => `${claim.notes}${claim.beat_index}`;

describe('validateClaim()', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = testScheduler();
  });

  it('passes valid inputs on with defaults, and errors at the first invalid one', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const inputs = {
        a: { state: 'review', beatsLeft: 1, progress: 0.9 },
        b: { state: 'executing', beats_left: 3, progress: 0.5 },
      } as unknown as Record<string, StatusClaimInput>;
      const checked$ = cold('-a-b-a|', inputs).pipe(validateClaim());
      expectObservable(checked$).toBe(
        '-a-#',
        { a: { state: 'review', beatsLeft: 1, progress: 0.9, notes: '' } },
        new StatusClaimValidationError([
          {
            path: ['beatsLeft'],
            message: 'missing: required, a whole number ≥ 0, the beats the task still needs',
          },
          { path: ['beats_left'], message: 'unknown field, did you mean beatsLeft?' },
        ]),
      );
    });
  });
});

describe('claim input validation', () => {
  const issuesOf = (value: unknown) => {
    let issues: unknown;
    of(value as StatusClaimInput)
      .pipe(validateClaim())
      .subscribe({
        error: (err: unknown) => {
          expect(err).toBeInstanceOf(StatusClaimValidationError);
          issues = (err as StatusClaimValidationError).issues;
        },
      });
    return issues;
  };

  it('names snake_case fields with the field meant, and says what is missing', () => {
    expect(issuesOf({ state: 'executing', beats_left: 3, task_id: 'x' })).toEqual([
      {
        path: ['beatsLeft'],
        message: 'missing: required, a whole number ≥ 0, the beats the task still needs',
      },
      {
        path: ['progress'],
        message: 'missing: required, a number from 0 to 1, the share of the task done',
      },
      { path: ['beats_left'], message: 'unknown field, did you mean beatsLeft?' },
      { path: ['task_id'], message: 'unknown field, did you mean taskId?' },
    ]);
  });

  it('refuses an unknown field beside the right ones instead of dropping it', () => {
    expect(
      issuesOf({ state: 'done', beatsLeft: 0, progress: 1, progres: 1, note: 'n', wait_for: [] }),
    ).toEqual([
      { path: ['progres'], message: 'unknown field, did you mean progress?' },
      { path: ['note'], message: 'unknown field, did you mean notes?' },
      { path: ['wait_for'], message: 'unknown field, did you mean waitFor?' },
    ]);
  });

  it('says which fields the SDK fills, and lists the fields for anything else', () => {
    expect(issuesOf({ ...input(''), beat_index: 4, colour: 'red' })).toEqual([
      { path: ['beat_index'], message: 'unknown field: the SDK fills it' },
      {
        path: ['colour'],
        message:
          'unknown field (the fields are taskId, state, waitFor, beatsLeft, progress, notes)',
      },
    ]);
  });

  it('names every bad field in the message', () => {
    let message = '';
    of({ state: 'sleeping', beatsLeft: -1 } as unknown as StatusClaimInput)
      .pipe(validateClaim())
      .subscribe({ error: (err: Error) => (message = err.message) });
    expect(message).toMatch(/^invalid status claim: state: .*; beatsLeft: .*; progress: missing/);
  });

  it('freezes what it passes on, so that it stays valid', () => {
    let valid: unknown;
    of({ ...input('n'), waitFor: ['db'] })
      .pipe(validateClaim())
      .subscribe((value) => (valid = value));
    expect(Object.isFrozen(valid)).toBe(true);
    expect(Object.isFrozen((valid as { waitFor: string[] }).waitFor)).toBe(true);
  });
});

describe('signClaim(client)', () => {
  let scheduler: TestScheduler;
  let test: TestClient | undefined;

  beforeEach(() => {
    scheduler = testScheduler();
  });

  afterEach(async () => {
    await test?.stop({ timeoutMs: 0 });
    test = undefined;
  });

  it('stamps each input with the beat current when it arrives; early ones wait for the first', () => {
    const signed: SignedClaim[] = [];
    scheduler.run(({ hot, expectObservable }) => {
      test = createTestClient({}, { scheduler });
      const inputs = { a: input('a'), b: input('b'), c: input('c'), d: input('d') };
      // Beats at 300, 800, 1300 (120 BPM from 300).
      const signed$ = hot('100ms a 99ms b 399ms c 299ms d 99ms |', inputs).pipe(
        signClaim(test.client),
      );
      signed$.subscribe((claim) => signed.push(claim));
      expectObservable(signed$.pipe(map(stamp))).toBe('300ms (ab) 296ms c 299ms d 99ms |', {
        a: 'a0',
        b: 'b0',
        c: 'c0',
        d: 'd1',
      });
      void test.client.start();
      at(scheduler, 300, () => test!.pulse().play(3));
      at(scheduler, 1400, () => void test!.stop());
    });
    const stamps = signed.map(({ claim }) => claim.hlc);
    expect([...stamps].sort()).toEqual(stamps); // HLC in arrival order
    expect(new Set(stamps).size).toBe(4);
    for (const { subject, claim, headers } of signed) {
      expect(subject).toBe('backbeat.test-cluster.status.test-agent');
      expect(headers['x-hlc']).toBe(claim.hlc);
    }
    expect(test?.claims).toEqual([]); // signed, not published
  });

  it('keeps at most statusBufferSize inputs waiting for the first beat: the oldest dropped, counted', () => {
    scheduler.run(({ hot, expectObservable }) => {
      test = createTestClient({ statusBufferSize: 2 }, { scheduler });
      const inputs = { a: input('a'), b: input('b'), c: input('c') };
      const signed$ = hot('10ms a 9ms b 9ms c', inputs).pipe(signClaim(test.client), map(stamp));
      expectObservable(signed$, '^ 599ms !').toBe('500ms (bc)', { b: 'b0', c: 'c0' });
      void test.client.start();
      at(scheduler, 100, () => expect(test!.client.metrics().status.buffered).toBe(2));
      at(scheduler, 500, () => test!.pulse().play(1));
      at(scheduler, 600, () => {
        expect(test!.client.metrics().status).toMatchObject({ dropped: 1, buffered: 0 });
        void test!.stop();
      });
    });
  });

  it('passes an error on after the inputs that arrived before it', () => {
    scheduler.run(({ hot, expectObservable }) => {
      test = createTestClient({}, { scheduler });
      const failure = new Error('upstream failed');
      const signed$ = hot('10ms a 9ms #', { a: input('a') }, failure).pipe(
        signClaim(test.client),
        map(stamp),
      );
      expectObservable(signed$).toBe('300ms (a#)', { a: 'a0' }, failure);
      void test.client.start();
      at(scheduler, 300, () => test!.pulse().play(1));
      at(scheduler, 400, () => void test!.stop());
    });
  });

  it('errors with ClientStateError when the client stops before the first beat', () => {
    scheduler.run(({ hot, expectObservable }) => {
      test = createTestClient({}, { scheduler });
      const signed$ = hot('10ms a', { a: input('a') }).pipe(signClaim(test.client));
      expectObservable(signed$).toBe(
        '200ms #',
        undefined,
        new ClientStateError('the client stopped before the first beat'),
      );
      void test.client.start();
      at(scheduler, 200, () => void test!.stop());
    });
  });

  it('refuses inputs before start(), and a client not made by createClient', () => {
    const client = createClient({ clusterId: 'c', agentId: 'a' });
    return Promise.all([
      expect(lastValueFrom(of(input('a')).pipe(signClaim(client)))).rejects.toThrow(
        'signClaim before start()',
      ),
      expect(lastValueFrom(of(input('a')).pipe(signClaim({} as typeof client)))).rejects.toThrow(
        new TypeError('signClaim(client) takes a client made by createClient'),
      ),
    ]);
  });
});

describe('publishClaim(client) and emitStatus(client)', () => {
  let test: TestClient | undefined;

  afterEach(async () => {
    await test?.stop({ timeoutMs: 0 });
    test = undefined;
  });

  it('emitStatus publishes in order, emits each claim as sent, and completes after the last', async () => {
    const key = generateSigningKey();
    test = createTestClient({ signingKey: key.secretKey });
    await test.client.start();
    test.pulse().beats(2);
    const sent = await lastValueFrom(
      from([input('a', 0.1), input('b', 0.2), input('c', 0.3)]).pipe(
        emitStatus(test.client),
        toArray(),
      ),
    );
    expect(sent.map((claim) => claim.notes)).toEqual(['a', 'b', 'c']);
    expect(test.claims.map(({ claim }) => claim)).toEqual(sent);
    const verdicts = await lastValueFrom(
      from(test.claims).pipe(
        verifyStatus({ trustedKeys: { 'test-agent': key.publicKey }, physicalNow: test.wallNow }),
        toArray(),
      ),
    );
    expect(verdicts.map((verdict) => verdict.ok)).toEqual([true, true, true]);
  });

  it('is validateClaim, signClaim and publishClaim composed; signed claims verify as they are', async () => {
    const key = generateSigningKey();
    test = createTestClient({ signingKey: key.secretKey });
    await test.client.start();
    test.pulse().beats(1);
    const signed = await lastValueFrom(
      of(input('x')).pipe(validateClaim(), signClaim(test.client), toArray()),
    );
    const [verdict] = await lastValueFrom(
      from(signed).pipe(
        verifyStatus({ trustedKeys: { 'test-agent': key.publicKey }, physicalNow: test.wallNow }),
        toArray(),
      ),
    );
    expect(verdict).toMatchObject({ ok: true, claim: signed[0].claim });
    const published = await lastValueFrom(from(signed).pipe(publishClaim(test.client), toArray()));
    expect(published).toEqual([signed[0].claim]);
    expect(test.claims.map(({ data }) => data)).toEqual([signed[0].data]);
  });

  it('errors on an invalid input and publishes nothing of it', async () => {
    test = createTestClient();
    await test.client.start();
    test.pulse().beats(1);
    const inputs = [input('a'), { state: 'done', beatsLeft: 0 } as StatusClaimInput];
    await expect(
      lastValueFrom(from(inputs).pipe(emitStatus(test.client), toArray())),
    ).rejects.toThrow(/progress: missing/);
    expect(test.claims.map(({ claim }) => claim.notes)).toEqual(['a']);
  });

  it('rejects a claim pushed out while waiting for the first beat, saying so', async () => {
    test = createTestClient({ statusBufferSize: 1 });
    await test.client.start();
    const first = test.client.emitStatusClaim(input('a'));
    const second = test.client.emitStatusClaim(input('b'));
    const error: unknown = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StatusClaimDroppedError);
    expect(error).toMatchObject({ reason: 'buffer-full' });
    expect((error as Error).message).toBe(
      'status claim dropped: newer claims filled the status buffer before the first beat',
    );
    test.pulse().beats(1);
    await expect(second).resolves.toMatchObject({ notes: 'b' });
  });

  it('hands every claim to the bounded buffer as it arrives: no queue in front of it', async () => {
    test = createTestClient({ statusBufferSize: 2 });
    await test.client.start();
    test.pulse().beats(1);
    test.connection.disconnect();
    await firstValueFrom(test.client.health$.pipe(filter((health) => !health.connected)));
    const inputs = new Subject<StatusClaimInput>();
    const emitted: string[] = [];
    const done = lastValueFrom(inputs.pipe(emitStatus(test.client), toArray()));
    inputs.subscribe(); // keeps the subject's order of subscribers: the chain is first
    for (const notes of ['a', 'b', 'c', 'd', 'e']) inputs.next(input(notes));
    // Synchronously in the buffer, the oldest beyond statusBufferSize dropped and counted.
    expect(test.client.metrics().status).toMatchObject({ buffered: 2, dropped: 3 });
    inputs.complete();
    for (const claim of await done) emitted.push(claim.notes);
    // Core: a claim held while disconnected is emitted when taken into the buffer.
    expect(emitted).toEqual(['a', 'b', 'c', 'd', 'e']);
    await test.connection.reconnect();
    await firstValueFrom(test.client.health$.pipe(filter((health) => health.reconnectCount === 1)));
    await test.client.flush();
    expect(test.claims.map(({ claim }) => claim.notes)).toEqual(['d', 'e']);
  });
});
