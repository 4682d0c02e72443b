import type { z } from 'zod';
import { allRequestSchemas } from '@lectern/protocol/schemas';
import { hostRequestMethods, type ParsedRequest, type PeerGrants, type PeerRole, type RequestMethod, type ResponseMap } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../errors.js';
import type { Room } from '../rooms/room.js';

/** Who a request comes from (the host or its token vouches for it), after the room was found. */
export interface Caller {
  peerId: string;
  role: PeerRole | undefined;
  /** The grants in force: the context's (for `join`) or the joined peer's. */
  grants: PeerGrants;
  /** The host's (or token's) display name, for `join`. */
  displayName: string | undefined;
}

/**
 * How the manager serves one method: the schema that parses its payload, and
 * what runs. `room` methods run before the peer joined (the manager creates the
 * room if needed); `peer` methods need a joined peer and run in that peer's
 * request order.
 */
export interface MethodHandler<M extends RequestMethod> {
  readonly schema: z.ZodType<ParsedRequest<M>>;
  readonly scope: 'room' | 'peer';
  run(room: Room, caller: Caller, data: ParsedRequest<M>): Promise<ResponseMap[M]>;
}

type PeerRun<M extends RequestMethod> = (room: Room, peerId: string, data: ParsedRequest<M>) => Promise<ResponseMap[M]>;
const peer = <M extends RequestMethod>(schema: z.ZodType<ParsedRequest<M>>, run: PeerRun<M>): MethodHandler<M> => ({
  schema,
  scope: 'peer',
  run: (room, caller, data) => run(room, caller.peerId, data),
});

const s = allRequestSchemas;

/**
 * The request API: one handler per method of the protocol. A method without a
 * handler, or a handler whose payload or reply type differs from the protocol's,
 * fails to compile.
 */
export const requestHandlers: { readonly [M in RequestMethod]: MethodHandler<M> } = {
  getRouterRtpCapabilities: {
    schema: s.getRouterRtpCapabilities,
    scope: 'room',
    run: async (room) => ({ routerRtpCapabilities: room.routerRtpCapabilities }),
  },
  join: {
    schema: s.join,
    scope: 'room',
    run: (room, { peerId, role, grants, displayName }, data) => {
      if (!role) return Promise.reject(new LecternError(ErrorCode.INVALID_REQUEST, 'join needs the peer role in the context (from the host)'));
      return room.serialize(peerId, () => room.join(peerId, { role, grants, displayName }, data));
    },
  },
  createWebRtcTransport: peer(s.createWebRtcTransport, (room, id, data) => room.createWebRtcTransport(id, data)),
  connectTransport: peer(s.connectTransport, (room, id, data) => room.connectTransport(id, data)),
  restartIce: peer(s.restartIce, (room, id, data) => room.restartIce(id, data)),
  createPlainTransport: peer(s.createPlainTransport, (room, id, data) => room.createPlainTransport(id, data)),
  connectPlainTransport: peer(s.connectPlainTransport, (room, id, data) => room.connectPlainTransport(id, data)),
  produce: peer(s.produce, (room, id, data) => room.produce(id, data)),
  closeProducer: peer(s.closeProducer, (room, id, data) => room.closeProducer(id, data)),
  pauseProducer: peer(s.pauseProducer, (room, id, data) => room.pauseProducer(id, data)),
  resumeProducer: peer(s.resumeProducer, (room, id, data) => room.resumeProducer(id, data)),
  consume: peer(s.consume, (room, id, data) => room.consume(id, data)),
  pauseConsumer: peer(s.pauseConsumer, (room, id, data) => room.pauseConsumer(id, data)),
  resumeConsumer: peer(s.resumeConsumer, (room, id, data) => room.resumeConsumer(id, data)),
  setConsumerPreferredLayers: peer(s.setConsumerPreferredLayers, (room, id, data) => room.setConsumerPreferredLayers(id, data)),
  leave: peer(s.leave, (room, id) => room.leave(id)),
  sendGesture: peer(s.sendGesture, (room, id, data) => room.sendGesture(id, data)),
  raiseHand: peer(s.raiseHand, (room, id) => room.raiseHand(id)),
  lowerHand: peer(s.lowerHand, (room, id) => room.lowerHand(id)),
  getHandQueue: peer(s.getHandQueue, (room, id) => room.getHandQueue(id)),
  dismissHand: peer(s.dismissHand, (room, id, data) => room.dismissHand(id, data)),
  clearHandQueue: peer(s.clearHandQueue, (room, id) => room.clearHandQueue(id)),
  listPeers: peer(s.listPeers, (room, id) => room.listPeers(id)),
  removePeer: peer(s.removePeer, async (room, id, { peerId, ...options }) => {
    await room.expel(peerId, { ...options, by: id });
    return {};
  }),
  muteProducer: peer(s.muteProducer, async (room, id, { producerId, ...options }) => {
    await room.muteProducer(producerId, { ...options, by: id });
    return {};
  }),
  endRoom: peer(s.endRoom, async (room, id, { reason }) => {
    room.end(reason ?? `ended by ${id}`);
    return {};
  }),
};

/** Whether `method` names a method of the request API (own keys only: `__proto__` is not a method). */
export function isRequestMethod(method: unknown): method is RequestMethod {
  return typeof method === 'string' && Object.hasOwn(requestHandlers, method);
}

const hostOnly = new Set<string>(hostRequestMethods);

/** Host-enabled methods (plain RTP transports): served only when the host turned them on. */
export function isHostOnlyMethod(method: RequestMethod): boolean {
  return hostOnly.has(method);
}
