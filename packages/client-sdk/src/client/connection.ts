import { ErrorCode } from '@lectern/protocol';
import type { types } from 'mediasoup-client';
import { ClientErrorCode, LecternClientError } from '../errors.js';
import type { IceGiveUpReason, RejoinOptions } from '../recovery.js';
import type { JoinOptions, JoinResult } from '../types.js';
import { NotificationRouter, type ConnectionNotifications } from './notifications.js';
import type { Publications } from './publications.js';
import { RejoinController, type RejoinRun } from './rejoin-controller.js';
import type { RemoteState } from './remote-state.js';
import { MediaSession, createDevice, loadDevice, type SessionContext, type SessionObserver, type TransportSettings } from './session.js';
import type { Subscriptions } from './subscriptions.js';

/** How a run's attempts ended: rejoined, cancelled (the client left), or the error to report. */
type AttemptsOutcome = 'rejoined' | 'cancelled' | LecternClientError;

/** The parts of the client a connection joins, restores and releases. */
export interface ConnectionParts {
  readonly remote: RemoteState;
  readonly subscriptions: Subscriptions;
  readonly publications: Publications;
}

export interface ConnectionSettings {
  handlerFactory: types.HandlerFactory | undefined;
  transports: TransportSettings;
  rejoin: RejoinOptions;
}

/**
 * The client's life in the room: join, leave, close, and recovery by a full
 * rejoin (decided by the {@link RejoinController}, carried out here: a new
 * session, `join` again, republish, resubscribe). It alone changes the
 * connection state and the current session.
 */
export class Connection implements ConnectionNotifications, SessionObserver {
  /** Where the host's notifications go (see {@link NotificationRouter.handle}). */
  readonly notifications: NotificationRouter;
  readonly #rejoin: RejoinController;
  /** What the app joined with; a rejoin joins with the same. */
  #joinOptions: JoinOptions | undefined;

  constructor(
    private readonly ctx: SessionContext,
    private readonly parts: ConnectionParts,
    private readonly settings: ConnectionSettings,
  ) {
    this.#rejoin = new RejoinController(settings.rejoin);
    this.notifications = new NotificationRouter(ctx, parts.remote, parts.subscriptions, this, parts.publications);
  }

  async join(options: JoinOptions): Promise<JoinResult> {
    const state = this.ctx.state;
    if (state === 'closed') throw new LecternClientError(ErrorCode.CLOSED, 'the client is closed');
    if (state !== 'disconnected' && state !== 'failed') {
      throw new LecternClientError(ErrorCode.INVALID_STATE, `cannot join while ${state}`);
    }
    if (state === 'failed') this.teardown(); // start clean (rejoin() would keep the local tracks)
    this.#joinOptions = { ...options };
    const signal = this.#rejoin.signal;
    this.ctx.setState('connecting');
    try {
      const session = await this.openSession(signal);
      this.ctx.setState('connected');
      void this.parts.subscriptions.subscribeKnown();
      const deferred = this.#rejoin.joinSucceeded();
      if (deferred !== undefined) void this.recover(deferred);
      return { peerId: session.peerId, role: session.role, peers: [...this.parts.remote.peers.values()] };
    } catch (thrown) {
      const error = LecternClientError.from(thrown, 'join');
      if (!signal.aborted) {
        this.#rejoin.joinFailed();
        this.teardown();
        this.ctx.setState('disconnected', error.message);
      }
      throw error;
    }
  }

  async leave(): Promise<void> {
    if (this.ctx.state === 'closed' || this.ctx.state === 'disconnected') return;
    const wasJoined = this.ctx.session !== undefined;
    this.#rejoin.cancel();
    this.teardown();
    this.ctx.setState('disconnected', 'left');
    if (wasJoined) await this.ctx.sendLeave();
  }

  close(): void {
    if (this.ctx.state === 'closed') return;
    const wasJoined = this.ctx.session !== undefined;
    this.#rejoin.cancel();
    this.teardown();
    this.ctx.setState('closed');
    if (wasJoined) void this.ctx.sendLeave();
  }

  /** The app's rejoin: needs a joined client (connected, reconnecting or failed). */
  async rejoin(): Promise<void> {
    const state = this.ctx.state;
    if (state === 'closed' || state === 'disconnected' || state === 'connecting') {
      throw new LecternClientError(ClientErrorCode.NOT_JOINED, 'join before rejoining');
    }
    await this.recover('manual');
  }

  reconnectRequired(reason: string): void {
    void this.recover(reason);
  }

  roomClosed(): void {
    this.#rejoin.cancel();
    this.teardown();
    this.ctx.setState('disconnected', 'room-closed');
  }

  removed(): void {
    this.#rejoin.cancel();
    this.teardown();
    this.ctx.setState('disconnected', 'removed');
  }

  iceGaveUp(_session: MediaSession, reason: IceGiveUpReason): void {
    void this.recover(reason);
  }

  iceHealthChanged(session: MediaSession): void {
    if (this.ctx.session !== session) return;
    const change = this.#rejoin.iceStateChange(this.ctx.state, session.recovering);
    if (change) this.ctx.setState(change.state, change.reason);
  }

