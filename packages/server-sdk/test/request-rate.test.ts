// The one token bucket (util/token-bucket.ts), pure with an injected clock, and
// the per-peer request limit it gives RoomManager.handle, with a real worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, LecternError, RoomManager, type PeerContext } from '@lectern/server-sdk';
import { TokenBucket, TokenBuckets, type RateLimit } from '../src/util/token-bucket.js';

// ---------------------------------------------------------------- the bucket (pure)

test('a bucket starts full, refills at perSecond up to burst, and says when to retry', () => {
  const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, 1000);
  assert.deepEqual([bucket.take(1000), bucket.take(1000), bucket.take(1000)], [0, 0, 0], 'a burst of 3');
  assert.equal(bucket.take(1000), 100, 'one token every 100 ms');
  assert.equal(bucket.take(1040), 60, 'refused requests take nothing: 40 ms of the 100 are done');
  assert.equal(bucket.take(1100), 0);
  assert.equal(bucket.take(1100), 100);
  assert.equal(bucket.isFull(1100), false);
  // A long pause refills to burst, never beyond.
  assert.equal(bucket.isFull(10_000), true);
  assert.deepEqual([0, 1, 2, 3].map(() => bucket.take(10_000)), [0, 0, 0, 100]);
  // A clock that steps back adds nothing (and breaks nothing).
  assert.equal(bucket.take(5_000), 100);
  assert.equal(bucket.take(10_100), 0);
});

test('fractional rates: a token every 3 s, and float sums that land a hair under a whole token', () => {
  const slow = new TokenBucket({ perSecond: 1 / 3, burst: 1 }, 0);
  assert.equal(slow.take(0), 0);
  assert.equal(slow.take(1), 2999);
  assert.equal(slow.take(2999), 1);
  assert.equal(slow.take(3000), 0);
  // 20 a second refilled in 1 ms steps: 50 × 0.02 is not exactly 1 in floating point.
  const fast = new TokenBucket({ perSecond: 20, burst: 1 }, 0);
  assert.equal(fast.take(0), 0);
  for (let t = 1; t < 50; t++) assert.ok(fast.take(t) > 0, `refused at ${t} ms`);
  assert.equal(fast.take(50), 0, 'the token is back after exactly 50 ms');
});

test('keyed buckets: independent per key; a full bucket is dropped on release or sweep, a drained one is kept until it refills', () => {
  let now = 0;
  const buckets = new TokenBuckets<string>({ perSecond: 2, burst: 2 }, () => now);
  assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 0);
  assert.equal(buckets.take('a'), 500);
  assert.equal(buckets.take('b'), 0, 'b has its own bucket');
  assert.equal(buckets.size, 2);

  buckets.release('a'); // a leaves drained: rejoining must not buy a fresh burst
  assert.equal(buckets.size, 2);
  assert.equal(buckets.take('a'), 500);
  now = 499;
  buckets.sweep();
  assert.equal(buckets.size, 2, 'nothing is full yet');
  now = 1000;
  buckets.sweep(); // b (1 token at 0 + 2 since) is full; a has 2 tokens too
  assert.equal(buckets.size, 0, 'both refilled: both dropped');
  assert.equal(buckets.take('c'), 0);
  now = 1500;
  buckets.release('c'); // full again (1 + 1): dropped at once
  assert.equal(buckets.size, 0);
  assert.equal(buckets.take('d'), 0);
  buckets.clear();
  assert.equal(buckets.size, 0);
});

// ---------------------------------------------------------------- RoomManager.handle

/** The manager's request budgets (internal: read here to show they do not outlive their peers). */
const budgets = (manager: RoomManager) => (manager as unknown as { requestBudgets: TokenBuckets<string> | undefined }).requestBudgets;

async function rejection(promise: Promise<unknown>): Promise<LecternError> {
  const error = await promise.then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LecternError, `not a LecternError: ${String(error)}`);
  return error;
}

