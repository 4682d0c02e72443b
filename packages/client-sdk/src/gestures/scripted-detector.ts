import {
  GESTURE_NAMES,
  HAND_LANDMARK_COUNT,
  type DetectedHand,
  type GestureDetector,
  type GestureFrameSource,
  type GestureName,
  type Landmark,
} from './types.js';

/** One recorded frame: the hands a detector returned at a time. */
export interface RecordedFrame {
  /** Time of the frame relative to the start of the recording (ms). */
  readonly timestampMs: number;
  readonly hands: readonly DetectedHand[];
}

/**
 * A recording of landmark frames (the JSON format of the SDK's gesture fixtures).
 * Parse untrusted JSON with {@link parseGestureRecording}.
 */
export interface GestureRecording {
  /** Short name, e.g. `thumbs-up-right`. */
  readonly name: string;
  /** Free text: what the hand does, how the data was made. */
  readonly description?: string;
  /** Size of the image the landmarks are normalised to (for the aspect ratio). */
  readonly imageWidth?: number;
  readonly imageHeight?: number;
  /** The gestures the recording should trigger (`[]` for none); used by tests and demos. */
  readonly expected?: readonly GestureName[];
  readonly frames: readonly RecordedFrame[];
}

/** Options of {@link ScriptedDetector}. */
export interface ScriptedDetectorOptions {
  /**
   * How a `detect()` call picks its frame:
   * - `'sequence'` (default): each call returns the next frame, whatever its timestamp.
   * - `'timestamp'`: the call's timestamp, relative to the first call's, picks the last
   *   frame whose `timestampMs` has been reached (frames are replayed in real time
   *   at whatever rate the caller detects).
   */
  mode?: 'sequence' | 'timestamp';
  /** Start again from the first frame after the last one. Default false (then `[]` forever). */
  loop?: boolean;
  /** Simulated inference time of each `detect()` call, in ms. Default 0 (resolves on the next microtask). */
  latencyMs?: number;
}

/**
 * A {@link GestureDetector} that replays recorded landmark frames instead of looking
 * at the image: for tests, demos and the example app's browser test. Works in Node.
 *
 * @example
 * ```ts
 * const detector = ScriptedDetector.fromRecording(parseGestureRecording(await (await fetch('/raised-hand.json')).json()));
 * const recognizer = new GestureRecognizer({ detector });
 * recognizer.attach(cameraTrack); // or: await recognizer.processFrame(canvas, performance.now())
 * ```
 */
export class ScriptedDetector implements GestureDetector {
  readonly #frames: RecordedFrame[];
  readonly #mode: 'sequence' | 'timestamp';
  readonly #loop: boolean;
  readonly #latencyMs: number;
  #next = 0;
  #startMs: number | undefined;
  #calls = 0;
  #closed = false;

  /**
   * @param frames - The frames to replay, in order; plain `DetectedHand[][]` are given
   *   timestamps 0, 1, 2... (so use `'sequence'` mode with them).
   * @param options - Replay mode, looping and simulated latency.
   */
  constructor(frames: readonly RecordedFrame[] | readonly (readonly DetectedHand[])[], options: ScriptedDetectorOptions = {}) {
    this.#frames = frames.map((f, i): RecordedFrame => (Array.isArray(f) ? { timestampMs: i, hands: f } : (f as RecordedFrame)));
    this.#mode = options.mode ?? 'sequence';
    this.#loop = options.loop ?? false;
    this.#latencyMs = Math.max(0, options.latencyMs ?? 0);
  }

  /**
   * A detector replaying a recording's frames.
   * @param recording - A (parsed) {@link GestureRecording}.
   * @param options - Replay mode, looping and simulated latency.
   */
  static fromRecording(recording: GestureRecording, options: ScriptedDetectorOptions = {}): ScriptedDetector {
    return new ScriptedDetector(recording.frames, options);
  }

  /** How many times `detect()` has been called. */
  get calls(): number {
    return this.#calls;
  }

  /** True once every frame has been returned (never when looping). */
  get done(): boolean {
    return !this.#loop && this.#next >= this.#frames.length;
  }

