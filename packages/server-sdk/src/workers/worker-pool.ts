import * as os from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { ErrorCode, LecternError } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import { withTimeout } from '../util/timeout.js';
import { backoffDelay } from '../util/backoff.js';
import { DEFAULT_LOAD_MODEL, type LoadModel, WorkerLoad } from './worker-load.js';

/** How new routers are spread over workers. */
export type PlacementPolicy = 'round-robin' | 'least-loaded';

export interface WebRtcServerOptions {
  /** IP the server listens on (e.g. `0.0.0.0` or a private address). */
  listenIp: string;
  /** Public address announced in ICE candidates when `listenIp` is not reachable directly. */
  announcedAddress?: string;
  /** Worker `i` listens on UDP and TCP `basePort + i`. */
  basePort: number;
}

export interface WorkerPoolOptions {
  /** Default: one per CPU core (`os.availableParallelism()`). */
  numWorkers?: number;
  logLevel?: types.WorkerLogLevel;
  logTags?: types.WorkerLogTag[];
  /** RTC port range for transports that do not use a WebRtcServer. */
  rtcMinPort?: number;
  rtcMaxPort?: number;
  /** One WebRtcServer per worker (one UDP + TCP port each) instead of a port per transport. */
  webRtcServer?: WebRtcServerOptions;
  /** Default `round-robin`. */
  placement?: PlacementPolicy;
  /** Refuse new media on a worker whose estimated CPU % reaches this. Default 85. */
  cpuCeilingPercent?: number;
  loadModel?: Partial<LoadModel>;
  /** How often each worker's CPU is sampled. Default 1000 ms. */
  loadSampleIntervalMs?: number;
  /** Timeout of every call into a worker. Default 10 000 ms. */
  requestTimeoutMs?: number;
}

const WORKER_LOG_LEVELS: readonly string[] = ['debug', 'warn', 'error', 'none'];
const PLACEMENTS: readonly string[] = ['round-robin', 'least-loaded'];

/**
 * Refuses worker pool options that cannot work, with `INVALID_CONFIG` naming
 * the option (before any worker starts): counts and ports that are not
 * integers in range, unknown log levels or placement policies, a CPU ceiling
 * outside (0, 100], non-positive intervals and time limits, negative load
 * model costs.
 */
export function validateWorkerPoolOptions(options: WorkerPoolOptions): void {
  const bad = (option: string, must: string, got: unknown): LecternError =>
    new LecternError(ErrorCode.INVALID_CONFIG, `workers.${option} must be ${must}, got ${describeValue(got)}`, { option: `workers.${option}` });
  if (typeof options !== 'object' || options === null) throw bad('(options)', 'an object', options);
  const { numWorkers, logLevel, placement, cpuCeilingPercent, loadSampleIntervalMs, requestTimeoutMs, rtcMinPort, rtcMaxPort, webRtcServer, loadModel } = options;
  if (numWorkers !== undefined && !(Number.isInteger(numWorkers) && numWorkers >= 1 && numWorkers <= 1024)) {
    throw bad('numWorkers', 'an integer from 1 to 1024', numWorkers);
  }
  if (logLevel !== undefined && !WORKER_LOG_LEVELS.includes(logLevel)) throw bad('logLevel', WORKER_LOG_LEVELS.join(', '), logLevel);
  if (options.logTags !== undefined && !(Array.isArray(options.logTags) && options.logTags.every((t) => typeof t === 'string'))) {
    throw bad('logTags', 'an array of strings', options.logTags);
  }
  if (placement !== undefined && !PLACEMENTS.includes(placement)) throw bad('placement', PLACEMENTS.join(' or '), placement);
  if (cpuCeilingPercent !== undefined && !(typeof cpuCeilingPercent === 'number' && cpuCeilingPercent > 0 && cpuCeilingPercent <= 100)) {
    throw bad('cpuCeilingPercent', 'a number in (0, 100]', cpuCeilingPercent);
  }
  for (const [name, value] of [['loadSampleIntervalMs', loadSampleIntervalMs], ['requestTimeoutMs', requestTimeoutMs]] as const) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw bad(name, 'a positive number of milliseconds', value);
  }
  const isPort = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
  if (rtcMinPort !== undefined && !isPort(rtcMinPort)) throw bad('rtcMinPort', 'a port (1-65535)', rtcMinPort);
  if (rtcMaxPort !== undefined && !isPort(rtcMaxPort)) throw bad('rtcMaxPort', 'a port (1-65535)', rtcMaxPort);
  if (rtcMinPort !== undefined && rtcMaxPort !== undefined && rtcMinPort > rtcMaxPort) throw bad('rtcMaxPort', `>= rtcMinPort (${rtcMinPort})`, rtcMaxPort);
  if (webRtcServer !== undefined) {
    if (typeof webRtcServer !== 'object' || webRtcServer === null) throw bad('webRtcServer', 'an object', webRtcServer);
    if (typeof webRtcServer.listenIp !== 'string' || webRtcServer.listenIp === '') throw bad('webRtcServer.listenIp', 'an IP address', webRtcServer.listenIp);
    const last = webRtcServer.basePort + (numWorkers ?? os.availableParallelism()) - 1;
    if (!isPort(webRtcServer.basePort) || !isPort(last)) throw bad('webRtcServer.basePort', 'a port with room for one port per worker (<= 65535)', webRtcServer.basePort);
    if (webRtcServer.announcedAddress !== undefined && (typeof webRtcServer.announcedAddress !== 'string' || webRtcServer.announcedAddress === '')) {
      throw bad('webRtcServer.announcedAddress', 'a host name or IP address', webRtcServer.announcedAddress);
    }
  }
  if (loadModel !== undefined) {
    if (typeof loadModel !== 'object' || loadModel === null) throw bad('loadModel', 'an object', loadModel);
    for (const [name, value] of Object.entries(loadModel)) {
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw bad(`loadModel.${name}`, 'a number >= 0', value);
    }
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}

