/**
 * Webhook signatures, [Standard Webhooks](https://www.standardwebhooks.com/)
 * style: three headers, `webhook-id`, `webhook-timestamp` (Unix seconds) and
 * `webhook-signature` (`v1,<base64 HMAC-SHA256>` over `${id}.${timestamp}.${body}`,
 * space-separated when there are several), with a secret written
 * `whsec_<base64 bytes>`. Any Standard Webhooks library (Python, Go, PHP, …)
 * verifies what {@link WebhookSender} sends; {@link verifyWebhook} is the same
 * check for a Node host. This module needs only `node:crypto`, so a receiver can
 * import `@lectern/server-sdk/webhooks` without mediasoup.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, LecternError } from '../errors.js';
import type { WebhookEvent } from './events.js';

/** A signing secret: `whsec_` + base64 of 24–64 random bytes ({@link generateWebhookSecret}), or the raw bytes. */
export type WebhookSecret = string | Uint8Array;

/** The header names of the Standard Webhooks spec. */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

const SECRET_PREFIX = 'whsec_';
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

/** A new random secret (32 bytes), in the `whsec_…` form both sides configure. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The key bytes of a secret; INVALID_CONFIG for anything else than `whsec_<base64>` or 24–64 bytes. */
export function webhookSecretKey(secret: WebhookSecret): Buffer {
  let key: Buffer;
  if (typeof secret === 'string') {
    if (!secret.startsWith(SECRET_PREFIX)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'a webhook secret is "whsec_" + base64 bytes (generateWebhookSecret()) or a Uint8Array');
    }
    const b64 = secret.slice(SECRET_PREFIX.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'a webhook secret after "whsec_" must be base64');
    }
    key = Buffer.from(b64, 'base64');
  } else {
    key = Buffer.from(secret);
  }
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, `a webhook secret must be ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes (got ${key.length})`);
  }
  return key;
}

/** `v1,<base64 HMAC-SHA256(key, "${id}.${timestamp}.${body}")>`: the `webhook-signature` value for one attempt. */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string | Uint8Array): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** Why {@link verifyWebhook} refused a request (`details.reason` of its UNAUTHORIZED error). */
export type WebhookRejection = 'missing-headers' | 'bad-timestamp' | 'timestamp-out-of-tolerance' | 'bad-signature' | 'malformed-body';

/** Request headers as Node's `IncomingMessage.headers`, a fetch `Headers`, or a plain map. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyWebhookOptions {
  /** How far the timestamp may be from now, either way (replay window). Default 300 s. */
  toleranceSeconds?: number;
  /** The clock, in ms (tests). Default `Date.now`. */
  now?: () => number;
}

/**
 * Checks a webhook request and returns its event. `rawBody` must be the bytes
 * as received (before any JSON parsing). The signature is compared in constant
 * time, every `v1` signature of the header counts (a secret rotation sends
 * two), and a timestamp further than `toleranceSeconds` from now is refused, so
 * a captured request cannot be replayed later; deduplicate on `event.id`
 * (= `webhook-id`, the same on every retry of one event) for retries.
 *
 * Throws `LecternError` UNAUTHORIZED with `details.reason` ({@link WebhookRejection}).
 */
export function verifyWebhook(secret: WebhookSecret, headers: WebhookHeaders, rawBody: string | Uint8Array, options: VerifyWebhookOptions = {}): WebhookEvent {
  const key = webhookSecretKey(secret);
  const id = header(headers, WEBHOOK_HEADERS.id);
  const timestampText = header(headers, WEBHOOK_HEADERS.timestamp);
  const signatures = header(headers, WEBHOOK_HEADERS.signature);
  if (id === undefined || timestampText === undefined || signatures === undefined) {
    throw reject('missing-headers', `missing ${Object.values(WEBHOOK_HEADERS).join(' / ')} headers`);
  }
  if (!/^\d{1,12}$/.test(timestampText)) throw reject('bad-timestamp', 'webhook-timestamp is not Unix seconds');
  const timestamp = Number(timestampText);
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
    throw reject('timestamp-out-of-tolerance', `webhook-timestamp is ${nowSeconds - timestamp} s from now (tolerance ${toleranceSeconds} s)`);
  }
  const expected = Buffer.from(signWebhook(key, id, timestamp, rawBody).slice(3), 'base64');
  let matched = false;
  for (const candidate of signatures.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || value === undefined) continue;
    const given = Buffer.from(value, 'base64');
    // Every candidate is compared (no early exit on a match): the time does not say which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw reject('bad-signature', 'no webhook-signature matches');
  let event: unknown;
  try {
    event = JSON.parse(typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8'));
  } catch {
    throw reject('malformed-body', 'the body is not JSON');
  }
  if (!isEnvelope(event) || event.id !== id) throw reject('malformed-body', 'the body is not a Lectern webhook event for this webhook-id');
  return event as WebhookEvent;
}

function isEnvelope(value: unknown): value is { id: string; type: string; createdAt: string; data: object } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.type === 'string' && typeof v.createdAt === 'string' && typeof v.data === 'object' && v.data !== null;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function' && typeof (headers as Headers).has === 'function') {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : value?.join(' ');
}

function reject(reason: WebhookRejection, message: string): LecternError {
  return new LecternError(ErrorCode.UNAUTHORIZED, `webhook refused: ${message}`, { reason });
}
