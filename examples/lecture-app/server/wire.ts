// The example's signaling wire: what a browser sends and what it gets back,
// and the shape check every incoming message passes before anything acts on it.
import type { LecternErrorJSON } from '@lectern/server-sdk';

/** A request id as the client chose it (echoed in the reply). */
export type RequestId = number | string;

/** What a browser sends: one request. */
export interface ClientMessage {
  id: RequestId;
  method: string;
  data?: unknown;
}

/** What the server sends back: a reply to one request, or a notification. */
export type ServerMessage =
  | { id: RequestId | null; data: unknown }
  | { id: RequestId | null; error: LecternErrorJSON }
  | { notification: string; data: unknown };

/** The shape limits a message is checked against (a subset of `SignalingLimits`). */
export interface MessageShapeLimits {
  maxIdLength: number;
  maxMethodLength: number;
  maxJsonDepth: number;
}

export type ParsedMessage =
  | { ok: true; message: ClientMessage }
  /** `id` is the message's id when it had a valid one, so the client can match the error. */
  | { ok: false; id: RequestId | null; reason: string };

/**
 * Parses and checks one text message: JSON no deeper than `maxJsonDepth`, an
 * object with an `id` (a safe integer, or a string of 1..maxIdLength) and a
 * `method` (1..maxMethodLength characters). `data` is left to the method's own
 * schema. The size was bounded before (ws `maxPayload`).
 */
export function parseClientMessage(text: string, limits: MessageShapeLimits): ParsedMessage {
  // Checked on the text, before JSON.parse builds anything.
  if (jsonNestingExceeds(text, limits.maxJsonDepth)) {
    return { ok: false, id: null, reason: `JSON nested deeper than ${limits.maxJsonDepth} levels` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, id: null, reason: 'not JSON; expected {id, method, data}' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: null, reason: 'expected a JSON object {id, method, data}' };
  }
  const { id, method, data } = value as Record<string, unknown>;
  const validId = isValidId(id, limits.maxIdLength) ? id : null;
  if (validId === null) {
    return { ok: false, id: null, reason: `id must be a safe integer or a string of 1-${limits.maxIdLength} characters` };
  }
  if (typeof method !== 'string' || method.length === 0 || method.length > limits.maxMethodLength) {
    return { ok: false, id: validId, reason: `method must be a string of 1-${limits.maxMethodLength} characters` };
  }
  return { ok: true, message: data === undefined ? { id: validId, method } : { id: validId, method, data } };
}

function isValidId(id: unknown, maxIdLength: number): id is RequestId {
  return Number.isSafeInteger(id) || (typeof id === 'string' && id.length > 0 && id.length <= maxIdLength);
}

/** Whether arrays/objects in a JSON text nest deeper than `maxDepth` (brackets inside strings do not count). */
export function jsonNestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i++; // the escaped character cannot end the string
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x7b /* { */ || char === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
