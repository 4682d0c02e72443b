// Shared by the benches: a lecturer's media from FFmpeg at real bitrates, and the
// lecturer and students of a room as plain-RTP peers through the request API.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { types } from 'mediasoup';
import { opusRtpParameters, startProcess, type OwnedProcess } from '@lectern/testkit';

export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;
export const AUDIO = { ssrc: 11110001, pt: 100 };
export const VIDEO = { ssrc: 22220001, pt: 101 };

/** RtpParameters of what {@link sendMedia}'s VP8 sender produces. */
export const vp8RtpParameters = (): types.RtpParameters => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO.pt, clockRate: 90000, rtcpFeedback: [] }],
  encodings: [{ ssrc: VIDEO.ssrc }],
});

/** Pre-encoded lecturer media, so the generator only copies packets (constant rate, little CPU). */
export interface MediaFiles {
  audio: string;
  video: string;
}

/** Seconds of media {@link prepareMedia} encodes (looped by the senders). */
export const CLIP_SECONDS = 20;

/**
 * Encodes the lecturer's media once:
 * - Opus: a 440 Hz sine, CBR 48 kbit/s, 20 ms frames = 50 packets/s;
 * - VP8: testsrc2 640x360@30 with temporal noise (so the encoder cannot undershoot
 *   on a static picture), libvpx realtime CBR 1 Mbit/s, a keyframe every 60 frames
 *   (2 s), no alt-ref/lag: ~110 RTP packets/s of up to 1200 bytes, as from a camera.
 * {@link sendMedia} / {@link sendRtp} loop them in real time with `-c copy`.
 */
export async function prepareMedia(dir: string, which: { audio?: boolean; video?: boolean } = {}): Promise<MediaFiles> {
  const files = { audio: path.join(dir, 'lecturer.opus.webm'), video: path.join(dir, 'lecturer.vp8.webm') };
  const common = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  const jobs: OwnedProcess[] = [];
  if (which.audio ?? true) {
    jobs.push(startProcess('ffmpeg', [...common, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${CLIP_SECONDS}`,
      '-ac', '2', '-c:a', 'libopus', '-b:a', '48k', '-vbr', 'off', '-frame_duration', '20', files.audio]));
  }
  if (which.video ?? true) {
    jobs.push(startProcess('ffmpeg', [...common, '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-vf', 'noise=alls=12:allf=t',
      '-t', String(CLIP_SECONDS), '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8',
      '-b:v', '1M', '-minrate', '1M', '-maxrate', '1M', '-bufsize', '1M',
      '-g', '60', '-keyint_min', '60', '-lag-in-frames', '0', '-auto-alt-ref', '0', '-an', files.video]));
  }
  for (const job of jobs) {
    const code = await job.exited;
    if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${job.stderr()}`);
  }
  return files;
}

/** Loops one prepared file in real time as RTP to a comedia port on 127.0.0.1 (packets copied, not re-encoded). */
export function sendRtp(file: string, port: number, rtp: { pt: number; ssrc: number }): OwnedProcess {
  return startProcess('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file,
    '-c', 'copy', '-payload_type', String(rtp.pt), '-ssrc', String(rtp.ssrc), '-f', 'rtp', `udp://127.0.0.1:${port}?pkt_size=1200`,
  ]);
}

/** Loops the prepared Opus and VP8 files as RTP to two comedia ports. */
export function sendMedia(audioPort: number, videoPort: number, files: MediaFiles): OwnedProcess[] {
  return [sendRtp(files.audio, audioPort, AUDIO), sendRtp(files.video, videoPort, VIDEO)];
}

/** A fresh SRTP key for a consumer transport's remote side (the sinks never decrypt). */
export const srtpKey = () => ({ cryptoSuite: SRTP_SUITE, keyBase64: randomBytes(30).toString('base64') });

/** A request bound to one room of a RoomManager, as a host's signaling would make it. */
export type BenchCall = <T>(peerId: string, method: string, data: unknown, role?: 'lecturer' | 'student') => Promise<T>;

/**
 * Through the request API: the lecturer joins, produces Opus + VP8 on two comedia
 * plain transports, and FFmpeg starts sending the prepared media into them.
 */
export async function lecturerOverPlainRtp(call: BenchCall, media: MediaFiles) {
  const { routerRtpCapabilities: rtpCapabilities } = await call<{ routerRtpCapabilities: unknown }>('lecturer', 'getRouterRtpCapabilities', {}, 'lecturer');
  await call('lecturer', 'join', { rtpCapabilities, displayName: 'Lecturer' }, 'lecturer');
  const audioIn = await call<{ transportId: string; port: number }>('lecturer', 'createPlainTransport', { comedia: true }, 'lecturer');
  const videoIn = await call<{ transportId: string; port: number }>('lecturer', 'createPlainTransport', { comedia: true }, 'lecturer');
  const audio = await call<{ producerId: string }>('lecturer', 'produce', { transportId: audioIn.transportId, kind: 'audio', source: 'microphone', rtpParameters: opusRtpParameters(AUDIO.ssrc, AUDIO.pt) }, 'lecturer');
  const video = await call<{ producerId: string }>('lecturer', 'produce', { transportId: videoIn.transportId, kind: 'video', source: 'camera', rtpParameters: vp8RtpParameters() }, 'lecturer');
  return { rtpCapabilities, producerIds: [audio.producerId, video.producerId], senders: sendMedia(audioIn.port, videoIn.port, media) };
}

/**
 * A student as a plain-RTP peer through the request API: join, a plain transport
 * (SRTP or not) connected to `sinkPort`, every producer consumed paused, then resumed
 * (the order a client follows).
 */
export async function plainStudent(
  call: BenchCall,
  peerId: string,
  rtpCapabilities: unknown,
  producerIds: readonly string[],
  sinkPort: number,
  srtp: boolean,
): Promise<void> {
  await call(peerId, 'join', { rtpCapabilities, displayName: peerId });
  const t = await call<{ transportId: string }>(peerId, 'createPlainTransport', srtp ? { enableSrtp: true, srtpCryptoSuite: SRTP_SUITE } : {});
  await call(peerId, 'connectPlainTransport', { transportId: t.transportId, ip: '127.0.0.1', port: sinkPort, ...(srtp ? { srtpParameters: srtpKey() } : {}) });
  const consumers: { consumerId: string }[] = [];
  for (const producerId of producerIds) consumers.push(await call<{ consumerId: string }>(peerId, 'consume', { transportId: t.transportId, producerId }));
  for (const { consumerId } of consumers) await call(peerId, 'resumeConsumer', { consumerId });
}
