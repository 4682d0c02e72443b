import { ErrorCode, type ClientRequestMethod, type RequestMap, type ResponseMap } from '@lectern/protocol';
import { ClientErrorCode, LecternClientError } from '../errors.js';
import type { SignalingRequest } from '../signaling.js';
import type { ConnectionState, LectureClientEvents } from '../types.js';

/** Emits one of the client's typed events. */
export type EmitEvent = <K extends keyof LectureClientEvents>(name: K, event: LectureClientEvents[K]) => void;

/**
 * What the parts of one LectureClient share: the host's signaling (typed by the
 * protocol, rejections rebuilt as {@link LecternClientError}), the client's
 * events, and the two facts every part asks about: the connection state and
 * the current media session. Only the connection changes those two.
 *
 * Generic in the session type (always `MediaSession`) so that this module
 * imports nothing of the session, which itself sends through the context.
 */
export class ClientContext<Session> {
  #state: ConnectionState = 'disconnected';
  /** The media session of the current join; `undefined` while not joined (or between rejoin attempts). */
  session: Session | undefined;

  constructor(
    private readonly signaling: SignalingRequest,
    private readonly emitEvent: EmitEvent,
  ) {}

  /** The connection state (emitted as `connectionStateChanged` when it changes). */
  get state(): ConnectionState {
    return this.#state;
  }

  setState(state: ConnectionState, reason?: string): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    this.emit('connectionStateChanged', { state, previous, ...(reason !== undefined ? { reason } : {}) });
  }

  /** Sends a request of the server's request API; a rejection becomes a {@link LecternClientError}. */
  async request<M extends ClientRequestMethod>(method: M, data: RequestMap[M]): Promise<ResponseMap[M]> {
    try {
      // The server's request API answers `method` with ResponseMap[method].
      return (await this.signaling(method, data)) as ResponseMap[M];
    } catch (error) {
      throw LecternClientError.from(error, method);
    }
  }

  /** Tells the server this peer leaves; never rejects (the client is gone either way). */
  sendLeave(): Promise<void> {
    return this.signaling('leave', {}).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Emits without letting a throwing app listener break the client's bookkeeping. */
  readonly emit: EmitEvent = (name, event) => {
    try {
      this.emitEvent(name, event);
    } catch (error) {
      const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
      if (report) report(error);
      else console.error(`LectureClient: a '${String(name)}' listener threw`, error);
    }
  };

  /** Reports a failure nobody awaits (auto-subscribe, republish, recovery) as `error`. */
  emitError(error: LecternClientError): void {
    this.emit('error', error);
  }

  /** The current session, for calls that need a joined client. */
  requireSession(): Session {
    if (this.#state === 'closed') throw new LecternClientError(ErrorCode.CLOSED, 'the client is closed');
    const session = this.session;
    if (!session) throw new LecternClientError(ClientErrorCode.NOT_JOINED, 'join the room first');
    return session;
  }
}
