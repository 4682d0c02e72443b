import type { LecternErrorJSON } from './errors.js';
import type { CaptionInfo, GestureInfo, HandQueueEntry, LeaveReason, MediaSource, PeerInfo, ProducerInfo } from './model.js';

/**
 * Notifications a peer must hear, by name. The server addresses each to peer
 * ids; the host forwards it to those peers over its own signaling; the client
 * SDK consumes it (`LectureClient.handleNotification(name, data)`).
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
  /**
   * The peer's media is gone or must move: its worker died (`worker-died`), its
   * media node died (`node-died`, said by another node of a cluster) or is
   * shutting down (`node-draining`). Rejoin to continue (the host places the
   * peer on a live node).
   */
  reconnectRequired: { reason: 'worker-died' | 'node-died' | 'node-draining'; error?: LecternErrorJSON };
  /** The room is gone for everyone; `reason` when a lecturer (`endRoom`) or the host (`closeRoom`) gave one. */
  roomClosed: { roomId: string; reason?: string };
  /** A peer's gesture, sent to the room's lecturers. */
  gesture: GestureInfo;
  /** The raised-hand queue changed, sent to every peer of the room; oldest hand first. */
  handQueueChanged: { queue: HandQueueEntry[] };
  /**
   * Sent to a peer a lecturer (`removePeer`) or the host removed: its media is
   * closed and it is out of the room; `banned` when it may not join again
   * (until `bannedUntil`, ISO 8601, or for the room's lifetime when absent).
   */
  removed: { reason: string; banned: boolean; bannedUntil?: string; by?: string };
  /**
   * Sent to the owner of a producer a lecturer (`muteProducer`) or the host
   * paused (`closed: false`: the peer may resume it) or closed (`closed: true`).
   */
  mutedByHost: { producerId: string; source: MediaSource; closed: boolean; reason?: string; by?: string };
  /**
   * A live caption of the lecture (speech-to-text while it is spoken), sent to
   * every peer of the room: partials at most a few times a second per stream,
   * then the final text.
   */
  caption: CaptionInfo;
}
/** A notification name. */
export type NotificationName = keyof NotificationMap;

/** Every notification name, in declaration order. */
export const notificationNames = [
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
  'removed',
  'mutedByHost',
  'caption',
] as const satisfies readonly NotificationName[];

type Unlisted = Exclude<NotificationName, (typeof notificationNames)[number]>;
const everyNotificationListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyNotificationListed;

/** Whether `name` is one of the server's notification names. */
export function isNotificationName(name: string): name is NotificationName {
  return (notificationNames as readonly string[]).includes(name);
}

/** One notification, addressed to peers of one room (what the server SDK emits for the host to forward). */
export type Notification = {
  [N in NotificationName]: { roomId: string; to: string[]; name: N; data: NotificationMap[N] };
}[NotificationName];
