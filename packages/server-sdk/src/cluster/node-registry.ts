import { randomUUID } from 'node:crypto';
import { ErrorCode, LecternError } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { ClusterKeys, DEFAULT_CLUSTER_KEY_PREFIX, validateNodeId } from './keys.js';
import { ClusterConnection, config, type ClusterRedisClient } from './redis-connection.js';
import { HEARTBEAT, LEAVE_CLUSTER, SWEEP } from './scripts.js';

/** Whether a node takes new rooms (`serving`) or only finishes the ones it has (`draining`). */
export type NodeState = 'serving' | 'draining';

/** Why a node left the cluster, as the other nodes learn it. */
export type NodeDownReason =
  /** Silent for longer than `deadAfterMs` (crashed, frozen, or cut off from Redis). */
  | 'missed-heartbeats'
  /** Deregistered itself ({@link NodeRegistry.close}). */
  | 'left'
  /** A new incarnation of the same nodeId registered: the old process is gone. */
  | 'restarted';

/** One node as the registry sees it. */
export interface ClusterNode {
  readonly nodeId: string;
  /** Random per process start: a new incarnation of a nodeId is a new process. */
  readonly incarnation: string;
  readonly state: NodeState;
  /** Its admission estimate at its last heartbeat, 0 = idle, 1 = no headroom. */
  readonly load: number;
  readonly limits: Readonly<Record<string, number>>;
  readonly meta: Readonly<Record<string, string>>;
  /** Its last heartbeat, in Redis server time (epoch ms). */
  readonly heartbeatAt: number;
  /** When this incarnation (re-)registered, Redis server time (epoch ms). */
  readonly since: number;
}

/** The registry's events. Events about nodes are about the OTHER nodes; the `registered`/`superseded`/`heartbeatFailed` ones are about this one. */
export type NodeRegistryEvents = {
  /** A node (incarnation) was seen for the first time — including those already there when this one starts. */
  nodeUp: ClusterNode;
  /** A node went away; `incarnation` is the one that went. */
  nodeDown: { nodeId: string; incarnation: string; reason: NodeDownReason };
  /** A node switched to `draining` (or was first seen draining). */
  nodeDraining: ClusterNode;
  /**
   * This node's registration was written: `registered` at start, `replaced` at start
   * over an older incarnation of the same id, `restored` when a heartbeat found it
   * missing (Redis lost its data, or the others declared this node dead) and wrote
   * it again. The directory re-asserts this node's rooms on `restored`/`replaced`.
   */
  registered: { nodeId: string; incarnation: string; status: 'registered' | 'replaced' | 'restored' };
  /** A newer incarnation of this nodeId registered: this registry stops heartbeating (two processes share an id?). */
  superseded: { nodeId: string; incarnation: string; by: string };
  /** The first heartbeat that failed after one that succeeded (Redis unreachable); one per outage. */
  heartbeatFailed: { error: LecternError };
  /** A listener threw (see TypedEmitter). */
  listenerError: { event: string; error: unknown };
};

interface NodeRegistryCommonOptions {
  /** This node's id, stable across restarts (e.g. the host name): 1–128 of `A–Z a–z 0–9 . _ -`. */
  nodeId: string;
  /**
   * The node's current load, read at every heartbeat: 0 = idle, 1 = at its admission
   * ceiling (no headroom; values above 1 mean the same). E.g. the busiest-worker view
   * of a RoomManager's pool: the least `estimatedCpuPercent / cpuCeilingPercent` of
   * its workers. A throw or a non-finite value counts as 1 (no new rooms rather than
   * a guess). Default: always 0.
   */
  load?: () => number;
  /** The node's limits, for the others to read (opaque to the registry), e.g. `{ workers: 4, maxPeers: 400 }`. */
  limits?: Record<string, number>;
  /** How to reach the node (opaque), e.g. `{ url: 'wss://media-3.example.org' }`. At most 4 KB as JSON. */
  meta?: Record<string, string>;
  /** Heartbeat period. Default 1000 ms. */
  heartbeatMs?: number;
  /** A node silent for longer than this is dead. At least 2 × `heartbeatMs`. Default 3000 ms. */
  deadAfterMs?: number;
  /** How often this node sweeps for dead nodes. At most `heartbeatMs`. Default `heartbeatMs / 4`. */
  sweepIntervalMs?: number;
  /** No sweeping for this long after (re)connecting to Redis, or after finding this node's registration missing. Default `deadAfterMs`. */
  reconnectGraceMs?: number;
  /** Bound on each Redis operation (register, drain, close, the directory's). Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Prefix of every key (then the `{cluster}` hash tag). No braces or control characters. Default `lectern:`. */
  keyPrefix?: string;
}

