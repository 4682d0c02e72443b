import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The metrics one SDK component registered in a registry that may be the host's:
 * each is registered through {@link track}, and {@link unregister} removes
 * exactly those (the rest of a shared registry stays usable).
 */
export class OwnedMetrics {
  readonly #names: string[] = [];

  constructor(readonly registry: Registry) {}

  /** Remembers a metric made with `registers: [this.registry]`; returns it. */
  track<T extends Counter<string> | Gauge<string> | Histogram<string>>(metric: T): T {
    this.#names.push((metric as unknown as { name: string }).name);
    return metric;
  }

  unregister(): void {
    for (const name of this.#names.splice(0)) this.registry.removeSingleMetric(name);
  }
}
