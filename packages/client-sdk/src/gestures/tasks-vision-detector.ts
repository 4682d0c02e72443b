/// <reference lib="dom" />
import type { DetectedHand, GestureDetector, GestureFrameSource, Handedness } from './types.js';

// Structural types of the parts of `@mediapipe/tasks-vision` 0.10.35 used here, so the
// SDK's public types do not depend on that package's declarations.

/** Where the tasks-vision WASM loader and binary are (tasks-vision's `WasmFileset`). */
export interface TasksVisionWasmFileset {
  wasmLoaderPath: string;
  wasmBinaryPath: string;
  assetLoaderPath?: string;
  assetBinaryPath?: string;
}

/** One landmark of a tasks-vision `HandLandmarkerResult` (normalised image coordinates). */
export interface TasksVisionLandmark {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** One category of a tasks-vision result (`handedness`). */
export interface TasksVisionCategory {
  readonly categoryName: string;
  readonly score: number;
}

/** What `HandLandmarker.detectForVideo()` returns (the parts read here). */
export interface TasksVisionHandResult {
  readonly landmarks: readonly (readonly TasksVisionLandmark[])[];
  readonly handedness: readonly (readonly TasksVisionCategory[])[];
}

/** Options of tasks-vision's `HandLandmarker.createFromOptions()` (the ones used here). */
export interface TasksVisionHandLandmarkerOptions {
  baseOptions: { modelAssetPath?: string; modelAssetBuffer?: Uint8Array; delegate?: 'CPU' | 'GPU' };
  runningMode: 'VIDEO' | 'IMAGE';
  numHands?: number;
  minHandDetectionConfidence?: number;
  minHandPresenceConfidence?: number;
  minTrackingConfidence?: number;
}

/** A tasks-vision `HandLandmarker` (the methods used here). */
export interface TasksVisionHandLandmarker {
  detectForVideo(image: TexImageSource, timestampMs: number): TasksVisionHandResult;
  close(): void;
}

/** The parts of the `@mediapipe/tasks-vision` module used here (`import * as tasksVision from '@mediapipe/tasks-vision'`). */
export interface TasksVisionModule {
  FilesetResolver: { forVisionTasks(basePath?: string): Promise<TasksVisionWasmFileset> };
  HandLandmarker: { createFromOptions(fileset: TasksVisionWasmFileset, options: TasksVisionHandLandmarkerOptions): Promise<TasksVisionHandLandmarker> };
}

/** Options of {@link TasksVisionHandDetector}. */
export interface TasksVisionHandDetectorOptions {
  /**
   * URL of a folder where the host serves the model bundle and the WASM files, e.g.
   * `'/mediapipe-tasks/'`: `${assetBaseUrl}hand_landmarker.task` (built by the
   * project's setup, see {@link TasksVisionHandDetector}) and
   * `${assetBaseUrl}wasm/` = the files of `node_modules/@mediapipe/tasks-vision/wasm/`.
   * Nothing comes from a CDN. A missing trailing slash is added.
   */
  assetBaseUrl: string;
  /** URL of the `.task` bundle. Default `${assetBaseUrl}hand_landmarker.task`. */
  modelAssetUrl?: string;
  /** URL of the folder serving tasks-vision's `wasm/` files. Default `${assetBaseUrl}wasm/`. */
  wasmBaseUrl?: string;
  /**
   * Where the models run. Default `'CPU'` (XNNPACK in WASM, one thread): without a GPU
   * `'GPU'` means WebGL on SwiftShader, several times slower for the same result.
   */
  delegate?: 'CPU' | 'GPU';
  /** Most hands to track. Default 1. */
  numHands?: number;
  /** Palm detection threshold (0..1). Default 0.5. */
  minHandDetectionConfidence?: number;
  /** Hand presence threshold of the landmark model (0..1). Default 0.5. */
  minHandPresenceConfidence?: number;
  /** Tracking threshold (0..1); below it the palm detector runs again. Default 0.5. */
  minTrackingConfidence?: number;
  /**
   * The `@mediapipe/tasks-vision` module, when the app wants to load it itself.
   * Default: `import('@mediapipe/tasks-vision')` (a dependency of this package, pinned to 0.10.35).
   */
  tasksVision?: TasksVisionModule;
}

/**
 * The SDK's default {@link GestureDetector}: MediaPipe's `HandLandmarker` from
 * `@mediapipe/tasks-vision` **0.10.35** (pinned: 1.0.0 and 1.1.0 contain a usage logger
 * that posts to a Google endpoint every 60 s), in `VIDEO` running mode on the `CPU`
 * delegate (XNNPACK in WASM).
 *
 * Files the host serves (no CDN, nothing fetched from elsewhere):
 * - the model bundle `hand_landmarker.task`, built offline by `scripts/lib/gesture-models.py`
 *   (run by `scripts/setup.sh`) from the PyPI wheel `mediapipe==0.10.21` with pinned sha256s:
 *   palm_detection_lite (given palm_detection_full's TFLite metadata) + hand_landmark_lite.
 *   `hand_landmarker_full.task` (full + full) is built beside it;
 * - tasks-vision's `wasm/` folder: `vision_wasm_internal.js` + `.wasm` (and the
 *   `nosimd` pair for browsers without WASM SIMD), `.wasm` as `application/wasm`.
 *
 * Handedness: tasks-vision labels hands the other way round from the legacy
 * `@mediapipe/hands`; this detector flips the label so {@link DetectedHand.handedness}
 * keeps the legacy convention the classifier (`palmFacing`) is built on.
 *
 * Timestamps given to tasks-vision increase strictly (a repeated or older timestamp is
 * moved 1 ms past the previous one). Calls are serialised.
 *
 * Cost (bench/gestures.ts, 2-core AMD EPYC, headless Chromium without GPU): see
 * bench/RESULTS.md; roughly 10× the detections per CPU second of the legacy detector,
 * first result in under a second.
 */
export class TasksVisionHandDetector implements GestureDetector {
  readonly #options: {
    modelAssetUrl: string;
    wasmBaseUrl: string;
    delegate: 'CPU' | 'GPU';
    numHands: number;
    minHandDetectionConfidence: number;
    minHandPresenceConfidence: number;
    minTrackingConfidence: number;
    tasksVision: TasksVisionModule | undefined;
  };
  #landmarker: Promise<TasksVisionHandLandmarker> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #lastTimestampMs = Number.NEGATIVE_INFINITY;
  #closed = false;

