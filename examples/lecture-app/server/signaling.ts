/**
 * The example's signaling: one WebSocket per peer at `/ws?token=…`, the token
 * an access token the app minted at `/api/join` (standing in for the LMS, see
 * `join-api.ts`). The upgrade is refused with HTTP 401 (bad, expired or
 * missing token) or 403 (banned) before the handshake; everything else (room,
 * peer id, role, display name, grants) comes from the verified token, never
 * from the page. Requests `{id, method, data}` go to `manager.handle()` with
 * that context (or the app methods in `app-methods.ts`); replies are `{id,
 * data}` or `{id, error: {code, message, details?}}` with the protocol's error
 * codes; server notifications are `{notification, data}`.
 *
 * What one connection may do ({@link SignalingLimits}; defaults in
 * {@link DEFAULT_SIGNALING_LIMITS}, overridden through `LectureAppOptions.signaling`):
 *
 * | limit | default | over it |
 * | --- | --- | --- |
 * | `maxMessageBytes` | 128 KiB | ws `maxPayload`: the connection is closed with 1009 |
 * | `messagesPerSecond` / `messageBurst` | 50 / the SDK's per-peer request burst + 100 | token bucket per connection (ws pings count too): `{id, error: {code: 'RATE_LIMITED', details: {retryAfterMs}}}`, the request is not run |
 * | `floodTolerance` / `floodRecoveryPerSecond` | 50 / 5 | a connection that keeps flooding (more rate-limited messages than the tolerance, which recovers 5 a second) is closed with 1008 |
 * | `maxPendingRequests` | 32 | requests in flight per connection: `RATE_LIMITED` with `details.maxPendingRequests` |
 * | `maxConnections` / `maxConnectionsPerIp` | 1000 / 50 | the upgrade is refused before the handshake: HTTP 503 / 429 |
 * | `heartbeatIntervalMs` | 30 s | a ws ping each interval; a peer that has not answered the previous one is terminated |
 * | `handshakeTimeoutMs` | 10 s | the HTTP server's headers/request timeout: a request (the upgrade included) must arrive within it (408) |
 * | `closeTimeoutMs` | 2 s | a closing peer that does not finish the close handshake is terminated |
 * | `maxBufferedBytes` | 4 MiB | a peer that stops reading (its send buffer above this) is terminated |
 * | `maxIdLength` / `maxMethodLength` / `maxJsonDepth` | 64 / 64 / 32 | `INVALID_REQUEST`; the connection stays |
 *
 * A frame ws refuses (over the size limit, invalid UTF-8, reserved bits or
 * opcodes, unmasked, a fragmented control frame, a bad close code) closes only
 * that connection, with ws's code (1009, 1007, 1002); its peer leaves the room
 * at once, as on close. Replies to a socket that is no longer open are dropped.
 *
 * Close codes of the app: 4001 removed from the room by a lecturer (after the
 * SDK's `removed` notification), 4409 replaced by a newer connection of the
 * same peer, 4000 the lecturer ended the lecture (`endLecture`), 1001 server
 * closing.
 */
import type { IncomingMessage, Server } from 'node:http';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  ErrorCode,
  LecternError,
  toLecternError,
  type LecternErrorJSON,
  TokenBucket,
  type Notification,
  type RateLimit,
  type RoomManager,
} from '@lectern/server-sdk';
import type { TranscriptionService, TranscriptionServiceEvents } from '@lectern/server-sdk/transcription';
import { createAppMethods, isAppMethod, LECTURE_ENDED_CLOSE, type AppMethodResult, type Caller } from './app-methods.js';
import { requestTarget } from './http-paths.js';
import type { Logger } from './log.js';
import { parseClientMessage, type ClientMessage, type RequestId, type ServerMessage } from './wire.js';

