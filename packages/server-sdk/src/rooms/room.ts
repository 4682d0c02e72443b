import { errors as mediasoupErrors, type types } from 'mediasoup';
import { ErrorCode, forbidden, invalidState, LecternError, notFound } from '../errors.js';
import type { RequestData } from '../api/schemas.js';
import type { ResponseMap } from '../api/responses.js';
import { SerialQueue } from '../util/serial-queue.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { withTimeout } from '../util/timeout.js';
import type { PoolWorker, WorkerPool } from '../workers/worker-pool.js';
import type {
  HandQueueEntry,
  LeaveReason,
  MediaSource,
  Notification,
  NotificationMap,
  NotificationName,
  PeerInfo,
  PeerLimits,
  PeerRole,
  PlainTransportSettings,
  ProducerInfo,
  RoomOptions,
  WebRtcTransportSettings,
} from './types.js';

/** One router of a room, on one worker. A room grows shards as it fills. */
interface RouterShard {
  readonly router: types.Router;
  readonly slot: PoolWorker;
  /** Live transports of peers plus reservations for transports being created. */
  transports: number;
  readonly activeSpeaker: types.ActiveSpeakerObserver | undefined;
}

interface Peer {
  readonly info: PeerInfo;
  readonly rtpCapabilities: types.RtpCapabilities;
  /** The router all of this peer's transports live on (chosen at its first transport). */
  shard: RouterShard | undefined;
  readonly transports: Map<string, PeerTransport>;
  readonly producers: Map<string, ProducerEntry>;
  readonly consumers: Map<string, types.Consumer>;
  /** When (performance.now()) its recent gesture/hand requests ran: the rate limit's sliding window. */
  readonly handRequests: number[];
  closed: boolean;
}

/**
 * One transport of a peer. WebRTC transports have a direction; plain transports
 * (host-enabled, for server-side peers) both send and receive.
 */
type PeerTransport =
  | { readonly kind: 'webrtc'; readonly transport: types.WebRtcTransport; readonly direction: 'send' | 'recv' }
  | {
      readonly kind: 'plain';
      readonly transport: types.PlainTransport;
      /** Tracked here: mediasoup's own "already called" is an untyped error. */
      connectCalled: boolean;
    };

/** A peer may send at most this many `sendGesture` / `raiseHand` / `lowerHand` requests… */
const HAND_REQUEST_LIMIT = 20;
/** …within this many milliseconds (a sliding window). */
const HAND_REQUEST_WINDOW_MS = 1000;

interface ProducerEntry {
  readonly producer: types.Producer;
  readonly peer: Peer;
  readonly shard: RouterShard;
  readonly source: MediaSource;
  readonly appData: Record<string, unknown>;
  /** Pipes of this producer to other routers of the room, by target router id. */
  readonly pipes: Map<string, Promise<void>>;
}

/** Typed events of a room (the manager re-emits them with the room id). */
export interface RoomEvents {
  notification: Notification;
  peerJoined: PeerInfo;
  peerLeft: { peerId: string; reason: LeaveReason };
  newProducer: ProducerInfo;
  producerClosed: { producerId: string; peerId: string };
  activeSpeaker: { peerId: string; producerId: string };
  /** A peer's gesture (also sent to the other peers as the `gesture` notification). */
  gesture: NotificationMap['gesture'];
  /** The raised-hand queue changed (also sent to every peer as `handQueueChanged`). */
  handQueueChanged: { queue: HandQueueEntry[] };
  /** A router of the room was lost with its worker. */
  routerLost: { routerId: string; workerPid: number; peerIds: string[] };
  routerAdded: { routerId: string; workerPid: number };
  /** An extra router that no peer used any more was closed. */
  routerRemoved: { routerId: string; workerPid: number };
  close: { roomId: string };
  listenerError: { event: string; error: unknown };
}

interface RoomDeps {
  pool: WorkerPool;
  timeoutMs: number;
  limits: PeerLimits;
  transport: WebRtcTransportSettings;
  plainTransport: PlainTransportSettings;
}

/** A snapshot of the room's resources, for tests, metrics and admin UIs. */
export interface RoomStats {
  routers: { routerId: string; workerPid: number; transports: number }[];
  peers: number;
  producers: number;
  consumers: number;
  pipes: number;
}

/**
 * A lecture room: its routers (shards over workers), its peers and their media.
 * Routers are added when every router holds `maxTransportsPerRouter` transports;
 * a peer's transports all live on one router, and producers reach other routers
 * through `pipeToRouter`, lazily (the first consumer there) and once per
 * producer and router. Who creates, closes: the room closes its routers, which
 * closes every transport, producer, consumer, pipe and observer on them.
 */
export class Room extends TypedEmitter<RoomEvents> {
  private readonly shards: RouterShard[] = [];
  private readonly peers = new Map<string, Peer>();
  private readonly producers = new Map<string, ProducerEntry>();
  /** Router placement decisions are made one at a time, so a storm cannot over-fill a router. */
  private readonly placement = new SerialQueue();
  private readonly peerQueues = new Map<string, SerialQueue>();
  /** Raised hands by peer id; a Map keeps insertion order, which is the queue's order. */
  private readonly handQueue = new Map<string, HandQueueEntry>();
  /** Set while many peers leave at once, so the queue is announced once at the end. */
  private handQueueBatch: { changed: boolean } | undefined;
  private lastSpeaker: string | undefined;
  private closed = false;

