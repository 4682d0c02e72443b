// Type fixture (compiled, never run): the signaling functions a host may have
// fit LectureClientOptions.request without a cast; wrong ones do not.
// signaling-types.test.ts compiles it, and compiles it again without the
// expect-error directives to prove each marked line really fails.
import type { ClientRequestMethod, RequestMap, ResponseMap } from '@lectern/protocol';
import { LectureClient, type SignalingRequest } from '../../src/index.js';

declare const socket: { send(text: string): void };

// A plain function: method name and payload untyped, reply unknown.
const plain = (method: string, data: unknown): Promise<unknown> => {
  socket.send(JSON.stringify({ method, data }));
  return Promise.resolve({});
};
new LectureClient({ request: plain });

// Generic in the reply, payload optional (the example app's WsSignaling.request).
const genericReply = <T = unknown>(method: string, data: unknown = {}): Promise<T> => Promise.resolve({ method, data } as T);
new LectureClient({ request: genericReply });

// Typed by the protocol: generic in the method.
declare function typed<M extends ClientRequestMethod>(method: M, data: RequestMap[M]): Promise<ResponseMap[M]>;
new LectureClient({ request: typed });

// Typed by method name only.
const byMethod = (method: ClientRequestMethod, data: unknown): Promise<unknown> => Promise.resolve({ method, data });
new LectureClient({ request: byMethod });

// An inline arrow, parameters inferred.
new LectureClient({ request: (method, data) => Promise.resolve({ method, data }) });

// The exported type names it.
const named: SignalingRequest = plain;
new LectureClient({ request: named });

// --- what must not compile
// @ts-expect-error a method that is not a string
new LectureClient({ request: (method: number, data: unknown) => Promise.resolve({ method, data }) });
// @ts-expect-error a reply that is not a promise
new LectureClient({ request: (method: string) => method });
// @ts-expect-error a payload type the client's requests do not fit
new LectureClient({ request: (method: string, data: { only: number }) => Promise.resolve({ method, data }) });
// @ts-expect-error calling it with a method outside the request API
void named('notAMethod', {});

export {};
