// Every way an LTI request can fail, as a stable code and an HTTP status. A
// launch is a browser page (the platform's form post), so the refusal is an
// HTML page unless the client asked for JSON; both carry the same code.
import type * as http from 'node:http';

export type LtiErrorCode =
  | 'invalid_request'      // a required parameter is missing or malformed
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'unknown_platform'     // no registration for this issuer (and client id)
  | 'unknown_deployment'   // the deployment id is not registered for the platform
  | 'wrong_target_link_uri' // target_link_uri is not this tool's
  | 'platform_error'       // the platform answered the login with an OIDC error instead of an id_token
  | 'malformed_token'      // not a JWT
  | 'bad_signature'        // signature does not verify (tampered, or another key)
  | 'unknown_key'          // no key with that kid, even after refetching the JWKS
  | 'algorithm_not_allowed' // not RS256
  | 'jwks_unavailable'     // the platform's JWKS could not be fetched (502: the platform's fault)
  | 'expired'              // exp (or iat older than a login lives) past, beyond the clock tolerance
  | 'not_yet_valid'        // iat or nbf in the future, beyond the clock tolerance
  | 'wrong_issuer'         // the token's issuer is not the platform the login was for
  | 'wrong_audience'       // aud does not name this tool's client id (or azp does not)
  | 'invalid_nonce'        // missing, or not the one this login issued
  | 'replayed'             // this id_token (its nonce) was already used
  | 'invalid_state'        // missing, unknown, expired, or not this browser's (no matching cookie)
  | 'wrong_message_type'   // not LtiResourceLinkRequest
  | 'wrong_version'        // not 1.3.0
  | 'invalid_claims'       // a required LTI claim is missing or malformed
  | 'invalid_code';        // the one-time handover code is unknown, used or expired

const STATUS: Record<LtiErrorCode, number> = {
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  unknown_platform: 400,
  unknown_deployment: 403,
  wrong_target_link_uri: 400,
  platform_error: 400,
  malformed_token: 400,
  bad_signature: 401,
  unknown_key: 401,
  algorithm_not_allowed: 401,
  jwks_unavailable: 502,
  expired: 401,
  not_yet_valid: 401,
  wrong_issuer: 401,
  wrong_audience: 401,
  invalid_nonce: 401,
  replayed: 401,
  invalid_state: 401,
  wrong_message_type: 400,
  wrong_version: 400,
  invalid_claims: 400,
  invalid_code: 401,
};

/** A refused LTI request. `message` is for people; `code` is what programs match on. */
export class LtiError extends Error {
  readonly status: number;
  constructor(readonly code: LtiErrorCode, message: string) {
    super(message);
    this.name = 'LtiError';
    this.status = STATUS[code];
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Whether the client prefers JSON to HTML (fetch from the page or a test; a browser navigation asks for HTML). */
function wantsJson(req: http.IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

/** Sends the refusal: `{ error: { code, message } }` or a small HTML page naming the code. */
export function sendLtiError(req: http.IncomingMessage, res: http.ServerResponse, error: LtiError, extraHeaders: Record<string, string | string[]> = {}): void {
  const headers = { 'Cache-Control': 'no-store', 'X-Lti-Error': error.code, ...extraHeaders };
  if (wantsJson(req)) {
    res.writeHead(error.status, { ...headers, 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: error.code, message: error.message } }));
    return;
  }
  const page = `<!doctype html><meta charset="utf-8"><title>Launch refused</title>
<h1>This lecture could not be opened</h1>
<p>${escapeHtml(error.message)}</p>
<p>Error code: <code id="lti-error">${escapeHtml(error.code)}</code>. Open the lecture again from your course page.</p>
`;
  res.writeHead(error.status, { ...headers, 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "default-src 'none'" }).end(page);
}
