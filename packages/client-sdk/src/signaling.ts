/**
 * How the client SDK reaches the server: the host application provides this
 * function and carries `method` + `data` over its own transport (WebSocket,
 * HTTP, socket.io ...) to the server SDK's request API (`manager.handle(context,
 * method, data)`), resolving with its JSON reply.
 *
 * On failure, reject with the server's error JSON (`error.toJSON()` on the
 * server: `{ code, message, details? }`), either as that plain object or as an
 * `Error` carrying `code` (and `details`), e.g.
 * `reject(Object.assign(new Error(json.message), json))`. `{ error: {code,
 * message} }` is understood too. The client rebuilds a `LecternClientError`
 * with the same `code`; a rejection without a code (socket closed, host
 * timeout) becomes `SIGNALING_FAILED`.
 */
export type SignalingRequest = (method: string, data: unknown) => Promise<unknown>;
