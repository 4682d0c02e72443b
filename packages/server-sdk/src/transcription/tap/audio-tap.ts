import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCode, LecternError } from '../../errors.js';
import type { ProducerWatch, ServerConsumer, ServerConsumerOptions } from '../../rooms/server-consumer.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg.js';
import { backoffDelay } from '../../util/backoff.js';
import { fileSlug, sleep, Wakeup } from '../util.js';
import { tapSdp } from './sdp.js';
import { freeUdpPortPair, isUdpPortTaken } from './udp-ports.js';
import { readWav, TAP_CHANNELS, TAP_SAMPLE_RATE } from './wav.js';

/** The only address a tap's PlainTransport (and FFmpeg) may listen on. */
export const TAP_LISTEN_IP = '127.0.0.1';

/** One finished WAV segment (16 kHz mono PCM), placed on the lecture's timeline. */
export interface AudioSegment {
  /** The stream the segment belongs to, e.g. `lecturer-1:microphone` (stable across re-joins). */
  streamKey: string;
  producerId: string;
  /** Absolute path of the WAV file; the receiver owns (and deletes) it from now on. */
  path: string;
  /** Seconds from the lecture's start to the segment's first sample. */
  offset: number;
  /** Seconds of audio in the file. */
  duration: number;
  /** True when the segment was salvaged from an FFmpeg that died mid-segment. */
  partial: boolean;
}

export type TapRunEndReason = 'stopped' | 'paused' | 'producer-closed' | 'crashed' | 'input-idle';

/** A piece of the live PCM (16 kHz mono s16le, whole samples) of one run, for live captions. */
export interface TapPcm {
  run: number;
  /** Seconds from the lecture's start to the chunk's first sample. */
  start: number;
  data: Buffer;
}

export interface AudioTapEvents {
  segment: AudioSegment;
  /** Live PCM as FFmpeg decodes it (only with `livePcm`); a run's chunks are contiguous, a new run starts a new clock. */
  pcm: TapPcm;
  runStarted: { run: number; port: number; pid: number | undefined };
  runEnded: { run: number; reason: TapRunEndReason; exit?: FfmpegExit; segments: number; error?: string };
  /** FFmpeg failed too often in a row; the tap gave up (the pipeline reports it). */
  failed: { error: LecternError };
  listenerError: { event: string; error: unknown };
}

export interface AudioTapSettings {
  /** Seconds per WAV segment. Default 30. */
  segmentSeconds: number;
  /** FFmpeg binary. Default `ffmpeg` (from PATH). */
  ffmpegPath: string;
  /** Must be `127.0.0.1`: the tapped audio never leaves the host. */
  listenIp: string;
  /** Grace period after SIGINT before FFmpeg is killed. Default 5000 ms. */
  stopTimeoutMs: number;
  /** Restart backoff after FFmpeg dies. Defaults: 250 ms → 10 s, give up after 10 failures in a row. */
  restart: { minDelayMs: number; maxDelayMs: number; maxConsecutiveFailures: number };
  /**
   * Also decode to raw PCM on FFmpeg's stdout (`pcm` events), for live
   * captions. The same FFmpeg, a second output: one decoder, one RTP port.
   * Default false.
   */
  livePcm: boolean;
}

export const DEFAULT_TAP_SETTINGS: AudioTapSettings = {
  segmentSeconds: 30,
  ffmpegPath: 'ffmpeg',
  listenIp: TAP_LISTEN_IP,
  stopTimeoutMs: 5000,
  restart: { minDelayMs: 250, maxDelayMs: 10_000, maxConsecutiveFailures: 10 },
  livePcm: false,
};