  /** Asks the controller about a rejoin for `reason` and carries it out; settles when the rejoin is over. */
  private recover(reason: string): Promise<void> {
    const decision = this.#rejoin.request(reason, this.ctx.state);
    switch (decision.action) {
      case 'start':
        void this.execute(decision.run);
        return decision.run.done;
      case 'coalesce':
        return decision.run.done;
      case 'defer':
      case 'ignore':
        return Promise.resolve();
    }
  }

  /** One rejoin run: `reconnecting`, attempts, then `connected`, `failed`, or another run. */
  private async execute(run: RejoinRun): Promise<void> {
    this.ctx.setState('reconnecting', run.reason);
    let outcome: AttemptsOutcome;
    try {
      outcome = await this.attempts(run);
    } catch (thrown) {
      // Only closing the old session can throw outside an attempt; report it rather than stall the run.
      outcome = LecternClientError.from(thrown, 'join');
    }
    const end = this.#rejoin.finish(run, outcome === 'rejoined' || outcome === 'cancelled' ? outcome : 'gave-up');
    switch (end.action) {
      case 'cancelled':
        return;
      case 'run-again':
        return this.execute(end.next);
      case 'connected':
        this.ctx.setState('connected', 'rejoined');
        return;
      case 'failed':
        if (outcome instanceof LecternClientError) {
          this.teardownSession();
          this.ctx.setState('failed', outcome.message);
          this.ctx.emitError(outcome);
        }
        return;
    }
  }

  /** Rejoin attempts with backoff: `rejoined`, `cancelled` (the client left), or the error to report. */
  private async attempts(run: RejoinRun): Promise<AttemptsOutcome> {
    let lastError: LecternClientError | undefined;
    for (;;) {
      const next = this.#rejoin.next(run, Date.now());
      if (next.action === 'exhausted') {
        return lastError ?? new LecternClientError(ClientErrorCode.TRANSPORT_FAILED, `could not rejoin after ${this.#rejoin.attempts} attempts`);
      }
      if (next.delayMs > 0) await sleep(next.delayMs, run.signal);
      if (run.signal.aborted) return 'cancelled';
      this.teardownSession();
      try {
        const session = await this.openSession(run.signal);
        await this.parts.publications.republish(session);
        await this.parts.subscriptions.subscribeKnown();
        const result = this.#rejoin.attemptSucceeded(run);
        if (result !== 'start-over') return result;
      } catch (thrown) {
        if (run.signal.aborted) return 'cancelled';
        lastError = LecternClientError.from(thrown, 'join');
        if (this.#rejoin.attemptFailed(run, lastError.code) === 'give-up') return lastError;
      }
    }
  }

  /** Loads a device, joins, and applies the join's snapshot; the notifications that came meanwhile follow it. */
  private async openSession(signal: AbortSignal): Promise<MediaSession> {
    this.notifications.hold();
    try {
      // The device first: a runtime without WebRTC fails here, locally, before any request.
      const device = await createDevice(this.settings.handlerFactory);
      throwIfLeft(signal);
      const { routerRtpCapabilities } = await this.ctx.request('getRouterRtpCapabilities', {});
      throwIfLeft(signal);
      await loadDevice(device, routerRtpCapabilities);
      throwIfLeft(signal);
      const { displayName, appData } = this.#joinOptions ?? {};
      const reply = await this.ctx.request('join', {
        rtpCapabilities: device.rtpCapabilities,
        ...(displayName !== undefined ? { displayName } : {}),
        ...(appData !== undefined ? { appData } : {}),
      });
      if (signal.aborted) {
        // The server has us again although the app left meanwhile: undo it.
        void this.ctx.sendLeave();
        throwIfLeft(signal);
      }
      const session = new MediaSession(device, reply.peerId, reply.role, this.ctx, this.settings.transports, this);
      this.ctx.session = session;
      this.parts.remote.applySnapshot(
        reply.peers,
        reply.producers.filter((p) => p.peerId !== reply.peerId),
      );
      this.notifications.flush();
      return session;
    } finally {
      this.notifications.discard();
    }
  }

  /** Closes the current session (its tracks end with `reconnect`); publications and the remote state are kept. */
  private teardownSession(): void {
    const session = this.ctx.session;
    this.ctx.session = undefined;
    this.parts.subscriptions.endAll('reconnect');
    this.parts.publications.detachProducers();
    session?.close();
  }

  /** Releases everything: remote tracks, local tracks (stopping the ones the client captured), the session, the room. */
  private teardown(): void {
    this.parts.subscriptions.endAll('left');
    this.parts.publications.releaseAll('left');
    this.teardownSession();
    this.parts.remote.clear();
    this.parts.subscriptions.forgetWanted();
    this.notifications.discard();
  }
}

function throwIfLeft(signal: AbortSignal): void {
  if (signal.aborted) throw new LecternClientError(ErrorCode.CLOSED, 'left while joining');
}

/** Waits `ms`, or less when `signal` aborts (the client left during a backoff). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
