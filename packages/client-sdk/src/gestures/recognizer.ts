import { EventEmitter } from 'eventemitter3';
import { classifyHands, type ClassifyOptions } from './classify.js';
import { GestureStateMachine, type GestureStateMachineOptions } from './state-machine.js';
import type { DetectedHand, GestureCandidate, GestureDetector, GestureEvent, GestureFrameSource } from './types.js';
import { HAVE_CURRENT_DATA, frameAspectRatio, playTrackOffDom, stopOffDomVideo } from './video-source.js';

/** Options of {@link GestureRecognizer}. */
export interface GestureRecognizerOptions extends GestureStateMachineOptions, ClassifyOptions {
  /** Finds the hands, e.g. `new TasksVisionHandDetector({ assetBaseUrl })`. */
  detector: GestureDetector;
  /**
   * Upper bound on detections per second from an attached track while a hand is in
   * view (seen within `idleAfterMs`). Default 10. The real rate is lower when the
   * detector is slower: a frame is only taken after the previous detection has finished.
   */
  maxFps?: number;
  /**
   * Detections per second while no hand has been seen for `idleAfterMs` (searching: the
   * palm detector runs on every frame, the costlier path). Default `min(5, maxFps)`; a
   * hand that appears is found within 1/idleFps s, then tracked at `maxFps`.
   */
  idleFps?: number;
  /** How long after the last frame with a hand the rate stays at `maxFps`, in ms. Default 1000. */
  idleAfterMs?: number;
  /** Whether {@link GestureRecognizer.close} also closes the detector. Default true. */
  closeDetector?: boolean;
}

/** Payload of the recognizer's `frame` event: what one detection found. */
export interface GestureFrameInfo {
  /** The frame's time (the state machine's clock). */
  readonly timestampMs: number;
  /** The hands the detector found. */
  readonly hands: readonly DetectedHand[];
  /** The gestures classified in this frame, before debouncing, best first. */
  readonly candidates: readonly GestureCandidate[];
  /** The measured detection rate (see {@link GestureRecognizer.fps}). */
  readonly fps: number;
  /** How long `detect()` took, in ms. */
  readonly detectMs: number;
}

/** Events of {@link GestureRecognizer} (listener signatures). */
export interface GestureRecognizerEvents {
  /** A gesture has been held for `minHoldMs`. */
  gestureStart: (event: GestureEvent) => void;
  /** Every `holdIntervalMs` while a started gesture lasts. */
  gestureHold: (event: GestureEvent) => void;
  /** A started gesture has been gone for `endAfterMs` (or the track was detached). */
  gestureEnd: (event: GestureEvent) => void;
  /** After every detection. */
  frame: (info: GestureFrameInfo) => void;
  /** A detection or the camera failed. The recognizer keeps running on detection errors. */
  error: (error: Error) => void;
}

const FPS_WINDOW = 10;

/**
 * Gesture hooks for a camera track: detects hands (through a {@link GestureDetector}),
 * classifies them ({@link classifyHands}) and debounces the result
 * ({@link GestureStateMachine}) into `gestureStart` / `gestureHold` / `gestureEnd` events.
 *
 * @example
 * ```ts
 * const recognizer = new GestureRecognizer({
 *   detector: new TasksVisionHandDetector({ assetBaseUrl: '/mediapipe-tasks/' }),
 * });
 * recognizer.on('gestureStart', (e) => signaling('gesture', { gesture: e.gesture }));
 * await recognizer.attach(cameraTrack);
 * // ...
 * recognizer.close();
 * ```
 */
export class GestureRecognizer extends EventEmitter<GestureRecognizerEvents> {
  readonly #detector: GestureDetector;
  readonly #machine: GestureStateMachine;
  readonly #classify: ClassifyOptions;
  readonly #minIntervalMs: number;
  readonly #idleIntervalMs: number;
  readonly #idleAfterMs: number;
  #lastHandMs = Number.NEGATIVE_INFINITY;
  readonly #closeDetector: boolean;
  #busy = false;
  #closed = false;
  #completions: number[] = [];
  // Attached track state.
  #track: MediaStreamTrack | undefined;
  #video: HTMLVideoElement | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  #onEnded: (() => void) | undefined;

