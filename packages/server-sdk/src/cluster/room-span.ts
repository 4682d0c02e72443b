import type { types } from 'mediasoup';
import type { HandQueueEntry, PeerDetails, PeerInfo, ProducerInfo } from '@lectern/protocol';
import { ErrorCode, LecternError, notFound } from '../errors.js';
import type { MediasoupCall } from '../rooms/mediasoup-call.js';
import type { Room } from '../rooms/room.js';
import type { PipedProducer, RemoteAdminAction, RoomChange, RoomLink } from '../rooms/room-link.js';
import type { RouterShard } from '../rooms/shard-set.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { ClusterKeys } from './keys.js';
import type { NodeBus } from './node-bus.js';
import type { ClusterConnection } from './redis-connection.js';
import { ROOM_LEAVE, ROOM_READ, ROOM_WRITE } from './scripts.js';
import { memberSchemas, memberValueSchema, roomFrameSchema, type NodeRequestMethod, type NodeRequestParams, type NodeRequestResult, type RoomFrame } from './wire.js';

/** What a {@link RoomSpan} needs of its MediaNode. */
export interface SpanContext {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly keys: ClusterKeys;
  readonly connection: ClusterConnection;
  readonly bus: NodeBus;
  readonly keyTtlMs: number;
  readonly pipeListenInfo: types.TransportListenInfo;
  readonly idlePipeCloseMs: number;
  /** How long a join waits for the room's shared state before it goes on without it. */
  readonly readyTimeoutMs: number;
  /** How long a member may be missing from the shared state before it counts as gone (the nodes' time to write their part again). */
  readonly resyncGraceMs: number;
  readonly call: MediasoupCall;
  request<M extends NodeRequestMethod>(nodeId: string, method: M, params: NodeRequestParams<M>): Promise<NodeRequestResult<M>>;
  report(op: string, error: unknown): void;
  /** The span is done (its room closed, or the node left the cluster). */
  closed(span: RoomSpan): void;
}

/** Something of the room that lives on another node. */
interface Member<T> {
  readonly nodeId: string;
  readonly incarnation: string;
  value: T;
}

/** This node's end of a pipe pair from another node (this node receives). */
interface Ingress {
  readonly transport: types.PipeTransport;
  readonly shard: RouterShard;
  readonly nodeId: string;
  /** The other end's transport id. */
  readonly egressId: string;
}

/** This node's end of a pipe pair to another node (this node sends). */
interface Egress {
  readonly transport: types.PipeTransport;
  readonly shard: RouterShard;
  readonly nodeId: string;
  readonly ingressId: string;
  readonly reply: NodeRequestResult<'pipeOpen'>;
  /** One pipe consumer per producer sent over this pair. */
  readonly consumers: Map<string, Promise<types.Consumer>>;
}

type Field = { op: 'set' | 'del' | 'delown' | 'delprefix' | 'delmine'; field: string; value?: string };

/**
 * One room's part in a cluster, on this node: the {@link RoomLink} the room
 * sees. It
 * - shares the node's own peers, producers and raised hands in Redis (a hash
 *   per room) and announces every change on the room's channel;
 * - keeps the other nodes' members from that hash and channel, and turns their
 *   changes into notifications for this node's peers (`Room.applyRemote`);
 * - brings other nodes' producers here over PipeTransport pairs (SRTP, RTX):
 *   one pair per room and node direction, one pipe per producer and node, made
 *   on first use and closed after `idlePipeCloseMs` without a local consumer;
 * - serves the other end of those pairs for this node's producers.
 * Its transports live on the room's first router, so the room closing closes them.
 */
