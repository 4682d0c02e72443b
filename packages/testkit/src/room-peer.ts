import type { types as client } from 'msc-node';
import { TestWebRtcPeer, type ReceivingConsumer, type RemoteTransportInfo, type VideoOptions } from './webrtc-peer.js';

/** How a test peer reaches a Lectern room: the request API, over any signaling. */
export type RequestFn = (method: string, data: unknown) => Promise<unknown>;

interface TransportReply {
  transportId: string;
  iceParameters: unknown;
  iceCandidates: unknown[];
  dtlsParameters: unknown;
}
interface ConsumeReply {
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: unknown;
}
export interface JoinReply {
  peerId: string;
  routerRtpCapabilities: unknown;
  producers: { producerId: string; peerId: string; kind: string }[];
}

/**
 * A real WebRTC participant of a Lectern room, driven through the request API
 * exactly as a client would: capabilities → join → transports (DTLS over werift)
 * → produce / consume (created paused, resumed once set up).
 */
export class RoomTestPeer {
  // Promises, not transports: concurrent callers share one creation.
  private sendTransport: Promise<client.Transport> | undefined;
  private recvTransport: Promise<client.Transport> | undefined;
  readonly consumers = new Map<string, ReceivingConsumer & { consumerId: string }>();

  private constructor(
    readonly request: RequestFn,
    readonly webrtc: TestWebRtcPeer,
    readonly joined: JoinReply,
  ) {}

  static async join(request: RequestFn, data: { displayName?: string; appData?: Record<string, unknown> } = {}): Promise<RoomTestPeer> {
    const { routerRtpCapabilities } = (await request('getRouterRtpCapabilities', {})) as { routerRtpCapabilities: unknown };
    const webrtc = await TestWebRtcPeer.create(routerRtpCapabilities);
    try {
      const joined = (await request('join', { rtpCapabilities: webrtc.rtpCapabilities, ...data })) as JoinReply;
      return new RoomTestPeer(request, webrtc, joined);
    } catch (error) {
      await webrtc.close();
      throw error;
    }
  }

  /** Publishes FFmpeg-made Opus (a sine, or `inputFile`) as the peer's microphone. */
  async produceAudio(options: { inputFile?: string } = {}): Promise<string> {
    const transport = await this.send();
    const producer = await this.webrtc.produceAudio(transport, { ...options, appData: { source: 'microphone' } });
    return producer.id;
  }

  /** Publishes FFmpeg-made VP8 (`testsrc`, a keyframe every second) as the peer's camera. */
  async produceVideo(options: VideoOptions = {}): Promise<string> {
    const transport = await this.send();
    const producer = await this.webrtc.produceVideo(transport, { ...options, appData: { source: 'camera' } });
    return producer.id;
  }

  /** Subscribes to a producer and resumes the consumer once the client side exists. */
  async consume(producerId: string): Promise<ReceivingConsumer & { consumerId: string }> {
    const transport = await this.recv();
    const reply = (await this.request('consume', { producerId, transportId: transport.id })) as ConsumeReply;
    const existing = this.consumers.get(reply.consumerId);
    if (existing) return existing;
    const receiving = await this.webrtc.consume(transport, {
      id: reply.consumerId,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
    });
    await this.request('resumeConsumer', { consumerId: reply.consumerId });
    const entry = { ...receiving, consumerId: reply.consumerId };
    this.consumers.set(reply.consumerId, entry);
    return entry;
  }

  async leave(): Promise<void> {
    try {
      await this.request('leave', {});
    } finally {
      await this.webrtc.close();
    }
  }

  /** Closes the client side only (e.g. after the server dropped the peer). */
  close(): Promise<void> {
    return this.webrtc.close();
  }

  send(): Promise<client.Transport> {
    this.sendTransport ??= this.createTransport('send').then((info) => this.webrtc.createSendTransport(info, this.signaling()));
    return this.sendTransport;
  }

  recv(): Promise<client.Transport> {
    this.recvTransport ??= this.createTransport('recv').then((info) => this.webrtc.createRecvTransport(info, this.signaling()));
    return this.recvTransport;
  }

  private async createTransport(direction: 'send' | 'recv'): Promise<RemoteTransportInfo> {
    const t = (await this.request('createWebRtcTransport', { direction })) as TransportReply;
    return { id: t.transportId, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  }

  private signaling() {
    return {
      connectTransport: async (transportId: string, dtlsParameters: unknown) => {
        await this.request('connectTransport', { transportId, dtlsParameters });
      },
      produce: async (transportId: string, kind: 'audio' | 'video', rtpParameters: unknown, appData: Record<string, unknown>) => {
        const source = typeof appData.source === 'string' ? appData.source : kind === 'audio' ? 'microphone' : 'camera';
        const reply = (await this.request('produce', { transportId, kind, rtpParameters, source })) as { producerId: string };
        return reply.producerId;
      },
    };
  }
}
