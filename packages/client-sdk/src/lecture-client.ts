/// <reference lib="dom" />
import { EventEmitter } from 'eventemitter3';
import { Device, type types } from 'mediasoup-client';
import { ClientErrorCode, LecternClientError } from './errors.js';
import {
  ErrorCode,
  notificationNames,
  sourceKind,
  type HandQueueEntry,
  type MediaSource,
  type NotificationMap,
  type NotificationName,
  type PeerInfo,
  type PeerRole,
  type ProducerInfo,
  type RequestMap,
  type RequestMethod,
  type ResponseMap,
  type WireGestureName,
  type WireGesturePhase,
} from './protocol.js';
import {
  DEFAULT_REJOIN,
  IceRecovery,
  isFatalIceRestartError,
  isRetryableRejoinError,
  rejoinDelayMs,
  type IceGiveUpReason,
  type IceRecoveryOptions,
  type RejoinOptions,
} from './recovery.js';
import type { SignalingRequest } from './signaling.js';
import {
  DEFAULT_SIMULCAST_ENCODINGS,
  type CameraPublishOptions,
  type ConnectionState,
  type JoinOptions,
  type JoinResult,
  type LectureClientEvents,
  type LectureClientOptions,
  type LocalTrackPublication,
  type MediaDeviceProvider,
  type PublishOptions,
  type RemotePeer,
  type RemoteTrack,
  type ScreenPublishOptions,
  type TrackUnsubscribedReason,
} from './types.js';

type Listeners = { [K in keyof LectureClientEvents]: (event: LectureClientEvents[K]) => void };

/** One join of the room: a device and the transports made for it. Replaced on rejoin. */
class Session {
  send: Promise<types.Transport> | undefined;
  recv: Promise<types.Transport> | undefined;
  readonly transports: types.Transport[] = [];
  readonly recoveries: IceRecovery[] = [];
  closed = false;

  constructor(
    readonly device: Device,
    readonly peerId: string,
    readonly role: PeerRole,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const recovery of this.recoveries) recovery.dispose();
    for (const transport of this.transports) transport.close();
  }
}

class LocalPublicationImpl implements LocalTrackPublication {
  producer: types.Producer | undefined;
  paused: boolean;

  constructor(
    readonly source: MediaSource,
    readonly track: MediaStreamTrack,
    readonly ownedByClient: boolean,
    readonly encodings: types.RtpEncodingParameters[] | undefined,
    readonly codecOptions: types.ProducerCodecOptions | undefined,
    readonly appData: Record<string, unknown>,
    paused: boolean,
  ) {
    this.paused = paused;
  }

  get kind(): types.MediaKind {
    return sourceKind[this.source];
  }

  get producerId(): string | undefined {
    return this.producer && !this.producer.closed ? this.producer.id : undefined;
  }

  getStats(): Promise<RTCStatsReport> {
    if (!this.producer || this.producer.closed) {
      return Promise.reject(new LecternClientError(ClientErrorCode.NOT_JOINED, `${this.source} is not being sent`));
    }
    return this.producer.getStats();
  }
}

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

class RemotePeerImpl implements RemotePeer {
  readonly producers = new Map<string, ProducerInfo>();
  readonly tracks = new Map<MediaSource, RemoteTrackImpl>();

  constructor(public info: PeerInfo) {}

  get peerId(): string {
    return this.info.peerId;
  }
  get role(): PeerRole {
    return this.info.role;
  }
  get displayName(): string | undefined {
    return this.info.displayName;
  }
  get appData(): Readonly<Record<string, unknown>> {
    return this.info.appData;
  }
}

/** Internal producer appData keys (never sent to the server as the producer's appData). */
interface InternalProducerAppData extends types.AppData {
  source: MediaSource;
  paused: boolean;
  userAppData: Record<string, unknown>;
}

const isNotificationName = (name: string): name is NotificationName => (notificationNames as readonly string[]).includes(name);

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
 */
export class LectureClient extends EventEmitter<Listeners> {
  private readonly requestFn: SignalingRequest;
  private readonly simulcast: boolean;
  private readonly simulcastEncodings: types.RtpEncodingParameters[];
  private readonly iceOptions: Partial<IceRecoveryOptions>;
  private readonly rejoinOptions: RejoinOptions;
  private state: ConnectionState = 'disconnected';
  private session: Session | undefined;
  private joinOptions: JoinOptions | undefined;
  private readonly peers = new Map<string, RemotePeerImpl>();
  /** Remote producers by id (also in their peer's `producers`). */
  private readonly remoteProducers = new Map<string, ProducerInfo>();
  private readonly subscriptions = new Map<string, RemoteTrackImpl>();
  private readonly pendingSubscriptions = new Map<string, Promise<RemoteTrack>>();
  /** Producers the app subscribed to by hand (resubscribed after a rejoin when `autoSubscribe` is off). */
  private readonly wanted = new Set<string>();
  private readonly local = new Map<MediaSource, LocalPublicationImpl>();
  /** Sources being captured (not yet in `local`). */
  private readonly publishing = new Set<MediaSource>();
  private queue: HandQueueEntry[] = [];
  /** Notifications that arrive while a join is in flight, applied after its snapshot. */
  private buffered: [NotificationName, unknown][] | undefined;
  private rejoining: Promise<void> | undefined;
  private rejoinRunning = false;
  private rejoinAgain = false;
  private reconnectAfterJoin = false;
  /** Bumped by leave/close so a running rejoin stops. */
  private generation = 0;
  private wakeRejoin: (() => void) | undefined;

  /** Subscribe to remote producers automatically (from the options). */
  readonly autoSubscribe: boolean;

