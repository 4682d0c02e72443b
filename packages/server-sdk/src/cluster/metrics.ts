import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { OwnedMetrics } from '../metrics/owned-metrics.js';

/** What the metrics read of a MediaNode at scrape time. */
export interface ClusterMetricsSource {
  stats(): { rooms: number; pipesIn: number; pipesOut: number; remotePeers: number; remoteProducers: number };
}

/**
 * Prometheus metrics of a MediaNode, registered next to its RoomManager's (same
 * registry and prefix, so the same `/metrics` shows them): pipes and the other
 * nodes' members read at scrape time; node deaths, lost peers, node-to-node
 * requests and background failures counted as they happen.
 */
export class ClusterMetrics {
  readonly #owned: OwnedMetrics;
  readonly nodesDown: Counter<'reason'>;
  readonly peersLost: Counter<'reason'>;
  readonly requests: Histogram<'method' | 'outcome'>;
  readonly errors: Counter<'op'>;

  constructor(source: ClusterMetricsSource, registry: Registry, prefix: string) {
    const registers = [registry];
    this.#owned = new OwnedMetrics(registry);
    const track = this.#owned.track.bind(this.#owned);
    const gauge = (name: string, help: string, read: (s: ReturnType<ClusterMetricsSource['stats']>) => number) =>
      track(
        new Gauge({
          name: `${prefix}${name}`,
          help,
          registers,
          collect() {
            this.set(read(source.stats()));
          },
        }),
      );
    gauge('cluster_rooms', 'Rooms this node serves as part of the cluster', (s) => s.rooms);
    gauge('cluster_pipes_in', 'Producers of other nodes piped to this node', (s) => s.pipesIn);
    gauge('cluster_pipes_out', 'Producers of this node piped to other nodes', (s) => s.pipesOut);
    gauge('cluster_remote_peers', "Other nodes' peers of this node's rooms", (s) => s.remotePeers);
    gauge('cluster_remote_producers', "Other nodes' producers of this node's rooms", (s) => s.remoteProducers);
    this.nodesDown = track(
      new Counter({ name: `${prefix}cluster_nodes_down_total`, help: 'Other nodes seen going away, by reason (missed-heartbeats, left, restarted)', labelNames: ['reason'], registers }),
    );
    this.peersLost = track(
      new Counter({ name: `${prefix}cluster_peers_lost_total`, help: 'Peers told to reconnect elsewhere by this node, by reason (node-died, node-draining)', labelNames: ['reason'], registers }),
    );
    this.requests = track(
      new Histogram({
        name: `${prefix}cluster_request_duration_seconds`,
        help: 'Node-to-node requests this node made, by method and outcome (ok or the error code)',
        labelNames: ['method', 'outcome'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
        registers,
      }),
    );
    this.errors = track(new Counter({ name: `${prefix}cluster_errors_total`, help: 'Background cluster operations that failed, by operation', labelNames: ['op'], registers }));
  }

  /** Removes these metrics from the registry. */
  unregister(): void {
    this.#owned.unregister();
  }
}
