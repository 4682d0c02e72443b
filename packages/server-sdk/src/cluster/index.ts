/**
 * @lectern/server-sdk/cluster — Lectern beyond one machine: media nodes that
 * find each other through Redis, and one lecture that spans them.
 *
 * ```ts
 * const registry = new NodeRegistry({ url: 'redis://redis:6379', nodeId: 'media-1', meta: { url: 'wss://media-1.example.org' }, load: () => manager.loadEstimate });
 * const directory = new RoomDirectory(registry);
 * const node = await MediaNode.create({ manager, registry, directory, pipeListenInfo: { protocol: 'udp', ip: '0.0.0.0', announcedAddress: '10.0.0.11' } });
 * node.on('notification', forwardToPeers); // like the manager's; a dead node's peers are told here
 * const { nodeId } = await directory.place('physics-101'); // sticky, else least loaded; OVERLOADED when full
 * ```
 *
 * Needs the optional peer dependency `ioredis` when given a `url`.
 * @packageDocumentation
 */
export {
  NodeRegistry,
  type ClusterNode,
  type NodeDownReason,
  type NodeRegistryEvents,
  type NodeRegistryOptions,
  type NodeState,
} from './node-registry.js';
export { RoomDirectory, type PlaceOptions, type Placement, type RoomDirectoryEvents, type RoomEntry } from './room-directory.js';
export type { ClusterRedisClient } from './redis-connection.js';
export { MediaNode, type MediaNodeEvents, type MediaNodeOptions, type PeersLostReason } from './media-node.js';
