import type { ClientRequestMethod, RequestMap } from '@lectern/protocol';

/**
 * How the client SDK reaches the server: the host application provides this
 * function and carries `method` + `data` over its own transport (WebSocket,
 * HTTP, socket.io ...) to the server SDK's request API (`manager.handle(context,
 * method, data)`), resolving with its JSON reply.
 *
 * Any of these fits without a cast: a plain
 * `(method: string, data: unknown) => Promise<unknown>`, a function generic in
 * its reply (`<T>(method: string, data?: unknown) => Promise<T>`), or one typed
 * by the protocol (`<M extends ClientRequestMethod>(method: M, data:
 * RequestMap[M]) => Promise<ResponseMap[M]>`). The client only ever calls it
 * with a method of the request API and that method's payload, and reads the
 * reply as that method's `ResponseMap` entry.
 *
 * On failure, reject with the server's error JSON (`error.toJSON()` on the
 * server: `{ code, message, details? }`), either as that plain object or as an
 * `Error` carrying `code` (and `details`), e.g.
 * `reject(Object.assign(new Error(json.message), json))`. `{ error: {code,
 * message} }` is understood too. The client rebuilds a `LecternClientError`
 * with the same `code`; a rejection without a code (socket closed, host
 * timeout) becomes `SIGNALING_FAILED`.
 */
export type SignalingRequest = (method: ClientRequestMethod, data: RequestMap[ClientRequestMethod]) => Promise<unknown>;
