/**
 * Gesture hooks: hand detection (tasks-vision's HandLandmarker by default, the legacy MediaPipe
 * Hands, or a replayed recording), rule-based
 * classification and a debounced state machine, wired together by GestureRecognizer.
 * @packageDocumentation
 */
export {
  GESTURE_NAMES,
  HAND_LANDMARK_COUNT,
  HandLandmark,
  type DetectedHand,
  type GestureCandidate,
  type GestureDetector,
  type GestureEvent,
  type GestureFrameSource,
  type GestureName,
  type GesturePhase,
  type Handedness,
  type Landmark,
} from './types.js';
export {
  analyzeHand,
  classifyHand,
  classifyHands,
  scoreGestures,
  type ClassifyOptions,
  type DigitFeatures,
  type GestureScores,
  type HandFeatures,
} from './classify.js';
export {
  DEFAULT_GESTURE_TIMING,
  GestureStateMachine,
  type GestureStateMachineOptions,
  type GestureStatus,
  type GestureTiming,
} from './state-machine.js';
export {
  GestureRecognizer,
  type GestureFrameInfo,
  type GestureRecognizerEvents,
  type GestureRecognizerOptions,
} from './recognizer.js';
export {
  MediaPipeHandsDetector,
  loadMediaPipeHandsScript,
  toDetectedHands,
  type MediaPipeHandsConstructor,
  type MediaPipeHandsDetectorOptions,
  type MediaPipeHandsInput,
  type MediaPipeHandsInstance,
  type MediaPipeHandsResults,
} from './mediapipe-detector.js';
export {
  ScriptedDetector,
  parseGestureRecording,
  type GestureRecording,
  type RecordedFrame,
  type ScriptedDetectorOptions,
} from './scripted-detector.js';
export {
  TasksVisionHandDetector,
  toDetectedHandsFromTasks,
  type TasksVisionCategory,
  type TasksVisionHandDetectorOptions,
  type TasksVisionHandLandmarker,
  type TasksVisionHandLandmarkerOptions,
  type TasksVisionHandResult,
  type TasksVisionLandmark,
  type TasksVisionModule,
  type TasksVisionWasmFileset,
} from './tasks-vision-detector.js';
