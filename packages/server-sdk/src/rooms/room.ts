import type { types } from 'mediasoup';
import type {
  HandQueueEntry,
  LeaveReason,
  Notification,
  NotificationMap,
  NotificationName,
  ParsedRequest,
  PeerDetails,
  PeerGrants,
  PeerInfo,
  PeerRole,
  ProducerInfo,
  ResponseMap,
} from '@lectern/protocol';
import { ErrorCode, LecternError, notFound } from '../errors.js';
import { SerialQueue } from '../util/serial-queue.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { HandQueue } from './hand-queue.js';
import { mediasoupCaller } from './mediasoup-call.js';
import { lookup, Peer, type ProducerEntry } from './peer.js';
import type { RoomChange, RoomLink } from './room-link.js';
import { RoomMedia } from './room-media.js';
import type { ProducerWatch, ServerConsumer, ServerConsumerOptions } from './server-consumer.js';
import { ShardSet, type RouterShard } from './shard-set.js';
import type { RoomDeps, RoomOptions } from './types.js';

/** Typed events of a room (the manager re-emits them with the room id). */
export interface RoomEvents {
  notification: Notification;
  peerJoined: PeerInfo;
  peerLeft: { peerId: string; reason: LeaveReason };
  newProducer: ProducerInfo;
  producerClosed: { producerId: string; peerId: string };
  activeSpeaker: { peerId: string; producerId: string };
  /** A peer's gesture (also sent to the room's lecturers as the `gesture` notification). */
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

/** A snapshot of the room's resources, for tests, metrics and admin UIs. */
export interface RoomStats {
  routers: { routerId: string; workerPid: number; transports: number }[];
  peers: number;
  producers: number;
  /** Consumers of peers. */
  consumers: number;
  /** Room-owned server-side consumers (the transcription tap's). */
  serverConsumers: number;
  pipes: number;
}

/**
 * What hosts and server-side components (the transcription pipeline, metrics) may
 * see of a room: its state, its events, and server-side consumers it owns. Peers
 * act on a room only through the manager's validated request API.
 */
export interface RoomView {
  readonly id: string;
  readonly isClosed: boolean;
  readonly peerCount: number;
  hasPeer(peerId: string): boolean;
  /** A joined peer as other peers see it. */
  peerInfo(peerId: string): PeerInfo | undefined;
  /** Every joined peer with its grants and media, in join order. */
  peerDetails(): PeerDetails[];
  /** Producers in the room, as peers see them. */
  producerInfos(): ProducerInfo[];
  /** The raised-hand queue, oldest first. */
  handQueueSnapshot(): HandQueueEntry[];
  stats(): RoomStats;
  /** A producer's state and changes, for server-side consumers; `undefined` once it is gone. */
  watchProducer(producerId: string): ProducerWatch | undefined;
  /** A room-owned server-side consumer of a producer (see {@link ServerConsumer}). */
  createServerConsumer(producerId: string, options: ServerConsumerOptions): Promise<ServerConsumer>;
  /**
   * Sends a notification that a service of the room makes (live captions) to
   * every peer of the room. Only {@link RoomBroadcastName}s: the room's own
   * notifications (joins, media, closing) are the room's to send.
   */
  broadcast<N extends RoomBroadcastName>(name: N, data: NotificationMap[N]): void;
  on: TypedEmitter<RoomEvents>['on'];
  once: TypedEmitter<RoomEvents>['once'];
  off: TypedEmitter<RoomEvents>['off'];
}

/** Notifications a room's services may send to all of its peers ({@link RoomView.broadcast}). */
export type RoomBroadcastName = 'caption';

/** The request methods a room answers for a joined peer (the manager's dispatch table calls them). */
export type RoomRequestMethod = Exclude<keyof ResponseMap, 'getRouterRtpCapabilities' | 'join'>;

/**
 * A lecture room. It coordinates: its membership (join, leave, replace, loss
 * with a worker), the peers (each owns its media, see {@link Peer}), the media
 * requests ({@link RoomMedia}), the routers and pipes ({@link ShardSet}), the
 * raised hands ({@link HandQueue}), and who hears what (notifications addressed
 * to peer ids). Every request finds its peer here first, so a closed room or an
 * unknown peer is refused in one place.
 * Who creates, closes: the room closes its routers, which closes every
 * transport, producer, consumer, pipe and observer on them.
 */
export class Room extends TypedEmitter<RoomEvents> implements RoomView {
  private readonly peers = new Map<string, Peer>();
  private readonly peerQueues = new Map<string, SerialQueue>();
  private readonly shards: ShardSet;
  private readonly media: RoomMedia;
  private readonly hands: HandQueue;
  /** The room's part on other nodes (a cluster); undefined on a single node. */
  private link: RoomLink | undefined;
  private lastSpeaker: string | undefined;
  /** The producer mediasoup's observer named last (announced or not: it may be muted). */
  private observedSpeaker: string | undefined;
  private closed = false;

