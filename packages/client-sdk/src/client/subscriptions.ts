import { ErrorCode, type MediaSource } from '@lectern/protocol';
import type { types } from 'mediasoup-client';
import pLimit from 'p-limit';
import { LecternClientError } from '../errors.js';
import type { RemoteTrack, TrackUnsubscribedReason } from '../types.js';
import type { RemoteState } from './remote-state.js';
import type { MediaSession, SessionContext } from './session.js';

/**
 * Subscriptions set up at once. Joining a room subscribes to every producer in
 * it; the server runs one peer's requests in order anyway, so a few in flight
 * keep it busy, while hundreds at once would only fill the host's signaling
 * (which may bound requests in flight) and the server's request budget.
 */
const SUBSCRIBE_CONCURRENCY = 8;

/** A remote track this client receives: one mediasoup-client consumer. */
class RemoteTrackImpl implements RemoteTrack {
  muted: boolean;
  receivingPaused = false;

  constructor(
    readonly consumer: types.Consumer,
    readonly peerId: string,
    readonly source: MediaSource,
    muted: boolean,
  ) {
    this.muted = muted;
  }

  get producerId(): string {
    return this.consumer.producerId;
  }
  get consumerId(): string {
    return this.consumer.id;
  }
  get kind(): types.MediaKind {
    return this.consumer.kind;
  }
  get track(): MediaStreamTrack {
    return this.consumer.track;
  }
  getStats(): Promise<RTCStatsReport> {
    return this.consumer.getStats();
  }
}

/**
 * The remote tracks this client receives: subscribing (automatically, or to the
 * producers the app asked for, which are remembered across rejoins), the
 * subscriptions in flight (one per producer), and receiving-side pause and
 * layer preferences.
 */
export class Subscriptions {
  /** By producer id. */
  readonly tracks = new Map<string, RemoteTrackImpl>();
  readonly #pending = new Map<string, Promise<RemoteTrack>>();
  /** Producers the app subscribed to by hand (resubscribed after a rejoin when `autoSubscribe` is off). */
  readonly #wanted = new Set<string>();
  readonly #limit = pLimit(SUBSCRIBE_CONCURRENCY);

  constructor(
    private readonly ctx: SessionContext,
    private readonly remote: RemoteState,
    readonly autoSubscribe: boolean,
  ) {}

  /** The app's subscribe: remembered, so a rejoin subscribes again. */
  subscribe(producerId: string): Promise<RemoteTrack> {
    this.ctx.requireSession();
    this.#wanted.add(producerId);
    return this.subscribeOnce(producerId);
  }

  /** Subscribes to the known producers the client should receive (after a join or rejoin). */
  subscribeKnown(): Promise<void> {
    const ids = [...this.remote.producers.keys()].filter((id) => this.autoSubscribe || this.#wanted.has(id));
    return Promise.all(ids.map((id) => this.subscribeInBackground(id))).then(() => undefined);
  }

  /** A producer was announced (`newProducer`). */
  producerAnnounced(producerId: string): void {
    if (this.autoSubscribe && this.ctx.session) void this.subscribeInBackground(producerId);
  }

  /** Its producer is gone: the track ends and the app's wish to receive it is forgotten. */
  producerGone(producerId: string, reason: TrackUnsubscribedReason): void {
    const remote = this.tracks.get(producerId);
    if (remote) this.end(remote, reason);
    this.#wanted.delete(producerId);
  }

  /** The sender paused or resumed: the track, if received, is (un)muted. */
  setMuted(producerId: string, muted: boolean): RemoteTrack | undefined {
    const remote = this.tracks.get(producerId);
    if (remote) remote.muted = muted;
    return remote;
  }

  /** The server closed this client's consumer (`consumerClosed`). */
  consumerClosed(producerId: string, consumerId: string): void {
    const remote = this.tracks.get(producerId);
    if (remote && remote.consumerId === consumerId) this.end(remote, 'consumer-closed');
  }

  byConsumerId(consumerId: string): RemoteTrack | undefined {
    return [...this.tracks.values()].find((t) => t.consumerId === consumerId);
  }

  async pause(producerId: string): Promise<void> {
    const remote = this.require(producerId);
    if (remote.receivingPaused) return;
    remote.receivingPaused = true;
    remote.consumer.pause();
    await this.ctx.request('pauseConsumer', { consumerId: remote.consumerId });
  }

  async resume(producerId: string): Promise<void> {
    const remote = this.require(producerId);
    if (!remote.receivingPaused) return;
    remote.receivingPaused = false;
    await this.ctx.request('resumeConsumer', { consumerId: remote.consumerId });
    remote.consumer.resume();
  }

  async setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const remote = this.require(producerId);
    await this.ctx.request('setConsumerPreferredLayers', {
      consumerId: remote.consumerId,
      spatialLayer,
      ...(temporalLayer !== undefined ? { temporalLayer } : {}),
    });
  }