export class RoomSpan implements RoomLink {
  readonly ready: Promise<void>;
  readonly roomId: string;
  readonly #peers = new Map<string, Member<PeerInfo>>();
  readonly #producers = new Map<string, Member<ProducerInfo>>();
  /** Remote producers brought here, by producer id. */
  readonly #pipes = new Map<string, Promise<PipedProducer>>();
  /**
   * Local consumers of each remote producer (by consumer id, with their peers:
   * whom to tell if the pipe is lost under them), and the timer that closes an
   * unused pipe.
   */
  readonly #use = new Map<string, { consumers: Map<string, string>; idle: NodeJS.Timeout | undefined }>();
  readonly #ingress = new Map<string, Promise<Ingress>>();
  /** Lost pipes whose consumers are still closing: their producer is announced again after the last. */
  readonly #reannounce = new Map<string, { remaining: Set<string>; announce: () => void }>();
  readonly #egress = new Map<string, Egress>();
  /** Writes go out in the order the room made its changes. */
  readonly #writes = new SerialQueue();
  /** Reads of the shared state, one at a time. */
  readonly #syncs = new SerialQueue();
  /** Remote members the shared state lacked at a read (`r:<id>`, `p:<id>`), since when. */
  readonly #missing = new Map<string, number>();
  #confirmTimer: NodeJS.Timeout | undefined;
  #subscribed = false;
  /** Bans this node made (they are written again with its part). */
  readonly #bans = new Map<string, string | undefined>();
  /** Frames that arrive while the shared state is being read are applied after it. */
  #buffered: RoomFrame[] | undefined = [];
  #closed = false;
  /**
   * A write or a read of the shared state failed: the MediaNode's next resync
   * tick (once Redis answers) writes this node's part again and re-reads the
   * others' — the frames buffered meanwhile are applied after it.
   */
  #needsSync = false;

  constructor(
    private readonly room: Room,
    private readonly ctx: SpanContext,
  ) {
    this.roomId = room.id;
    const synced = this.#start();
    // A join waits for the other nodes' state, but not for ever: without Redis the
    // room serves its local peers and catches up on the next resync.
    this.ready = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ctx.readyTimeoutMs);
      timer.unref();
      void synced.finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // ---------------------------------------------------------------- RoomLink: what the room sees

