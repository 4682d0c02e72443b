/// <reference lib="dom" />
import type { types } from 'mediasoup-client';
import type { LecternClientError } from './errors.js';
import type { CaptionInfo, GestureInfo, HandQueueEntry, LeaveReason, MediaSource, PeerRole, ProducerInfo } from '@lectern/protocol';
import type { SignalingRequest } from './signaling.js';

/** The client's connection to its room, as a UI shows it. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

/** Where getUserMedia / getDisplayMedia come from (default `navigator.mediaDevices`). */
export interface MediaDeviceProvider {
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  getDisplayMedia?(options?: DisplayMediaStreamOptions): Promise<MediaStream>;
}

/** Options of {@link LectureClient}. Every field but `request` is optional. */
export interface LectureClientOptions {
  /** Carries requests to the server's request API (see {@link SignalingRequest}). */
  request: SignalingRequest;
  /** Subscribe to every remote producer as it appears. Default `true`; when `false`, call `subscribe(producerId)`. */
  autoSubscribe?: boolean;
  /** Send the camera as simulcast (three encodings). Default `true`. */
  simulcast?: boolean;
  /** The camera's simulcast encodings, lowest first. Default {@link DEFAULT_SIMULCAST_ENCODINGS}. */
  simulcastEncodings?: types.RtpEncodingParameters[];
  /** ICE restarts per transport before a full rejoin. Default 2. */
  iceRestartAttempts?: number;
  /** How long a `disconnected` transport may take to recover by itself before an ICE restart. Default 2000 ms. */
  disconnectedGraceMs?: number;
  /** How long an ICE restart may take to reach `connected` before the next one. Default 8000 ms. */
  iceRestartTimeoutMs?: number;
  /** Full rejoins tried (with exponential backoff) before the state becomes `failed`. Default 5. */
  rejoinAttempts?: number;
  /** First rejoin retry delay; doubles per attempt up to 8 s. Default 500 ms. */
  rejoinBaseDelayMs?: number;
  /** STUN/TURN servers for the transports. Default none (mediasoup's ICE-lite needs none on reachable networks). */
  iceServers?: RTCIceServer[];
  /** `relay` forces TURN. Default `all`. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Ask the server for TCP-only transports (restrictive networks). Default `false`. */
  forceTcp?: boolean;
  /** Media capture (tests, custom pickers). Default `navigator.mediaDevices`. */
  mediaDevices?: MediaDeviceProvider;
  /**
   * mediasoup-client handler to use instead of detecting the browser (e.g.
   * `FakeHandler` in tests, or a React Native handler). Default: detected.
   */
  handlerFactory?: types.HandlerFactory;
}

/** Options of {@link LectureClient.join}. */
export interface JoinOptions {
  /** Shown to other peers (at most 128 characters). */
  displayName?: string;
  /** Free-form JSON other peers see (at most 4 KiB serialised). */
  appData?: Record<string, unknown>;
}

/** What {@link LectureClient.join} resolves with. */
export interface JoinResult {
  peerId: string;
  role: PeerRole;
  /** The other peers in the room when this client joined. */
  peers: RemotePeer[];
}

/** Options shared by the publish methods. */
export interface PublishOptions {
  /** Start paused (the server's producer too). Default `false`. */
  paused?: boolean;
  /** Free-form JSON other peers see on the producer. */
  appData?: Record<string, unknown>;
  /** Constraints for the track the client captures (ignored when a track is passed in). */
  constraints?: MediaTrackConstraints;
}

/** Options of {@link LectureClient.publishCamera}. */
export interface CameraPublishOptions extends PublishOptions {
  /** Overrides the client's `simulcast` option for this track. */
  simulcast?: boolean;
  /** Explicit encodings (overrides `simulcast`). */
  encodings?: types.RtpEncodingParameters[];
}

/** Options of {@link LectureClient.publishScreen}. */
export interface ScreenPublishOptions extends PublishOptions {
  /** Also publish the shared tab's / system audio as `screen-audio` when the browser offers it. Default `false`. */
  audio?: boolean;
}

/** A track this client publishes. Survives rejoins (its `producerId` changes). */
export interface LocalTrackPublication {
  readonly source: MediaSource;
  readonly kind: types.MediaKind;
  readonly track: MediaStreamTrack;
  /** The server's producer id; `undefined` while (re)publishing. */
  readonly producerId: string | undefined;
  readonly paused: boolean;
  /** `true` when the client captured the track (it stops it on unpublish / leave). */
  readonly ownedByClient: boolean;
  /** WebRTC stats of the sender (`outbound-rtp` ...). */
  getStats(): Promise<RTCStatsReport>;
}

