import { startProcess, type OwnedProcess } from './process.js';

export interface OpusRtpOptions {
  /** UDP port on 127.0.0.1 to send to (a comedia PlainTransport or a test socket). */
  port: number;
  ssrc: number;
  payloadType: number;
  /** A WAV/any audio file; default: a 440 Hz sine. */
  inputFile?: string;
  /** Repeat `inputFile` until stopped. */
  loop?: boolean;
  /** Stop after this many seconds of audio; default: run until stopped. */
  durationSeconds?: number;
  bitrate?: string;
}

/**
 * Real Opus RTP from FFmpeg, paced in real time (-re), to udp://127.0.0.1:port.
 * `-f rtp udp://` (not `rtp://`) so RTP and RTCP leave from one socket: a
 * comedia PlainTransport latches on the first packet's source address.
 */
export function sendOpusRtp(options: OpusRtpOptions): OwnedProcess {
  const input = options.inputFile
    ? ['-re', ...(options.loop ? ['-stream_loop', '-1'] : []), '-i', options.inputFile]
    : ['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
  const duration = options.durationSeconds !== undefined ? ['-t', String(options.durationSeconds)] : [];
  return startProcess('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    ...input, ...duration,
    '-ac', '2', '-ar', '48000', '-c:a', 'libopus', '-b:a', options.bitrate ?? '48k',
    '-payload_type', String(options.payloadType), '-ssrc', String(options.ssrc),
    '-f', 'rtp', `udp://127.0.0.1:${options.port}?pkt_size=1200`,
  ]);
}

/** The RtpParameters mediasoup needs to produce what sendOpusRtp() sends. */
export function opusRtpParameters(ssrc: number, payloadType: number) {
  return {
    codecs: [{
      mimeType: 'audio/opus', payloadType, clockRate: 48000, channels: 2,
      parameters: { 'sprop-stereo': 1 },
    }],
    encodings: [{ ssrc }],
  };
}