/** Per-connection and per-server bounds of the signaling (see the table at the top of this file). */
export interface SignalingLimits {
  /** Largest message (and frame) accepted, in bytes; above it ws closes the connection with 1009. */
  maxMessageBytes: number;
  /** Messages a connection may send per second on average (token bucket refill rate). */
  messagesPerSecond: number;
  /** Messages a connection may send at once (token bucket capacity). */
  messageBurst: number;
  /** Rate-limited messages a connection may send before it is closed with 1008. */
  floodTolerance: number;
  /** How fast that tolerance comes back, per second. */
  floodRecoveryPerSecond: number;
  /** Requests of one connection in flight at once. */
  maxPendingRequests: number;
  /** Open WebSocket connections on this server. */
  maxConnections: number;
  /** Open WebSocket connections from one remote address. */
  maxConnectionsPerIp: number;
  /** Interval of the ws ping; a peer silent for a whole interval is terminated. */
  heartbeatIntervalMs: number;
  /** Time for a request's headers (the WebSocket upgrade included) to arrive. */
  handshakeTimeoutMs: number;
  /** Time a closing peer gets to finish the close handshake. */
  closeTimeoutMs: number;
  /** Bytes queued for a peer that does not read before it is terminated. */
  maxBufferedBytes: number;
  /** Longest string request id. */
  maxIdLength: number;
  /** Longest method name. */
  maxMethodLength: number;
  /** Deepest nesting of arrays and objects in a message. */
  maxJsonDepth: number;
}

export const DEFAULT_SIGNALING_LIMITS: Readonly<SignalingLimits> = Object.freeze({
  // The SDK refuses request data over 64 KiB (RoomManager limits.maxRequestBytes); this leaves room for the envelope.
  maxMessageBytes: 128 * 1024,
  // A browser joining sends consume + resumeConsumer for every producer in the room at once: the
  // burst follows the SDK's own per-peer budget (resolveSignalingLimits), with room for pings and app methods.
  messagesPerSecond: 50,
  messageBurst: 100,
  floodTolerance: 50,
  floodRecoveryPerSecond: 5,
  maxPendingRequests: 32,
  maxConnections: 1000,
  maxConnectionsPerIp: 50,
  heartbeatIntervalMs: 30_000,
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxIdLength: 64,
  maxMethodLength: 64,
  maxJsonDepth: 32,
});

/**
 * The defaults with `overrides` applied; every limit must be a positive number.
 * Unless overridden, `messageBurst` is at least the SDK's per-peer request burst
 * (`RoomManager.requestRateLimit`) + 100: this signaling must not refuse what
 * the SDK would serve.
 */
export function resolveSignalingLimits(overrides: Partial<SignalingLimits> = {}, sdkRequestRate?: Readonly<RateLimit>): SignalingLimits {
  const limits: SignalingLimits = { ...DEFAULT_SIGNALING_LIMITS };
  if (sdkRequestRate) limits.messageBurst = Math.max(limits.messageBurst, sdkRequestRate.burst + 100);
  for (const name of Object.keys(limits) as (keyof SignalingLimits)[]) {
    const value = overrides[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `signaling limit ${name} must be a positive number (got ${String(value)})`);
    }
    limits[name] = value;
  }
  return limits;
}

/** Close codes this signaling sends (the app's own are in the 4000 range). */
export const CLOSE_CODES = {
  goingAway: 1001,
  policyViolation: 1008,
  internalError: 1011,
  lectureEnded: LECTURE_ENDED_CLOSE.code,
  removed: 4001,
  replaced: 4409,
} as const;

export interface SignalingOptions {
  limits?: Partial<SignalingLimits>;
  logger?: Logger;
}

export interface Signaling {
  readonly limits: SignalingLimits;
  /** Open WebSocket connections. */
  readonly connectionCount: number;
  close(): void;
}

/** One WebSocket connection and what it is allowed. */
class Connection {
  /** Answered the last heartbeat ping (or has not been pinged yet). */
  alive = true;
  /** Requests sent and not yet answered. */
  pending = 0;
  readonly messages: TokenBucket;
  readonly floodAllowance: TokenBucket;

