import { ErrorCode, LecternError, toLecternError, truncate } from '../errors.js';
import type { ClusterKeys } from './keys.js';
import type { ClusterConnection, ClusterSubscriberClient } from './redis-connection.js';
import { PUBLISH } from './scripts.js';

/** Answers a request another node sent to this one (rejects with a LecternError to refuse it). */
export type RequestHandler = (method: string, params: unknown, from: { nodeId: string; incarnation: string }) => Promise<unknown>;

/** A message on a room's channel, as it arrived (validated by its reader). */
export type RoomMessageHandler = (message: unknown) => void;

interface Pending {
  resolve(value: unknown): void;
  reject(error: LecternError): void;
  timer: NodeJS.Timeout;
}

/** Bigger frames are refused unread: nothing a node sends legitimately comes close. */
const MAX_FRAME_BYTES = 256 * 1024;

/**
 * The nodes' messaging over Redis pub/sub: requests from node to node with a
 * deadline (channel `rpc:<nodeId>`; the reply comes back on the asker's
 * channel), and the rooms' change channels. Pub/sub delivers at most once and
 * in order per publishing connection; what can be lost (a Redis outage) is
 * made good by the caller: requests time out, rooms re-read their shared
 * state when the subscriber reconnects (`onResubscribed`).
 *
 * One subscriber connection (a duplicate of the cluster connection's client);
 * publishing goes through the cluster connection.
 */
export class NodeBus {
  readonly #subscriber: ClusterSubscriberClient;
  readonly #pending = new Map<string, Pending>();
  readonly #rooms = new Map<string, RoomMessageHandler>();
  readonly #rpcChannel: string;
  #handler: RequestHandler | undefined;
  #seq = 0;
  #closed = false;
  #everReady = false;
  readonly #onMessage = (channel: string, message: string) => this.#receive(channel, message);
  readonly #onReady = () => {
    // ioredis re-subscribed: whatever was published meanwhile is lost.
    if (this.#everReady) this.onResubscribed();
    this.#everReady = true;
  };
  readonly #onError = () => undefined; // reconnects by itself; the command connection reports outages

  constructor(
    private readonly connection: ClusterConnection,
    private readonly keys: ClusterKeys,
    readonly nodeId: string,
    readonly incarnation: string,
    private readonly timeoutMs: number,
    private readonly onResubscribed: () => void,
    private readonly onBadFrame: (error: LecternError) => void,
  ) {
    this.#rpcChannel = keys.rpcChannel(nodeId);
    this.#subscriber = connection.client.duplicate();
    this.#subscriber.on('message', this.#onMessage);
    this.#subscriber.on('ready', this.#onReady);
    this.#subscriber.on('error', this.#onError);
  }