/** Options of {@link NodeRegistry}: exactly one of `url` (the registry owns the connection) or `redis` (the host's ioredis client). */
export type NodeRegistryOptions = NodeRegistryCommonOptions &
  (
    | {
        /** `redis://` / `rediss://`; needs the optional peer `ioredis` (INVALID_CONFIG when missing). Fail-fast connection, reconnects forever (100 ms → 1 s). */
        url: string;
        redis?: undefined;
      }
    | {
        /** The host's ioredis client (standalone). Never closed here; the registry listens to its `ready`/`close` until {@link NodeRegistry.close}. */
        redis: ClusterRedisClient;
        url?: undefined;
      }
  );

/** What the directory needs of a registry (internal). */
export interface RegistryContext {
  readonly connection: ClusterConnection;
  readonly keys: ClusterKeys;
  readonly nodeId: string;
  readonly deadAfterMs: number;
  readonly keyTtlMs: number;
}

const MAX_META_JSON = 4096;

/** The registries' connections and key layouts, for the directory only (not part of the public API). */
const contexts = new WeakMap<NodeRegistry, RegistryContext>();

/** What {@link RoomDirectory} needs of a registry (internal; not exported from the entry point). */
export function registryContext(registry: NodeRegistry): RegistryContext {
  const context = contexts.get(registry);
  if (!context) throw config('RoomDirectory needs a NodeRegistry');
  return context;
}

/**
 * This process as a node of the cluster, and its view of the others, in Redis.
 *
 * **Heartbeats.** Every `heartbeatMs` one Lua script writes the node's hash
 * (incarnation, state, load, limits, meta) and sets its score in a sorted set to
 * the Redis server's `TIME`. **Sweeping.** Every `sweepIntervalMs` every node runs
 * one script that, again on server time, declares each node whose score is older
 * than `deadAfterMs` dead (deletes its registration and its room entries, leaves a
 * tombstone), and returns the live nodes; comparing that list with the previous
 * one gives `nodeUp` / `nodeDown` / `nodeDraining`. Idempotent: whichever node
 * sweeps first does the work, every node sees the result. No key-expiry events
 * (they are lazy and lost on disconnect); key TTLs only collect garbage.
 *
 * **One clock.** Heartbeat scores and the sweeper's "now" both come from Redis'
 * `TIME` inside the script, so the nodes' clocks never meet: skew between hosts
 * cannot kill a node. A node's silence is measured from its last heartbeat that
 * Redis applied.
 *
 * **Redis outages.** While the connection is down this node neither heartbeats
 * nor sweeps (nothing to sweep with); after it comes back it waits
 * `reconnectGraceMs` (default `deadAfterMs`) before sweeping again: every live
 * node reconnects within its own reconnect backoff (≤ 1 s) and heartbeats at
 * least twice in that window, refreshing scores that went stale during the outage
 * (a persistent Redis keeps them) — so no node is declared dead for Redis' outage.
 * If Redis came back empty, the next heartbeat finds the registration missing and
 * writes it again (`registered` status `restored`, which also starts a grace).
 * A node cut off from Redis alone for longer than `deadAfterMs` IS declared dead
 * by the others: it cannot be placed, and when it comes back it re-registers and
 * re-asserts its rooms (the directory is a hint; the node is authoritative).
 */
