/**
 * @lectern/protocol — the wire between `@lectern/server-sdk` and
 * `@lectern/client-sdk`: every request, reply and notification, the error codes
 * and the model types (peers, producers, gestures, the hand queue, transcripts,
 * summaries). Both SDKs import these, so a payload mismatch fails to compile.
 *
 * This entry point has no runtime dependencies (its only code is constant lists).
 * The request schemas (zod) are at `@lectern/protocol/schemas`.
 * @packageDocumentation
 */
export { ErrorCode, errorCodes, isErrorCode, type LecternErrorJSON } from './errors.js';
export {
  peerRoles,
  mediaSources,
  sourceKind,
  gestureNames,
  gesturePhases,
  type MediaKind,
  type PeerRole,
  type MediaSource,
  type LeaveReason,
  type PeerInfo,
  type ProducerInfo,
  type GestureName,
  type GesturePhase,
  type GestureInfo,
  type HandQueueEntry,
  type TranscriptWord,
  type TranscriptEntry,
  type LectureSummary,
  type TranscriptSource,
  transcriptSources,
  type CaptionInfo,
} from './model.js';
export type {
  RtpCapabilities,
  RtpParameters,
  DtlsParameters,
  IceParameters,
  IceCandidate,
  SrtpCryptoSuite,
  SrtpParameters,
  ConsumerType,
} from './rtp.js';
export {
  mediaRequestMethods,
  gestureRequestMethods,
  adminRequestMethods,
  requestMethods,
  hostRequestMethods,
  type ClientRequestMethod,
  type HostRequestMethod,
  type RequestMethod,
  type RequestMap,
  type ParsedRequest,
} from './requests.js';
export type { ResponseMap, ResponseData, Empty, PeerDetails } from './responses.js';
export type { PeerGrants, GrantName } from './grants.js';
export {
  notificationNames,
  isNotificationName,
  type NotificationMap,
  type NotificationName,
  type Notification,
} from './notifications.js';