  /**
   * Creates the detector; the WASM and model load on {@link TasksVisionHandDetector.initialize}
   * or the first `detect()`.
   * @param options - Where the files are served, delegate and thresholds.
   * @throws TypeError when `assetBaseUrl` is missing.
   */
  constructor(options: TasksVisionHandDetectorOptions) {
    if (typeof options.assetBaseUrl !== 'string' || options.assetBaseUrl === '') throw new TypeError('assetBaseUrl is required');
    const base = withSlash(options.assetBaseUrl);
    this.#options = {
      modelAssetUrl: options.modelAssetUrl ?? `${base}hand_landmarker.task`,
      wasmBaseUrl: withSlash(options.wasmBaseUrl ?? `${base}wasm/`),
      delegate: options.delegate ?? 'CPU',
      numHands: options.numHands ?? 1,
      minHandDetectionConfidence: options.minHandDetectionConfidence ?? 0.5,
      minHandPresenceConfidence: options.minHandPresenceConfidence ?? 0.5,
      minTrackingConfidence: options.minTrackingConfidence ?? 0.5,
      tasksVision: options.tasksVision,
    };
  }

  /** Loads the WASM and the model. Optional: `detect()` does it on first use; call it early to hide the start-up time. */
  initialize(): Promise<void> {
    return this.#instance().then(() => undefined);
  }

  /**
   * Finds the hands in a frame (calls are queued: one frame at a time).
   * @param source - The frame; a video element without a frame yet, an image not yet loaded
   *   or a zero-sized frame gives `[]`.
   * @param timestampMs - The frame's time in ms; made strictly increasing for tasks-vision.
   * @throws Error when closed, or when tasks-vision fails to load or run.
   */
  detect(source: GestureFrameSource, timestampMs: number): Promise<DetectedHand[]> {
    const run = this.#queue.then(() => this.#detect(source, timestampMs));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Releases the `HandLandmarker` (its WASM graph and models). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const landmarker = this.#landmarker;
    this.#landmarker = undefined;
    await this.#queue;
    if (landmarker) await landmarker.then((l) => l.close()).catch(() => undefined);
  }

  async #detect(source: GestureFrameSource, timestampMs: number): Promise<DetectedHand[]> {
    if (this.#closed) throw new Error('TasksVisionHandDetector is closed');
    if (!hasFrame(source)) return [];
    const landmarker = await this.#instance();
    if (this.#closed) throw new Error('TasksVisionHandDetector is closed');
    const ts = Number.isFinite(timestampMs) && timestampMs > this.#lastTimestampMs ? timestampMs : this.#lastTimestampMs + 1;
    this.#lastTimestampMs = ts;
    return toDetectedHandsFromTasks(landmarker.detectForVideo(source, ts));
  }

  #instance(): Promise<TasksVisionHandLandmarker> {
    if (this.#closed) return Promise.reject(new Error('TasksVisionHandDetector is closed'));
    if (!this.#landmarker) {
      const o = this.#options;
      this.#landmarker = (async () => {
        const vision = o.tasksVision ?? ((await import('@mediapipe/tasks-vision')) as unknown as TasksVisionModule);
        const fileset = await vision.FilesetResolver.forVisionTasks(o.wasmBaseUrl.replace(/\/$/, ''));
        return vision.HandLandmarker.createFromOptions(fileset, {
          baseOptions: { modelAssetPath: o.modelAssetUrl, delegate: o.delegate },
          runningMode: 'VIDEO',
          numHands: o.numHands,
          minHandDetectionConfidence: o.minHandDetectionConfidence,
          minHandPresenceConfidence: o.minHandPresenceConfidence,
          minTrackingConfidence: o.minTrackingConfidence,
        });
      })();
      this.#landmarker.catch(() => {
        this.#landmarker = undefined; // let a later call retry
      });
    }
    return this.#landmarker;
  }
}

