// Transcripts out over HTTP, for the lecturer (or anyone the LMS gave
// `roomAdmin`) of the room the lecture belongs to:
//
//   GET /api/rooms/:roomId/lectures[?from=&to=&status=]     → { roomId, lectures: LectureListing[] }
//   GET /api/lectures/:lectureId/transcript.vtt | .srt       → the subtitle file (attachment)
//       [?source=live|batch]  live: the live captions' finals; default batch (400 for anything else)
//
// Authorised by the peer's access token (the one it joined with, or a fresh one
// from the LMS): `Authorization: Bearer <token>` or `?token=`. The token is
// verified by the app's RoomManager.verifyToken, exactly as the signaling does.
import type * as http from 'node:http';
import { ErrorCode, LecternError, type PeerContext, type RoomManager } from '@lectern/server-sdk';
import type { LectureStatus, TranscriptionService, TranscriptSource } from '@lectern/server-sdk/transcription';

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCode.INVALID_REQUEST]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.CLOSED]: 503,
};

/** The app's parts these routes use. */
export interface TranscriptRoutes {
  manager: RoomManager;
  transcription: TranscriptionService;
}

type Route = { kind: 'list'; roomId: string } | { kind: 'export'; lectureId: string; format: 'vtt' | 'srt' };

/** The route of decoded path segments, if it is one of these. */
export function transcriptRoute(segments: readonly string[]): Route | undefined {
  const [api, collection, id, leaf, ...rest] = segments;
  if (api !== 'api' || id === undefined || id === '' || rest.length > 0) return undefined;
  if (collection === 'rooms' && leaf === 'lectures') return { kind: 'list', roomId: id };
  const format = leaf === 'transcript.vtt' ? 'vtt' : leaf === 'transcript.srt' ? 'srt' : undefined;
  if (collection === 'lectures' && format) return { kind: 'export', lectureId: id, format };
  return undefined;
}

/**
 * Serves the route if `segments` is one (resolves true), else leaves the
 * request alone (false). Every failure is a JSON `{ error: { code, message,
 * details? } }` with the protocol's code and a matching HTTP status.
 */
export async function serveTranscripts(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  segments: readonly string[],
  app: TranscriptRoutes,
): Promise<boolean> {
  const route = transcriptRoute(segments);
  if (!route) return false;
  try {
    const context = await authorise(req, url, app.manager);
    if (route.kind === 'list') {
      if (route.roomId !== context.roomId) throw new LecternError(ErrorCode.FORBIDDEN, 'the token is for another room', { reason: 'wrong-room' });
      const lectures = await app.transcription.listLectures(route.roomId, listOptions(url));
      send(req, res, 200, 'application/json', JSON.stringify({ roomId: route.roomId, lectures }));
      return true;
    }
    const record = await app.transcription.store.getLecture(route.lectureId);
    // Another room's lecture answers like a missing one: a token does not learn what other rooms hold.
    if (!record || record.roomId !== context.roomId) throw new LecternError(ErrorCode.NOT_FOUND, `lecture not found: ${route.lectureId.slice(0, 64)}`);
    const source = exportSource(url);
    const file = await app.transcription.exportTranscript(route.lectureId, route.format, { source });
    // Two files of one lecture must not save under one name.
    const fileName = source === 'live' ? file.fileName.replace(/\.(vtt|srt)$/, '.live.$1') : file.fileName;
    send(req, res, 200, file.contentType, file.text, { 'Content-Disposition': `attachment; filename="${fileName}"` });
    return true;
  } catch (error) {
    const e = error instanceof LecternError ? error : new LecternError(ErrorCode.INTERNAL, 'could not serve the transcript');
    const status = STATUS_BY_CODE[e.code] ?? 500;
    const headers: Record<string, string> = status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
    send(req, res, status, 'application/json', JSON.stringify({ error: e.toJSON() }), headers);
    return true;
  }
}

/** The verified context of the request's token, if it may read the room's transcripts (lecturer or `roomAdmin`). */
async function authorise(req: http.IncomingMessage, url: URL, manager: RoomManager): Promise<PeerContext> {
  const header = req.headers.authorization;
  const bearer = typeof header === 'string' && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : undefined;
  const token = bearer ?? url.searchParams.get('token') ?? '';
  if (token === '') throw new LecternError(ErrorCode.UNAUTHORIZED, 'an access token is required (Authorization: Bearer, or ?token=)', { reason: 'malformed' });
  const context = await manager.verifyToken(token);
  if (context.role !== 'lecturer' && context.grants?.roomAdmin !== true) {
    throw new LecternError(ErrorCode.FORBIDDEN, "a lecture's transcript is for its lecturer (or a roomAdmin grant)", { grant: 'roomAdmin' });
  }
  return context;
}

/** The transcript an export reads: `?source=live` (the captions' finals) or `batch` (the default); once at most. */
function exportSource(url: URL): TranscriptSource {
  const values = url.searchParams.getAll('source');
  if (values.length === 0) return 'batch';
  if (values.length === 1 && (values[0] === 'live' || values[0] === 'batch')) return values[0];
  throw new LecternError(ErrorCode.INVALID_REQUEST, 'source must be live or batch (once)', { source: values.map((v) => v.slice(0, 16)) });
}

function listOptions(url: URL): { from?: string; to?: string; status?: LectureStatus[] } {
  const from = url.searchParams.get('from');
  const to = url.searchParams.get('to');
  const status = url.searchParams.getAll('status').flatMap((s) => s.split(',')) as LectureStatus[];
  return { ...(from !== null ? { from } : {}), ...(to !== null ? { to } : {}), ...(status.length > 0 ? { status } : {}) };
}

function send(req: http.IncomingMessage, res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type.includes('charset') ? type : `${type}; charset=utf-8`, 'Content-Length': bytes.byteLength, 'Cache-Control': 'no-store', ...headers });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
