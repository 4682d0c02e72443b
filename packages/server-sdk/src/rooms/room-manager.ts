import { z } from 'zod';
import { version as mediasoupVersion } from 'mediasoup';
import type { Notification, PeerDetails, PeerGrants, RequestMap, RequestMethod, ResponseMap } from '@lectern/protocol';
import { idSchema, peerGrantsSchema, peerRoleSchema } from '@lectern/protocol/schemas';
import { isHostOnlyMethod, isRequestMethod, requestHandlers, type Caller, type MethodHandler } from '../api/dispatch.js';
import { assertGranted } from '../api/grants.js';
import { resolveGrants, trustedDefaultGrants } from '../auth/grants.js';
import { contextFromToken, TokenVerifier, type TokenVerifierOptions } from '../auth/token-verifier.js';
import { ErrorCode, LecternError, toLecternError, truncate } from '../errors.js';
import { DEFAULT_MEDIA_CODECS } from '../media/codecs.js';
import { isSupportedMediasoupVersion, SUPPORTED_MEDIASOUP_RANGE } from '../media/mediasoup-version.js';
import { LecternMetrics, type MetricsOptions } from '../metrics/metrics.js';
import { assertRateLimit, rateLimited, TokenBuckets, type RateLimit } from '../util/token-bucket.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { validateWorkerPoolOptions, WorkerPool, type WorkerPoolEvents, type WorkerPoolOptions } from '../workers/worker-pool.js';
import { BanList } from './ban-list.js';
import type { RoomLink } from './room-link.js';
import { Room, type RoomEvents, type RoomStats, type RoomView } from './room.js';
import type { PeerContext, PeerLimits, PlainTransportSettings, RoomOptions, WebRtcTransportSettings } from './types.js';

export interface RoomManagerOptions {
  /** The worker pool: count, ports, WebRtcServer, placement, admission ceiling. */
  workers?: WorkerPoolOptions;
  /** Defaults for new rooms (each room can override through `PeerContext.roomOptions`). */
  room?: Partial<RoomOptions>;
  webRtcTransport?: Partial<WebRtcTransportSettings>;
  /**
   * PlainTransports for server-side peers (recorders, SIP/RTMP gateways, load
   * generators): `createPlainTransport` / `connectPlainTransport` in the request
   * API, placed, sharded, piped and counted like WebRTC transports. Off by
   * default (`enabled: false`: both methods are FORBIDDEN). A plain transport
   * sends media wherever its peer says, so enable it only for peers the host
   * controls; never forward these methods from untrusted clients. `listenInfo`
   * defaults to `{ protocol: 'udp', ip: '127.0.0.1' }`.
   */
  plainTransport?: Partial<PlainTransportSettings>;
  limits?: Partial<PeerLimits> & {
    /** Requests whose JSON is larger are refused before parsing further. Default 64 KiB. */
    maxRequestBytes?: number;
  };
  /** An empty room is closed after this long; `null` keeps empty rooms. Default 60 000 ms. */
  emptyRoomTimeoutMs?: number | null;
  /**
   * Per-peer request rate limit: a token bucket per (room, peer) in
   * {@link RoomManager.handle}, for every request of a well-formed context
   * (unknown methods and invalid payloads included) except `leave`, which is
   * never refused (leaving frees resources). Over the limit a request is
   * refused with `RATE_LIMITED` and `details.retryAfterMs`; it does not count.
   * `false` turns the limit off.
   *
   * Default `perSecond: 50` and `burst: 2 × limits.maxConsumersPerPeer + 100`
   * (1100 with the default 500 consumers). The burst is what a client needs at
   * join: `getRouterRtpCapabilities`, `join`, two transports and their
   * `connectTransport`, its producers, and `consume` + `resumeConsumer` for
   * every producer already in the room, up to as many as it may consume. After
   * that a client sends a few requests a second (pause/resume, a new
   * producer's consume, gestures, which the hand queue limits to 20 a second on
   * its own), so 50 a second is generous for a client and still holds a
   * flooding one to a rate the room shrugs off.
   *
   * A bucket is dropped once it has refilled (the peer left, or went quiet);
   * one that is still drained when its peer leaves is kept until then, so
   * leaving and rejoining does not buy a fresh burst.
   */
  requestRateLimit?: Partial<RateLimit> | false;
  metrics?: MetricsOptions;
  /**
   * Access tokens: how {@link RoomManager.verifyToken} and
   * {@link RoomManager.handleWithToken} check them (a {@link TokenVerifier} or
   * its options: the HS256 secret and/or public keys, issuer, audience, clock
   * tolerance). Without it those two refuse with INVALID_CONFIG; the trusted
   * {@link RoomManager.handle} works either way.
   */
  auth?: TokenVerifier | TokenVerifierOptions;
}

