/**
 * Gesture recognition on the page: the SDK's default TasksVisionHandDetector
 * (@mediapipe/tasks-vision on the CPU; model bundle and WASM served by this app at
 * /mediapipe-tasks/) on the camera, or on a track the browser test provides, or
 * recorded landmark frames replayed through the SDK's ScriptedDetector.
 * Recognised gestures go to the room.
 */
import {
  GestureRecognizer,
  ScriptedDetector,
  TasksVisionHandDetector,
  type GestureDetector,
  type LectureClient,
  type RecordedFrame,
} from '@lectern/client-sdk';

export class PageGestures {
  #recognizer: GestureRecognizer | undefined;

  constructor(
    private readonly client: LectureClient,
    private readonly status: HTMLElement,
    private readonly onError: (error: unknown) => void,
    /** The camera the page already publishes, if any (otherwise a small one is opened). */
    private readonly cameraTrack: () => MediaStreamTrack | undefined,
  ) {}

  /**
   * @param source - Nothing: the camera; a video track: detect on it; recorded frames: replay them.
   */
  async start(source?: readonly RecordedFrame[] | MediaStreamTrack): Promise<void> {
    if (this.#recognizer) return;
    let detector: GestureDetector;
    let track: MediaStreamTrack | undefined;
    if (Array.isArray(source)) {
      detector = new ScriptedDetector(source as readonly RecordedFrame[], { mode: 'timestamp', loop: true });
    } else {
      detector = new TasksVisionHandDetector({ assetBaseUrl: '/mediapipe-tasks/' });
      track = (source as MediaStreamTrack | undefined) ?? this.cameraTrack()
        ?? (await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })).getVideoTracks()[0];
    }
    // 10 detections/s while a hand is in view, 5 while none is (the recognizer's defaults).
    const recognizer = new GestureRecognizer({ detector });
    this.#recognizer = recognizer;
    recognizer.on('gestureStart', (e) => {
      this.status.textContent = `${e.gesture} (${Math.round(e.confidence * 100)} %)`;
      void this.client.sendGesture(e.gesture, 'start', e.confidence).catch(this.onError);
    });
    recognizer.on('gestureHold', (e) => void this.client.sendGesture(e.gesture, 'hold', e.confidence).catch(() => undefined));
    recognizer.on('gestureEnd', (e) => {
      this.status.textContent = '';
      void this.client.sendGesture(e.gesture, 'end', e.confidence).catch(() => undefined);
    });
    recognizer.on('error', this.onError);
    await recognizer.attach(track ?? syntheticTrack());
  }

  stop(): void {
    this.#recognizer?.close();
    this.#recognizer = undefined;
  }
}

/** A small canvas track to pace a recognizer that replays recorded landmarks. */
function syntheticTrack(): MediaStreamTrack {
  const canvas = document.createElement('canvas');
  canvas.width = 64;
  canvas.height = 48;
  const ctx = canvas.getContext('2d')!;
  setInterval(() => ctx.fillRect(0, 0, 1 + Math.random() * 63, 1), 100);
  return canvas.captureStream(10).getVideoTracks()[0]!;
}
