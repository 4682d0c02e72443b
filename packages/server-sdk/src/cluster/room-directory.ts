import { ErrorCode, LecternError, truncate } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { validateNodeId, validateRoomId } from './keys.js';
import { registryContext, type NodeRegistry, type RegistryContext } from './node-registry.js';
import { JOIN, LEAVE_ROOM, LOOKUP, NODE_IDS, PLACE } from './scripts.js';

/** Where {@link RoomDirectory.place} put a room. */
export interface Placement {
  readonly roomId: string;
  /** The node to serve the room (its new peer) on. */
  readonly nodeId: string;
  /** True when the room already spanned that node; false when the node joined the room now. */
  readonly sticky: boolean;
  /** The node that owns the room (created it first); authoritative for its state. */
  readonly owner: string;
}

/** A room's entry in the directory (a hint: see {@link RoomDirectory}). */
export interface RoomEntry {
  readonly roomId: string;
  readonly owner: string | undefined;
  /** The nodes the room spans, earliest first; `alive` = that incarnation still heartbeats. */
  readonly nodes: ReadonlyArray<{ readonly nodeId: string; readonly incarnation: string; readonly joinedAt: number; readonly alive: boolean }>;
}

/** Options of {@link RoomDirectory.place}. */
export interface PlaceOptions {
  /**
   * The share of a node's capacity the placement is expected to take (same scale
   * as the node's load: 0–1). A node needs `load + estimatedCost ≤ 1` (and `load < 1`);
   * the chosen node's load is raised by it until its next heartbeat, so placements
   * made in the same second spread. Default 0.
   */
  estimatedCost?: number;
}

/** The directory's events. */
export type RoomDirectoryEvents = {
  /** Re-asserting this node's rooms after its registration came back failed (Redis unreachable again); retried at the next `restored`. */
  reassertFailed: { roomIds: string[]; error: LecternError };
  listenerError: { event: string; error: unknown };
};

/**
 * Which nodes each room spans, in Redis (through a {@link NodeRegistry}'s
 * connection and key prefix), and where to place a room.
 *
 * **A hint, not the truth.** The node that owns a room (and each node for its own
 * part of it) is authoritative: it knows whether it serves the room. The
 * directory can be stale — a node that crashed is in it until a sweep declares
 * the node dead (≤ `deadAfterMs` + a sweep interval), and a Redis that lost its
 * data forgets rooms. Corrections: the sweep that declares a node dead drops all
 * of its room entries in the same script; {@link place} drops entries of dead
 * nodes (or of an older incarnation) it meets; a node whose registration
 * comes back (`restored`/`replaced`) re-joins every room this directory
 * {@link join}ed locally and has not {@link leave}n — so after a Redis restart
 * the directory is rebuilt from the nodes themselves. A caller that reaches a
 * node the directory named and is refused (the node no longer serves the room)
 * should {@link leave} that entry and place again.
 */
