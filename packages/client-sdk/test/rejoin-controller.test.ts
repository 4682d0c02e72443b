// The rejoin decisions, pure: no client, no timers; time is whatever the test
// passes as `now`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RejoinController, type RejoinDecision, type RejoinRun } from '../src/client/rejoin-controller.js';
import type { ConnectionState } from '../src/index.js';

const options = { attempts: 4, baseDelayMs: 500, maxDelayMs: 1500 };

function started(decision: RejoinDecision): RejoinRun {
  assert.equal(decision.action, 'start');
  return (decision as { run: RejoinRun }).run;
}

/** Whether `promise` has settled (after pending callbacks ran). */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return settled;
}

test('a request starts a run only when the client is in a room; while the first join is in flight it waits for it', () => {
  const states: [ConnectionState, RejoinDecision['action']][] = [
    ['disconnected', 'ignore'],
    ['closed', 'ignore'],
    ['connecting', 'defer'],
    ['connected', 'start'],
  ];
  for (const [state, action] of states) assert.equal(new RejoinController(options).request('worker-died', state).action, action, state);
  for (const state of ['reconnecting', 'failed'] as const) {
    const controller = new RejoinController(options);
    const run = started(controller.request('ice-restarts-exhausted', state));
    assert.equal(run.reason, 'ice-restarts-exhausted');
    assert.equal(run.attempt, 0);
    assert.equal(controller.running, true);
  }
});

test('attempts: the first at once, then exponential backoff from the time of each failure, capped; then exhausted', () => {
  const controller = new RejoinController(options);
  const run = started(controller.request('worker-died', 'connected'));
  const plans = [];
  let now = 10_000;
  for (;;) {
    const next = controller.next(run, now);
    if (next.action === 'exhausted') break;
    plans.push(next);
    now = next.startAt + 300; // the attempt takes 300 ms, then fails
    assert.equal(controller.attemptFailed(run, 'OVERLOADED'), 'retry');
  }
  assert.deepEqual(plans, [
    { action: 'attempt', attempt: 1, delayMs: 0, startAt: 10_000 },
    { action: 'attempt', attempt: 2, delayMs: 500, startAt: 10_800 },
    { action: 'attempt', attempt: 3, delayMs: 1000, startAt: 12_100 },
    { action: 'attempt', attempt: 4, delayMs: 1500, startAt: 13_900 },
  ]);
  assert.equal(controller.finish(run, 'gave-up').action, 'failed');
  assert.equal(controller.running, false);
});

test('a final code stops the run at once; a retryable one retries', () => {
  const controller = new RejoinController(options);
  const run = started(controller.request('worker-died', 'connected'));
  controller.next(run, 0);
  for (const code of ['OVERLOADED', 'TIMEOUT', 'SIGNALING_FAILED', 'NOT_FOUND', 'CLOSED', 'INTERNAL'] as const) {
    assert.equal(controller.attemptFailed(run, code), 'retry', code);
  }
  for (const code of ['FORBIDDEN', 'INVALID_REQUEST', 'INCOMPATIBLE_CAPABILITIES', 'DEVICE_UNSUPPORTED'] as const) {
    assert.equal(controller.attemptFailed(run, code), 'give-up', code);
  }
});

test('zero attempts: exhausted before the first', () => {
  const controller = new RejoinController({ ...options, attempts: 0 });
  const run = started(controller.request('manual', 'connected'));
  assert.deepEqual(controller.next(run, 0), { action: 'exhausted' });
});

test('a request while a run is in flight coalesces into it; if it came during an attempt that succeeds, the run starts over', async () => {
  const controller = new RejoinController(options);
  const run = started(controller.request('worker-died', 'connected'));
  controller.next(run, 0);
  controller.attemptFailed(run, 'TIMEOUT');
  assert.equal(controller.next(run, 100).action, 'attempt'); // attempt 2, due at 600
  // During the backoff of attempt 2: the attempt has not started yet, but it began after next() planned it.
  const second = controller.request('ice-restarts-exhausted', 'reconnecting');
  assert.equal(second.action, 'coalesce');
  assert.equal((second as { run: RejoinRun }).run, run, 'the same run, one completion for both callers');
  assert.equal(controller.attemptSucceeded(run), 'start-over', 'its result may predate the request');
  assert.deepEqual(controller.next(run, 900), { action: 'attempt', attempt: 1, delayMs: 0, startAt: 900 }, 'a full budget, at once');
  assert.equal(controller.attemptSucceeded(run), 'rejoined');
  assert.equal(await isSettled(run.done), false, 'done settles when the run is finished, not before');
  assert.deepEqual(controller.finish(run, 'rejoined'), { action: 'connected' });
  assert.equal(await isSettled(run.done), true);
  assert.equal(controller.running, false);
});

