import type { types } from 'mediasoup';
import type { MediaSource, NotificationMap, NotificationName, ParsedRequest, PeerRole, ProducerInfo, ResponseMap } from '@lectern/protocol';
import { ErrorCode, forbidden, invalidState, LecternError, notFound } from '../errors.js';
import type { MediasoupCall } from './mediasoup-call.js';
import type { RoomLink } from './room-link.js';
import { lookup, type Peer, type PeerTransport, type ProducerEntry } from './peer.js';
import { openServerConsumer, producerWatch, type ProducerWatch, type ServerConsumer, type ServerConsumerOptions } from './server-consumer.js';
import type { RouterShard, ShardSet } from './shard-set.js';
import type { RoomDeps, RoomOptions } from './types.js';

/** What the media requests need of their room. */
export interface RoomMediaContext {
  readonly roomId: string;
  readonly options: RoomOptions;
  readonly deps: RoomDeps;
  readonly call: MediasoupCall;
  readonly shards: ShardSet;
  /** The room has closed. */
  readonly closed: boolean;
  /** The room's part on other nodes (a cluster), if any: their producers can be consumed here. */
  readonly link: RoomLink | undefined;
  /** Addresses a notification to peers (the room fans it out to the host). */
  notify<N extends NotificationName>(to: string[], name: N, data: NotificationMap[N]): void;
  othersThan(peerId: string): string[];
  /** A producer is ready: the room tells the other peers and the host. */
  producerAdded(info: ProducerInfo): void;
  /** A producer is gone: the room tells the other peers and the host. */
  producerClosed(event: { producerId: string; peerId: string }): void;
  /** A producer was paused or resumed (`info.paused`): the room tells the other peers. */
  producerPausedChanged(info: ProducerInfo): void;
}

/**
 * The media of a room: every transport, producer and consumer request of its
 * peers (the room has already found the peer and checked it is open), the
 * room's producer registry, and the server-side consumers the room owns. Who
 * may send what is decided here, from the room's `studentMedia` policy.
 */
export class RoomMedia {
  /** Every producer of the room, by id. */
  readonly producers = new Map<string, ProducerEntry>();
  readonly serverConsumers = new Set<ServerConsumer>();

  constructor(private readonly ctx: RoomMediaContext) {}

  /** Producers in the room, as peers see them. */
  producerInfos(): ProducerInfo[] {
    return [...this.producers.values()].map((e) => producerInfo(e));
  }

  // ---------------------------------------------------------------- requests: transports

