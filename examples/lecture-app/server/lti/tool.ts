// The LTI 1.3 tool's routes (IMS LTI 1.3 core + OIDC third-party login):
//
//   GET|POST /lti/login    the platform starts a launch: a state (bound to this
//                          browser by a short-lived HttpOnly cookie) and a nonce
//                          (kept here, single use) go with the browser to the
//                          platform's auth endpoint.
//   POST     /lti/launch   the platform's form post (id_token + state): verified,
//                          mapped to a room, a role, an identity and a name, and
//                          answered with a redirect to the lecture page carrying a
//                          one-time code in the URL fragment.
//   POST     /lti/session  the page exchanges that code (once, within a minute)
//                          for the Lectern access token (/api/join's reply shape).
//
// Why a code and not the token in the URL: a URL stays in the browser history
// and can be copied; the token opens the room for its whole lifetime, the code
// is worthless once the page used it (or after a minute). The code sits in the
// fragment, which browsers never send to a server (no request line, no log,
// no Referer), and travels to /lti/session in a POST body. Nothing here logs a
// token, a code or a request body.
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type { ResolvedLtiOptions, LtiPlatform } from './config.js';
import { LtiError, sendLtiError } from './errors.js';
import { IdTokenVerifier } from './id-token.js';
import { displayNameFor, lecternRole, LTI, peerIdFor, roomIdFor } from './claims.js';
import { OneTimeStore } from './one-time-store.js';
import type { JoinReply } from '../join-api.js';
import type { PeerRole } from '@lectern/protocol';

/** Mints the app's access token (join-api's `mintJoin`, bound to the app's secret and TTL). */
export type MintJoin = (who: { roomId: string; peerId: string; role: PeerRole; name: string }) => Promise<JoinReply>;

interface PendingLogin {
  nonce: string;
  issuer: string;
  clientId: string;
}

/** Largest form body accepted (id_tokens with custom claims run to a few KiB). */
const MAX_BODY_BYTES = 64 * 1024;
const COOKIE_PREFIX = 'lectern_lti_';

const random = () => randomBytes(32).toString('base64url');

export class LtiTool {
  readonly #options: ResolvedLtiOptions;
  readonly #toolUrl: URL;
  readonly #verifier: IdTokenVerifier;
  readonly #mint: MintJoin;
  /** state → the login it belongs to. */
  readonly #logins: OneTimeStore<PendingLogin>;
  /** nonce → the state of the login that issued it (tells a mixed-up state from a forged nonce). */
  readonly #issuedNonces: OneTimeStore<string>;
  /** nonces of id_tokens already presented with a valid signature. */
  readonly #usedNonces: OneTimeStore<true>;
  /** handover code → the access token's reply. */
  readonly #codes: OneTimeStore<JoinReply>;

  constructor(options: ResolvedLtiOptions, appUrl: string, mint: MintJoin) {
    this.#options = options;
    this.#toolUrl = new URL(options.toolUrl ?? appUrl);
    this.#verifier = new IdTokenVerifier(options);
    this.#mint = mint;
    this.#logins = new OneTimeStore(options.maxPending);
    this.#issuedNonces = new OneTimeStore(options.maxPending);
    this.#usedNonces = new OneTimeStore(options.maxPending * 10);
    this.#codes = new OneTimeStore(options.maxPending);
  }

  /** `<toolUrl>/lti/launch`: the redirect_uri to register with every platform. */
  get launchUrl(): string {
    return new URL('/lti/launch', this.#toolUrl).href;
  }

  /** Answers an `/lti/…` request; false for a path that is not the tool's (the app answers 404). */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, url: URL): Promise<boolean> {
    const route = pathname === '/lti/login' ? 'login' : pathname === '/lti/launch' ? 'launch' : pathname === '/lti/session' ? 'session' : undefined;
    if (!route) return false;
    let stateCookie: string | undefined;
    try {
      if (route === 'login') {
        if (req.method !== 'GET' && req.method !== 'POST') throw new LtiError('method_not_allowed', 'use GET or POST');
        await this.#login(res, req.method === 'POST' ? await readForm(req) : url.searchParams);
      } else {
        if (req.method !== 'POST') throw new LtiError('method_not_allowed', 'use POST');
        const form = await readForm(req);
        if (route === 'launch') {
          const state = form.get('state') ?? undefined;
          if (state) stateCookie = COOKIE_PREFIX + state;
          await this.#launch(req, res, form, state);
        } else {
          this.#session(res, form);
        }
      }
    } catch (error) {
      if (!(error instanceof LtiError)) throw error;
      // The state cookie is single use whatever became of the launch.
      const headers: Record<string, string> = error.code === 'method_not_allowed' ? { Allow: route === 'login' ? 'GET, POST' : 'POST' } : {};
      if (stateCookie && validCookieName(stateCookie)) headers['Set-Cookie'] = this.#cookie(stateCookie, '', 0);
      sendLtiError(req, res, error, headers);
    }
    return true;
  }

