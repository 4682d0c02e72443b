import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, LecternError, toLecternError, type PeerRole, type RoomManager } from '@lectern/server-sdk';
import type { TranscriptionService } from '@lectern/server-sdk/transcription';

/** What a browser sends: one request. */
interface ClientMessage {
  id: number | string;
  method: string;
  data?: unknown;
}

/** App-level methods on top of the SDK's request API (this example's own, not Lectern's). */
const APP_METHODS = new Set(['startTranscription', 'stopTranscription', 'getTranscript', 'getTranscriptionState']);

interface Connection {
  socket: WebSocket;
  roomId: string;
  peerId: string;
  role: PeerRole;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The example's signaling: one WebSocket per peer at `/ws?room=&peer=&role=`.
 * Requests `{id, method, data}` go to `manager.handle()` (or the app methods
 * above); replies are `{id, data}` or `{id, error: {code, message}}`; server
 * notifications are `{notification, data}`.
 *
 * Auth is out of scope here: the role comes from the URL. A real host decides
 * the role from its own session (the SDK never trusts the client for it).
 */
export function attachSignaling(server: Server, manager: RoomManager, transcription: TranscriptionService): { close(): void } {
  const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 256 * 1024 });
  const peers = new Map<string, Connection>(); // `${roomId}/${peerId}`
  const key = (roomId: string, peerId: string) => `${roomId}/${peerId}`;
  const send = (socket: WebSocket, message: unknown) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const broadcast = (roomId: string, notification: string, data: unknown) => {
    for (const c of peers.values()) if (c.roomId === roomId) send(c.socket, { notification, data });
  };

  manager.on('notification', ({ roomId, to, name, data }) => {
    for (const peerId of to) {
      const c = peers.get(key(roomId, peerId));
      if (c) send(c.socket, { notification: name, data });
    }
  });
  transcription.on('transcriptUpdated', ({ roomId, entries }) => broadcast(roomId, 'transcript', { entries }));
  transcription.on('transcriptionStarted', ({ roomId, lectureId }) => broadcast(roomId, 'transcription', { state: 'running', lectureId }));
  transcription.on('summaryReady', ({ roomId, lectureId, summary }) => broadcast(roomId, 'summary', { lectureId, summary }));
  transcription.on('transcriptionStopped', ({ roomId, lectureId }) => broadcast(roomId, 'transcription', { state: 'stopped', lectureId }));

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const roomId = url.searchParams.get('room') ?? '';
    const peerId = url.searchParams.get('peer') ?? '';
    const role = url.searchParams.get('role');
    if (!ID.test(roomId) || !ID.test(peerId) || (role !== 'lecturer' && role !== 'student')) {
      socket.close(4400, 'room, peer (1-64 of A-Z a-z 0-9 _ -) and role (lecturer|student) are required');
      return;
    }
    const connection: Connection = { socket, roomId, peerId, role };
    const previous = peers.get(key(roomId, peerId));
    if (previous) previous.socket.close(4409, 'replaced by a newer connection');
    peers.set(key(roomId, peerId), connection);

    socket.on('message', (raw) => {
      let message: ClientMessage;
      try {
        message = JSON.parse(String(raw)) as ClientMessage;
        if (typeof message !== 'object' || message === null || typeof message.method !== 'string' || (typeof message.id !== 'number' && typeof message.id !== 'string')) {
          throw new Error('bad message');
        }
      } catch {
        send(socket, { id: null, error: { code: ErrorCode.INVALID_REQUEST, message: 'expected {id, method, data}' } });
        return;
      }
      void handle(connection, message).then(
        (data) => send(socket, { id: message.id, data: data ?? {} }),
        (error: unknown) => send(socket, { id: message.id, error: toLecternError(error).toJSON() }),
      );
    });
    socket.on('close', () => {
      if (peers.get(key(roomId, peerId)) !== connection) return; // replaced
      peers.delete(key(roomId, peerId));
      manager.handle({ roomId, peerId }, 'leave', {}).catch(() => undefined);
    });
  });

  async function handle(c: Connection, message: ClientMessage): Promise<unknown> {
    if (!APP_METHODS.has(message.method)) {
      return manager.handle({ roomId: c.roomId, peerId: c.peerId, role: c.role }, message.method, message.data ?? {});
    }
    switch (message.method) {
      case 'startTranscription': {
        if (c.role !== 'lecturer') throw new LecternError(ErrorCode.FORBIDDEN, 'only the lecturer starts the transcription');
        return transcription.startTranscription(c.roomId, { language: 'en' });
      }
      case 'stopTranscription': {
        if (c.role !== 'lecturer') throw new LecternError(ErrorCode.FORBIDDEN, 'only the lecturer stops the transcription');
        return { summary: await transcription.stopTranscription(c.roomId) };
      }
      case 'getTranscriptionState': {
        const pipeline = transcription.pipeline(c.roomId);
        return { running: Boolean(pipeline), lectureId: pipeline?.lectureId };
      }
      default: {
        const lectureId = transcription.pipeline(c.roomId)?.lectureId;
        return { lectureId, entries: lectureId ? await transcription.store.getTranscript(lectureId) : [] };
      }
    }
  }

  return {
    close() {
      for (const c of peers.values()) c.socket.close(1001, 'server closing');
      wss.close();
    },
  };
}