/** Refuses settings that would expose the tap beyond the loopback interface, or make no sense. */
export function validateTapSettings(settings: AudioTapSettings): void {
  if (settings.listenIp !== TAP_LISTEN_IP) {
    throw new LecternError(
      ErrorCode.INVALID_CONFIG,
      `the transcription tap listens on ${TAP_LISTEN_IP} only (asked for ${String(settings.listenIp)}): tapped audio must not be reachable from the network`,
    );
  }
  if (!Number.isFinite(settings.segmentSeconds) || settings.segmentSeconds < 1 || settings.segmentSeconds > 600) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, `segmentSeconds must be within 1..600 (got ${settings.segmentSeconds})`);
  }
}

/**
 * What a tap needs of a room: its producer's state, and a room-owned server-side
 * consumer of it (the room counts it and closes it with itself).
 */
export interface TapSource {
  readonly producer: ProducerWatch;
  openConsumer(options: ServerConsumerOptions): Promise<ServerConsumer>;
}

interface RunResult {
  reason: TapRunEndReason;
  segments: number;
  exit?: FfmpegExit;
}

/**
 * Taps one audio producer into WAV segments: a PlainTransport on 127.0.0.1, a
 * paused consumer, an SDP for FFmpeg, FFmpeg (16 kHz mono segments), and only
 * then the consumer resumes. One such set is a *run*; runs end when the producer
 * pauses (a new one starts on resume), when FFmpeg dies (restarted with bounded
 * backoff on a fresh port, losing at most the unfinished segment, which is
 * salvaged when its samples are on disk), or when the tap stops (SIGINT, so the
 * last WAV is finalised). The tap owns its transports and processes and closes
 * them on every path; segments it emits belong to the listener.
 */
export class AudioTap extends TypedEmitter<AudioTapEvents> {
  private readonly wake = new Wakeup();
  private readonly stopController = new AbortController();
  private readonly filePrefix: string;
  private loop: Promise<void> | undefined;
  private run = 0;
  private current: FfmpegProcess | undefined;
  private closedProducer = false;
  private segmentsEmitted = 0;
  private restarts = 0;
  private readonly producer: ProducerWatch;
  private readonly unwatch: () => void;

  constructor(
    private readonly source: TapSource,
    readonly streamKey: string,
    private readonly dir: string,
    private readonly lectureStartMs: number,
    private readonly settings: AudioTapSettings = DEFAULT_TAP_SETTINGS,
  ) {
    super();
    validateTapSettings(settings);
    this.producer = source.producer;
    if (this.producer.kind !== 'audio') throw new LecternError(ErrorCode.INVALID_REQUEST, 'the transcription tap takes audio producers only');
    this.filePrefix = `${fileSlug(streamKey)}-${Date.now()}`;
    this.unwatch = this.producer.watch((change) => {
      if (change === 'close') this.closedProducer = true;
      this.wake.notify();
    });
  }

  get producerId(): string {
    return this.producer.producerId;
  }

  /** PID of the FFmpeg currently recording (for diagnostics and crash tests). */
  get ffmpegPid(): number | undefined {
    return this.current?.running ? this.current.pid : undefined;
  }

  /** FFmpeg restarts after unexpected exits so far. */
  get restartCount(): number {
    return this.restarts;
  }

  get segmentCount(): number {
    return this.segmentsEmitted;
  }

  /** Starts recording (or waiting, while the producer is paused). Resolves at once. */
  start(): void {
    if (this.loop) return;
    this.loop = this.runLoop().finally(() => this.detach());
  }

