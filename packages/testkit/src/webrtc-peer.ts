import type * as dgram from 'node:dgram';
import { Device, MediaStreamTrack, RTCRtpCodecParameters, type types as client } from 'msc-node';
import { sendOpusRtp } from './ffmpeg.js';
import { bindUdp } from './ports.js';
import { startProcess, type OwnedProcess } from './process.js';

/** What the server answers when it creates a WebRtcTransport (plain JSON). */
export interface RemoteTransportInfo {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown[];
  dtlsParameters: unknown;
}

/** What a server-side consumer looks like to the peer (plain JSON). */
export interface RemoteConsumerInfo {
  id: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: unknown;
}

/** How the peer reaches the server: raw mediasoup calls in a smoke test, a request API later. */
export interface TestPeerSignaling {
  connectTransport(transportId: string, dtlsParameters: unknown): Promise<void>;
  produce(transportId: string, kind: 'audio' | 'video', rtpParameters: unknown, appData: Record<string, unknown>): Promise<string>;
}

/** A consumer plus a live count of the RTP packets the peer really received (decrypted SRTP). */
export interface ReceivingConsumer {
  consumer: client.Consumer;
  /** RTP packets received (audio or video). */
  packets(): number;
  /** RTP payload bytes received (audio or video). */
  bytes(): number;
  /** VP8 keyframes received (first packets of key frames, by the VP8 payload descriptor); 0 for other codecs. */
  keyframes(): number;
}

export interface VideoOptions {
  /** Default 320. */
  width?: number;
  /** Default 240. */
  height?: number;
  /** Frames per second; default 15. A keyframe is sent every second. */
  fps?: number;
}

/**
 * Whether an RTP payload starts a VP8 key frame (RFC 7741: the payload
 * descriptor, then, on the first packet of a frame, the payload header whose
 * P bit is 0 on key frames).
 */
export function isVp8Keyframe(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const first = payload[0]!;
  const start = (first & 0x10) !== 0 && (first & 0x07) === 0; // S = 1, partition index 0
  if (!start) return false;
  let offset = 1;
  if (first & 0x80) { // X: extension byte follows
    const ext = payload[offset++];
    if (ext === undefined) return false;
    if (ext & 0x80) offset += (payload[offset] ?? 0) & 0x80 ? 2 : 1; // I: picture id, M bit = 15 bits
    if (ext & 0x40) offset += 1; // L: TL0PICIDX
    if (ext & 0x30) offset += 1; // T or K: TID/KEYIDX
  }
  const header = payload[offset];
  return header !== undefined && (header & 0x01) === 0;
}

/** RTCP packet types 200-204 (SR, RR, SDES, BYE, APP) read as an RTP byte 1 without the marker bit. */
function isRtcp(packet: Buffer): boolean {
  const type = (packet[1] ?? 0) & 0x7f;
  return type >= 72 && type <= 76;
}

/**
 * Real VP8 RTP from FFmpeg: the `testsrc` pattern, paced in real time, encoded
 * by libvpx for realtime (one thread, no lag, a keyframe every second so a late
 * consumer gets a picture), to udp://127.0.0.1:port.
 */
function sendVp8Rtp(options: { port: number; ssrc: number; payloadType: number } & Required<VideoOptions>): OwnedProcess {
  const { width, height, fps } = options;
  return startProcess('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-re', '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}`,
    '-pix_fmt', 'yuv420p', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1',
    '-b:v', '300k', '-g', String(fps), '-keyint_min', String(fps), '-auto-alt-ref', '0', '-lag-in-frames', '0',
    '-payload_type', String(options.payloadType), '-ssrc', String(options.ssrc),
    '-f', 'rtp', `udp://127.0.0.1:${options.port}?pkt_size=1200`,
  ]);
}

/**
 * A real WebRTC endpoint in Node: mediasoup-client's logic on werift (pure
 * TypeScript ICE + DTLS + SRTP) through the `msc-node` package. It is the
 * project's standard test client: it does the DTLS handshake a browser does,
 * so it catches what PlainTransport tests cannot.
 */
export class TestWebRtcPeer {
  private readonly sources = new Set<{ ffmpeg: OwnedProcess; socket: dgram.Socket }>();
  private readonly transports = new Set<client.Transport>();

  private constructor(readonly device: Device) {}

