/**
 * @lectern/client-sdk — the browser side of a Lectern lecture.
 * @packageDocumentation
 */
export type { SignalingRequest } from './signaling.js';
export { LectureClient } from './lecture-client.js';
export {
  DEFAULT_SIMULCAST_ENCODINGS,
  type ConnectionState,
  type ConnectionStateEvent,
  type LectureClientOptions,
  type LectureClientEvents,
  type JoinOptions,
  type JoinResult,
  type PublishOptions,
  type CameraPublishOptions,
  type ScreenPublishOptions,
  type LocalTrackPublication,
  type RemoteTrack,
  type RemotePeer,
  type MediaDeviceProvider,
  type TrackSubscribedEvent,
  type TrackUnsubscribedEvent,
  type TrackUnsubscribedReason,
  type TrackMuteEvent,
} from './types.js';
export {
  LecternClientError,
  ClientErrorCode,
  isServerErrorCode,
  type LecternClientErrorCode,
} from './errors.js';
// The wire protocol, re-exported from its one definition in @lectern/protocol
// (types and constant lists only: the zod schemas at @lectern/protocol/schemas
// never enter the browser bundle).
export {
  ErrorCode,
  errorCodes,
  requestMethods,
  mediaRequestMethods,
  gestureRequestMethods,
  notificationNames,
  mediaSources,
  sourceKind,
  type LecternErrorJSON,
  type PeerRole,
  type MediaSource,
  type LeaveReason,
  type PeerInfo,
  type ProducerInfo,
  type HandQueueEntry,
  type GestureInfo,
  type CaptionInfo,
  type TranscriptWord,
  type RequestMap,
  type RequestMethod,
  // What the client sends; RequestMethod also names the host-enabled plain-transport methods.
  type ClientRequestMethod,
  type ResponseMap,
  type NotificationMap,
  type NotificationName,
  // The names this package used for the protocol's gesture unions before they had one home.
  type GestureName as WireGestureName,
  type GesturePhase as WireGesturePhase,
} from '@lectern/protocol';
export {
  IceRecovery,
  DEFAULT_ICE_RECOVERY,
  DEFAULT_REJOIN,
  rejoinDelayMs,
  isRetryableRejoinError,
  isFatalIceRestartError,
  type TransportHealth,
  type IceGiveUpReason,
  type IceRecoveryOptions,
  type IceRecoveryActions,
  type RejoinOptions,
} from './recovery.js';

// Live captions: the `caption` event's holder for display.
export { CaptionTrack, type CaptionLine, type CaptionTrackOptions } from './captions/caption-track.js';

// Gesture hooks: detector → classifier → state machine → gestureStart / gestureHold / gestureEnd.
export * from './gestures/index.js';