  /**
   * Stops gracefully: FFmpeg gets SIGINT and finalises its last WAV, which is
   * emitted before this resolves. Idempotent.
   */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.wake.notify();
    await this.loop;
    this.detach();
  }

  private detach(): void {
    this.unwatch();
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted || this.closedProducer || this.producer.closed;
  }

  private async runLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      if (this.producer.paused) {
        await this.wake.wait();
        continue;
      }
      let result: RunResult;
      try {
        result = await this.runOnce();
      } catch (error) {
        // mediasoup refused the transport/consumer (router closing, worker dying):
        // treated like an FFmpeg crash, retried unless the producer is gone.
        result = { reason: 'crashed', segments: 0 };
        if (this.stopping) break;
        this.safeEmit('runEnded', { run: this.run, reason: 'crashed', segments: 0, error: String(error) });
      }
      if (result.reason !== 'crashed' && result.reason !== 'input-idle') {
        failures = 0;
        continue;
      }
      if (this.stopping) break;
      this.restarts += 1;
      if (result.reason === 'input-idle') {
        // No RTP for ~10 s (a silent client): not a failure, listen again soon.
        failures = 0;
        await sleep(this.settings.restart.minDelayMs, this.stopController.signal);
        continue;
      }
      failures = result.segments > 0 ? 1 : failures + 1;
      if (failures >= this.settings.restart.maxConsecutiveFailures) {
        const error = new LecternError(
          ErrorCode.INTERNAL,
          `FFmpeg failed ${failures} times in a row for stream ${this.streamKey}: ${result.exit?.stderrTail.slice(-400) ?? 'transport error'}`,
        );
        this.safeEmit('failed', { error });
        return;
      }
      // The tap owns FFmpeg restarts (util/backoff.ts): bounded delay, bounded failures in a row.
      const { minDelayMs: minMs, maxDelayMs: maxMs } = this.settings.restart;
      await sleep(backoffDelay(failures, { minMs, maxMs }), this.stopController.signal);
    }
  }

  private async runOnce(): Promise<RunResult> {
    const run = ++this.run;
    const prefix = `${this.filePrefix}-r${run}`;
    const sdpPath = path.join(this.dir, `${prefix}.sdp`);
    const listPath = path.join(this.dir, `${prefix}.csv`);
    const consumer = await this.source.openConsumer({
      listenIp: this.settings.listenIp,
      rtcpMux: false,
      appData: { lectern: 'transcription-tap', streamKey: this.streamKey },
    });
    // Picked after the transport exists: mediasoup already holds its own two
    // ports, so the pair for FFmpeg can never be one the worker is about to take.
    let port: number;
    try {
      port = await freeUdpPortPair();
    } catch (error) {
      consumer.close();
      throw error;
    }
    let ffmpeg: FfmpegProcess | undefined;
    const segmentsAtStart = this.segmentsEmitted;
    const emittedFiles = new Set<string>();
    let reader: SegmentListReader | undefined;
    let firstPacketAt: number | undefined;
    const pcm = this.settings.livePcm ? new PcmClock(run, () => firstPacketAt ?? Date.now(), this.lectureStartMs) : undefined;
    try {
      await consumer.connect({ ip: TAP_LISTEN_IP, port, rtcpPort: port + 1 });
      await fs.writeFile(sdpPath, tapSdp(consumer.rtpParameters, port));
      const onPcm = pcm ? (chunk: Buffer) => this.emitPcm(pcm.place(chunk)) : undefined;
      ffmpeg = new FfmpegProcess(this.settings.ffmpegPath, this.ffmpegArgs(sdpPath, listPath, prefix), this.settings.stopTimeoutMs, onPcm);
      this.current = ffmpeg;
      this.safeEmit('runStarted', { run, port, pid: ffmpeg.pid });

      const listening = await this.waitListening(port, ffmpeg);
      if (listening) {
        await consumer.onFirstPacket((at) => (firstPacketAt ??= at));
        await consumer.resume();
      }
      const resumedAt = Date.now();
      reader = new SegmentListReader(listPath, this.dir, () => firstPacketAt ?? resumedAt, this.lectureStartMs);

      // Record until FFmpeg exits or something asks the run to end.
      let exit: FfmpegExit | undefined;
      const exited = ffmpeg.exited.then((e) => (exit = e));
      while (!exit && !this.stopping && !this.producer.paused && !consumer.closed) {
        await Promise.race([exited, this.wake.wait(), sleep(500)]);
        await this.emitFinished(reader, emittedFiles);
      }
      const reason: TapRunEndReason = exit
        ? exit.inputTimedOut && exit.code === 0
          ? 'input-idle'
          : 'crashed'
        : this.closedProducer || this.producer.closed || consumer.closed
          ? 'producer-closed'
          : this.stopController.signal.aborted
            ? 'stopped'
            : 'paused';
      exit ??= await ffmpeg.stop();
      await this.emitFinished(reader, emittedFiles);
      await this.salvage(prefix, reader, emittedFiles);
      const result: RunResult = { reason, exit, segments: this.segmentsEmitted - segmentsAtStart };
      this.safeEmit('runEnded', { run, ...result });
      return result;
    } finally {
      if (ffmpeg?.running) await ffmpeg.stop();
      this.current = undefined;
      consumer.close();
      await fs.rm(sdpPath, { force: true });
      await fs.rm(listPath, { force: true });
    }
  }

  private ffmpegArgs(sdpPath: string, listPath: string, prefix: string): string[] {
    return [
      '-hide_banner',
      '-nostdin',
      '-loglevel', 'warning',
      '-protocol_whitelist', 'file,udp,rtp',
      // FFmpeg's own sockets bind to loopback too: nothing off-host can inject audio.
      '-localaddr', TAP_LISTEN_IP,
      '-i', sdpPath,
      '-map', '0:a:0',
      '-ac', String(TAP_CHANNELS),
      '-ar', String(TAP_SAMPLE_RATE),
      '-c:a', 'pcm_s16le',
      '-f', 'segment',
      '-segment_time', String(this.settings.segmentSeconds),
      '-segment_format', 'wav',
      // Write each packet through: a killed FFmpeg then leaves all but the last
      // few milliseconds of its unfinished segment on disk, for salvage.
      '-segment_format_options', 'flush_packets=1',
      '-segment_list', listPath,
      '-segment_list_type', 'csv',
      '-reset_timestamps', '1',
      path.join(this.dir, `${prefix}-%05d.wav`),
      ...(this.settings.livePcm ? LIVE_PCM_OUTPUT : []),
    ];
  }

  private emitPcm(chunk: TapPcm | undefined): void {
    if (chunk) this.safeEmit('pcm', chunk);
  }

  /** FFmpeg is ready once it holds the RTP port; until then packets would be lost. */
  private async waitListening(port: number, ffmpeg: FfmpegProcess): Promise<boolean> {
    const deadline = Date.now() + 10_000;
    while (ffmpeg.running && Date.now() < deadline && !this.stopping) {
      if (await isUdpPortTaken(port)) return true;
      await sleep(20);
    }
    return false;
  }

  private async emitFinished(reader: SegmentListReader, emitted: Set<string>): Promise<void> {
    for (const entry of await reader.finished()) {
      if (emitted.has(entry.file)) continue;
      emitted.add(entry.file);
      const wav = await readWav(entry.file).catch(() => undefined);
      if (!wav) {
        await fs.rm(entry.file, { force: true });
        continue;
      }
      this.emitSegment(entry.file, reader.offsetOf(entry.start, wav.duration), wav.duration, false);
    }
  }

  /** After a crash the unfinished WAV has no valid header; its samples are kept. */
  private async salvage(prefix: string, reader: SegmentListReader, emitted: Set<string>): Promise<void> {
    const names = (await fs.readdir(this.dir)).filter((n) => n.startsWith(`${prefix}-`) && n.endsWith('.wav')).sort();
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (emitted.has(file)) continue;
      emitted.add(file);
      const wav = await readWav(file, { repair: true }).catch(() => undefined);
      if (!wav || wav.duration < 0.05) {
        await fs.rm(file, { force: true });
        continue;
      }
      this.emitSegment(file, reader.offsetOf(reader.lastEnd, wav.duration), wav.duration, true);
    }
  }

  private emitSegment(file: string, offset: number, duration: number, partial: boolean): void {
    this.segmentsEmitted += 1;
    this.safeEmit('segment', { streamKey: this.streamKey, producerId: this.producer.producerId, path: file, offset, duration, partial });
  }
}