  private constructor(
    readonly id: string,
    readonly options: RoomOptions,
    private readonly deps: RoomDeps,
  ) {
    super();
  }

  /** Creates the room with its first router (placed by the pool's policy). */
  static async create(id: string, options: RoomOptions, deps: RoomDeps): Promise<Room> {
    const room = new Room(id, options, deps);
    await room.addShard(deps.pool.requireWorker());
    return room;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  hasPeer(peerId: string): boolean {
    return this.peers.has(peerId);
  }

  /** A joined peer as other peers see it. */
  peerInfo(peerId: string): PeerInfo | undefined {
    return this.peers.get(peerId)?.info;
  }

  get routerRtpCapabilities(): types.RtpCapabilities {
    const shard = this.shards[0];
    if (!shard) throw new LecternError(ErrorCode.OVERLOADED, 'room has no router (its workers are restarting)');
    return shard.router.rtpCapabilities;
  }

  /**
   * Runs a peer's requests one after another, in arrival order. A queue lives while
   * it has work or its peer is in the room, so ids that never join (a failed or
   * hostile join) leave nothing behind.
   */
  serialize<T>(peerId: string, task: () => Promise<T>): Promise<T> {
    let queue = this.peerQueues.get(peerId);
    if (!queue) {
      queue = new SerialQueue();
      this.peerQueues.set(peerId, queue);
    }
    const q = queue;
    return q.run(task).finally(() => {
      if (q.idle && !this.peers.has(peerId) && this.peerQueues.get(peerId) === q) this.peerQueues.delete(peerId);
    });
  }

  // ---------------------------------------------------------------- requests

  async join(peerId: string, role: PeerRole, data: RequestData<'join'>): Promise<ResponseMap['join']> {
    this.assertOpen();
    const existing = this.peers.get(peerId);
    if (existing) this.removePeer(existing, 'replaced');
    if (this.peers.size >= this.options.maxPeers) {
      throw new LecternError(ErrorCode.ROOM_FULL, `room ${this.id} is full (${this.options.maxPeers} peers)`);
    }
    if (this.shards.length === 0) await this.placement.run(async () => {
      if (this.shards.length === 0) await this.addShard(this.deps.pool.requireWorker());
    });
    const info: PeerInfo = {
      peerId,
      role,
      ...(data.displayName !== undefined ? { displayName: data.displayName } : {}),
      appData: data.appData ?? {},
    };
    const peer: Peer = {
      info,
      rtpCapabilities: data.rtpCapabilities as types.RtpCapabilities,
      shard: undefined,
      transports: new Map(),
      producers: new Map(),
      consumers: new Map(),
      handRequests: [],
      closed: false,
    };
    this.peers.set(peerId, peer);
    this.notify(this.othersThan(peerId), 'peerJoined', info);
    this.safeEmit('peerJoined', info);
    return {
      peerId,
      role,
      routerRtpCapabilities: this.routerRtpCapabilities,
      peers: [...this.peers.values()].filter((p) => p !== peer).map((p) => p.info),
      producers: [...this.producers.values()].map((e) => producerInfo(e)),
    };
  }

  async createWebRtcTransport(
    peerId: string,
    data: RequestData<'createWebRtcTransport'>,
  ): Promise<ResponseMap['createWebRtcTransport']> {
    const peer = this.peer(peerId);
    if (peer.transports.size >= this.deps.limits.maxTransportsPerPeer) {
      throw forbidden(`a peer may hold at most ${this.deps.limits.maxTransportsPerPeer} transports`);
    }
    if (data.direction === 'send' && !this.mayProduceAnything(peer.info.role)) {
      throw forbidden(`${peer.info.role}s may not send media in this room`);
    }
    const transport = await this.placeTransport(
      peer,
      'createWebRtcTransport',
      async (shard) => {
        const { listenInfos, initialAvailableOutgoingBitrate } = this.deps.transport;
        const webRtcServer = shard.slot.webRtcServer;
        const appData = { peerId, direction: data.direction };
        const tcpOnly = data.forceTcp === true;
        const common = { enableUdp: !tcpOnly, enableTcp: true, preferUdp: !tcpOnly, initialAvailableOutgoingBitrate, appData };
        const tcpListenInfos = tcpOnly ? listenInfos.filter((l) => l.protocol === 'tcp') : listenInfos;
        if (!webRtcServer && tcpListenInfos.length === 0) {
          throw new LecternError(ErrorCode.INVALID_REQUEST, 'forceTcp requested but the server listens on no TCP address');
        }
        const options = webRtcServer ? { ...common, webRtcServer } : { ...common, listenInfos: tcpListenInfos };
        return shard.router.createWebRtcTransport(options);
      },
      (t) => ({ kind: 'webrtc', transport: t, direction: data.direction }),
    );
    if (this.deps.transport.maxIncomingBitrate > 0 && data.direction === 'send') {
      await this.call(transport.setMaxIncomingBitrate(this.deps.transport.maxIncomingBitrate), 'setMaxIncomingBitrate').catch(() => undefined);
    }
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  /** DTLS: WebRTC transports only (a plain transport's id is INVALID_REQUEST; use `connectPlainTransport`). */
  async connectTransport(peerId: string, data: RequestData<'connectTransport'>): Promise<ResponseMap['connectTransport']> {
    const transport = this.webRtcTransport(this.peer(peerId), data.transportId, 'connectTransport');
    // dtlsState stays 'new' until the handshake runs, so connect() is tracked itself.
    if (transport.appData.connectCalled === true) throw invalidState(`transport ${transport.id} is already connected`);
    transport.appData.connectCalled = true;
    try {
      await this.call(transport.connect({ dtlsParameters: data.dtlsParameters as types.DtlsParameters }), 'connectTransport');
    } catch (error) {
      if (!(error instanceof LecternError && error.code === ErrorCode.TIMEOUT)) transport.appData.connectCalled = false;
      throw error;
    }
    return {};
  }

  /** WebRTC transports only (a plain transport's id is INVALID_REQUEST). */
  async restartIce(peerId: string, data: RequestData<'restartIce'>): Promise<ResponseMap['restartIce']> {
    const transport = this.webRtcTransport(this.peer(peerId), data.transportId, 'restartIce');
    const iceParameters = await this.call(transport.restartIce(), 'restartIce');
    return { iceParameters };
  }

  /**
   * A PlainTransport for a server-side peer (host-enabled: FORBIDDEN unless
   * `plainTransport.enabled`). Placed like a WebRTC transport: same router
   * placement, per-peer transport limit and router transport count. It both
   * sends and receives: `produce` and `consume` accept its id.
   */
  async createPlainTransport(
    peerId: string,
    data: RequestData<'createPlainTransport'>,
  ): Promise<ResponseMap['createPlainTransport']> {
    const peer = this.peer(peerId);
    const settings = this.deps.plainTransport;
    if (!settings.enabled) throw forbidden('plain RTP transports are not enabled on this server');
    if (peer.transports.size >= this.deps.limits.maxTransportsPerPeer) {
      throw forbidden(`a peer may hold at most ${this.deps.limits.maxTransportsPerPeer} transports`);
    }
    const enableSrtp = data.enableSrtp ?? false;
    const transport = await this.placeTransport(
      peer,
      'createPlainTransport',
      (shard) =>
        shard.router.createPlainTransport({
          listenInfo: settings.listenInfo,
          comedia: data.comedia ?? false,
          rtcpMux: data.rtcpMux ?? true,
          enableSrtp,
          srtpCryptoSuite: data.srtpCryptoSuite ?? 'AES_CM_128_HMAC_SHA1_80',
          appData: { ...data.appData, peerId },
        }),
      (t) => ({ kind: 'plain', transport: t, connectCalled: false }),
    );
    const { rtcpTuple, srtpParameters } = transport;
    return {
      transportId: transport.id,
      ip: transport.tuple.localIp,
      port: transport.tuple.localPort,
      ...(rtcpTuple ? { rtcpPort: rtcpTuple.localPort } : {}),
      ...(enableSrtp && srtpParameters ? { srtpParameters } : {}),
    };
  }

  /**
   * Where a plain transport sends (and, for SRTP, the remote's key). Once per
   * transport: a second call is INVALID_STATE, like `connectTransport`. A WebRTC
   * transport's id is INVALID_REQUEST.
   */
  async connectPlainTransport(
    peerId: string,
    data: RequestData<'connectPlainTransport'>,
  ): Promise<ResponseMap['connectPlainTransport']> {
    if (!this.deps.plainTransport.enabled) throw forbidden('plain RTP transports are not enabled on this server');
    const entry = this.plainTransport(this.peer(peerId), data.transportId);
    if (entry.connectCalled) throw invalidState(`transport ${entry.transport.id} is already connected`);
    entry.connectCalled = true;
    try {
      await this.call(
        entry.transport.connect({
          ip: data.ip,
          port: data.port,
          ...(data.rtcpPort !== undefined ? { rtcpPort: data.rtcpPort } : {}),
          ...(data.srtpParameters ? { srtpParameters: data.srtpParameters } : {}),
        }),
        'connectPlainTransport',
      );
    } catch (error) {
      if (!(error instanceof LecternError && error.code === ErrorCode.TIMEOUT)) entry.connectCalled = false;
      throw error;
    }
    return {};
  }

  async produce(peerId: string, data: RequestData<'produce'>): Promise<ResponseMap['produce']> {
    const peer = this.peer(peerId);
    // A plain transport both sends and receives; a WebRTC one must be a send transport.
    const use = this.transport(peer, data.transportId);
    const { transport } = use;
    if (use.kind === 'webrtc' && use.direction !== 'send') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, 'produce needs a transport created with direction "send"');
    }
    const expectedKind = data.source === 'microphone' || data.source === 'screen-audio' ? 'audio' : 'video';
    if (data.kind !== expectedKind) {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `source "${data.source}" carries ${expectedKind}, not ${data.kind}`);
    }
    const foreign = data.rtpParameters.codecs.find((c) => !c.mimeType.toLowerCase().startsWith(`${data.kind}/`));
    if (foreign) {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `a ${data.kind} producer cannot carry ${foreign.mimeType.slice(0, 40)}`);
    }
    if (!this.mayProduce(peer.info.role, data.source)) {
      throw forbidden(`${peer.info.role}s may not send ${data.source} in this room`);
    }
    for (const entry of peer.producers.values()) {
      if (entry.source === data.source) throw invalidState(`already producing ${data.source}; close that producer first`);
    }
    const appData = data.appData ?? {};
    const producer = await this.call(
      transport.produce({
        kind: data.kind,
        rtpParameters: data.rtpParameters as types.RtpParameters,
        paused: data.paused ?? false,
        appData: { ...appData, peerId, source: data.source },
      }),
      'produce',
      (p) => p.close(),
    );
    if (peer.closed || this.closed) {
      producer.close();
      throw new LecternError(ErrorCode.CLOSED, 'peer left while producing');
    }
    const shard = peer.shard!;
    const entry: ProducerEntry = { producer, peer, shard, source: data.source, appData, pipes: new Map() };
    peer.producers.set(producer.id, entry);
    this.producers.set(producer.id, entry);
    producer.observer.once('close', () => this.forgetProducer(entry));
    if (producer.kind === 'audio' && shard.activeSpeaker) {
      await this.call(shard.activeSpeaker.addProducer({ producerId: producer.id }), 'addProducer').catch(() => undefined);
    }
    const info = producerInfo(entry);
    this.notify(this.othersThan(peerId), 'newProducer', info);
    this.safeEmit('newProducer', info);
    return { producerId: producer.id };
  }

  async closeProducer(peerId: string, data: RequestData<'closeProducer'>): Promise<ResponseMap['closeProducer']> {
    this.ownProducer(this.peer(peerId), data.producerId).producer.close();
    return {};
  }

  async pauseProducer(peerId: string, data: RequestData<'pauseProducer'>): Promise<ResponseMap['pauseProducer']> {
    const entry = this.ownProducer(this.peer(peerId), data.producerId);
    await this.call(entry.producer.pause(), 'pauseProducer');
    this.notify(this.othersThan(peerId), 'producerPaused', { producerId: entry.producer.id });
    return {};
  }

  async resumeProducer(peerId: string, data: RequestData<'resumeProducer'>): Promise<ResponseMap['resumeProducer']> {
    const entry = this.ownProducer(this.peer(peerId), data.producerId);
    await this.call(entry.producer.resume(), 'resumeProducer');
    this.notify(this.othersThan(peerId), 'producerResumed', { producerId: entry.producer.id });
    return {};
  }

  async consume(peerId: string, data: RequestData<'consume'>): Promise<ResponseMap['consume']> {
    const peer = this.peer(peerId);
    const entry = lookup(this.producers, data.producerId, 'producer');
    if (entry.peer === peer) throw new LecternError(ErrorCode.INVALID_REQUEST, 'a peer cannot consume its own producer');
    // Without a transport id: the peer's first WebRTC recv transport (plain peers name theirs).
    const use = data.transportId
      ? this.transport(peer, data.transportId)
      : [...peer.transports.values()].find((t) => t.kind === 'webrtc' && t.direction === 'recv');
    if (!use) throw invalidState('create a recv transport before consuming');
    const { transport } = use;
    if (use.kind === 'webrtc' && use.direction !== 'recv') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, 'consume needs a transport created with direction "recv"');
    }
    // Idempotent: a client that asks twice (auto-subscribe racing a manual
    // subscribe) gets the same consumer, never a duplicate stream.
    for (const c of peer.consumers.values()) {
      if (c.producerId === entry.producer.id) return consumerResponse(c, entry);
    }
    if (peer.consumers.size >= this.deps.limits.maxConsumersPerPeer) {
      throw forbidden(`a peer may hold at most ${this.deps.limits.maxConsumersPerPeer} consumers`);
    }
    // Same codecs on every router, so the origin router can answer before any pipe is made.
    if (!entry.shard.router.canConsume({ producerId: entry.producer.id, rtpCapabilities: peer.rtpCapabilities })) {
      throw new LecternError(ErrorCode.INCOMPATIBLE_CAPABILITIES, 'the peer\'s RTP capabilities cannot receive this producer');
    }
    const shard = peer.shard!;
    await this.ensurePiped(entry, shard);
    const consumer = await this.call(
      transport.consume({
        producerId: entry.producer.id,
        rtpCapabilities: peer.rtpCapabilities,
        paused: true, // the client resumes once its consumer is set up: no lost keyframe
        appData: { peerId, producerPeerId: entry.peer.info.peerId, source: entry.source },
      }),
      'consume',
      (c) => c.close(),
    );
    if (peer.closed || this.closed) {
      consumer.close();
      throw new LecternError(ErrorCode.CLOSED, 'peer left while consuming');
    }
    peer.consumers.set(consumer.id, consumer);
    const to = [peerId];
    consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
    // mediasoup also emits observer 'close' on producerclose, which forgets the consumer.
    consumer.on('producerclose', () =>
      this.notify(to, 'consumerClosed', { consumerId: consumer.id, producerId: consumer.producerId }),
    );
    consumer.on('producerpause', () => this.notify(to, 'consumerPaused', { consumerId: consumer.id }));
    consumer.on('producerresume', () => this.notify(to, 'consumerResumed', { consumerId: consumer.id }));
    consumer.on('layerschange', (layers) =>
      this.notify(to, 'consumerLayersChanged', {
        consumerId: consumer.id,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
    return consumerResponse(consumer, entry);
  }

  async pauseConsumer(peerId: string, data: RequestData<'pauseConsumer'>): Promise<ResponseMap['pauseConsumer']> {
    await this.call(this.consumer(this.peer(peerId), data.consumerId).pause(), 'pauseConsumer');
    return {};
  }

  async resumeConsumer(peerId: string, data: RequestData<'resumeConsumer'>): Promise<ResponseMap['resumeConsumer']> {
    await this.call(this.consumer(this.peer(peerId), data.consumerId).resume(), 'resumeConsumer');
    return {};
  }

  async setConsumerPreferredLayers(
    peerId: string,
    data: RequestData<'setConsumerPreferredLayers'>,
  ): Promise<ResponseMap['setConsumerPreferredLayers']> {
    const consumer = this.consumer(this.peer(peerId), data.consumerId);
    if (consumer.kind !== 'video') throw new LecternError(ErrorCode.INVALID_REQUEST, 'preferred layers apply to video consumers');
    await this.call(
      consumer.setPreferredLayers({
        spatialLayer: data.spatialLayer,
        ...(data.temporalLayer !== undefined ? { temporalLayer: data.temporalLayer } : {}),
      }),
      'setConsumerPreferredLayers',
    );
    return {};
  }

  async leave(peerId: string): Promise<ResponseMap['leave']> {
    this.removePeer(this.peer(peerId), 'left');
    return {};
  }

  /**
   * Relays a gesture to the room's lecturers (the audience of a gesture: relaying
   * every `hold` to a thousand students would cost more than it tells). A
   * `raised-hand` that starts also raises the peer's hand (an `end` does not lower
   * it: the hand waits for the lecturer). The host sees every gesture as an event.
   */
  async sendGesture(peerId: string, data: RequestData<'sendGesture'>): Promise<ResponseMap['sendGesture']> {
    const peer = this.peer(peerId);
    this.limitHandRequests(peer);
    const event: NotificationMap['gesture'] = {
      peerId,
      gesture: data.gesture,
      phase: data.phase,
      confidence: data.confidence,
    };
    const lecturers = [...this.peers.values()].filter((p) => p.info.role === 'lecturer' && p.info.peerId !== peerId).map((p) => p.info.peerId);
    if (lecturers.length > 0) this.notify(lecturers, 'gesture', event);
    this.safeEmit('gesture', event);
    if (data.gesture === 'raised-hand' && data.phase === 'start') this.enqueueHand(peer, 'gesture');
    return {};
  }

  /** Puts the peer's hand in the queue; raising again while queued keeps its place. */
  async raiseHand(peerId: string): Promise<ResponseMap['raiseHand']> {
    const peer = this.peer(peerId);
    this.limitHandRequests(peer);
    this.enqueueHand(peer, 'button');
    return { queue: this.handQueueSnapshot() };
  }

  /** Takes the peer's own hand out of the queue (nothing changes if it was not raised). */
  async lowerHand(peerId: string): Promise<ResponseMap['lowerHand']> {
    const peer = this.peer(peerId);
    this.limitHandRequests(peer);
    if (this.handQueue.delete(peerId)) this.handQueueChanged();
    return { queue: this.handQueueSnapshot() };
  }

  /** The raised hands, oldest first; any joined peer may ask. */
  async getHandQueue(peerId: string): Promise<ResponseMap['getHandQueue']> {
    this.peer(peerId);
    return { queue: this.handQueueSnapshot() };
  }

  /** Lecturers only: takes one peer's hand out of the queue (NOT_FOUND if it is not there). */
  async dismissHand(peerId: string, data: RequestData<'dismissHand'>): Promise<ResponseMap['dismissHand']> {
    this.assertLecturer(this.peer(peerId), 'dismiss raised hands');
    if (!this.handQueue.delete(data.peerId)) throw notFound('raised hand of peer', data.peerId);
    this.handQueueChanged();
    return { queue: this.handQueueSnapshot() };
  }

  /** Lecturers only: empties the queue. */
  async clearHandQueue(peerId: string): Promise<ResponseMap['clearHandQueue']> {
    this.assertLecturer(this.peer(peerId), 'clear the hand queue');
    if (this.handQueue.size > 0) {
      this.handQueue.clear();
      this.handQueueChanged();
    }
    return { queue: [] };
  }

  /** The raised-hand queue, oldest first (copies: callers may keep or change them). */
  handQueueSnapshot(): HandQueueEntry[] {
    return [...this.handQueue.values()].map((entry) => ({ ...entry }));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Closes every router (and so everything on them) and tells the peers. Idempotent. */
  close(): void {
    if (this.closed) return;
    const peerIds = [...this.peers.keys()];
    this.closed = true;
    for (const peer of this.peers.values()) peer.closed = true;
    this.peers.clear();
    this.peerQueues.clear();
    this.handQueue.clear();
    for (const shard of this.shards.splice(0)) shard.router.close();
    this.producers.clear();
    this.notify(peerIds, 'roomClosed', { roomId: this.id });
    this.safeEmit('close', { roomId: this.id });
  }

  stats(): RoomStats {
    let consumers = 0;
    for (const peer of this.peers.values()) consumers += peer.consumers.size;
    let pipes = 0;
    for (const entry of this.producers.values()) pipes += entry.pipes.size;
    return {
      routers: this.shards.map((s) => ({ routerId: s.router.id, workerPid: s.slot.worker.pid, transports: s.transports })),
      peers: this.peers.size,
      producers: this.producers.size,
      consumers,
      pipes,
    };
  }

  /** Producers in the room, as peers see them. */
  producerInfos(): ProducerInfo[] {
    return [...this.producers.values()].map((e) => producerInfo(e));
  }

  /**
   * The mediasoup producer behind an id and the router it lives on, for server-side
   * consumers such as the transcription tap. `undefined` once the producer is gone.
   * @internal
   */
  producerMedia(producerId: string): { producer: types.Producer; router: types.Router; info: ProducerInfo } | undefined {
    const entry = this.producers.get(producerId);
    if (!entry || entry.producer.closed) return undefined;
    return { producer: entry.producer, router: entry.shard.router, info: producerInfo(entry) };
  }

  // ---------------------------------------------------------------- internals

  private async addShard(slot: PoolWorker): Promise<RouterShard> {
    const router = await this.call(
      slot.worker.createRouter({ mediaCodecs: this.options.mediaCodecs, appData: { roomId: this.id } }),
      'createRouter',
      (r) => r.close(),
    );
    let activeSpeaker: types.ActiveSpeakerObserver | undefined;
    try {
      if (this.options.activeSpeaker) {
        activeSpeaker = await this.call(router.createActiveSpeakerObserver({ interval: 300 }), 'createActiveSpeakerObserver');
      }
    } catch (error) {
      router.close();
      throw error;
    }
    if (this.closed) {
      router.close();
      throw new LecternError(ErrorCode.CLOSED, 'room closed');
    }
    const shard: RouterShard = { router, slot, transports: 0, activeSpeaker };
    activeSpeaker?.on('dominantspeaker', ({ producer }) => this.onDominantSpeaker(producer.id));
    // The worker died (mediasoup closes its routers): the room loses this shard.
    router.once('workerclose', () => this.onShardLost(shard));
    this.shards.push(shard);
    this.safeEmit('routerAdded', { routerId: router.id, workerPid: slot.worker.pid });
    return shard;
  }

  /**
   * Picks (once) the router a peer's transports live on and reserves room for one
   * more transport there. Runs in the room's placement queue, so concurrent joins
   * see each other's reservations.
   *
   * Order: a router below `maxTransportsPerRouter` whose worker has headroom; else
   * a new router on a worker that hosts none of this room's routers; else (every
   * worker already hosts one) the least-filled router with headroom, past the
   * soft limit. A room never has two routers on one worker: a worker is one
   * thread, so a second router there adds pipe cost without adding CPU.
   */
  private reserveTransport(peer: Peer): Promise<RouterShard> {
    return this.placement.run(async () => {
      this.assertOpen();
      let shard = peer.shard;
      if (!shard || shard.router.closed) {
        const { pool } = this.deps;
        const usable = this.shards.filter((s) => !s.router.closed && pool.hasHeadroom(s.slot));
        shard = usable.find((s) => s.transports < this.options.maxTransportsPerRouter);
        if (!shard) {
          const slot = pool.pickWorker(new Set(this.shards.map((s) => s.slot.worker)));
          if (slot) shard = await this.addShard(slot);
          else shard = usable.sort((a, b) => a.transports - b.transports)[0];
        }
        if (!shard) {
          throw new LecternError(ErrorCode.OVERLOADED, 'no media worker has headroom for this room', {
            ceilingPercent: pool.cpuCeilingPercent,
          });
        }
        peer.shard = shard;
      }
      shard.transports += 1;
      shard.slot.load.pendingTransports += 1;
      return shard;
    });
  }

  /**
   * Creates a transport of `peer` on its router: reserves room there (placement),
   * creates it within the request timeout, and registers it with the peer. Every
   * kind of transport goes through here, so all count alike for sharding.
   */
  private async placeTransport<T extends types.WebRtcTransport | types.PlainTransport>(
    peer: Peer,
    what: string,
    create: (shard: RouterShard) => Promise<T>,
    toEntry: (transport: T) => PeerTransport,
  ): Promise<T> {
    const shard = await this.reserveTransport(peer);
    let transport: T;
    try {
      transport = await this.call(create(shard), what, (t) => t.close());
    } catch (error) {
      this.releaseTransport(peer, shard);
      throw error;
    } finally {
      shard.slot.load.pendingTransports -= 1; // from here mediasoup's own count has it (or it failed)
    }
    if (peer.closed || this.closed) {
      transport.close();
      this.releaseTransport(peer, shard);
      throw new LecternError(ErrorCode.CLOSED, 'peer left while its transport was being created');
    }
    const id = transport.id;
    peer.transports.set(id, toEntry(transport));
    const observer: types.Transport['observer'] = transport.observer;
    observer.once('close', () => {
      peer.transports.delete(id);
      this.releaseTransport(peer, shard);
    });
    return transport;
  }

  private releaseTransport(peer: Peer, shard: RouterShard): void {
    shard.transports -= 1;
    // A closed router is being lost with its worker (its transports close before
    // 'workerclose' fires): keep its peers pointing at it so onShardLost finds them.
    if (shard.router.closed) return;
    if (peer.transports.size === 0 && peer.shard === shard && peer.producers.size === 0 && peer.consumers.size === 0) {
      peer.shard = undefined; // nothing holds the peer on this router: place it afresh next time
    }
    this.retireIfEmpty(shard);
  }

  /**
   * An extra router nobody uses any more is closed, with the pipes into it (the
   * room keeps at least one router). Safe without the placement queue: a
   * reservation counts in `transports` synchronously when it is made.
   */
  private retireIfEmpty(shard: RouterShard): void {
    if (this.closed || shard.transports > 0 || this.shards.length <= 1) return;
    for (const peer of this.peers.values()) if (peer.shard === shard) return;
    const index = this.shards.indexOf(shard);
    if (index === -1) return;
    this.shards.splice(index, 1);
    for (const entry of this.producers.values()) entry.pipes.delete(shard.router.id);
    shard.router.close();
    this.safeEmit('routerRemoved', { routerId: shard.router.id, workerPid: shard.slot.worker.pid });
  }

  /** Makes `entry`'s producer consumable on `shard`'s router: one pipe per producer and router. */
  private ensurePiped(entry: ProducerEntry, shard: RouterShard): Promise<void> {
    if (shard === entry.shard) return Promise.resolve();
    const key = shard.router.id;
    let pipe = entry.pipes.get(key);
    if (!pipe) {
      pipe = this.call(
        entry.shard.router.pipeToRouter({ producerId: entry.producer.id, router: shard.router }),
        'pipeToRouter',
        () => entry.pipes.set(key, Promise.resolve()), // it did complete: keep it
      ).then(() => undefined);
      entry.pipes.set(key, pipe);
      // A failed pipe is forgotten so the next consumer can try again.
      pipe.catch(() => {
        if (entry.pipes.get(key) === pipe) entry.pipes.delete(key);
      });
    }
    return pipe;
  }

  private forgetProducer(entry: ProducerEntry): void {
    const id = entry.producer.id;
    if (!this.producers.delete(id)) return;
    entry.peer.producers.delete(id);
    // Closing the producer closed its pipe consumers, which close the pipe
    // producers on other routers, whose consumers get `producerclose`.
    entry.pipes.clear();
    const event = { producerId: id, peerId: entry.peer.info.peerId };
    this.notify(this.othersThan(entry.peer.info.peerId), 'producerClosed', event);
    this.safeEmit('producerClosed', event);
  }

  private removePeer(peer: Peer, reason: LeaveReason): void {
    if (peer.closed) return;
    peer.closed = true;
    this.peers.delete(peer.info.peerId);
    for (const { transport } of peer.transports.values()) transport.close(); // cascades to its producers/consumers
    for (const entry of [...peer.producers.values()]) this.forgetProducer(entry);
    const event = { peerId: peer.info.peerId, reason };
    this.notify([...this.peers.keys()], 'peerLeft', event);
    this.safeEmit('peerLeft', event);
    if (this.handQueue.delete(peer.info.peerId)) this.handQueueChanged();
  }

  private enqueueHand(peer: Peer, source: HandQueueEntry['source']): void {
    const { peerId, displayName } = peer.info;
    if (this.handQueue.has(peerId)) return;
    this.handQueue.set(peerId, {
      peerId,
      ...(displayName !== undefined ? { displayName } : {}),
      raisedAt: new Date().toISOString(),
      source,
    });
    this.handQueueChanged();
  }

  /** Tells every peer (and the host) the new queue, or only marks it while a batch of leaves runs. */
  private handQueueChanged(): void {
    if (this.handQueueBatch) {
      this.handQueueBatch.changed = true;
      return;
    }
    this.notify([...this.peers.keys()], 'handQueueChanged', { queue: this.handQueueSnapshot() });
    this.safeEmit('handQueueChanged', { queue: this.handQueueSnapshot() });
  }

  /**
   * At most {@link HAND_REQUEST_LIMIT} gesture/hand requests per peer in any
   * {@link HAND_REQUEST_WINDOW_MS}; refused requests do not count. The window lives
   * on the peer, so it goes when the peer does.
   */
  private limitHandRequests(peer: Peer): void {
    const now = performance.now();
    const times = peer.handRequests;
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

  private assertLecturer(peer: Peer, what: string): void {
    if (peer.info.role !== 'lecturer') throw forbidden(`only lecturers may ${what}`);
  }

  private onShardLost(shard: RouterShard): void {
    const index = this.shards.indexOf(shard);
    if (index === -1) return; // closed by the room itself
    this.shards.splice(index, 1);
    for (const entry of this.producers.values()) entry.pipes.delete(shard.router.id);
    const lost = [...this.peers.values()].filter((p) => p.shard === shard);
    this.safeEmit('routerLost', {
      routerId: shard.router.id,
      workerPid: shard.slot.worker.pid,
      peerIds: lost.map((p) => p.info.peerId),
    });
    // Many peers can go at once: the hand queue is announced once, after all of them.
    const batch = (this.handQueueBatch = { changed: false });
    try {
      for (const peer of lost) {
        this.notify([peer.info.peerId], 'reconnectRequired', { reason: 'worker-died' });
        this.removePeer(peer, 'worker-died');
      }
    } finally {
      this.handQueueBatch = undefined;
    }
    if (batch.changed) this.handQueueChanged();
  }

  private onDominantSpeaker(producerId: string): void {
    const entry = this.producers.get(producerId);
    if (!entry || this.lastSpeaker === producerId) return;
    this.lastSpeaker = producerId;
    const event = { peerId: entry.peer.info.peerId, producerId };
    this.notify([...this.peers.keys()], 'activeSpeaker', event);
    this.safeEmit('activeSpeaker', event);
  }

  private mayProduce(role: PeerRole, source: MediaSource): boolean {
    if (role === 'lecturer') return true;
    switch (this.options.studentMedia) {
      case 'off':
        return false;
      case 'audio':
        return source === 'microphone';
      case 'all':
        return true;
    }
  }

  private mayProduceAnything(role: PeerRole): boolean {
    return role === 'lecturer' || this.options.studentMedia !== 'off';
  }

  private peer(peerId: string): Peer {
    this.assertOpen();
    return lookup(this.peers, peerId, 'peer (join first)');
  }

  /** Only the peer's own transports are visible to it: another peer's id is NOT_FOUND. */
  private transport(peer: Peer, transportId: string): PeerTransport {
    return lookup(peer.transports, transportId, 'transport');
  }

  /** For DTLS/ICE requests: a plain transport's id is INVALID_REQUEST. */
  private webRtcTransport(peer: Peer, transportId: string, method: string): types.WebRtcTransport {
    const entry = this.transport(peer, transportId);
    if (entry.kind !== 'webrtc') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `${method} applies to WebRTC transports; ${entry.transport.id} is a plain transport`);
    }
    return entry.transport;
  }

  private plainTransport(peer: Peer, transportId: string): Extract<PeerTransport, { kind: 'plain' }> {
    const entry = this.transport(peer, transportId);
    if (entry.kind !== 'plain') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `connectPlainTransport applies to plain transports; ${entry.transport.id} is a WebRTC transport`);
    }
    return entry;
  }

  private ownProducer(peer: Peer, producerId: string): ProducerEntry {
    return lookup(peer.producers, producerId, 'producer');
  }

  private consumer(peer: Peer, consumerId: string): types.Consumer {
    return lookup(peer.consumers, consumerId, 'consumer');
  }

  private othersThan(peerId: string): string[] {
    return [...this.peers.keys()].filter((id) => id !== peerId);
  }

  private notify<N extends NotificationName>(to: string[], name: N, data: NotificationMap[N]): void {
    if (to.length === 0) return;
    this.safeEmit('notification', { roomId: this.id, to, name, data } as Notification);
  }

  private assertOpen(): void {
    if (this.closed) throw new LecternError(ErrorCode.CLOSED, `room ${this.id} is closed`);
  }

  /** Every call into mediasoup is bounded and its errors typed. */
  private async call<T>(promise: Promise<T>, what: string, onLate?: (value: T) => void): Promise<T> {
    try {
      return await withTimeout(promise, this.deps.timeoutMs, what, onLate);
    } catch (error) {
      throw fromMediasoupError(error, what);
    }
  }
}