  constructor(
    readonly socket: WebSocket,
    readonly ip: string,
    /** Who the verified token says this is. */
    readonly caller: Caller,
    limits: SignalingLimits,
  ) {
    const now = performance.now();
    this.messages = new TokenBucket({ perSecond: limits.messagesPerSecond, burst: limits.messageBurst }, now);
    this.floodAllowance = new TokenBucket({ perSecond: limits.floodRecoveryPerSecond, burst: limits.floodTolerance }, now);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  toString(): string {
    return `${this.caller.roomId}/${this.caller.peerId} (${this.ip})`;
  }
}

/**
 * Serves WebSocket signaling at `/ws` on `server` (upgrades elsewhere get 404).
 * Every socket has an error path that ends only that socket.
 */
export function attachSignaling(
  server: Server,
  manager: RoomManager,
  transcription: TranscriptionService,
  options: SignalingOptions = {},
): Signaling {
  const limits = resolveSignalingLimits(options.limits, manager.requestRateLimit);
  const logger = options.logger ?? console;
  const wss = new WebSocketServer({
    noServer: true, // the upgrade handler below applies the connection caps before the handshake
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false, // no compression: a deflate bomb is not a concern, and RSV1 is a protocol error
    clientTracking: false,
  });
  wss.on('error', (error) => logger.error('[signaling] WebSocket server error', error));

  const connections = new Set<Connection>();
  const connectionsPerIp = new Map<string, number>();
  /** The connection that speaks for each peer, by room then peer id (a newer connection replaces it). */
  const rooms = new Map<string, Map<string, Connection>>();
  const memberOf = (roomId: string, peerId: string) => rooms.get(roomId)?.get(peerId);

  const appMethods = createAppMethods({
    manager,
    transcription,
    logger,
    closeRoomConnections(roomId) {
      const members = rooms.get(roomId);
      if (!members) return;
      // The room is closed: these peers are gone from it already, so no `leave` on their close.
      rooms.delete(roomId);
      for (const connection of members.values()) closeSocket(connection.socket, LECTURE_ENDED_CLOSE.code, LECTURE_ENDED_CLOSE.reason);
    },
  });

  /** Sends one message if the socket is open; never throws (notification listeners share the manager's emitter). */
  function send(connection: Connection, message: ServerMessage): void {
    const { socket } = connection;
    if (!connection.isOpen) return;
    if (socket.bufferedAmount > limits.maxBufferedBytes) {
      logger.warn(`[signaling] ${connection}: ${socket.bufferedAmount} bytes unread (limit ${limits.maxBufferedBytes}); terminating`);
      endMembership(connection);
      socket.terminate();
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (error) {
      logger.error(`[signaling] ${connection}: a message could not be serialised`, error);
      return;
    }
    socket.send(text); // a failed write surfaces as the socket's 'error'
  }

  const replyError = (connection: Connection, id: RequestId | null, error: LecternErrorJSON) => send(connection, { id, error });

  /** The peer leaves its room (once) unless a newer connection took over or the room ended. */
  function endMembership(connection: Connection): void {
    const { caller } = connection;
    const members = rooms.get(caller.roomId);
    if (members?.get(caller.peerId) !== connection) return;
    members.delete(caller.peerId);
    if (members.size === 0) rooms.delete(caller.roomId);
    manager.handle(caller, 'leave', {}).catch(() => undefined); // NOT_FOUND when it never joined
  }

  /** Starts the close handshake; a peer that does not finish it within closeTimeoutMs is terminated. */
  function closeSocket(socket: WebSocket, code: number, reason: string): void {
    if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
    setTimeout(() => socket.terminate(), limits.closeTimeoutMs).unref(); // no-op once closed
  }

  function closeConnection(connection: Connection, code: number, reason: string): void {
    endMembership(connection);
    closeSocket(connection.socket, code, reason);
  }

  /**
   * Counts a message (or ping) against the connection's rate: 'ok', 'limited'
   * (over the rate, within the flood tolerance) or 'closed' (tolerance spent:
   * the connection is being closed with 1008).
   */
  function chargeRate(connection: Connection): 'ok' | { limitedForMs: number } | 'closed' {
    if (!connection.isOpen) return 'closed'; // frames still arriving after the close began are not served
    const now = performance.now();
    const limitedForMs = connection.messages.take(now);
    if (limitedForMs === 0) return 'ok';
    if (connection.floodAllowance.take(now) === 0) return { limitedForMs };
    logger.warn(`[signaling] ${connection}: kept sending over ${limits.messagesPerSecond} messages/s; closing (1008)`);
    closeConnection(connection, CLOSE_CODES.policyViolation, 'message rate limit exceeded');
    return 'closed';
  }

  function rateLimited(retryAfterMs: number): LecternErrorJSON {
    return new LecternError(
      ErrorCode.RATE_LIMITED,
      `at most ${limits.messagesPerSecond} messages per second (bursts of ${limits.messageBurst}); retry in ${retryAfterMs} ms`,
      { messagesPerSecond: limits.messagesPerSecond, burst: limits.messageBurst, retryAfterMs },
    ).toJSON();
  }

  async function dispatch(caller: Caller, message: ClientMessage): Promise<AppMethodResult> {
    if (isAppMethod(message.method)) return appMethods(caller, message.method);
    return { data: await manager.handle(caller, message.method, message.data ?? {}) };
  }

  async function serveRequest(connection: Connection, caller: Caller, message: ClientMessage): Promise<void> {
    let afterReply: (() => void) | undefined;
    connection.pending++;
    try {
      const result = await dispatch(caller, message);
      send(connection, { id: message.id, data: result.data ?? {} });
      afterReply = result.afterReply;
    } catch (error) {
      const lecternError = toLecternError(error);
      if (lecternError.code === ErrorCode.INTERNAL) logger.error(`[signaling] ${connection}: ${message.method} failed`, error);
      replyError(connection, message.id, lecternError.toJSON());
    } finally {
      connection.pending--;
    }
    afterReply?.(); // outside the try: the request was answered once, whatever happens next
  }

  function onMessage(connection: Connection, caller: Caller, raw: RawData, isBinary: boolean): void {
    if (!connection.isOpen) return; // frames that arrive while closing are not requests
    const parsed = isBinary
      ? { ok: false as const, id: null, reason: 'binary frames are not accepted; send JSON text' }
      : parseClientMessage(rawText(raw), limits);
    const id = parsed.ok ? parsed.message.id : parsed.id;
    const rate = chargeRate(connection);
    if (rate === 'closed') return;
    if (rate !== 'ok') {
      replyError(connection, id, rateLimited(rate.limitedForMs));
      return;
    }
    if (!parsed.ok) {
      replyError(connection, id, { code: ErrorCode.INVALID_REQUEST, message: parsed.reason });
      return;
    }
    if (connection.pending >= limits.maxPendingRequests) {
      replyError(connection, id, new LecternError(
        ErrorCode.RATE_LIMITED,
        `at most ${limits.maxPendingRequests} requests in flight; wait for replies`,
        { maxPendingRequests: limits.maxPendingRequests },
      ).toJSON());
      return;
    }
    serveRequest(connection, caller, parsed.message).catch((error: unknown) => logger.error(`[signaling] ${connection}: request handling failed`, error));
  }

  function onConnection(socket: WebSocket, caller: Caller, ip: string): void {
    const { roomId, peerId } = caller;
    const connection = new Connection(socket, ip, caller, limits);
    connections.add(connection);
    connectionsPerIp.set(ip, (connectionsPerIp.get(ip) ?? 0) + 1);

    // First, before anything else can fail: an error ends this socket only. For a refused frame ws
    // has already sent its close code (1002/1007/1009); the peer leaves now, not after the handshake.
    socket.on('error', (error) => {
      logger.warn(`[signaling] ${connection}: ${error.message}; closing this connection`);
      closeConnection(connection, CLOSE_CODES.internalError, 'connection error');
    });
    socket.on('close', () => {
      connections.delete(connection);
      const count = (connectionsPerIp.get(ip) ?? 1) - 1;
      if (count > 0) connectionsPerIp.set(ip, count);
      else connectionsPerIp.delete(ip);
      endMembership(connection);
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    // Pings cost a message each (ws answers every one): a ping flood is a flood. (ws itself also
    // terminates a peer that has 60 answers unsent: a flood faster than the socket drains.)
    socket.on('ping', () => void chargeRate(connection));

    let members = rooms.get(roomId);
    if (!members) rooms.set(roomId, (members = new Map()));
    const previous = members.get(peerId);
    members.set(peerId, connection); // before closing the previous one, so its close does not make the peer leave
    if (previous) closeSocket(previous.socket, CLOSE_CODES.replaced, 'replaced by a newer connection');
    socket.on('message', (raw, isBinary) => onMessage(connection, caller, raw, isBinary));
  }

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Until ws owns the socket (and after a refusal), a reset must not become an uncaught 'error'.
    socket.on('error', () => socket.destroy());
    const url = requestTarget(request.url);
    if (!url) return refuseUpgrade(socket, 400, 'bad request target');
    if (url.pathname !== '/ws') return refuseUpgrade(socket, 404, 'WebSocket signaling is at /ws');
    if (connections.size >= limits.maxConnections) {
      logger.warn(`[signaling] refused a connection: ${connections.size} open (limit ${limits.maxConnections})`);
      return refuseUpgrade(socket, 503, 'too many connections', { 'Retry-After': '10' });
    }
    const ip = request.socket.remoteAddress ?? 'unknown';
    if ((connectionsPerIp.get(ip) ?? 0) >= limits.maxConnectionsPerIp) {
      return refuseUpgrade(socket, 429, `at most ${limits.maxConnectionsPerIp} connections per address`, { 'Retry-After': '10' });
    }
    // Who this is comes from the verified token only (401 bad or expired, 403 banned).
    manager.verifyToken(url.searchParams.get('token') ?? '').then(
      (context) => {
        if (socket.destroyed) return;
        const caller: Caller = { ...context, role: context.role ?? 'student' };
        // ws answers a malformed handshake itself (400) and calls back only for a valid one.
        wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, caller, ip));
      },
      (error: unknown) => {
        const e = toLecternError(error);
        const status = e.code === ErrorCode.FORBIDDEN ? 403 : e.code === ErrorCode.UNAUTHORIZED ? 401 : 500;
        if (status === 500) logger.error('[signaling] token verification failed', error);
        refuseUpgrade(socket, status, status === 500 ? 'internal error' : e.message);
      },
    );
  }

  const onNotification = ({ roomId, to, name, data }: Notification) => {
    for (const peerId of to) {
      const connection = memberOf(roomId, peerId);
      if (connection) send(connection, { notification: name, data });
    }
  };
  const broadcast = (roomId: string, notification: string, data: unknown) => {
    for (const connection of rooms.get(roomId)?.values() ?? []) send(connection, { notification, data });
  };
  type TranscriptionListener<E extends keyof TranscriptionServiceEvents> = (event: TranscriptionServiceEvents[E]) => void;
  const onTranscript: TranscriptionListener<'transcriptUpdated'> = ({ roomId, entries }) => broadcast(roomId, 'transcript', { entries });
  const onStarted: TranscriptionListener<'transcriptionStarted'> = ({ roomId, lectureId }) =>
    broadcast(roomId, 'transcription', { state: 'running', lectureId });
  // With live captions a lecture has two: `source: 'live'` seconds after the end, then the
  // `batch` one that replaces it (the page labels the first as provisional).
  const onSummary: TranscriptionListener<'summaryReady'> = ({ roomId, lectureId, summary }) =>
    broadcast(roomId, 'summary', { lectureId, summary, source: summary.source ?? 'batch' });
  // The stop carries the summary that stands: when every batch failed it is the live one, and
  // no batch summary follows, so the page must not keep promising one.
  const onStopped: TranscriptionListener<'transcriptionStopped'> = ({ roomId, lectureId, summary }) =>
    broadcast(roomId, 'transcription', { state: 'stopped', lectureId, summary });

  // A peer a lecturer (or the host) removed has had its `removed` notification: its socket goes too.
  const onPeerLeft = ({ roomId, peerId, reason }: { roomId: string; peerId: string; reason: string }) => {
    if (reason !== 'removed') return;
    const connection = memberOf(roomId, peerId);
    if (!connection) return;
    const members = rooms.get(roomId)!;
    members.delete(peerId); // out of the room already: no `leave` on its close
    if (members.size === 0) rooms.delete(roomId);
    closeSocket(connection.socket, CLOSE_CODES.removed, 'removed from the room');
  };

  manager.on('notification', onNotification);
  manager.on('peerLeft', onPeerLeft);
  transcription.on('transcriptUpdated', onTranscript);
  transcription.on('transcriptionStarted', onStarted);
  transcription.on('summaryReady', onSummary);
  transcription.on('transcriptionStopped', onStopped);
  server.on('upgrade', onUpgrade);

  // Dead peers (no pong for a whole interval) are terminated; their peers leave as on close.
  const heartbeat = setInterval(() => {
    for (const connection of connections) {
      if (!connection.alive) {
        logger.warn(`[signaling] ${connection}: no pong for ${limits.heartbeatIntervalMs} ms; terminating`);
        endMembership(connection);
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      if (connection.isOpen) connection.socket.ping();
    }
  }, limits.heartbeatIntervalMs);
  heartbeat.unref();

  return {
    limits,
    get connectionCount() {
      return connections.size;
    },
    close() {
      clearInterval(heartbeat);
      server.off('upgrade', onUpgrade);
      manager.off('notification', onNotification);
      manager.off('peerLeft', onPeerLeft);
      transcription.off('transcriptUpdated', onTranscript);
      transcription.off('transcriptionStarted', onStarted);
      transcription.off('summaryReady', onSummary);
      transcription.off('transcriptionStopped', onStopped);
      for (const connection of connections) closeSocket(connection.socket, CLOSE_CODES.goingAway, 'server closing');
      wss.close();
    },
  };
}

/** A plain HTTP answer on a socket that will not become a WebSocket. */
function refuseUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw).toString('utf8');
}