/**
 * FFmpeg's second output for live captions: the same decoded audio as raw
 * 16 kHz mono PCM on stdout. `aresample=async=1` fills gaps in the RTP
 * timestamps (lost packets) with silence, so samples keep matching the
 * lecture's time; `flush_packets` writes each 20 ms packet at once instead of
 * filling a 32 KiB buffer (a second of audio) first.
 */
const LIVE_PCM_OUTPUT = [
  '-map', '0:a:0',
  '-af', 'aresample=async=1',
  '-ac', String(TAP_CHANNELS),
  '-ar', String(TAP_SAMPLE_RATE),
  '-c:a', 'pcm_s16le',
  '-f', 's16le',
  '-flush_packets', '1',
  'pipe:1',
];

/**
 * Places one run's PCM on the lecture's timeline: the run's first sample is at
 * its first RTP packet, every later one 1/16 000 s after the previous one.
 * Chunks leave with whole samples only (an odd byte waits for the next chunk).
 */
class PcmClock {
  private base: number | undefined;
  private bytes = 0;
  private carry: Buffer | undefined;

  constructor(
    private readonly run: number,
    private readonly runStartMs: () => number,
    private readonly lectureStartMs: number,
  ) {}

  place(chunk: Buffer): TapPcm | undefined {
    let data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    if (data.length % 2 === 1) {
      this.carry = Buffer.from(data.subarray(data.length - 1));
      data = data.subarray(0, data.length - 1);
    }
    if (data.length === 0) return undefined;
    this.base ??= Math.max(0, (this.runStartMs() - this.lectureStartMs) / 1000);
    const start = this.base + this.bytes / (TAP_SAMPLE_RATE * 2 * TAP_CHANNELS);
    this.bytes += data.length;
    return { run: this.run, start, data };
  }
}