/** A room as the host's admin view lists it ({@link RoomManager.listRooms}). */
export interface RoomSummary {
  roomId: string;
  peers: number;
  /** Lecturers in the room, by peer id. */
  lecturers: string[];
  producers: number;
  consumers: number;
  routers: number;
}

/** Options of {@link RoomManager.removePeer}. */
export interface RemovePeerOptions {
  /** Shown to the removed peer (`removed` notification). Default "removed by the host". */
  reason?: string;
  /** Keep the identity out: for the room's lifetime, or `banSeconds` (then past the room's closing). */
  ban?: boolean;
  banSeconds?: number;
}

/** Options of {@link RoomManager.muteProducer}. */
export interface MuteProducerOptions {
  /** Close the producer instead of pausing it. Default false. */
  close?: boolean;
  reason?: string;
}

/** Manager-level events: everything a room emits, tagged with its id, plus the pool's. */
export type RoomManagerEvents = {
  [K in Exclude<keyof RoomEvents, 'notification' | 'listenerError' | 'close'>]: RoomEvents[K] & { roomId: string };
} & {
  /** Forward `data` to each peer in `to` over the host's signaling. */
  notification: Notification;
  roomCreated: { roomId: string };
  roomClosed: { roomId: string };
  /** A request failed; for logging (the caller also gets the error). */
  requestFailed: { roomId: string; peerId: string; method: string; error: LecternError };
  /** Every request, when it settled: `method` is `unknown` for a name outside the API; `code` is set when it failed. */
  requestCompleted: { method: RequestMethod | 'unknown'; durationMs: number; code?: ErrorCode };
} & Pick<WorkerPoolEvents, 'workerDied' | 'workerRespawned' | 'workerRespawnFailed' | 'listenerError'>;


/**
 * The entry point of the server SDK. It owns the worker pool and the rooms, and
 * answers the request API the host's signaling calls for every peer action:
 *
 * ```ts
 * const manager = await RoomManager.create({ room: { maxTransportsPerRouter: 100 } });
 * manager.on('notification', ({ to, name, data }) => to.forEach((peerId) => send(peerId, name, data)));
 * // for each message {method, data} from an authenticated peer:
 * const reply = await manager.handle({ roomId, peerId, role }, method, data); // or catch LecternError
 * ```
 */
export class RoomManager extends TypedEmitter<RoomManagerEvents> {
  private readonly rooms = new Map<string, Room>();
  private readonly creating = new Map<string, Promise<Room>>();
  private readonly emptyTimers = new Map<string, NodeJS.Timeout>();
  private readonly roomDefaults: RoomOptions;
  private readonly limits: PeerLimits & { maxRequestBytes: number };
  private readonly transport: WebRtcTransportSettings;
  private readonly plainTransport: PlainTransportSettings;
  /** Request budgets by `${roomId} ${peerId}` (ids never contain a space); undefined when the limit is off. */
  private readonly requestBudgets: TokenBuckets<string> | undefined;
  private readonly budgetSweep: NodeJS.Timeout | undefined;
  /** Identities kept out of rooms (`removePeer` with `ban`). */
  private readonly bans = new BanList();
  private readonly verifier: TokenVerifier | undefined;
  /** Links each room to its part on other nodes (set by a cluster's MediaNode, see {@link setRoomLinker}). */
  private roomLinker: ((room: Room) => RoomLink) | undefined;
  private closed = false;

