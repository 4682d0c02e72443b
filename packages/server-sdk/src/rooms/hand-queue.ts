import type { HandQueueEntry, PeerInfo } from '@lectern/protocol';
import { rateLimited, TokenBucket, type RateLimit } from '../util/token-bucket.js';

/** A peer may send at most this many `sendGesture` / `raiseHand` / `lowerHand` requests at once… */
export const HAND_REQUEST_LIMIT = 20;
/** …and this many more per this many milliseconds. */
export const HAND_REQUEST_WINDOW_MS = 1000;
/** The gesture and hand limit as a token bucket: a burst of 20, then 20 a second. */
export const HAND_REQUEST_RATE: RateLimit = { perSecond: (HAND_REQUEST_LIMIT * 1000) / HAND_REQUEST_WINDOW_MS, burst: HAND_REQUEST_LIMIT };

/**
 * A room's raised hands, first come first served (one entry per peer), and the
 * rate limit on the requests that change them. Every change is announced through
 * `onChanged` with the new queue, once per change, or once at the end of a
 * {@link batch} however many changes it made.
 */
export class HandQueue {
  /** By peer id; a Map keeps insertion order, which is the queue's order. */
  private readonly entries = new Map<string, HandQueueEntry>();
  /** The limiter's bucket per peer; keyed by the room's peer object, so it goes with the peer. */
  private readonly buckets = new WeakMap<object, TokenBucket>();
  private pendingBatch: { changed: boolean } | undefined;

  constructor(private readonly onChanged: (queue: HandQueueEntry[]) => void) {}

  /** Puts the peer's hand in the queue; raising again while queued keeps its place. */
  raise(peer: Pick<PeerInfo, 'peerId' | 'displayName'>, source: HandQueueEntry['source'], now = new Date()): void {
    if (this.entries.has(peer.peerId)) return;
    this.entries.set(peer.peerId, {
      peerId: peer.peerId,
      ...(peer.displayName !== undefined ? { displayName: peer.displayName } : {}),
      raisedAt: now.toISOString(),
      source,
    });
    this.changed();
  }

  /** Puts an entry made elsewhere (another node of the room) in the queue, as it was made. */
  insert(entry: HandQueueEntry): void {
    if (this.entries.has(entry.peerId)) return;
    this.entries.set(entry.peerId, { ...entry });
    this.changed();
  }

  /** The peer's raised hand, if it is in the queue. */
  entry(peerId: string): HandQueueEntry | undefined {
    const entry = this.entries.get(peerId);
    return entry ? { ...entry } : undefined;
  }

  /** Takes a hand out of the queue; false if it was not raised. */
  lower(peerId: string): boolean {
    if (!this.entries.delete(peerId)) return false;
    this.changed();
    return true;
  }

  /** Empties the queue. */
  clear(): void {
    if (this.entries.size === 0) return;
    this.entries.clear();
    this.changed();
  }

  /** Forgets every hand without announcing it (the room is closing; its peers hear `roomClosed`). */
  discard(): void {
    this.entries.clear();
  }

  /** The raised hands, oldest first (copies: callers may keep or change them). */
  snapshot(): HandQueueEntry[] {
    return [...this.entries.values()].map((entry) => ({ ...entry }));
  }

  /** Runs `changes` and announces the queue once at the end, if it changed (many peers leaving at once). */
  batch(changes: () => void): void {
    const batch = (this.pendingBatch = { changed: false });
    try {
      changes();
    } finally {
      this.pendingBatch = undefined;
    }
    if (batch.changed) this.changed();
  }

  /**
   * At most {@link HAND_REQUEST_LIMIT} gesture/hand requests per peer at once,
   * refilled at {@link HAND_REQUEST_LIMIT} per {@link HAND_REQUEST_WINDOW_MS}
   * ({@link HAND_REQUEST_RATE}); refused requests do not count. `peer` is the
   * room's object for the peer: its bucket goes when the peer does. `now` is a
   * monotonic time in milliseconds.
   */
  limitRequests(peer: object, now = performance.now()): void {
    let bucket = this.buckets.get(peer);
    if (!bucket) this.buckets.set(peer, (bucket = new TokenBucket(HAND_REQUEST_RATE, now)));
    const retryAfterMs = bucket.take(now);
    if (retryAfterMs > 0) {
      // limit/windowMs: the fields this error carried before the limit became a token bucket.
      throw rateLimited('gesture and hand requests', HAND_REQUEST_RATE, retryAfterMs, {
        limit: HAND_REQUEST_LIMIT,
        windowMs: HAND_REQUEST_WINDOW_MS,
      });
    }
  }

  private changed(): void {
    if (this.pendingBatch) {
      this.pendingBatch.changed = true;
      return;
    }
    this.onChanged(this.snapshot());
  }
}
