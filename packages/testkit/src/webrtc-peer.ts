import type * as dgram from 'node:dgram';
import { Device, MediaStreamTrack, RTCRtpCodecParameters, type types as client } from 'msc-node';
import { sendOpusRtp } from './ffmpeg.js';
import { bindUdp } from './ports.js';
import type { OwnedProcess } from './process.js';

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
  packets(): number;
  bytes(): number;
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
    const track = new MediaStreamTrack({ kind: 'audio' });
    const { socket, port } = await bindUdp();
    socket.on('message', (packet) => track.writeRtp(packet));
    const ffmpeg = sendOpusRtp({ port, ssrc: 1234, payloadType: 111, ...(options.inputFile ? { inputFile: options.inputFile } : {}) });
    this.sources.add({ ffmpeg, socket });
    return transport.produce({ track: track as never, appData: options.appData ?? {} });
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
    (consumer.track as unknown as MediaStreamTrack).onReceiveRtp.subscribe((rtp) => {
      packets += 1;
      bytes += rtp.payload.length;
    });
    return { consumer, packets: () => packets, bytes: () => bytes };
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

  private wireConnect(transport: client.Transport, signaling: TestPeerSignaling): void {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signaling.connectTransport(transport.id, dtlsParameters).then(callback, errback);
    });
  }
}
