import type { types } from 'mediasoup';
import type { Notification, PeerDetails } from '@lectern/protocol';
import { ErrorCode, LecternError, notFound, toLecternError } from '../errors.js';
import type { MediasoupCall } from '../rooms/mediasoup-call.js';
import type { RoomManager } from '../rooms/room-manager.js';
import type { Room } from '../rooms/room.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { ClusterMetrics } from './metrics.js';
import { NodeBus } from './node-bus.js';
import { registryContext, type NodeRegistry, type NodeRegistryEvents, type RegistryContext } from './node-registry.js';
import type { RoomDirectory } from './room-directory.js';
import { RoomSpan, type SpanContext } from './room-span.js';
import { CLAIM_LOST } from './scripts.js';
import { isNodeRequestMethod, nodeRequests, type NodeRequestMethod, type NodeRequestParams, type NodeRequestResult } from './wire.js';

/** Options of {@link MediaNode.create}. */
export interface MediaNodeOptions {
  /** This node's rooms and workers. */
  manager: RoomManager;
  /** This process as a node of the cluster; started by {@link MediaNode.create} if it is not yet. */
  registry: NodeRegistry;
  /** The directory on that registry: the node joins (and leaves) the rooms its manager holds. */
  directory: RoomDirectory;
  /**
   * Where this node's PipeTransports to other nodes listen: UDP on an address the
   * other nodes reach (or `0.0.0.0` with `announcedAddress`), within `portRange`.
   * E.g. `{ protocol: 'udp', ip: '0.0.0.0', announcedAddress: '10.0.0.5', portRange: { min: 44000, max: 44999 } }`.
   */
  pipeListenInfo: types.TransportListenInfo;
  /** Bound on each node-to-node request over Redis. Default 3000 ms. */
  requestTimeoutMs?: number;
  /** A pipe from another node that no local consumer uses closes after this. Default 30 000 ms. */
  idlePipeCloseMs?: number;
}

/** Why peers must reconnect elsewhere. */
export type PeersLostReason = 'node-died' | 'node-draining';

/** The events of a {@link MediaNode}. */
export type MediaNodeEvents = {
  /**
   * Peers whose node is gone (`node-died`: exactly one live node emits this per
   * dead node incarnation and room) or is draining (`node-draining`: this node,
   * for its own peers). Each was also sent `reconnectRequired` through
   * {@link MediaNodeEvents.notification}: its client rejoins and is placed on a live node.
   */
  peersLost: { roomId: string; nodeId: string; peerIds: string[]; reason: PeersLostReason };
  /** Notifications this node makes for peers — some on other nodes (a dead node's): forward like the manager's. */
  notification: Notification;
  /** A node-to-node operation failed in the background (a pipe, a resync); for logs. */
  clusterError: { op: string; error: LecternError };
  listenerError: { event: string; error: unknown };
};

/** How often spans whose shared state could not be written or read are re-synced. */
const RESYNC_INTERVAL_MS = 1000;

/**
 * A RoomManager as one media node of a cluster in which one room spans nodes.
 *
 * ```ts
 * const registry = new NodeRegistry({ url, nodeId: 'media-2', load: () => manager.loadEstimate, meta: { url: 'wss://media-2.example.org' } });
 * const node = await MediaNode.create({ manager, registry, directory: new RoomDirectory(registry),
 *   pipeListenInfo: { protocol: 'udp', ip: '0.0.0.0', announcedAddress: '10.0.0.12', portRange: { min: 44000, max: 44999 } } });
 * node.on('notification', forwardToPeers); // like manager.on('notification')
 * // place each peer with directory.place(roomId) and send its requests to that node's manager
 * ```
 *
 * **What spans nodes.** Each node holds its own peers of a room. Their peers,
 * producers and raised hands are shared in Redis and every change is announced
 * on the room's channel: a peer's join reply lists the whole room, and it hears
 * `peerJoined`, `newProducer`, `producerPaused`/`Resumed`/`Closed`, the hand
 * queue, gestures (lecturers) and captions from every node. Its `consume` of
 * another node's producer brings the producer here over a PipeTransport pair
 * (SRTP and RTX on, `pipeListenInfo`), once per producer and node; later
 * consumers here reuse it. Attendance events (`peerJoined`…) stay per node:
 * each host sees its own peers.
 *
 * **Failures.** When a node is declared dead (NodeRegistry: `deadAfterMs` of
 * silence), every other node drops its peers (`peerLeft`, reason `node-died`)
 * and producers (`producerClosed`; consumers close) and the pipes with it; one
 * node — whichever claims it first in Redis — emits `peersLost` and a
 * `reconnectRequired` notification for exactly the dead node's peers. Their
 * clients rejoin; the host places them again (the dead node is no longer a
 * candidate). A peer that joins on another node ends its old session
 * (`replaced`). After a Redis outage each room re-asserts this node's part and
 * re-reads the others'.
 *
 * **Drain** ({@link drain}, e.g. on SIGTERM): no new placements, and this
 * node's peers are told to reconnect elsewhere (`node-draining`).
 *
 * Not shared yet: bans (per node), the active speaker (each node observes its
 * own routers), and the admin API acts on this node's peers only.
 */
