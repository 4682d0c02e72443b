import type { z } from 'zod';
import type { allRequestSchemas, hostRequestSchemas, requestSchemas } from './schemas/requests.js';

/** A method of the client request API (what the client SDK sends). */
export type ClientRequestMethod = keyof typeof requestSchemas;
/** A host-enabled method: plain RTP transports for server-side peers (off unless the host enables them). */
export type HostRequestMethod = keyof typeof hostRequestSchemas;
/** Every method the server's request API dispatches on. */
export type RequestMethod = ClientRequestMethod | HostRequestMethod;

/**
 * Request payloads, by method: what a client sends. These are the input types of
 * the server's request schemas (`@lectern/protocol/schemas`), so a payload the
 * client can build is one the server's schema was written for.
 */
export type RequestMap = { [M in RequestMethod]: z.input<(typeof allRequestSchemas)[M]> };

/** A request payload after the server parsed it (what the server's handlers receive). */
export type ParsedRequest<M extends RequestMethod> = z.output<(typeof allRequestSchemas)[M]>;

/** The media request methods (the core of the API). */
export const mediaRequestMethods = [
  'getRouterRtpCapabilities',
  'join',
  'createWebRtcTransport',
  'connectTransport',
  'restartIce',
  'produce',
  'closeProducer',
  'pauseProducer',
  'resumeProducer',
  'consume',
  'pauseConsumer',
  'resumeConsumer',
  'setConsumerPreferredLayers',
  'leave',
] as const satisfies readonly ClientRequestMethod[];

/** The gesture and raised-hand request methods. */
export const gestureRequestMethods = [
  'sendGesture',
  'raiseHand',
  'lowerHand',
  'getHandQueue',
  'dismissHand',
  'clearHandQueue',
] as const satisfies readonly ClientRequestMethod[];

/**
 * The admin API: what a peer with the `roomAdmin` grant (a lecturer, by
 * default) may do to others. Hosts have the same on `RoomManager` (`listPeers`,
 * `removePeer`, `muteProducer`, `closeRoom`).
 */
export const adminRequestMethods = ['listPeers', 'removePeer', 'muteProducer', 'endRoom'] as const satisfies readonly ClientRequestMethod[];

/** Every method a client may send. */
export const requestMethods = [...mediaRequestMethods, ...gestureRequestMethods, ...adminRequestMethods] as const;

/** Methods the server serves only when the host enables them (off by default); never forward them from untrusted clients. */
export const hostRequestMethods = ['createPlainTransport', 'connectPlainTransport'] as const satisfies readonly HostRequestMethod[];

// Compile-time: the lists above name every method of the schemas, no more.
type Unlisted = Exclude<ClientRequestMethod, (typeof requestMethods)[number]> | Exclude<HostRequestMethod, (typeof hostRequestMethods)[number]>;
const everyMethodListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyMethodListed;
