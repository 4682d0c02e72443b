/**
 * Connection recovery decisions, kept free of WebRTC so they can be tested with
 * fake timers. Two levels:
 *
 * 1. {@link IceRecovery}, one per transport: `disconnected` gets a grace period
 *    (the network often comes back by itself); `failed`, or a grace period that
 *    expires, triggers an ICE restart; a restart that does not bring the
 *    transport to `connected` within `restartTimeoutMs` (or whose request fails)
 *    is retried, up to `maxRestarts`; then it gives up and the client rejoins.
 * 2. {@link rejoinDelayMs} / {@link isRetryableRejoinError}: the client's full
 *    rejoin (new transports, `join` again, republish, resubscribe) is retried with
 *    exponential backoff unless the server refuses for good.
 * @module
 */
import type { types } from 'mediasoup-client';
import { ErrorCode } from '@lectern/protocol';
import { ClientErrorCode, type LecternClientErrorCode } from './errors.js';

/** Where one transport stands, as recovery sees it. */
export type TransportHealth = 'connecting' | 'connected' | 'grace' | 'restarting' | 'failed' | 'closed';

/** Why recovery gave up on a transport (the client then rejoins). */
export type IceGiveUpReason = 'ice-restarts-exhausted' | 'ice-restart-refused';

export interface IceRecoveryOptions {
  /** How long a `disconnected` transport may take to come back before an ICE restart. Default 2000 ms. */
  disconnectedGraceMs: number;
  /** ICE restarts tried before giving up (0: give up at once). Default 2. */
  maxRestarts: number;
  /** A restart must bring the transport to `connected` within this, else the next one starts. Default 8000 ms. */
  restartTimeoutMs: number;
  /** Wait before retrying a restart whose request failed. Default 500 ms. */
  retryDelayMs: number;
}

export const DEFAULT_ICE_RECOVERY: Readonly<IceRecoveryOptions> = {
  disconnectedGraceMs: 2000,
  maxRestarts: 2,
  restartTimeoutMs: 8000,
  retryDelayMs: 500,
};

export interface IceRecoveryActions {
  /** Runs one ICE restart (`restartIce` request, then `transport.restartIce`). `attempt` counts from 1. */
  restartIce(attempt: number): Promise<void>;
  /** Recovery is over for this transport: the caller should rejoin. Called at most once. */
  giveUp(reason: IceGiveUpReason, error?: unknown): void;
  /** Whether a failed restart means retrying is pointless (e.g. the server no longer knows the transport). */
  isFatal?(error: unknown): boolean;
  /** Observes health changes (for the client's aggregate connection state). */
  onHealthChange?(health: TransportHealth, previous: TransportHealth): void;
}

/**
 * The ICE-level recovery state machine of one transport. Feed it every
 * `connectionstatechange`; it calls `restartIce` / `giveUp` when due.
 *
 * ```
 * connecting ──connected──▶ connected ──disconnected──▶ grace ──(grace expired | failed)──▶ restarting
 *     ▲                        ▲                          │                                   │   │
 *     │                        └──────connected───────────┴───────────connected───────────────┘   │
 *     │                                                           (timeout | request failed) ─────┤ attempt < max: restart again
 *     │                                                                                           └▶ failed (giveUp → rejoin)
 * failed (before ever connecting) ──▶ restarting as well; closed from anywhere ──▶ closed
 * ```
 */
export class IceRecovery {
  private state: TransportHealth = 'connecting';
  private attemptsUsed = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = false;
  /** The last connection state the transport reported. */
  private lastState: types.ConnectionState = 'new';
  private readonly options: IceRecoveryOptions;

  constructor(
    private readonly actions: IceRecoveryActions,
    options: Partial<IceRecoveryOptions> = {},
  ) {
    this.options = { ...DEFAULT_ICE_RECOVERY, ...options };
  }

  /** Current health. */
  get health(): TransportHealth {
    return this.state;
  }

  /** ICE restarts used since the transport was last `connected`. */
  get attempts(): number {
    return this.attemptsUsed;
  }

