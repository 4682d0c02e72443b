// A stand-in LTI 1.3 platform (a real LMS cannot run here): a node:http server
// with its own RSA keys that serves its JWKS and an OIDC auth endpoint. The
// auth endpoint checks the tool's authentication request as a platform would
// (scope, response type and mode, prompt, client id, registered redirect URI,
// a known login hint) and answers with the auto-submitting form that carries
// a real RS256 id_token and the state to the tool. Tests shape each launch
// (claims, signing key, header, tampering) through `LaunchSpec`.
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const CLAIM = {
  messageType: 'https://purl.imsglobal.org/spec/lti/claim/message_type',
  version: 'https://purl.imsglobal.org/spec/lti/claim/version',
  deploymentId: 'https://purl.imsglobal.org/spec/lti/claim/deployment_id',
  targetLinkUri: 'https://purl.imsglobal.org/spec/lti/claim/target_link_uri',
  resourceLink: 'https://purl.imsglobal.org/spec/lti/claim/resource_link',
  roles: 'https://purl.imsglobal.org/spec/lti/claim/roles',
  context: 'https://purl.imsglobal.org/spec/lti/claim/context',
} as const;

export const ROLE = {
  instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
  teachingAssistant: 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant',
  institutionStudent: 'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student',
} as const;

export interface PlatformKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newPlatformKey(kid = randomUUID()): Promise<PlatformKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** One user's launch: who, from which course and link, and how the test bends it. */
export interface LaunchSpec {
  sub: string;
  name?: string;
  roles: string[];
  contextId?: string;
  resourceLinkId?: string;
  /** Changes the claims just before signing (wrong aud, expired, other message type…). */
  claims?: (claims: JWTPayload & Record<string, unknown>) => void;
  /** Signs with this key instead of the platform's current one. */
  signWith?: PlatformKey;
  /** Changes the signed token (a tampered payload…). */
  tamper?: (jwt: string) => string;
}

export class PlatformSimulator {
  readonly clientId = 'lectern-tool';
  readonly deploymentId = 'deployment-1';
  /** Every authentication request the tool sent the browser here with. */
  readonly authRequests: URLSearchParams[] = [];
  jwksFetches = 0;
  /** Answer the JWKS with 503 (a platform having a bad day). */
  jwksDown = false;
  signingKey: PlatformKey;
  /** The keys the JWKS publishes. */
  published: PlatformKey[];
  /** The tool as registered here: its redirect (launch) URI and the link target. */
  tool: { redirectUri: string; targetLinkUri: string } | undefined;
  readonly #launches = new Map<string, LaunchSpec>();

  private constructor(private readonly server: http.Server, readonly url: string, key: PlatformKey) {
    this.signingKey = key;
    this.published = [key];
  }

