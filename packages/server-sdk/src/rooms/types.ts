import type { types } from 'mediasoup';
import type { LecternErrorJSON } from '../errors.js';
import type { GestureName, GesturePhase, MediaSource } from '../api/schemas.js';

export type { GestureName, GesturePhase, MediaSource };

/** A peer's role, decided by the host (from its own auth), never by the client. */
export type PeerRole = 'lecturer' | 'student';

/** What students may publish in a room: nothing, their microphone, or anything. */
export type StudentMediaPolicy = 'off' | 'audio' | 'all';

/** Per-room settings; defaults come from {@link RoomManagerOptions.room}. */
export interface RoomOptions {
  /** When every router of the room holds this many transports, the room adds a router. Default 100. */
  maxTransportsPerRouter: number;
  /** Default `audio` (students can ask questions by voice). */
  studentMedia: StudentMediaPolicy;
  /** Joins beyond this get ROOM_FULL. Default 1000. */
  maxPeers: number;
  /** Router codecs. Default {@link DEFAULT_MEDIA_CODECS}. */
  mediaCodecs: types.RouterRtpCodecCapability[];
  /** Emit `activeSpeaker` from an ActiveSpeakerObserver on each router. Default true. */
  activeSpeaker: boolean;
}

/** Per-peer limits that protect a router from one misbehaving client. */
export interface PeerLimits {
  maxTransportsPerPeer: number;
  maxConsumersPerPeer: number;
}

/** Transport settings for the WebRtcTransports peers use. */
export interface WebRtcTransportSettings {
  /** Used when the pool has no WebRtcServer. Default UDP + TCP on 127.0.0.1. */
  listenInfos: types.TransportListenInfo[];
  initialAvailableOutgoingBitrate: number;
  /** Cap on what one peer may send in (bps); 0 = no cap. */
  maxIncomingBitrate: number;
}

/**
 * PlainTransports (raw RTP/RTCP over UDP, optionally SRTP) for server-side peers:
 * recorders, SIP/RTMP gateways, load generators. Off by default; see
 * {@link RoomManagerOptions.plainTransport}.
 */
export interface PlainTransportSettings {
  /**
   * Serve `createPlainTransport` / `connectPlainTransport`. Default false (both
   * are FORBIDDEN). A connected plain transport sends media to any address the
   * peer names, so enable this only when every peer that can reach the request
   * API is one the host controls, or the host filters these methods itself.
   */
  enabled: boolean;
  /** Where plain transports listen. Default `{ protocol: 'udp', ip: '127.0.0.1' }`. */
  listenInfo: types.TransportListenInfo;
}

/** The trusted identity of the peer a request comes from, supplied by the host. */
export interface PeerContext {
  roomId: string;
  peerId: string;
  /** Required by `join`; ignored afterwards (a peer keeps its role). */
  role?: PeerRole;
  /** Options used if this request creates the room. */
  roomOptions?: Partial<RoomOptions>;
}

/** A peer as other peers see it. */
export interface PeerInfo {
  peerId: string;
  role: PeerRole;
  displayName?: string;
  appData: Record<string, unknown>;
}

/** A producer as other peers see it. */
export interface ProducerInfo {
  producerId: string;
  peerId: string;
  kind: types.MediaKind;
  source: MediaSource;
  paused: boolean;
  appData: Record<string, unknown>;
}

/**
 * One raised hand in a room's queue. The queue is ordered by `raisedAt` (first
 * come, first served) and holds at most one entry per peer.
 */
export interface HandQueueEntry {
  peerId: string;
  displayName?: string;
  /** When the hand went up (server clock, ISO 8601). Raising again while queued keeps it. */
  raisedAt: string;
  /** A recognised `raised-hand` gesture, or the client's raise-hand button. */
  source: 'gesture' | 'button';
}

/** Why a peer left. */
export type LeaveReason = 'left' | 'replaced' | 'worker-died' | 'room-closed';

/**
 * Notifications a peer must hear, addressed by peer id. The host forwards each to
 * the listed peers over its own signaling; the client SDK consumes them.
 */
export interface NotificationMap {
  peerJoined: PeerInfo;
  peerLeft: { peerId: string; reason: LeaveReason };
  newProducer: ProducerInfo;
  producerClosed: { producerId: string; peerId: string };
  producerPaused: { producerId: string };
  producerResumed: { producerId: string };
  consumerClosed: { consumerId: string; producerId: string };
  consumerPaused: { consumerId: string };
  consumerResumed: { consumerId: string };
  consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  activeSpeaker: { peerId: string; producerId: string };
  /** The peer's media is gone (its worker died): rejoin to continue. */
  reconnectRequired: { reason: 'worker-died'; error?: LecternErrorJSON };
  roomClosed: { roomId: string };
  /** A peer's gesture, sent to the room's lecturers (the host sees every gesture as a room event). */
  gesture: { peerId: string; gesture: GestureName; phase: GesturePhase; confidence: number };
  /** The raised-hand queue changed, sent to every peer of the room; oldest hand first. */
  handQueueChanged: { queue: HandQueueEntry[] };
}
export type NotificationName = keyof NotificationMap;

/** One notification, addressed to peers of one room. */
export type Notification = {
  [N in NotificationName]: { roomId: string; to: string[]; name: N; data: NotificationMap[N] };
}[NotificationName];
