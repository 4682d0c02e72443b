import type { types } from 'mediasoup';

/**
 * What one more unit of media is assumed to cost a worker, in percent of one core,
 * until the next CPU sample shows the real figure (and, as a floor, while media
 * is being set up). Calibrate it on your hardware with `npm run bench:capacity`
 * and pass it as `workers.loadModel`.
 */
export interface LoadModel {
  /** One audio consumer (Opus, 50 packets/s, SRTP as every WebRTC consumer). */
  cpuPerAudioConsumer: number;
  /** One video consumer (about 1 Mbit/s, ~110 packets/s, SRTP). */
  cpuPerVideoConsumer: number;
  /** One transport before it carries media (ICE/DTLS/RTCP housekeeping, and a reservation). */
  cpuPerTransport: number;
}

/**
 * Measured with `bench/capacity.ts` on the 2-core reference machine (2026-11-30,
 * mediasoup 3.27.1 built with libsrtp 3 on OpenSSL; bench/RESULTS.md): with the
 * costlier SRTP suite (AES_CM_128_HMAC_SHA1_80) one worker forwarded 1600 SRTP Opus
 * consumers at 57.7 % of a core (0.036 % each; 0.037 % at 800) and 800 SRTP
 * 1 Mbit/s VP8 consumers at 55.2 % (0.069 % each). With AEAD_AES_256_GCM, which
 * mediasoup prefers, the same costs 15–25 % less. The SHA-1 figures, rounded up,
 * are used, so admission errs on the side of refusing: at the default 85 % ceiling
 * a worker takes ~770 students consuming audio + video (the mediasoup 3.13 build
 * with Debian's NSS-backed libsrtp2 took ~230). Calibrate on your own hardware.
 */
export const DEFAULT_LOAD_MODEL: LoadModel = {
  cpuPerAudioConsumer: 0.04,
  cpuPerVideoConsumer: 0.07,
  cpuPerTransport: 0.02,
};

interface Counts {
  audioConsumers: number;
  videoConsumers: number;
  transports: number;
}

/**
 * A worker's load estimate, the larger of two views:
 * - measured: CPU % from getResourceUsage() deltas at the last sample, plus the
 *   modelled cost of media added (or removed) since. Sampling lags a join storm by
 *   up to one interval; the delta bridges that gap so admission sees the storm.
 * - modelled: what the media the worker holds costs by the load model. Idle
 *   transports cost almost no CPU yet will carry media a moment later, so the
 *   model keeps them counted after the next sample.
 * Counts come from mediasoup's own observer events, so they cannot drift from
 * what the worker really holds.
 */
export class WorkerLoad {
  private lastCpuMs: number | undefined;
  private lastSampleAt: number | undefined;
  private measuredCpu = 0;
  private readonly current: Counts = { audioConsumers: 0, videoConsumers: 0, transports: 0 };
  private atSample: Counts = { ...this.current };
  /** Total CPU seconds (user + system) the worker has used, from the last sample. */
  cpuSeconds = 0;
  routers = 0;
  /**
   * Transports placed on this worker but not created yet. Placement decisions
   * are made before mediasoup creates anything, so a storm must see them.
   */
  pendingTransports = 0;
  /** PipeTransports (router-to-router links) on this worker. */
  pipeTransports = 0;

  constructor(
    worker: types.Worker,
    private readonly model: LoadModel,
  ) {
    worker.observer.on('newrouter', (router) => {
      this.routers += 1;
      router.observer.on('close', () => (this.routers -= 1));
      router.observer.on('newtransport', (transport) => {
        // Pipe transports are counted apart: what they forward is paid for by the
        // consumers on the receiving router.
        if (transport.type === 'pipe') {
          this.pipeTransports += 1;
          transport.observer.on('close', () => (this.pipeTransports -= 1));
        } else {
          this.current.transports += 1;
          transport.observer.on('close', () => (this.current.transports -= 1));
        }
        transport.observer.on('newconsumer', (consumer) => {
          const key = consumer.kind === 'video' ? 'videoConsumers' : 'audioConsumers';
          this.current[key] += 1;
          consumer.observer.on('close', () => (this.current[key] -= 1));
        });
      });
    });
  }

  /** Feeds one getResourceUsage() reading taken at `now` (ms). */
  sample(usage: types.WorkerResourceUsage, now = Date.now()): void {
    const cpuMs = usage.ru_utime + usage.ru_stime;
    if (this.lastCpuMs !== undefined && this.lastSampleAt !== undefined && now > this.lastSampleAt) {
      this.measuredCpu = Math.max(0, ((cpuMs - this.lastCpuMs) / (now - this.lastSampleAt)) * 100);
    }
    this.lastCpuMs = cpuMs;
    this.lastSampleAt = now;
    this.cpuSeconds = cpuMs / 1000;
    this.atSample = { ...this.current };
  }

  /** The worker did not answer a sample in time: treat it as saturated until it does. */
  markUnresponsive(): void {
    this.measuredCpu = 100;
    this.lastCpuMs = undefined;
    this.lastSampleAt = undefined;
  }

  /** CPU % of one core measured over the last sampling interval. */
  get measuredCpuPercent(): number {
    return this.measuredCpu;
  }

  /** The load estimate in % of one core (see the class comment). */
  get estimatedCpuPercent(): number {
    const pending = this.pendingTransports * this.model.cpuPerTransport;
    const sinceSample = this.cost(this.current) - this.cost(this.atSample);
    return Math.max(0, this.measuredCpu + sinceSample, this.cost(this.current)) + pending;
  }

  private cost(counts: Counts): number {
    const m = this.model;
    return (
      counts.audioConsumers * m.cpuPerAudioConsumer +
      counts.videoConsumers * m.cpuPerVideoConsumer +
      counts.transports * m.cpuPerTransport
    );
  }

  get transports(): number {
    return this.current.transports;
  }

  get consumers(): number {
    return this.current.audioConsumers + this.current.videoConsumers;
  }
}
