// The internal link between the signaling tier (the "gateway", which holds the
// clients) and one media node: JSON frames over one WebSocket per gateway.
//
//   gateway → node  { id, op: 'request', peer: PeerContext, method, data }
//                   { id, op: 'place', roomId }
//                   { id, op: 'stats' }
//   node → gateway  { id, ok: true, result } | { id, ok: false, error: LecternErrorJSON }   (one reply per id)
//                   { op: 'notification', notification }   (the manager's and the MediaNode's)
//                   { op: 'peersLost', event }
//
// Both ends check every incoming frame before acting on it: a bad frame gets an
// INVALID_REQUEST reply (the node) or an `invalidFrame` event (the gateway),
// never a crash.
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ErrorCode, LecternError, toLecternError, type LecternErrorJSON, type Notification, type PeerContext, type RoomStats } from '@lectern/server-sdk';
import type { MediaNodeEvents, Placement } from '@lectern/server-sdk/cluster';

/** A request id, chosen by the gateway and echoed in the reply. */
export type LinkRequestId = number | string;

export type LinkRequest =
  | { id: LinkRequestId; op: 'request'; peer: PeerContext; method: string; data?: unknown }
  | { id: LinkRequestId; op: 'place'; roomId: string }
  | { id: LinkRequestId; op: 'stats' };

export type LinkReply =
  | { id: LinkRequestId; ok: true; result: unknown }
  /** `id` is null when the frame carried no valid id. */
  | { id: LinkRequestId | null; ok: false; error: LecternErrorJSON };

export type PeersLostEvent = MediaNodeEvents['peersLost'];

export type LinkPush = { op: 'notification'; notification: Notification } | { op: 'peersLost'; event: PeersLostEvent };

/** What a node answers `stats` with. */
export interface NodeStats {
  rooms: { roomId: string; stats: RoomStats }[];
  load: number;
}

/** Frames larger than this are refused by ws (the manager bounds request JSON further, 64 KiB by default). */
export const MAX_FRAME_BYTES = 1 << 20;
const MAX_ID_LENGTH = 128;
const MAX_METHOD_LENGTH = 64;
const MAX_ROOM_ID_LENGTH = 256;

// ---------------------------------------------------------------------------
// Frame checks (pure)

export type ParsedLinkRequest = { ok: true; request: LinkRequest } | { ok: false; id: LinkRequestId | null; reason: string };

/** Parses and checks one gateway → node frame. `data` of a request is left to the manager's schemas. */
export function parseLinkRequest(text: string): ParsedLinkRequest {
  const value = parseObject(text);
  if (!value) return { ok: false, id: null, reason: 'expected a JSON object {id, op, ...}' };
  const id = isRequestId(value.id) ? value.id : null;
  if (id === null) return { ok: false, id: null, reason: `id must be a safe integer or a string of 1-${MAX_ID_LENGTH} characters` };
  switch (value.op) {
    case 'request': {
      const peer = checkPeer(value.peer);
      if (typeof peer === 'string') return { ok: false, id, reason: peer };
      if (typeof value.method !== 'string' || value.method.length === 0 || value.method.length > MAX_METHOD_LENGTH) {
        return { ok: false, id, reason: `method must be a string of 1-${MAX_METHOD_LENGTH} characters` };
      }
      return { ok: true, request: { id, op: 'request', peer, method: value.method, data: value.data } };
    }
    case 'place':
      if (!isBoundedString(value.roomId, MAX_ROOM_ID_LENGTH)) return { ok: false, id, reason: `roomId must be a string of 1-${MAX_ROOM_ID_LENGTH} characters` };
      return { ok: true, request: { id, op: 'place', roomId: value.roomId } };
    case 'stats':
      return { ok: true, request: { id, op: 'stats' } };
    default:
      return { ok: false, id, reason: "op must be 'request', 'place' or 'stats'" };
  }
}