export class MediaNode extends TypedEmitter<MediaNodeEvents> {
  readonly nodeId: string;
  readonly incarnation: string;
  readonly #manager: RoomManager;
  readonly #registry: NodeRegistry;
  readonly #directory: RoomDirectory;
  readonly #context: RegistryContext;
  readonly #bus: NodeBus;
  readonly #spans = new Map<string, { room: Room; span: RoomSpan }>();
  readonly #spanContext: SpanContext;
  readonly #resyncTimer: NodeJS.Timeout;
  readonly #metrics: ClusterMetrics;
  readonly #onNodeDown = (event: NodeRegistryEvents['nodeDown']) => void this.#nodeDown(event);
  readonly #onRegistered = (event: NodeRegistryEvents['registered']) => {
    // Redis lost this node's registration (and maybe everything): write our part again.
    if (event.status !== 'registered') this.#resyncAll();
  };
  #closed = false;

  private constructor(
    options: MediaNodeOptions,
    context: RegistryContext,
    call: MediasoupCall,
    private readonly linkRooms: RoomLinker,
  ) {
    super();
    this.#manager = options.manager;
    this.#registry = options.registry;
    this.#directory = options.directory;
    this.#context = context;
    this.nodeId = options.registry.nodeId;
    this.incarnation = options.registry.incarnation;
    const requestTimeoutMs = options.requestTimeoutMs ?? 3000;
    this.#bus = new NodeBus(
      context.connection,
      context.keys,
      this.nodeId,
      this.incarnation,
      requestTimeoutMs,
      () => this.#resyncAll(),
      (error) => this.#report('frame', error),
    );
    const node = this;
    this.#spanContext = {
      nodeId: this.nodeId,
      incarnation: this.incarnation,
      keys: context.keys,
      connection: context.connection,
      bus: this.#bus,
      keyTtlMs: context.keyTtlMs,
      pipeListenInfo: options.pipeListenInfo,
      idlePipeCloseMs: options.idlePipeCloseMs ?? 30_000,
      readyTimeoutMs: requestTimeoutMs,
      resyncGraceMs: context.deadAfterMs,
      call,
      request: (nodeId, method, params) => node.#request(nodeId, method, params),
      report: (op, error) => node.#report(op, error),
      closed: (span) => node.#spanClosed(span),
    };
    this.#metrics = new ClusterMetrics(this, options.manager.metrics.registry, options.manager.metrics.prefix);
    this.#resyncTimer = setInterval(() => {
      for (const { span } of this.#spans.values()) if (span.needsSync && context.connection.ready) span.resync();
    }, RESYNC_INTERVAL_MS);
    this.#resyncTimer.unref();
  }

  /**
   * Joins the cluster: starts the registry if needed, listens for other nodes'
   * requests, and links every room of the manager (existing and future).
   * INVALID_CONFIG for bad options; UNAVAILABLE when Redis cannot be reached;
   * INVALID_STATE if the manager already belongs to a MediaNode.
   */
  static async create(options: MediaNodeOptions): Promise<MediaNode> {
    // Loaded here, not at import: a host that only places rooms (a signaling tier
    // with a RoomDirectory) imports the cluster entry without mediasoup.
    const [{ RoomManager, setRoomLinker }, { mediasoupCaller }] = await Promise.all([import('../rooms/room-manager.js'), import('../rooms/mediasoup-call.js')]);
    validateOptions(options, RoomManager);
    const context = registryContext(options.registry);
    try {
      await options.registry.start();
    } catch (error) {
      if (!(error instanceof LecternError && error.code === ErrorCode.INVALID_STATE)) throw error;
    }
    const node = new MediaNode(options, context, mediasoupCaller(options.manager.pool.requestTimeoutMs), setRoomLinker);
    try {
      await node.#bus.start((method, params, from) => node.#serve(method, params, from));
      const existing = node.linkRooms(options.manager, (room) => node.#link(room));
      for (const room of existing) if (!room.isClosed) room.attachLink(node.#link(room));
    } catch (error) {
      clearInterval(node.#resyncTimer);
      node.#metrics.unregister();
      await node.#bus.close();
      throw error;
    }
    options.registry.on('nodeDown', node.#onNodeDown);
    options.registry.on('registered', node.#onRegistered);
    return node;
  }

  /**
   * Stops taking new rooms and peers (`draining`: placement skips this node) and
   * tells this node's peers to reconnect (`peersLost` and `reconnectRequired`,
   * reason `node-draining`); their clients rejoin elsewhere, which ends their
   * sessions here. Resolves once no peer is left here, or after `timeoutMs`
   * (default 30 s) with how many remain (the host then closes the manager).
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<{ remaining: number }> {
    this.#assertOpen();
    await this.#registry.drain();
    for (const { room } of this.#spans.values()) {
      const peerIds = room.localState().peers.map((p) => p.peerId);
      if (peerIds.length === 0) continue;
      this.safeEmit('notification', { roomId: room.id, to: peerIds, name: 'reconnectRequired', data: { reason: 'node-draining' } });
      this.#metrics.peersLost.inc({ reason: 'node-draining' }, peerIds.length);
      this.safeEmit('peersLost', { roomId: room.id, nodeId: this.nodeId, peerIds, reason: 'node-draining' });
    }
    const deadline = performance.now() + (options.timeoutMs ?? 30_000);
    let remaining = this.#localPeers();
    while (remaining > 0 && performance.now() < deadline && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      remaining = this.#localPeers();
    }
    return { remaining };
  }

  /**
   * Leaves the cluster: every room's shared entries of this node go (the other
   * nodes hear it left), pipes close, requests stop. The rooms stay on this
   * node's manager as single-node rooms; the manager, registry and directory are
   * the host's to close. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#resyncTimer);
    this.#registry.off('nodeDown', this.#onNodeDown);
    this.#registry.off('registered', this.#onRegistered);
    this.linkRooms(this.#manager, undefined);
    const closing = [...this.#spans.values()].map(({ room, span }) => {
      room.detachLink(span);
      return span.close();
    });
    await Promise.all(closing);
    await this.#bus.close();
    this.#metrics.unregister();
  }

  /**
   * Every peer of a room on every node it spans, with grants and media (the
   * host's cluster-wide `listPeers`; `RoomManager.listPeers` lists this node's).
   * A node that does not answer within `requestTimeoutMs` is left out
   * (`clusterError`). NOT_FOUND when the room is not open on this node.
   */
  async listPeers(roomId: string): Promise<PeerDetails[]> {
    const entry = this.#spans.get(roomId);
    if (!entry) throw notFound('room on this node', roomId);
    return [...entry.room.peerDetails(), ...(await entry.span.remotePeerDetails())];
  }

  /** The pipes and the other nodes' members this node knows, for tests, metrics and admin UIs. */
  stats(): { rooms: number; pipesIn: number; pipesOut: number; remotePeers: number; remoteProducers: number } {
    const total = { rooms: this.#spans.size, pipesIn: 0, pipesOut: 0, remotePeers: 0, remoteProducers: 0 };
    for (const { span } of this.#spans.values()) {
      const s = span.stats();
      total.pipesIn += s.pipesIn;
      total.pipesOut += s.pipesOut;
      total.remotePeers += s.remotePeers;
      total.remoteProducers += s.remoteProducers;
    }
    return total;
  }

  #link(room: Room): RoomSpan {
    const span = new RoomSpan(room, this.#spanContext);
    this.#spans.set(room.id, { room, span });
    this.#directory.join(room.id).catch((error: unknown) => this.#report('directoryJoin', error));
    return span;
  }

  #spanClosed(span: RoomSpan): void {
    if (this.#spans.get(span.roomId)?.span !== span) return;
    this.#spans.delete(span.roomId);
    this.#directory.leave(span.roomId).catch((error: unknown) => this.#report('directoryLeave', error));
  }

  #localPeers(): number {
    let peers = 0;
    for (const { room } of this.#spans.values()) peers += room.peerCount;
    return peers;
  }

  #resyncAll(): void {
    if (this.#closed) return;
    for (const { span } of this.#spans.values()) span.resync();
  }

  async #nodeDown(event: NodeRegistryEvents['nodeDown']): Promise<void> {
    if (this.#closed || event.incarnation === this.incarnation) return;
    this.#metrics.nodesDown.inc({ reason: event.reason });
    for (const { span } of this.#spans.values()) span.nodeGone(event.nodeId, event.incarnation);
    // Exactly one node gets the dead incarnation's peers out of Redis: it tells them.
    let lost: unknown;
    try {
      lost = await this.#context.connection.run('claimLost', CLAIM_LOST, [this.#context.keys.nodeMembers(event.incarnation)], [this.#context.keys.base, event.incarnation]);
    } catch (error) {
      this.#report('claimLost', error);
      return;
    }
    if (!Array.isArray(lost)) return;
    for (const entry of lost) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) continue;
      const roomId = entry[0];
      const peerIds = (entry[1] as unknown[]).filter((p): p is string => typeof p === 'string');
      if (peerIds.length === 0) continue;
      this.safeEmit('notification', { roomId, to: peerIds, name: 'reconnectRequired', data: { reason: 'node-died' } });
      this.#metrics.peersLost.inc({ reason: 'node-died' }, peerIds.length);
      this.safeEmit('peersLost', { roomId, nodeId: event.nodeId, peerIds, reason: 'node-died' });
    }
  }

  async #request<M extends NodeRequestMethod>(nodeId: string, method: M, params: NodeRequestParams<M>): Promise<NodeRequestResult<M>> {
    const started = performance.now();
    let result: unknown;
    try {
      result = await this.#bus.request(nodeId, method, params);
      this.#metrics.requests.observe({ method, outcome: 'ok' }, (performance.now() - started) / 1000);
    } catch (error) {
      this.#metrics.requests.observe({ method, outcome: toLecternError(error).code }, (performance.now() - started) / 1000);
      throw error;
    }
    const parsed = nodeRequests[method].result.safeParse(result);
    if (!parsed.success) throw new LecternError(ErrorCode.INTERNAL, `node ${nodeId} answered ${method} with a malformed reply`, { nodeId, method });
    return parsed.data as NodeRequestResult<M>;
  }

  async #serve(method: string, raw: unknown, from: { nodeId: string; incarnation: string }): Promise<unknown> {
    if (this.#closed) throw new LecternError(ErrorCode.CLOSED, 'the media node is closed');
    if (!isNodeRequestMethod(method)) throw new LecternError(ErrorCode.UNKNOWN_METHOD, `unknown node request: ${method.slice(0, 64)}`);
    const parsed = nodeRequests[method].params.safeParse(raw);
    if (!parsed.success) throw new LecternError(ErrorCode.INVALID_REQUEST, `malformed ${method} request`);
    const params = parsed.data;
    const entry = this.#spans.get(params.roomId);
    if (!entry) throw notFound('room on this node', params.roomId);
    switch (method) {
      case 'pipeOpen':
        return entry.span.pipeOpen(from.nodeId, params as NodeRequestParams<'pipeOpen'>);
      case 'pipeProducer':
        return entry.span.pipeProducer(params as NodeRequestParams<'pipeProducer'>);
      case 'pipeRelease':
        return entry.span.pipeRelease(params as NodeRequestParams<'pipeRelease'>);
      case 'pipeLost':
        return entry.span.pipeLost(from.nodeId, params as NodeRequestParams<'pipeLost'>);
      case 'peerDetails':
        return { peers: entry.room.peerDetails() };
      case 'roomAdmin': {
        const { action } = params as NodeRequestParams<'roomAdmin'>;
        const { type, ...options } = action;
        // Only what this node holds: never forwarded on (two nodes could disagree for a moment).
        const held = type === 'expel' ? entry.room.hasPeer(action.peerId) : entry.room.localProducer(action.producerId) !== undefined;
        if (!held) throw notFound(type === 'expel' ? 'peer on this node' : 'producer on this node', type === 'expel' ? action.peerId : action.producerId);
        if (type === 'expel') await entry.room.expel(action.peerId, options);
        else await entry.room.muteProducer(action.producerId, options);
        return {};
      }
    }
  }

  #report(op: string, error: unknown): void {
    if (this.#closed && error instanceof LecternError && error.code === ErrorCode.CLOSED) return;
    this.#metrics.errors.inc({ op });
    this.safeEmit('clusterError', { op, error: toLecternError(error) });
  }

  #assertOpen(): void {
    if (this.#closed) throw new LecternError(ErrorCode.CLOSED, 'the media node is closed');
  }
}

type RoomLinker = (manager: RoomManager, linker: ((room: Room) => RoomSpan) | undefined) => Room[];

function validateOptions(options: MediaNodeOptions, managerClass: typeof RoomManager): void {
  const bad = (message: string) => new LecternError(ErrorCode.INVALID_CONFIG, `MediaNode: ${message}`);
  if (typeof options !== 'object' || options === null) throw bad('needs options');
  if (!(options.manager instanceof managerClass)) throw bad('manager must be a RoomManager');
  if (options.manager.isClosed) throw bad('the manager is closed');
  if (typeof options.directory !== 'object' || options.directory === null) throw bad('directory must be the RoomDirectory of the registry');
  const listen = options.pipeListenInfo;
  if (typeof listen !== 'object' || listen === null || listen.protocol !== 'udp' || typeof listen.ip !== 'string' || listen.ip.length === 0) {
    throw bad("pipeListenInfo must be a UDP listen info ({ protocol: 'udp', ip, announcedAddress?, portRange? })");
  }
  for (const name of ['requestTimeoutMs', 'idlePipeCloseMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw bad(`${name} must be a positive number of milliseconds`);
  }
}
