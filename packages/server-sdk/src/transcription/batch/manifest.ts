import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { AudioSegment } from '../tap/audio-tap.js';

/** The audio format a batch is sent to the STT engine in. */
export type TransferFormat = 'mp3' | 'wav' | 'flac';

/** One segment inside a batch: where it sits in the batch audio and in the lecture. */
export interface BatchPart {
  /** Seconds from the start of the batch audio. */
  batchStart: number;
  /** Seconds from the start of the lecture. */
  offset: number;
  duration: number;
  partial: boolean;
}

/**
 * What a batch directory holds besides its audio. Written last (atomically):
 * a directory with a manifest is a complete batch, also after a restart.
 */
export interface BatchManifest {
  version: 1;
  lectureId: string;
  batchId: string;
  streamKey: string;
  /** The audio file's name inside the batch directory. */
  file: string;
  format: TransferFormat;
  /** ISO time the batch was built. */
  createdAt: string;
  /** Seconds of audio. */
  duration: number;
  /** Lecture offset of the first part. */
  offset: number;
  parts: BatchPart[];
}

export const MANIFEST_FILE = 'manifest.json';

/** The sidecar that keeps a finished segment's metadata next to its WAV until it is batched. */
export const segmentSidecar = (wavPath: string) => `${wavPath}.json`;

export async function readManifest(batchDir: string): Promise<BatchManifest | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(batchDir, MANIFEST_FILE), 'utf8')) as Partial<BatchManifest>;
    if (parsed.version !== 1 || typeof parsed.batchId !== 'string' || !Array.isArray(parsed.parts) || typeof parsed.file !== 'string') {
      return undefined;
    }
    return parsed as BatchManifest;
  } catch {
    return undefined;
  }
}

export async function readSegmentSidecar(wavPath: string): Promise<AudioSegment | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(segmentSidecar(wavPath), 'utf8')) as Partial<AudioSegment>;
    if (typeof parsed.offset !== 'number' || typeof parsed.duration !== 'number' || typeof parsed.streamKey !== 'string') return undefined;
    return { ...(parsed as AudioSegment), path: wavPath };
  } catch {
    return undefined;
  }
}