  private constructor(
    readonly pool: WorkerPool,
    readonly metrics: LecternMetrics,
    private readonly options: RoomManagerOptions,
  ) {
    super();
    this.roomDefaults = {
      maxTransportsPerRouter: 100,
      studentMedia: 'audio',
      maxPeers: 1000,
      mediaCodecs: DEFAULT_MEDIA_CODECS,
      activeSpeaker: true,
      ...options.room,
    };
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.transport = {
      listenInfos: [
        { protocol: 'udp', ip: '127.0.0.1' },
        { protocol: 'tcp', ip: '127.0.0.1' },
      ],
      initialAvailableOutgoingBitrate: 1_000_000,
      maxIncomingBitrate: 0,
      iceConsentTimeoutSeconds: 30,
      ...options.webRtcTransport,
    };
    this.plainTransport = {
      enabled: options.plainTransport?.enabled === true,
      listenInfo: options.plainTransport?.listenInfo ?? { protocol: 'udp', ip: '127.0.0.1' },
    };
    this.verifier = options.auth === undefined || options.auth instanceof TokenVerifier ? options.auth : new TokenVerifier(options.auth);
    const rate = resolveRequestRateLimit(options, this.limits.maxConsumersPerPeer);
    if (rate) {
      this.requestBudgets = new TokenBuckets<string>(rate);
      // Drained buckets of peers that left (or ids that never joined) go once they refilled.
      this.budgetSweep = setInterval(() => this.requestBudgets?.sweep(), BUDGET_SWEEP_MS);
      this.budgetSweep.unref();
    }
    pool.on('workerDied', (event) => this.safeEmit('workerDied', event));
    pool.on('workerRespawned', (event) => this.safeEmit('workerRespawned', event));
    pool.on('workerRespawnFailed', (event) => this.safeEmit('workerRespawnFailed', event));
  }

  /** Starts the worker pool. Rejects if mediasoup is outside the supported range. */
  static async create(options: RoomManagerOptions = {}): Promise<RoomManager> {
    if (!isSupportedMediasoupVersion(mediasoupVersion)) {
      throw new LecternError(
        ErrorCode.INTERNAL,
        `mediasoup ${mediasoupVersion} is not supported (needs ${SUPPORTED_MEDIASOUP_RANGE})`,
      );
    }
    // Refused before any worker starts (INVALID_CONFIG): nothing to clean up.
    validateManagerOptions(options);
    resolveRequestRateLimit(options, options.limits?.maxConsumersPerPeer ?? DEFAULT_LIMITS.maxConsumersPerPeer);
    if (options.auth !== undefined && !(options.auth instanceof TokenVerifier)) new TokenVerifier(options.auth);
    const pool = await WorkerPool.create(options.workers);
    const manager = new RoomManager(pool, new LecternMetrics(options.metrics), options);
    manager.metrics.bind(manager);
    return manager;
  }

  /**
   * Runs one request of one peer: validates `data` against the method's schema,
   * applies it in the peer's request order, and resolves with plain JSON. Rejects
   * only with {@link LecternError} (send `error.toJSON()` to the client).
   */
  handle(context: PeerContext, method: string, data: unknown): Promise<unknown> {
    return this.measured(context, method, () => this.run(this.accept(context), method, data));
  }