  async #login(res: http.ServerResponse, params: URLSearchParams): Promise<void> {
    const issuer = params.get('iss');
    const loginHint = params.get('login_hint');
    const targetLinkUri = params.get('target_link_uri');
    if (!issuer || !loginHint || !targetLinkUri) throw new LtiError('invalid_request', 'iss, login_hint and target_link_uri are required');
    const clientId = params.get('client_id');
    const platform = this.#verifier.platformFor(issuer, clientId ? [clientId] : []);
    if (!platform) throw new LtiError('unknown_platform', 'this tool is not registered with that platform (issuer and client id)');
    const deploymentId = params.get('lti_deployment_id');
    if (deploymentId !== null && !platform.deploymentIds.includes(deploymentId)) {
      throw new LtiError('unknown_deployment', 'this deployment of the tool is not registered');
    }
    this.#checkTarget(targetLinkUri);
    const state = random();
    const nonce = random();
    this.#logins.put(state, { nonce, issuer: platform.issuer, clientId: platform.clientId }, this.#options.loginTtlSeconds * 1000);
    this.#issuedNonces.put(nonce, state, this.#options.loginTtlSeconds * 1000);
    const auth = new URL(platform.authLoginUrl);
    const query: Record<string, string> = {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      prompt: 'none',
      client_id: platform.clientId,
      redirect_uri: this.launchUrl,
      login_hint: loginHint,
      state,
      nonce,
    };
    const messageHint = params.get('lti_message_hint');
    if (messageHint !== null) query.lti_message_hint = messageHint;
    for (const [key, value] of Object.entries(query)) auth.searchParams.set(key, value);
    res.writeHead(302, {
      Location: auth.href,
      'Cache-Control': 'no-store',
      'Set-Cookie': this.#cookie(COOKIE_PREFIX + state, '1', this.#options.loginTtlSeconds),
    }).end();
  }

  async #launch(req: http.IncomingMessage, res: http.ServerResponse, form: URLSearchParams, state: string | undefined): Promise<void> {
    const idToken = form.get('id_token');
    if (!idToken) {
      const error = form.get('error');
      if (error) throw new LtiError('platform_error', `the platform refused the launch: ${error.replace(/[^\w.-]/g, '').slice(0, 64)}`);
      throw new LtiError('invalid_request', 'id_token is required');
    }
    if (!state) throw new LtiError('invalid_state', 'the launch has no state');
    const { platform, claims } = await this.#verifier.verify(idToken);

    // The nonce first: a verified token is single use, whatever else is wrong with the request.
    const nonce = claims.nonce;
    if (typeof nonce !== 'string' || nonce.length === 0) throw new LtiError('invalid_nonce', 'the id_token has no nonce');
    if (this.#usedNonces.has(nonce)) throw new LtiError('replayed', 'this launch was already used');
    this.#usedNonces.put(nonce, true, (this.#options.loginTtlSeconds + this.#options.clockToleranceSeconds) * 1000);

    const login = this.#logins.take(state);
    const issuedWith = this.#issuedNonces.take(nonce);
    if (!login) throw new LtiError('invalid_state', 'the launch state is unknown or expired: start again from the course page');
    if (!cookies(req).has(COOKIE_PREFIX + state)) throw new LtiError('invalid_state', 'the launch state was not issued to this browser');
    if (login.issuer !== platform.issuer || login.clientId !== platform.clientId) {
      throw new LtiError('wrong_issuer', 'the id_token comes from another platform than the login');
    }
    if (login.nonce !== nonce) {
      // A nonce this tool issued, posted with another login's state, is a mixed-up (or swapped) state; any other is forged.
      throw issuedWith !== undefined ? new LtiError('invalid_state', 'the state belongs to another launch')
        : new LtiError('invalid_nonce', 'the id_token carries a nonce this tool did not issue');
    }

    const who = this.#lectureFor(platform, claims);
    const reply = await this.#mint(who);
    const code = random();
    this.#codes.put(code, reply, this.#options.handoverTtlSeconds * 1000);
    res.writeHead(303, {
      Location: `/?${new URLSearchParams({ room: reply.roomId })}#${new URLSearchParams({ lti: code })}`,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'Set-Cookie': this.#cookie(COOKIE_PREFIX + state, '', 0),
    }).end();
  }

  /** The LTI claims of a resource link launch, checked, as who joins which room with what role. */
  #lectureFor(platform: LtiPlatform, claims: Record<string, unknown>): { roomId: string; peerId: string; role: PeerRole; name: string } {
    const deploymentId = claims[LTI.deploymentId];
    if (typeof deploymentId !== 'string' || !platform.deploymentIds.includes(deploymentId)) {
      throw new LtiError('unknown_deployment', 'this deployment of the tool is not registered');
    }
    if (claims[LTI.messageType] !== 'LtiResourceLinkRequest') throw new LtiError('wrong_message_type', 'only resource link launches (LtiResourceLinkRequest) open a lecture');
    if (claims[LTI.version] !== '1.3.0') throw new LtiError('wrong_version', 'only LTI 1.3.0 launches are accepted');
    const target = claims[LTI.targetLinkUri];
    if (typeof target !== 'string') throw new LtiError('invalid_claims', 'the launch has no target_link_uri');
    this.#checkTarget(target);
    const link = claims[LTI.resourceLink];
    const linkId = isRecord(link) ? link.id : undefined;
    if (typeof linkId !== 'string' || linkId.length === 0) throw new LtiError('invalid_claims', 'the launch has no resource link id');
    const roles = claims[LTI.roles];
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new LtiError('invalid_claims', 'the roles claim must be an array of strings');
    const context = claims[LTI.context];
    let contextId: string | undefined;
    if (context !== undefined) {
      if (!isRecord(context) || typeof context.id !== 'string' || context.id.length === 0) throw new LtiError('invalid_claims', 'the context claim has no id');
      contextId = context.id;
    }
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0) throw new LtiError('invalid_claims', 'anonymous launches (no sub) cannot join a lecture');
    return {
      roomId: roomIdFor({ issuer: platform.issuer, deploymentId, contextId, resourceLinkId: linkId }, this.#options.roomPer),
      peerId: peerIdFor(platform.issuer, sub),
      role: lecternRole(roles),
      name: displayNameFor(claims),
    };
  }

  #session(res: http.ServerResponse, form: URLSearchParams): void {
    const code = form.get('code');
    const reply = code ? this.#codes.take(code) : undefined;
    if (!reply) throw new LtiError('invalid_code', 'the launch code is unknown, used or expired: open the lecture again from the course page');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(reply));
  }

  /** target_link_uri must be this tool (an id_token meant for another tool of the platform is not ours to act on). */
  #checkTarget(target: string): void {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new LtiError('wrong_target_link_uri', 'target_link_uri is not a URL');
    }
    if (url.origin !== this.#toolUrl.origin) throw new LtiError('wrong_target_link_uri', 'target_link_uri is not this tool');
  }

  /**
   * The state cookie: HttpOnly, only sent to /lti/, gone after the login's
   * lifetime. SameSite=None because the launch is a cross-site form post from
   * the platform (Lax would leave the cookie behind); Secure, which browsers
   * require with SameSite=None, when the tool is served over https or on a
   * loopback host (browsers treat http://127.0.0.1 and localhost as secure and
   * keep Secure cookies from them: the demo works in Chromium). On plain http
   * elsewhere a browser drops the cookie: real launches need https.
   */
  #cookie(name: string, value: string, maxAgeSeconds: number): string {
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(this.#toolUrl.hostname);
    const secure = this.#toolUrl.protocol === 'https:' || loopback ? '; Secure' : '';
    return `${name}=${value}; Path=/lti/; Max-Age=${Math.floor(maxAgeSeconds)}; HttpOnly; SameSite=None${secure}`;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A cookie name is an HTTP token; a state from a form could hold anything, and a header must not. */
function validCookieName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,200}$/.test(name);
}

/** The names of the request's cookies. */
function cookies(req: http.IncomingMessage): Set<string> {
  const names = new Set<string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) names.add(part.slice(0, eq).trim());
  }
  return names;
}

/**
 * An `application/x-www-form-urlencoded` body, at most MAX_BODY_BYTES. Read by
 * events, not `for await`: leaving that loop early destroys the socket, and the
 * client should get its 413. A larger body is drained and dropped (the
 * server's request timeout bounds how long that may take).
 */
function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const refusal = type !== 'application/x-www-form-urlencoded' ? new LtiError('unsupported_media_type', 'send the form as application/x-www-form-urlencoded')
    : Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES ? new LtiError('payload_too_large', `the form is larger than ${MAX_BODY_BYTES} bytes`) : undefined;
  return new Promise((resolve, reject) => {
    if (refusal) {
      req.resume();
      reject(refusal);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.once('end', () => {
      if (size > MAX_BODY_BYTES) reject(new LtiError('payload_too_large', `the form is larger than ${MAX_BODY_BYTES} bytes`));
      else resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    });
    req.once('error', reject); // an aborted request: the app's error path drops the connection
  });
}
