/// <reference lib="dom" />
import type {
  GestureName,
  GesturePhase,
  HandQueueEntry,
  MediaSource,
  NotificationMap,
  NotificationName,
  PeerDetails,
  PeerRole,
} from '@lectern/protocol';
import { EventEmitter } from 'eventemitter3';
import { MediaCapture } from './client/capture.js';
import { Connection } from './client/connection.js';
import { ClientContext } from './client/context.js';
import type { MediaSession } from './client/session.js';
import { Publications } from './client/publications.js';
import { RemoteState } from './client/remote-state.js';
import { Subscriptions } from './client/subscriptions.js';
import { DEFAULT_REJOIN } from './recovery.js';
import {
  DEFAULT_SIMULCAST_ENCODINGS,
  type CameraPublishOptions,
  type ConnectionState,
  type JoinOptions,
  type JoinResult,
  type LectureClientEvents,
  type LectureClientOptions,
  type LocalTrackPublication,
  type PublishOptions,
  type RemotePeer,
  type RemoteTrack,
  type ScreenPublishOptions,
} from './types.js';

type Listeners = { [K in keyof LectureClientEvents]: (event: LectureClientEvents[K]) => void };

/**
 * The browser side of a Lectern lecture, over mediasoup-client: joins a room,
 * publishes the microphone / camera / screen, receives the other peers' tracks,
 * relays gestures and the raised-hand queue, and recovers its connection (ICE
 * restart, then a full rejoin) without the app's help.
 *
 * The host supplies the signaling: `request(method, data)` for the server's
 * request API, and every server notification through {@link handleNotification}.
 *
 * ```ts
 * const client = new LectureClient({ request: (method, data) => mySocket.request(method, data) });
 * mySocket.onNotification = (name, data) => client.handleNotification(name, data);
 * client.on('trackSubscribed', ({ track, kind }) => attach(track, kind));
 * await client.join({ displayName: 'Ada' });
 * await client.publishMicrophone();
 * ```
 *
 * This class is the public surface; the work is done by its parts (see
 * `src/client/`): the connection (join, leave, rejoin), the media session
 * (device, transports, ICE recovery), the remote state, the subscriptions and
 * the publications.
 */
export class LectureClient extends EventEmitter<Listeners> {
  readonly #ctx: ClientContext<MediaSession>;
  readonly #remote: RemoteState;
  readonly #subscriptions: Subscriptions;
  readonly #publications: Publications;
  readonly #connection: Connection;

  /** Subscribe to remote producers automatically (from the options). */
  readonly autoSubscribe: boolean;