  constructor(private readonly options: LectureClientOptions) {
    super();
    if (typeof options?.request !== 'function') throw new TypeError('LectureClient needs a request function');
    this.requestFn = options.request;
    this.autoSubscribe = options.autoSubscribe ?? true;
    this.simulcast = options.simulcast ?? true;
    this.simulcastEncodings = (options.simulcastEncodings ?? DEFAULT_SIMULCAST_ENCODINGS).map((e) => ({ ...e }));
    this.iceOptions = {
      maxRestarts: options.iceRestartAttempts ?? 2,
      ...(options.disconnectedGraceMs !== undefined ? { disconnectedGraceMs: options.disconnectedGraceMs } : {}),
      ...(options.iceRestartTimeoutMs !== undefined ? { restartTimeoutMs: options.iceRestartTimeoutMs } : {}),
    };
    this.rejoinOptions = {
      ...DEFAULT_REJOIN,
      ...(options.rejoinAttempts !== undefined ? { attempts: options.rejoinAttempts } : {}),
      ...(options.rejoinBaseDelayMs !== undefined ? { baseDelayMs: options.rejoinBaseDelayMs } : {}),
    };
  }

  // ------------------------------------------------------------------ state

  /** The connection state (also emitted as `connectionStateChanged`). */
  get connectionState(): ConnectionState {
    return this.state;
  }

  /** This client's peer id, once joined. */
  get peerId(): string | undefined {
    return this.session?.peerId;
  }

  /** This client's role (decided by the host), once joined. */
  get role(): PeerRole | undefined {
    return this.session?.role;
  }

  /** The other peers of the room, by peer id. */
  get remotePeers(): ReadonlyMap<string, RemotePeer> {
    return this.peers;
  }

  /** What this client publishes, by source. */
  get localTracks(): ReadonlyMap<MediaSource, LocalTrackPublication> {
    return this.local;
  }

  /** Remote tracks this client receives, by producer id. */
  get remoteTracks(): ReadonlyMap<string, RemoteTrack> {
    return this.subscriptions;
  }

