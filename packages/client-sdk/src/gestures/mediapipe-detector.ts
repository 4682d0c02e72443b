/// <reference lib="dom" />
import type { DetectedHand, GestureDetector, GestureFrameSource, Landmark } from './types.js';

// Structural types of the parts of `@mediapipe/hands` used here, so the SDK's types
// do not depend on that package (an optional dependency of the host app).

/** MediaPipe's input image types. */
export type MediaPipeHandsInput = HTMLVideoElement | HTMLImageElement | HTMLCanvasElement;

/** The results MediaPipe Hands passes to its `onResults` listener (the parts read here). */
export interface MediaPipeHandsResults {
  readonly multiHandLandmarks?: readonly (readonly Landmark[])[];
  readonly multiHandedness?: readonly { readonly label: 'Left' | 'Right'; readonly score: number; readonly index?: number }[];
}

/** A `Hands` instance of `@mediapipe/hands` 0.4 (the methods used here). */
export interface MediaPipeHandsInstance {
  setOptions(options: {
    selfieMode?: boolean;
    maxNumHands?: number;
    modelComplexity?: 0 | 1;
    minDetectionConfidence?: number;
    minTrackingConfidence?: number;
  }): void;
  onResults(listener: (results: MediaPipeHandsResults) => void | Promise<void>): void;
  initialize(): Promise<void>;
  send(inputs: { image: MediaPipeHandsInput }): Promise<void>;
  close(): Promise<void>;
}

/** The `Hands` class of `@mediapipe/hands` (`import { Hands } from '@mediapipe/hands'` or `window.Hands`). */
export type MediaPipeHandsConstructor = new (config?: { locateFile?: (file: string, prefix?: string) => string }) => MediaPipeHandsInstance;

/** Options of {@link MediaPipeHandsDetector}. */
export interface MediaPipeHandsDetectorOptions {
  /**
   * URL of a folder where the host serves the files of the `@mediapipe/hands` npm
   * package (its `node_modules/@mediapipe/hands/` directory), e.g. `'/mediapipe/hands/'`.
   * Every model, WASM and loader file is fetched from here (`locateFile`); nothing
   * comes from a CDN. A missing trailing slash is added.
   */
  assetBaseUrl: string;
  /** 0 = lite landmark model (faster), 1 = full. Default 0. */
  modelComplexity?: 0 | 1;
  /** Most hands to track. Default 1. */
  maxNumHands?: number;
  /** Palm detection threshold (0..1). Default 0.5. */
  minDetectionConfidence?: number;
  /** Landmark tracking threshold (0..1); below it the palm detector runs again. Default 0.5. */
  minTrackingConfidence?: number;
  /**
   * Whether MediaPipe should mirror the frame (for an unmirrored front camera, so its
   * 'Left'/'Right' labels name the person's real hands and x grows towards their left).
   * Default false. The classifier works either way.
   */
  selfieMode?: boolean;
  /**
   * The `Hands` class, when the app bundles `@mediapipe/hands` itself
   * (`import { Hands } from '@mediapipe/hands'`; esbuild and webpack handle the
   * Closure script as CommonJS). Default: load `${assetBaseUrl}hands.js` with a
   * `<script>` tag and use `window.Hands` (no bundler involvement).
   */
  hands?: MediaPipeHandsConstructor;
}

const scriptLoads = new Map<string, Promise<MediaPipeHandsConstructor>>();

/**
 * Loads `hands.js` from `assetBaseUrl` with a `<script>` tag (once per URL) and
 * resolves `window.Hands`. Used by {@link MediaPipeHandsDetector} unless `hands` is given.
 * @param assetBaseUrl - Folder serving the `@mediapipe/hands` package files (with trailing slash).
 */
