/**
 * Gesture recognition on the page: MediaPipe Hands on the camera (model files
 * served by this app), or, for the browser test, recorded landmark frames
 * replayed through the SDK's ScriptedDetector. Recognised gestures go to the room.
 */
import {
  GestureRecognizer,
  MediaPipeHandsDetector,
  ScriptedDetector,
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

  async start(recording?: readonly RecordedFrame[]): Promise<void> {
    if (this.#recognizer) return;
    let detector: GestureDetector;
    let track: MediaStreamTrack | undefined;
    if (recording) {
      detector = new ScriptedDetector(recording, { mode: 'timestamp', loop: true });
    } else {
      detector = new MediaPipeHandsDetector({ assetBaseUrl: '/mediapipe/' });
      track = this.cameraTrack() ?? (await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })).getVideoTracks()[0];
    }
    const recognizer = new GestureRecognizer({ detector, maxFps: recording ? 10 : 3 });
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
