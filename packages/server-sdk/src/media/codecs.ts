import type { types } from 'mediasoup';

/**
 * The codecs a lecture router offers by default: Opus for voice (what the
 * transcription tap consumes), VP8 for camera and screen (simulcast-friendly and
 * decodable everywhere), H264 baseline for devices that only encode H264.
 */
export const DEFAULT_MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];
