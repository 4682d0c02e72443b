/**
 * What the page exposes on `window.lectern` for the browser tests (and for
 * poking at from the devtools console). Not part of any SDK.
 */
import type { RecordedFrame } from '@lectern/client-sdk';
import type { TranscriptEntry } from '@lectern/protocol';

export interface LecturePageHooks {
  /**
   * `joined` once the page is set up (joined, microphone published, hand queue and
   * transcription state loaded); `left` / `ended` after Leave / the end of the lecture.
   */
  state: 'joining' | 'joined' | 'left' | 'ended' | 'error';
  /** Join start → first inbound audio bytes of a remote producer, in ms (set once). */
  firstAudioMs?: number;
  /** Bytes received so far over all inbound RTP streams, by kind. */
  inboundBytes(): Promise<{ audio: number; video: number }>;
  /**
   * Starts gesture recognition: the SDK's TasksVisionHandDetector on the camera or on a
   * given video track (the browser test draws a hand), or, given recorded landmark
   * frames, the SDK's ScriptedDetector replaying them.
   */
  startGestures(source?: readonly RecordedFrame[] | MediaStreamTrack): Promise<void>;
  /** Shows transcript entries as if the server had sent them (the download test runs without speech-to-text). */
  addTranscript(entries: readonly TranscriptEntry[]): void;
}

declare global {
  interface Window {
    lectern?: LecturePageHooks;
  }
}
