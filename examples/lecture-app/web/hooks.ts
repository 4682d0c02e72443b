/**
 * What the page exposes on `window.lectern` for the browser tests (and for
 * poking at from the devtools console). Not part of any SDK.
 */
import type { RecordedFrame } from '@lectern/client-sdk';

export interface LecturePageHooks {
  state: 'joining' | 'joined' | 'left' | 'error';
  /** Join start → first inbound audio bytes of a remote producer, in ms (set once). */
  firstAudioMs?: number;
  /** Bytes received so far over all inbound RTP streams, by kind. */
  inboundBytes(): Promise<{ audio: number; video: number }>;
  /**
   * Starts gesture recognition: MediaPipe Hands on the camera, or, given recorded
   * landmark frames, the SDK's ScriptedDetector replaying them (the browser test).
   */
  startGestures(recording?: readonly RecordedFrame[]): Promise<void>;
}

declare global {
  interface Window {
    lectern?: LecturePageHooks;
  }
}