export function loadMediaPipeHandsScript(assetBaseUrl: string): Promise<MediaPipeHandsConstructor> {
  const base = withSlash(assetBaseUrl);
  const existing = (globalThis as { Hands?: MediaPipeHandsConstructor }).Hands;
  if (typeof existing === 'function') return Promise.resolve(existing);
  let load = scriptLoads.get(base);
  if (!load) {
    load = new Promise<MediaPipeHandsConstructor>((resolve, reject) => {
      const script = document.createElement('script');
      script.src = `${base}hands.js`;
      script.crossOrigin = 'anonymous';
      script.async = true;
      script.onload = () => {
        const Hands = (globalThis as { Hands?: MediaPipeHandsConstructor }).Hands;
        if (typeof Hands === 'function') resolve(Hands);
        else reject(new Error(`${script.src} loaded but did not define window.Hands`));
      };
      script.onerror = () => reject(new Error(`could not load ${script.src}`));
      document.head.appendChild(script);
    });
    load.catch(() => scriptLoads.delete(base));
    scriptLoads.set(base, load);
  }
  return load;
}

/**
 * The legacy {@link GestureDetector}: Google's MediaPipe Hands (`@mediapipe/hands`
 * 0.4, hand landmark models and WASM inside the npm package), running in the page.
 * The SDK's default is {@link TasksVisionHandDetector} (same landmarks within ~0.01, the
 * same handedness convention, about a tenth of the CPU per detection without a GPU);
 * this one stays for apps that already serve `@mediapipe/hands`.
 *
 * The host app must serve the package's files (`node_modules/@mediapipe/hands/`) at
 * `assetBaseUrl`: `hands.js` (unless `hands` is passed), `hands.binarypb`,
 * `hands_solution_packed_assets_loader.js`, `hands_solution_packed_assets.data`,
 * `hands_solution_simd_wasm_bin.js` + `.wasm` (and the non-SIMD
 * `hands_solution_wasm_bin.js` + `.wasm` for old browsers), `hand_landmark_lite.tflite`
 * or `hand_landmark_full.tflite` — `.wasm` as `application/wasm`.
 *
 * Cost (bench/gesture-fps.ts, 2-core AMD EPYC, headless Chromium 156 without GPU, 640x480):
 * lite ~2.6 detections/s while looking for a hand and ~4.3/s while tracking one, full
 * ~2.2/s; the first result comes ~3.3 s after creation (script, WASM and model loading,
 * ~0.4 s of it in `initialize()`, then a slow first inference). A hand raise is held for
 * a second or more, so the recognizer's default of at most 5 detections/s is enough;
 * budget most of one core for it.
 *
 * Loading: by default `hands.js` is fetched with a `<script>` tag from `assetBaseUrl` and
 * `window.Hands` is used, which needs no bundler support. Alternatively bundle it:
 * `import { Hands } from '@mediapipe/hands'` and pass `hands: Hands` (esbuild treats the
 * Closure script as CommonJS, whose top-level `this` is `module.exports`, so the named
 * import works; verified with esbuild 0.28). Either way the other files above are loaded
 * from `assetBaseUrl` at run time.
 */
export class MediaPipeHandsDetector implements GestureDetector {
  readonly #options: Required<Omit<MediaPipeHandsDetectorOptions, 'hands'>> & { hands?: MediaPipeHandsConstructor };
  #hands: Promise<MediaPipeHandsInstance> | undefined;
  #results: MediaPipeHandsResults | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #canvas: HTMLCanvasElement | undefined;
  #closed = false;