  /**
   * @param options - The detector, debounce timing, classification knobs and `maxFps`.
   * @throws RangeError on invalid timing or `maxFps`.
   */
  constructor(options: GestureRecognizerOptions) {
    super();
    const { detector, maxFps = 10, idleFps, idleAfterMs = 1000, closeDetector = true, aspectRatio, raisedLineY, raisedMargin, requirePalmFacing, ...timing } = options;
    if (!(maxFps > 0) || !Number.isFinite(maxFps)) throw new RangeError(`maxFps must be a positive number (got ${maxFps})`);
    const idle = idleFps ?? Math.min(5, maxFps);
    if (!(idle > 0) || !Number.isFinite(idle) || idle > maxFps) throw new RangeError(`idleFps must be a positive number up to maxFps (got ${idleFps})`);
    if (!(idleAfterMs >= 0) || !Number.isFinite(idleAfterMs)) throw new RangeError(`idleAfterMs must be a non-negative number (got ${idleAfterMs})`);
    this.#detector = detector;
    this.#machine = new GestureStateMachine(timing);
    this.#classify = Object.fromEntries(
      Object.entries({ aspectRatio, raisedLineY, raisedMargin, requirePalmFacing }).filter(([, v]) => v !== undefined),
    );
    this.#minIntervalMs = 1000 / maxFps;
    this.#idleIntervalMs = 1000 / idle;
    this.#idleAfterMs = idleAfterMs;
    this.#closeDetector = closeDetector;
  }

  /**
   * Detections per second actually achieved, over the last 10 detections (0 before
   * the second one). Counts both attached-track and pushed frames.
   */
  get fps(): number {
    const c = this.#completions;
    if (c.length < 2) return 0;
    const span = c[c.length - 1]! - c[0]!;
    return span > 0 ? ((c.length - 1) * 1000) / span : 0;
  }

  /**
   * The rate the attached track is sampled at now: `maxFps` while a hand was seen within
   * `idleAfterMs`, `idleFps` otherwise.
   */
  get targetFps(): number {
    return 1000 / this.#intervalMs(now());
  }

  /** The state machine (e.g. to read `activeGestures` or `state(gesture)`). */
  get stateMachine(): GestureStateMachine {
    return this.#machine;
  }

  /** The attached track, if any. */
  get track(): MediaStreamTrack | undefined {
    return this.#track;
  }

  /**
   * Starts recognising gestures on a camera track: plays it in a `<video>` that is
   * not added to the document and detects at most `maxFps` times a second while a hand
   * is in view, `idleFps` while none is. Replaces
   * a previously attached track. Resolves once the video has its first frame; the
   * track ending detaches it (emitting `gestureEnd` for active gestures). The track is
   * not stopped by the recognizer.
   * @param track - A video `MediaStreamTrack` (e.g. from `getUserMedia`).
   * @throws Error when closed, when the track is not live video, or when no frame arrives in 10 s.
   */
  async attach(track: MediaStreamTrack): Promise<void> {
    if (this.#closed) throw new Error('GestureRecognizer is closed');
    if (track.kind !== 'video') throw new Error(`expected a video track, got ${track.kind}`);
    if (track.readyState !== 'live') throw new Error('the track has ended');
    this.detach();
    const generation = this.#generation;
    this.#track = track;
    const video = await playTrackOffDom(track).catch((error: unknown) => {
      if (generation === this.#generation) this.#track = undefined;
      throw error;
    });
    if (generation !== this.#generation) {
      // Detached (or re-attached) while the video was starting.
      stopOffDomVideo(video);
      return;
    }
    this.#video = video;
    this.#onEnded = () => this.detach();
    track.addEventListener('ended', this.#onEnded);
    this.#schedule(generation, 0);
  }

  /**
   * Stops watching the attached track (if any) and ends active gestures (`gestureEnd`).
   * Safe to call at any time.
   */
  detach(): void {
    this.#generation += 1;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#track && this.#onEnded) this.#track.removeEventListener('ended', this.#onEnded);
    this.#onEnded = undefined;
    this.#track = undefined;
    if (this.#video) stopOffDomVideo(this.#video);
    this.#video = undefined;
    this.#completions = [];
    this.#lastHandMs = Number.NEGATIVE_INFINITY;
    this.#emitEvents(this.#machine.flush(now()));
  }

  /**
   * Runs one detection on a frame the app provides (instead of, or besides, an
   * attached track) and emits the resulting events. A frame pushed while a detection
   * is still running is dropped: the call resolves `null`. Detection errors are
   * emitted as `error` and the frame counts as one without hands.
   * @param source - The frame.
   * @param timestampMs - The frame's time in ms (default `performance.now()`); must not go backwards.
   * @returns The gesture events of this frame, or `null` if it was dropped.
   */
  async processFrame(source: GestureFrameSource, timestampMs: number = now()): Promise<GestureEvent[] | null> {
    if (this.#closed || this.#busy) return null;
    this.#busy = true;
    let hands: DetectedHand[] = [];
    const t0 = now();
    try {
      hands = await this.#detector.detect(source, timestampMs);
    } catch (error) {
      this.#emitError(error);
    } finally {
      this.#busy = false;
    }
    if (this.#closed) return null;
    const detectMs = now() - t0;
    if (hands.length > 0) this.#lastHandMs = now();
    const completions = this.#completions;
    completions.push(timestampMs);
    if (completions.length > FPS_WINDOW) completions.shift();

    const aspectRatio = this.#classify.aspectRatio ?? frameAspectRatio(source);
    const candidates = classifyHands(hands, aspectRatio === undefined ? this.#classify : { ...this.#classify, aspectRatio });
    const events = this.#machine.update(timestampMs, candidates);
    this.#safeEmit('frame', { timestampMs, hands, candidates, fps: this.fps, detectMs });
    this.#emitEvents(events);
    return events;
  }

  /**
   * Detaches, stops emitting and (unless `closeDetector: false`) closes the detector.
   * Active gestures get their `gestureEnd` first.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.detach();
    this.#closed = true;
    if (this.#closeDetector) await this.#detector.close();
    this.removeAllListeners();
  }

  #schedule(generation: number, delayMs: number): void {
    this.#timer = setTimeout(() => void this.#tick(generation), Math.max(0, delayMs));
  }

  async #tick(generation: number): Promise<void> {
    this.#timer = undefined;
    const video = this.#video;
    if (generation !== this.#generation || !video) return;
    const started = now();
    if (video.readyState >= HAVE_CURRENT_DATA && video.videoWidth > 0 && !this.#busy) {
      await this.processFrame(video, started);
    }
    if (generation !== this.#generation) return;
    // Never overlapping: the next frame is taken after this detection, and no sooner than
    // 1/maxFps (hand in view) or 1/idleFps (searching) after the last start.
    const t = now();
    this.#schedule(generation, started + this.#intervalMs(t) - t);
  }

  #intervalMs(at: number): number {
    return at - this.#lastHandMs <= this.#idleAfterMs ? this.#minIntervalMs : this.#idleIntervalMs;
  }

  #emitEvents(events: readonly GestureEvent[]): void {
    for (const event of events) {
      const name = event.phase === 'start' ? 'gestureStart' : event.phase === 'hold' ? 'gestureHold' : 'gestureEnd';
      this.#safeEmit(name, event);
    }
  }

  #emitError(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    // An 'error' without listeners would otherwise vanish silently (eventemitter3 does not throw).
    if (this.listenerCount('error') === 0) console.error('GestureRecognizer:', err);
    else this.#safeEmit('error', err);
  }

  /** Emits without letting a throwing listener break the detection loop. */
  #safeEmit<K extends keyof GestureRecognizerEvents>(name: K, ...args: Parameters<GestureRecognizerEvents[K]>): void {
    try {
      (this.emit as (n: K, ...a: Parameters<GestureRecognizerEvents[K]>) => boolean)(name, ...args);
    } catch (error) {
      if (name !== 'error') this.#emitError(error);
      else console.error('GestureRecognizer: error listener threw', error);
    }
  }
}

function now(): number {
  return performance.now();
}
