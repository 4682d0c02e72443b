/// <reference lib="dom" />
import type { types } from 'mediasoup-client';
import { ClientErrorCode, LecternClientError, errorMessage } from '../errors.js';
import type { MediaDeviceProvider } from '../types.js';

/**
 * Opens the microphone, camera and screen for the publications, through the
 * app's {@link MediaDeviceProvider} or the browser's `navigator.mediaDevices`;
 * every failure is a `MEDIA_UNAVAILABLE` {@link LecternClientError}.
 */
export class MediaCapture {
  constructor(private readonly provider: MediaDeviceProvider | undefined) {}

  /** The device provider; looked up on use, as `navigator.mediaDevices` exists only in secure contexts. */
  devices(): MediaDeviceProvider {
    const devices = this.provider ?? (typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined);
    if (!devices) throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, 'no media devices (needs a secure context)');
    return devices;
  }

  /** One microphone or camera track (with speech / 720p defaults unless `constraints` are given). */
  async track(kind: types.MediaKind, constraints: MediaTrackConstraints | undefined): Promise<MediaStreamTrack> {
    const devices = this.devices();
    let stream: MediaStream;
    try {
      stream =
        kind === 'audio'
          ? await devices.getUserMedia({ audio: constraints ?? { echoCancellation: true, noiseSuppression: true, autoGainControl: true } })
          : await devices.getUserMedia({ video: constraints ?? { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } } });
    } catch (error) {
      throw mediaError(kind === 'audio' ? 'microphone' : 'camera', error);
    }
    const [track] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    for (const other of stream.getTracks()) if (other !== track) other.stop();
    if (!track) throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, `getUserMedia returned no ${kind} track`);
    return track;
  }

  /** The shared screen's video, and its audio when asked for and the browser offers it. */
  async screen(options: { constraints?: MediaTrackConstraints; audio?: boolean }): Promise<{ video: MediaStreamTrack; audio: MediaStreamTrack | undefined }> {
    const devices = this.devices();
    if (!devices.getDisplayMedia) throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, 'screen capture is not available');
    let stream: MediaStream;
    try {
      stream = await devices.getDisplayMedia({ video: options.constraints ?? true, audio: options.audio === true });
    } catch (error) {
      throw mediaError('screen', error);
    }
    const [video] = stream.getVideoTracks();
    const [audio] = stream.getAudioTracks();
    if (!video) {
      for (const t of stream.getTracks()) t.stop();
      throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, 'screen capture returned no video');
    }
    return { video, audio };
  }
}

function mediaError(what: string, error: unknown): LecternClientError {
  const name = error instanceof Error ? error.name : undefined;
  return new LecternClientError(
    ClientErrorCode.MEDIA_UNAVAILABLE,
    `cannot capture the ${what}: ${errorMessage(error)}`,
    name ? { name } : undefined,
    { cause: error },
  );
}
