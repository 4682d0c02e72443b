/**
 * @lectern/server-sdk — live lectures over mediasoup: rooms sharded over a pool
 * of workers, a validated request API the host's signaling calls, typed events
 * addressed to peer ids, Prometheus metrics.
 *
 * This is the package's whole public API for rooms; anything not exported here
 * is internal. The transcription pipeline is a separate entry point,
 * `@lectern/server-sdk/transcription`, so a host that only wants rooms loads
 * none of it.
 * @packageDocumentation
 */
export {
  RoomManager,
  type RoomManagerOptions,
  type RoomManagerEvents,
  type RoomSummary,
  type RemovePeerOptions,
  type MuteProducerOptions,
} from './rooms/room-manager.js';
// Access tokens: the host mints them, the SDK verifies them and enforces their grants.
export { AccessToken, type AccessTokenOptions } from './auth/access-token.js';
export { TokenVerifier, contextFromToken, type TokenVerifierOptions, type VerifiedToken, type TokenRejection } from './auth/token-verifier.js';
export type { RoomGrant } from './auth/claims.js';
export type { SigningKey, AsymmetricKey, AsymmetricAlgorithm } from './auth/keys.js';
export { tokenDefaultGrants, trustedDefaultGrants } from './auth/grants.js';
export { methodGrants, type GrantRequirement } from './api/grants.js';
export type { RoomView, RoomEvents, RoomStats } from './rooms/room.js';
export type { ServerConsumer, ServerConsumerOptions, ProducerWatch, ProducerChange } from './rooms/server-consumer.js';
export type {
  PeerContext,
  PeerLimits,
  RoomOptions,
  StudentMediaPolicy,
  WebRtcTransportSettings,
  PlainTransportSettings,
} from './rooms/types.js';
export { ErrorCode, LecternError, toLecternError, type LecternErrorJSON } from './errors.js';
// The SDK's one rate limiter (the per-peer request limit and the hand queue use it), for hosts that limit their own signaling the same way.
export { TokenBucket, TokenBuckets, type RateLimit } from './util/token-bucket.js';
export {
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerPoolEvents,
  type PoolWorker,
  type PlacementPolicy,
  type WebRtcServerOptions,
} from './workers/worker-pool.js';
export { WorkerLoad, DEFAULT_LOAD_MODEL, type LoadModel } from './workers/worker-load.js';
export { LecternMetrics, type MetricsOptions, type MetricsSource } from './metrics/metrics.js';
export { DEFAULT_MEDIA_CODECS } from './media/codecs.js';
// Signed webhooks (Standard Webhooks) for a backend in another process; the receiver's half alone at @lectern/server-sdk/webhooks.
export {
  WebhookSender,
  verifyWebhook,
  generateWebhookSecret,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_HEADERS,
  type WebhookSenderOptions,
  type WebhookSenderEvents,
  type WebhookSenderStats,
  type WebhookDropPolicy,
  type WebhookDropReason,
  type WebhookSecret,
  type WebhookHeaders,
  type WebhookRejection,
  type VerifyWebhookOptions,
  type WebhookEventMap,
  type WebhookEventType,
  type WebhookEnvelope,
  type WebhookEvent,
} from './webhooks/index.js';
export { SUPPORTED_MEDIASOUP_RANGE, isSupportedMediasoupVersion } from './media/mediasoup-version.js';

// The wire protocol, re-exported for hosts (its one definition is @lectern/protocol).
export {
  requestMethods,
  hostRequestMethods,
  adminRequestMethods,
  type ClientRequestMethod,
  type HostRequestMethod,
  type RequestMethod,
  type RequestMap,
  type ParsedRequest,
  type ResponseMap,
  type ResponseData,
  type Notification,
  type NotificationMap,
  type NotificationName,
  type PeerRole,
  type PeerInfo,
  type ProducerInfo,
  type MediaSource,
  type LeaveReason,
  type GestureName,
  type GesturePhase,
  type HandQueueEntry,
  type PeerGrants,
  type GrantName,
  type PeerDetails,
} from '@lectern/protocol';
