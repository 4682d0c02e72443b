import type { types } from 'mediasoup';
import type { Notification } from '@lectern/protocol';
import type { LecternError } from '../errors.js';
import type { RoomManager } from '../rooms/room-manager.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { NodeRegistry } from './node-registry.js';
import type { RoomDirectory } from './room-directory.js';

/** Options of {@link MediaNode.create}. */
export interface MediaNodeOptions {
  /** This node's rooms and workers. */
  manager: RoomManager;
  /** This process as a node of the cluster; started by {@link MediaNode.create} if it is not yet. */
  registry: NodeRegistry;
  /** The directory on that registry: the node joins (and leaves) the rooms its manager holds. */
  directory: RoomDirectory;
  /**
   * Where this node's PipeTransports to other nodes listen: UDP on an address the
   * other nodes reach (or `0.0.0.0` with `announcedAddress`), within `portRange`.
   * E.g. `{ protocol: 'udp', ip: '0.0.0.0', announcedAddress: '10.0.0.5', portRange: { min: 44000, max: 44999 } }`.
   */
  pipeListenInfo: types.TransportListenInfo;
  /** Bound on each node-to-node request over Redis. Default 3000 ms. */
  requestTimeoutMs?: number;
  /** A pipe from another node that no local consumer uses closes after this. Default 30 000 ms. */
  idlePipeCloseMs?: number;
}

/** Why peers must reconnect elsewhere. */
export type PeersLostReason = 'node-died' | 'node-draining';

/** The events of a {@link MediaNode}. */
export type MediaNodeEvents = {
  /**
   * Peers whose node is gone (`node-died`: exactly one live node emits this per
   * dead node incarnation and room) or is draining (`node-draining`: this node,
   * for its own peers). Each was also sent `reconnectRequired` through
   * {@link MediaNodeEvents.notification}: its client rejoins and is placed on a live node.
   */
  peersLost: { roomId: string; nodeId: string; peerIds: string[]; reason: PeersLostReason };
  /** Notifications this node makes for peers — some on other nodes (a dead node's): forward like the manager's. */
  notification: Notification;
  /** A node-to-node operation failed in the background (a pipe, a resync); for logs. */
  clusterError: { op: string; error: LecternError };
  listenerError: { event: string; error: unknown };
};

/**
 * A RoomManager as one media node of a cluster whose rooms span nodes. Not yet built.
 */
export class MediaNode extends TypedEmitter<MediaNodeEvents> {
  private constructor(readonly nodeId: string) {
    super();
  }

  static async create(options: MediaNodeOptions): Promise<MediaNode> {
    return new MediaNode(options.registry.nodeId);
  }

  async drain(_options: { timeoutMs?: number } = {}): Promise<void> {}

  async close(): Promise<void> {}
}
