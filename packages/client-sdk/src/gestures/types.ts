/// <reference lib="dom" />
// The gesture module runs in browsers; the reference keeps the DOM types available
// when this file is type-checked in a Node-only program (the repository's root check).
import { gestureNames, type GestureName, type GesturePhase } from '@lectern/protocol';

/**
 * One hand landmark in MediaPipe's normalised image coordinates: `x` and `y` are
 * fractions of the image width and height (origin top-left, **y grows downwards**),
 * `z` is depth relative to the wrist (smaller = closer to the camera), in roughly
 * the same unit as `x`.
 */
export interface Landmark {
  /** Horizontal position, 0 = left edge, 1 = right edge of the image. */
  readonly x: number;
  /** Vertical position, 0 = top edge, 1 = bottom edge of the image. */
  readonly y: number;
  /** Depth relative to the wrist, in units of the image width (negative = towards the camera). */
  readonly z: number;
}

/**
 * MediaPipe's handedness label. MediaPipe assumes a mirrored (selfie) image: with
 * `selfieMode: false` on an unmirrored camera image the label is the opposite of
 * the person's real hand. The classifier only uses it together with the landmarks
 * of the same image, for which the label is self-consistent either way.
 */
export type Handedness = 'Left' | 'Right';

/** One hand found in a frame by a {@link GestureDetector}. */
export interface DetectedHand {
  /** Exactly 21 landmarks in MediaPipe Hands order (see {@link HandLandmark}). */
  readonly landmarks: readonly Landmark[];
  /** Which hand, as the detector labels it. */
  readonly handedness: Handedness;
  /**
   * The detector's confidence (0..1). MediaPipe Hands reports only its handedness
   * confidence here (hands below its detection/tracking thresholds are not reported
   * at all), so the classifier weighs it fully only where the label matters (open-palm).
   */
  readonly score: number;
}

/**
 * Indexes into {@link DetectedHand.landmarks} (the MediaPipe Hands topology):
 * wrist, then four joints per digit from the base to the tip.
 */
export const HandLandmark = {
  WRIST: 0,
  THUMB_CMC: 1,
  THUMB_MCP: 2,
  THUMB_IP: 3,
  THUMB_TIP: 4,
  INDEX_MCP: 5,
  INDEX_PIP: 6,
  INDEX_DIP: 7,
  INDEX_TIP: 8,
  MIDDLE_MCP: 9,
  MIDDLE_PIP: 10,
  MIDDLE_DIP: 11,
  MIDDLE_TIP: 12,
  RING_MCP: 13,
  RING_PIP: 14,
  RING_DIP: 15,
  RING_TIP: 16,
  PINKY_MCP: 17,
  PINKY_PIP: 18,
  PINKY_DIP: 19,
  PINKY_TIP: 20,
} as const;

/** Number of landmarks in one hand. */
export const HAND_LANDMARK_COUNT = 21;

/**
 * The gestures the SDK recognises are exactly the protocol's (what the server
 * accepts in `sendGesture` and relays as `gesture`): one definition, in
 * `@lectern/protocol`.
 */
export type { GestureName, GesturePhase };

/** Every {@link GestureName}, in a stable order (the protocol's `gestureNames`, under the name this package has always exported). */
export const GESTURE_NAMES: readonly GestureName[] = gestureNames;

/** One gesture the classifier sees in one frame, with how sure it is (0..1). */
export interface GestureCandidate {
  readonly gesture: GestureName;
  readonly confidence: number;
}

/**
 * Anything a detector can read a frame from. {@link TasksVisionHandDetector} takes all of
 * them directly; {@link MediaPipeHandsDetector} accepts
 * `HTMLVideoElement`, `HTMLImageElement` and `HTMLCanvasElement` (MediaPipe's own
 * inputs); `ImageBitmap`, `OffscreenCanvas` and `VideoFrame` are drawn onto a
 * canvas first. Detectors that replay recorded data ignore the frame.
 */
export type GestureFrameSource =
  | HTMLVideoElement
  | HTMLImageElement
  | HTMLCanvasElement
  | ImageBitmap
  | OffscreenCanvas
  | VideoFrame;

/**
 * Finds hands in a frame. Implement it to plug another hand-tracking model into
 * {@link GestureRecognizer}; the SDK ships {@link TasksVisionHandDetector} (the default),
 * {@link MediaPipeHandsDetector} (legacy) and {@link ScriptedDetector}.
 */
export interface GestureDetector {
  /**
   * Detects the hands in one frame. Calls are never overlapped by the recognizer
   * (the next frame waits for this promise). Resolve `[]` when there is no hand.
   * @param source - The frame.
   * @param timestampMs - The frame's time in milliseconds, increasing monotonically.
   */
  detect(source: GestureFrameSource, timestampMs: number): Promise<DetectedHand[]>;
  /** Releases the model and everything it holds. The detector is unusable afterwards. */
  close(): Promise<void>;
}

/** A debounced gesture event from {@link GestureStateMachine} / {@link GestureRecognizer}. */
export interface GestureEvent {
  readonly gesture: GestureName;
  /**
   * `start` once the gesture has been held for `minHoldMs`; `hold` every
   * `holdIntervalMs` while it lasts; `end` after `endAfterMs` without it.
   */
  readonly phase: GesturePhase;
  /**
   * Confidence of the gesture: for `start` and `hold` the mean over the frames
   * since it was first seen; for `end` the mean over the whole gesture.
   */
  readonly confidence: number;
  /**
   * How long the gesture has lasted, from the first frame it was seen in: up to
   * this frame for `start`/`hold`, up to the last frame it was seen in for `end`.
   */
  readonly durationMs: number;
  /** Time of the frame that produced the event (the state machine's clock). */
  readonly timestampMs: number;
}