  private constructor(
    readonly id: string,
    readonly options: RoomOptions,
    private readonly deps: RoomDeps,
  ) {
    super();
    const call = mediasoupCaller(deps.timeoutMs);
    this.hands = new HandQueue((queue) => {
      // Every node of the room keeps the whole queue and tells its own peers.
      this.notify([...this.peers.keys()], 'handQueueChanged', { queue });
      this.safeEmit('handQueueChanged', { queue: this.hands.snapshot() });
    });
    this.shards = new ShardSet(id, options, deps.pool, call, {
      routerAdded: (s) => this.safeEmit('routerAdded', { routerId: s.router.id, workerPid: s.slot.worker.pid }),
      routerRemoved: (s) => this.safeEmit('routerRemoved', { routerId: s.router.id, workerPid: s.slot.worker.pid }),
      shardLost: (s) => this.onShardLost(s),
      dominantSpeaker: (producerId) => this.onDominantSpeaker(producerId),
      inUse: (s) => [...this.peers.values()].some((p) => p.shard === s),
    });
    const room = this;
    this.media = new RoomMedia({
      roomId: id,
      options,
      deps,
      call,
      shards: this.shards,
      get closed() {
        return room.closed;
      },
      get link() {
        return room.link;
      },
      notify: (to, name, data) => this.notify(to, name, data),
      othersThan: (peerId) => this.othersThan(peerId),
      producerAdded: (info) => {
        this.notify(this.othersThan(info.peerId), 'newProducer', info);
        this.safeEmit('newProducer', info);
        this.link?.publish({ type: 'producerAdded', info });
      },
      producerClosed: (event) => {
        this.notify(this.othersThan(event.peerId), 'producerClosed', event);
        this.safeEmit('producerClosed', event);
        this.link?.publish({ type: 'producerClosed', ...event });
      },
      producerPausedChanged: (info) => {
        const name = info.paused ? 'producerPaused' : 'producerResumed';
        this.notify(this.othersThan(info.peerId), name, { producerId: info.producerId });
        this.link?.publish({ type: name, info });
      },
    });
  }

