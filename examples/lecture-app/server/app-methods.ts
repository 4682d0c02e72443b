// The example app's own request methods, beside the SDK's request API (these
// are this example's, not Lectern's): transcription control and the end of the
// lecture. Each answers one peer's request; errors are LecternErrors with the
// protocol's codes, like the SDK's.
import { ErrorCode, LecternError, type PeerContext, type PeerRole, type RoomManager } from '@lectern/server-sdk';
import type { LectureTranscription, TranscriptionService } from '@lectern/server-sdk/transcription';
import type { LectureSummary, TranscriptEntry } from '@lectern/protocol';
import type { Logger } from './log.js';

/** Who sent the request: the context of the connection's verified access token (role always set). */
export interface Caller extends PeerContext {
  roomId: string;
  peerId: string;
  role: PeerRole;
}

/** A method's reply data, and what must happen once that reply is on the wire. */
export interface AppMethodResult {
  data: unknown;
  afterReply?: () => void;
}

/** Wire of the app methods: every request is `{}`; the replies are these. */
export interface AppReplyMap {
  startTranscription: LectureTranscription;
  stopTranscription: { summary: LectureSummary };
  /** `live`: the live captions' finals so far (empty without captions), for a page joining mid-lecture. */
  getTranscript: { lectureId: string | undefined; entries: TranscriptEntry[]; live: TranscriptEntry[] };
  getTranscriptionState: { running: boolean; lectureId: string | undefined };
  /** Lecturer only: stops the transcription (if running), closes the room, then every socket of the room (4000). */
  endLecture: { summary?: LectureSummary };
}
export type AppMethod = keyof AppReplyMap;

const APP_METHODS: ReadonlySet<string> = new Set<AppMethod>([
  'startTranscription',
  'stopTranscription',
  'getTranscript',
  'getTranscriptionState',
  'endLecture',
]);

export function isAppMethod(method: string): method is AppMethod {
  return APP_METHODS.has(method);
}

/** The close code and reason every socket of a room gets when its lecturer ends the lecture. */
export const LECTURE_ENDED_CLOSE = { code: 4000, reason: 'lecture ended' } as const;

export interface AppMethodDeps {
  manager: RoomManager;
  transcription: TranscriptionService;
  /** Closes every signaling socket of a room with {@link LECTURE_ENDED_CLOSE}. */
  closeRoomConnections(roomId: string): void;
  logger: Logger;
}

type Handler<M extends AppMethod> = (caller: Caller) => Promise<{ data: AppReplyMap[M]; afterReply?: () => void }>;

/** The app methods' handlers, one per method (a method without one does not compile). */
export function createAppMethods({ manager, transcription, closeRoomConnections, logger }: AppMethodDeps) {
  const requireLecturer = (caller: Caller, what: string) => {
    if (caller.role !== 'lecturer') throw new LecternError(ErrorCode.FORBIDDEN, `only the lecturer ${what}`);
  };
  const handlers: { [M in AppMethod]: Handler<M> } = {
    async startTranscription(caller) {
      requireLecturer(caller, 'starts the transcription');
      // The language is detected on the first batch with speech and pinned for the lecture
      // (whisper-api's default model is multilingual); an LMS would pass the course's language.
      return { data: await transcription.startTranscription(caller.roomId, { language: 'auto' }) };
    },
    async stopTranscription(caller) {
      requireLecturer(caller, 'stops the transcription');
      return { data: { summary: await transcription.stopTranscription(caller.roomId) } };
    },
    async getTranscriptionState(caller) {
      const pipeline = transcription.pipeline(caller.roomId);
      return { data: { running: Boolean(pipeline), lectureId: pipeline?.lectureId } };
    },
    async getTranscript(caller) {
      const lectureId = transcription.pipeline(caller.roomId)?.lectureId;
      if (!lectureId) return { data: { lectureId, entries: [], live: [] } };
      const [entries, live] = await Promise.all([
        transcription.store.getTranscript(lectureId),
        transcription.store.getTranscript(lectureId, { source: 'live' }),
      ]);
      return { data: { lectureId, entries, live } };
    },
    async endLecture(caller) {
      requireLecturer(caller, 'ends the lecture');
      let summary: LectureSummary | undefined;
      try {
        // Waits for the pipeline to finish (bounded by its finalizeTimeoutMs) so the summary is in the reply.
        summary = await transcription.stopTranscription(caller.roomId);
      } catch (error) {
        // NOT_FOUND: no transcription was running. Anything else is reported; the lecture ends regardless.
        if (!(error instanceof LecternError && error.code === ErrorCode.NOT_FOUND)) {
          logger.error(`[endLecture] room ${caller.roomId}: stopping the transcription failed; ending the lecture without a summary`, error);
        }
      }
      // Every peer gets the SDK's roomClosed notification, queued on its socket now.
      manager.closeRoom(caller.roomId, { reason: 'the lecturer ended the lecture' });
      return {
        data: summary ? { summary } : {},
        // After the lecturer's reply: ws sends frames in order, so each close frame follows the roomClosed notification.
        afterReply: () => closeRoomConnections(caller.roomId),
      };
    },
  };
  return (caller: Caller, method: AppMethod): Promise<AppMethodResult> => (handlers[method] as Handler<AppMethod>)(caller);
}