  /**
   * Verifies an access token ({@link AccessToken}) with the manager's
   * {@link RoomManagerOptions.auth} and returns the request context it stands
   * for: room, peer id (the token's identity), role, display name and grants.
   * Verify once per connection and pass the context to {@link handle}; or call
   * {@link handleWithToken} for every request. With `roomId`, the token must be
   * for that room. A banned identity is refused here already.
   * @throws {LecternError} `UNAUTHORIZED` (bad, expired, not yet valid, wrong
   *   issuer / audience / room; `details.reason`), `FORBIDDEN` (banned),
   *   `INVALID_CONFIG` (no `auth` configured).
   */
  async verifyToken(token: string, expect: { roomId?: string } = {}): Promise<PeerContext> {
    this.assertOpen();
    if (!this.verifier) throw new LecternError(ErrorCode.INVALID_CONFIG, 'access tokens need RoomManagerOptions.auth');
    const context = contextFromToken(await this.verifier.verify(token, expect));
    if (this.bans.isBanned(context.roomId, context.peerId)) {
      throw new LecternError(ErrorCode.FORBIDDEN, `${context.peerId} is banned from room ${context.roomId}`, { reason: 'banned' });
    }
    return context;
  }

  /**
   * {@link handle} for the context a token stands for ({@link verifyToken}
   * runs first, for every request: an expired token stops working at once).
   */
  handleWithToken(token: string, method: string, data: unknown): Promise<unknown> {
    return this.measured(undefined, method, async () => this.run(this.accept(await this.verifyToken(token)), method, data));
  }

  /** One request of an accepted context: the budget, the method, then {@link dispatch}. */
  private async run(ctx: PeerContext, method: string, data: unknown): Promise<unknown> {
    if (method !== 'leave') this.takeRequestBudget(ctx);
    if (!isRequestMethod(method)) throw new LecternError(ErrorCode.UNKNOWN_METHOD, `unknown method: ${printable(method)}`);
    return this.dispatch(ctx, method, data);
  }

  /** The typed form of {@link handle} for hosts calling from TypeScript. */
  request<M extends RequestMethod>(context: PeerContext, method: M, data: RequestMap[M]): Promise<ResponseMap[M]> {
    // One path for both: the dispatch table answers method M with ResponseMap[M].
    return this.handle(context, method, data) as Promise<ResponseMap[M]>;
  }

  /** The room, creating it (with its first router) if needed. */
  private async getOrCreateRoom(roomId: string, options: Partial<RoomOptions> = {}): Promise<Room> {
    this.assertOpen();
    const existing = this.rooms.get(roomId);
    if (existing) return existing;
    let creating = this.creating.get(roomId);
    if (!creating) {
      creating = this.createRoom(roomId, options).finally(() => this.creating.delete(roomId));
      this.creating.set(roomId, creating);
    }
    return creating;
  }

  /** A room's state and events (read only: peers act through {@link handle}). */
  getRoom(roomId: string): RoomView | undefined {
    return this.rooms.get(roomId);
  }

  /** Every open room's stats, by room id. */
  roomStats(): { roomId: string; stats: RoomStats }[] {
    return [...this.rooms.values()].map((room) => ({ roomId: room.id, stats: room.stats() }));
  }

  get roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  /**
   * Closes a room: every peer gets `roomClosed` (with `reason` when given), every
   * router closes. In a cluster (MediaNode) the room ends on every node it spans.
   */
  closeRoom(roomId: string, options: { reason?: string } = {}): void {
    this.rooms.get(roomId)?.end(options.reason);
  }

  // ---------------------------------------------------------------- the host's admin API

  /** Every open room with its counts. */
  listRooms(): RoomSummary[] {
    return [...this.rooms.values()].map((room) => {
      const stats = room.stats();
      return {
        roomId: room.id,
        peers: stats.peers,
        lecturers: room.peerDetails().filter((p) => p.role === 'lecturer').map((p) => p.peerId),
        producers: stats.producers,
        consumers: stats.consumers,
        routers: stats.routers.length,
      };
    });
  }

  /** A room's peers with their grants and media, in join order. NOT_FOUND for a room that is not open. */
  listPeers(roomId: string): PeerDetails[] {
    return this.requireRoom(roomId).peerDetails();
  }