  constructor(options: LectureClientOptions) {
    super();
    if (typeof options?.request !== 'function') throw new TypeError('LectureClient needs a request function');
    this.autoSubscribe = options.autoSubscribe ?? true;
    const ctx = new ClientContext<MediaSession>(options.request, (name, event) => {
      (this.emit as (n: typeof name, e: typeof event) => boolean)(name, event);
    });
    const remote = new RemoteState(ctx, (producerId, reason) => subscriptions.producerGone(producerId, reason));
    const subscriptions = new Subscriptions(ctx, remote, this.autoSubscribe);
    const publications = new Publications(ctx, new MediaCapture(options.mediaDevices), {
      simulcast: options.simulcast ?? true,
      simulcastEncodings: (options.simulcastEncodings ?? DEFAULT_SIMULCAST_ENCODINGS).map((e) => ({ ...e })),
    });
    this.#connection = new Connection(
      ctx,
      { remote, subscriptions, publications },
      {
        handlerFactory: options.handlerFactory,
        transports: {
          forceTcp: options.forceTcp === true,
          iceServers: options.iceServers,
          iceTransportPolicy: options.iceTransportPolicy,
          ice: {
            maxRestarts: options.iceRestartAttempts ?? 2,
            ...(options.disconnectedGraceMs !== undefined ? { disconnectedGraceMs: options.disconnectedGraceMs } : {}),
            ...(options.iceRestartTimeoutMs !== undefined ? { restartTimeoutMs: options.iceRestartTimeoutMs } : {}),
          },
        },
        rejoin: {
          ...DEFAULT_REJOIN,
          ...(options.rejoinAttempts !== undefined ? { attempts: options.rejoinAttempts } : {}),
          ...(options.rejoinBaseDelayMs !== undefined ? { baseDelayMs: options.rejoinBaseDelayMs } : {}),
        },
      },
    );
    this.#ctx = ctx;
    this.#remote = remote;
    this.#subscriptions = subscriptions;
    this.#publications = publications;
  }

  // ------------------------------------------------------------------ state

  /** The connection state (also emitted as `connectionStateChanged`). */
  get connectionState(): ConnectionState {
    return this.#ctx.state;
  }

  /** This client's peer id, once joined. */
  get peerId(): string | undefined {
    return this.#ctx.session?.peerId;
  }

  /** This client's role (decided by the host), once joined. */
  get role(): PeerRole | undefined {
    return this.#ctx.session?.role;
  }

  /** The other peers of the room, by peer id. */
  get remotePeers(): ReadonlyMap<string, RemotePeer> {
    return this.#remote.peers;
  }

  /** What this client publishes, by source. */
  get localTracks(): ReadonlyMap<MediaSource, LocalTrackPublication> {
    return this.#publications.local;
  }

  /** Remote tracks this client receives, by producer id. */
  get remoteTracks(): ReadonlyMap<string, RemoteTrack> {
    return this.#subscriptions.tracks;
  }

  /** The raised-hand queue as last heard from the server (oldest first). */
  get handQueue(): readonly HandQueueEntry[] {
    return this.#remote.handQueue;
  }

  // ------------------------------------------------------------------ join / leave

  /**
   * Joins the room the host's signaling is bound to: loads the mediasoup device
   * with the router's capabilities, joins with the device's capabilities, and
   * learns the peers and producers already there (subscribing to them when
   * `autoSubscribe` is on; `trackSubscribed` follows for each).
   *
   * Allowed from `disconnected` and `failed` (from `failed` it starts clean: the
   * local tracks are released; use {@link rejoin} to keep them).
   *
   * @throws {LecternClientError} e.g. `ROOM_FULL`, `INVALID_STATE` (already joined),
   *   `DEVICE_UNSUPPORTED` (mediasoup-client has no WebRTC handler for this runtime).
   */
  async join(options: JoinOptions = {}): Promise<JoinResult> {
    return this.#connection.join(options);
  }

  /**
   * Leaves the room: tells the server, closes the transports, stops the tracks
   * the client captured (tracks the app passed in are left to the app) and
   * forgets the remote peers. The client can `join` again afterwards.
   */
  async leave(): Promise<void> {
    await this.#connection.leave();
  }

  /**
   * Releases everything at once (like {@link leave}, without waiting for the
   * server) and ends the client for good: state `closed`, every call fails.
   */
  close(): void {
    this.#connection.close();
  }

  /**
   * Rejoins from scratch: new transports, `join` again, republishes the local
   * tracks and resubscribes. The client does this by itself on `reconnectRequired`
   * and when ICE restarts are exhausted; call it after the host's signaling
   * reconnected (the server may have dropped the peer meanwhile). Needs a joined
   * client (`connected`, `reconnecting` or `failed`); while a rejoin runs, it
   * makes that one go again and settles with it.
   * @throws {LecternClientError} `NOT_JOINED` before the first join completed, after leave or close.
   */
  async rejoin(): Promise<void> {
    await this.#connection.rejoin();
  }

  // ------------------------------------------------------------------ notifications

  /**
   * Feeds one server notification (`{ name, data }` as the server SDK addresses
   * it to this peer). Returns `false` for a name the client does not know (the
   * host may use its own notifications on the same channel).
   */
  handleNotification<N extends NotificationName>(name: N, data: NotificationMap[N]): boolean;
  handleNotification(name: string, data: unknown): boolean;
  handleNotification(name: string, data: unknown): boolean {
    return this.#connection.notifications.handle(name, data);
  }

  // ------------------------------------------------------------------ publishing

  /**
   * Publishes the microphone (source `microphone`). Captures it with
   * getUserMedia unless `track` is given.
   * @throws {LecternClientError} `FORBIDDEN` when the room does not let this role send audio,
   *   `INVALID_STATE` when already publishing it, `MEDIA_UNAVAILABLE` when capture fails.
   */
  async publishMicrophone(track?: MediaStreamTrack, options: PublishOptions = {}): Promise<LocalTrackPublication> {
    return this.#publications.microphone(track, options);
  }

  /**
   * Publishes the camera (source `camera`), as simulcast unless turned off
   * (client option `simulcast`, or `options.simulcast`).
   * @throws {LecternClientError} `FORBIDDEN` when students may not send video in this room.
   */
  async publishCamera(track?: MediaStreamTrack, options: CameraPublishOptions = {}): Promise<LocalTrackPublication> {
    return this.#publications.camera(track, options);
  }

  /**
   * Shares the screen (source `screen`, plus `screen-audio` when `options.audio`
   * and the browser captured audio). Resolves with the screen publication.
   */
  async publishScreen(options: ScreenPublishOptions = {}): Promise<LocalTrackPublication> {
    return this.#publications.screen(options);
  }

  /** Stops publishing `source` (closes the producer; stops the track if the client captured it). */
  async unpublish(source: MediaSource): Promise<void> {
    await this.#publications.unpublish(source);
  }

  /** Pauses sending `source` (the server pauses the producer; other peers get `trackMuted`). */
  async pause(source: MediaSource): Promise<void> {
    await this.#publications.setPaused(source, true);
  }

  /** Resumes sending `source` (other peers get `trackUnmuted`). */
  async resume(source: MediaSource): Promise<void> {
    await this.#publications.setPaused(source, false);
  }

  // ------------------------------------------------------------------ receiving

  /**
   * Receives a remote producer (needed when `autoSubscribe` is off; idempotent).
   * The server creates the consumer paused; the client resumes it once ready.
   * Resolves once media can flow; `trackSubscribed` is emitted as well.
   */
  async subscribe(producerId: string): Promise<RemoteTrack> {
    return this.#subscriptions.subscribe(producerId);
  }

  /** Stops receiving a remote track for now (`pauseConsumer`); {@link resumeTrack} restarts it. */
  async pauseTrack(producerId: string): Promise<void> {
    await this.#subscriptions.pause(producerId);
  }

  /** Restarts receiving a track paused with {@link pauseTrack}. */
  async resumeTrack(producerId: string): Promise<void> {
    await this.#subscriptions.resume(producerId);
  }

  /** Asks the server for a simulcast/SVC layer of a remote video track (e.g. 0 = lowest). */
  async setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    await this.#subscriptions.setPreferredLayers(producerId, spatialLayer, temporalLayer);
  }

  /** WebRTC stats of the send and recv transports (whichever exist). */
  async getStats(): Promise<{ send?: RTCStatsReport; recv?: RTCStatsReport }> {
    return this.#ctx.requireSession().getStats();
  }

  // ------------------------------------------------------------------ gestures / hands

  /**
   * Sends a recognised gesture to the room (the server relays it to the other
   * peers as `gesture`). Rate-limited by the server (`RATE_LIMITED`).
   */
  async sendGesture(gesture: GestureName, phase: GesturePhase, confidence: number): Promise<void> {
    this.#ctx.requireSession();
    await this.#ctx.request('sendGesture', { gesture, phase, confidence });
  }

  /** Raises this peer's hand (joins the room's queue); resolves with the queue after it. */
  async raiseHand(): Promise<HandQueueEntry[]> {
    this.#ctx.requireSession();
    return this.#remote.adoptQueue(await this.#ctx.request('raiseHand', {}));
  }

  /** Lowers this peer's hand; resolves with the queue after it. */
  async lowerHand(): Promise<HandQueueEntry[]> {
    this.#ctx.requireSession();
    return this.#remote.adoptQueue(await this.#ctx.request('lowerHand', {}));
  }

  /** The room's raised-hand queue, oldest first (also kept in {@link handQueue}). */
  async getHandQueue(): Promise<HandQueueEntry[]> {
    this.#ctx.requireSession();
    return this.#remote.adoptQueue(await this.#ctx.request('getHandQueue', {}));
  }

  /** Lecturer: takes a peer's hand off the queue; resolves with the queue after it. */
  async dismissHand(peerId: string): Promise<HandQueueEntry[]> {
    this.#ctx.requireSession();
    return this.#remote.adoptQueue(await this.#ctx.request('dismissHand', { peerId }));
  }

  /** Lecturer: empties the hand queue. */
  async clearHandQueue(): Promise<HandQueueEntry[]> {
    this.#ctx.requireSession();
    return this.#remote.adoptQueue(await this.#ctx.request('clearHandQueue', {}));
  }

  // ------------------------------------------------------------------ admin (grant roomAdmin: lecturers by default)

  /** Every peer of the room with its grants and media (the caller included). @throws {LecternClientError} `FORBIDDEN` without `roomAdmin`. */
  async listPeers(): Promise<PeerDetails[]> {
    this.#ctx.requireSession();
    return (await this.#ctx.request('listPeers', {})).peers;
  }

  /**
   * Removes a peer from the room: it gets `removed` with `reason`; with `ban`
   * it cannot join again (for the room's lifetime, or `banSeconds`).
   * @throws {LecternClientError} `FORBIDDEN` without `roomAdmin`, `NOT_FOUND` for a peer not in the room.
   */
  async removePeer(peerId: string, options: { reason?: string; ban?: boolean; banSeconds?: number } = {}): Promise<void> {
    this.#ctx.requireSession();
    await this.#ctx.request('removePeer', { peerId, ...options });
  }

  /**
   * Mutes another peer's track: pauses its producer (the peer may unmute), or
   * closes it with `close: true`. The peer gets `mutedByHost`.
   */
  async muteProducer(producerId: string, options: { close?: boolean; reason?: string } = {}): Promise<void> {
    this.#ctx.requireSession();
    await this.#ctx.request('muteProducer', { producerId, ...options });
  }

  /** Ends the room for everyone: every peer gets `roomClosed` with `reason`. */
  async endRoom(reason?: string): Promise<void> {
    this.#ctx.requireSession();
    await this.#ctx.request('endRoom', reason !== undefined ? { reason } : {});
  }
}