  remotePeers(): PeerInfo[] {
    return [...this.#peers.values()].map((m) => m.value);
  }

  remoteProducers(): ProducerInfo[] {
    return [...this.#producers.values()].map((m) => m.value);
  }

  remoteProducer(producerId: string): ProducerInfo | undefined {
    return this.#producers.get(producerId)?.value;
  }

  async remotePeerDetails(): Promise<PeerDetails[]> {
    const nodes = new Set([...this.#peers.values()].map((m) => m.nodeId));
    const answers = await Promise.all(
      [...nodes].map((nodeId) =>
        this.ctx.request(nodeId, 'peerDetails', { roomId: this.roomId }).then(
          (reply) => reply.peers as PeerDetails[],
          (error: unknown) => {
            this.ctx.report('peerDetails', error);
            return [];
          },
        ),
      ),
    );
    return answers.flat();
  }

  hasRemotePeer(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  async forwardAdmin(action: RemoteAdminAction): Promise<void> {
    const holder = action.type === 'expel' ? this.#peers.get(action.peerId) : this.#producers.get(action.producerId);
    if (!holder) throw notFound(action.type === 'expel' ? 'peer' : 'producer', action.type === 'expel' ? action.peerId : action.producerId);
    await this.ctx.request(holder.nodeId, 'roomAdmin', { roomId: this.roomId, action });
  }

  acquire(producerId: string): Promise<PipedProducer> {
    let pipe = this.#pipes.get(producerId);
    if (!pipe) {
      const member = this.#producers.get(producerId);
      if (!member) return Promise.reject(notFound('producer', producerId));
      const made = this.#openPipe(member).catch(async (error: unknown) => {
        // The other node replaced its end of the pair (it restarted it): one more try on a new pair.
        if (error instanceof LecternError && error.code === ErrorCode.NOT_FOUND && error.details?.what === 'pipe pair') {
          await this.#closeIngress(member.nodeId);
          return this.#openPipe(member);
        }
        throw error;
      });
      pipe = made;
      this.#pipes.set(producerId, made);
      made.then(
        ({ producer }) => {
          producer.observer.once('close', () => this.#pipeClosed(producerId, made));
          if (this.#closed || !this.#producers.has(producerId)) producer.close();
        },
        () => {
          if (this.#pipes.get(producerId) === made) this.#pipes.delete(producerId);
        },
      );
    }
    return pipe;
  }

  consumerOpened(producerId: string, consumerId: string, peerId: string): void {
    const use = this.#use.get(producerId) ?? { consumers: new Map<string, string>(), idle: undefined };
    use.consumers.set(consumerId, peerId);
    clearTimeout(use.idle);
    use.idle = undefined;
    this.#use.set(producerId, use);
  }

  consumerClosed(producerId: string, consumerId: string): void {
    const pending = this.#reannounce.get(producerId);
    if (pending?.remaining.delete(consumerId) && pending.remaining.size === 0) {
      this.#reannounce.delete(producerId);
      pending.announce();
    }
    const use = this.#use.get(producerId);
    if (!use?.consumers.delete(consumerId) || use.consumers.size > 0 || this.#closed) return;
    clearTimeout(use.idle);
    use.idle = setTimeout(() => {
      use.idle = undefined;
      if (use.consumers.size === 0) void this.#closePipe(producerId);
    }, this.ctx.idlePipeCloseMs);
    use.idle.unref();
  }

  publish(change: RoomChange): void {
    if (this.#closed) return;
    if (change.type === 'peerBanned') this.#bans.set(change.peerId, change.until);
    this.#write(this.#fieldsOf(change), { from: this.ctx.nodeId, inc: this.ctx.incarnation, change });
  }

  /** The local room closed (or the node leaves the cluster): its entries go from Redis, the others hear it left. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.ctx.bus.leaveRoom(this.roomId);
    this.#clearTimers();
    for (const pipe of this.#pipes.values()) void pipe.then(({ producer }) => producer.close(), () => undefined);
    for (const ingress of this.#ingress.values()) void ingress.then((i) => i.transport.close(), () => undefined);
    for (const egress of [...this.#egress.values()]) this.#closeEgress(egress);
    this.#pipes.clear();
    this.#ingress.clear();
    this.#egress.clear();
    this.#peers.clear();
    this.#producers.clear();
    const { keys, incarnation } = this.ctx;
    const frame = JSON.stringify({ from: this.ctx.nodeId, inc: incarnation, left: true });
    const left = this.#writes
      .run(() => this.ctx.connection.run('leaveRoom', ROOM_LEAVE, [keys.members(this.roomId), keys.nodeMembers(incarnation)], [keys.roomChannel(this.roomId), incarnation, this.roomId, frame]))
      .then(
        () => undefined,
        (error: unknown) => this.ctx.report('leaveRoom', error),
      );
    this.ctx.closed(this);
    return left;
  }

  // ---------------------------------------------------------------- the other nodes

  /**
   * Frames may have been lost (the subscriber reconnected, Redis restarted, a
   * write failed): write this node's part again — replacing whatever of it the
   * hash still holds — tell the others to re-read, and read theirs.
   */
  resync(): void {
    this.#queueSync({ assert: true });
  }

  /**
   * A node incarnation is gone (dead, or restarted): its peers left
   * (`node-died`), its producers closed, the pipes with it close.
   */
  nodeGone(nodeId: string, incarnation: string): void {
    if (!this.#closed) this.#dropNode(nodeId, incarnation, 'node-died');
  }

  // ---------------------------------------------------------------- the origin's end of pipes (requests from other nodes)

  async pipeOpen(from: string, params: NodeRequestParams<'pipeOpen'>): Promise<NodeRequestResult<'pipeOpen'>> {
    this.#assertOpen();
    for (const egress of [...this.#egress.values()]) {
      if (egress.nodeId !== from) continue;
      if (egress.ingressId === params.ingressId) return egress.reply; // a retry of the same request
      this.#closeEgress(egress); // the other node made a new end: the old pair is done
    }
    const shard = await this.room.clusterShard();
    const transport = await this.#createPipeTransport(shard, 'egress', from);
    try {
      await this.ctx.call(transport.connect({ ip: params.ip, port: params.port, srtpParameters: params.srtpParameters as types.SrtpParameters }), 'connectPipeTransport');
    } catch (error) {
      transport.close();
      throw error;
    }
    this.#assertOpen(transport);
    const reply = { egressId: transport.id, ...tupleOf(transport) };
    const egress: Egress = { transport, shard, nodeId: from, ingressId: params.ingressId, reply, consumers: new Map() };
    this.#egress.set(transport.id, egress);
    transport.observer.once('close', () => {
      if (this.#egress.get(transport.id) !== egress) return; // closed on purpose
      // Lost under us (the router's worker died): the other end waits for media that no longer comes.
      this.#egress.delete(transport.id);
      this.#tellPipeLost(from, { egressId: transport.id });
    });
    return reply;
  }

  async pipeProducer(params: NodeRequestParams<'pipeProducer'>): Promise<NodeRequestResult<'pipeProducer'>> {
    this.#assertOpen();
    const egress = this.#egress.get(params.egressId);
    if (!egress) throw notFound('pipe pair', params.egressId);
    const entry = this.room.localProducer(params.producerId);
    if (!entry) throw notFound('producer', params.producerId);
    let made = egress.consumers.get(params.producerId);
    if (!made) {
      const pending = (async () => {
        await this.room.pipeBetweenRouters(params.producerId, entry.shard, egress.shard);
        const consumer = await this.ctx.call(egress.transport.consume({ producerId: params.producerId }), 'pipeConsume', (c) => c.close());
        consumer.observer.once('close', () => {
          if (egress.consumers.get(params.producerId) === pending) egress.consumers.delete(params.producerId);
        });
        return consumer;
      })();
      made = pending;
      egress.consumers.set(params.producerId, pending);
      pending.catch(() => {
        if (egress.consumers.get(params.producerId) === pending) egress.consumers.delete(params.producerId);
      });
    }
    const consumer = await made;
    return { kind: consumer.kind, rtpParameters: consumer.rtpParameters as NodeRequestResult<'pipeProducer'>['rtpParameters'], paused: consumer.producerPaused };
  }

  /** The other node lost its end of a pair: close ours (its pipes with it; members still here are announced again). */
  async pipeLost(from: string, params: NodeRequestParams<'pipeLost'>): Promise<NodeRequestResult<'pipeLost'>> {
    if (params.egressId !== undefined) {
      const ingress = await this.#ingress.get(from)?.catch(() => undefined);
      if (ingress?.egressId === params.egressId) await this.#closeIngress(from);
    }
    if (params.ingressId !== undefined) {
      for (const egress of [...this.#egress.values()]) if (egress.nodeId === from && egress.ingressId === params.ingressId) this.#closeEgress(egress);
    }
    return {};
  }

  async pipeRelease(params: NodeRequestParams<'pipeRelease'>): Promise<NodeRequestResult<'pipeRelease'>> {
    const made = this.#egress.get(params.egressId)?.consumers.get(params.producerId);
    if (made) (await made.catch(() => undefined))?.close();
    return {};
  }

  // ---------------------------------------------------------------- internals: shared state

  async #start(): Promise<void> {
    try {
      // A room linked with peers already in it (a MediaNode created late) announces them.
      await this.#syncs.run(() => this.#sync({ assert: this.room.peerCount > 0 }));
    } catch (error) {
      this.#needsSync = true;
      this.ctx.report('joinRoom', error);
    }
  }

  /** One sync at a time; frames that arrive meanwhile wait for it. */
  #queueSync(options: { assert: boolean }): void {
    if (this.#closed) return;
    this.#buffered ??= [];
    void this.#syncs.run(() => this.#sync(options)).catch((error: unknown) => {
      this.#needsSync = true;
      this.ctx.report('resync', error);
    });
  }

  /**
   * Optionally re-asserts this node's part (atomically replacing its old entries,
   * then announcing it so the others re-read), reads the others', and applies
   * the difference, then the frames that came meanwhile. What the others have
   * and the hash lacks is dropped only when it is still missing `resyncGraceMs`
   * later: after Redis lost its data every node writes its part again within
   * that time, and media (node to node) must not stop for it.
   */
  async #sync(options: { assert: boolean }): Promise<void> {
    this.#buffered ??= [];
    const { keys } = this.ctx;
    if (!this.#subscribed) {
      // Subscribed before anything is read: nothing published after the read is missed.
      await this.ctx.bus.joinRoom(this.roomId, (frame) => this.#receive(frame));
      this.#subscribed = true;
    }
    if (options.assert) {
      const mine = this.room.localState();
      const fields: Field[] = [
        { op: 'delmine', field: '' },
        ...mine.peers.map((info) => this.#set('p', info.peerId, info)),
        ...mine.producers.map((info) => this.#set('r', info.producerId, info)),
        ...mine.hands.map((entry) => this.#set('h', entry.peerId, entry)),
        ...[...this.#bans].flatMap(([peerId, until]) => this.#fieldsOf({ type: 'peerBanned', peerId, ...(until ? { until } : {}) })),
      ];
      const announce = JSON.stringify({ from: this.ctx.nodeId, inc: this.ctx.incarnation, resync: true });
      this.#needsSync = false;
      await this.#writes.run(() => this.#runWrite(fields, announce));
    }
    const flat = (await this.ctx.connection.run('readRoom', ROOM_READ, [keys.members(this.roomId)], [])) as string[];
    if (this.#closed) return;
    const peers = new Map<string, Member<PeerInfo>>();
    const producers = new Map<string, Member<ProducerInfo>>();
    const hands = new Map<string, HandQueueEntry>();
    const bans: Array<{ peerId: string; until?: string }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const parsed = parseMember(flat[i]!, flat[i + 1]!);
      if (!parsed || parsed.member.incarnation === this.ctx.incarnation) continue;
      if (parsed.kind === 'p') peers.set(parsed.id, parsed.member as Member<PeerInfo>);
      else if (parsed.kind === 'r') producers.set(parsed.id, parsed.member as Member<ProducerInfo>);
      else if (parsed.kind === 'h') hands.set(parsed.id, parsed.member.value as HandQueueEntry);
      else bans.push({ peerId: parsed.id, ...(parsed.member.value as { until?: string }) });
    }
    const now = performance.now();
    let pending = false;
    /** True when `key` has been missing for the grace period (marks it missing otherwise). */
    const gone = (key: string): boolean => {
      const since = this.#missing.get(key);
      if (since === undefined) this.#missing.set(key, now);
      if (since !== undefined && now - since >= this.ctx.resyncGraceMs) {
        this.#missing.delete(key);
        return true;
      }
      pending = true;
      return false;
    };
    for (const key of [...this.#missing.keys()]) {
      if ((key.startsWith('r:') && producers.has(key.slice(2))) || (key.startsWith('p:') && peers.has(key.slice(2)))) this.#missing.delete(key);
    }
    for (const id of [...this.#producers.keys()]) if (!producers.has(id) && gone(`r:${id}`)) this.#dropProducer(id);
    for (const id of [...this.#peers.keys()]) if (!peers.has(id) && gone(`p:${id}`)) this.#dropPeer(id, 'left');
    if (pending && !this.#confirmTimer) {
      // Look again once the grace is over: whatever is still missing then is gone.
      this.#confirmTimer = setTimeout(() => {
        this.#confirmTimer = undefined;
        this.#queueSync({ assert: false });
      }, this.ctx.resyncGraceMs);
      this.#confirmTimer.unref();
    }
    for (const [id, member] of peers) if (!this.#peers.has(id)) this.#remotePeerJoined(member);
    for (const [id, member] of producers) {
      const known = this.#producers.get(id);
      if (!known) {
        this.#producers.set(id, member);
        this.room.applyRemote({ type: 'producerAdded', info: member.value });
      } else if (known.value.paused !== member.value.paused) {
        this.#producerPausedChanged(member.value);
      }
    }
    for (const entry of this.room.handQueueSnapshot()) {
      // A remote hand the hash no longer has was lowered while frames were lost (unless its peer is only missing for now).
      if (!this.room.hasPeer(entry.peerId) && !hands.has(entry.peerId) && peers.has(entry.peerId)) this.room.applyRemote({ type: 'handLowered', peerId: entry.peerId });
    }
    for (const entry of hands.values()) this.room.applyRemote({ type: 'handRaised', entry });
    for (const ban of bans) this.room.applyRemote({ type: 'peerBanned', ...ban });
    const buffered = this.#buffered ?? [];
    this.#buffered = undefined;
    for (const frame of buffered) this.#apply(frame);
  }

  #receive(raw: unknown): void {
    if (this.#closed) return;
    const parsed = roomFrameSchema.safeParse(raw);
    if (!parsed.success) {
      this.ctx.report('roomFrame', new LecternError(ErrorCode.INVALID_REQUEST, `dropped a bad frame in room ${this.roomId}`));
      return;
    }
    const frame = parsed.data as RoomFrame;
    if (frame.inc === this.ctx.incarnation) return; // our own
    if (frame.resync) {
      // Another node wrote its part again (frames of it may have been lost): read it.
      this.#queueSync({ assert: false });
      return;
    }
    if (this.#buffered) this.#buffered.push(frame);
    else this.#apply(frame);
  }

  #apply(frame: RoomFrame): void {
    if (this.#closed) return;
    if (frame.left) {
      this.#dropNode(frame.from, frame.inc, 'left');
      return;
    }
    const change = frame.change;
    if (!change) return;
    const from = { nodeId: frame.from, incarnation: frame.inc };
    switch (change.type) {
      case 'peerJoined':
        this.#remotePeerJoined({ ...from, value: change.info });
        return;
      case 'peerLeft': {
        // Only the node that holds the peer now speaks for it: a peer that moved stays.
        if (this.#peers.get(change.peerId)?.incarnation !== frame.inc) return;
        this.#peers.delete(change.peerId);
        this.room.applyRemote(change);
        return;
      }
      case 'producerAdded':
        if (this.#producers.has(change.info.producerId)) return;
        this.#producers.set(change.info.producerId, { ...from, value: change.info });
        this.room.applyRemote(change);
        return;
      case 'producerClosed':
        this.#dropProducer(change.producerId);
        return;
      case 'producerPaused':
      case 'producerResumed':
        this.#producerPausedChanged(change.info);
        return;
      default:
        this.room.applyRemote(change);
    }
  }

  #remotePeerJoined(member: Member<PeerInfo>): void {
    const peerId = member.value.peerId;
    // The same identity joined on another node: its session here ends.
    if (this.room.hasPeer(peerId)) this.room.replacedElsewhere(peerId);
    const known = this.#peers.has(peerId);
    this.#peers.set(peerId, member);
    if (!known) this.room.applyRemote({ type: 'peerJoined', info: member.value });
  }

  #producerPausedChanged(info: ProducerInfo): void {
    const member = this.#producers.get(info.producerId);
    if (!member || member.value.paused === info.paused) return;
    member.value = info;
    const pipe = this.#pipes.get(info.producerId);
    const apply = pipe
      ? pipe.then(({ producer }) => (this.#producers.get(info.producerId)?.value.paused ? producer.pause() : producer.resume())).catch(() => undefined)
      : Promise.resolve();
    // The pipe producer follows first, so local consumers hear consumerPaused with it.
    void apply.then(() => this.room.applyRemote({ type: info.paused ? 'producerPaused' : 'producerResumed', info }));
  }

  /**
   * Everything of a node incarnation goes, with the pipes to and from it: it
   * left the room cleanly (`left`: what is still known of it), or it died.
   */
  #dropNode(nodeId: string, incarnation: string, reason: 'left' | 'node-died'): void {
    for (const [producerId, member] of [...this.#producers]) if (member.incarnation === incarnation) this.#dropProducer(producerId);
    for (const [peerId, member] of [...this.#peers]) if (member.incarnation === incarnation) this.#dropPeer(peerId, reason);
    void this.#closeIngress(nodeId);
    for (const egress of [...this.#egress.values()]) if (egress.nodeId === nodeId) this.#closeEgress(egress);
  }

  /** Another node's producer is gone: its pipe here closes (its consumers with it), this node's peers hear it closed. */
  #dropProducer(producerId: string): void {
    const member = this.#producers.get(producerId);
    if (!member) return;
    this.#producers.delete(producerId);
    void this.#closePipe(producerId, false);
    this.room.applyRemote({ type: 'producerClosed', producerId, peerId: member.value.peerId });
  }

  /** Another node's peer is gone without saying so itself (its node left or died, or the shared state lost it): its hand goes too. */
  #dropPeer(peerId: string, reason: 'left' | 'node-died'): void {
    if (!this.#peers.delete(peerId)) return;
    this.room.applyRemote({ type: 'handLowered', peerId });
    this.room.applyRemote({ type: 'peerLeft', peerId, reason });
  }

  /** What a change does to this node's entries in the room's hash. */
  #fieldsOf(change: RoomChange): Field[] {
    switch (change.type) {
      case 'peerJoined':
        return [this.#set('p', change.info.peerId, change.info)];
      case 'peerLeft':
        return [{ op: 'delown', field: `p:${change.peerId}` }];
      case 'producerAdded':
      case 'producerPaused':
      case 'producerResumed':
        return [this.#set('r', change.info.producerId, change.info)];
      case 'producerClosed':
        return [{ op: 'delown', field: `r:${change.producerId}` }];
      case 'handRaised':
        return [this.#set('h', change.entry.peerId, change.entry)];
      case 'handLowered':
        return [{ op: 'del', field: `h:${change.peerId}` }];
      case 'handsCleared':
        return [{ op: 'delprefix', field: 'h:' }];
      case 'peerBanned':
        return [this.#set('b', change.peerId, change.until ? { until: change.until } : {})];
      case 'gesture':
      case 'caption':
      case 'roomEnded':
        return [];
    }
  }

  #set(kind: 'p' | 'r' | 'h' | 'b', id: string, value: unknown): Field {
    return { op: 'set', field: `${kind}:${id}`, value: `${this.ctx.incarnation}|${JSON.stringify({ n: this.ctx.nodeId, v: value })}` };
  }

  #write(fields: Field[], frame: RoomFrame): void {
    void this.#writes.run(() => this.#runWrite(fields, JSON.stringify(frame))).catch((error: unknown) => {
      // The others missed it: they catch up when this node re-asserts its part.
      this.#needsSync = true;
      this.ctx.report('roomWrite', error);
    });
  }

  #runWrite(fields: Field[], message: string): Promise<unknown> {
    const { keys, incarnation } = this.ctx;
    const args = [keys.roomChannel(this.roomId), String(this.ctx.keyTtlMs), this.roomId, message, incarnation];
    for (const f of fields) args.push(f.op, f.field, f.value ?? '');
    return this.ctx.connection.run('roomWrite', ROOM_WRITE, [keys.members(this.roomId), keys.nodeMembers(incarnation)], args);
  }

  /** Whether a write or read failed since the last sync (the MediaNode resyncs such spans when Redis is back). */
  get needsSync(): boolean {
    return this.#needsSync;
  }

  // ---------------------------------------------------------------- internals: pipes

  async #openPipe(member: Member<ProducerInfo>): Promise<PipedProducer> {
    const ingress = await this.#ingressFrom(member.nodeId);
    const producerId = member.value.producerId;
    const reply = await this.ctx.request(member.nodeId, 'pipeProducer', { roomId: this.roomId, egressId: ingress.egressId, producerId });
    this.#assertOpen(ingress.transport);
    const producer = await this.ctx.call(
      ingress.transport.produce({
        id: producerId,
        kind: reply.kind,
        rtpParameters: reply.rtpParameters as types.RtpParameters,
        paused: reply.paused,
        appData: { remoteNodeId: member.nodeId, peerId: member.value.peerId, source: member.value.source },
      }),
      'pipeProduce',
      (p) => p.close(),
    );
    // The producer changed while the pipe was being made: follow what is known now.
    const known = this.#producers.get(producerId);
    if (known && known.value.paused !== producer.paused) await this.ctx.call(known.value.paused ? producer.pause() : producer.resume(), 'pipePause').catch(() => undefined);
    return { producer, shard: ingress.shard };
  }

  #ingressFrom(nodeId: string): Promise<Ingress> {
    let ingress = this.#ingress.get(nodeId);
    if (!ingress) {
      const made = this.#openIngress(nodeId);
      ingress = made;
      this.#ingress.set(nodeId, made);
      made.then(
        (i) =>
          i.transport.observer.once('close', () => {
            if (this.#ingress.get(nodeId) !== made) return; // closed on purpose
            // Lost under us (the router's worker died): the other end can stop sending.
            this.#ingress.delete(nodeId);
            this.#tellPipeLost(nodeId, { ingressId: i.transport.id });
          }),
        () => {
          if (this.#ingress.get(nodeId) === made) this.#ingress.delete(nodeId);
        },
      );
    }
    return ingress;
  }

  async #openIngress(nodeId: string): Promise<Ingress> {
    const shard = await this.room.clusterShard();
    const transport = await this.#createPipeTransport(shard, 'ingress', nodeId);
    try {
      const reply = await this.ctx.request(nodeId, 'pipeOpen', { roomId: this.roomId, ingressId: transport.id, ...tupleOf(transport) });
      await this.ctx.call(transport.connect({ ip: reply.ip, port: reply.port, srtpParameters: reply.srtpParameters as types.SrtpParameters }), 'connectPipeTransport');
      this.#assertOpen(transport);
      return { transport, shard, nodeId, egressId: reply.egressId };
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  /**
   * Closes the pair from `nodeId` here. Pipes still registered on it (a node that
   * left or died has had its producers' pipes closed first) count as lost: see
   * {@link #pipeClosed}.
   */
  async #closeIngress(nodeId: string): Promise<void> {
    const ingress = this.#ingress.get(nodeId);
    if (!ingress) return;
    this.#ingress.delete(nodeId);
    (await ingress.catch(() => undefined))?.transport.close();
  }

  #closeEgress(egress: Egress): void {
    this.#egress.delete(egress.transport.id);
    egress.transport.close();
  }

  #tellPipeLost(nodeId: string, end: { egressId?: string; ingressId?: string }): void {
    if (this.#closed) return;
    this.ctx.request(nodeId, 'pipeLost', { roomId: this.roomId, ...end }).catch((error: unknown) => this.ctx.report('pipeLost', error));
  }

  #createPipeTransport(shard: RouterShard, end: 'ingress' | 'egress', nodeId: string): Promise<types.PipeTransport> {
    return this.ctx.call(
      shard.router.createPipeTransport({
        listenInfo: this.ctx.pipeListenInfo,
        enableSrtp: true,
        enableRtx: true,
        appData: { roomId: this.roomId, cluster: end, nodeId },
      }),
      'createPipeTransport',
      (t) => t.close(),
    );
  }

  /** Closes a remote producer's pipe here; `release` also tells its node to stop sending. */
  async #closePipe(producerId: string, release = true): Promise<void> {
    const pipe = this.#pipes.get(producerId);
    const use = this.#use.get(producerId);
    clearTimeout(use?.idle);
    if (!pipe) return;
    this.#pipes.delete(producerId);
    const piped = await pipe.catch(() => undefined);
    if (!piped) return;
    piped.producer.close();
    if (!release) return;
    const member = this.#producers.get(producerId);
    const ingress = member ? await this.#ingress.get(member.nodeId)?.catch(() => undefined) : undefined;
    if (!member || !ingress) return;
    await this.ctx
      .request(member.nodeId, 'pipeRelease', { roomId: this.roomId, egressId: ingress.egressId, producerId })
      .catch((error: unknown) => this.ctx.report('pipeRelease', error));
  }

  #pipeClosed(producerId: string, pipe: Promise<PipedProducer>): void {
    // Still registered: closed under us (its pair or router went), not by #closePipe.
    const lost = this.#pipes.get(producerId) === pipe;
    if (lost) this.#pipes.delete(producerId);
    this.room.forgetPipedProducer(producerId);
    const use = this.#use.get(producerId);
    this.#use.delete(producerId);
    clearTimeout(use?.idle);
    const member = this.#producers.get(producerId);
    if (!lost || this.#closed || !member || !use || use.consumers.size === 0) return;
    // Its consumers close with it (the worker says so a moment later): once they have,
    // their peers hear the producer announced again and subscribe anew.
    const peers = new Set(use.consumers.values());
    const announce = () => {
      clearTimeout(fallback);
      if (!this.#closed && this.#producers.has(producerId)) this.room.announceProducer(member.value, [...peers]);
    };
    const fallback = setTimeout(announce, 1000);
    fallback.unref();
    this.#reannounce.set(producerId, { remaining: new Set(use.consumers.keys()), announce });
  }

  #clearTimers(): void {
    for (const use of this.#use.values()) clearTimeout(use.idle);
    this.#use.clear();
    this.#reannounce.clear(); // their fallback timers are unref'd and check #closed
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
  }

  #assertOpen(transport?: types.Transport): void {
    if (this.#closed || this.room.isClosed) {
      transport?.close();
      throw new LecternError(ErrorCode.CLOSED, `room ${this.roomId} is closed on this node`);
    }
    if (transport?.closed) throw new LecternError(ErrorCode.CLOSED, 'the pipe transport closed');
  }

  stats(): { pipesIn: number; pipesOut: number; remotePeers: number; remoteProducers: number } {
    let pipesOut = 0;
    for (const egress of this.#egress.values()) pipesOut += egress.consumers.size;
    return { pipesIn: this.#pipes.size, pipesOut, remotePeers: this.#peers.size, remoteProducers: this.#producers.size };
  }
}

/** Where a pipe transport receives, as the other node must send to it. */
function tupleOf(transport: types.PipeTransport): { ip: string; port: number; srtpParameters: { cryptoSuite: string; keyBase64: string } } {
  const { srtpParameters } = transport;
  if (!srtpParameters) throw new LecternError(ErrorCode.INTERNAL, 'a pipe transport without SRTP parameters');
  return { ip: transport.tuple.localAddress, port: transport.tuple.localPort, srtpParameters };
}

/** One field of a room's hash, or undefined for anything malformed (skipped). */
function parseMember(field: string, raw: string): { kind: 'p' | 'r' | 'h' | 'b'; id: string; member: Member<unknown> } | undefined {
  const kind = field.slice(0, 1);
  if (field[1] !== ':' || (kind !== 'p' && kind !== 'r' && kind !== 'h' && kind !== 'b')) return undefined;
  const bar = raw.indexOf('|');
  if (bar <= 0) return undefined;
  try {
    const outer = memberValueSchema.safeParse(JSON.parse(raw.slice(bar + 1)));
    if (!outer.success) return undefined;
    const value = memberSchemas[kind].safeParse(outer.data.v);
    if (!value.success) return undefined;
    return { kind, id: field.slice(2), member: { nodeId: outer.data.n, incarnation: raw.slice(0, bar), value: value.data } };
  } catch {
    return undefined;
  }
}