  /**
   * Removes a peer from its room: it gets `removed` (reason, banned), its
   * transports close, the others get `peerLeft` with reason `removed`. With
   * `ban`, it cannot join again (any token of that identity is FORBIDDEN) for
   * the room's lifetime or `banSeconds`. The host should also close the
   * peer's signaling once the notification is sent (the manager emits
   * `peerLeft` with reason `removed`).
   */
  async removePeer(roomId: string, peerId: string, options: RemovePeerOptions = {}): Promise<void> {
    await this.requireRoom(roomId).expel(peerId, options);
  }

  /** Pauses (or with `close`, closes) a peer's producer; its owner gets `mutedByHost`. */
  async muteProducer(roomId: string, producerId: string, options: MuteProducerOptions = {}): Promise<void> {
    await this.requireRoom(roomId).muteProducer(producerId, options);
  }

  private requireRoom(roomId: string): Room {
    this.assertOpen();
    const room = this.rooms.get(roomId);
    if (!room) throw new LecternError(ErrorCode.NOT_FOUND, `room not found: ${printable(roomId)}`);
    return room;
  }

  /** Closes every room and every worker. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.budgetSweep);
    this.requestBudgets?.clear();
    this.bans.clear();
    for (const timer of this.emptyTimers.values()) clearTimeout(timer);
    this.emptyTimers.clear();
    for (const room of [...this.rooms.values()]) room.close();
    this.pool.close();
    this.metrics.unbind();
  }

  /**
   * The per-peer request budget in force ({@link RoomManagerOptions.requestRateLimit}
   * with its defaults applied), or undefined when it is off. A host that
   * rate-limits its own signaling should allow at least this much.
   */
  get requestRateLimit(): Readonly<RateLimit> | undefined {
    return this.requestBudgets?.rate;
  }