  static async create(routerRtpCapabilities: unknown): Promise<TestWebRtcPeer> {
    // werift needs its own codec list; classes come from msc-node's werift copy
    // (a second werift copy would break instanceof checks inside it). That copy is
    // werift 0.25 (the root package.json overrides msc-node's ^0.18): werift 0.18
    // sends no RFC 7675 consent checks to an ICE-lite server, so mediasoup 3.27,
    // which expects them (iceConsentTimeout, 30 s), stopped its media after 30 s.
    // The handler is named: Node >= 21 has a global `navigator` ("Node.js/24"),
    // which msc-node's device detection takes for an unsupported browser.
    const device = new Device(
      {
        codecs: {
          audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
          video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000 })],
        },
      },
      { handlerName: 'werift' },
    );
    await device.load({ routerRtpCapabilities: routerRtpCapabilities as client.RtpCapabilities });
    return new TestWebRtcPeer(device);
  }

  get rtpCapabilities(): client.RtpCapabilities {
    return this.device.rtpCapabilities;
  }

  createSendTransport(info: RemoteTransportInfo, signaling: TestPeerSignaling): client.Transport {
    const transport = this.device.createSendTransport(info as client.TransportOptions);
    this.wireConnect(transport, signaling);
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      signaling
        .produce(transport.id, kind, rtpParameters, appData as Record<string, unknown>)
        .then((id) => callback({ id }), errback);
    });
    this.transports.add(transport);
    return transport;
  }

  createRecvTransport(info: RemoteTransportInfo, signaling: TestPeerSignaling): client.Transport {
    const transport = this.device.createRecvTransport(info as client.TransportOptions);
    this.wireConnect(transport, signaling);
    this.transports.add(transport);
    return transport;
  }

  /**
   * Produces an Opus track fed with real RTP from FFmpeg (a sine, or `inputFile`).
   * FFmpeg sends to a local UDP socket and every packet is written into the
   * werift track, which re-stamps SSRC/payload type and sends it as SRTP.
   */
  async produceAudio(
    transport: client.Transport,
    options: { inputFile?: string; appData?: Record<string, unknown> } = {},
  ): Promise<client.Producer> {
    const track = await this.source('audio', (port) =>
      sendOpusRtp({ port, ssrc: 1234, payloadType: 111, ...(options.inputFile ? { inputFile: options.inputFile } : {}) }));
    return transport.produce({ track: track as never, appData: options.appData ?? {} });
  }

  /**
   * Produces a VP8 track fed with real RTP from FFmpeg (`testsrc`, a keyframe
   * every second), the same way as produceAudio(). appData defaults to
   * `{ source: 'camera' }`.
   */
  async produceVideo(
    transport: client.Transport,
    options: VideoOptions & { appData?: Record<string, unknown> } = {},
  ): Promise<client.Producer> {
    const video = { width: options.width ?? 320, height: options.height ?? 240, fps: options.fps ?? 15 };
    const track = await this.source('video', (port) => sendVp8Rtp({ port, ssrc: 2345, payloadType: 96, ...video }));
    return transport.produce({ track: track as never, appData: options.appData ?? { source: 'camera' } });
  }

  async consume(transport: client.Transport, info: RemoteConsumerInfo): Promise<ReceivingConsumer> {
    const consumer = await transport.consume({
      id: info.id,
      producerId: info.producerId,
      kind: info.kind,
      rtpParameters: info.rtpParameters as client.RtpParameters,
    });
    let packets = 0;
    let bytes = 0;
    let keyframes = 0;
    const vp8 = consumer.rtpParameters.codecs[0]?.mimeType.toLowerCase() === 'video/vp8';
    (consumer.track as unknown as MediaStreamTrack).onReceiveRtp.subscribe((rtp) => {
      packets += 1;
      bytes += rtp.payload.length;
      if (vp8 && isVp8Keyframe(rtp.payload)) keyframes += 1;
    });
    return { consumer, packets: () => packets, bytes: () => bytes, keyframes: () => keyframes };
  }

  /** Stops FFmpeg sources and closes transports (werift keeps sockets open otherwise). */
  async close(): Promise<void> {
    await Promise.all([...this.sources].map(async ({ ffmpeg, socket }) => {
      await ffmpeg.stop();
      socket.close();
    }));
    this.sources.clear();
    for (const transport of this.transports) transport.close();
    this.transports.clear();
  }

  /**
   * A local track fed by an FFmpeg RTP sender: FFmpeg sends to a UDP socket of
   * ours and every RTP packet (not FFmpeg's RTCP sender reports, which share
   * the socket) is written into the werift track. close() stops both.
   */
  private async source(kind: 'audio' | 'video', start: (port: number) => OwnedProcess): Promise<MediaStreamTrack> {
    const track = new MediaStreamTrack({ kind });
    const { socket, port } = await bindUdp();
    socket.on('message', (packet) => {
      if (!isRtcp(packet)) track.writeRtp(packet);
    });
    const ffmpeg = start(port);
    this.sources.add({ ffmpeg, socket });
    return track;
  }

  private wireConnect(transport: client.Transport, signaling: TestPeerSignaling): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signaling.connectTransport(transport.id, dtlsParameters).then(callback, errback);
    });
  }
}
