/**
 * How the client SDK reaches the server: the host application provides this
 * function and carries `method` + `data` over its own transport (WebSocket,
 * HTTP, socket.io ...) to the server SDK's request API, returning its JSON reply.
 * A rejected promise should carry the server's error (with its `code`).
 */
export type SignalingRequest = <TResponse = unknown>(method: string, data: unknown) => Promise<TResponse>;
