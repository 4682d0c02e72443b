// The ICE recovery state machine and the rejoin policy, with fake timers.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import {
  IceRecovery,
  isFatalIceRestartError,
  isRetryableRejoinError,
  rejoinDelayMs,
  type IceGiveUpReason,
  type TransportHealth,
} from '../src/index.js';

interface Harness {
  recovery: IceRecovery;
  restarts: number[];
  gaveUp: { reason: IceGiveUpReason; error?: unknown }[];
  health: TransportHealth[];
  /** How the next restartIce calls settle (default: resolve). */
  outcomes: ('ok' | Error | { code: string; message: string })[];
}

function harness(options: ConstructorParameters<typeof IceRecovery>[1] = {}): Harness {
  const h: Harness = { restarts: [], gaveUp: [], health: [], outcomes: [] } as unknown as Harness;
  h.recovery = new IceRecovery(
    {
      restartIce: async (attempt) => {
        h.restarts.push(attempt);
        const outcome = h.outcomes.shift() ?? 'ok';
        if (outcome !== 'ok') throw outcome;
      },
      giveUp: (reason, error) => h.gaveUp.push({ reason, error }),
      isFatal: (error) => (error as { code?: string }).code === 'NOT_FOUND',
      onHealthChange: (health) => h.health.push(health),
    },
    { disconnectedGraceMs: 2000, maxRestarts: 2, restartTimeoutMs: 8000, retryDelayMs: 500, ...options },
  );
  return h;
}

/** Lets the restartIce promise settle. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('disconnected that recovers within the grace period needs no restart', async () => {
  const h = harness();
  h.recovery.onConnectionState('connecting');
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('disconnected');
  assert.equal(h.recovery.health, 'grace');
  mock.timers.tick(1999);
  h.recovery.onConnectionState('connected');
  mock.timers.tick(10_000);
  await settle();
  assert.deepEqual(h.restarts, []);
  assert.deepEqual(h.health, ['connected', 'grace', 'connected']);
});

test('an expired grace period restarts ICE; connected afterwards resets the attempts', async () => {
  const h = harness();
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('disconnected');
  mock.timers.tick(2000);
  await settle();
  assert.deepEqual(h.restarts, [1]);
  assert.equal(h.recovery.health, 'restarting');
  h.recovery.onConnectionState('connecting');
  h.recovery.onConnectionState('connected');
  assert.equal(h.recovery.health, 'connected');
  assert.equal(h.recovery.attempts, 0);
  // A later disconnection starts from a full budget again.
  h.recovery.onConnectionState('disconnected');
  mock.timers.tick(2000);
  await settle();
  assert.deepEqual(h.restarts, [1, 1]);
});

test('failed restarts at once, without waiting for the grace period', async () => {
  const h = harness();
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('disconnected');
  mock.timers.tick(500);
  h.recovery.onConnectionState('failed');
  await settle();
  assert.deepEqual(h.restarts, [1]);
  mock.timers.tick(2000); // the grace timer was cancelled
  await settle();
  assert.deepEqual(h.restarts, [1]);
});

test('restarts that never reach connected are retried, then recovery gives up (→ rejoin)', async () => {
  const h = harness({ maxRestarts: 2 });
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('failed');
  await settle();
  assert.deepEqual(h.restarts, [1]);
  mock.timers.tick(7999);
  await settle();
  assert.deepEqual(h.restarts, [1]);
  mock.timers.tick(1);
  await settle();
  assert.deepEqual(h.restarts, [1, 2]);
  mock.timers.tick(8000);
  await settle();
  assert.deepEqual(h.restarts, [1, 2], 'no third restart');
  assert.deepEqual(h.gaveUp.map((g) => g.reason), ['ice-restarts-exhausted']);
  assert.equal(h.recovery.health, 'failed');
  // Nothing happens after giving up.
  h.recovery.onConnectionState('failed');
  mock.timers.tick(60_000);
  await settle();
  assert.equal(h.gaveUp.length, 1);
});

test('a failed state during a restart is left to the restart timeout; a new one after it restarts again', async () => {
  const h = harness();
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('failed');
  h.recovery.onConnectionState('failed'); // while the restart request is in flight
  await settle();
  assert.deepEqual(h.restarts, [1]);
  h.recovery.onConnectionState('checking' as never);
  h.recovery.onConnectionState('failed'); // after the restart settled: genuinely failed again
  await settle();
  assert.deepEqual(h.restarts, [1, 2]);
});

test('a restart request that fails is retried after retryDelayMs; a fatal one gives up at once', async () => {
  const h = harness({ maxRestarts: 3 });
  h.outcomes.push(new Error('socket closed'));
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('failed');
  await settle();
  assert.deepEqual(h.restarts, [1]);
  mock.timers.tick(499);
  await settle();
  assert.deepEqual(h.restarts, [1]);
  h.outcomes.push({ code: 'NOT_FOUND', message: 'transport not found' });
  mock.timers.tick(1);
  await settle();
  assert.deepEqual(h.restarts, [1, 2]);
  assert.deepEqual(h.gaveUp.map((g) => g.reason), ['ice-restart-refused']);
  assert.deepEqual(h.gaveUp[0]!.error, { code: 'NOT_FOUND', message: 'transport not found' });
});

test('maxRestarts 0 gives up on the first failure; dispose cancels everything', async () => {
  const none = harness({ maxRestarts: 0 });
  none.recovery.onConnectionState('connected');
  none.recovery.onConnectionState('failed');
  assert.deepEqual(none.gaveUp.map((g) => g.reason), ['ice-restarts-exhausted']);
  assert.deepEqual(none.restarts, []);

  const h = harness();
  h.recovery.onConnectionState('connected');
  h.recovery.onConnectionState('disconnected');
  h.recovery.dispose();
  mock.timers.tick(60_000);
  await settle();
  assert.deepEqual(h.restarts, []);
  assert.equal(h.recovery.health, 'closed');
});

test('a transport that fails before ever connecting is restarted too', async () => {
  const h = harness();
  h.recovery.onConnectionState('connecting');
  h.recovery.onConnectionState('failed');
  await settle();
  assert.deepEqual(h.restarts, [1]);
});

test('rejoin policy: immediate first attempt, exponential backoff capped; final codes are not retried', () => {
  const o = { baseDelayMs: 500, maxDelayMs: 8000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((a) => rejoinDelayMs(a, o)), [0, 500, 1000, 2000, 4000, 8000, 8000]);
  for (const code of ['OVERLOADED', 'TIMEOUT', 'SIGNALING_FAILED', 'NOT_FOUND', 'ROOM_FULL', 'CLOSED', 'INTERNAL'] as const) {
    assert.ok(isRetryableRejoinError(code), code);
  }
  for (const code of ['FORBIDDEN', 'INVALID_REQUEST', 'UNKNOWN_METHOD', 'INCOMPATIBLE_CAPABILITIES'] as const) {
    assert.ok(!isRetryableRejoinError(code), code);
  }
  assert.ok(isFatalIceRestartError('NOT_FOUND'));
  assert.ok(!isFatalIceRestartError('TIMEOUT'));
  assert.ok(!isFatalIceRestartError('SIGNALING_FAILED'));
});