  /**
   * Creates the detector; the model loads on {@link MediaPipeHandsDetector.initialize}
   * or the first `detect()`.
   * @param options - Where the package files are served, model and thresholds.
   */
  constructor(options: MediaPipeHandsDetectorOptions) {
    if (typeof options.assetBaseUrl !== 'string' || options.assetBaseUrl === '') throw new TypeError('assetBaseUrl is required');
    const { hands, ...rest } = options;
    this.#options = {
      modelComplexity: 0,
      maxNumHands: 1,
      minDetectionConfidence: 0.5,
      minTrackingConfidence: 0.5,
      selfieMode: false,
      ...stripUndefined(rest),
      assetBaseUrl: withSlash(options.assetBaseUrl),
      ...(hands ? { hands } : {}),
    };
  }

  /**
   * Loads the script (if needed), the WASM and the models. Optional: `detect()`
   * does it on first use; call it early to hide the start-up time.
   */
  initialize(): Promise<void> {
    return this.#instance().then(() => undefined);
  }

  /**
   * Finds the hands in a frame. Calls are queued (MediaPipe processes one frame at a time).
   * @param source - The frame; `ImageBitmap`, `OffscreenCanvas` and `VideoFrame` are drawn onto a canvas first.
   * @param _timestampMs - Unused (MediaPipe's legacy API keeps its own clock).
   * @throws Error when closed, or when MediaPipe fails to load or run.
   */
  detect(source: GestureFrameSource, _timestampMs: number): Promise<DetectedHand[]> {
    const run = this.#queue.then(() => this.#detect(source));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the MediaPipe graph. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const hands = this.#hands;
    this.#hands = undefined;
    await this.#queue;
    if (hands) await hands.then((h) => h.close()).catch(() => undefined);
  }

  async #detect(source: GestureFrameSource): Promise<DetectedHand[]> {
    if (this.#closed) throw new Error('MediaPipeHandsDetector is closed');
    const image = this.#toInput(source);
    if (!image) return [];
    const hands = await this.#instance();
    this.#results = undefined;
    await hands.send({ image });
    const results = this.#results as MediaPipeHandsResults | undefined;
    this.#results = undefined;
    return toDetectedHands(results);
  }

  #instance(): Promise<MediaPipeHandsInstance> {
    if (this.#closed) return Promise.reject(new Error('MediaPipeHandsDetector is closed'));
    if (!this.#hands) {
      const o = this.#options;
      this.#hands = (async () => {
        const Hands = o.hands ?? (await loadMediaPipeHandsScript(o.assetBaseUrl));
        const hands = new Hands({ locateFile: (file) => o.assetBaseUrl + file });
        hands.setOptions({
          selfieMode: o.selfieMode,
          maxNumHands: o.maxNumHands,
          modelComplexity: o.modelComplexity,
          minDetectionConfidence: o.minDetectionConfidence,
          minTrackingConfidence: o.minTrackingConfidence,
        });
        hands.onResults((results) => {
          this.#results = results;
        });
        await hands.initialize();
        return hands;
      })();
      this.#hands.catch(() => {
        this.#hands = undefined; // let a later call retry
      });
    }
    return this.#hands;
  }

  /** MediaPipe takes video, image and canvas elements; other sources go through a canvas. Undefined = no frame yet. */
  #toInput(source: GestureFrameSource): MediaPipeHandsInput | undefined {
    if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
      return source.readyState >= 2 && source.videoWidth > 0 ? source : undefined;
    }
    if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
      return source.complete && source.naturalWidth > 0 ? source : undefined;
    }
    if (typeof HTMLCanvasElement !== 'undefined' && source instanceof HTMLCanvasElement) return source;
    const width = 'displayWidth' in source ? source.displayWidth : source.width;
    const height = 'displayHeight' in source ? source.displayHeight : source.height;
    if (!(width > 0 && height > 0)) return undefined;
    const canvas = (this.#canvas ??= document.createElement('canvas'));
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas context');
    ctx.drawImage(source, 0, 0, width, height);
    return canvas;
  }
}

/** Converts MediaPipe Hands results into {@link DetectedHand}s. */
export function toDetectedHands(results: MediaPipeHandsResults | undefined): DetectedHand[] {
  const lists = results?.multiHandLandmarks ?? [];
  const handedness = results?.multiHandedness ?? [];
  const out: DetectedHand[] = [];
  lists.forEach((landmarks, i) => {
    const h = handedness[i];
    if (!h || landmarks.length !== 21) return;
    out.push({
      landmarks: landmarks.map((p) => ({ x: p.x, y: p.y, z: p.z })),
      handedness: h.label === 'Left' ? 'Left' : 'Right',
      score: h.score,
    });
  });
  return out;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
