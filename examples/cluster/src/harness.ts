// A cluster of media-node.ts processes on this machine, with this process as the
// signaling gateway in front of them: each peer's requests go to the node it was
// joined on, and every notification from ANY node's link is delivered to the peer
// it addresses (so a survivor can tell a dead node's peers to reconnect). For
// tests and benchmarks; real parts only (redis-server, mediasoup, WebRTC peers).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Notification, NotificationMap, NotificationName, PeerContext } from '@lectern/server-sdk';
import type { Placement } from '@lectern/server-sdk/cluster';
import { RoomTestPeer, startProcess, startRedis, type OwnedProcess, type RequestFn, type TestRedis } from '@lectern/testkit';
import { NodeLinkClient, type NodeStats, type PeersLostEvent } from './node-link.js';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MEDIA_NODE = fileURLToPath(new URL('./media-node.ts', import.meta.url));
/** Ports per node: RTC in the first half, pipes in the second. */
const PORTS_PER_NODE = 200;
const READY_TIMEOUT_MS = 45_000;

export interface ClusterHarnessOptions {
  nodeIds: string[];
  /** A running redis-server; one is started (and stopped by {@link ClusterHarness.close}) when omitted. */
  redis?: TestRedis;
  /** Each node's `LECTERN_DEAD_AFTER_MS`. Default 2500 (the node program's default). */
  deadAfterMs?: number;
  /** Each node's `LECTERN_IDLE_PIPE_MS`. */
  idlePipeCloseMs?: number;
  /** More environment for every node. */
  env?: Record<string, string>;
  /** First port of the nodes' RTC and pipe ranges (node i: base + i × 200 … + 199). Default: random in 20000–29999. */
  basePort?: number;
  /** Bound on each request over a link. Default 10 000 ms. */
  requestTimeoutMs?: number;
}

export interface JoinOptions {
  roomId: string;
  peerId: string;
  role: 'lecturer' | 'student';
  displayName?: string;
}

/** One notification as the gateway received it: from which node's link, when (performance.now()). */
export interface ReceivedNotification {
  notification: Notification;
  from: string;
  at: number;
}

export interface ReceivedPeersLost {
  event: PeersLostEvent;
  from: string;
  at: number;
}

type Match<N extends NotificationName> = (data: NotificationMap[N]) => boolean;

/** A joined peer, as the gateway holds it. */
export interface HarnessPeer {
  readonly roomId: string;
  readonly peerId: string;
  readonly role: 'lecturer' | 'student';
  /** The node it joined on (its requests go there). */
  readonly nodeId: string;
  readonly peer: RoomTestPeer;
  /** Every notification addressed to this peer (this join of it), from any node. */
  readonly notifications: Notification[];
  /** The same, with sender and arrival time. */
  readonly received: ReceivedNotification[];
  /** False once left, rejoined elsewhere, or the harness closed. */
  readonly active: boolean;
  /** The first `name` notification (already received or to come) whose data `match` accepts. */
  waitFor<N extends NotificationName>(name: N, match?: Match<N>, timeoutMs?: number): Promise<NotificationMap[N]>;
  /** {@link waitFor} with the sender and arrival time. */
  waitForReceived<N extends NotificationName>(name: N, match?: Match<N>, timeoutMs?: number): Promise<ReceivedNotification & { notification: { name: N; data: NotificationMap[N] } }>;
  /** `leave` on its node (if that node is still there), then closes the client side. */
  leave(): Promise<void>;
}

interface NodeProcess {
  readonly nodeId: string;
  readonly index: number;
  readonly proc: OwnedProcess;
  readonly pid: number;
  readonly incarnation: string;
  readonly linkUrl: string;
  readonly link: NodeLinkClient;
}

interface Waiter {
  name: NotificationName;
  match: ((data: never) => boolean) | undefined;
  resolve(entry: ReceivedNotification): void;
}

