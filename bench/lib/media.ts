// Shared by the benches: a lecturer's media from FFmpeg at real bitrates, and UDP
// sinks that only count what consumers send them.
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startProcess, type OwnedProcess } from '@lectern/testkit';

export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;
export const AUDIO = { ssrc: 11110001, pt: 100 };
export const VIDEO = { ssrc: 22220001, pt: 101 };

/** RtpParameters of what {@link sendMedia}'s VP8 sender produces. */
export const vp8RtpParameters = () => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO.pt, clockRate: 90000 }],
  encodings: [{ ssrc: VIDEO.ssrc }],
});

/** Opus 48 kbit/s (50 packets/s) and VP8 1 Mbit/s 640x480@30 (real-time libvpx), as RTP to two comedia ports. */
export function sendMedia(audioPort: number, videoPort: number): OwnedProcess[] {
  const common = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'];
  return [
    startProcess('ffmpeg', [...common, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-ac', '2', '-c:a', 'libopus', '-b:a', '48k',
      '-payload_type', String(AUDIO.pt), '-ssrc', String(AUDIO.ssrc), '-f', 'rtp', `udp://127.0.0.1:${audioPort}?pkt_size=1200`]),
    startProcess('ffmpeg', [...common, '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=30', '-c:v', 'libvpx', '-b:v', '1M', '-deadline', 'realtime',
      '-cpu-used', '8', '-g', '60', '-payload_type', String(VIDEO.pt), '-ssrc', String(VIDEO.ssrc), '-f', 'rtp', `udp://127.0.0.1:${videoPort}?pkt_size=1200`]),
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
