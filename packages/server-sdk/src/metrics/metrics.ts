import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RoomManager } from '../rooms/room-manager.js';
import type { RoomStats } from '../rooms/room.js';

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
  private manager: RoomManager | undefined;
  private readonly lastCpuSeconds = new Map<number, { pid: number; seconds: number }>();
  private readonly owned: string[] = [];
  private readonly requestDuration: Histogram<'method'>;
  private readonly requestErrors: Counter<'method' | 'code'>;
  private readonly workerDeaths: Counter;

  constructor(options: MetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const p = options.prefix ?? 'lectern_';
    this.prefix = p;
    const registers = [this.registry];
    const self = this;
    // Remember what we registered so unbind() can remove it from a shared registry.
    const track = <T extends Counter<string> | Gauge<string> | Histogram<string>>(metric: T): T => {
      this.owned.push((metric as unknown as { name: string }).name);
      return metric;
    };

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
          for (const slot of self.manager?.pool.workers ?? []) {
            const last = self.lastCpuSeconds.get(slot.index);
            const base = last && last.pid === slot.worker.pid ? last.seconds : 0;
            const delta = slot.load.cpuSeconds - base;
            if (delta > 0) this.inc({ worker: String(slot.index) }, delta);
            self.lastCpuSeconds.set(slot.index, { pid: slot.worker.pid, seconds: slot.load.cpuSeconds });
          }
        },
      }),
    );

    const perWorker = (name: string, help: string, read: (slot: RoomManager['pool']['workers'][number]) => number) =>
      track(
        new Gauge({
          name: `${p}${name}`,
          help,
          labelNames: ['worker'],
          registers,
          collect() {
            this.reset();
            for (const slot of self.manager?.pool.workers ?? []) this.set({ worker: String(slot.index) }, read(slot));
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
          for (const room of self.rooms()) {
            for (const r of room.stats().routers) {
              this.set({ room: room.id, router: r.routerId, worker_pid: String(r.workerPid) }, r.transports);
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
    total('rooms', 'Open rooms', () => self.rooms().length);
    total('peers', 'Joined peers', () => self.sum((s) => s.peers));
    total('producers', 'Producers of peers', () => self.sum((s) => s.producers));
    total('consumers', 'Consumers of peers', () => self.sum((s) => s.consumers));
    total('pipes', 'Producers piped to another router (producer x router)', () => self.sum((s) => s.pipes));
    total('workers', 'Live mediasoup workers', () => self.manager?.pool.workers.length ?? 0);
  }

  /** Called by the RoomManager that owns these metrics. */
  bind(manager: RoomManager): void {
    this.manager = manager;
    manager.on('workerDied', () => this.workerDeaths.inc());
  }

  /** Removes this manager's metrics from the registry (the host's registry stays usable). */
  unbind(): void {
    this.manager = undefined;
    for (const name of this.owned) this.registry.removeSingleMetric(name);
  }

  observeRequest(method: string, ms: number, errorCode?: string): void {
    this.requestDuration.observe({ method }, ms / 1000);
    if (errorCode) this.requestErrors.inc({ method, code: errorCode });
  }

  /** A ready `http` handler: `http.createServer(metrics.handler)` or mount it at `/metrics`. */
  readonly handler = (_req: IncomingMessage, res: ServerResponse): void => {
    this.registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': this.registry.contentType });
        res.end(body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`metrics failed: ${String(error)}`);
      },
    );
  };

  private rooms() {
    const manager = this.manager;
    if (!manager) return [];
    return manager.roomIds.map((id) => manager.getRoom(id)).filter((r) => r !== undefined);
  }

  private sum(read: (stats: RoomStats) => number): number {
    return this.rooms().reduce((acc, room) => acc + read(room.stats()), 0);
  }
}