/** A remote track this client receives. */
export interface RemoteTrack {
  readonly peerId: string;
  readonly producerId: string;
  readonly consumerId: string;
  readonly source: MediaSource;
  readonly kind: types.MediaKind;
  readonly track: MediaStreamTrack;
  /** The sender paused its producer. */
  readonly muted: boolean;
  /** This client paused receiving it ({@link LectureClient.pauseTrack}). */
  readonly receivingPaused: boolean;
  /** WebRTC stats of the receiver (`inbound-rtp` ...). */
  getStats(): Promise<RTCStatsReport>;
}

/** Another peer of the room. */
export interface RemotePeer {
  readonly peerId: string;
  readonly role: PeerRole;
  readonly displayName: string | undefined;
  readonly appData: Readonly<Record<string, unknown>>;
  /** Everything the peer publishes, subscribed or not, by producer id. */
  readonly producers: ReadonlyMap<string, ProducerInfo>;
  /** The tracks this client receives from the peer, by source. */
  readonly tracks: ReadonlyMap<MediaSource, RemoteTrack>;
}

/** Payload of `trackSubscribed`. */
export interface TrackSubscribedEvent {
  peerId: string;
  producerId: string;
  consumerId: string;
  source: MediaSource;
  kind: types.MediaKind;
  track: MediaStreamTrack;
  muted: boolean;
  remoteTrack: RemoteTrack;
}

/** Why a remote track stopped. */
export type TrackUnsubscribedReason = 'producer-closed' | 'peer-left' | 'reconnect' | 'left' | 'consumer-closed';

/** Payload of `trackUnsubscribed`. */
export interface TrackUnsubscribedEvent {
  peerId: string;
  producerId: string;
  source: MediaSource;
  kind: types.MediaKind;
  track: MediaStreamTrack;
  reason: TrackUnsubscribedReason;
}

/** Payload of `trackMuted` / `trackUnmuted` (a remote producer paused / resumed). */
export interface TrackMuteEvent {
  peerId: string;
  producerId: string;
  source: MediaSource;
  kind: types.MediaKind;
  /** Present when this client receives the track. */
  remoteTrack: RemoteTrack | undefined;
}

/** Payload of `connectionStateChanged`. */
export interface ConnectionStateEvent {
  state: ConnectionState;
  previous: ConnectionState;
  /** e.g. `worker-died`, `ice-restart`, `ice-restarts-exhausted`, `left`, `room-closed`, `removed`, an error message. */
  reason?: string;
}

/** Typed events of {@link LectureClient}; each listener gets one payload object. */
export interface LectureClientEvents {
  peerJoined: RemotePeer;
  peerLeft: { peerId: string; reason: LeaveReason; peer: RemotePeer };
  /** A remote peer published something (with `autoSubscribe: false`, call `subscribe(producerId)`). */
  trackPublished: ProducerInfo;
  trackUnpublished: ProducerInfo;
  trackSubscribed: TrackSubscribedEvent;
  trackUnsubscribed: TrackUnsubscribedEvent;
  trackMuted: TrackMuteEvent;
  trackUnmuted: TrackMuteEvent;
  /** The server changed the simulcast/SVC layers a video consumer receives. */
  trackLayersChanged: { producerId: string; consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  activeSpeaker: { peerId: string; producerId: string };
  gesture: GestureInfo;
  handQueueChanged: { queue: HandQueueEntry[] };
  /**
   * A live caption of the lecture (the server's `captions` must be on). Per
   * `streamKey`, a `partial` replaces the previous partial; a `final` is
   * append-only and replaces the partial it confirms. `seq` grows with every
   * caption of the lecture. `CaptionTrack` is a ready-made holder for display.
   */
  caption: CaptionInfo;
  localTrackPublished: LocalTrackPublication;
  localTrackUnpublished: {
    source: MediaSource;
    track: MediaStreamTrack;
    reason: 'unpublished' | 'track-ended' | 'left' | 'refused' | 'closed-by-host';
  };
  /**
   * A lecturer (`by`, its peer id) or the host paused one of this client's
   * tracks (`closed: false`: {@link LectureClient.resume} unmutes it) or closed
   * it (`closed: true`: publish again to send it).
   */
  mutedByHost: { source: MediaSource; producerId: string; closed: boolean; reason?: string; by?: string };
  /**
   * A lecturer or the host removed this client from the room; the state becomes
   * `disconnected` (reason `removed`) and the client does not rejoin. `banned`:
   * joining again is refused (until `bannedUntil`, or for the room's lifetime).
   */
  removed: { reason: string; banned: boolean; bannedUntil?: string; by?: string };
  /** The room closed for everyone (the state becomes `disconnected`, reason `room-closed`). */
  roomClosed: { reason?: string };
  /** A send or recv transport changed its WebRTC connection state. */
  transportStateChanged: { direction: 'send' | 'recv'; state: types.ConnectionState };
  connectionStateChanged: ConnectionStateEvent;
  /** Failures nobody awaits (auto-subscribe, republish, recovery). */
  error: LecternClientError;
}

/** The camera's default simulcast encodings, lowest layer first. */
export const DEFAULT_SIMULCAST_ENCODINGS: readonly types.RtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
