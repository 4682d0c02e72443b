/**
 * @lectern/server-sdk — live lectures over mediasoup.
 *
 * This is the package's whole public API; anything not exported here is internal.
 * @packageDocumentation
 */
export { DEFAULT_MEDIA_CODECS } from './media/codecs.js';
export { SUPPORTED_MEDIASOUP_RANGE, isSupportedMediasoupVersion } from './media/mediasoup-version.js';
