import type { LecternErrorJSON } from './errors.js';
import type { GestureInfo, HandQueueEntry, LeaveReason, PeerInfo, ProducerInfo } from './model.js';

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
  /** The peer's media is gone (its worker died): rejoin to continue. */
  reconnectRequired: { reason: 'worker-died'; error?: LecternErrorJSON };
  roomClosed: { roomId: string };
  /** A peer's gesture, sent to the room's lecturers. */
  gesture: GestureInfo;
  /** The raised-hand queue changed, sent to every peer of the room; oldest hand first. */
  handQueueChanged: { queue: HandQueueEntry[] };
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