test('a real manager: RATE_LIMITED past the burst, per peer, leave always allowed, budgets go with their peers', async () => {
  // A burst of 8 and a token every 20 ms: the bursts below are sent synchronously
  // (handle() takes its token before its first await), well within one token's time,
  // and the waits of 200 ms refill the bucket fully (8 tokens take 160 ms).
  const rate: RateLimit = { perSecond: 50, burst: 8 };
  const manager = await RoomManager.create({ workers: { numWorkers: 1 }, requestRateLimit: rate, emptyRoomTimeoutMs: null });
  try {
    const ctx = (peerId: string): PeerContext => ({ roomId: 'rate', peerId, role: 'student' });
    const { routerRtpCapabilities } = await manager.request(ctx('a'), 'getRouterRtpCapabilities', {});
    await new Promise((r) => setTimeout(r, 200));
    // All at once (handle() takes the token synchronously, before any await): 8 pass, the rest are refused.
    const burst = await Promise.allSettled(Array.from({ length: 12 }, () => manager.handle(ctx('a'), 'getRouterRtpCapabilities', {})));
    const codes = burst.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as LecternError).code));
    assert.deepEqual(codes, [...Array<string>(8).fill('ok'), ...Array<string>(4).fill(ErrorCode.RATE_LIMITED)]);
    const limited = (burst[11] as PromiseRejectedResult).reason as LecternError;
    const { retryAfterMs, ...limit } = limited.details as { retryAfterMs: number; perSecond: number; burst: number };
    assert.deepEqual(limit, { perSecond: 50, burst: 8 });
    assert.ok(retryAfterMs >= 1 && retryAfterMs <= 20, `retryAfterMs ${retryAfterMs}`);
    assert.deepEqual(JSON.parse(JSON.stringify(limited.toJSON())), limited.toJSON());
    // Unknown methods and invalid payloads count too: they are the cheap kind of flood.
    assert.equal((await rejection(manager.handle(ctx('a'), 'fly', {}))).code, ErrorCode.RATE_LIMITED);
    // Another peer has its own budget.
    await manager.request(ctx('b'), 'join', { rtpCapabilities: routerRtpCapabilities });
    await new Promise((r) => setTimeout(r, 200));
    await manager.request(ctx('a'), 'join', { rtpCapabilities: routerRtpCapabilities });

    // A drained peer may still leave; its drained budget stays, so rejoining soon after
    // gets the token or two that came back, not a fresh burst...
    await Promise.allSettled(Array.from({ length: 10 }, () => manager.handle(ctx('a'), 'getRouterRtpCapabilities', {})));
    await manager.request(ctx('a'), 'leave', {});
    assert.equal(manager.getRoom('rate')!.hasPeer('a'), false);
    assert.equal(budgets(manager)!.size, 2, "a's drained budget is kept");
    await new Promise((r) => setTimeout(r, 25));
    const rejoin = await Promise.allSettled(Array.from({ length: 10 }, () => manager.handle(ctx('a'), 'join', { rtpCapabilities: routerRtpCapabilities })));
    assert.ok(rejoin.some((r) => r.status === 'rejected' && (r.reason as LecternError).code === ErrorCode.RATE_LIMITED), 'leave + join buys no fresh burst');
    assert.ok(manager.getRoom('rate')!.hasPeer('a'), 'the first join went through');

    // ...and once refilled, a peer that leaves leaves nothing behind.
    await new Promise((r) => setTimeout(r, 200));
    await manager.request(ctx('a'), 'leave', {});
    await manager.request(ctx('b'), 'leave', {});
    assert.equal(budgets(manager)!.size, 0, 'no budget outlives its peer');
  } finally {
    manager.close();
  }
  assert.equal(budgets(manager)!.size, 0);
});

test('requestRateLimit: false turns it off; a rate that cannot work is INVALID_CONFIG before any worker starts', async () => {
  const off = await RoomManager.create({ workers: { numWorkers: 1 }, requestRateLimit: false });
  try {
    assert.equal(budgets(off), undefined);
    const ctx: PeerContext = { roomId: 'unlimited', peerId: 'p' };
    await Promise.all(Array.from({ length: 2000 }, () => off.request(ctx, 'getRouterRtpCapabilities', {})));
  } finally {
    off.close();
  }
  for (const requestRateLimit of [{ perSecond: 0 }, { perSecond: Infinity }, { perSecond: Number.NaN }, { burst: 0 }, { burst: 2.5 }]) {
    const error = await rejection(RoomManager.create({ workers: { numWorkers: 1 }, requestRateLimit }));
    assert.equal(error.code, ErrorCode.INVALID_CONFIG, JSON.stringify(requestRateLimit));
    assert.match(error.message, /requestRateLimit\.(perSecond|burst)/);
  }
});

test('the default budget lets a client subscribe to as many producers as it may consume, at once', async () => {
  // The default burst is 2 × maxConsumersPerPeer + 100: join, transports and a
  // consume + resumeConsumer per producer fit in one burst. Here with 20 consumers.
  const manager = await RoomManager.create({ workers: { numWorkers: 1 }, limits: { maxConsumersPerPeer: 20 } });
  try {
    assert.deepEqual(budgets(manager)!.rate, { perSecond: 50, burst: 140 });
    const ctx: PeerContext = { roomId: 'default', peerId: 'p', role: 'student' };
    const started = performance.now();
    const pending = Array.from({ length: 150 }, () => manager.handle(ctx, 'getRouterRtpCapabilities', {}));
    const elapsedMs = performance.now() - started; // while sending, a token came back every 20 ms
    const sent = await Promise.allSettled(pending);
    const refused = sent.filter((r) => r.status === 'rejected');
    const passed = sent.length - refused.length;
    assert.ok(passed >= 140 && passed <= 140 + Math.ceil(elapsedMs / 20), `${passed} passed in ${elapsedMs.toFixed(1)} ms`);
    assert.ok(refused.every((r) => (r.reason as LecternError).code === ErrorCode.RATE_LIMITED));
  } finally {
    manager.close();
  }
});