  async createWebRtcTransport(peer: Peer, data: ParsedRequest<'createWebRtcTransport'>): Promise<ResponseMap['createWebRtcTransport']> {
    this.assertTransportBudget(peer);
    if (data.direction === 'send' && !this.mayProduceAnything(peer.info.role)) {
      throw forbidden(`${peer.info.role}s may not send media in this room`);
    }
    const transport = await this.placeTransport(
      peer,
      'createWebRtcTransport',
      async (shard) => {
        const { listenInfos, initialAvailableOutgoingBitrate, iceConsentTimeoutSeconds } = this.ctx.deps.transport;
        const webRtcServer = shard.slot.webRtcServer;
        const appData = { peerId: peer.id, direction: data.direction };
        const tcpOnly = data.forceTcp === true;
        const common = {
          enableUdp: !tcpOnly,
          enableTcp: true,
          preferUdp: !tcpOnly,
          initialAvailableOutgoingBitrate,
          iceConsentTimeout: iceConsentTimeoutSeconds,
          appData,
        };
        const tcpListenInfos = tcpOnly ? listenInfos.filter((l) => l.protocol === 'tcp') : listenInfos;
        if (!webRtcServer && tcpListenInfos.length === 0) {
          throw new LecternError(ErrorCode.INVALID_REQUEST, 'forceTcp requested but the server listens on no TCP address');
        }
        const options = webRtcServer ? { ...common, webRtcServer } : { ...common, listenInfos: tcpListenInfos };
        return shard.router.createWebRtcTransport(options);
      },
      (t) => ({ kind: 'webrtc', transport: t, direction: data.direction }),
    );
    if (this.ctx.deps.transport.maxIncomingBitrate > 0 && data.direction === 'send') {
      await this.ctx.call(transport.setMaxIncomingBitrate(this.ctx.deps.transport.maxIncomingBitrate), 'setMaxIncomingBitrate').catch(() => undefined);
    }
    return {
      transportId: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  /** DTLS: WebRTC transports only (a plain transport's id is INVALID_REQUEST; use `connectPlainTransport`). */
  async connectTransport(peer: Peer, data: ParsedRequest<'connectTransport'>): Promise<ResponseMap['connectTransport']> {
    const transport = peer.webRtcTransport(data.transportId, 'connectTransport');
    // dtlsState stays 'new' until the handshake runs, so connect() is tracked itself.
    if (transport.appData.connectCalled === true) throw invalidState(`transport ${transport.id} is already connected`);
    transport.appData.connectCalled = true;
    try {
      await this.ctx.call(transport.connect({ dtlsParameters: data.dtlsParameters as types.DtlsParameters }), 'connectTransport');
    } catch (error) {
      if (!(error instanceof LecternError && error.code === ErrorCode.TIMEOUT)) transport.appData.connectCalled = false;
      throw error;
    }
    return {};
  }

  /** WebRTC transports only (a plain transport's id is INVALID_REQUEST). */
  async restartIce(peer: Peer, data: ParsedRequest<'restartIce'>): Promise<ResponseMap['restartIce']> {
    const transport = peer.webRtcTransport(data.transportId, 'restartIce');
    const iceParameters = await this.ctx.call(transport.restartIce(), 'restartIce');
    return { iceParameters };
  }

  /**
   * A PlainTransport for a server-side peer (host-enabled: the manager refuses
   * the method unless `plainTransport.enabled`). Placed like a WebRTC transport:
   * same router placement, per-peer transport limit and router transport count.
   * It both sends and receives: `produce` and `consume` accept its id.
   */
  async createPlainTransport(peer: Peer, data: ParsedRequest<'createPlainTransport'>): Promise<ResponseMap['createPlainTransport']> {
    this.assertTransportBudget(peer);
    const enableSrtp = data.enableSrtp ?? false;
    const transport = await this.placeTransport(
      peer,
      'createPlainTransport',
      (shard) =>
        shard.router.createPlainTransport({
          listenInfo: this.ctx.deps.plainTransport.listenInfo,
          comedia: data.comedia ?? false,
          rtcpMux: data.rtcpMux ?? true,
          enableSrtp,
          srtpCryptoSuite: data.srtpCryptoSuite ?? 'AES_CM_128_HMAC_SHA1_80',
          appData: { ...data.appData, peerId: peer.id },
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
  async connectPlainTransport(peer: Peer, data: ParsedRequest<'connectPlainTransport'>): Promise<ResponseMap['connectPlainTransport']> {
    const entry = peer.plainTransport(data.transportId);
    if (entry.connectCalled) throw invalidState(`transport ${entry.transport.id} is already connected`);
    entry.connectCalled = true;
    try {
      await this.ctx.call(
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

  // ---------------------------------------------------------------- requests: producers

  async produce(peer: Peer, data: ParsedRequest<'produce'>): Promise<ResponseMap['produce']> {
    // A plain transport both sends and receives; a WebRTC one must be a send transport.
    const use = peer.transport(data.transportId);
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
    if (peer.isProducing(data.source)) throw invalidState(`already producing ${data.source}; close that producer first`);
    const appData = data.appData ?? {};
    const producer = await this.ctx.call(
      use.transport.produce({
        kind: data.kind,
        rtpParameters: data.rtpParameters as types.RtpParameters,
        paused: data.paused ?? false,
        appData: { ...appData, peerId: peer.id, source: data.source },
      }),
      'produce',
      (p) => p.close(),
    );
    if (peer.closed || this.ctx.closed) {
      producer.close();
      throw new LecternError(ErrorCode.CLOSED, 'peer left while producing');
    }
    const shard = peer.shard!;
    const entry: ProducerEntry = { producer, peer, shard, source: data.source, appData };
    peer.producers.set(producer.id, entry);
    this.producers.set(producer.id, entry);
    producer.observer.once('close', () => this.forgetProducer(entry));
    if (producer.kind === 'audio') await this.ctx.shards.observeAudio(shard, producer.id);
    const info = producerInfo(entry);
    this.ctx.producerAdded(info);
    return { producerId: producer.id };
  }

  /** Any producer of the room (the admin API acts on other peers' producers). */
  producer(producerId: string): ProducerEntry {
    return lookup(this.producers, producerId, 'producer');
  }

  /** A host or lecturer pauses a peer's producer: the others hear `producerPaused` unless it was paused already. */
  async pauseForHost(entry: ProducerEntry): Promise<void> {
    if (entry.producer.paused) return;
    await this.ctx.call(entry.producer.pause(), 'pauseProducer');
    this.ctx.producerPausedChanged(producerInfo(entry));
  }

  async closeProducer(peer: Peer, data: ParsedRequest<'closeProducer'>): Promise<ResponseMap['closeProducer']> {
    peer.producer(data.producerId).producer.close();
    return {};
  }

  async pauseProducer(peer: Peer, data: ParsedRequest<'pauseProducer'>): Promise<ResponseMap['pauseProducer']> {
    const entry = peer.producer(data.producerId);
    await this.ctx.call(entry.producer.pause(), 'pauseProducer');
    this.ctx.producerPausedChanged(producerInfo(entry));
    return {};
  }

  async resumeProducer(peer: Peer, data: ParsedRequest<'resumeProducer'>): Promise<ResponseMap['resumeProducer']> {
    const entry = peer.producer(data.producerId);
    await this.ctx.call(entry.producer.resume(), 'resumeProducer');
    this.ctx.producerPausedChanged(producerInfo(entry));
    return {};
  }

  // ---------------------------------------------------------------- requests: consumers

  /**
   * Consumes a producer of the room: this node's, or another node's (a cluster:
   * the link brings it here, one pipe per producer and node, then it is
   * consumed like a local one).
   */
  async consume(peer: Peer, data: ParsedRequest<'consume'>): Promise<ResponseMap['consume']> {
    const local = this.producers.get(data.producerId);
    const link = local ? undefined : this.ctx.link;
    const info = local ? producerInfo(local) : link?.remoteProducer(data.producerId);
    if (!info) throw notFound('producer', data.producerId);
    if (local?.peer === peer) throw new LecternError(ErrorCode.INVALID_REQUEST, 'a peer cannot consume its own producer');
    // Without a transport id: the peer's first WebRTC recv transport (plain peers name theirs).
    const use = data.transportId ? peer.transport(data.transportId) : peer.defaultRecvTransport();
    if (!use) throw invalidState('create a recv transport before consuming');
    if (use.kind === 'webrtc' && use.direction !== 'recv') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, 'consume needs a transport created with direction "recv"');
    }
    // Idempotent: a client that asks twice (auto-subscribe racing a manual
    // subscribe) gets the same consumer, never a duplicate stream.
    const existing = peer.consumerOf(info.producerId);
    if (existing) return consumeReply(existing, info);
    if (peer.consumers.size >= this.ctx.deps.limits.maxConsumersPerPeer) {
      throw forbidden(`a peer may hold at most ${this.ctx.deps.limits.maxConsumersPerPeer} consumers`);
    }
    const origin = local ? local.shard : (await link!.acquire(info.producerId)).shard;
    // Same codecs on every router, so the origin router can answer before any pipe is made.
    if (!origin.router.canConsume({ producerId: info.producerId, rtpCapabilities: peer.rtpCapabilities })) {
      throw new LecternError(ErrorCode.INCOMPATIBLE_CAPABILITIES, "the peer's RTP capabilities cannot receive this producer");
    }
    await this.ctx.shards.ensurePiped(info.producerId, origin, peer.shard!);
    const consumer = await this.ctx.call(
      use.transport.consume({
        producerId: info.producerId,
        rtpCapabilities: peer.rtpCapabilities,
        paused: true, // the client resumes once its consumer is set up: no lost keyframe
        appData: { peerId: peer.id, producerPeerId: info.peerId, source: info.source },
      }),
      'consume',
      (c) => c.close(),
    );
    if (peer.closed || this.ctx.closed) {
      consumer.close();
      throw new LecternError(ErrorCode.CLOSED, 'peer left while consuming');
    }
    peer.consumers.set(consumer.id, consumer);
    link?.consumerOpened(info.producerId, consumer.id, peer.id);
    consumer.observer.once('close', () => {
      peer.consumers.delete(consumer.id);
      link?.consumerClosed(info.producerId, consumer.id);
    });
    this.relayConsumerEvents(peer.id, consumer);
    return consumeReply(consumer, info);
  }

  async pauseConsumer(peer: Peer, data: ParsedRequest<'pauseConsumer'>): Promise<ResponseMap['pauseConsumer']> {
    await this.ctx.call(peer.consumer(data.consumerId).pause(), 'pauseConsumer');
    return {};
  }

  async resumeConsumer(peer: Peer, data: ParsedRequest<'resumeConsumer'>): Promise<ResponseMap['resumeConsumer']> {
    await this.ctx.call(peer.consumer(data.consumerId).resume(), 'resumeConsumer');
    return {};
  }

  async setConsumerPreferredLayers(
    peer: Peer,
    data: ParsedRequest<'setConsumerPreferredLayers'>,
  ): Promise<ResponseMap['setConsumerPreferredLayers']> {
    const consumer = peer.consumer(data.consumerId);
    if (consumer.kind !== 'video') throw new LecternError(ErrorCode.INVALID_REQUEST, 'preferred layers apply to video consumers');
    await this.ctx.call(
      consumer.setPreferredLayers({
        spatialLayer: data.spatialLayer,
        ...(data.temporalLayer !== undefined ? { temporalLayer: data.temporalLayer } : {}),
      }),
      'setConsumerPreferredLayers',
    );
    return {};
  }

  // ---------------------------------------------------------------- server-side consumers (the room owns them)

  watchProducer(producerId: string): ProducerWatch | undefined {
    const entry = this.producers.get(producerId);
    if (!entry || entry.producer.closed) return undefined;
    return producerWatch(entry.producer);
  }

  async createServerConsumer(producerId: string, options: ServerConsumerOptions): Promise<ServerConsumer> {
    const entry = lookup(this.producers, producerId, 'producer');
    const serverConsumer = await openServerConsumer(entry.shard.router, producerId, options, this.ctx.call);
    if (this.ctx.closed) {
      serverConsumer.close();
      throw new LecternError(ErrorCode.CLOSED, `room ${this.ctx.roomId} closed`);
    }
    this.serverConsumers.add(serverConsumer);
    serverConsumer.onClose(() => this.serverConsumers.delete(serverConsumer));
    return serverConsumer;
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
    const shard = await this.ctx.shards.reserve(peer);
    let transport: T;
    try {
      transport = await this.ctx.call(create(shard), what, (t) => t.close());
    } catch (error) {
      this.ctx.shards.release(peer, shard);
      throw error;
    } finally {
      this.ctx.shards.created(shard);
    }
    if (peer.closed || this.ctx.closed) {
      transport.close();
      this.ctx.shards.release(peer, shard);
      throw new LecternError(ErrorCode.CLOSED, 'peer left while its transport was being created');
    }
    const id = transport.id;
    peer.transports.set(id, toEntry(transport));
    const observer: types.Transport['observer'] = transport.observer;
    observer.once('close', () => {
      peer.transports.delete(id);
      this.ctx.shards.release(peer, shard);
    });
    return transport;
  }

  /** Tells the consuming peer what happens to its consumer's producer. */
  private relayConsumerEvents(peerId: string, consumer: types.Consumer): void {
    const to = [peerId];
    // mediasoup also emits observer 'close' on producerclose, which forgets the consumer.
    consumer.on('producerclose', () => this.ctx.notify(to, 'consumerClosed', { consumerId: consumer.id, producerId: consumer.producerId }));
    consumer.on('producerpause', () => this.ctx.notify(to, 'consumerPaused', { consumerId: consumer.id }));
    consumer.on('producerresume', () => this.ctx.notify(to, 'consumerResumed', { consumerId: consumer.id }));
    consumer.on('layerschange', (layers) =>
      this.ctx.notify(to, 'consumerLayersChanged', {
        consumerId: consumer.id,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
  }

  /** Forgets a closed producer (once) and tells the other peers. */
  forgetProducer(entry: ProducerEntry): void {
    const id = entry.producer.id;
    if (!this.producers.delete(id)) return;
    entry.peer.producers.delete(id);
    this.ctx.shards.forgetProducer(id);
    this.ctx.producerClosed({ producerId: id, peerId: entry.peer.id });
  }

  private mayProduce(role: PeerRole, source: MediaSource): boolean {
    if (role === 'lecturer') return true;
    switch (this.ctx.options.studentMedia) {
      case 'off':
        return false;
      case 'audio':
        return source === 'microphone';
      case 'all':
        return true;
    }
  }

  private mayProduceAnything(role: PeerRole): boolean {
    return role === 'lecturer' || this.ctx.options.studentMedia !== 'off';
  }

  private assertTransportBudget(peer: Peer): void {
    if (peer.transports.size >= this.ctx.deps.limits.maxTransportsPerPeer) {
      throw forbidden(`a peer may hold at most ${this.ctx.deps.limits.maxTransportsPerPeer} transports`);
    }
  }
}

function producerInfo(entry: ProducerEntry): ProducerInfo {
  return {
    producerId: entry.producer.id,
    peerId: entry.peer.id,
    kind: entry.producer.kind,
    source: entry.source,
    paused: entry.producer.paused,
    appData: entry.appData,
  };
}

/** The `consume` reply, from what peers see of the producer (its entry here, or another node's info). */
function consumeReply(consumer: types.Consumer, info: ProducerInfo): ResponseMap['consume'] {
  return {
    consumerId: consumer.id,
    producerId: consumer.producerId,
    peerId: info.peerId,
    kind: consumer.kind,
    source: info.source,
    rtpParameters: consumer.rtpParameters,
    type: consumer.type,
    producerPaused: consumer.producerPaused,
    appData: info.appData,
  };
}
