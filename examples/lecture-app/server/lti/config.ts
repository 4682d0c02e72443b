// The LTI 1.3 tool's configuration: the platforms (LMSs) registered with this
// tool and the lifetimes of what a launch leaves behind. Checked once, when the
// app starts: a bad registration is a start-up error, never a failed launch.

/** One platform registration (what the LMS's admin and the tool's admin exchanged). */
export interface LtiPlatform {
  /** The platform's issuer (`iss` of its id_tokens), e.g. `https://canvas.instructure.com`. */
  issuer: string;
  /** The client id the platform gave this tool (the id_token's `aud`). */
  clientId: string;
  /** The deployment ids of this tool on that platform; a launch from any other is refused. */
  deploymentIds: readonly string[];
  /** The platform's OIDC authorization endpoint (where `/lti/login` redirects the browser). */
  authLoginUrl: string;
  /** The platform's JWKS URL (the public keys its id_tokens are signed with). */
  jwksUrl: string;
}

/** `LectureAppOptions.lti`: enables `/lti/login`, `/lti/launch` and `/lti/session`. */
export interface LtiOptions {
  platforms: readonly LtiPlatform[];
  /**
   * This tool's public base URL as the platforms know it (`redirect_uri` is
   * `<toolUrl>/lti/launch`, and `target_link_uri` must be on this origin).
   * Default: the app's own URL. Behind a proxy, set it: the Host header is not trusted.
   * An origin (`https://lectern.example.edu`): the app serves everything at the root.
   */
  toolUrl?: string;
  /** One room per course (`context`, default) or per resource link inside the course (`resource-link`). */
  roomPer?: 'context' | 'resource-link';
  /** How long a login's state and nonce wait for the launch, in seconds. Default 300. */
  loginTtlSeconds?: number;
  /** How long the one-time code the page exchanges for its access token lives, in seconds. Default 60. */
  handoverTtlSeconds?: number;
  /** Clock skew allowed for the id_token's `exp`, `iat` and `nbf`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** No JWKS refetch for an unknown `kid` within this many ms of the last fetch (jose's cooldown). Default 30 000. */
  jwksCooldownMs?: number;
  /** A fetched JWKS is used for this many ms before it is fetched again. Default 600 000. */
  jwksCacheMaxAgeMs?: number;
  /** Pending logins (and handover codes) kept at most; the oldest go first. Default 10 000. */
  maxPending?: number;
}

/** The options with defaults applied and checked. */
export interface ResolvedLtiOptions {
  platforms: readonly LtiPlatform[];
  toolUrl: string | undefined;
  roomPer: 'context' | 'resource-link';
  loginTtlSeconds: number;
  handoverTtlSeconds: number;
  clockToleranceSeconds: number;
  jwksCooldownMs: number;
  jwksCacheMaxAgeMs: number;
  maxPending: number;
}

function httpUrl(value: string, what: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`lti: ${what} is not a URL (${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`lti: ${what} must be http(s) (${value})`);
}

function positive(value: number | undefined, fallback: number, what: string, allowZero = false): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`lti: ${what} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${v})`);
  return v;
}

/** Applies the defaults; throws (at start-up) for a registration the tool could not serve. */
export function resolveLtiOptions(options: LtiOptions): ResolvedLtiOptions {
  if (options.platforms.length === 0) throw new Error('lti: at least one platform must be registered');
  const seen = new Set<string>();
  for (const p of options.platforms) {
    if (!p.issuer || !p.clientId) throw new Error('lti: every platform needs an issuer and a client id');
    const key = `${p.issuer}\n${p.clientId}`;
    if (seen.has(key)) throw new Error(`lti: platform ${p.issuer} with client id ${p.clientId} is registered twice`);
    seen.add(key);
    if (p.deploymentIds.length === 0 || p.deploymentIds.some((d) => typeof d !== 'string' || d.length === 0)) {
      throw new Error(`lti: platform ${p.issuer} needs at least one (non-empty) deployment id`);
    }
    httpUrl(p.authLoginUrl, `authLoginUrl of ${p.issuer}`);
    httpUrl(p.jwksUrl, `jwksUrl of ${p.issuer}`);
  }
  if (options.toolUrl !== undefined) {
    httpUrl(options.toolUrl, 'toolUrl');
    // The app serves its page and routes at the root of its origin; a path prefix would misplace redirect_uri.
    const { pathname, search, hash } = new URL(options.toolUrl);
    if (pathname !== '/' || search || hash) throw new Error(`lti: toolUrl must be an origin without a path (got ${options.toolUrl})`);
  }
  if (options.roomPer !== undefined && options.roomPer !== 'context' && options.roomPer !== 'resource-link') {
    throw new Error(`lti: roomPer must be 'context' or 'resource-link' (got ${String(options.roomPer)})`);
  }
  return {
    platforms: options.platforms.map((p) => ({ ...p, deploymentIds: [...p.deploymentIds] })),
    toolUrl: options.toolUrl?.replace(/\/+$/, ''),
    roomPer: options.roomPer ?? 'context',
    loginTtlSeconds: positive(options.loginTtlSeconds, 300, 'loginTtlSeconds'),
    handoverTtlSeconds: positive(options.handoverTtlSeconds, 60, 'handoverTtlSeconds'),
    clockToleranceSeconds: positive(options.clockToleranceSeconds, 5, 'clockToleranceSeconds', true),
    jwksCooldownMs: positive(options.jwksCooldownMs, 30_000, 'jwksCooldownMs', true),
    jwksCacheMaxAgeMs: positive(options.jwksCacheMaxAgeMs, 600_000, 'jwksCacheMaxAgeMs'),
    maxPending: Math.floor(positive(options.maxPending, 10_000, 'maxPending')),
  };
}
