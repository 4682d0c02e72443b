import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { OwnedMetrics } from './owned-metrics.js';
import type { ErrorCode } from '@lectern/protocol';
import type { RoomStats } from '../rooms/room.js';
import type { PoolWorker } from '../workers/worker-pool.js';

/**
 * What the metrics read and listen to (the RoomManager is one): gauges are
 * computed at scrape time from the live workers and rooms, counters follow
 * events. Metrics depend on this shape, never on the manager's class.
 */
export interface MetricsSource {
  readonly pool: { readonly workers: readonly PoolWorker[] };
  roomStats(): { roomId: string; stats: RoomStats }[];
  on(event: 'requestCompleted', listener: (event: { method: string; durationMs: number; code?: ErrorCode }) => void): unknown;
  on(event: 'workerDied', listener: () => void): unknown;
  off(event: 'requestCompleted', listener: (event: { method: string; durationMs: number; code?: ErrorCode }) => void): unknown;
  off(event: 'workerDied', listener: () => void): unknown;
}

export interface MetricsOptions {
  /** Register into the host's registry (e.g. prom-client's global one); default: a new registry. */
  registry?: Registry;
  /** Metric name prefix. Default `lectern_`. */
  prefix?: string;
}

/**
 * Prometheus metrics of a RoomManager. Gauges are computed at scrape time from
 * the live objects (nothing to drift); counters and the latency histogram are
 * fed by the request path. Expose `registry` yourself, or mount {@link handler}.
 */
export class LecternMetrics {
  readonly registry: Registry;
  /** Prefix of every metric name (other Lectern components register under it too). */
  readonly prefix: string;
  private source: MetricsSource | undefined;
  private readonly lastCpuSeconds = new Map<number, { pid: number; seconds: number }>();
  /** What this manager registered (unbind() removes it from a shared registry). */
  private readonly owned: OwnedMetrics;
  private readonly requestDuration: Histogram<'method'>;
  private readonly requestErrors: Counter<'method' | 'code'>;
  private readonly workerDeaths: Counter;

  constructor(options: MetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const p = options.prefix ?? 'lectern_';
    this.prefix = p;
    const registers = [this.registry];
    const self = this;
    this.owned = new OwnedMetrics(this.registry);
    const track = this.owned.track.bind(this.owned);

    this.requestDuration = track(
      new Histogram({
        name: `${p}request_duration_seconds`,
        help: 'Request API latency by method',
        labelNames: ['method'],
        buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
        registers,
      }),
    );
    this.requestErrors = track(
      new Counter({ name: `${p}request_errors_total`, help: 'Failed requests by method and error code', labelNames: ['method', 'code'], registers }),
    );
    this.workerDeaths = track(
      new Counter({ name: `${p}worker_deaths_total`, help: 'mediasoup worker processes that died', registers }),
    );
    track(
      new Counter({
        name: `${p}worker_cpu_seconds_total`,
        help: 'CPU seconds (user + system) used by each mediasoup worker, from getResourceUsage()',
        labelNames: ['worker'],
        registers,
        collect() {
          // One entry per slot: a respawned worker starts again from 0 CPU seconds.
          for (const slot of self.source?.pool.workers ?? []) {
            const last = self.lastCpuSeconds.get(slot.index);
            const base = last && last.pid === slot.worker.pid ? last.seconds : 0;
            const delta = slot.load.cpuSeconds - base;
            if (delta > 0) this.inc({ worker: String(slot.index) }, delta);
            self.lastCpuSeconds.set(slot.index, { pid: slot.worker.pid, seconds: slot.load.cpuSeconds });
          }
        },
      }),
    );

    const perWorker = (name: string, help: string, read: (slot: PoolWorker) => number) =>
      track(
        new Gauge({
          name: `${p}${name}`,
          help,
          labelNames: ['worker'],
          registers,
          collect() {
            this.reset();
            for (const slot of self.source?.pool.workers ?? []) this.set({ worker: String(slot.index) }, read(slot));
          },
        }),
      );
    perWorker('worker_cpu_percent', 'CPU % of one core measured over the last sample', (s) => s.load.measuredCpuPercent);
    perWorker('worker_load_estimate_percent', 'Load estimate used by admission control (% of one core)', (s) => s.load.estimatedCpuPercent);
    perWorker('worker_routers', 'Routers per worker', (s) => s.load.routers);
    perWorker('worker_transports', 'Peer transports per worker (WebRTC and plain; pipes are counted apart)', (s) => s.load.transports);
    perWorker('worker_consumers', 'Consumers per worker', (s) => s.load.consumers);
    perWorker('worker_pipe_transports', 'Pipe transports per worker', (s) => s.load.pipeTransports);

    track(
      new Gauge({
        name: `${p}router_transports`,
        help: 'Peer transports per router (what room sharding counts)',
        labelNames: ['room', 'router', 'worker_pid'],
        registers,
        collect() {
          this.reset();
          for (const { roomId, stats } of self.source?.roomStats() ?? []) {
            for (const r of stats.routers) {
              this.set({ room: roomId, router: r.routerId, worker_pid: String(r.workerPid) }, r.transports);
            }
          }
        },
      }),
    );
    const total = (name: string, help: string, read: () => number) =>
      track(
        new Gauge({
          name: `${p}${name}`,
          help,
          registers,
          collect() {
            this.set(read());
          },
        }),
      );
    total('rooms', 'Open rooms', () => self.source?.roomStats().length ?? 0);
    total('peers', 'Joined peers', () => self.sum((s) => s.peers));
    total('producers', 'Producers of peers', () => self.sum((s) => s.producers));
    total('consumers', 'Consumers of peers', () => self.sum((s) => s.consumers));
    total('pipes', 'Producers piped to another router (producer x router)', () => self.sum((s) => s.pipes));
    total('workers', 'Live mediasoup workers', () => self.source?.pool.workers.length ?? 0);
  }

  /** Called by the RoomManager that owns these metrics: from now on they follow `source`. */
  bind(source: MetricsSource): void {
    this.source = source;
    source.on('requestCompleted', this.onRequest);
    source.on('workerDied', this.onWorkerDied);
  }

  /** Removes this manager's metrics from the registry (the host's registry stays usable). */
  unbind(): void {
    this.source?.off('requestCompleted', this.onRequest);
    this.source?.off('workerDied', this.onWorkerDied);
    this.source = undefined;
    this.owned.unregister();
  }

  private readonly onRequest = ({ method, durationMs, code }: { method: string; durationMs: number; code?: ErrorCode }): void => {
    this.requestDuration.observe({ method }, durationMs / 1000);
    if (code) this.requestErrors.inc({ method, code });
  };

  private readonly onWorkerDied = (): void => {
    this.workerDeaths.inc();
  };

  /** A ready `http` handler: `http.createServer(metrics.handler)` or mount it at `/metrics`. */
  readonly handler = (_req: IncomingMessage, res: ServerResponse): void => {
    this.registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': this.registry.contentType });
        res.end(body);
      },
      () => {
        // The cause stays on the server: a scrape endpoint is often reachable
        // by more parties than the host's logs are.
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('metrics failed');
      },
    );
  };

  private sum(read: (stats: RoomStats) => number): number {
    return (this.source?.roomStats() ?? []).reduce((acc, { stats }) => acc + read(stats), 0);
  }
}