class Peer implements HarnessPeer {
  readonly notifications: Notification[] = [];
  readonly received: ReceivedNotification[] = [];
  active = true;
  peer!: RoomTestPeer;
  readonly #waiters = new Set<Waiter>();

  constructor(
    readonly roomId: string,
    readonly peerId: string,
    readonly role: 'lecturer' | 'student',
    readonly nodeId: string,
    readonly displayName: string | undefined,
    private readonly harness: ClusterHarness,
  ) {}

  deliver(entry: ReceivedNotification): void {
    if (!this.active) return;
    this.notifications.push(entry.notification);
    this.received.push(entry);
    for (const waiter of this.#waiters) {
      if (matches(entry, waiter.name, waiter.match)) {
        this.#waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  async waitFor<N extends NotificationName>(name: N, match?: Match<N>, timeoutMs = 10_000): Promise<NotificationMap[N]> {
    return (await this.waitForReceived(name, match, timeoutMs)).notification.data;
  }

  waitForReceived<N extends NotificationName>(name: N, match?: Match<N>, timeoutMs = 10_000) {
    type Entry = ReceivedNotification & { notification: { name: N; data: NotificationMap[N] } };
    const found = this.received.find((entry) => matches(entry, name, match));
    if (found) return Promise.resolve(found as Entry);
    return new Promise<Entry>((resolve, reject) => {
      const waiter: Waiter = {
        name,
        match: match as Waiter['match'],
        resolve: (entry) => {
          clearTimeout(timer);
          resolve(entry as Entry);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const seen = this.received.map((e) => `${e.notification.name}@${e.from}`).join(', ') || 'none';
        reject(new Error(`${this.peerId} (on ${this.nodeId}, room ${this.roomId}): no matching ${name} within ${timeoutMs} ms; received: ${seen}${this.harness.diagnostics()}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  leave(): Promise<void> {
    return this.harness.leave(this);
  }
}

function matches(entry: ReceivedNotification, name: NotificationName, match: ((data: never) => boolean) | undefined): boolean {
  return entry.notification.name === name && (!match || match(entry.notification.data as never));
}

const peerKey = (roomId: string, peerId: string) => `${roomId}\n${peerId}`;

/**
 * Media-node processes (one per node id, distinct port ranges), one Redis, and
 * this process as the gateway: {@link join} peers on chosen nodes, read their
 * notifications, {@link kill} / {@link terminate} / {@link restart} nodes.
 */
export class ClusterHarness {
  readonly keyPrefix = `lectern-test-${randomBytes(4).toString('hex')}:`;
  /** Every notification from every link, in arrival order. */
  readonly notifications: ReceivedNotification[] = [];
  /** Every `peersLost` event from every link. */
  readonly peersLost: ReceivedPeersLost[] = [];
  /** Link frames that failed the shape check, by node. */
  readonly invalidFrames: { from: string; reason: string }[] = [];
  readonly #nodes = new Map<string, NodeProcess>();
  /** Ended node processes' stderr, kept for diagnostics. */
  readonly #pastStderr: string[] = [];
  readonly #peers = new Map<string, Peer>();
  readonly #allPeers = new Set<Peer>();
  #closed = false;

  private constructor(
    readonly redis: TestRedis,
    private readonly ownsRedis: boolean,
    readonly nodeIds: readonly string[],
    readonly basePort: number,
    private readonly options: ClusterHarnessOptions,
  ) {}

  static async start(options: ClusterHarnessOptions): Promise<ClusterHarness> {
    if (options.nodeIds.length === 0 || new Set(options.nodeIds).size !== options.nodeIds.length) throw new Error('nodeIds must be distinct and non-empty');
    const span = options.nodeIds.length * PORTS_PER_NODE;
    const basePort = options.basePort ?? 20_000 + Math.floor(Math.random() * Math.floor((10_000 - span) / PORTS_PER_NODE)) * PORTS_PER_NODE;
    if (basePort < 1024 || basePort + span > 65_536) throw new Error(`basePort ${basePort} leaves no room for ${options.nodeIds.length} nodes`);
    const redis = options.redis ?? (await startRedis());
    const harness = new ClusterHarness(redis, !options.redis, [...options.nodeIds], basePort, options);
    try {
      await Promise.all(options.nodeIds.map((nodeId) => harness.#spawn(nodeId)));
    } catch (error) {
      await harness.close();
      throw error;
    }
    return harness;
  }

  // ------------------------------------------------------------------ nodes

  /** The RTC and pipe port ranges of a node (the same across restarts). */
  ports(nodeId: string): { rtc: { min: number; max: number }; pipe: { min: number; max: number } } {
    const index = this.#index(nodeId);
    const base = this.basePort + index * PORTS_PER_NODE;
    const half = PORTS_PER_NODE / 2;
    return { rtc: { min: base, max: base + half - 1 }, pipe: { min: base + half, max: base + PORTS_PER_NODE - 1 } };
  }

  /** A running node's process facts. */
  node(nodeId: string): { pid: number; incarnation: string; link: string; alive: boolean } {
    const n = this.#node(nodeId);
    return { pid: n.pid, incarnation: n.incarnation, link: n.linkUrl, alive: isRunning(n.proc) };
  }

  isAlive(nodeId: string): boolean {
    const n = this.#nodes.get(nodeId);
    return n !== undefined && isRunning(n.proc);
  }

  /** Where the directory places `roomId`, asked through any live node. */
  async place(roomId: string): Promise<Placement> {
    const n = [...this.#nodes.values()].find((node) => isRunning(node.proc) && node.link.open);
    if (!n) throw new Error('no live node to ask');
    return n.link.place(roomId, this.#timeout);
  }

  stats(nodeId: string): Promise<NodeStats> {
    return this.#node(nodeId).link.stats(this.#timeout);
  }

  /** SIGKILL; resolves with performance.now() taken just before the signal, once the process has exited. */
  async kill(nodeId: string): Promise<number> {
    const n = this.#node(nodeId);
    if (!isRunning(n.proc)) throw new Error(`node ${nodeId} is not running`);
    const at = performance.now();
    n.proc.child.kill('SIGKILL');
    await n.proc.exited;
    return at;
  }

  /** SIGTERM (the node drains, closes, exits); resolves with its exit code (SIGKILL after `graceMs`). */
  async terminate(nodeId: string, graceMs = 20_000): Promise<number | string> {
    const n = this.#node(nodeId);
    return n.proc.stop('SIGTERM', graceMs);
  }

  /** Stops the node if it runs (SIGTERM), then starts a new incarnation with the same id and ports. */
  async restart(nodeId: string): Promise<{ pid: number; incarnation: string; link: string }> {
    const n = this.#nodes.get(nodeId);
    if (n && isRunning(n.proc)) await this.terminate(nodeId);
    const started = await this.#spawn(nodeId);
    return { pid: started.pid, incarnation: started.incarnation, link: started.linkUrl };
  }

  /** Freezes redis-server (SIGSTOP): connections stay open, nothing answers. */
  pauseRedis(): void {
    this.redis.process.child.kill('SIGSTOP');
  }

  resumeRedis(): void {
    this.redis.process.child.kill('SIGCONT');
  }

  /** Restarts redis-server on the same port (see TestRedis.restart: empty unless started `persistent`). */
  restartRedis(options?: { whileDown?: () => unknown }): Promise<void> {
    return this.redis.restart(options);
  }

  /** The nodes' stderr (the last 16 KiB of each, ended incarnations included), for failure messages. */
  diagnostics(): string {
    const parts = [...this.#pastStderr];
    for (const n of this.#nodes.values()) parts.push(`--- ${n.nodeId} (pid ${n.pid}${isRunning(n.proc) ? '' : ', exited'}) stderr:\n${n.proc.stderr().slice(-4000)}`);
    return `\n${parts.join('\n')}`;
  }

  // ------------------------------------------------------------------ peers

  /** Joins a WebRTC peer on `nodeId` (capabilities, join); its requests go to that node. */
  async join(nodeId: string, options: JoinOptions): Promise<HarnessPeer> {
    const link = this.#node(nodeId).link;
    const existing = this.#peers.get(peerKey(options.roomId, options.peerId));
    if (existing) throw new Error(`${options.peerId} is joined already in ${options.roomId} (on ${existing.nodeId}): use rejoin`);
    const record = new Peer(options.roomId, options.peerId, options.role, nodeId, options.displayName, this);
    // Registered before the join, so what the node sends during it is not lost.
    this.#peers.set(peerKey(options.roomId, options.peerId), record);
    this.#allPeers.add(record);
    const context: PeerContext = { roomId: options.roomId, peerId: options.peerId, role: options.role };
    if (options.displayName !== undefined) context.displayName = options.displayName;
    const request: RequestFn = (method, data) => link.request(context, method, data, this.#timeout);
    try {
      record.peer = await RoomTestPeer.join(request, options.displayName === undefined ? {} : { displayName: options.displayName });
    } catch (error) {
      this.#detach(record);
      throw error;
    }
    return record;
  }

  /** {@link join} on the node the directory places the room's new peer on (what a gateway does). */
  async joinPlaced(options: JoinOptions): Promise<HarnessPeer> {
    const { nodeId } = await this.place(options.roomId);
    return this.join(nodeId, options);
  }

  /**
   * The same peer id again on `nodeId` (what a client does after `reconnectRequired`):
   * `leave` on the old node if it still answers, the old client side closed, a new join.
   */
  async rejoin(old: HarnessPeer, nodeId: string): Promise<HarnessPeer> {
    const record = this.#own(old);
    await this.#retire(record);
    return this.join(nodeId, { roomId: record.roomId, peerId: record.peerId, role: record.role, ...(record.displayName === undefined ? {} : { displayName: record.displayName }) });
  }

  /** @internal {@link HarnessPeer.leave} */
  async leave(peer: HarnessPeer): Promise<void> {
    const record = this.#own(peer);
    if (!record.active) return;
    this.#detach(record);
    await record.peer.leave();
  }

  /** Every peer (this join of it) that is still active. */
  peers(): HarnessPeer[] {
    return [...this.#peers.values()];
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Releases everything, also after failures: peers leave (best effort) and close
   * their client side, links close, nodes get SIGTERM (SIGKILL after 5 s), Redis
   * stops if the harness started it. Never throws.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#allPeers].map((record) => this.#retire(record)));
    await Promise.allSettled([...this.#nodes.values()].map((n) => n.link.close()));
    await Promise.allSettled([...this.#nodes.values()].map((n) => n.proc.stop('SIGTERM', 5000)));
    if (this.ownsRedis) await this.redis.stop().catch(() => {});
  }

  get #timeout(): number {
    return this.options.requestTimeoutMs ?? 10_000;
  }

  #index(nodeId: string): number {
    const index = this.nodeIds.indexOf(nodeId);
    if (index < 0) throw new Error(`unknown node ${nodeId} (nodes: ${this.nodeIds.join(', ')})`);
    return index;
  }

  #node(nodeId: string): NodeProcess {
    this.#index(nodeId);
    const n = this.#nodes.get(nodeId);
    if (!n) throw new Error(`node ${nodeId} is not started`);
    return n;
  }

  #own(peer: HarnessPeer): Peer {
    if (!(peer instanceof Peer) || !this.#allPeers.has(peer)) throw new Error('not a peer of this harness');
    return peer;
  }

  #detach(record: Peer): void {
    record.active = false;
    const key = peerKey(record.roomId, record.peerId);
    if (this.#peers.get(key) === record) this.#peers.delete(key);
  }

  /** Leaves (if its node still answers, bounded) and closes the client side; never throws. */
  async #retire(record: Peer): Promise<void> {
    const wasActive = record.active;
    this.#detach(record);
    if (!record.peer) return;
    if (wasActive) {
      const link = this.#nodes.get(record.nodeId)?.link;
      if (link?.open) await record.peer.request('leave', {}).catch(() => {});
    }
    await record.peer.close().catch(() => {});
  }

  /** Starts node `nodeId`, waits for its ready line, connects its link. */
  async #spawn(nodeId: string): Promise<NodeProcess> {
    if (this.#closed) throw new Error('harness closed');
    const index = this.#index(nodeId);
    const previous = this.#nodes.get(nodeId);
    if (previous) {
      if (isRunning(previous.proc)) throw new Error(`node ${nodeId} is running`);
      this.#pastStderr.push(`--- ${nodeId} (pid ${previous.pid}, ended) stderr:\n${previous.proc.stderr().slice(-4000)}`);
    }
    const { rtc, pipe } = this.ports(nodeId);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LECTERN_NODE_ID: nodeId,
      LECTERN_REDIS_URL: this.redis.url,
      LECTERN_CLUSTER_PREFIX: this.keyPrefix,
      LECTERN_LINK_PORT: '0',
      LECTERN_LISTEN_IP: '127.0.0.1',
      LECTERN_RTC_MIN_PORT: String(rtc.min),
      LECTERN_RTC_MAX_PORT: String(rtc.max),
      LECTERN_PIPE_MIN_PORT: String(pipe.min),
      LECTERN_PIPE_MAX_PORT: String(pipe.max),
      LECTERN_WORKERS: '1',
      LECTERN_DEAD_AFTER_MS: String(this.options.deadAfterMs ?? 2500),
      ...(this.options.idlePipeCloseMs === undefined ? {} : { LECTERN_IDLE_PIPE_MS: String(this.options.idlePipeCloseMs) }),
      ...this.options.env,
    };
    const proc = startProcess(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', MEDIA_NODE], { cwd: REPO_ROOT, env });
    let link: NodeLinkClient | undefined;
    try {
      const ready = await readyLine(proc, nodeId);
      link = await NodeLinkClient.connect(ready.link);
      const n: NodeProcess = { nodeId, index, proc, pid: ready.pid, incarnation: ready.incarnation, linkUrl: ready.link, link };
      this.#nodes.set(nodeId, n);
      link.on('notification', (notification) => this.#route(nodeId, notification));
      link.on('peersLost', (event) => this.peersLost.push({ event, from: nodeId, at: performance.now() }));
      link.on('invalidFrame', ({ reason }) => this.invalidFrames.push({ from: nodeId, reason }));
      if (this.#closed) throw new Error('harness closed');
      return n;
    } catch (error) {
      await link?.close();
      await proc.stop('SIGKILL');
      throw new Error(`node ${nodeId}: ${error instanceof Error ? error.message : String(error)}\n--- stderr:\n${proc.stderr()}`);
    }
  }

  /** The gateway's forwarding: each addressed peer, whichever node sent it. */
  #route(from: string, notification: Notification): void {
    const entry: ReceivedNotification = { notification, from, at: performance.now() };
    this.notifications.push(entry);
    for (const peerId of notification.to) this.#peers.get(peerKey(notification.roomId, peerId))?.deliver(entry);
  }
}

function isRunning(proc: OwnedProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** The node's one `{"ready":…}` stdout line. */
function readyLine(proc: OwnedProcess, nodeId: string): Promise<{ nodeId: string; incarnation: string; link: string; pid: number }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready"'));
      if (!line) return;
      cleanup();
      try {
        const { ready } = JSON.parse(line) as { ready: { nodeId: string; incarnation: string; link: string; pid: number } };
        if (ready.nodeId !== nodeId || typeof ready.link !== 'string' || typeof ready.incarnation !== 'string') throw new Error(`unexpected ready line ${line}`);
        resolve(ready);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`not ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    void proc.exited.then((code) => {
      cleanup();
      reject(new Error(`exited (${code}) before it was ready`));
    });
    const cleanup = () => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
    };
    proc.child.stdout?.on('data', onData);
  });
}