  /**
   * How full this manager is: 0 (idle) … 1 (no headroom), the least loaded
   * live worker's estimated CPU against the admission ceiling (1 when no
   * worker is up). What a cluster node reports as its load
   * (`@lectern/server-sdk/cluster`'s `NodeRegistry`).
   */
  get loadEstimate(): number {
    const workers = this.pool.workers;
    if (workers.length === 0) return 1;
    return Math.min(1, ...workers.map((w) => w.load.estimatedCpuPercent / this.pool.cpuCeilingPercent));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async dispatch<M extends RequestMethod>(ctx: PeerContext, method: M, data: unknown): Promise<ResponseMap[M]> {
    const handler: MethodHandler<M> = requestHandlers[method];
    // Host-enabled methods: refused before anything else is looked at.
    if (isHostOnlyMethod(method) && !this.plainTransport.enabled) {
      throw new LecternError(ErrorCode.FORBIDDEN, `${method} is not enabled on this server`);
    }
    const size = jsonSize(data);
    if (size > this.limits.maxRequestBytes) {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `request is ${size} bytes; the limit is ${this.limits.maxRequestBytes}`);
    }
    const parsed = handler.schema.safeParse(data ?? {});
    if (!parsed.success) {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `invalid ${method} request: ${summarize(parsed.error)}`, {
        issues: parsed.error.issues.slice(0, 5).map((i) => ({ path: issuePath(i), message: truncate(i.message, 200) })),
      });
    }
    if (handler.scope === 'room') {
      // Before the peer joined: the grants the context states (a token's), over the role's defaults.
      const grants = resolveGrants(trustedDefaultGrants(ctx.role ?? 'student'), ctx.grants);
      assertGranted(method, grants, parsed.data);
      const room = await this.getOrCreateRoom(ctx.roomId, ctx.roomOptions);
      return handler.run(room, this.caller(ctx, grants), parsed.data);
    }
    const room = this.rooms.get(ctx.roomId);
    if (!room) throw new LecternError(ErrorCode.NOT_FOUND, `room not found: ${ctx.roomId}`);
    const grants = room.peerGrants(ctx.peerId);
    if (!grants) throw new LecternError(ErrorCode.NOT_FOUND, `peer not found (join first): ${ctx.peerId}`);
    // A joined peer's requests: the grants it joined with (a later context cannot widen them).
    assertGranted(method, grants, parsed.data);
    return room.serialize(ctx.peerId, () => handler.run(room, this.caller(ctx, grants), parsed.data));
  }

  private caller(ctx: PeerContext, grants: PeerGrants): Caller {
    return { peerId: ctx.peerId, role: ctx.role, grants, displayName: ctx.displayName };
  }

  private async createRoom(roomId: string, overrides: Partial<RoomOptions>): Promise<Room> {
    const options = { ...this.roomDefaults, ...overrides };
    // The defaults were checked at create(); what is wrong now came with the request's context.
    validateRoomOptions(options, ErrorCode.INVALID_REQUEST, 'invalid room options');
    const room = await Room.create(roomId, options, {
      pool: this.pool,
      timeoutMs: this.pool.requestTimeoutMs,
      limits: this.limits,
      transport: this.transport,
      plainTransport: this.plainTransport,
      bans: this.bans,
    });
    if (this.closed) {
      room.close();
      throw new LecternError(ErrorCode.CLOSED, 'manager closed');
    }
    this.rooms.set(roomId, room);
    if (this.roomLinker) room.attachLink(this.roomLinker(room));
    room.on('peerJoined', (e) => this.safeEmit('peerJoined', { ...e, roomId }));
    room.on('newProducer', (e) => this.safeEmit('newProducer', { ...e, roomId }));
    room.on('producerClosed', (e) => this.safeEmit('producerClosed', { ...e, roomId }));
    room.on('activeSpeaker', (e) => this.safeEmit('activeSpeaker', { ...e, roomId }));
    room.on('gesture', (e) => this.safeEmit('gesture', { ...e, roomId }));
    room.on('handQueueChanged', (e) => this.safeEmit('handQueueChanged', { ...e, roomId }));
    room.on('routerLost', (e) => this.safeEmit('routerLost', { ...e, roomId }));
    room.on('routerAdded', (e) => this.safeEmit('routerAdded', { ...e, roomId }));
    room.on('routerRemoved', (e) => this.safeEmit('routerRemoved', { ...e, roomId }));
    room.on('peerLeft', (event) => {
      this.requestBudgets?.release(budgetKey(roomId, event.peerId));
      this.safeEmit('peerLeft', { ...event, roomId });
      if (room.peerCount === 0 && !room.isClosed) this.scheduleEmptyClose(room);
    });
    room.on('peerJoined', () => this.cancelEmptyClose(roomId));
    room.on('notification', (n) => this.safeEmit('notification', n));
    room.on('listenerError', (e) => this.safeEmit('listenerError', e));
    room.once('close', () => {
      this.cancelEmptyClose(roomId);
      if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
      this.safeEmit('roomClosed', { roomId });
    });
    this.safeEmit('roomCreated', { roomId });
    this.scheduleEmptyClose(room);
    return room;
  }

  private scheduleEmptyClose(room: Room): void {
    const ms = this.options.emptyRoomTimeoutMs === undefined ? 60_000 : this.options.emptyRoomTimeoutMs;
    if (ms === null || room.isClosed) return;
    this.cancelEmptyClose(room.id);
    const timer = setTimeout(() => {
      this.emptyTimers.delete(room.id);
      if (room.peerCount === 0) room.close();
    }, ms);
    timer.unref();
    this.emptyTimers.set(room.id, timer);
  }

  private cancelEmptyClose(roomId: string): void {
    clearTimeout(this.emptyTimers.get(roomId));
    this.emptyTimers.delete(roomId);
  }

  /** Times a request and reports how it ended (the `requestCompleted` / `requestFailed` events metrics and logs use). */
  private async measured<T>(context: PeerContext | undefined, method: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const label = isRequestMethod(method) ? method : 'unknown';
    try {
      const result = await run();
      this.safeEmit('requestCompleted', { method: label, durationMs: performance.now() - started });
      return result;
    } catch (thrown) {
      const error = toLecternError(thrown);
      this.safeEmit('requestCompleted', { method: label, durationMs: performance.now() - started, code: error.code });
      this.safeEmit('requestFailed', {
        roomId: printable((context as Partial<PeerContext> | null | undefined)?.roomId),
        peerId: printable((context as Partial<PeerContext> | null | undefined)?.peerId),
        method: printable(method),
        error,
      });
      throw error;
    }
  }

  /** One token of the peer's request budget, or RATE_LIMITED. */
  private takeRequestBudget(ctx: PeerContext): void {
    const budgets = this.requestBudgets;
    if (!budgets) return;
    const retryAfterMs = budgets.take(budgetKey(ctx.roomId, ctx.peerId));
    if (retryAfterMs > 0) throw rateLimited('requests from this peer', budgets.rate, retryAfterMs);
  }

  /** The manager is open and the host's context is well-formed. */
  private accept(context: PeerContext): PeerContext {
    this.assertOpen();
    return parseContext(context);
  }

  private assertOpen(): void {
    if (this.closed) throw new LecternError(ErrorCode.CLOSED, 'room manager is closed');
  }
}

