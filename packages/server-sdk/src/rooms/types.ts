import type { types } from 'mediasoup';
import type { PeerGrants, PeerRole } from '@lectern/protocol';
import type { WorkerPool } from '../workers/worker-pool.js';
import type { BanList } from './ban-list.js';

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
  /**
   * ICE consent freshness (RFC 7675): a transport whose peer sent no consent
   * check for this long goes `disconnected` on the server, so a vanished peer is
   * noticed without waiting for DTLS. Browsers send checks every ~5 s. 0 turns it
   * off. Default 30 (mediasoup's).
   */
  iceConsentTimeoutSeconds: number;
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

/**
 * The identity of the peer a request comes from: supplied by a host that does
 * its own auth (trusted as given), or derived from a verified access token
 * (`RoomManager.verifyToken`).
 */
export interface PeerContext {
  roomId: string;
  peerId: string;
  /** Required by `join`; ignored afterwards (a peer keeps its role). */
  role?: PeerRole;
  /**
   * What the peer may do, fixed at `join` (later requests use the joined
   * peer's grants). Unstated grants take the role's defaults for trusted
   * contexts: every source (the room's `studentMedia` policy decides),
   * subscribe, raise hand, plain transports (when the host enabled them), and
   * `roomAdmin` for lecturers. A token's context states them all.
   */
  grants?: Partial<PeerGrants>;
  /** The display name other peers see; overrides the one the client sends in `join`. */
  displayName?: string;
  /** Options used if this request creates the room. */
  roomOptions?: Partial<RoomOptions>;
}

/** What a room is built with (from the manager's settings). */
export interface RoomDeps {
  pool: WorkerPool;
  timeoutMs: number;
  limits: PeerLimits;
  transport: WebRtcTransportSettings;
  plainTransport: PlainTransportSettings;
  /** The manager's bans (`removePeer` with `ban`). */
  bans: BanList;
}