  /** Feeds one transport `connectionstatechange`. */
  onConnectionState(state: types.ConnectionState): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.lastState = state;
    switch (state) {
      case 'connected':
        this.clearTimer();
        this.attemptsUsed = 0;
        this.set('connected');
        return;
      case 'new':
      case 'connecting':
        // ICE checks in progress (first connection or a restart): timers decide.
        return;
      case 'disconnected':
        if (this.state === 'connected' || this.state === 'connecting') {
          this.set('grace');
          this.schedule(this.options.disconnectedGraceMs, () => this.restart());
        }
        return;
      case 'failed':
        if (this.inFlight) return; // the running restart's outcome decides
        this.clearTimer();
        this.restart();
        return;
      case 'closed':
        this.dispose();
        return;
    }
  }

  /** Stops all timers; no action is taken afterwards. */
  dispose(): void {
    this.clearTimer();
    this.set('closed');
  }

  private restart(): void {
    this.clearTimer();
    if (this.state === 'closed' || this.state === 'failed') return;
    if (this.attemptsUsed >= this.options.maxRestarts) {
      this.fail('ice-restarts-exhausted');
      return;
    }
    this.attemptsUsed += 1;
    this.set('restarting');
    this.inFlight = true;
    const attempt = this.attemptsUsed;
    this.actions.restartIce(attempt).then(
      () => {
        this.inFlight = false;
        if (this.state !== 'restarting') return;
        if (this.lastState === 'connected') {
          this.onConnectionState('connected');
          return;
        }
        this.schedule(this.options.restartTimeoutMs, () => this.restart());
      },
      (error: unknown) => {
        this.inFlight = false;
        if (this.state !== 'restarting') return;
        if (this.actions.isFatal?.(error)) {
          this.fail('ice-restart-refused', error);
          return;
        }
        this.schedule(this.options.retryDelayMs, () => this.restart());
      },
    );
  }

  private fail(reason: IceGiveUpReason, error?: unknown): void {
    this.clearTimer();
    this.set('failed');
    this.actions.giveUp(reason, error);
  }

  private schedule(ms: number, fn: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fn();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private set(health: TransportHealth): void {
    if (health === this.state) return;
    const previous = this.state;
    this.state = health;
    this.actions.onHealthChange?.(health, previous);
  }
}

/** Rejoin settings. */
export interface RejoinOptions {
  /** Full rejoins tried before the client reports `failed`. Default 5. */
  attempts: number;
  /** First retry delay; doubles each time. Default 500 ms. */
  baseDelayMs: number;
  /** Cap on the delay. Default 8000 ms. */
  maxDelayMs: number;
}

export const DEFAULT_REJOIN: Readonly<RejoinOptions> = { attempts: 5, baseDelayMs: 500, maxDelayMs: 8000 };

/** Delay before rejoin attempt `attempt` (1-based): 0 for the first, then exponential backoff. */
export function rejoinDelayMs(attempt: number, options: Pick<RejoinOptions, 'baseDelayMs' | 'maxDelayMs'> = DEFAULT_REJOIN): number {
  if (attempt <= 1) return 0;
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 2));
}

/** Codes that no amount of retrying a rejoin will fix. */
const FINAL_REJOIN_CODES: ReadonlySet<LecternClientErrorCode> = new Set<LecternClientErrorCode>([
  ErrorCode.FORBIDDEN,
  ErrorCode.INVALID_REQUEST,
  ErrorCode.UNKNOWN_METHOD,
  ErrorCode.INVALID_CONFIG,
  ErrorCode.INCOMPATIBLE_CAPABILITIES,
  // The runtime has no WebRTC handler: it will not grow one between attempts.
  ClientErrorCode.DEVICE_UNSUPPORTED,
]);

/** Whether a rejoin that failed with `code` is worth retrying. */
export function isRetryableRejoinError(code: LecternClientErrorCode): boolean {
  return !FINAL_REJOIN_CODES.has(code);
}

/** Whether a failed `restartIce` means the server lost the transport (rejoin instead of retrying). */
export function isFatalIceRestartError(code: LecternClientErrorCode): boolean {
  return code === ErrorCode.NOT_FOUND || code === ErrorCode.CLOSED || code === ErrorCode.INVALID_REQUEST;
}
