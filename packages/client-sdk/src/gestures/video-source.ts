/// <reference lib="dom" />
// The DOM side of the recognizer, kept apart so the rest runs in Node.

import type { GestureFrameSource } from './types.js';

/** `HTMLMediaElement.HAVE_CURRENT_DATA` (a literal, so this module loads without a DOM). */
export const HAVE_CURRENT_DATA = 2;

/**
 * Plays a camera track in a `<video>` element that is never added to the document.
 * Resolves once the element has a frame (or rejects after `timeoutMs`).
 */
export async function playTrackOffDom(track: MediaStreamTrack, timeoutMs = 10_000): Promise<HTMLVideoElement> {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  video.srcObject = new MediaStream([track]);
  try {
    await video.play();
    if (video.readyState < HAVE_CURRENT_DATA || video.videoWidth === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no video frame within ${timeoutMs} ms`)), timeoutMs);
        const ready = (): void => {
          if (video.readyState >= HAVE_CURRENT_DATA && video.videoWidth > 0) {
            clearTimeout(timer);
            video.removeEventListener('loadeddata', ready);
            video.removeEventListener('resize', ready);
            resolve();
          }
        };
        video.addEventListener('loadeddata', ready);
        video.addEventListener('resize', ready);
        ready();
      });
    }
    return video;
  } catch (error) {
    stopOffDomVideo(video);
    throw error;
  }
}

/** Stops an element made by {@link playTrackOffDom} (the track itself is left running). */
export function stopOffDomVideo(video: HTMLVideoElement): void {
  video.pause();
  video.srcObject = null;
  video.removeAttribute('src');
}

/** Width / height of a frame, or `undefined` if it has no size yet. Works on plain objects too. */
export function frameAspectRatio(source: GestureFrameSource | object): number | undefined {
  const s = source as Partial<Record<'videoWidth' | 'videoHeight' | 'displayWidth' | 'displayHeight' | 'naturalWidth' | 'naturalHeight' | 'width' | 'height', unknown>>;
  const pairs: [unknown, unknown][] = [
    [s.videoWidth, s.videoHeight],
    [s.displayWidth, s.displayHeight],
    [s.naturalWidth, s.naturalHeight],
    [s.width, s.height],
  ];
  for (const [w, h] of pairs) {
    if (typeof w === 'number' && typeof h === 'number' && w > 0 && h > 0) return w / h;
  }
  return undefined;
}