/** One slot of the pool. The slot survives its worker: a replacement takes the same index. */
export interface PoolWorker {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer | undefined;
  readonly load: WorkerLoad;
}

export interface WorkerPoolEvents {
  /** A worker process died; its routers (and everything on them) are gone. */
  workerDied: { index: number; pid: number; error: Error };
  /** A replacement worker is running at `index`. */
  workerRespawned: { index: number; pid: number; previousPid: number };
  /** Spawning a replacement failed; the pool retries with backoff. */
  workerRespawnFailed: { index: number; error: Error; retryInMs: number };
  listenerError: { event: string; error: unknown };
}

/**
 * Owns the mediasoup workers: one per core, a WebRtcServer per worker when
 * configured, CPU sampling for admission control, and respawn on death. The
 * process never exits because a worker died.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  private readonly slots: (PoolWorker | undefined)[];
  private readonly settings: Required<Omit<WorkerPoolOptions, 'webRtcServer' | 'rtcMinPort' | 'rtcMaxPort' | 'logTags' | 'loadModel'>> & {
    loadModel: LoadModel;
  };
  private nextIndex = 0;
  private sampler: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly options: WorkerPoolOptions) {
    super();
    validateWorkerPoolOptions(options);
    const numWorkers = options.numWorkers ?? os.availableParallelism();
    this.slots = new Array<PoolWorker | undefined>(numWorkers).fill(undefined);
    this.settings = {
      numWorkers,
      logLevel: options.logLevel ?? 'warn',
      placement: options.placement ?? 'round-robin',
      cpuCeilingPercent: options.cpuCeilingPercent ?? 85,
      loadModel: { ...DEFAULT_LOAD_MODEL, ...options.loadModel },
      loadSampleIntervalMs: options.loadSampleIntervalMs ?? 1000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    };
  }

  /** Starts every worker; rejects (and closes what started) if one cannot start. */
  static async create(options: WorkerPoolOptions = {}): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      await Promise.all(pool.slots.map((_, index) => pool.spawn(index)));
    } catch (error) {
      pool.close();
      throw error;
    }
    pool.sampler = setInterval(() => void pool.sampleLoad(), pool.settings.loadSampleIntervalMs);
    pool.sampler.unref();
    await pool.sampleLoad();
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  get cpuCeilingPercent(): number {
    return this.settings.cpuCeilingPercent;
  }

  get requestTimeoutMs(): number {
    return this.settings.requestTimeoutMs;
  }

  /** The live workers (a slot whose worker died and is respawning is skipped). */
  get workers(): PoolWorker[] {
    return this.slots.filter((s): s is PoolWorker => s !== undefined && !s.worker.closed);
  }

  hasHeadroom(slot: PoolWorker): boolean {
    return !slot.worker.closed && slot.load.estimatedCpuPercent < this.settings.cpuCeilingPercent;
  }

  /**
   * The worker for a new router: the next one round-robin (or the least loaded)
   * among live workers with headroom, leaving out `exclude` (the workers that
   * already host a router of the room). Undefined when there is none.
   */
  pickWorker(exclude: ReadonlySet<types.Worker> = new Set()): PoolWorker | undefined {
    const candidates = this.workers.filter((s) => this.hasHeadroom(s) && !exclude.has(s.worker));
    if (candidates.length === 0) return undefined;
    if (this.settings.placement === 'least-loaded') {
      return candidates.reduce((best, s) =>
        s.load.estimatedCpuPercent < best.load.estimatedCpuPercent ||
        (s.load.estimatedCpuPercent === best.load.estimatedCpuPercent && s.load.transports < best.load.transports)
          ? s
          : best,
      );
    }
    // Round-robin over slot indexes, skipping workers that are not candidates.
    for (let i = 0; i < this.slots.length; i++) {
      const index = (this.nextIndex + i) % this.slots.length;
      const slot = candidates.find((s) => s.index === index);
      if (slot) {
        this.nextIndex = (index + 1) % this.slots.length;
        return slot;
      }
    }
    return candidates[0];
  }

  /** Like {@link pickWorker}, but throws OVERLOADED when no worker has headroom. */
  requireWorker(exclude?: ReadonlySet<types.Worker>): PoolWorker {
    const slot = this.pickWorker(exclude);
    if (!slot) {
      throw new LecternError(ErrorCode.OVERLOADED, 'no media worker has headroom', {
        ceilingPercent: this.settings.cpuCeilingPercent,
      });
    }
    return slot;
  }

  /** Closes every worker; no respawn afterwards. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sampler);
    for (const slot of this.slots) slot?.worker.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async spawn(index: number): Promise<PoolWorker> {
    const o = this.options;
    const worker = await mediasoup.createWorker({
      logLevel: this.settings.logLevel,
      ...(o.logTags ? { logTags: o.logTags } : {}),
      ...(o.rtcMinPort !== undefined ? { rtcMinPort: o.rtcMinPort } : {}),
      ...(o.rtcMaxPort !== undefined ? { rtcMaxPort: o.rtcMaxPort } : {}),
      appData: { index },
    });
    leaveSignalsToHost(worker);
    try {
      let webRtcServer: types.WebRtcServer | undefined;
      if (o.webRtcServer) {
        const { listenIp, announcedAddress, basePort } = o.webRtcServer;
        const port = basePort + index;
        const info = { ip: listenIp, port, ...(announcedAddress ? { announcedAddress } : {}) };
        webRtcServer = await withTimeout(
          worker.createWebRtcServer({ listenInfos: [{ protocol: 'udp', ...info }, { protocol: 'tcp', ...info }] }),
          this.settings.requestTimeoutMs,
          'createWebRtcServer',
        );
      }
      const slot: PoolWorker = { index, worker, webRtcServer, load: new WorkerLoad(worker, this.settings.loadModel) };
      if (this.closed) {
        worker.close();
        return slot;
      }
      this.slots[index] = slot;
      worker.on('died', (error) => this.onDied(slot, error));
      return slot;
    } catch (error) {
      worker.close();
      throw error;
    }
  }

  private onDied(slot: PoolWorker, error: Error): void {
    if (this.closed) return;
    this.safeEmit('workerDied', { index: slot.index, pid: slot.worker.pid, error });
    void this.respawn(slot.index, slot.worker.pid, 0);
  }

  private async respawn(index: number, previousPid: number, attempt: number): Promise<void> {
    if (this.closed) return;
    try {
      const slot = await this.spawn(index);
      if (this.closed) return;
      await this.sampleOne(slot);
      this.safeEmit('workerRespawned', { index, pid: slot.worker.pid, previousPid });
    } catch (error) {
      // The pool owns this retry (see util/backoff.ts): 250 ms → 30 s with jitter, until it succeeds or the pool closes.
      const retryInMs = backoffDelay(attempt + 1, { minMs: 250, maxMs: 30_000 });
      this.safeEmit('workerRespawnFailed', { index, error: error as Error, retryInMs });
      setTimeout(() => void this.respawn(index, previousPid, attempt + 1), retryInMs).unref();
    }
  }

  private async sampleLoad(): Promise<void> {
    await Promise.all(this.workers.map((slot) => this.sampleOne(slot)));
  }

  private readonly sampling = new WeakSet<PoolWorker>();

  private async sampleOne(slot: PoolWorker): Promise<void> {
    if (this.sampling.has(slot)) return; // the previous sample is still waiting
    this.sampling.add(slot);
    try {
      const usage = await withTimeout(slot.worker.getResourceUsage(), this.settings.requestTimeoutMs, 'getResourceUsage');
      slot.load.sample(usage);
    } catch {
      // A worker whose control channel does not answer is saturated (or dying):
      // admission must stop sending it work. If it died, onDied replaces it.
      slot.load.markUnresponsive();
    } finally {
      this.sampling.delete(slot);
    }
  }
}

/**
 * mediasoup makes each Worker close itself on the process' SIGINT and SIGTERM
 * (`process.once` listeners). A host must be able to drain first — tell its
 * peers to move (`MediaNode.drain`), finish recordings — so the pool removes
 * those listeners: the signals are the host's. A host with no listener of its
 * own ends as Node does by default, and the workers exit with it (their
 * channel closes).
 */
function leaveSignalsToHost(worker: types.Worker): void {
  const onSignal = (worker as unknown as { onSignal?: (...args: unknown[]) => void }).onSignal;
  if (typeof onSignal !== 'function') return;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}
