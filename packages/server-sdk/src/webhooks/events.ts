/**
 * The webhook events: one stable envelope, one data shape per type. This is the
 * contract with the receiver (an LMS backend in any language): fields are only
 * ever added, never renamed or removed.
 */
import type { LeaveReason, LectureSummary, PeerRole } from '@lectern/protocol';

/** Each webhook type and its `data`. Every event carries the `roomId` it belongs to; events of one room arrive in order. */
export interface WebhookEventMap {
  /** A room (a lecture) was created, at the first request of a peer for it. */
  'room.created': { roomId: string };
  /** A room closed: ended by a lecturer or the host, emptied past `emptyRoomTimeoutMs`, or the manager closed. */
  'room.closed': { roomId: string };
  'peer.joined': { roomId: string; peerId: string; role: PeerRole; displayName?: string };
  'peer.left': { roomId: string; peerId: string; reason: LeaveReason };
  'transcription.started': { roomId: string; lectureId: string };
  /** Transcription stopped (by request or because the room closed), with the lecture's summary. */
  'transcription.stopped': { roomId: string; lectureId: string; summary: LectureSummary };
  /** A lecture's summary was stored (the transcript is complete; fetch it from the transcript store). */
  'summary.ready': { roomId: string; lectureId: string; summary: LectureSummary };
}

/** Every webhook type, in a stable order. */
export const WEBHOOK_EVENT_TYPES = [
  'room.created',
  'room.closed',
  'peer.joined',
  'peer.left',
  'transcription.started',
  'transcription.stopped',
  'summary.ready',
] as const satisfies readonly (keyof WebhookEventMap)[];

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The JSON body of every webhook request. */
export interface WebhookEnvelope<T extends WebhookEventType = WebhookEventType> {
  /** Unique per event, the same on every retry (also the `webhook-id` header): deduplicate on it. */
  id: string;
  type: T;
  /** ISO 8601 time the event happened (not the time of the attempt). */
  createdAt: string;
  data: WebhookEventMap[T];
}

/** A webhook event, discriminated by `type`. */
export type WebhookEvent = { [T in WebhookEventType]: WebhookEnvelope<T> }[WebhookEventType];
