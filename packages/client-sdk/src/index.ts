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
  type WireGestureName,
  type WireGesturePhase,
  type RequestMap,
  type RequestMethod,
  type ResponseMap,
  type NotificationMap,
  type NotificationName,
} from './protocol.js';
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

// Gesture hooks: detector → classifier → state machine → gestureStart / gestureHold / gestureEnd.
export * from './gestures/index.js';