function lookup<T>(map: ReadonlyMap<string, T>, id: string, what: string): T {
  const value = map.get(id);
  if (value === undefined) throw notFound(what, id);
  return value;
}

function producerInfo(entry: ProducerEntry): ProducerInfo {
  return {
    producerId: entry.producer.id,
    peerId: entry.peer.info.peerId,
    kind: entry.producer.kind,
    source: entry.source,
    paused: entry.producer.paused,
    appData: entry.appData,
  };
}

function consumerResponse(consumer: types.Consumer, entry: ProducerEntry): ResponseMap['consume'] {
  return {
    consumerId: consumer.id,
    producerId: consumer.producerId,
    peerId: entry.peer.info.peerId,
    kind: consumer.kind,
    source: entry.source,
    rtpParameters: consumer.rtpParameters,
    type: consumer.type,
    producerPaused: consumer.producerPaused,
    appData: entry.appData,
  };
}

/**
 * mediasoup signals bad parameters with TypeError / UnsupportedError (its own
 * validation, messages safe to show), an object the worker no longer has with
 * NotFoundError, and a dead worker's channel with WorkerClosedError.
 */
function fromMediasoupError(error: unknown, what: string): LecternError {
  if (error instanceof LecternError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError || error instanceof mediasoupErrors.UnsupportedError) {
    return new LecternError(ErrorCode.INVALID_REQUEST, `${what}: ${message.slice(0, 300)}`, undefined, { cause: error });
  }
  // The worker's RTP listener refuses an SSRC, RID or MID another producer of the
  // transport already uses: the client's parameters are at fault.
  if (/already exists in RTP listener/i.test(message)) {
    return new LecternError(ErrorCode.INVALID_REQUEST, `${what}: ${message.slice(0, 300)}`, undefined, { cause: error });
  }
  // Our maps answered for the id, so the worker lost it in between: it was closed.
  if (error instanceof mediasoupErrors.NotFoundError || error instanceof mediasoupErrors.WorkerClosedError) {
    return new LecternError(ErrorCode.CLOSED, `${what}: ${message.slice(0, 300)}`, undefined, { cause: error });
  }
  return new LecternError(ErrorCode.INTERNAL, `${what} failed`, undefined, { cause: error });
}
