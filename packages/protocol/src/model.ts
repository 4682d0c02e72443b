/** `audio` or `video`. */
export type MediaKind = 'audio' | 'video';

/** A peer's role, decided by the host (from its own auth), never by the client. */
export type PeerRole = 'lecturer' | 'student';
/** Every {@link PeerRole}. */
export const peerRoles = ['lecturer', 'student'] as const satisfies readonly PeerRole[];

/** What a producer carries; decides its kind and which roles may send it. */
export type MediaSource = 'microphone' | 'camera' | 'screen' | 'screen-audio';
/** Every {@link MediaSource}. */
export const mediaSources = ['microphone', 'camera', 'screen', 'screen-audio'] as const satisfies readonly MediaSource[];

/** The media kind each source carries. */
export const sourceKind: Readonly<Record<MediaSource, MediaKind>> = {
  microphone: 'audio',
  camera: 'video',
  screen: 'video',
  'screen-audio': 'audio',
};

/** Why a peer left the room (`removed`: a lecturer or the host removed it). */
/**
 * Why a peer left: it `left`, joined again elsewhere (`replaced`), its media
 * worker died (`worker-died`), its media node died (`node-died`: a cluster's
 * other nodes say so), the room closed, or it was `removed`.
 */
export type LeaveReason = 'left' | 'replaced' | 'worker-died' | 'node-died' | 'room-closed' | 'removed';

/** A peer as other peers see it. */
export interface PeerInfo {
  peerId: string;
  role: PeerRole;
  displayName?: string;
  appData: Record<string, unknown>;
}

/** A producer as other peers see it. */
export interface ProducerInfo {
  producerId: string;
  peerId: string;
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
  appData: Record<string, unknown>;
}

/** The hand gestures a client's recogniser reports (see the `sendGesture` request). */
export type GestureName = 'raised-hand' | 'thumbs-up' | 'thumbs-down' | 'open-palm';
/** Every {@link GestureName}, in a stable order. */
export const gestureNames = ['raised-hand', 'thumbs-up', 'thumbs-down', 'open-palm'] as const satisfies readonly GestureName[];

/** Where a gesture is in its life: first seen, still held, gone. */
export type GesturePhase = 'start' | 'hold' | 'end';
/** Every {@link GesturePhase}. */
export const gesturePhases = ['start', 'hold', 'end'] as const satisfies readonly GesturePhase[];

/** A peer's gesture as the server relays it (to the room's lecturers). */
export interface GestureInfo {
  peerId: string;
  gesture: GestureName;
  phase: GesturePhase;
  /** The recogniser's confidence, 0..1. */
  confidence: number;
}

/**
 * One raised hand in a room's queue. The queue is ordered by `raisedAt` (first
 * come, first served) and holds at most one entry per peer.
 */
export interface HandQueueEntry {
  peerId: string;
  displayName?: string;
  /** When the hand went up (server clock, ISO 8601). Raising again while queued keeps it. */
  raisedAt: string;
  /** A recognised `raised-hand` gesture, or the client's raise-hand button. */
  source: 'gesture' | 'button';
}

/** A word of a transcript segment, on the lecture's timeline. */
export interface TranscriptWord {
  /** Seconds from the start of the lecture. */
  start: number;
  end: number;
  word: string;
  /** The engine's confidence in the word, 0..1. */
  probability: number;
}

/** One transcript segment placed on the lecture's timeline. */
export interface TranscriptEntry {
  /** The batch this segment came from; a retried batch replaces its own entries. */
  batchId: string;
  /** Position of the segment within its batch (0-based). */
  index: number;
  /** Seconds from the start of the lecture (absolute, comparable across batches). */
  start: number;
  end: number;
  text: string;
  /** Word timings (absolute seconds), when the engine produced them. */
  words?: TranscriptWord[];
}

/** A lecture summary, stored next to the transcript. */
export interface LectureSummary {
  /** The summary as prose (or bullet lines), in the lecture's language. */
  text: string;
  /** Key points, one sentence each, in lecture order (may be empty). */
  keyPoints: string[];
  /** Which summarizer made it, e.g. `offline-extractive` or `openai-compatible:gpt-4o-mini`. */
  generator: string;
  /** ISO time it was made. */
  createdAt: string;
  /** Seconds of lecture the transcript covered. */
  coveredSeconds: number;
  /**
   * What it was made from: `live` (the live captions' finals, ready seconds
   * after the lecture ends) or `batch` (the stored batch transcript, which
   * replaces the live one once every batch is stored). Absent in summaries
   * stored before live captions existed (those are `batch`).
   */
  source?: TranscriptSource;
}

/**
 * Where transcript text comes from: `live` captions (streamed, within seconds,
 * the engine's quick pass) or the `batch` path (5-minute batches, minutes
 * later, the better and final text the store and summary rely on).
 */
export type TranscriptSource = 'live' | 'batch';

/** Every transcript source. */
export const transcriptSources = ['live', 'batch'] as const satisfies readonly TranscriptSource[];

/**
 * One live caption (`caption` notification, sent to every peer of the room).
 * Per stream, a `partial` replaces the previous partial; a `final` is
 * append-only and clears the partial it confirms. Finals never overlap and
 * come in order.
 */
export interface CaptionInfo {
  lectureId: string;
  /** The speaker. */
  peerId: string;
  /** The transcribed stream, e.g. `lecturer-1:microphone` (stable across re-joins). */
  streamKey: string;
  kind: 'partial' | 'final';
  /** Grows with every caption of the lecture (partials and finals): order and de-duplication. */
  seq: number;
  /** Empty in a partial that withdraws the previous one. */
  text: string;
  /** Seconds from the start of the lecture. */
  start: number;
  end: number;
  /** Word timings (finals only). */
  words?: TranscriptWord[];
}
