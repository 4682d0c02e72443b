import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCode, LecternError } from '../../errors.js';
import { SerialQueue } from '../../util/serial-queue.js';
import { TypedEmitter } from '../../util/typed-emitter.js';
import { runFfmpeg } from '../ffmpeg.js';
import type { AudioSegment } from '../tap/audio-tap.js';
import { readWav } from '../tap/wav.js';
import { fileSlug, writeFileAtomic } from '../util.js';
import type { DeletionQueue } from './deletion-queue.js';
import { MANIFEST_FILE, segmentSidecar, type BatchManifest, type BatchPart, type TransferFormat } from './manifest.js';

export interface BatcherSettings {
  /** Finished segments per batch. Default 10 (10 × 30 s = 5 minutes). */
  segmentsPerBatch: number;
  /** Format sent to the STT engine. Default `mp3` (libmp3lame, encoded once per batch). */
  transferFormat: TransferFormat;
  /** MP3 bitrate. Default `48k` (16 kHz mono speech). */
  mp3Bitrate: string;
  ffmpegPath: string;
}

export const DEFAULT_BATCHER_SETTINGS: BatcherSettings = {
  segmentsPerBatch: 10,
  transferFormat: 'mp3',
  mp3Bitrate: '48k',
  ffmpegPath: 'ffmpeg',
};

export interface ReadyBatch {
  /** The batch directory (audio + manifest); the receiver owns and deletes it. */
  dir: string;
  manifest: BatchManifest;
}

export interface BatcherEvents {
  batchReady: ReadyBatch;
  /** A batch could not be built; its segments stay on disk for recovery. */
  error: { error: LecternError; streamKey: string };
  listenerError: { event: string; error: unknown };
}

/**
 * Groups finished segments of each stream into batches: every
 * `segmentsPerBatch` segments are joined with FFmpeg's concat demuxer and a list
 * file (stream copy: the PCM is not re-encoded), then encoded once into the
 * transfer format. Segment files are handed to the deletion queue only after
 * the batch's manifest is on disk. Batches are built one at a time.
 */
export class Batcher extends TypedEmitter<BatcherEvents> {
  private readonly pending = new Map<string, AudioSegment[]>();
  private readonly builds = new SerialQueue();
  private buildsInFlight = 0;

  constructor(
    private readonly lectureId: string,
    private readonly batchesDir: string,
    private readonly deletion: DeletionQueue,
    private readonly settings: BatcherSettings = DEFAULT_BATCHER_SETTINGS,
  ) {
    super();
    if (!Number.isInteger(settings.segmentsPerBatch) || settings.segmentsPerBatch < 1 || settings.segmentsPerBatch > 1000) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `segmentsPerBatch must be an integer within 1..1000 (got ${settings.segmentsPerBatch})`);
    }
  }

  /** Segments received but not yet in a batch. */
  get pendingSegments(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  get building(): number {
    return this.buildsInFlight;
  }

  /**
   * Takes ownership of a finished segment. Its metadata is written next to it
   * first, so a segment that is on disk but not yet batched survives a restart.
   */
  async add(segment: AudioSegment): Promise<void> {
    await writeFileAtomic(segmentSidecar(segment.path), JSON.stringify(segment));
    const list = this.pending.get(segment.streamKey) ?? [];
    list.push(segment);
    this.pending.set(segment.streamKey, list);
    if (list.length >= this.settings.segmentsPerBatch) {
      const take = list.splice(0, this.settings.segmentsPerBatch);
      void this.schedule(segment.streamKey, take);
    }
  }

  /** Builds batches from everything pending (partial batches included) and waits for all builds. */
  async flush(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const [streamKey, list] of this.pending) {
      const take = list.splice(0, list.length);
      if (take.length > 0) jobs.push(this.schedule(streamKey, take));
    }
    this.pending.clear();
    await Promise.all(jobs);
    // Builds scheduled earlier by add() are ahead in the queue; wait for them too.
    await this.builds.run(async () => undefined);
  }

  private schedule(streamKey: string, segments: AudioSegment[]): Promise<void> {
    this.buildsInFlight += 1;
    return this.builds
      .run(() => this.build(streamKey, segments))
      .then(
        (ready) => {
          this.safeEmit('batchReady', ready);
          this.deletion.enqueue(...segments.flatMap((s) => [s.path, segmentSidecar(s.path)]));
        },
        (error: unknown) => {
          const e = error instanceof LecternError ? error : new LecternError(ErrorCode.INTERNAL, `batch build failed: ${String(error)}`, undefined, { cause: error });
          this.safeEmit('error', { error: e, streamKey });
        },
      )
      .finally(() => (this.buildsInFlight -= 1));
  }

  private async build(streamKey: string, input: AudioSegment[]): Promise<ReadyBatch> {
    // A segment that is not a readable WAV would fail the whole concat: leave it out (and say so).
    const segments: AudioSegment[] = [];
    for (const s of [...input].sort((a, b) => a.offset - b.offset)) {
      const wav = await readWav(s.path).catch(() => undefined);
      if (wav) segments.push({ ...s, duration: wav.duration });
    }
    const first = segments[0];
    if (!first) throw new LecternError(ErrorCode.INTERNAL, `no readable segment among ${input.length} for stream ${streamKey}`);
    const batchId = `${fileSlug(streamKey)}-${String(Math.round(first.offset * 1000)).padStart(10, '0')}`;
    const finalDir = path.join(this.batchesDir, batchId);
    const workDir = path.join(this.batchesDir, `.building-${batchId}`);
    await fs.rm(workDir, { recursive: true, force: true });
    await fs.mkdir(workDir, { recursive: true });
    try {
      const listFile = path.join(workDir, 'segments.txt');
      await fs.writeFile(listFile, segments.map((s) => `file '${s.path.replaceAll("'", "'\\''")}'\n`).join(''));
      const joined = path.join(workDir, 'joined.wav');
      await runFfmpeg(this.settings.ffmpegPath, ['-f', 'concat', '-safe', '0', '-i', listFile, '-c', 'copy', joined]);
      const format = this.settings.transferFormat;
      const file = `audio.${format}`;
      if (format === 'wav') {
        await fs.rename(joined, path.join(workDir, file));
      } else {
        const codec = format === 'mp3' ? ['-c:a', 'libmp3lame', '-b:a', this.settings.mp3Bitrate] : ['-c:a', 'flac'];
        await runFfmpeg(this.settings.ffmpegPath, ['-i', joined, ...codec, path.join(workDir, file)]);
        await fs.rm(joined);
      }
      await fs.rm(listFile);
      let batchStart = 0;
      const parts: BatchPart[] = segments.map((s) => {
        const part = { batchStart, offset: s.offset, duration: s.duration, partial: s.partial };
        batchStart += s.duration;
        return part;
      });
      const manifest: BatchManifest = {
        version: 1,
        lectureId: this.lectureId,
        batchId,
        streamKey,
        file,
        format,
        createdAt: new Date().toISOString(),
        duration: batchStart,
        offset: first.offset,
        parts,
      };
      await writeFileAtomic(path.join(workDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
      await fs.rm(finalDir, { recursive: true, force: true });
      await fs.rename(workDir, finalDir);
      return { dir: finalDir, manifest };
    } catch (error) {
      await fs.rm(workDir, { recursive: true, force: true });
      throw error;
    }
  }
}
