import type { PeerGrants } from './grants.js';
import type { HandQueueEntry, MediaKind, MediaSource, PeerInfo, PeerRole, ProducerInfo } from './model.js';
import type { RequestMethod } from './requests.js';
import type {
  ConsumerType,
  DtlsParameters,
  IceCandidate,
  IceParameters,
  RtpCapabilities,
  RtpParameters,
  SrtpParameters,
} from './rtp.js';

/** An empty reply (`{}`). */
export type Empty = Record<string, never>;

/** A peer with its media, as the admin API lists it. */
export interface PeerDetails extends PeerInfo {
  /** When the peer joined (server clock, ISO 8601). */
  joinedAt: string;
  grants: PeerGrants;
  /** What the peer publishes. */
  producers: ProducerInfo[];
  /** How many producers the peer receives. */
  consumers: number;
  /** Its WebRTC (and plain) transports. */
  transports: number;
}

/** The JSON each request method answers with. */
export interface ResponseMap {
  getRouterRtpCapabilities: { routerRtpCapabilities: RtpCapabilities };
  join: {
    peerId: string;
    role: PeerRole;
    routerRtpCapabilities: RtpCapabilities;
    /** The other peers already in the room. */
    peers: PeerInfo[];
    /** The producers already in the room. */
    producers: ProducerInfo[];
    /** What this peer may do (from its access token or the host's context). */
    grants: PeerGrants;
  };
  createWebRtcTransport: {
    transportId: string;
    iceParameters: IceParameters;
    iceCandidates: IceCandidate[];
    dtlsParameters: DtlsParameters;
  };
  connectTransport: Empty;
  /** The transport's local tuple (where the remote sends), and its SRTP key when SRTP is on. */
  createPlainTransport: {
    transportId: string;
    ip: string;
    port: number;
    /** Only when the transport was created with `rtcpMux: false`. */
    rtcpPort?: number;
    /** Only when the transport was created with `enableSrtp: true`: the key the remote decrypts with. */
    srtpParameters?: SrtpParameters;
  };
  connectPlainTransport: Empty;
  restartIce: { iceParameters: IceParameters };
  produce: { producerId: string };
  closeProducer: Empty;
  pauseProducer: Empty;
  resumeProducer: Empty;
  consume: {
    consumerId: string;
    producerId: string;
    /** The peer whose producer this is. */
    peerId: string;
    kind: MediaKind;
    source: MediaSource;
    rtpParameters: RtpParameters;
    type: ConsumerType;
    /** The consumer is created paused; this says whether its producer is paused too. */
    producerPaused: boolean;
    appData: Record<string, unknown>;
  };
  pauseConsumer: Empty;
  resumeConsumer: Empty;
  setConsumerPreferredLayers: Empty;
  leave: Empty;
  sendGesture: Empty;
  /** Every hand-queue method answers with the queue after it ran, oldest hand first. */
  raiseHand: { queue: HandQueueEntry[] };
  lowerHand: { queue: HandQueueEntry[] };
  getHandQueue: { queue: HandQueueEntry[] };
  dismissHand: { queue: HandQueueEntry[] };
  clearHandQueue: { queue: HandQueueEntry[] };
  /** Every peer of the room (the caller included), in join order. */
  listPeers: { peers: PeerDetails[] };
  removePeer: Empty;
  muteProducer: Empty;
  endRoom: Empty;
}

/** The reply to method `M`. */
export type ResponseData<M extends RequestMethod> = ResponseMap[M];