export type ParsedLinkFrame =
  | { ok: true; kind: 'reply'; reply: LinkReply }
  | { ok: true; kind: 'push'; push: LinkPush }
  | { ok: false; reason: string };

/** Parses and checks one node → gateway frame. */
export function parseLinkFrame(text: string): ParsedLinkFrame {
  const value = parseObject(text);
  if (!value) return { ok: false, reason: 'expected a JSON object' };
  if (value.op === 'notification') {
    const n = value.notification;
    if (!isObject(n) || typeof n.roomId !== 'string' || typeof n.name !== 'string' || !isStringArray(n.to) || !('data' in n)) {
      return { ok: false, reason: 'notification must be {roomId, to: string[], name, data}' };
    }
    return { ok: true, kind: 'push', push: { op: 'notification', notification: n as unknown as Notification } };
  }
  if (value.op === 'peersLost') {
    const e = value.event;
    if (
      !isObject(e) ||
      typeof e.roomId !== 'string' ||
      typeof e.nodeId !== 'string' ||
      !isStringArray(e.peerIds) ||
      (e.reason !== 'node-died' && e.reason !== 'node-draining')
    ) {
      return { ok: false, reason: "peersLost event must be {roomId, nodeId, peerIds: string[], reason: 'node-died'|'node-draining'}" };
    }
    return { ok: true, kind: 'push', push: { op: 'peersLost', event: e as unknown as PeersLostEvent } };
  }
  if (value.id !== null && !isRequestId(value.id)) return { ok: false, reason: 'reply id must be a request id or null' };
  const id = value.id as LinkRequestId | null;
  if (value.ok === true && id !== null) return { ok: true, kind: 'reply', reply: { id, ok: true, result: value.result } };
  if (value.ok === false && isObject(value.error) && typeof value.error.code === 'string' && typeof value.error.message === 'string') {
    return { ok: true, kind: 'reply', reply: { id, ok: false, error: value.error as unknown as LecternErrorJSON } };
  }
  return { ok: false, reason: 'expected a reply {id, ok, result|error} or a push {op}' };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequestId(id: unknown): id is LinkRequestId {
  return Number.isSafeInteger(id) || isBoundedString(id, MAX_ID_LENGTH);
}

function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** The peer context as the gateway vouches for it; the manager checks ids, grants and room options further. */
function checkPeer(value: unknown): PeerContext | string {
  if (!isObject(value)) return 'peer must be an object {roomId, peerId, role?, displayName?, grants?, roomOptions?}';
  const { roomId, peerId, role, displayName, grants, roomOptions } = value;
  if (!isBoundedString(roomId, MAX_ROOM_ID_LENGTH) || !isBoundedString(peerId, MAX_ROOM_ID_LENGTH)) {
    return `peer.roomId and peer.peerId must be strings of 1-${MAX_ROOM_ID_LENGTH} characters`;
  }
  if (role !== undefined && role !== 'lecturer' && role !== 'student') return "peer.role must be 'lecturer' or 'student'";
  if (displayName !== undefined && typeof displayName !== 'string') return 'peer.displayName must be a string';
  if (grants !== undefined && !isObject(grants)) return 'peer.grants must be an object';
  if (roomOptions !== undefined && !isObject(roomOptions)) return 'peer.roomOptions must be an object';
  const peer: PeerContext = { roomId, peerId };
  if (role !== undefined) peer.role = role;
  if (displayName !== undefined) peer.displayName = displayName;
  if (grants !== undefined) peer.grants = grants as PeerContext['grants'];
  if (roomOptions !== undefined) peer.roomOptions = roomOptions as PeerContext['roomOptions'];
  return peer;
}

// ---------------------------------------------------------------------------
// Node side

/** What the node does for each request op. */
export interface NodeLinkHandlers {
  request(peer: PeerContext, method: string, data: unknown): Promise<unknown>;
  place(roomId: string): Promise<Placement>;
  stats(): NodeStats | Promise<NodeStats>;
}

export interface NodeLinkServerOptions {
  /** Where to listen (the gateway must reach it). */
  host: string;
  /** 0 = any free port. */
  port: number;
  handlers: NodeLinkHandlers;
}

/**
 * The node's end: a WebSocket server that answers every gateway connected to it
 * and pushes notifications and `peersLost` events to all of them.
 */
export class NodeLinkServer {
  readonly #wss: WebSocketServer;
  readonly #handlers: NodeLinkHandlers;
  #closing: Promise<void> | undefined;

  private constructor(wss: WebSocketServer, handlers: NodeLinkHandlers) {
    this.#wss = wss;
    this.#handlers = handlers;
    wss.on('connection', (socket) => this.#serve(socket));
  }

  static async listen(options: NodeLinkServerOptions): Promise<NodeLinkServer> {
    const wss = new WebSocketServer({ host: options.host, port: options.port, maxPayload: MAX_FRAME_BYTES });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new NodeLinkServer(wss, options.handlers);
  }

  /** `ws://host:port` of the listening socket (an IPv6 host in brackets). */
  get url(): string {
    const { address, port } = this.#wss.address() as AddressInfo;
    return `ws://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  /** Gateways connected now. */
  get connections(): number {
    return this.#wss.clients.size;
  }

  notify(notification: Notification): void {
    this.#push({ op: 'notification', notification });
  }

  peersLost(event: PeersLostEvent): void {
    this.#push({ op: 'peersLost', event });
  }

  /**
   * Closes every connection with a close frame (what was sent before is flushed
   * first, so a draining node's last notifications arrive), then the server.
   * Connections that do not close within `graceMs` are cut.
   */
  close(graceMs = 2000): Promise<void> {
    this.#closing ??= (async () => {
      const sockets = [...this.#wss.clients];
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === WebSocket.CLOSED) return resolve();
              const timer = setTimeout(() => socket.terminate(), graceMs);
              socket.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              socket.close(1001, 'node closing');
            }),
        ),
      );
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closing;
  }

  #push(frame: LinkPush): void {
    const text = JSON.stringify(frame);
    for (const socket of this.#wss.clients) {
      if (socket.readyState === WebSocket.OPEN) socket.send(text);
    }
  }

  #serve(socket: WebSocket): void {
    socket.on('error', () => socket.terminate()); // e.g. a frame over maxPayload; the close follows
    socket.on('message', (raw: RawData, isBinary: boolean) => {
      if (isBinary) return reply(socket, { id: null, ok: false, error: invalid('binary frames are not part of the link protocol') });
      const parsed = parseLinkRequest(rawText(raw));
      if (!parsed.ok) return reply(socket, { id: parsed.id, ok: false, error: invalid(parsed.reason) });
      void this.#answer(parsed.request).then((answer) => reply(socket, answer));
    });
  }

  async #answer(request: LinkRequest): Promise<LinkReply> {
    try {
      let result: unknown;
      if (request.op === 'request') result = await this.#handlers.request(request.peer, request.method, request.data);
      else if (request.op === 'place') result = await this.#handlers.place(request.roomId);
      else result = await this.#handlers.stats();
      return { id: request.id, ok: true, result: result ?? null };
    } catch (error) {
      return { id: request.id, ok: false, error: toLecternError(error).toJSON() };
    }
  }
}

function reply(socket: WebSocket, frame: LinkReply): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function invalid(reason: string): LecternErrorJSON {
  return new LecternError(ErrorCode.INVALID_REQUEST, `invalid link frame: ${reason}`).toJSON();
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw).toString('utf8');
}

// ---------------------------------------------------------------------------
// Gateway side

export type NodeLinkClientEvents = {
  notification: [Notification];
  peersLost: [PeersLostEvent];
  /** The socket closed (the node exited, was killed, or {@link NodeLinkClient.close} was called). */
  close: [{ code: number; reason: string }];
  /** A frame from the node failed the shape check, or answered no request in flight; ignored. */
  invalidFrame: [{ reason: string; text: string }];
};

interface Pending {
  resolve(value: unknown): void;
  reject(error: LecternError): void;
  timer: NodeJS.Timeout;
}

/**
 * The gateway's end of one node's link. Every request is bounded by a timeout;
 * every request in flight rejects at once (UNAVAILABLE) when the socket closes.
 */
export class NodeLinkClient extends EventEmitter<NodeLinkClientEvents> {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(
    readonly url: string,
    socket: WebSocket,
  ) {
    super();
    this.#socket = socket;
    socket.on('message', (raw: RawData) => this.#receive(rawText(raw)));
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', (code, reason) => {
      this.#closed = true;
      this.#rejectAll(`link to ${url} closed (${code})`);
      this.emit('close', { code, reason: reason.toString() });
    });
  }

  /** Connects to a node's link; rejects (UNAVAILABLE) if it cannot within `timeoutMs`. */
  static connect(url: string, timeoutMs = 5000): Promise<NodeLinkClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: timeoutMs });
      const fail = (error: unknown) => {
        socket.terminate();
        reject(new LecternError(ErrorCode.UNAVAILABLE, `cannot connect to ${url}: ${String(error)}`));
      };
      socket.once('error', fail);
      socket.once('open', () => {
        socket.off('error', fail);
        resolve(new NodeLinkClient(url, socket));
      });
    });
  }

  /** Whether the socket is still open. */
  get open(): boolean {
    return !this.#closed && this.#socket.readyState === WebSocket.OPEN;
  }

  /** One request of the Lectern API on behalf of `peer`; rejects with the node's LecternError. */
  request(peer: PeerContext, method: string, data: unknown, timeoutMs = 10_000): Promise<unknown> {
    return this.#send({ op: 'request', peer, method, data }, timeoutMs);
  }

  place(roomId: string, timeoutMs = 5000): Promise<Placement> {
    return this.#send({ op: 'place', roomId }, timeoutMs) as Promise<Placement>;
  }

  stats(timeoutMs = 5000): Promise<NodeStats> {
    return this.#send({ op: 'stats' }, timeoutMs) as Promise<NodeStats>;
  }

  /** Closes the socket; requests in flight reject. Resolves once it is closed. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#closed = true;
    this.#rejectAll(`link to ${this.url} closed by the gateway`);
    this.#socket.close(1000);
    const timer = setTimeout(() => this.#socket.terminate(), 2000);
    await closed;
    clearTimeout(timer);
  }

  #send(frame: { op: 'request'; peer: PeerContext; method: string; data: unknown } | { op: 'place'; roomId: string } | { op: 'stats' }, timeoutMs: number) {
    if (!this.open) return Promise.reject(new LecternError(ErrorCode.UNAVAILABLE, `link to ${this.url} is closed`));
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new LecternError(ErrorCode.TIMEOUT, `${frame.op === 'request' ? frame.method : frame.op}: no reply from ${this.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.send(JSON.stringify({ id, ...frame }));
    });
  }

  #receive(text: string): void {
    const parsed = parseLinkFrame(text);
    if (!parsed.ok) {
      this.emit('invalidFrame', { reason: parsed.reason, text: text.slice(0, 512) });
      return;
    }
    if (parsed.kind === 'push') {
      if (parsed.push.op === 'notification') this.emit('notification', parsed.push.notification);
      else this.emit('peersLost', parsed.push.event);
      return;
    }
    const { reply } = parsed;
    const pending = typeof reply.id === 'number' ? this.#pending.get(reply.id) : undefined;
    if (!pending) {
      const reason = reply.ok ? 'a reply to no request in flight' : `an error for no request in flight: ${reply.error.code} ${reply.error.message}`;
      this.emit('invalidFrame', { reason, text: text.slice(0, 512) });
      return;
    }
    this.#pending.delete(reply.id as number);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(LecternError.fromJSON(reply.error));
  }

  #rejectAll(message: string): void {
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new LecternError(ErrorCode.UNAVAILABLE, message));
    }
  }
}
