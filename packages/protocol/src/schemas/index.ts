/**
 * `@lectern/protocol/schemas` — the zod schemas of every request, for the server
 * (which parses each request with them before it touches mediasoup) and for any
 * client that wants to validate before sending. The browser bundle of the client
 * SDK does not import this entry point, so it carries no validator.
 * @packageDocumentation
 */
export { idSchema, appDataSchema, peerRoleSchema, mediaSourceSchema, gestureNameSchema, gesturePhaseSchema, mediaKindSchema, peerGrantsSchema } from './common.js';
export { rtpCapabilitiesSchema, rtpParametersSchema, dtlsParametersSchema } from './rtp.js';
export { requestSchemas, hostRequestSchemas, allRequestSchemas, plainSrtpCryptoSuiteSchema } from './requests.js';