  /** Creates the room with its first router (placed by the pool's policy). */
  static async create(id: string, options: RoomOptions, deps: RoomDeps): Promise<Room> {
    const room = new Room(id, options, deps);
    await room.shards.add(deps.pool.requireWorker());
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

  peerInfo(peerId: string): PeerInfo | undefined {
    return this.peers.get(peerId)?.info;
  }

  /** A joined peer's grants (what the request API checks its requests against). */
  peerGrants(peerId: string): PeerGrants | undefined {
    return this.peers.get(peerId)?.grants;
  }

  peerDetails(): PeerDetails[] {
    return [...this.peers.values()].map((peer) => ({
      ...peer.info,
      joinedAt: peer.joinedAt.toISOString(),
      grants: { ...peer.grants, canPublish: [...peer.grants.canPublish] },
      producers: this.media.producerInfos().filter((p) => p.peerId === peer.id),
      consumers: peer.consumers.size,
      transports: peer.transports.size,
    }));
  }

  get routerRtpCapabilities(): types.RtpCapabilities {
    return this.shards.routerRtpCapabilities;
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

  // ---------------------------------------------------------------- requests: membership

  /**
   * Joins (or re-joins, replacing the previous session of the same id) with the
   * role and grants the host or its token decided; `displayName` from the host
   * wins over the client's. A banned identity is FORBIDDEN.
   */
  async join(
    peerId: string,
    who: { role: PeerRole; grants: PeerGrants; displayName?: string | undefined },
    data: ParsedRequest<'join'>,
  ): Promise<ResponseMap['join']> {
    this.assertOpen();
    const { role, grants } = who;
    if (this.deps.bans.isBanned(this.id, peerId)) {
      throw new LecternError(ErrorCode.FORBIDDEN, `${peerId} is banned from room ${this.id}`, { reason: 'banned' });
    }
    const existing = this.peers.get(peerId);
    if (existing) this.removePeer(existing, 'replaced');
    if (this.peers.size >= this.options.maxPeers) {
      throw new LecternError(ErrorCode.ROOM_FULL, `room ${this.id} is full (${this.options.maxPeers} peers)`);
    }
    await this.shards.ensureRouter();
    // Banned while the router was being made (a lecturer removed this id meanwhile): still out.
    if (this.deps.bans.isBanned(this.id, peerId)) {
      throw new LecternError(ErrorCode.FORBIDDEN, `${peerId} is banned from room ${this.id}`, { reason: 'banned' });
    }
    const displayName = who.displayName ?? data.displayName;
    const info: PeerInfo = {
      peerId,
      role,
      ...(displayName !== undefined ? { displayName } : {}),
      appData: data.appData ?? {},
    };
    // The room's other nodes are known before the reply lists their peers and producers.
    if (this.link) await this.link.ready;
    this.assertOpen();
    const peer = new Peer(info, data.rtpCapabilities as types.RtpCapabilities, grants);
    this.peers.set(peerId, peer);
    this.notify(this.othersThan(peerId), 'peerJoined', info);
    this.safeEmit('peerJoined', info);
    this.link?.publish({ type: 'peerJoined', info });
    return {
      peerId,
      role,
      routerRtpCapabilities: this.routerRtpCapabilities,
      peers: [...[...this.peers.values()].filter((p) => p !== peer).map((p) => p.info), ...(this.link?.remotePeers().filter((p) => p.peerId !== peerId) ?? [])],
      producers: this.producerInfos(),
      grants: { ...grants, canPublish: [...grants.canPublish] },
    };
  }

  async leave(peerId: string): Promise<ResponseMap['leave']> {
    this.removePeer(this.peer(peerId), 'left');
    return {};
  }

  // ---------------------------------------------------------------- requests: media (RoomMedia owns them)

  createWebRtcTransport(peerId: string, data: ParsedRequest<'createWebRtcTransport'>): Promise<ResponseMap['createWebRtcTransport']> {
    return this.media.createWebRtcTransport(this.peer(peerId), data);
  }

  connectTransport(peerId: string, data: ParsedRequest<'connectTransport'>): Promise<ResponseMap['connectTransport']> {
    return this.media.connectTransport(this.peer(peerId), data);
  }

  restartIce(peerId: string, data: ParsedRequest<'restartIce'>): Promise<ResponseMap['restartIce']> {
    return this.media.restartIce(this.peer(peerId), data);
  }

  createPlainTransport(peerId: string, data: ParsedRequest<'createPlainTransport'>): Promise<ResponseMap['createPlainTransport']> {
    return this.media.createPlainTransport(this.peer(peerId), data);
  }

  connectPlainTransport(peerId: string, data: ParsedRequest<'connectPlainTransport'>): Promise<ResponseMap['connectPlainTransport']> {
    return this.media.connectPlainTransport(this.peer(peerId), data);
  }

  produce(peerId: string, data: ParsedRequest<'produce'>): Promise<ResponseMap['produce']> {
    return this.media.produce(this.peer(peerId), data);
  }

  closeProducer(peerId: string, data: ParsedRequest<'closeProducer'>): Promise<ResponseMap['closeProducer']> {
    return this.media.closeProducer(this.peer(peerId), data);
  }

  pauseProducer(peerId: string, data: ParsedRequest<'pauseProducer'>): Promise<ResponseMap['pauseProducer']> {
    return this.media.pauseProducer(this.peer(peerId), data);
  }

  resumeProducer(peerId: string, data: ParsedRequest<'resumeProducer'>): Promise<ResponseMap['resumeProducer']> {
    return this.media.resumeProducer(this.peer(peerId), data);
  }

  consume(peerId: string, data: ParsedRequest<'consume'>): Promise<ResponseMap['consume']> {
    return this.media.consume(this.peer(peerId), data);
  }

  pauseConsumer(peerId: string, data: ParsedRequest<'pauseConsumer'>): Promise<ResponseMap['pauseConsumer']> {
    return this.media.pauseConsumer(this.peer(peerId), data);
  }

  resumeConsumer(peerId: string, data: ParsedRequest<'resumeConsumer'>): Promise<ResponseMap['resumeConsumer']> {
    return this.media.resumeConsumer(this.peer(peerId), data);
  }

  setConsumerPreferredLayers(peerId: string, data: ParsedRequest<'setConsumerPreferredLayers'>): Promise<ResponseMap['setConsumerPreferredLayers']> {
    return this.media.setConsumerPreferredLayers(this.peer(peerId), data);
  }

  // ---------------------------------------------------------------- requests: gestures and hands

  /**
   * Relays a gesture to the room's lecturers (the audience of a gesture: relaying
   * every `hold` to a thousand students would cost more than it tells). A
   * `raised-hand` that starts also raises the peer's hand (an `end` does not lower
   * it: the hand waits for the lecturer). The host sees every gesture as an event.
   */
  async sendGesture(peerId: string, data: ParsedRequest<'sendGesture'>): Promise<ResponseMap['sendGesture']> {
    const peer = this.peer(peerId);
    this.hands.limitRequests(peer);
    const event: NotificationMap['gesture'] = { peerId, gesture: data.gesture, phase: data.phase, confidence: data.confidence };
    this.notifyLecturers(event);
    this.safeEmit('gesture', event);
    this.link?.publish({ type: 'gesture', event });
    if (data.gesture === 'raised-hand' && data.phase === 'start') this.raise(peer, 'gesture');
    return {};
  }

  /** Puts the peer's hand in the queue; raising again while queued keeps its place. */
  async raiseHand(peerId: string): Promise<ResponseMap['raiseHand']> {
    const peer = this.peer(peerId);
    this.hands.limitRequests(peer);
    this.raise(peer, 'button');
    return { queue: this.hands.snapshot() };
  }

  /** Takes the peer's own hand out of the queue (nothing changes if it was not raised). */
  async lowerHand(peerId: string): Promise<ResponseMap['lowerHand']> {
    this.hands.limitRequests(this.peer(peerId));
    this.lower(peerId);
    return { queue: this.hands.snapshot() };
  }

  /** The raised hands, oldest first; any joined peer may ask. */
  async getHandQueue(peerId: string): Promise<ResponseMap['getHandQueue']> {
    this.peer(peerId);
    return { queue: this.hands.snapshot() };
  }

  /** Grant `roomAdmin` (checked by the request API): takes one peer's hand out of the queue (NOT_FOUND if it is not there). */
  async dismissHand(peerId: string, data: ParsedRequest<'dismissHand'>): Promise<ResponseMap['dismissHand']> {
    this.peer(peerId);
    if (!this.lower(data.peerId)) throw notFound('raised hand of peer', data.peerId);
    return { queue: this.hands.snapshot() };
  }

  /** Grant `roomAdmin` (checked by the request API): empties the queue. */
  async clearHandQueue(peerId: string): Promise<ResponseMap['clearHandQueue']> {
    this.peer(peerId);
    this.hands.clear();
    this.link?.publish({ type: 'handsCleared' });
    return { queue: [] };
  }

  handQueueSnapshot(): HandQueueEntry[] {
    return this.hands.snapshot();
  }

  // ---------------------------------------------------------------- admin (grant roomAdmin, or the host)

  /** Every peer with its media (the admin API's `listPeers`): this node's, then the other nodes' (a cluster). */
  async listPeers(peerId: string): Promise<ResponseMap['listPeers']> {
    this.peer(peerId);
    const local = this.peerDetails();
    return { peers: this.link ? [...local, ...(await this.link.remotePeerDetails())] : local };
  }

  /**
   * Removes a peer: it hears `removed` (with the reason, and whether it is
   * banned), its transports close (and with them its producers and consumers),
   * the others hear `peerLeft` with reason `removed`. With `ban`, the identity
   * cannot join again for the room's lifetime or `banSeconds`. `by` is the
   * acting peer (absent when the host acts); a peer cannot remove itself.
   */
  async expel(target: string, options: { reason?: string | undefined; ban?: boolean | undefined; banSeconds?: number | undefined; by?: string | undefined }): Promise<void> {
    this.assertOpen();
    if (options.by === target) throw new LecternError(ErrorCode.INVALID_REQUEST, 'a peer cannot remove itself (leave instead)');
    if (!this.peers.has(target) && this.link?.hasRemotePeer(target)) {
      // Another node of the room holds the peer: it removes it (and shares the ban).
      await this.link.forwardAdmin({ type: 'expel', peerId: target, ...options });
      return;
    }
    const peer = lookup(this.peers, target, 'peer');
    const banned = options.ban === true ? this.deps.bans.ban(this.id, target, options.banSeconds) : undefined;
    if (banned) this.link?.publish({ type: 'peerBanned', peerId: target, ...(banned.until ? { until: banned.until.toISOString() } : {}) });
    this.notify([target], 'removed', {
      reason: options.reason ?? (options.by ? `removed by ${options.by}` : 'removed by the host'),
      banned: banned !== undefined,
      ...(banned?.until ? { bannedUntil: banned.until.toISOString() } : {}),
      ...(options.by ? { by: options.by } : {}),
    });
    this.removePeer(peer, 'removed');
  }

  /**
   * Pauses (default) or closes another peer's producer: a lecturer muting a
   * student. The owner hears `mutedByHost`; the others `producerPaused` or
   * `producerClosed` as for the owner's own pause or close. A paused producer
   * may be resumed by its owner.
   */
  async muteProducer(producerId: string, options: { close?: boolean | undefined; reason?: string | undefined; by?: string | undefined }): Promise<void> {
    this.assertOpen();
    if (!this.media.producers.has(producerId) && this.link?.remoteProducer(producerId)) {
      await this.link.forwardAdmin({ type: 'mute', producerId, ...options });
      return;
    }
    const entry = this.media.producer(producerId);
    const owner = entry.peer.id;
    const notice: NotificationMap['mutedByHost'] = {
      producerId,
      source: entry.source,
      closed: options.close === true,
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(options.by !== undefined ? { by: options.by } : {}),
    };
    if (options.close === true) {
      entry.producer.close(); // observer 'close' → forgetProducer → producerClosed to the others
    } else {
      await this.media.pauseForHost(entry);
    }
    this.notify([owner], 'mutedByHost', notice);
  }

  // ---------------------------------------------------------------- server-side consumers

  watchProducer(producerId: string): ProducerWatch | undefined {
    return this.media.watchProducer(producerId);
  }

  async createServerConsumer(producerId: string, options: ServerConsumerOptions): Promise<ServerConsumer> {
    this.assertOpen();
    return this.media.createServerConsumer(producerId, options);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Ends the room everywhere: on the other nodes it spans too (`endRoom`, the
   * host's `closeRoom`), then here (see {@link close}).
   */
  end(reason?: string): void {
    if (this.closed) return;
    this.link?.publish({ type: 'roomEnded', ...(reason !== undefined ? { reason } : {}) });
    this.close(reason);
  }

  /**
   * Closes the room on this node: every router (and so everything on them); tells the peers
   * (`roomClosed`, with `reason` if given). Every peer still in the room
   * leaves with reason `room-closed` (the `peerLeft` event, for hosts and
   * webhooks counting attendance; the peers themselves hear `roomClosed`).
   * Idempotent.
   */
  close(reason?: string): void {
    if (this.closed) return;
    const peerIds = [...this.peers.keys()];
    this.closed = true;
    for (const peer of this.peers.values()) peer.close({ routerClosing: true });
    this.peers.clear();
    this.peerQueues.clear();
    this.hands.discard();
    this.shards.close();
    this.media.producers.clear();
    this.notify(peerIds, 'roomClosed', { roomId: this.id, ...(reason !== undefined ? { reason } : {}) });
    for (const peerId of peerIds) this.safeEmit('peerLeft', { peerId, reason: 'room-closed' });
    this.deps.bans.roomClosed(this.id);
    this.link?.close();
    this.safeEmit('close', { roomId: this.id });
  }

  stats(): RoomStats {
    let consumers = 0;
    for (const peer of this.peers.values()) consumers += peer.consumers.size;
    const { routers, pipes } = this.shards.stats();
    const { producers, serverConsumers } = this.media;
    return { routers, peers: this.peers.size, producers: producers.size, consumers, serverConsumers: serverConsumers.size, pipes };
  }

  /** Producers in the room, as peers see them: this node's, then the other nodes' (a cluster). */
  producerInfos(): ProducerInfo[] {
    const local = this.media.producerInfos();
    return this.link ? [...local, ...this.link.remoteProducers()] : local;
  }

  // ---------------------------------------------------------------- a room that spans nodes (the cluster's side)

  /** Connects the room to its part on other nodes (once, before or after peers joined). */
  attachLink(link: RoomLink): void {
    if (this.link) throw new LecternError(ErrorCode.INVALID_STATE, `room ${this.id} is already linked to a cluster`);
    this.link = link;
  }

  /** The cluster let go of the room (its MediaNode closed): from now on it is a single-node room. */
  detachLink(link: RoomLink): void {
    if (this.link === link) this.link = undefined;
  }

  /** This node's own part of the room, for the cluster to announce (at link time and after a Redis outage). */
  localState(): { peers: PeerInfo[]; producers: ProducerInfo[]; hands: HandQueueEntry[] } {
    return {
      peers: [...this.peers.values()].map((p) => p.info),
      producers: this.media.producerInfos(),
      hands: this.hands.snapshot().filter((h) => this.peers.has(h.peerId)),
    };
  }

  /** The peer joined on another node of the room: its session here ends (`replaced`), as a re-join here would. */
  replacedElsewhere(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (peer) this.removePeer(peer, 'replaced');
  }

  /** A local producer (the cluster pipes it to other nodes); undefined if it is not on this node. */
  localProducer(producerId: string): ProducerEntry | undefined {
    return this.media.producers.get(producerId);
  }

  /** The router the room's pipes to other nodes use (its first; one is made if the room has none). */
  async clusterShard(): Promise<RouterShard> {
    this.assertOpen();
    await this.shards.ensureRouter();
    return this.shards.first();
  }

  /** Makes a producer of one of the room's routers consumable on another (see {@link ShardSet.ensurePiped}). */
  pipeBetweenRouters(producerId: string, from: RouterShard, to: RouterShard): Promise<void> {
    return this.shards.ensurePiped(producerId, from, to);
  }

  /**
   * Announces a producer again to some peers (`newProducer`): its pipe from
   * another node was lost under their consumers, which closed; a client that
   * subscribes automatically subscribes again.
   */
  announceProducer(info: ProducerInfo, peerIds: string[]): void {
    if (this.closed) return;
    this.notify(peerIds.filter((id) => this.peers.has(id)), 'newProducer', info);
  }

  /** A producer that came from another node is gone from this one: forget its pipes between routers. */
  forgetPipedProducer(producerId: string): void {
    this.shards.forgetProducer(producerId);
  }

  /**
   * Applies a change made on another node of the room: this node's peers hear
   * what they would have heard had it happened here. Host events are not
   * emitted (each node's host sees its own peers). `producerClosed`,
   * `producerPaused` and `producerResumed` come after the link closed or
   * paused its pipe producer, so local consumers already follow.
   */
  applyRemote(change: RoomChange): void {
    if (this.closed) return;
    const everyone = [...this.peers.keys()];
    switch (change.type) {
      case 'peerJoined':
        if (!this.peers.has(change.info.peerId)) this.notify(everyone, 'peerJoined', change.info);
        return;
      case 'peerLeft':
        if (!this.peers.has(change.peerId)) this.notify(everyone, 'peerLeft', { peerId: change.peerId, reason: change.reason });
        return;
      case 'producerAdded':
        this.notify(everyone, 'newProducer', change.info);
        return;
      case 'producerClosed':
        this.notify(everyone, 'producerClosed', { producerId: change.producerId, peerId: change.peerId });
        return;
      case 'producerPaused':
      case 'producerResumed':
        this.notify(everyone, change.type, { producerId: change.info.producerId });
        return;
      case 'gesture':
        this.notifyLecturers(change.event);
        return;
      case 'caption':
        this.notify(everyone, 'caption', change.data);
        return;
      case 'handRaised':
        this.hands.insert(change.entry);
        return;
      case 'handLowered':
        this.hands.lower(change.peerId);
        return;
      case 'handsCleared':
        this.hands.clear();
        return;
      case 'peerBanned': {
        const seconds = change.until === undefined ? undefined : (Date.parse(change.until) - Date.now()) / 1000;
        if (seconds === undefined || seconds > 0) this.deps.bans.ban(this.id, change.peerId, seconds);
        return;
      }
      case 'roomEnded':
        this.close(change.reason);
        return;
    }
  }

  // ---------------------------------------------------------------- internals

  private removePeer(peer: Peer, reason: LeaveReason): void {
    if (peer.closed) return;
    // Out of the room first: its transports' closing must not count it on its router.
    this.peers.delete(peer.id);
    peer.close(); // its transports close, and with them its producers and consumers
    for (const entry of [...peer.producers.values()]) this.media.forgetProducer(entry);
    const event = { peerId: peer.id, reason };
    this.notify([...this.peers.keys()], 'peerLeft', event);
    this.safeEmit('peerLeft', event);
    this.link?.publish({ type: 'peerLeft', ...event });
    this.lower(peer.id);
  }

  private onShardLost(shard: RouterShard): void {
    const lost = [...this.peers.values()].filter((p) => p.shard === shard);
    this.safeEmit('routerLost', { routerId: shard.router.id, workerPid: shard.slot.worker.pid, peerIds: lost.map((p) => p.id) });
    // Many peers can go at once: the hand queue is announced once, after all of them.
    this.hands.batch(() => {
      for (const peer of lost) {
        this.notify([peer.id], 'reconnectRequired', { reason: 'worker-died' });
        this.removePeer(peer, 'worker-died');
      }
    });
  }

  private onDominantSpeaker(producerId: string): void {
    this.observedSpeaker = producerId;
    const entry = this.media.producers.get(producerId);
    if (!entry || this.lastSpeaker === producerId) return;
    if (entry.producer.paused) {
      // mediasoup names a router's only audio producer dominant at once, even
      // while paused (a student who joined muted, alone on a shard), and says it
      // only once: a muted peer is announced when it unmutes, if still named.
      entry.producer.observer.once('resume', () => {
        if (this.observedSpeaker === producerId) this.onDominantSpeaker(producerId);
      });
      return;
    }
    this.lastSpeaker = producerId;
    const event = { peerId: entry.peer.id, producerId };
    this.notify([...this.peers.keys()], 'activeSpeaker', event);
    this.safeEmit('activeSpeaker', event);
  }

  private peer(peerId: string): Peer {
    this.assertOpen();
    return lookup(this.peers, peerId, 'peer (join first)');
  }

  broadcast<N extends RoomBroadcastName>(name: N, data: NotificationMap[N]): void {
    if (this.closed) return;
    this.notify([...this.peers.keys()], name, data);
    this.link?.publish({ type: name, data });
  }

  private raise(peer: Peer, source: HandQueueEntry['source']): void {
    if (this.hands.entry(peer.id)) return;
    this.hands.raise(peer.info, source);
    const entry = this.hands.entry(peer.id);
    if (entry) this.link?.publish({ type: 'handRaised', entry });
  }

  /** Lowers a hand here and on the room's other nodes; false if it was not raised. */
  private lower(peerId: string): boolean {
    if (!this.hands.lower(peerId)) return false;
    this.link?.publish({ type: 'handLowered', peerId });
    return true;
  }

  private notifyLecturers(event: NotificationMap['gesture']): void {
    const lecturers = [...this.peers.values()].filter((p) => p.info.role === 'lecturer' && p.id !== event.peerId).map((p) => p.id);
    if (lecturers.length > 0) this.notify(lecturers, 'gesture', event);
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
}