  /** The session is going away (rejoin, leave): every track ends with `reason`; subscriptions in flight fail on their own. */
  endAll(reason: TrackUnsubscribedReason): void {
    for (const remote of [...this.tracks.values()]) this.end(remote, reason);
    this.#pending.clear();
  }

  /** Forgets what the app asked for (leave, close). */
  forgetWanted(): void {
    this.#wanted.clear();
  }

  private require(producerId: string): RemoteTrackImpl {
    const remote = this.tracks.get(producerId);
    if (!remote) throw new LecternClientError(ErrorCode.NOT_FOUND, `not subscribed to producer ${producerId}`);
    return remote;
  }

  private subscribeInBackground(producerId: string): Promise<void> {
    return this.subscribeOnce(producerId).then(
      () => undefined,
      (error: unknown) => {
        const e = LecternClientError.from(error, 'consume');
        // A producer closing while we subscribe is a normal race, not an error.
        if (this.remote.producers.has(producerId) && e.code !== ErrorCode.CLOSED) this.ctx.emitError(e);
      },
    );
  }

  /** The existing track, the subscription in flight, or a new one. */
  private subscribeOnce(producerId: string): Promise<RemoteTrack> {
    const existing = this.tracks.get(producerId);
    if (existing) return Promise.resolve(existing);
    const pending = this.#pending.get(producerId);
    if (pending) return pending;
    const session = this.ctx.requireSession();
    const promise = this.#limit(() => this.consume(session, producerId)).finally(() => {
      if (this.#pending.get(producerId) === promise) this.#pending.delete(producerId);
    });
    this.#pending.set(producerId, promise);
    return promise;
  }

  /** `consume` on the server (paused), the local consumer, then `resumeConsumer` once it is ready. */
  private async consume(session: MediaSession, producerId: string): Promise<RemoteTrack> {
    const transport = await session.transport('recv');
    const reply = await this.ctx.request('consume', { producerId, transportId: transport.id });
    session.assertOpen();
    const consumer = await session.consume(transport, reply);
    try {
      session.assertOpen();
      if (!this.remote.producers.has(producerId)) {
        // Unknown until now (a manual subscribe racing newProducer): learn it from the reply.
        this.remote.addProducer({
          producerId,
          peerId: reply.peerId,
          kind: reply.kind,
          source: reply.source,
          paused: reply.producerPaused,
          appData: reply.appData,
        });
      }
      const info = this.remote.producers.get(producerId);
      const remote = new RemoteTrackImpl(consumer, reply.peerId, reply.source, info?.paused ?? reply.producerPaused);
      await this.ctx.request('resumeConsumer', { consumerId: consumer.id });
      session.assertOpen();
      if (consumer.closed || !this.remote.producers.has(producerId)) {
        throw new LecternClientError(ErrorCode.CLOSED, `producer ${producerId} closed while subscribing`);
      }
      this.tracks.set(producerId, remote);
      this.remote.peers.get(reply.peerId)?.tracks.set(reply.source, remote);
      consumer.on('transportclose', () => this.end(remote, 'reconnect'));
      this.ctx.emit('trackSubscribed', {
        peerId: remote.peerId,
        producerId,
        consumerId: remote.consumerId,
        source: remote.source,
        kind: remote.kind,
        track: remote.track,
        muted: remote.muted,
        remoteTrack: remote,
      });
      return remote;
    } catch (error) {
      consumer.close();
      throw error;
    }
  }

  /** Ends a track locally (closes its consumer) and emits `trackUnsubscribed`. */
  private end(remote: RemoteTrackImpl, reason: TrackUnsubscribedReason): void {
    if (this.tracks.get(remote.producerId) !== remote) return;
    this.tracks.delete(remote.producerId);
    const peer = this.remote.peers.get(remote.peerId);
    if (peer?.tracks.get(remote.source) === remote) peer.tracks.delete(remote.source);
    if (!remote.consumer.closed) remote.consumer.close();
    this.ctx.emit('trackUnsubscribed', {
      peerId: remote.peerId,
      producerId: remote.producerId,
      source: remote.source,
      kind: remote.kind,
      track: remote.track,
      reason,
    });
  }
}
