/**
 * The decisions behind a client's full rejoin, kept free of WebRTC, signaling
 * and timers so they can be unit-tested with injected time (like
 * {@link IceRecovery} and the gesture state machine). The connection asks it
 * what to do and carries the answer out:
 *
 * - a rejoin request (`reconnectRequired`, ICE gave up, `rejoin()`) starts a run,
 *   joins the one already running (which then goes again: the world changed
 *   after its attempt began), waits for the first join in flight to finish, or
 *   is ignored when the client is not in a room;
 * - a run makes attempts with the backoff of {@link rejoinDelayMs} until one
 *   succeeds, a final code ({@link isRetryableRejoinError}) stops it, or the
 *   attempts are spent; then the client is `connected` or `failed`;
 * - leave / close / roomClosed end the client's "lifetime": its `AbortSignal`
 *   aborts, so a join or run in flight stops at its next step and a backoff
 *   sleep wakes at once.
 * @module
 */
import type { LecternClientErrorCode } from '../errors.js';
import { DEFAULT_REJOIN, isRetryableRejoinError, rejoinDelayMs, type RejoinOptions } from '../recovery.js';
import type { ConnectionState } from '../types.js';

/** One rejoin run: a series of attempts for one reason. */
export interface RejoinRun {
  /** Why the client rejoins (`worker-died`, `ice-restarts-exhausted`, `manual` ...); the `reconnecting` state's reason. */
  readonly reason: string;
  /** Aborted when the client leaves or closes while the run is in flight. */
  readonly signal: AbortSignal;
  /** The attempt in progress (1-based; 0 before the first). */
  readonly attempt: number;
  /** Settles once the run (and any run that follows it because it was asked to go again) is over. */
  readonly done: Promise<void>;
}

/** What to do with a request to rejoin. */
export type RejoinDecision =
  /** No run is in flight: execute `run` (the controller has recorded it). */
  | { readonly action: 'start'; readonly run: RejoinRun }
  /** A run is in flight; it will go again once its current attempt is over. Await `run.done`. */
  | { readonly action: 'coalesce'; readonly run: RejoinRun }
  /** The first join is in flight: rejoin once it succeeds (see {@link RejoinController.joinSucceeded}). */
  | { readonly action: 'defer' }
  /** Not in a room (disconnected or closed): nothing to recover. */
  | { readonly action: 'ignore' };

/** The next step of a run. */
export type NextAttempt =
  /** Start attempt `attempt` at `startAt` (`delayMs` after `now`). */
  | { readonly action: 'attempt'; readonly attempt: number; readonly delayMs: number; readonly startAt: number }
  /** Every attempt has been spent. */
  | { readonly action: 'exhausted' };

/** How a run ended, and what the client does next. */
export type RunEnd =
  /** Rejoined: state `connected` (reason `rejoined`). */
  | { readonly action: 'connected' }
  /** Out of attempts or refused for good: state `failed`. */
  | { readonly action: 'failed' }
  /** It failed, but a request arrived meanwhile: execute `next`, a fresh run for the same reason. */
  | { readonly action: 'run-again'; readonly next: RejoinRun }
  /** The client left or closed meanwhile: do nothing more. */
  | { readonly action: 'cancelled' };

/** A state change ICE recovery calls for, if any. */
export interface IceStateChange {
  readonly state: ConnectionState;
  readonly reason: string;
}

class Run implements RejoinRun {
  attempt = 0;
  /** A rejoin request arrived after the current attempt began. */
  requestedAgain = false;
  readonly done: Promise<void>;
  readonly settle: () => void;

  constructor(
    readonly reason: string,
    readonly signal: AbortSignal,
    previous?: Run,
  ) {
    if (previous) {
      // The follow-up run completes the callers of the run it replaces.
      this.done = previous.done;
      this.settle = previous.settle;
    } else {
      let settle!: () => void;
      this.done = new Promise<void>((resolve) => (settle = resolve));
      this.settle = settle;
    }
  }
}

/** See the module description. One per client. */
export class RejoinController {
  #lifetime = new AbortController();
  #run: Run | undefined;
  /** Why to rejoin once the first join in flight succeeds (a `reconnectRequired` that came while joining). */
  #afterJoin: string | undefined;
  readonly #options: RejoinOptions;

  constructor(options: Partial<RejoinOptions> = {}) {
    this.#options = { ...DEFAULT_REJOIN, ...options };
  }

