import { ErrorCode, LecternError } from '../errors.js';

/**
 * A request rate: a bucket holds at most `burst` tokens and gains `perSecond`
 * tokens a second; every request takes one. So a client may send `burst`
 * requests at once, and `perSecond` a second for as long as it likes.
 */
export interface RateLimit {
  /** Tokens added per second (the sustained rate). Finite, > 0. */
  readonly perSecond: number;
  /** Tokens the bucket holds when full (the largest burst). An integer >= 1. */
  readonly burst: number;
}

/** Tokens within this of a whole one count as one: refills add fractions, and 0.1 + 0.2 is not 0.3. */
const EPSILON = 1e-9;

/**
 * One token bucket: the one rate limiter of the server SDK (the per-peer request
 * limit of the manager and the hand queue's gesture limit both use it). Time is
 * passed in, in milliseconds of a monotonic clock (`performance.now()`), so the
 * logic is pure and is tested with an injected clock.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  /** A full bucket at `now`. */
  constructor(
    readonly rate: RateLimit,
    now: number,
  ) {
    this.tokens = rate.burst;
    this.updatedAt = now;
  }

  /**
   * Takes one token: returns 0 when it was taken, otherwise the milliseconds
   * until a token is available (>= 1; nothing is taken, so a refused request
   * does not use up the budget).
   */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1 - EPSILON) {
      this.tokens = Math.max(0, this.tokens - 1);
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000 - EPSILON));
  }

  /** Whether the bucket is full at `now`: a full bucket says nothing a new one would not, so its owner may drop it. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate.burst - EPSILON;
  }

  private refill(now: number): void {
    // A clock that steps back (it should not: callers pass a monotonic one) adds nothing.
    if (now <= this.updatedAt) return;
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.updatedAt) * this.rate.perSecond) / 1000);
    this.updatedAt = now;
  }
}

/**
 * Token buckets by key (a peer of a room, say), created full on first use. A
 * full bucket is forgotten ({@link release}, {@link sweep}): it holds no
 * information, so memory follows the keys that were active lately, and a key
 * that comes back before its bucket refilled (a peer that leaves and rejoins)
 * finds its drained bucket instead of a fresh burst.
 */
export class TokenBuckets<K> {
  private readonly buckets = new Map<K, TokenBucket>();

  constructor(
    readonly rate: RateLimit,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Buckets held (keys whose bucket is not known to be full). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token of `key`'s bucket: 0 when taken, else the milliseconds until one is available. */
  take(key: K): number {
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.rate, now)));
    return bucket.take(now);
  }

  /** `key` is gone (the peer left): its bucket is dropped now if full, else by a {@link sweep} once it is. */
  release(key: K): void {
    if (this.buckets.get(key)?.isFull(this.clock())) this.buckets.delete(key);
  }

  /** Drops every full bucket. */
  sweep(): void {
    const now = this.clock();
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }

  /** Drops every bucket. */
  clear(): void {
    this.buckets.clear();
  }
}

/**
 * The RATE_LIMITED error of a refused request: `details` carries the rate and
 * `retryAfterMs` (plus `extra`, e.g. a limit's older field names).
 */
export function rateLimited(what: string, rate: RateLimit, retryAfterMs: number, extra: Record<string, unknown> = {}): LecternError {
  return new LecternError(
    ErrorCode.RATE_LIMITED,
    `too many ${what}: at most ${rate.burst} at once and ${rate.perSecond} a second; retry in ${retryAfterMs} ms`,
    { ...extra, perSecond: rate.perSecond, burst: rate.burst, retryAfterMs },
  );
}

/** Refuses a rate that cannot work (INVALID_CONFIG): `perSecond` finite and > 0, `burst` an integer >= 1. */
export function assertRateLimit(rate: RateLimit, what: string): void {
  if (typeof rate.perSecond !== 'number' || !Number.isFinite(rate.perSecond) || rate.perSecond <= 0) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, `${what}.perSecond must be a finite number > 0, got ${String(rate.perSecond)}`);
  }
  if (!Number.isInteger(rate.burst) || rate.burst < 1) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, `${what}.burst must be an integer >= 1, got ${String(rate.burst)}`);
  }
}