interface ListEntry {
  file: string;
  start: number;
  end: number;
}

/**
 * Reads FFmpeg's segment list (CSV: file,start,end — one line per closed segment)
 * and places segments on the lecture timeline. Times in the list follow the RTP
 * timestamps of the run; they are trusted only within what the content and the
 * wall clock allow, so a sender that jumps its timestamps cannot move text
 * into the future.
 */
class SegmentListReader {
  private contentSeconds = 0;
  lastEnd = 0;

  constructor(
    private readonly listPath: string,
    private readonly dir: string,
    private readonly runStartMs: () => number,
    private readonly lectureStartMs: number,
  ) {}

  async finished(): Promise<ListEntry[]> {
    let text: string;
    try {
      text = await fs.readFile(this.listPath, 'utf8');
    } catch {
      return [];
    }
    const entries: ListEntry[] = [];
    for (const line of text.split('\n')) {
      const parts = line.trim().split(',');
      if (parts.length < 3) continue;
      const end = Number(parts[parts.length - 1]);
      const start = Number(parts[parts.length - 2]);
      const name = parts.slice(0, -2).join(',');
      if (!name || !Number.isFinite(start) || !Number.isFinite(end)) continue;
      entries.push({ file: path.join(this.dir, path.basename(name)), start, end });
      this.lastEnd = Math.max(this.lastEnd, end);
    }
    return entries;
  }

  /** Lecture offset (s) of a segment whose list start is `listStart`. */
  offsetOf(listStart: number, duration: number): number {
    const base = (this.runStartMs() - this.lectureStartMs) / 1000;
    const wallElapsed = (Date.now() - this.runStartMs()) / 1000;
    const earliest = this.contentSeconds;
    const latest = Math.max(earliest, wallElapsed - duration);
    const start = Math.min(Math.max(listStart, earliest), latest);
    this.contentSeconds = start + duration;
    return Math.max(0, base + start);
  }
}
