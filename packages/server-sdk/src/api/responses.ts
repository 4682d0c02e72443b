import type { types } from 'mediasoup';
import type { HandQueueEntry, MediaSource, PeerInfo, PeerRole, ProducerInfo } from '../rooms/types.js';
import type { RequestMethod } from './schemas.js';

/** The JSON each request method answers with. */
export interface ResponseMap {
  getRouterRtpCapabilities: { routerRtpCapabilities: types.RtpCapabilities };
  join: {
    peerId: string;
    role: PeerRole;
    routerRtpCapabilities: types.RtpCapabilities;
    peers: PeerInfo[];
    producers: ProducerInfo[];
  };
  createWebRtcTransport: {
    transportId: string;
    iceParameters: types.IceParameters;
    iceCandidates: types.IceCandidate[];
    dtlsParameters: types.DtlsParameters;
  };
  connectTransport: Record<string, never>;
  /** The transport's local tuple (where the remote sends), and its SRTP key when SRTP is on. */
  createPlainTransport: {
    transportId: string;
    ip: string;
    port: number;
    /** Only when the transport was created with `rtcpMux: false`. */
    rtcpPort?: number;
    /** Only when the transport was created with `enableSrtp: true`: the key the remote decrypts with. */
    srtpParameters?: types.SrtpParameters;
  };
  connectPlainTransport: Record<string, never>;
  restartIce: { iceParameters: types.IceParameters };
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  resumeProducer: Record<string, never>;
  consume: {
    consumerId: string;
    producerId: string;
    peerId: string;
    kind: types.MediaKind;
    source: MediaSource;
    rtpParameters: types.RtpParameters;
    type: types.ConsumerType;
    producerPaused: boolean;
    appData: Record<string, unknown>;
  };
  pauseConsumer: Record<string, never>;
  resumeConsumer: Record<string, never>;
  setConsumerPreferredLayers: Record<string, never>;
  leave: Record<string, never>;
  sendGesture: Record<string, never>;
  /** The queue after the request, oldest hand first (as with every hand-queue method). */
  raiseHand: { queue: HandQueueEntry[] };
  lowerHand: { queue: HandQueueEntry[] };
  getHandQueue: { queue: HandQueueEntry[] };
  dismissHand: { queue: HandQueueEntry[] };
  clearHandQueue: { queue: HandQueueEntry[] };
}

export type ResponseData<M extends RequestMethod> = ResponseMap[M];