test('a request planned into an attempt is served by it: next() clears it', () => {
  const controller = new RejoinController(options);
  const run = started(controller.request('worker-died', 'connected'));
  controller.request('worker-died', 'reconnecting'); // before the first attempt was planned
  controller.next(run, 0);
  assert.equal(controller.attemptSucceeded(run), 'rejoined');
});

test('a run that fails after a request came during its last attempt goes again, for the same callers', async () => {
  const controller = new RejoinController({ ...options, attempts: 1 });
  const run = started(controller.request('worker-died', 'connected'));
  controller.next(run, 0);
  controller.request('worker-died', 'reconnecting');
  assert.equal(controller.attemptFailed(run, 'FORBIDDEN'), 'give-up');
  const end = controller.finish(run, 'gave-up');
  assert.equal(end.action, 'run-again');
  const next = (end as { next: RejoinRun }).next;
  assert.notEqual(next, run);
  assert.equal(next.reason, 'worker-died');
  assert.equal(next.done, run.done, "the follow-up completes the first run's callers");
  assert.equal(controller.running, true);
  assert.equal(await isSettled(run.done), false);
  controller.next(next, 1000);
  assert.equal(controller.request('manual', 'reconnecting').action, 'coalesce');
  assert.equal(controller.attemptSucceeded(next), 'start-over', "the 'manual' request came during the attempt");
  controller.next(next, 1200);
  assert.equal(controller.attemptSucceeded(next), 'rejoined');
  assert.deepEqual(controller.finish(next, 'rejoined'), { action: 'connected' });
  assert.equal(await isSettled(run.done), true);
});

test('a reconnectRequired during the first join is deferred to its end; a failed join drops it', () => {
  const controller = new RejoinController(options);
  assert.equal(controller.request('worker-died', 'connecting').action, 'defer');
  assert.equal(controller.request('manual', 'connecting').action, 'defer');
  assert.equal(controller.running, false, 'nothing runs during the join');
  assert.equal(controller.joinSucceeded(), 'worker-died', 'the first reason');
  assert.equal(controller.joinSucceeded(), undefined, 'once');

  controller.request('worker-died', 'connecting');
  controller.joinFailed();
  assert.equal(controller.joinSucceeded(), undefined);
});

test('leave / close cancel: the signal aborts, every decision says cancelled, and a later request starts afresh', async () => {
  const controller = new RejoinController(options);
  const joinSignal = controller.signal;
  const run = started(controller.request('worker-died', 'connected'));
  assert.equal(run.signal, joinSignal, 'a run lives in the lifetime it started in');
  controller.next(run, 0);
  controller.request('worker-died', 'connecting'); // (state as a test stand-in: a deferred request too)
  controller.cancel();
  assert.equal(run.signal.aborted, true);
  assert.equal(controller.running, false, 'a cancelled run no longer counts as in flight');
  assert.equal(controller.joinSucceeded(), undefined, 'a deferred request is forgotten');
  assert.equal(controller.signal.aborted, false, 'the next lifetime has a fresh signal');
  assert.equal(controller.attemptSucceeded(run), 'cancelled');
  assert.equal(controller.attemptFailed(run, 'TIMEOUT'), 'cancelled');

  // The client joined again and a new request came before the old run noticed it was cancelled.
  const fresh = started(controller.request('worker-died', 'connected'));
  assert.notEqual(fresh, run);
  assert.deepEqual(controller.finish(run, 'gave-up'), { action: 'cancelled' });
  assert.equal(await isSettled(run.done), true, "the cancelled run's callers are released");
  assert.equal(controller.running, true, 'finishing the stale run leaves the fresh one alone');
  assert.equal(controller.current, fresh);
});

test('ICE restarts move connected ⇄ reconnecting, except while a rejoin run owns the state', () => {
  const controller = new RejoinController(options);
  assert.deepEqual(controller.iceStateChange('connected', true), { state: 'reconnecting', reason: 'ice-restart' });
  assert.deepEqual(controller.iceStateChange('reconnecting', false), { state: 'connected', reason: 'ice-restarted' });
  assert.equal(controller.iceStateChange('connected', false), undefined);
  assert.equal(controller.iceStateChange('reconnecting', true), undefined);
  assert.equal(controller.iceStateChange('failed', false), undefined);
  const run = started(controller.request('ice-restarts-exhausted', 'reconnecting'));
  assert.equal(controller.iceStateChange('reconnecting', false), undefined, 'the run decides when it is connected again');
  controller.next(run, 0);
  controller.finish(run, 'rejoined');
  assert.deepEqual(controller.iceStateChange('connected', true), { state: 'reconnecting', reason: 'ice-restart' });
});
