import type { types } from 'mediasoup';
import type { HandQueueEntry, LeaveReason, NotificationMap, PeerDetails, PeerInfo, ProducerInfo } from '@lectern/protocol';
import type { RouterShard } from './shard-set.js';

/**
 * A change of a room that the room's peers on OTHER nodes must hear about (a
 * cluster spreads one room over media nodes). The room makes these for its own
 * peers' actions ({@link RoomLink.publish}) and applies the other nodes' ones
 * (`Room.applyRemote`) by telling its own peers.
 */
export type RoomChange =
  | { type: 'peerJoined'; info: PeerInfo }
  | { type: 'peerLeft'; peerId: string; reason: LeaveReason }
  | { type: 'producerAdded'; info: ProducerInfo }
  | { type: 'producerClosed'; producerId: string; peerId: string }
  /** `info.paused` says which; the others hear `producerPaused` / `producerResumed`. */
  | { type: 'producerPaused' | 'producerResumed'; info: ProducerInfo }
  /** For the room's lecturers. */
  | { type: 'gesture'; event: NotificationMap['gesture'] }
  /** A room service's notification for every peer ({@link RoomBroadcastName}). */
  | { type: 'caption'; data: NotificationMap['caption'] }
  | { type: 'handRaised'; entry: HandQueueEntry }
  | { type: 'handLowered'; peerId: string }
  | { type: 'handsCleared' }
  /** A lecturer or the host removed and banned a peer: no node lets it join (until `until`, ISO 8601; else the room's lifetime). */
  | { type: 'peerBanned'; peerId: string; until?: string }
  /** A lecturer (`endRoom`) or the host (`closeRoom`) ended the room: every node closes its part. */
  | { type: 'roomEnded'; reason?: string };

/** An admin action on a peer or producer another node holds (that node carries it out). */
export type RemoteAdminAction =
  | { type: 'expel'; peerId: string; reason?: string | undefined; ban?: boolean | undefined; banSeconds?: number | undefined; by?: string | undefined }
  | { type: 'mute'; producerId: string; close?: boolean | undefined; reason?: string | undefined; by?: string | undefined };

/** A remote producer brought onto this node: the local pipe producer and the router it lives on. */
export interface PipedProducer {
  readonly producer: types.Producer;
  readonly shard: RouterShard;
}

/**
 * What a room sees of the nodes it spans besides this one. Absent on a single
 * node (the room is all local). The cluster's MediaNode provides one per room.
 */
export interface RoomLink {
  /** Settles once the room's state on the other nodes is known (or after a bound: the link catches up in the background). */
  readonly ready: Promise<void>;
  /** Peers of the room on other nodes. */
  remotePeers(): PeerInfo[];
  /** Producers of the room on other nodes, as peers see them. */
  remoteProducers(): ProducerInfo[];
  remoteProducer(producerId: string): ProducerInfo | undefined;
  /**
   * Brings a remote producer onto this node — once per producer and node,
   * concurrent callers share it — and names the local pipe producer.
   */
  acquire(producerId: string): Promise<PipedProducer>;
  /** A local consumer of a remote producer opened / closed (a pipe nobody uses closes after a delay). */
  consumerOpened(producerId: string, consumerId: string, peerId: string): void;
  consumerClosed(producerId: string, consumerId: string): void;
  /** The other nodes' peers with their grants and media, asked of each node (a node that does not answer in time is left out). */
  remotePeerDetails(): Promise<PeerDetails[]>;
  /** Whether another node holds this peer. */
  hasRemotePeer(peerId: string): boolean;
  /** Has the node that holds the target carry out the action (it notifies as if it were local there). */
  forwardAdmin(action: RemoteAdminAction): Promise<void>;
  /** Tells the room's other nodes about a change made here. */
  publish(change: RoomChange): void;
  /** The local room closed: leave the cluster's view of it. */
  close(): void;
}
