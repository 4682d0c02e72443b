import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { OwnedMetrics } from '../metrics/owned-metrics.js';
import type { TypedEmitter } from '../util/typed-emitter.js';
import type { TranscriptionServiceEvents } from './events.js';

/**
 * What the metrics read of the transcription service: its events, and its
 * running pipelines at scrape time. The service creates the metrics with
 * itself as the source; this module never imports the service.
 */
export interface TranscriptionMetricsSource extends Pick<TypedEmitter<TranscriptionServiceEvents>, 'on' | 'off'> {
  readonly activeRooms: readonly string[];
  pipeline(roomId: string): { readonly backlog: { readonly batches: number }; readonly lagSeconds: number } | undefined;
}

/**
 * Prometheus metrics of a transcription service, registered next to the
 * RoomManager's (same registry and prefix, so the same `/metrics` shows them).
 * Counters are fed by the service's events; backlog and lag are read at scrape time.
 */
export class TranscriptionMetrics {
  private readonly owned: OwnedMetrics;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(source: TranscriptionMetricsSource, registry: Registry, prefix: string) {
    const registers = [registry];
    this.owned = new OwnedMetrics(registry);
    const track = this.owned.track.bind(this.owned);
    const segments = track(new Counter({ name: `${prefix}transcription_segments_written_total`, help: 'WAV segments the taps finished', registers }));
    const segmentSeconds = track(new Counter({ name: `${prefix}transcription_audio_seconds_total`, help: 'Seconds of lecture audio recorded by the taps', registers }));
    const batches = track(new Counter({ name: `${prefix}transcription_batches_built_total`, help: 'Batches built (concat + encode)', registers }));
    const transcribed = track(new Counter({ name: `${prefix}transcription_batches_transcribed_total`, help: 'Batches the STT engine transcribed', registers }));
    const errors = track(
      new Counter({ name: `${prefix}transcription_errors_total`, help: 'Pipeline errors by stage (tap, batch, stt, store, summary, cleanup)', labelNames: ['stage'], registers }),
    );
    const restarts = track(new Counter({ name: `${prefix}transcription_tap_restarts_total`, help: 'Tap FFmpeg restarts (crashes and idle input)', registers }));
    const latency = track(
      new Histogram({
        name: `${prefix}stt_latency_seconds`,
        help: 'Time the STT engine took per batch (including client retries)',
        buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
        registers,
      }),
    );
    const rtf = track(
      new Histogram({ name: `${prefix}stt_real_time_factor`, help: 'STT seconds per second of batch audio', buckets: [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2], registers }),
    );
    track(
      new Gauge({
        name: `${prefix}transcription_lectures`,
        help: 'Lectures being transcribed',
        registers,
        collect() {
          this.set(source.activeRooms.length);
        },
      }),
    );
    track(
      new Gauge({
        name: `${prefix}transcription_batches_pending`,
        help: 'Batches built or being built and not yet stored',
        registers,
        collect() {
          this.set(source.activeRooms.reduce((n, roomId) => n + (source.pipeline(roomId)?.backlog.batches ?? 0), 0));
        },
      }),
    );
    track(
      new Gauge({
        name: `${prefix}transcript_lag_seconds`,
        help: 'Live edge of the lecture minus the end of its stored transcript (bounded below by the batch length)',
        labelNames: ['room'],
        registers,
        collect() {
          this.reset();
          for (const roomId of source.activeRooms) {
            const pipeline = source.pipeline(roomId);
            if (pipeline) this.set({ room: roomId }, pipeline.lagSeconds);
          }
        },
      }),
    );

    const subscribe = <K extends keyof TranscriptionServiceEvents & string>(name: K, listener: (event: TranscriptionServiceEvents[K]) => void) => {
      // eventemitter3's typing of the listener is the event map's; the cast only bridges the generic key.
      const on = source.on as (n: string, l: (e: TranscriptionServiceEvents[K]) => void) => unknown;
      const off = source.off as (n: string, l: (e: TranscriptionServiceEvents[K]) => void) => unknown;
      on.call(source, name, listener);
      this.unsubscribe.push(() => off.call(source, name, listener));
    };
    subscribe('segmentWritten', (e) => {
      segments.inc();
      segmentSeconds.inc(e.duration);
    });
    subscribe('batchReady', () => batches.inc());
    subscribe('batchTranscribed', (e) => {
      transcribed.inc();
      latency.observe(e.sttSeconds);
      if (e.audioSeconds > 0) rtf.observe(e.sttSeconds / e.audioSeconds);
    });
    subscribe('pipelineError', (e) => errors.inc({ stage: e.stage }));
    subscribe('tapRestarted', () => restarts.inc());
  }

  /** Stops listening to the service and removes these metrics from the registry. */
  unregister(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.owned.unregister();
  }
}
