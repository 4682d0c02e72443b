import type { ParsedRequest, PeerGrants, RequestMethod } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../errors.js';

/**
 * What a method needs of the caller's grants:
 * - `member`: being admitted to the room (a valid context or token) is enough;
 * - `publish`: `canPublish` holds the request's `source` (`produce`);
 * - `transport`: a send transport needs some `canPublish`, a recv transport `canSubscribe`;
 * - `subscribe`: `canSubscribe`;
 * - `raiseHand`: `canRaiseHand` (gestures and the caller's own hand);
 * - `roomAdmin`: `roomAdmin` (the hand queue of others, the admin API);
 * - `plainTransport`: `plainTransport` (host-enabled plain RTP transports).
 */
export type GrantRequirement = 'member' | 'publish' | 'transport' | 'subscribe' | 'raiseHand' | 'roomAdmin' | 'plainTransport';

/**
 * The one table of what every method of the request API needs. A method
 * without an entry does not compile; `RoomManager` checks it for every request
 * (trusted contexts and tokens alike) after the payload was parsed.
 */
export const methodGrants: { readonly [M in RequestMethod]: GrantRequirement } = {
  getRouterRtpCapabilities: 'member',
  join: 'member',
  createWebRtcTransport: 'transport',
  connectTransport: 'member',
  restartIce: 'member',
  createPlainTransport: 'plainTransport',
  connectPlainTransport: 'plainTransport',
  produce: 'publish',
  // The peer's own producers (it was allowed to create them): closing or pausing one is always allowed.
  closeProducer: 'member',
  pauseProducer: 'member',
  resumeProducer: 'member',
  consume: 'subscribe',
  pauseConsumer: 'subscribe',
  resumeConsumer: 'subscribe',
  setConsumerPreferredLayers: 'subscribe',
  // Leaving frees resources: never refused.
  leave: 'member',
  sendGesture: 'raiseHand',
  raiseHand: 'raiseHand',
  lowerHand: 'raiseHand',
  getHandQueue: 'member',
  dismissHand: 'roomAdmin',
  clearHandQueue: 'roomAdmin',
  listPeers: 'roomAdmin',
  removePeer: 'roomAdmin',
  muteProducer: 'roomAdmin',
  endRoom: 'roomAdmin',
};

/** FORBIDDEN (with `details.grant`) unless `grants` allow `method` with this (parsed) payload. */
export function assertGranted<M extends RequestMethod>(method: M, grants: PeerGrants, data: ParsedRequest<M>): void {
  const missing = missingGrant(method, grants, data);
  if (missing) {
    throw new LecternError(ErrorCode.FORBIDDEN, `${method} needs the ${missing.grant} grant${missing.what ? ` (${missing.what})` : ''}`, {
      grant: missing.grant,
      ...(missing.what ? { what: missing.what } : {}),
    });
  }
}

function missingGrant(method: RequestMethod, grants: PeerGrants, data: unknown): { grant: keyof PeerGrants; what?: string } | undefined {
  switch (methodGrants[method]) {
    case 'member':
      return undefined;
    case 'publish': {
      const { source } = data as ParsedRequest<'produce'>;
      return grants.canPublish.includes(source) ? undefined : { grant: 'canPublish', what: source };
    }
    case 'transport': {
      const { direction } = data as ParsedRequest<'createWebRtcTransport'>;
      if (direction === 'send') return grants.canPublish.length > 0 ? undefined : { grant: 'canPublish', what: 'a send transport' };
      return grants.canSubscribe ? undefined : { grant: 'canSubscribe' };
    }
    case 'subscribe':
      return grants.canSubscribe ? undefined : { grant: 'canSubscribe' };
    case 'raiseHand':
      return grants.canRaiseHand ? undefined : { grant: 'canRaiseHand' };
    case 'roomAdmin':
      return grants.roomAdmin ? undefined : { grant: 'roomAdmin' };
    case 'plainTransport':
      return grants.plainTransport ? undefined : { grant: 'plainTransport' };
  }
}
