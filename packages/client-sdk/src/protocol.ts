/**
 * The wire protocol between the client SDK and `@lectern/server-sdk`'s request
 * API, declared here so the browser bundle never imports the server package
 * (which pulls in mediasoup). A Node test (`test/protocol.test.ts`) checks these
 * lists against the server's own.
 * @module
 */
import type { types } from 'mediasoup-client';

/** Stable error codes the server rejects requests with (mirror of the server's `ErrorCode`). */
export const ErrorCode = {
  /** The request does not match its schema (wrong types, missing fields, bad ids). */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** The method name is not part of the request API. */
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  /** The room, peer, transport, producer or consumer does not exist (for this peer). */
  NOT_FOUND: 'NOT_FOUND',
  /** The peer's role does not allow this (e.g. a student producing video when the room allows audio only). */
  FORBIDDEN: 'FORBIDDEN',
  /** The peer must join first, or has already joined. */
  INVALID_STATE: 'INVALID_STATE',
  /** The room has reached its peer limit. */
  ROOM_FULL: 'ROOM_FULL',
  /** Requests of this kind came too fast (gestures, raised hands); `details.retryAfterMs` says when to retry. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** No media worker has headroom; try later or elsewhere. */
  OVERLOADED: 'OVERLOADED',
  /** This client's RTP capabilities cannot receive that producer. */
  INCOMPATIBLE_CAPABILITIES: 'INCOMPATIBLE_CAPABILITIES',
  /** The server's media worker did not answer in time. */
  TIMEOUT: 'TIMEOUT',
  /** The room or server was closed while the request ran. */
  CLOSED: 'CLOSED',
  /** A service the server depends on is unreachable; retryable. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The host's configuration was refused. */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** A server bug or unexpected media failure. */
  INTERNAL: 'INTERNAL',
} as const;
/** One of the server's error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every server error code, in declaration order. */
export const errorCodes: readonly ErrorCode[] = Object.values(ErrorCode);

/** The JSON form of a server error, as the host's signaling forwards it. */
export interface LecternErrorJSON {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** A peer's role, decided by the host (never by the client). */
export type PeerRole = 'lecturer' | 'student';

/** What a producer carries; decides its kind and which roles may send it. */
export type MediaSource = 'microphone' | 'camera' | 'screen' | 'screen-audio';

/** Every media source. */
export const mediaSources: readonly MediaSource[] = ['microphone', 'camera', 'screen', 'screen-audio'];

/** The media kind each source carries. */
export const sourceKind: Readonly<Record<MediaSource, types.MediaKind>> = {
  microphone: 'audio',
  camera: 'video',
  screen: 'video',
  'screen-audio': 'audio',
};

/** Why a peer left the room. */
export type LeaveReason = 'left' | 'replaced' | 'worker-died' | 'room-closed';

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
 * The gestures the server relays (same union as the gesture module's `GestureName`;
 * not re-exported from the package index under this name to avoid a clash).
 */
export type WireGestureName = 'raised-hand' | 'thumbs-up' | 'thumbs-down' | 'open-palm';

/** Where a gesture is in its life: first seen, still held, gone (same union as `GesturePhase`). */
export type WireGesturePhase = 'start' | 'hold' | 'end';

/** One raised hand in the room's queue; the queue is oldest first, one entry per peer. */
export interface HandQueueEntry {
  peerId: string;
  displayName?: string;
  /** When the hand went up (server clock, ISO 8601). */
  raisedAt: string;
  /** A recognised `raised-hand` gesture, or a raise-hand button. */
  source: 'gesture' | 'button';
}

/** A peer's gesture as the server relays it to the other peers. */
export interface GestureInfo {
  peerId: string;
  gesture: WireGestureName;
  phase: WireGesturePhase;
  /** The recogniser's confidence, 0..1. */
  confidence: number;
}

/** Request payloads, by method. */
export interface RequestMap {
  getRouterRtpCapabilities: Record<string, never>;
  join: { rtpCapabilities: types.RtpCapabilities; displayName?: string; appData?: Record<string, unknown> };
  createWebRtcTransport: { direction: 'send' | 'recv'; forceTcp?: boolean };
  connectTransport: { transportId: string; dtlsParameters: types.DtlsParameters };
  restartIce: { transportId: string };
  produce: {
    transportId: string;
    kind: types.MediaKind;
    rtpParameters: types.RtpParameters;
    source: MediaSource;
    paused?: boolean;
    appData?: Record<string, unknown>;
  };
  closeProducer: { producerId: string };
  pauseProducer: { producerId: string };
  resumeProducer: { producerId: string };
  consume: { producerId: string; transportId?: string };
  pauseConsumer: { consumerId: string };
  resumeConsumer: { consumerId: string };
  setConsumerPreferredLayers: { consumerId: string; spatialLayer: number; temporalLayer?: number };
  leave: Record<string, never>;
  sendGesture: { gesture: WireGestureName; phase: WireGesturePhase; confidence: number };
  raiseHand: Record<string, never>;
  lowerHand: Record<string, never>;
  getHandQueue: Record<string, never>;
  dismissHand: { peerId: string };
  clearHandQueue: Record<string, never>;
}

/** The request API's method names. */
export type RequestMethod = keyof RequestMap;

/** Reply payloads, by method. */
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
    type: 'simple' | 'simulcast' | 'svc' | 'pipe';
    producerPaused: boolean;
    appData: Record<string, unknown>;
  };
  pauseConsumer: Record<string, never>;
  resumeConsumer: Record<string, never>;
  setConsumerPreferredLayers: Record<string, never>;
  leave: Record<string, never>;
  sendGesture: Record<string, never>;
  /** Every hand-queue method answers with the queue after it ran, oldest hand first. */
  raiseHand: { queue: HandQueueEntry[] };
  lowerHand: { queue: HandQueueEntry[] };
  getHandQueue: { queue: HandQueueEntry[] };
  dismissHand: { queue: HandQueueEntry[] };
  clearHandQueue: { queue: HandQueueEntry[] };
}

/** The media request methods (the server's core API). */
export const mediaRequestMethods = [
  'getRouterRtpCapabilities',
  'join',
  'createWebRtcTransport',
  'connectTransport',
  'restartIce',
  'produce',
  'closeProducer',
  'pauseProducer',
  'resumeProducer',
  'consume',
  'pauseConsumer',
  'resumeConsumer',
  'setConsumerPreferredLayers',
  'leave',
] as const satisfies readonly RequestMethod[];

/** The gesture / raised-hand request methods. */
export const gestureRequestMethods = [
  'sendGesture',
  'raiseHand',
  'lowerHand',
  'getHandQueue',
  'dismissHand',
  'clearHandQueue',
] as const satisfies readonly RequestMethod[];

/** Every request method the client may send. */
export const requestMethods: readonly RequestMethod[] = [...mediaRequestMethods, ...gestureRequestMethods];

/** Server notifications, by name: the host feeds them to {@link LectureClient.handleNotification}. */
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
  gesture: GestureInfo;
  handQueueChanged: { queue: HandQueueEntry[] };
}

/** A notification name. */
export type NotificationName = keyof NotificationMap;

/** Every notification name the client understands. */
export const notificationNames: readonly NotificationName[] = [
  'peerJoined',
  'peerLeft',
  'newProducer',
  'producerClosed',
  'producerPaused',
  'producerResumed',
  'consumerClosed',
  'consumerPaused',
  'consumerResumed',
  'consumerLayersChanged',
  'activeSpeaker',
  'reconnectRequired',
  'roomClosed',
  'gesture',
  'handQueueChanged',
];