  /** The current lifetime's signal: a join or run started now is cancelled when it aborts. */
  get signal(): AbortSignal {
    return this.#lifetime.signal;
  }

  /** Whether a run is in flight (ICE-level state changes wait for it). */
  get running(): boolean {
    return this.#run !== undefined;
  }

  /** The run in flight, if any. */
  get current(): RejoinRun | undefined {
    return this.#run;
  }

  /** The total number of attempts a run may make. */
  get attempts(): number {
    return this.#options.attempts;
  }

  /** A rejoin was asked for (`reason`) while the client is in `state`. */
  request(reason: string, state: ConnectionState): RejoinDecision {
    if (state === 'closed' || state === 'disconnected') return { action: 'ignore' };
    if (state === 'connecting') {
      this.#afterJoin ??= reason;
      return { action: 'defer' };
    }
    if (this.#run) {
      this.#run.requestedAgain = true;
      return { action: 'coalesce', run: this.#run };
    }
    this.#run = new Run(reason, this.signal);
    return { action: 'start', run: this.#run };
  }

  /** The first join succeeded: the reason to rejoin right away, when one was deferred. */
  joinSucceeded(): string | undefined {
    const reason = this.#afterJoin;
    this.#afterJoin = undefined;
    return reason;
  }

  /** The first join failed: a deferred rejoin has nothing to recover. */
  joinFailed(): void {
    this.#afterJoin = undefined;
  }

  /** leave / close / roomClosed: aborts the lifetime (joins and runs in flight stop) and forgets every request. */
  cancel(): void {
    this.#lifetime.abort();
    this.#lifetime = new AbortController();
    this.#run = undefined;
    this.#afterJoin = undefined;
  }

  /** The run's next attempt, at `now`: the first at once, later ones after the backoff delay. */
  next(run: RejoinRun, now: number): NextAttempt {
    const r = run as Run;
    if (r.attempt >= this.#options.attempts) return { action: 'exhausted' };
    r.attempt += 1;
    // Requests up to here are served by this attempt; later ones make the run go again.
    r.requestedAgain = false;
    const delayMs = rejoinDelayMs(r.attempt, this.#options);
    return { action: 'attempt', attempt: r.attempt, delayMs, startAt: now + delayMs };
  }

  /**
   * The attempt rejoined. `start-over` when a request arrived while it ran (its
   * result may already be stale): the run begins again from a full budget.
   */
  attemptSucceeded(run: RejoinRun): 'rejoined' | 'start-over' | 'cancelled' {
    const r = run as Run;
    if (r.signal.aborted) return 'cancelled';
    if (r.requestedAgain) {
      r.attempt = 0;
      return 'start-over';
    }
    return 'rejoined';
  }

  /** The attempt failed with `code`: `retry` (see {@link next}) unless the code is final. */
  attemptFailed(run: RejoinRun, code: LecternClientErrorCode): 'retry' | 'give-up' | 'cancelled' {
    if (run.signal.aborted) return 'cancelled';
    return isRetryableRejoinError(code) ? 'retry' : 'give-up';
  }

  /**
   * The run is over (`rejoined`, `gave-up` after a final code or spent attempts,
   * or `cancelled`). It is no longer in flight afterwards, so a listener of the
   * resulting state change may start the next run.
   */
  finish(run: RejoinRun, outcome: 'rejoined' | 'gave-up' | 'cancelled'): RunEnd {
    const r = run as Run;
    if (this.#run === r) this.#run = undefined;
    let end: RunEnd;
    if (outcome === 'cancelled' || r.signal.aborted) end = { action: 'cancelled' };
    else if (r.requestedAgain) {
      // Asked again while the last attempt ran: that request deserves an attempt of its own.
      const next = new Run(r.reason, this.signal, r);
      this.#run = next;
      return { action: 'run-again', next };
    } else end = { action: outcome === 'rejoined' ? 'connected' : 'failed' };
    r.settle();
    return end;
  }

  /**
   * The ICE health of the session's transports changed: `reconnecting` while one
   * restarts ICE, back to `connected` once all are healthy. A run in flight owns
   * the state, so ICE changes are ignored meanwhile.
   */
  iceStateChange(state: ConnectionState, recovering: boolean): IceStateChange | undefined {
    if (this.#run) return undefined;
    if (recovering && state === 'connected') return { state: 'reconnecting', reason: 'ice-restart' };
    if (!recovering && state === 'reconnecting') return { state: 'connected', reason: 'ice-restarted' };
    return undefined;
  }
}