  /** Connects the subscriber and listens for requests to this node. */
  async start(handler: RequestHandler): Promise<void> {
    this.#handler = handler;
    if (this.#subscriber.status === 'wait') await this.#subscriber.connect();
    await this.#subscribe(this.#rpcChannel);
  }

  /** Sends `method` to `nodeId` and resolves with its answer; TIMEOUT after the deadline, UNAVAILABLE if nobody listens there. */
  request(nodeId: string, method: string, params: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new LecternError(ErrorCode.CLOSED, 'the media node is closed'));
    const id = `${this.incarnation}:${++this.#seq}`;
    const frame = JSON.stringify({ k: 'req', id, from: this.nodeId, inc: this.incarnation, method, params });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new LecternError(ErrorCode.TIMEOUT, `node ${nodeId} did not answer ${method} within ${this.timeoutMs} ms`, { nodeId, method }));
      }, this.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.connection
        .evalOnce(method, PUBLISH, [], [this.keys.rpcChannel(nodeId), frame])
        .then((receivers) => {
          if (Number(receivers) === 0) this.#settle(id, undefined, new LecternError(ErrorCode.UNAVAILABLE, `node ${nodeId} is not listening`, { nodeId, method }));
        })
        .catch((error: unknown) => this.#settle(id, undefined, toLecternError(error)));
    });
  }

  /** Listens to a room's channel (resolves once subscribed: from then on nothing published there is missed). */
  async joinRoom(roomId: string, handler: RoomMessageHandler): Promise<void> {
    const channel = this.keys.roomChannel(roomId);
    this.#rooms.set(channel, handler);
    await this.#subscribe(channel);
  }

  leaveRoom(roomId: string): void {
    const channel = this.keys.roomChannel(roomId);
    if (!this.#rooms.delete(channel) || this.#closed) return;
    this.#subscriber.unsubscribe(channel).catch(() => undefined);
  }

  /** Stops listening; requests in flight reject with CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id] of this.#pending) this.#settle(id, undefined, new LecternError(ErrorCode.CLOSED, 'the media node is closed'));
    this.#rooms.clear();
    this.#subscriber.off('message', this.#onMessage);
    this.#subscriber.off('ready', this.#onReady);
    if (this.#subscriber.status === 'ready') await this.#subscriber.quit().catch(() => undefined);
    if (this.#subscriber.status !== 'end') this.#subscriber.disconnect();
    this.#subscriber.off('error', this.#onError);
  }

  async #subscribe(channel: string): Promise<void> {
    try {
      await this.#subscriber.subscribe(channel);
    } catch (error) {
      throw new LecternError(ErrorCode.UNAVAILABLE, `could not subscribe to the cluster's channel: ${truncate(String(error), 200)}`, { op: 'subscribe' });
    }
  }

  #settle(id: string, value: unknown, error?: LecternError): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(value);
  }

  #receive(channel: string, message: string): void {
    if (this.#closed) return;
    if (message.length > MAX_FRAME_BYTES) {
      this.onBadFrame(new LecternError(ErrorCode.INVALID_REQUEST, `dropped a ${message.length}-byte frame on ${truncate(channel, 120)}`));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      this.onBadFrame(new LecternError(ErrorCode.INVALID_REQUEST, `dropped a frame that is not JSON on ${truncate(channel, 120)}`));
      return;
    }
    const room = this.#rooms.get(channel);
    if (room) {
      room(frame);
      return;
    }
    if (channel === this.#rpcChannel) this.#rpc(frame);
  }

  #rpc(frame: unknown): void {
    if (typeof frame !== 'object' || frame === null) return this.onBadFrame(badFrame('not an object'));
    const f = frame as Record<string, unknown>;
    if (f.k === 'res' && typeof f.id === 'string') {
      if (f.ok === true) this.#settle(f.id, f.result);
      else this.#settle(f.id, undefined, remoteError(f.error));
      return;
    }
    if (f.k !== 'req' || typeof f.id !== 'string' || typeof f.from !== 'string' || typeof f.inc !== 'string' || typeof f.method !== 'string') {
      return this.onBadFrame(badFrame('a request without id, from, inc or method'));
    }
    const { id, from, inc, method } = f;
    const handler = this.#handler;
    const answer = handler ? handler(method, f.params, { nodeId: from, incarnation: inc }) : Promise.reject(new LecternError(ErrorCode.UNAVAILABLE, 'not serving'));
    void answer
      .then(
        (result) => ({ k: 'res', id, ok: true, result }),
        (error: unknown) => ({ k: 'res', id, ok: false, error: toLecternError(error).toJSON() }),
      )
      .then((reply) => this.connection.evalOnce('reply', PUBLISH, [], [this.keys.rpcChannel(from), JSON.stringify(reply)]))
      .catch(() => undefined); // the asker times out
  }
}

function badFrame(what: string): LecternError {
  return new LecternError(ErrorCode.INVALID_REQUEST, `dropped a node-to-node frame: ${what}`);
}

/** A refusal from another node, as a LecternError with its code (an unknown code is INTERNAL). */
function remoteError(error: unknown): LecternError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof e.code === 'string' && Object.values(ErrorCode).includes(e.code as ErrorCode) ? (e.code as ErrorCode) : ErrorCode.INTERNAL;
  const message = typeof e.message === 'string' ? truncate(e.message, 500) : 'the other node failed';
  const details = typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
  return new LecternError(code, message, details);
}
