import type { HandQueueEntry, PeerInfo } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../errors.js';

/** A peer may send at most this many `sendGesture` / `raiseHand` / `lowerHand` requests… */
export const HAND_REQUEST_LIMIT = 20;
/** …within this many milliseconds (a sliding window). */
export const HAND_REQUEST_WINDOW_MS = 1000;

/**
 * A room's raised hands, first come first served (one entry per peer), and the
 * rate limit on the requests that change them. Every change is announced through
 * `onChanged` with the new queue, once per change, or once at the end of a
 * {@link batch} however many changes it made.
 */
export class HandQueue {
  /** By peer id; a Map keeps insertion order, which is the queue's order. */
  private readonly entries = new Map<string, HandQueueEntry>();
  /** Request times per peer (the limiter's sliding windows); they go with the peer object. */
  private readonly requestTimes = new WeakMap<object, number[]>();
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
   * At most {@link HAND_REQUEST_LIMIT} gesture/hand requests per peer in any
   * {@link HAND_REQUEST_WINDOW_MS}; refused requests do not count. `peer` is the
   * room's object for the peer: its window goes when the peer does.
   */
  limitRequests(peer: object, now = performance.now()): void {
    let times = this.requestTimes.get(peer);
    if (!times) this.requestTimes.set(peer, (times = []));
    let oldest = times[0];
    while (oldest !== undefined && now - oldest >= HAND_REQUEST_WINDOW_MS) {
      times.shift();
      oldest = times[0];
    }
    if (oldest !== undefined && times.length >= HAND_REQUEST_LIMIT) {
      const retryAfterMs = Math.max(1, Math.ceil(HAND_REQUEST_WINDOW_MS - (now - oldest)));
      throw new LecternError(
        ErrorCode.RATE_LIMITED,
        `at most ${HAND_REQUEST_LIMIT} gesture and hand requests per ${HAND_REQUEST_WINDOW_MS} ms; retry in ${retryAfterMs} ms`,
        { limit: HAND_REQUEST_LIMIT, windowMs: HAND_REQUEST_WINDOW_MS, retryAfterMs },
      );
    }
    times.push(now);
  }

  private changed(): void {
    if (this.pendingBatch) {
      this.pendingBatch.changed = true;
      return;
    }
    this.onChanged(this.snapshot());
  }
}
