// Shared by the benches: a lecturer's media from FFmpeg at real bitrates, and UDP
// sinks that only count what consumers send them.
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { opusRtpParameters, startProcess, type OwnedProcess } from '@lectern/testkit';

export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;
export const AUDIO = { ssrc: 11110001, pt: 100 };
export const VIDEO = { ssrc: 22220001, pt: 101 };

/** RtpParameters of what {@link sendMedia}'s VP8 sender produces. */
export const vp8RtpParameters = () => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO.pt, clockRate: 90000 }],
  encodings: [{ ssrc: VIDEO.ssrc }],
});

/** Pre-encoded lecturer media, so the generator only copies packets (constant rate, little CPU). */
export interface MediaFiles {
  audio: string;
  video: string;
}

/**
 * Encodes 20 s of Opus (48 kbit/s, 20 ms frames = 50 packets/s) and VP8 (1 Mbit/s,
 * 640x480@30, keyframe every 2 s) once; {@link sendMedia} loops them with `-c copy`.
 */
export async function prepareMedia(dir: string): Promise<MediaFiles> {
  const files = { audio: path.join(dir, 'lecturer.opus.webm'), video: path.join(dir, 'lecturer.vp8.webm') };
  const common = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  const jobs = [
    startProcess('ffmpeg', [...common, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=20', '-ac', '2', '-c:a', 'libopus', '-b:a', '48k', files.audio]),
    startProcess('ffmpeg', [...common, '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=30:duration=20', '-c:v', 'libvpx', '-b:v', '1M', '-minrate', '1M', '-maxrate', '1M',
      '-deadline', 'good', '-g', '60', files.video]),
  ];
  for (const job of jobs) {
    const code = await job.exited;
    if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${job.stderr()}`);
  }
  return files;
}

/** Loops the prepared Opus and VP8 files in real time as RTP to two comedia ports (packets copied, not re-encoded). */
export function sendMedia(audioPort: number, videoPort: number, files: MediaFiles): OwnedProcess[] {
  const common = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1'];
  return [
    startProcess('ffmpeg', [...common, '-i', files.audio, '-c', 'copy', '-payload_type', String(AUDIO.pt), '-ssrc', String(AUDIO.ssrc), '-f', 'rtp', `udp://127.0.0.1:${audioPort}?pkt_size=1200`]),
    startProcess('ffmpeg', [...common, '-i', files.video, '-c', 'copy', '-payload_type', String(VIDEO.pt), '-ssrc', String(VIDEO.ssrc), '-f', 'rtp', `udp://127.0.0.1:${videoPort}?pkt_size=1200`]),
  ];
}

/** A fresh SRTP key for a consumer transport's remote side (the sinks never decrypt). */
export const srtpKey = () => ({ cryptoSuite: SRTP_SUITE, keyBase64: randomBytes(30).toString('base64') });

/** UDP sinks on 127.0.0.1 that only count packets (a few sockets shared by all consumers). */
export class Sinks {
  readonly sockets: dgram.Socket[] = [];
  packets = 0;

  static async open(count: number): Promise<Sinks> {
    const sinks = new Sinks();
    for (let i = 0; i < count; i++) {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
      socket.on('message', () => void (sinks.packets += 1));
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      sinks.sockets.push(socket);
    }
    return sinks;
  }

  port(i: number): number {
    return this.sockets[i % this.sockets.length]!.address().port;
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}

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