export class NodeRegistry extends TypedEmitter<NodeRegistryEvents> {
  readonly nodeId: string;
  /** Random per registry (= per process start). */
  readonly incarnation: string = randomUUID();
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  readonly sweepIntervalMs: number;
  readonly reconnectGraceMs: number;
  readonly #connection: ClusterConnection;
  readonly #keys: ClusterKeys;
  readonly #load: () => number;
  readonly #limits: string;
  readonly #meta: string;
  /** Keys expire after this long without a heartbeat (garbage collection only). */
  readonly #keyTtlMs: number;
  #state: NodeState = 'serving';
  #started = false;
  #closed = false;
  #superseded = false;
  #beatTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #sweeping = false;
  /** performance.now() until which sweeping is suspended (after a (re)connect or a lost registration). */
  #graceUntil = 0;
  #connected = false;
  #lastBeatOk = false;
  #view = new Map<string, ClusterNode>();
  #live: ClusterNode[] = [];

  constructor(options: NodeRegistryOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw config('NodeRegistry needs options');
    this.nodeId = validateNodeId(options.nodeId);
    this.heartbeatMs = positive(options.heartbeatMs, 1000, 'heartbeatMs', 50);
    this.deadAfterMs = positive(options.deadAfterMs, 3 * this.heartbeatMs, 'deadAfterMs', 2 * this.heartbeatMs);
    this.sweepIntervalMs = positive(options.sweepIntervalMs, Math.max(25, Math.round(this.heartbeatMs / 4)), 'sweepIntervalMs', 10);
    if (this.sweepIntervalMs > this.heartbeatMs) throw config('sweepIntervalMs must be at most heartbeatMs');
    this.reconnectGraceMs = positive(options.reconnectGraceMs, this.deadAfterMs, 'reconnectGraceMs', 0);
    const timeout = positive(options.commandTimeoutMs, 2000, 'commandTimeoutMs', 1);
    if (options.load !== undefined && typeof options.load !== 'function') throw config('load must be a function returning a number');
    this.#load = options.load ?? (() => 0);
    this.#limits = JSON.stringify(record(options.limits, 'limits', (v) => typeof v === 'number' && Number.isFinite(v)));
    this.#meta = JSON.stringify(record(options.meta, 'meta', (v) => typeof v === 'string'));
    if (this.#meta.length > MAX_META_JSON) throw config('meta must be at most 4 KB as JSON');
    this.#keyTtlMs = Math.max(10 * this.deadAfterMs, 30_000);
    this.#keys = new ClusterKeys(options.keyPrefix ?? DEFAULT_CLUSTER_KEY_PREFIX);
    this.#connection = new ClusterConnection(options, timeout, 'lectern-cluster');
    this.#connection.onReady(() => {
      this.#connected = true;
      this.#graceUntil = performance.now() + this.reconnectGraceMs;
    });
    this.#connection.onDown(() => {
      this.#connected = false;
    });
    contexts.set(this, { connection: this.#connection, keys: this.#keys, nodeId: this.nodeId, deadAfterMs: this.deadAfterMs, keyTtlMs: this.#keyTtlMs });
  }

  /** `serving` or `draining`. */
  get state(): NodeState {
    return this.#state;
  }

  /** The live nodes (this one included) as of the last sweep; empty before the first. */
  nodes(): ClusterNode[] {
    return [...this.#live];
  }

  /**
   * Registers (replacing an older incarnation of this nodeId, which is announced
   * `restarted`) and starts heartbeating and sweeping. Rejects with UNAVAILABLE when
   * Redis does not answer within `commandTimeoutMs` (no timers run then; call
   * `start()` again, or `close()` to stop an owned connection's reconnecting).
   * INVALID_STATE when already started, CLOSED after close.
   */
  async start(): Promise<void> {
    if (this.#closed) throw new LecternError(ErrorCode.CLOSED, 'the node registry is closed');
    if (this.#started) throw new LecternError(ErrorCode.INVALID_STATE, 'the node registry is already started');
    this.#connection.start();
    const reply = await this.#connection.run('register', HEARTBEAT, this.#beatKeys(), this.#beatArgs('register'));
    this.#afterBeat(reply);
    if (this.#closed) return;
    this.#started = true;
    this.#connected = this.#connection.ready;
    // A fresh start may follow a crash of this very node: its rooms went with it, and
    // the others' view is current, so the first sweep needs no grace.
    this.#graceUntil = 0;
    this.#beatTimer = setInterval(() => void this.#beat(), this.heartbeatMs);
    this.#sweepTimer = setInterval(() => void this.#sweep(), this.sweepIntervalMs);
    await this.#sweep();
  }

  /** Stops taking new rooms: state `draining` (placement skips the node), written at once. Idempotent. */
  async drain(): Promise<void> {
    this.#assertRunning();
    if (this.#state === 'draining') return;
    this.#state = 'draining';
    await this.#beatNow();
  }

  /**
   * Deregisters (the others see `nodeDown` with reason `left`; this node's room
   * entries go), stops the timers and closes an owned connection. When Redis is
   * unreachable the keys stay until the others sweep this node (`missed-heartbeats`)
   * or they expire. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#beatTimer);
    clearInterval(this.#sweepTimer);
    await this.#beating?.catch(() => undefined);
    if (this.#started && !this.#superseded) {
      // Closing is the node's last word: deliberately past `#closed`, so run() directly.
      await this.#connection
        .run('leave', LEAVE_CLUSTER, [this.#keys.nodes, this.#keys.node(this.nodeId), this.#keys.gone], [
          this.#keys.base,
          this.nodeId,
          this.incarnation,
          String(this.#keyTtlMs),
        ])
        .catch(() => undefined);
    }
    await this.#connection.close();
    this.#view.clear();
    this.#live = [];
  }

  #assertRunning(): void {
    if (this.#closed) throw new LecternError(ErrorCode.CLOSED, 'the node registry is closed');
    if (!this.#started) throw new LecternError(ErrorCode.INVALID_STATE, 'the node registry is not started');
    if (this.#superseded) throw new LecternError(ErrorCode.INVALID_STATE, 'a newer incarnation of this node replaced this registry');
  }

  async #beatNow(): Promise<void> {
    const reply = await this.#connection.run('heartbeat', HEARTBEAT, this.#beatKeys(), this.#beatArgs('beat'));
    this.#afterBeat(reply);
  }

  /** The periodic heartbeat: no retry (the next tick is the retry), never two at once. */
  async #beat(): Promise<void> {
    if (this.#closed || this.#superseded || this.#beating) return;
    this.#beating = (async () => {
      try {
        const reply = await this.#connection.evalOnce('heartbeat', HEARTBEAT, this.#beatKeys(), this.#beatArgs('beat'));
        this.#afterBeat(reply);
      } catch (error) {
        if (this.#lastBeatOk && !this.#closed) {
          this.safeEmit('heartbeatFailed', { error: error instanceof LecternError ? error : new LecternError(ErrorCode.UNAVAILABLE, String(error)) });
        }
        this.#lastBeatOk = false;
      }
    })();
    await this.#beating;
    this.#beating = undefined;
  }

  #afterBeat(reply: unknown): void {
    if (!Array.isArray(reply)) throw new LecternError(ErrorCode.INTERNAL, 'unexpected heartbeat reply from redis');
    const status = String(reply[0]);
    this.#lastBeatOk = true;
    if (status === 'superseded') {
      this.#superseded = true;
      clearInterval(this.#beatTimer);
      clearInterval(this.#sweepTimer);
      this.safeEmit('superseded', { nodeId: this.nodeId, incarnation: this.incarnation, by: String(reply[2]) });
      return;
    }
    if (status === 'restored') this.#graceUntil = performance.now() + this.reconnectGraceMs;
    if (status === 'registered' || status === 'replaced' || status === 'restored') {
      this.safeEmit('registered', { nodeId: this.nodeId, incarnation: this.incarnation, status });
    }
  }

  /** The periodic sweep; skipped while disconnected, in the grace after a reconnect, or while this node's own heartbeats fail. */
  async #sweep(): Promise<void> {
    if (this.#closed || this.#superseded || this.#sweeping) return;
    if (!this.#connected || !this.#lastBeatOk || performance.now() < this.#graceUntil) return;
    this.#sweeping = true;
    try {
      const reply = await this.#connection.evalOnce('sweep', SWEEP, [this.#keys.nodes, this.#keys.gone], [
        this.#keys.base,
        String(this.deadAfterMs),
        String(this.#keyTtlMs),
        ...this.#stallArgs(),
      ]);
      // A disconnect or a lost registration during the call: its result may be the outage's.
      if (this.#closed || !this.#connected || performance.now() < this.#graceUntil) return;
      this.#apply(reply);
    } catch {
      // Redis unreachable: the heartbeat reports it; nothing to conclude from here.
    } finally {
      this.#sweeping = false;
    }
  }

  /** Compares the live list with the previous one and announces the differences. */
  #apply(reply: unknown): void {
    if (!Array.isArray(reply) || !Array.isArray(reply[2]) || !Array.isArray(reply[3])) return;
    const live: ClusterNode[] = [];
    for (const row of reply[2] as unknown[]) {
      const node = parseNode(row);
      if (node) live.push(node);
    }
    const reasons = new Map<string, NodeDownReason>();
    for (const member of reply[3] as unknown[]) {
      const [reason, incarnation] = String(member).split('|');
      if ((reason === 'left' || reason === 'restarted' || reason === 'missed-heartbeats') && incarnation) reasons.set(incarnation, reason);
    }
    this.#live = live;
    const byId = new Map(live.map((n) => [n.nodeId, n]));
    for (const [nodeId, previous] of this.#view) {
      const current = byId.get(nodeId);
      if (current?.incarnation === previous.incarnation) continue;
      this.#view.delete(nodeId);
      const reason = reasons.get(previous.incarnation) ?? (current ? 'restarted' : 'missed-heartbeats');
      this.safeEmit('nodeDown', { nodeId, incarnation: previous.incarnation, reason });
    }
    for (const node of live) {
      if (node.nodeId === this.nodeId) continue;
      const previous = this.#view.get(node.nodeId);
      this.#view.set(node.nodeId, node);
      if (!previous) {
        this.safeEmit('nodeUp', node);
        if (node.state === 'draining') this.safeEmit('nodeDraining', node);
      } else if (previous.state !== 'draining' && node.state === 'draining') {
        this.safeEmit('nodeDraining', node);
      }
    }
  }

  #beatKeys(): string[] {
    return [this.#keys.nodes, this.#keys.node(this.nodeId), this.#keys.nodeRooms(this.nodeId), this.#keys.gone];
  }

  #beatArgs(mode: 'register' | 'beat'): string[] {
    return [
      this.#keys.base,
      this.nodeId,
      this.incarnation,
      mode,
      this.#state,
      String(this.#readLoad()),
      this.#limits,
      this.#meta,
      String(this.#keyTtlMs),
      ...this.#stallArgs(),
    ];
  }

  /**
   * When Redis counts as having stood still, and for how long nobody is declared
   * dead after: a gap of `deadAfterMs - heartbeatMs` without any heartbeat or sweep
   * (shorter stalls leave every score younger than `deadAfterMs`), then `deadAfterMs`.
   */
  #stallArgs(): string[] {
    return [String(this.deadAfterMs - this.heartbeatMs), String(this.deadAfterMs)];
  }

  #readLoad(): number {
    try {
      const load = this.#load();
      if (typeof load !== 'number' || !Number.isFinite(load)) return 1;
      return Math.round(Math.max(0, load) * 10_000) / 10_000;
    } catch {
      return 1;
    }
  }
}

function parseNode(row: unknown): ClusterNode | undefined {
  if (!Array.isArray(row)) return undefined;
  const [nodeId, score, incarnation, state, load, limits, meta, since] = row.map((v) => (v === null || v === undefined ? '' : String(v)));
  if (!nodeId || !incarnation) return undefined;
  return {
    nodeId,
    incarnation,
    state: state === 'draining' ? 'draining' : 'serving',
    load: Number.isFinite(Number(load)) && load !== '' ? Number(load) : 1,
    limits: parseJson(limits) as Record<string, number>,
    meta: parseJson(meta) as Record<string, string>,
    heartbeatAt: Number(score),
    since: Number(since) || Number(score),
  };
}

function parseJson(text: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text ?? '{}');
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function positive(value: number | undefined, fallback: number, name: string, min: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw config(`${name} must be a number of at least ${min}`);
  return v;
}

function record<T>(value: Record<string, T> | undefined, name: string, ok: (v: unknown) => boolean): Record<string, T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw config(`${name} must be a plain object`);
  for (const [key, v] of Object.entries(value)) {
    if (!ok(v)) throw config(`${name}.${key} has an invalid value`);
  }
  return { ...value };
}
