/**
 * Signed webhooks for hosts whose backend lives in another process or language:
 * {@link WebhookSender} on the media server, {@link verifyWebhook} on the
 * receiver. Also the entry point `@lectern/server-sdk/webhooks`, which loads
 * neither mediasoup nor the rooms (a receiver needs only this).
 * @packageDocumentation
 */
export {
  WebhookSender,
  type WebhookSenderOptions,
  type WebhookSenderEvents,
  type WebhookSenderStats,
  type WebhookDropPolicy,
  type WebhookDropReason,
  type WebhookRoomSource,
  type WebhookTranscriptionSource,
} from './sender.js';
export {
  verifyWebhook,
  signWebhook,
  generateWebhookSecret,
  webhookSecretKey,
  WEBHOOK_HEADERS,
  type WebhookSecret,
  type WebhookHeaders,
  type WebhookRejection,
  type VerifyWebhookOptions,
} from './signature.js';
export { WEBHOOK_EVENT_TYPES, type WebhookEventMap, type WebhookEventType, type WebhookEnvelope, type WebhookEvent } from './events.js';