export class RoomDirectory extends TypedEmitter<RoomDirectoryEvents> {
  readonly #context: RegistryContext;
  /** The rooms this node joined (through this directory): re-asserted when the registration comes back. */
  readonly #mine = new Set<string>();
  readonly #onRegistered = (event: { status: string }): void => {
    if (event.status === 'restored' || event.status === 'replaced') void this.#reassert();
  };
  readonly #registry: NodeRegistry;
  #closed = false;

  constructor(registry: NodeRegistry) {
    super();
    this.#registry = registry;
    this.#context = registryContext(registry);
    registry.on('registered', this.#onRegistered);
  }

  /**
   * Where to serve `roomId`: sticky first (the least loaded node the room already
   * spans that is alive, serving and has headroom), else the least loaded live
   * serving node with headroom (ties: the smaller nodeId), which joins the room —
   * and owns it when it is new. One Lua script, so nodes placing the same new room
   * at the same time get the same answer. Rejects with `OVERLOADED` (details:
   * every node's state and load) when no node has headroom, UNAVAILABLE when Redis
   * does not answer within `commandTimeoutMs`.
   *
   * The chosen node is added to the room right away (the room spans it from now);
   * if it ends up not serving the room, {@link leave} it. The chosen node should
   * {@link join} the room itself once it serves it: a node re-asserts only the
   * rooms its own directory joined (or placed on it) after Redis lost them.
   */
  async place(roomId: string, options: PlaceOptions = {}): Promise<Placement> {
    this.#assertOpen();
    validateRoomId(roomId);
    const cost = options.estimatedCost ?? 0;
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0 || cost > 1) {
      throw new LecternError(ErrorCode.INVALID_REQUEST, 'estimatedCost must be a number from 0 to 1');
    }
    const { connection, keys, deadAfterMs, keyTtlMs } = this.#context;
    // The candidates are read first so the script can name their keys (KEYS) itself.
    const candidates = await this.#candidates();
    const reply = await connection.run('place', PLACE, [keys.room(roomId), keys.nodes, ...candidates.map((id) => keys.node(id))], [
      keys.base,
      roomId,
      String(deadAfterMs),
      String(cost),
      String(keyTtlMs),
      ...candidates,
    ]);
    if (!Array.isArray(reply)) throw new LecternError(ErrorCode.INTERNAL, 'unexpected placement reply from redis');
    if (reply[0] === 'overloaded') {
      const nodes = (Array.isArray(reply[2]) ? (reply[2] as unknown[]) : []).map((row) => {
        const [nodeId, state, load] = String(row).split('|');
        return { nodeId, state, load: load === '' || load === undefined ? null : Number(load) };
      });
      throw new LecternError(ErrorCode.OVERLOADED, `no media node has headroom for room ${truncate(roomId)}`, {
        roomId: truncate(roomId),
        estimatedCost: cost,
        nodes,
      });
    }
    const nodeId = String(reply[2]);
    if (nodeId === this.#context.nodeId) this.#mine.add(roomId);
    return { roomId, nodeId, sticky: reply[3] === 1, owner: String(reply[4]) };
  }

  /**
   * Records that `nodeId` (default: this node) serves part of `roomId`; the room's
   * first node owns it. NOT_FOUND when that node is not registered. Idempotent.
   * This node's joins are remembered and re-asserted after a Redis data loss.
   */
  async join(roomId: string, nodeId: string = this.#context.nodeId): Promise<{ owner: string }> {
    this.#assertOpen();
    validateRoomId(roomId);
    validateNodeId(nodeId, ErrorCode.INVALID_REQUEST);
    if (nodeId === this.#context.nodeId) this.#mine.add(roomId);
    const { connection, keys, keyTtlMs } = this.#context;
    const owner = await connection.run('join', JOIN, [keys.room(roomId), keys.node(nodeId), keys.nodeRooms(nodeId)], [roomId, nodeId, String(keyTtlMs)]);
    if (owner === null || owner === undefined) throw new LecternError(ErrorCode.NOT_FOUND, `node not registered: ${nodeId}`, { nodeId });
    return { owner: String(owner) };
  }

  /** `nodeId` (default: this node) no longer serves `roomId`; ownership passes to the earliest remaining node, an empty room is deleted. Idempotent. */
  async leave(roomId: string, nodeId: string = this.#context.nodeId): Promise<void> {
    this.#assertOpen();
    validateRoomId(roomId);
    validateNodeId(nodeId, ErrorCode.INVALID_REQUEST);
    if (nodeId === this.#context.nodeId) this.#mine.delete(roomId);
    const { connection, keys } = this.#context;
    await connection.run('leave', LEAVE_ROOM, [keys.nodeRooms(nodeId)], [keys.base, roomId, nodeId]);
  }

  /** The room's entry, or undefined when the directory knows no node of it. */
  async lookup(roomId: string): Promise<RoomEntry | undefined> {
    this.#assertOpen();
    validateRoomId(roomId);
    const { connection, keys, deadAfterMs } = this.#context;
    const reply = await connection.run('lookup', LOOKUP, [keys.room(roomId), keys.nodes], [String(deadAfterMs), keys.base]);
    if (!Array.isArray(reply) || !Array.isArray(reply[1])) return undefined;
    const nodes = (reply[1] as unknown[])
      .filter(Array.isArray)
      .map((row) => ({ nodeId: String(row[0]), incarnation: String(row[1]), joinedAt: Number(row[2]), alive: row[3] === 1 }))
      .sort((a, b) => a.joinedAt - b.joinedAt || (a.nodeId < b.nodeId ? -1 : 1));
    if (nodes.length === 0) return undefined;
    return { roomId, owner: typeof reply[0] === 'string' ? reply[0] : undefined, nodes };
  }

  /** Stops listening to the registry (the registry's `close()` removes this node's entries). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#registry.off('registered', this.#onRegistered);
    this.#mine.clear();
  }

  /** The registered nodes, read from Redis (not the last sweep: a fresh view for every placement). */
  async #candidates(): Promise<string[]> {
    const { connection, keys } = this.#context;
    const ids = await connection.run('place', NODE_IDS, [keys.nodes], []);
    return Array.isArray(ids) ? ids.map(String).sort() : [];
  }

  async #reassert(): Promise<void> {
    const rooms = [...this.#mine];
    const failed: string[] = [];
    let lastError: LecternError | undefined;
    for (const roomId of rooms) {
      if (this.#closed) return;
      try {
        await this.join(roomId);
      } catch (error) {
        failed.push(roomId);
        lastError = error instanceof LecternError ? error : new LecternError(ErrorCode.INTERNAL, String(error));
      }
    }
    if (failed.length > 0 && lastError && !this.#closed) this.safeEmit('reassertFailed', { roomIds: failed, error: lastError });
  }

  #assertOpen(): void {
    if (this.#closed) throw new LecternError(ErrorCode.CLOSED, 'the room directory is closed');
  }
}