const DEFAULT_LIMITS: PeerLimits & { maxRequestBytes: number } = { maxTransportsPerPeer: 4, maxConsumersPerPeer: 500, maxRequestBytes: 64 * 1024 };

/** How often budgets that refilled are dropped (peers that left drained, ids that never joined). */
const BUDGET_SWEEP_MS = 10_000;

/** Room and peer ids are `[A-Za-z0-9_.:-]`: a space cannot be part of either. */
const budgetKey = (roomId: string, peerId: string) => `${roomId} ${peerId}`;

/** The per-peer request rate ({@link RoomManagerOptions.requestRateLimit}); undefined when off. INVALID_CONFIG if it cannot work. */
function resolveRequestRateLimit(options: RoomManagerOptions, maxConsumersPerPeer: number): RateLimit | undefined {
  if (options.requestRateLimit === false) return undefined;
  const rate = {
    perSecond: options.requestRateLimit?.perSecond ?? 50,
    burst: options.requestRateLimit?.burst ?? 2 * maxConsumersPerPeer + 100,
  };
  assertRateLimit(rate, 'requestRateLimit');
  return rate;
}

const contextSchema = z.object({
  roomId: idSchema,
  peerId: idSchema,
  role: peerRoleSchema.optional(),
  roomOptions: z.record(z.string(), z.unknown()).optional(),
  grants: peerGrantsSchema.optional(),
  displayName: z.string().max(128).optional(),
});

/** The context comes from the host, but a host bug must still give a typed error. */
function parseContext(context: PeerContext): PeerContext {
  const parsed = contextSchema.safeParse(context);
  if (!parsed.success) {
    throw new LecternError(ErrorCode.INVALID_REQUEST, `invalid peer context: ${summarize(parsed.error)}`);
  }
  return context;
}

/**
 * Room settings that cannot work: `INVALID_CONFIG` for the manager's defaults
 * (`RoomManagerOptions.room`, at create), `INVALID_REQUEST` for a request
 * context's `roomOptions` (the request is what is wrong then).
 */
function validateRoomOptions(o: Partial<RoomOptions>, code: ErrorCode, prefix: string): void {
  const bad = (msg: string) => new LecternError(code, `${prefix}: ${msg}`);
  if (o.maxTransportsPerRouter !== undefined && (!Number.isInteger(o.maxTransportsPerRouter) || o.maxTransportsPerRouter < 1)) {
    throw bad('maxTransportsPerRouter must be an integer >= 1');
  }
  if (o.maxPeers !== undefined && (!Number.isInteger(o.maxPeers) || o.maxPeers < 1)) throw bad('maxPeers must be an integer >= 1');
  if (o.studentMedia !== undefined && !['off', 'audio', 'all'].includes(o.studentMedia)) throw bad('studentMedia must be off, audio or all');
  if (o.mediaCodecs !== undefined && !(Array.isArray(o.mediaCodecs) && o.mediaCodecs.length > 0)) throw bad('mediaCodecs must be a non-empty array');
  if (o.activeSpeaker !== undefined && typeof o.activeSpeaker !== 'boolean') throw bad('activeSpeaker must be a boolean');
}