/**
 * Converts a tasks-vision `HandLandmarkerResult` into {@link DetectedHand}s, flipping the
 * handedness label to the legacy `@mediapipe/hands` convention the classifier uses.
 * @param result - What `detectForVideo()` returned.
 */
export function toDetectedHandsFromTasks(result: TasksVisionHandResult | undefined): DetectedHand[] {
  const out: DetectedHand[] = [];
  (result?.landmarks ?? []).forEach((landmarks, i) => {
    const best = result?.handedness[i]?.[0];
    if (!best || landmarks.length !== 21) return;
    const label = best.categoryName;
    if (label !== 'Left' && label !== 'Right') return;
    const handedness: Handedness = label === 'Left' ? 'Right' : 'Left';
    out.push({ landmarks: landmarks.map((p) => ({ x: p.x, y: p.y, z: p.z })), handedness, score: best.score });
  });
  return out;
}

/** Whether a source has pixels to read (tasks-vision throws on an empty video or image). */
function hasFrame(source: GestureFrameSource): boolean {
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) return source.readyState >= 2 && source.videoWidth > 0;
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) return source.complete && source.naturalWidth > 0;
  const width = 'displayWidth' in source ? source.displayWidth : source.width;
  const height = 'displayHeight' in source ? source.displayHeight : source.height;
  return width > 0 && height > 0;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
