/**
 * @lectern/server-sdk — live lectures over mediasoup.
 *
 * This is the package's whole public API; anything not exported here is internal.
 * @packageDocumentation
 */
export { RoomManager, type RoomManagerOptions, type RoomManagerEvents } from './rooms/room-manager.js';
export { Room, type RoomEvents, type RoomStats } from './rooms/room.js';
export type {
  PeerContext,
  PeerRole,
  PeerInfo,
  PeerLimits,
  ProducerInfo,
  MediaSource,
  RoomOptions,
  StudentMediaPolicy,
  WebRtcTransportSettings,
  LeaveReason,
  Notification,
  NotificationMap,
  NotificationName,
} from './rooms/types.js';
export { requestMethods, type RequestMethod, type RequestData } from './api/schemas.js';
export type { ResponseMap, ResponseData } from './api/responses.js';
export { ErrorCode, LecternError, type LecternErrorJSON } from './errors.js';
export {
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerPoolEvents,
  type PoolWorker,
  type PlacementPolicy,
  type WebRtcServerOptions,
} from './workers/worker-pool.js';
export { WorkerLoad, DEFAULT_LOAD_MODEL, type LoadModel } from './workers/worker-load.js';
export { LecternMetrics, type MetricsOptions } from './metrics/metrics.js';
export { DEFAULT_MEDIA_CODECS } from './media/codecs.js';
export { SUPPORTED_MEDIASOUP_RANGE, isSupportedMediasoupVersion } from './media/mediasoup-version.js';