/**
 * Every {@link RoomManagerOptions} field that cannot work is refused with
 * `INVALID_CONFIG` before a worker starts: the worker pool's
 * ({@link validateWorkerPoolOptions}), the room defaults, the limits, the
 * empty-room timeout and the transport settings.
 */
function validateManagerOptions(options: RoomManagerOptions): void {
  const config = (option: string, must: string) => new LecternError(ErrorCode.INVALID_CONFIG, `${option} must be ${must}`, { option });
  if (typeof options !== 'object' || options === null) throw config('RoomManager options', 'an object');
  validateWorkerPoolOptions(options.workers ?? {});
  if (options.room !== undefined) {
    if (typeof options.room !== 'object' || options.room === null) throw config('room', 'an object');
    validateRoomOptions(options.room, ErrorCode.INVALID_CONFIG, 'invalid RoomManagerOptions.room');
  }
  const limits = options.limits ?? {};
  for (const name of ['maxTransportsPerPeer', 'maxConsumersPerPeer', 'maxRequestBytes'] as const) {
    const value = limits[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw config(`limits.${name}`, 'an integer >= 1');
  }
  const empty = options.emptyRoomTimeoutMs;
  if (empty !== undefined && empty !== null && !(typeof empty === 'number' && Number.isFinite(empty) && empty >= 0)) {
    throw config('emptyRoomTimeoutMs', 'a number of milliseconds >= 0, or null');
  }
  const rtc = options.webRtcTransport ?? {};
  if (rtc.listenInfos !== undefined && !(Array.isArray(rtc.listenInfos) && rtc.listenInfos.length > 0)) {
    throw config('webRtcTransport.listenInfos', 'a non-empty array');
  }
  for (const name of ['initialAvailableOutgoingBitrate', 'maxIncomingBitrate', 'iceConsentTimeoutSeconds'] as const) {
    const value = rtc[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw config(`webRtcTransport.${name}`, 'a number >= 0');
  }
  const plain = options.plainTransport;
  if (plain?.enabled !== undefined && typeof plain.enabled !== 'boolean') throw config('plainTransport.enabled', 'a boolean');
}

function summarize(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${issuePath(i) || '(root)'}: ${truncate(i.message, 200)}`)
    .join('; ');
}

/** zod puts offending record keys in the path: cut them so a hostile key is not echoed whole. */
function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.map((p) => truncate(String(p), 32)).join('.');
}

/**
 * A bounded, printable form of something a host passed where a string belongs
 * (a method name, a context's ids). Never throws: `String()` of a
 * null-prototype object or of an object whose `toString` throws would, and
 * that must not turn a typed rejection into a TypeError.
 */
function printable(value: unknown): string {
  return typeof value === 'string' ? truncate(value) : `(${value === null ? 'null' : typeof value})`;
}

function jsonSize(data: unknown): number {
  try {
    return JSON.stringify(data ?? {})?.length ?? 0;
  } catch {
    throw new LecternError(ErrorCode.INVALID_REQUEST, 'request is not JSON-serialisable');
  }
}

/**
 * Makes every room of `manager` — those it has and those it creates — span
 * nodes through `linker` (a cluster's MediaNode; internal, not part of the
 * package's API). INVALID_STATE if another linker is set; `undefined` removes
 * it (rooms keep the links they have until they close).
 */
export function setRoomLinker(manager: RoomManager, linker: ((room: Room) => RoomLink) | undefined): Room[] {
  const internals = manager as unknown as { roomLinker: ((room: Room) => RoomLink) | undefined; rooms: Map<string, Room> };
  if (linker && internals.roomLinker) throw new LecternError(ErrorCode.INVALID_STATE, 'this RoomManager already belongs to a MediaNode');
  internals.roomLinker = linker;
  return [...internals.rooms.values()];
}