  static async start(): Promise<PlatformSimulator> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const platform = new PlatformSimulator(server, url, await newPlatformKey());
    server.on('request', (req, res) => {
      platform.#serve(req, res).catch((error: unknown) => res.writeHead(500).end(String(error)));
    });
    return platform;
  }

  get issuer(): string {
    return this.url;
  }
  get authLoginUrl(): string {
    return `${this.url}/auth`;
  }
  get jwksUrl(): string {
    return `${this.url}/jwks`;
  }

  /** The registration the tool needs (LtiPlatform). */
  get registration() {
    return { issuer: this.issuer, clientId: this.clientId, deploymentIds: [this.deploymentId], authLoginUrl: this.authLoginUrl, jwksUrl: this.jwksUrl };
  }

  /** Registers a launch; its login hint starts it. */
  prepare(spec: LaunchSpec): string {
    const hint = `hint-${randomUUID()}`;
    this.#launches.set(hint, spec);
    return hint;
  }

  /** A new signing key, published next to the old ones (how platforms rotate). */
  async rotate(): Promise<PlatformKey> {
    this.signingKey = await newPlatformKey();
    this.published = [...this.published, this.signingKey];
    return this.signingKey;
  }

  /** The id_token of `spec` for a login's nonce, signed as the platform (or as `spec` says). */
  async idToken(spec: LaunchSpec, nonce: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: JWTPayload & Record<string, unknown> = {
      iss: this.issuer,
      aud: this.clientId,
      sub: spec.sub,
      iat: now,
      exp: now + 300,
      nonce,
      ...(spec.name !== undefined ? { name: spec.name } : {}),
      [CLAIM.deploymentId]: this.deploymentId,
      [CLAIM.messageType]: 'LtiResourceLinkRequest',
      [CLAIM.version]: '1.3.0',
      [CLAIM.targetLinkUri]: this.tool?.targetLinkUri,
      [CLAIM.resourceLink]: { id: spec.resourceLinkId ?? 'link-1', title: 'Lecture' },
      [CLAIM.roles]: spec.roles,
      ...(spec.contextId !== undefined ? { [CLAIM.context]: { id: spec.contextId, label: 'BIO 101', title: 'Biology' } } : {}),
    };
    spec.claims?.(claims);
    const key = spec.signWith ?? this.signingKey;
    const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
    return spec.tamper ? spec.tamper(jwt) : jwt;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/jwks') {
      this.jwksFetches++;
      if (this.jwksDown) return void res.writeHead(503).end();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: this.published.map((k) => k.publicJwk) }));
      return;
    }
    if (url.pathname !== '/auth') return void res.writeHead(404).end();
    const q = url.searchParams;
    this.authRequests.push(q);
    // What a platform checks before it issues an id_token (LTI 1.3 core 5.1.1.2, OIDC core 3.2.2).
    const problems = [
      q.get('scope') !== 'openid' && 'scope',
      q.get('response_type') !== 'id_token' && 'response_type',
      q.get('response_mode') !== 'form_post' && 'response_mode',
      q.get('prompt') !== 'none' && 'prompt',
      q.get('client_id') !== this.clientId && 'client_id',
      (!this.tool || q.get('redirect_uri') !== this.tool.redirectUri) && 'redirect_uri',
      !q.get('nonce') && 'nonce',
      !q.get('state') && 'state',
    ].filter((p): p is string => typeof p === 'string');
    const spec = this.#launches.get(q.get('login_hint') ?? '');
    if (!spec) problems.push('login_hint');
    if (problems.length > 0 || !spec) return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`bad authentication request: ${problems.join(', ')}`);
    const idToken = await this.idToken(spec, q.get('nonce')!);
    const field = (name: string, value: string) => `<input type="hidden" name="${name}" value="${value.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">`;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><form method="post" action="${q.get('redirect_uri')!}">${field('id_token', idToken)}${field('state', q.get('state')!)}</form><script>document.forms[0].submit()</script>`,
    );
  }
}

/**
 * A browser without the page: fetch with manual redirects and a cookie jar
 * (name, value and path per origin; Max-Age=0 deletes), enough for the OIDC
 * dance. Records every Set-Cookie it saw, to check the attributes.
 */
export class CookieBrowser {
  readonly #jar = new Map<string, Map<string, { value: string; path: string }>>();
  readonly setCookies: string[] = [];

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const jar = this.#jar.get(target.origin);
    const cookie = jar ? [...jar].filter(([, c]) => target.pathname.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ') : '';
    const headers = new Headers(init.headers);
    if (cookie) headers.set('Cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key.toLowerCase()}=`))?.split('=')[1];
      const cookies = this.#jar.get(target.origin) ?? new Map<string, { value: string; path: string }>();
      this.#jar.set(target.origin, cookies);
      if (attr('Max-Age') === '0') cookies.delete(name);
      else cookies.set(name, { value: pair!.slice(eq + 1), path: attr('Path') ?? '/' });
    }
    return response;
  }

  /** A form post, as the platform's auto-submitting form makes the browser do. */
  postForm(url: string, fields: Record<string, string>, accept = 'application/json'): Promise<Response> {
    return this.fetch(url, { method: 'POST', body: new URLSearchParams(fields), headers: { Accept: accept } });
  }

  cookieNames(origin: string): string[] {
    return [...(this.#jar.get(origin)?.keys() ?? [])];
  }
}

/** The action and hidden fields of the platform's auto-submitting form. */
export function parseAutoPostForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form in: ${html.slice(0, 200)}`);
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return { action, fields };
}