  /**
   * Returns the next recorded hands (the frame is ignored).
   * @param _source - Ignored.
   * @param timestampMs - Used in `'timestamp'` mode.
   * @throws Error after `close()`.
   */
  async detect(_source: GestureFrameSource, timestampMs: number): Promise<DetectedHand[]> {
    if (this.#closed) throw new Error('ScriptedDetector is closed');
    this.#calls += 1;
    const hands = this.#pick(timestampMs);
    if (this.#latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
    return hands.map((h) => ({ ...h, landmarks: [...h.landmarks] }));
  }

  /** Rewinds to the first frame. */
  rewind(): void {
    this.#next = 0;
    this.#startMs = undefined;
  }

  /** Marks the detector closed; later `detect()` calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #pick(timestampMs: number): readonly DetectedHand[] {
    const n = this.#frames.length;
    if (n === 0) return [];
    if (this.#mode === 'sequence') {
      if (this.#next >= n) {
        if (!this.#loop) return [];
        this.#next = 0;
      }
      return this.#frames[this.#next++]!.hands;
    }
    this.#startMs ??= timestampMs;
    const first = this.#frames[0]!.timestampMs;
    const last = this.#frames[n - 1]!.timestampMs;
    let elapsed = timestampMs - this.#startMs;
    if (this.#loop) {
      const period = last - first + frameGap(this.#frames);
      elapsed = period > 0 ? elapsed % period : 0;
    } else if (elapsed > last - first + frameGap(this.#frames)) {
      this.#next = n;
      return [];
    }
    let pick = 0;
    for (let i = 0; i < n; i++) if (this.#frames[i]!.timestampMs - first <= elapsed) pick = i;
    this.#next = pick + 1;
    return this.#frames[pick]!.hands;
  }
}

/** Typical interval of a recording (its last frame lasts that long). */
function frameGap(frames: readonly RecordedFrame[]): number {
  if (frames.length < 2) return 0;
  return (frames[frames.length - 1]!.timestampMs - frames[0]!.timestampMs) / (frames.length - 1);
}

/**
 * Validates JSON (e.g. a fetched fixture) as a {@link GestureRecording}.
 * @param value - The parsed JSON.
 * @throws TypeError naming the first invalid field.
 */
export function parseGestureRecording(value: unknown): GestureRecording {
  const fail = (path: string, what: string): never => {
    throw new TypeError(`invalid gesture recording: ${path} ${what}`);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const num = (v: unknown, path: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : fail(path, 'must be a finite number'));

  if (!isObject(value)) return fail('(root)', 'must be an object');
  const name = typeof value.name === 'string' ? value.name : fail('name', 'must be a string');
  if (!Array.isArray(value.frames)) return fail('frames', 'must be an array');
  const expected = value.expected;
  if (expected !== undefined && (!Array.isArray(expected) || !expected.every((g) => GESTURE_NAMES.includes(g as GestureName)))) {
    fail('expected', `must be an array of ${GESTURE_NAMES.join(', ')}`);
  }
  const frames = value.frames.map((f: unknown, i): RecordedFrame => {
    if (!isObject(f)) return fail(`frames[${i}]`, 'must be an object');
    if (!Array.isArray(f.hands)) return fail(`frames[${i}].hands`, 'must be an array');
    const hands = f.hands.map((h: unknown, j): DetectedHand => {
      const at = `frames[${i}].hands[${j}]`;
      if (!isObject(h)) return fail(at, 'must be an object');
      if (h.handedness !== 'Left' && h.handedness !== 'Right') return fail(`${at}.handedness`, "must be 'Left' or 'Right'");
      if (!Array.isArray(h.landmarks) || h.landmarks.length !== HAND_LANDMARK_COUNT) {
        return fail(`${at}.landmarks`, `must be an array of ${HAND_LANDMARK_COUNT}`);
      }
      const landmarks = h.landmarks.map((p: unknown, k): Landmark => {
        if (!isObject(p)) return fail(`${at}.landmarks[${k}]`, 'must be an object');
        return { x: num(p.x, `${at}.landmarks[${k}].x`), y: num(p.y, `${at}.landmarks[${k}].y`), z: num(p.z ?? 0, `${at}.landmarks[${k}].z`) };
      });
      return { landmarks, handedness: h.handedness, score: num(h.score, `${at}.score`) };
    });
    return { timestampMs: num(f.timestampMs ?? i, `frames[${i}].timestampMs`), hands };
  });
  const recording: {
    name: string;
    frames: RecordedFrame[];
    description?: string;
    imageWidth?: number;
    imageHeight?: number;
    expected?: GestureName[];
  } = { name, frames };
  if (typeof value.description === 'string') recording.description = value.description;
  if (value.imageWidth !== undefined) recording.imageWidth = num(value.imageWidth, 'imageWidth');
  if (value.imageHeight !== undefined) recording.imageHeight = num(value.imageHeight, 'imageHeight');
  if (expected !== undefined) recording.expected = [...(expected as GestureName[])];
  return recording;
}