  /** The raised-hand queue as last heard from the server (oldest first). */
  get handQueue(): readonly HandQueueEntry[] {
    return this.queue;
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
   * @throws {LecternClientError} e.g. `ROOM_FULL`, `INVALID_STATE` (already joined).
   */
  async join(options: JoinOptions = {}): Promise<JoinResult> {
    if (this.state === 'closed') throw new LecternClientError(ErrorCode.CLOSED, 'the client is closed');
    if (this.state !== 'disconnected' && this.state !== 'failed') {
      throw new LecternClientError(ErrorCode.INVALID_STATE, `cannot join while ${this.state}`);
    }
    if (this.state === 'failed') this.teardown('left'); // start clean (rejoin() would keep the local tracks)
    this.joinOptions = { ...options };
    const generation = this.generation;
    this.setState('connecting');
    try {
      const session = await this.openSession(generation);
      this.setState('connected');
      this.subscribeKnown();
      if (this.reconnectAfterJoin) {
        this.reconnectAfterJoin = false;
        void this.recover('worker-died');
      }
      return { peerId: session.peerId, role: session.role, peers: [...this.peers.values()] };
    } catch (thrown) {
      const error = LecternClientError.from(thrown, 'join');
      if (this.generation === generation) {
        this.teardown('left');
        this.setState('disconnected', error.message);
      }
      throw error;
    }
  }

  /**
   * Leaves the room: tells the server, closes the transports, stops the tracks
   * the client captured (tracks the app passed in are left to the app) and
   * forgets the remote peers. The client can `join` again afterwards.
   */
  async leave(): Promise<void> {
    if (this.state === 'closed' || this.state === 'disconnected') return;
    const wasJoined = this.session !== undefined;
    this.generation += 1;
    this.wakeRejoin?.();
    this.teardown('left');
    this.setState('disconnected', 'left');
    if (wasJoined) await this.requestFn('leave', {}).catch(() => undefined);
  }

  /**
   * Releases everything at once (like {@link leave}, without waiting for the
   * server) and ends the client for good: state `closed`, every call fails.
   */
  close(): void {
    if (this.state === 'closed') return;
    const wasJoined = this.session !== undefined;
    this.generation += 1;
    this.wakeRejoin?.();
    this.teardown('left');
    this.setState('closed');
    if (wasJoined) this.requestFn('leave', {}).catch(() => undefined);
  }

  /**
   * Rejoins from scratch: new transports, `join` again, republishes the local
   * tracks and resubscribes. The client does this by itself on `reconnectRequired`
   * and when ICE restarts are exhausted; call it after the host's signaling
   * reconnected (the server may have dropped the peer meanwhile).
   */
  async rejoin(): Promise<void> {
    if (!this.joinOptions || this.state === 'closed' || this.state === 'disconnected') {
      throw new LecternClientError(ClientErrorCode.NOT_JOINED, 'join before rejoining');
    }
    await this.recover('manual');
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
    if (!isNotificationName(name)) return false;
    if (this.state === 'closed' || typeof data !== 'object' || data === null) return true;
    if (name === 'reconnectRequired') {
      if (this.state === 'connecting') this.reconnectAfterJoin = true;
      else if (this.joinOptions && this.state !== 'disconnected') void this.recover('worker-died');
      return true;
    }
    if (this.buffered && name !== 'roomClosed') {
      this.buffered.push([name, data]);
      return true;
    }
    // Not joined (left, or between rejoin attempts): the next join's snapshot has the current state.
    if (!this.session && name !== 'roomClosed') return true;
    if (name === 'roomClosed' && this.state === 'disconnected') return true;
    try {
      this.route(name, data);
    } catch (error) {
      this.emitError(LecternClientError.from(error));
    }
    return true;
  }

  private route(name: NotificationName, raw: unknown): void {
    switch (name) {
      case 'peerJoined': {
        const info = raw as NotificationMap['peerJoined'];
        const existing = this.peers.get(info.peerId);
        if (existing) {
          // Replaced (same id joined again): its old producers are gone.
          this.dropPeer(existing, 'replaced');
        }
        const peer = new RemotePeerImpl(info);
        this.peers.set(info.peerId, peer);
        this.safeEmit('peerJoined', peer);
        return;
      }
      case 'peerLeft': {
        const { peerId, reason } = raw as NotificationMap['peerLeft'];
        const peer = this.peers.get(peerId);
        if (peer) this.dropPeer(peer, reason);
        return;
      }
      case 'newProducer': {
        const info = raw as NotificationMap['newProducer'];
        this.addRemoteProducer(info);
        if (this.autoSubscribe && this.session) this.subscribeInBackground(info.producerId);
        return;
      }
      case 'producerClosed': {
        const { producerId } = raw as NotificationMap['producerClosed'];
        this.removeRemoteProducer(producerId, 'producer-closed');
        return;
      }
      case 'producerPaused':
      case 'producerResumed': {
        const { producerId } = raw as NotificationMap['producerPaused'];
        const info = this.remoteProducers.get(producerId);
        if (!info) return;
        const paused = name === 'producerPaused';
        info.paused = paused;
        const remoteTrack = this.subscriptions.get(producerId);
        if (remoteTrack) remoteTrack.muted = paused;
        this.safeEmit(paused ? 'trackMuted' : 'trackUnmuted', {
          peerId: info.peerId,
          producerId,
          source: info.source,
          kind: info.kind,
          remoteTrack,
        });
        return;
      }
      case 'consumerClosed': {
        const { producerId, consumerId } = raw as NotificationMap['consumerClosed'];
        const remote = this.subscriptions.get(producerId);
        if (remote && remote.consumerId === consumerId) this.unsubscribeLocal(remote, 'consumer-closed');
        return;
      }
      case 'consumerPaused':
      case 'consumerResumed':
        // Mirrors producerPaused/Resumed for this client's consumer; those carry the events.
        return;
      case 'consumerLayersChanged': {
        const event = raw as NotificationMap['consumerLayersChanged'];
        const remote = [...this.subscriptions.values()].find((t) => t.consumerId === event.consumerId);
        if (remote) this.safeEmit('trackLayersChanged', { ...event, producerId: remote.producerId });
        return;
      }
      case 'activeSpeaker': {
        const { peerId, producerId } = raw as NotificationMap['activeSpeaker'];
        this.safeEmit('activeSpeaker', { peerId, producerId });
        return;
      }
      case 'roomClosed':
        this.generation += 1;
        this.wakeRejoin?.();
        this.teardown('left');
        this.setState('disconnected', 'room-closed');
        return;
      case 'gesture':
        this.safeEmit('gesture', { ...(raw as NotificationMap['gesture']) });
        return;
      case 'handQueueChanged': {
        const { queue } = raw as NotificationMap['handQueueChanged'];
        this.queue = Array.isArray(queue) ? [...queue] : [];
        this.safeEmit('handQueueChanged', { queue: [...this.queue] });
        return;
      }
      case 'reconnectRequired':
        return; // handled in handleNotification
    }
  }

  // ------------------------------------------------------------------ publishing

  /**
   * Publishes the microphone (source `microphone`). Captures it with
   * getUserMedia unless `track` is given.
   * @throws {LecternClientError} `FORBIDDEN` when the room does not let this role send audio,
   *   `INVALID_STATE` when already publishing it, `MEDIA_UNAVAILABLE` when capture fails.
   */
  async publishMicrophone(track?: MediaStreamTrack, options: PublishOptions = {}): Promise<LocalTrackPublication> {
    return this.publish('microphone', track, options, {
      encodings: undefined,
      codecOptions: { opusStereo: false, opusDtx: true, opusFec: true },
    });
  }

  /**
   * Publishes the camera (source `camera`), as simulcast unless turned off
   * (client option `simulcast`, or `options.simulcast`).
   * @throws {LecternClientError} `FORBIDDEN` when students may not send video in this room.
   */
  async publishCamera(track?: MediaStreamTrack, options: CameraPublishOptions = {}): Promise<LocalTrackPublication> {
    const simulcast = options.simulcast ?? this.simulcast;
    const encodings = options.encodings ?? (simulcast ? this.simulcastEncodings.map((e) => ({ ...e })) : undefined);
    return this.publish('camera', track, options, { encodings, codecOptions: { videoGoogleStartBitrate: 1000 } });
  }

  /**
   * Shares the screen (source `screen`, plus `screen-audio` when `options.audio`
   * and the browser captured audio). Resolves with the screen publication.
   */
  async publishScreen(options: ScreenPublishOptions = {}): Promise<LocalTrackPublication> {
    this.requireSession();
    const devices = this.mediaDevices();
    if (!devices.getDisplayMedia) throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, 'screen capture is not available');
    let stream: MediaStream;
    try {
      stream = await devices.getDisplayMedia({ video: options.constraints ?? true, audio: options.audio === true });
    } catch (error) {
      throw mediaError('screen', error);
    }
    const [video] = stream.getVideoTracks();
    const [audio] = stream.getAudioTracks();
    if (!video) {
      for (const t of stream.getTracks()) t.stop();
      throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, 'screen capture returned no video');
    }
    const publication = await this.publish('screen', video, options, { encodings: undefined, codecOptions: undefined }, true).catch(
      (error: unknown) => {
        audio?.stop();
        throw error;
      },
    );
    if (audio && options.audio === true) {
      await this.publish('screen-audio', audio, { ...options, constraints: undefined }, { encodings: undefined, codecOptions: undefined }, true).catch(
        (error: unknown) => {
          audio.stop();
          this.emitError(LecternClientError.from(error));
        },
      );
    } else {
      audio?.stop();
    }
    return publication;
  }

  /** Stops publishing `source` (closes the producer; stops the track if the client captured it). */
  async unpublish(source: MediaSource): Promise<void> {
    const publication = this.local.get(source);
    if (!publication) return;
    await this.unpublishLocal(publication, 'unpublished');
  }

  /** Pauses sending `source` (the server pauses the producer; other peers get `trackMuted`). */
  async pause(source: MediaSource): Promise<void> {
    await this.setPaused(source, true);
  }

  /** Resumes sending `source` (other peers get `trackUnmuted`). */
  async resume(source: MediaSource): Promise<void> {
    await this.setPaused(source, false);
  }

  // ------------------------------------------------------------------ receiving

  /**
   * Receives a remote producer (needed when `autoSubscribe` is off; idempotent).
   * The server creates the consumer paused; the client resumes it once ready.
   * Resolves once media can flow; `trackSubscribed` is emitted as well.
   */
  async subscribe(producerId: string): Promise<RemoteTrack> {
    this.requireSession();
    this.wanted.add(producerId);
    return this.subscribeInternal(producerId);
  }

  /** Stops receiving a remote track for now (`pauseConsumer`); {@link resumeTrack} restarts it. */
  async pauseTrack(producerId: string): Promise<void> {
    const remote = this.requireSubscription(producerId);
    if (remote.receivingPaused) return;
    remote.receivingPaused = true;
    remote.consumer.pause();
    await this.request('pauseConsumer', { consumerId: remote.consumerId });
  }

  /** Restarts receiving a track paused with {@link pauseTrack}. */
  async resumeTrack(producerId: string): Promise<void> {
    const remote = this.requireSubscription(producerId);
    if (!remote.receivingPaused) return;
    remote.receivingPaused = false;
    await this.request('resumeConsumer', { consumerId: remote.consumerId });
    remote.consumer.resume();
  }

  /** Asks the server for a simulcast/SVC layer of a remote video track (e.g. 0 = lowest). */
  async setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const remote = this.requireSubscription(producerId);
    await this.request('setConsumerPreferredLayers', {
      consumerId: remote.consumerId,
      spatialLayer,
      ...(temporalLayer !== undefined ? { temporalLayer } : {}),
    });
  }

  /** WebRTC stats of the send and recv transports (whichever exist). */
  async getStats(): Promise<{ send?: RTCStatsReport; recv?: RTCStatsReport }> {
    const session = this.requireSession();
    const result: { send?: RTCStatsReport; recv?: RTCStatsReport } = {};
    for (const transport of session.transports) {
      if (transport.closed) continue;
      result[transport.direction] = await transport.getStats();
    }
    return result;
  }

  // ------------------------------------------------------------------ gestures / hands

  /**
   * Sends a recognised gesture to the room (the server relays it to the other
   * peers as `gesture`). Rate-limited by the server (`RATE_LIMITED`).
   */
  async sendGesture(gesture: WireGestureName, phase: WireGesturePhase, confidence: number): Promise<void> {
    this.requireSession();
    await this.request('sendGesture', { gesture, phase, confidence });
  }

  /** Raises this peer's hand (joins the room's queue); resolves with the queue after it. */
  async raiseHand(): Promise<HandQueueEntry[]> {
    this.requireSession();
    return this.adoptQueue(await this.request('raiseHand', {}));
  }

  /** Lowers this peer's hand; resolves with the queue after it. */
  async lowerHand(): Promise<HandQueueEntry[]> {
    this.requireSession();
    return this.adoptQueue(await this.request('lowerHand', {}));
  }

  /** The room's raised-hand queue, oldest first (also kept in {@link handQueue}). */
  async getHandQueue(): Promise<HandQueueEntry[]> {
    this.requireSession();
    return this.adoptQueue(await this.request('getHandQueue', {}));
  }

  /** Lecturer: takes a peer's hand off the queue; resolves with the queue after it. */
  async dismissHand(peerId: string): Promise<HandQueueEntry[]> {
    this.requireSession();
    return this.adoptQueue(await this.request('dismissHand', { peerId }));
  }

  /** Lecturer: empties the hand queue. */
  async clearHandQueue(): Promise<HandQueueEntry[]> {
    this.requireSession();
    return this.adoptQueue(await this.request('clearHandQueue', {}));
  }

  // ------------------------------------------------------------------ internals: session

  private async openSession(generation: number): Promise<Session> {
    this.buffered = [];
    try {
      const { routerRtpCapabilities } = await this.request('getRouterRtpCapabilities', {});
      this.assertGeneration(generation);
      // Device.factory() detects the browser's handler more reliably than the constructor.
      const device = await Device.factory(this.options.handlerFactory ? { handlerFactory: this.options.handlerFactory } : {});
      try {
        await device.load({ routerRtpCapabilities });
      } catch (error) {
        throw new LecternClientError(ErrorCode.INCOMPATIBLE_CAPABILITIES, `cannot load the media device: ${errorMessage(error)}`, undefined, {
          cause: error,
        });
      }
      this.assertGeneration(generation);
      const { displayName, appData } = this.joinOptions ?? {};
      const reply = await this.request('join', {
        rtpCapabilities: device.rtpCapabilities,
        ...(displayName !== undefined ? { displayName } : {}),
        ...(appData !== undefined ? { appData } : {}),
      });
      if (this.generation !== generation) {
        this.requestFn('leave', {}).catch(() => undefined);
        throw new LecternClientError(ErrorCode.CLOSED, 'left while joining');
      }
      const session = new Session(device, reply.peerId, reply.role);
      this.session = session;
      this.applySnapshot(reply.peers, reply.producers.filter((p) => p.peerId !== reply.peerId));
      const pending = this.buffered;
      this.buffered = undefined;
      for (const [name, data] of pending ?? []) {
        try {
          this.route(name, data);
        } catch (error) {
          this.emitError(LecternClientError.from(error));
        }
      }
      return session;
    } finally {
      this.buffered = undefined;
    }
  }

  /** Reconciles the remote state with a join reply (emitting only what changed). */
  private applySnapshot(peers: PeerInfo[], producers: ProducerInfo[]): void {
    const present = new Set(peers.map((p) => p.peerId));
    for (const peer of [...this.peers.values()]) if (!present.has(peer.peerId)) this.dropPeer(peer, 'left');
    for (const info of peers) {
      const existing = this.peers.get(info.peerId);
      if (existing) existing.info = info;
      else {
        const peer = new RemotePeerImpl(info);
        this.peers.set(info.peerId, peer);
        this.safeEmit('peerJoined', peer);
      }
    }
    const live = new Set(producers.map((p) => p.producerId));
    for (const producerId of [...this.remoteProducers.keys()]) {
      if (!live.has(producerId)) this.removeRemoteProducer(producerId, 'producer-closed');
    }
    for (const info of producers) {
      const existing = this.remoteProducers.get(info.producerId);
      if (existing) existing.paused = info.paused;
      else this.addRemoteProducer(info);
    }
  }

  /** Subscribes to the known producers the client should receive. */
  private subscribeKnown(): Promise<void> {
    const ids = [...this.remoteProducers.keys()].filter((id) => this.autoSubscribe || this.wanted.has(id));
    return Promise.all(ids.map((id) => this.subscribeInBackground(id))).then(() => undefined);
  }

  private subscribeInBackground(producerId: string): Promise<void> {
    return this.subscribeInternal(producerId).then(
      () => undefined,
      (error: unknown) => {
        const e = LecternClientError.from(error, 'consume');
        // A producer closing while we subscribe is a normal race, not an error.
        if (this.remoteProducers.has(producerId) && e.code !== ErrorCode.CLOSED) this.emitError(e);
      },
    );
  }

  private subscribeInternal(producerId: string): Promise<RemoteTrack> {
    const existing = this.subscriptions.get(producerId);
    if (existing) return Promise.resolve(existing);
    const pending = this.pendingSubscriptions.get(producerId);
    if (pending) return pending;
    const session = this.requireSession();
    const promise = this.consume(session, producerId).finally(() => {
      if (this.pendingSubscriptions.get(producerId) === promise) this.pendingSubscriptions.delete(producerId);
    });
    this.pendingSubscriptions.set(producerId, promise);
    return promise;
  }

  private async consume(session: Session, producerId: string): Promise<RemoteTrack> {
    const transport = await this.recvTransport(session);
    const reply = await this.request('consume', { producerId, transportId: transport.id });
    this.assertSession(session);
    const consumer = await transport.consume({
      id: reply.consumerId,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
      streamId: `${reply.peerId}-${reply.source}`,
      appData: { peerId: reply.peerId, source: reply.source },
    });
    try {
      this.assertSession(session);
      if (!this.remoteProducers.has(producerId)) {
        // Unknown until now (a manual subscribe racing newProducer): learn it from the reply.
        this.addRemoteProducer({
          producerId,
          peerId: reply.peerId,
          kind: reply.kind,
          source: reply.source,
          paused: reply.producerPaused,
          appData: reply.appData,
        });
      }
      const info = this.remoteProducers.get(producerId);
      const remote = new RemoteTrackImpl(consumer, reply.peerId, reply.source, info?.paused ?? reply.producerPaused);
      await this.request('resumeConsumer', { consumerId: consumer.id });
      this.assertSession(session);
      if (consumer.closed || !this.remoteProducers.has(producerId)) {
        throw new LecternClientError(ErrorCode.CLOSED, `producer ${producerId} closed while subscribing`);
      }
      this.subscriptions.set(producerId, remote);
      this.peers.get(reply.peerId)?.tracks.set(reply.source, remote);
      consumer.on('transportclose', () => this.unsubscribeLocal(remote, 'reconnect'));
      this.safeEmit('trackSubscribed', {
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

  private addRemoteProducer(info: ProducerInfo): void {
    if (this.remoteProducers.has(info.producerId) || info.peerId === this.session?.peerId) return;
    const copy = { ...info };
    this.remoteProducers.set(info.producerId, copy);
    this.peers.get(info.peerId)?.producers.set(info.producerId, copy);
    this.safeEmit('trackPublished', { ...copy });
  }

  private removeRemoteProducer(producerId: string, reason: TrackUnsubscribedReason): void {
    const info = this.remoteProducers.get(producerId);
    const remote = this.subscriptions.get(producerId);
    if (remote) this.unsubscribeLocal(remote, reason);
    this.wanted.delete(producerId);
    if (!info) return;
    this.remoteProducers.delete(producerId);
    this.peers.get(info.peerId)?.producers.delete(producerId);
    this.safeEmit('trackUnpublished', { ...info });
  }

  private unsubscribeLocal(remote: RemoteTrackImpl, reason: TrackUnsubscribedReason): void {
    if (this.subscriptions.get(remote.producerId) !== remote) return;
    this.subscriptions.delete(remote.producerId);
    const peer = this.peers.get(remote.peerId);
    if (peer?.tracks.get(remote.source) === remote) peer.tracks.delete(remote.source);
    if (!remote.consumer.closed) remote.consumer.close();
    this.safeEmit('trackUnsubscribed', {
      peerId: remote.peerId,
      producerId: remote.producerId,
      source: remote.source,
      kind: remote.kind,
      track: remote.track,
      reason,
    });
  }

  private dropPeer(peer: RemotePeerImpl, reason: NotificationMap['peerLeft']['reason']): void {
    for (const producerId of [...peer.producers.keys()]) this.removeRemoteProducer(producerId, 'peer-left');
    if (this.peers.get(peer.peerId) === peer) this.peers.delete(peer.peerId);
    this.safeEmit('peerLeft', { peerId: peer.peerId, reason, peer });
  }

  // ------------------------------------------------------------------ internals: transports

  private sendTransport(session: Session): Promise<types.Transport> {
    if (!session.send) {
      const promise = this.createTransport(session, 'send');
      session.send = promise;
      promise.catch(() => {
        if (session.send === promise) session.send = undefined;
      });
    }
    return session.send;
  }

  private recvTransport(session: Session): Promise<types.Transport> {
    if (!session.recv) {
      const promise = this.createTransport(session, 'recv');
      session.recv = promise;
      promise.catch(() => {
        if (session.recv === promise) session.recv = undefined;
      });
    }
    return session.recv;
  }

  private async createTransport(session: Session, direction: 'send' | 'recv'): Promise<types.Transport> {
    const reply = await this.request('createWebRtcTransport', {
      direction,
      ...(this.options.forceTcp ? { forceTcp: true } : {}),
    });
    this.assertSession(session);
    const transportOptions: types.TransportOptions = {
      id: reply.transportId,
      iceParameters: reply.iceParameters,
      iceCandidates: reply.iceCandidates,
      dtlsParameters: reply.dtlsParameters,
      ...(this.options.iceServers ? { iceServers: this.options.iceServers } : {}),
      ...(this.options.iceTransportPolicy ? { iceTransportPolicy: this.options.iceTransportPolicy } : {}),
    };
    let transport: types.Transport;
    try {
      transport =
        direction === 'send' ? session.device.createSendTransport(transportOptions) : session.device.createRecvTransport(transportOptions);
    } catch (error) {
      throw new LecternClientError(ClientErrorCode.TRANSPORT_FAILED, `cannot create the ${direction} transport: ${errorMessage(error)}`, undefined, {
        cause: error,
      });
    }
    session.transports.push(transport);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const internal = appData as InternalProducerAppData;
        const userAppData = internal.userAppData ?? {};
        this.request('produce', {
          transportId: transport.id,
          kind,
          rtpParameters,
          source: internal.source,
          ...(internal.paused ? { paused: true } : {}),
          ...(Object.keys(userAppData).length > 0 ? { appData: userAppData } : {}),
        }).then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    const recovery = new IceRecovery(
      {
        restartIce: async () => {
          const { iceParameters } = await this.request('restartIce', { transportId: transport.id });
          if (!transport.closed) await transport.restartIce({ iceParameters });
        },
        giveUp: (reason: IceGiveUpReason) => {
          if (!session.closed) void this.recover(reason);
        },
        isFatal: (error) => isFatalIceRestartError(LecternClientError.from(error).code),
        onHealthChange: () => {
          if (!session.closed) this.updateIceState(session);
        },
      },
      this.iceOptions,
    );
    session.recoveries.push(recovery);
    transport.on('connectionstatechange', (state) => {
      if (session.closed) return;
      this.safeEmit('transportStateChanged', { direction, state });
      recovery.onConnectionState(state);
    });
    return transport;
  }

  /** `reconnecting` while any transport is restarting ICE, back to `connected` once all are healthy. */
  private updateIceState(session: Session): void {
    if (this.session !== session || this.rejoinRunning) return;
    // 'failed' = restarts exhausted: a rejoin follows at once, so no 'connected' in between.
    const recovering = session.recoveries.some((r) => r.health === 'restarting' || r.health === 'failed');
    if (recovering && this.state === 'connected') this.setState('reconnecting', 'ice-restart');
    else if (!recovering && this.state === 'reconnecting') this.setState('connected', 'ice-restarted');
  }

  // ------------------------------------------------------------------ internals: publishing

  private async publish(
    source: MediaSource,
    track: MediaStreamTrack | undefined,
    options: PublishOptions,
    media: { encodings: types.RtpEncodingParameters[] | undefined; codecOptions: types.ProducerCodecOptions | undefined },
    owned = track === undefined,
  ): Promise<LocalTrackPublication> {
    const session = this.requireSession();
    if (this.local.has(source) || this.publishing.has(source)) {
      throw new LecternClientError(ErrorCode.INVALID_STATE, `already publishing ${source}; unpublish it first`);
    }
    const kind = sourceKind[source];
    if (track && track.kind !== kind) {
      throw new LecternClientError(ErrorCode.INVALID_REQUEST, `source "${source}" carries ${kind}, not ${track.kind}`);
    }
    this.publishing.add(source);
    let publication: LocalPublicationImpl;
    try {
      const captured = track ?? (await this.capture(kind, options.constraints));
      if (this.session !== session) {
        if (owned) captured.stop();
        throw new LecternClientError(ErrorCode.CLOSED, 'the client left while publishing');
      }
      publication = new LocalPublicationImpl(
        source,
        captured,
        owned,
        media.encodings,
        media.codecOptions,
        options.appData ?? {},
        options.paused ?? false,
      );
      this.local.set(source, publication);
    } finally {
      this.publishing.delete(source);
    }
    try {
      await this.produce(session, publication);
    } catch (thrown) {
      const error = LecternClientError.from(thrown, 'produce');
      if (this.state === 'reconnecting' && this.session !== session && this.local.get(source) === publication) {
        // A rejoin started meanwhile; it republishes everything in `local`, this track included.
        this.safeEmit('localTrackPublished', publication);
        return publication;
      }
      if (this.local.get(source) === publication) this.local.delete(source);
      if (owned) publication.track.stop();
      throw error;
    }
    this.safeEmit('localTrackPublished', publication);
    return publication;
  }

  private async produce(session: Session, publication: LocalPublicationImpl): Promise<void> {
    const transport = await this.sendTransport(session);
    this.assertSession(session);
    if (publication.track.readyState === 'ended') {
      throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, `the ${publication.source} track has ended`);
    }
    const appData: InternalProducerAppData = {
      source: publication.source,
      paused: publication.paused,
      userAppData: publication.appData,
    };
    let producer: types.Producer;
    try {
      producer = await transport.produce({
        track: publication.track,
        ...(publication.encodings ? { encodings: publication.encodings.map((e) => ({ ...e })) } : {}),
        ...(publication.codecOptions ? { codecOptions: publication.codecOptions } : {}),
        stopTracks: false, // the client decides (tracks survive rejoins; app tracks are the app's)
        appData,
      });
    } catch (error) {
      if (error instanceof LecternClientError) throw error;
      throw new LecternClientError(ClientErrorCode.TRANSPORT_FAILED, `cannot send ${publication.source}: ${errorMessage(error)}`, undefined, {
        cause: error,
      });
    }
    if (session.closed || this.local.get(publication.source) !== publication) {
      producer.close();
      throw new LecternClientError(ErrorCode.CLOSED, `stopped publishing ${publication.source}`);
    }
    publication.producer = producer;
    if (publication.paused) producer.pause(); // the server's producer was created paused
    producer.on('trackended', () => {
      if (this.local.get(publication.source) === publication) void this.unpublishLocal(publication, 'track-ended');
    });
  }

  private async unpublishLocal(
    publication: LocalPublicationImpl,
    reason: LectureClientEvents['localTrackUnpublished']['reason'],
  ): Promise<void> {
    if (this.local.get(publication.source) !== publication) return;
    this.local.delete(publication.source);
    const producer = publication.producer;
    publication.producer = undefined;
    if (producer && !producer.closed) producer.close();
    if (publication.ownedByClient) publication.track.stop();
    this.safeEmit('localTrackUnpublished', { source: publication.source, track: publication.track, reason });
    if (producer && this.session && !this.session.closed && reason !== 'left') {
      await this.request('closeProducer', { producerId: producer.id }).catch((error: unknown) => {
        const e = LecternClientError.from(error, 'closeProducer');
        if (e.code !== ErrorCode.NOT_FOUND && e.code !== ErrorCode.CLOSED) throw e;
      });
    }
  }

  private async setPaused(source: MediaSource, paused: boolean): Promise<void> {
    const publication = this.local.get(source);
    if (!publication) {
      throw new LecternClientError(ErrorCode.INVALID_STATE, `not publishing ${source}`);
    }
    if (publication.paused === paused) return;
    publication.paused = paused;
    const producer = publication.producer;
    if (!producer || producer.closed) return; // applied when (re)published
    if (paused) producer.pause();
    else producer.resume();
    try {
      await this.request(paused ? 'pauseProducer' : 'resumeProducer', { producerId: producer.id });
    } catch (error) {
      if (publication.producer === producer && !producer.closed) {
        publication.paused = !paused;
        if (paused) producer.resume();
        else producer.pause();
      }
      throw error;
    }
  }

  private mediaDevices(): MediaDeviceProvider {
    const devices = this.options.mediaDevices ?? (typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined);
    if (!devices) throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, 'no media devices (needs a secure context)');
    return devices;
  }

  private async capture(kind: types.MediaKind, constraints: MediaTrackConstraints | undefined): Promise<MediaStreamTrack> {
    const devices = this.mediaDevices();
    let stream: MediaStream;
    try {
      stream =
        kind === 'audio'
          ? await devices.getUserMedia({ audio: constraints ?? { echoCancellation: true, noiseSuppression: true, autoGainControl: true } })
          : await devices.getUserMedia({ video: constraints ?? { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } });
    } catch (error) {
      throw mediaError(kind === 'audio' ? 'microphone' : 'camera', error);
    }
    const [track] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    for (const other of stream.getTracks()) if (other !== track) other.stop();
    if (!track) throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, `getUserMedia returned no ${kind} track`);
    return track;
  }

  // ------------------------------------------------------------------ internals: recovery

  /** Runs (or joins) a full rejoin; runs again if another reconnect request arrives meanwhile. */
  private recover(reason: string): Promise<void> {
    if (this.rejoinRunning && this.rejoining) {
      this.rejoinAgain = true;
      return this.rejoining;
    }
    this.rejoinRunning = true;
    const run = this.runRejoin(reason);
    this.rejoining = run;
    return run;
  }

  private async runRejoin(reason: string): Promise<void> {
    const generation = this.generation;
    this.setState('reconnecting', reason);
    let outcome: LecternClientError | 'rejoined' | undefined;
    try {
      outcome = await this.rejoinLoop(generation);
    } finally {
      // Cleared before the final state is emitted, so a listener can start the next recovery.
      this.rejoinRunning = false;
      this.rejoining = undefined;
    }
    if (this.generation !== generation || outcome === undefined) return;
    if (this.rejoinAgain) {
      this.rejoinAgain = false;
      return this.recover(reason);
    }
    if (outcome === 'rejoined') {
      this.setState('connected', 'rejoined');
      return;
    }
    this.teardownSession();
    this.setState('failed', outcome.message);
    this.emitError(outcome);
  }

  /** Rejoin attempts with backoff: `'rejoined'`, the error to report, or `undefined` if the client left meanwhile. */
  private async rejoinLoop(generation: number): Promise<LecternClientError | 'rejoined' | undefined> {
    let attempt = 0;
    let lastError: LecternClientError | undefined;
    while (attempt < this.rejoinOptions.attempts) {
      attempt += 1;
      this.rejoinAgain = false;
      const delay = rejoinDelayMs(attempt, this.rejoinOptions);
      if (delay > 0) await this.sleep(delay);
      if (this.generation !== generation) return undefined;
      this.teardownSession();
      try {
        const session = await this.openSession(generation);
        await this.restoreMedia(session);
        this.assertGeneration(generation);
        if (this.rejoinAgain) {
          attempt = 0; // a new reason to rejoin arrived meanwhile: start over
          continue;
        }
        return 'rejoined';
      } catch (thrown) {
        if (this.generation !== generation) return undefined;
        lastError = LecternClientError.from(thrown, 'join');
        if (!isRetryableRejoinError(lastError.code)) return lastError;
      }
    }
    return lastError ?? new LecternClientError(ClientErrorCode.TRANSPORT_FAILED, `could not rejoin after ${this.rejoinOptions.attempts} attempts`);
  }

  /** After a rejoin: publishes the local tracks again, then resubscribes. */
  private async restoreMedia(session: Session): Promise<void> {
    const publications = [...this.local.values()];
    await Promise.all(
      publications.map(async (publication) => {
        try {
          await this.produce(session, publication);
        } catch (thrown) {
          const error = LecternClientError.from(thrown, 'produce');
          if (error.code === ErrorCode.FORBIDDEN || error.code === ClientErrorCode.MEDIA_UNAVAILABLE) {
            // The room no longer lets us send this (or the track died): drop it, tell the app.
            if (this.local.get(publication.source) === publication) {
              this.local.delete(publication.source);
              if (publication.ownedByClient) publication.track.stop();
              this.safeEmit('localTrackUnpublished', { source: publication.source, track: publication.track, reason: 'refused' });
            }
            this.emitError(error);
            return;
          }
          throw error;
        }
      }),
    );
    await this.subscribeKnown();
  }

  /** Closes the current session's transports (local tracks and remote peers are kept). */
  private teardownSession(): void {
    const session = this.session;
    this.session = undefined;
    for (const remote of [...this.subscriptions.values()]) this.unsubscribeLocal(remote, 'reconnect');
    this.pendingSubscriptions.clear();
    for (const publication of this.local.values()) publication.producer = undefined;
    session?.close();
  }

  /** Releases everything: transports, local tracks the client captured, remote state. */
  private teardown(reason: 'left'): void {
    this.rejoinAgain = false;
    this.reconnectAfterJoin = false;
    for (const remote of [...this.subscriptions.values()]) this.unsubscribeLocal(remote, reason);
    for (const publication of [...this.local.values()]) {
      this.local.delete(publication.source);
      publication.producer?.close();
      publication.producer = undefined;
      if (publication.ownedByClient) publication.track.stop();
      this.safeEmit('localTrackUnpublished', { source: publication.source, track: publication.track, reason });
    }
    this.teardownSession();
    this.peers.clear();
    this.remoteProducers.clear();
    this.wanted.clear();
    this.queue = [];
    this.buffered = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeRejoin = undefined;
        resolve();
      }, ms);
      this.wakeRejoin = () => {
        clearTimeout(timer);
        this.wakeRejoin = undefined;
        resolve();
      };
    });
  }

  // ------------------------------------------------------------------ internals: helpers

  private async request<M extends RequestMethod>(method: M, data: RequestMap[M]): Promise<ResponseMap[M]> {
    try {
      // The server's request API answers `method` with ResponseMap[method].
      return (await this.requestFn(method, data)) as ResponseMap[M];
    } catch (error) {
      throw LecternClientError.from(error, method);
    }
  }

  /** Keeps the queue a hand-queue reply carries (the `handQueueChanged` notification follows). */
  private adoptQueue(reply: { queue?: HandQueueEntry[] } | undefined): HandQueueEntry[] {
    if (reply && Array.isArray(reply.queue)) this.queue = [...reply.queue];
    return [...this.queue];
  }

  private requireSession(): Session {
    if (this.state === 'closed') throw new LecternClientError(ErrorCode.CLOSED, 'the client is closed');
    const session = this.session;
    if (!session) throw new LecternClientError(ClientErrorCode.NOT_JOINED, 'join the room first');
    return session;
  }

  private requireSubscription(producerId: string): RemoteTrackImpl {
    const remote = this.subscriptions.get(producerId);
    if (!remote) throw new LecternClientError(ErrorCode.NOT_FOUND, `not subscribed to producer ${producerId}`);
    return remote;
  }

  private assertSession(session: Session): void {
    if (session.closed || this.session !== session) {
      throw new LecternClientError(ErrorCode.CLOSED, 'the session ended (left or reconnecting)');
    }
  }

  private assertGeneration(generation: number): void {
    if (this.generation !== generation) throw new LecternClientError(ErrorCode.CLOSED, 'left while joining');
  }

  private setState(state: ConnectionState, reason?: string): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.safeEmit('connectionStateChanged', { state, previous, ...(reason !== undefined ? { reason } : {}) });
  }

  private emitError(error: LecternClientError): void {
    this.safeEmit('error', error);
  }

  /** Emits without letting a throwing app listener break the client's bookkeeping. */
  private safeEmit<K extends keyof LectureClientEvents>(name: K, event: LectureClientEvents[K]): void {
    try {
      (this.emit as (n: K, e: LectureClientEvents[K]) => boolean)(name, event);
    } catch (error) {
      const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
      if (report) report(error);
      else console.error(`LectureClient: a '${String(name)}' listener threw`, error);
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function mediaError(what: string, error: unknown): LecternClientError {
  const name = error instanceof Error ? error.name : undefined;
  return new LecternClientError(
    ClientErrorCode.MEDIA_UNAVAILABLE,
    `cannot capture the ${what}: ${errorMessage(error)}`,
    name ? { name } : undefined,
    { cause: error },
  );
}
