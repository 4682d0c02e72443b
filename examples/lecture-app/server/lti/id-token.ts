// Verifies a platform's id_token: the platform (by issuer and audience), the
// RS256 signature against the platform's JWKS (fetched with jose's
// createRemoteJWKSet: cached, refetched once for an unknown kid, which is how
// key rotation works), issuer, audience and azp, exp / iat / nbf with a small
// tolerance. The LTI claims are checked by the caller, after the nonce.
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { LtiPlatform, ResolvedLtiOptions } from './config.js';
import { LtiError } from './errors.js';

export interface VerifiedIdToken {
  platform: LtiPlatform;
  claims: JWTPayload & Record<string, unknown>;
}

export class IdTokenVerifier {
  readonly #jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  constructor(private readonly options: ResolvedLtiOptions) {}

  /** The registration a token (or a login) names: by issuer, and by client id when the issuer has several. */
  platformFor(issuer: unknown, clientIds: readonly string[]): LtiPlatform | undefined {
    const candidates = this.options.platforms.filter((p) => p.issuer === issuer);
    return candidates.find((p) => clientIds.includes(p.clientId)) ?? (clientIds.length === 0 && candidates.length === 1 ? candidates[0] : undefined);
  }

  async verify(idToken: string): Promise<VerifiedIdToken> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(idToken);
    } catch {
      throw new LtiError('malformed_token', 'the id_token is not a JWT');
    }
    const audiences = typeof unverified.aud === 'string' ? [unverified.aud] : Array.isArray(unverified.aud) ? unverified.aud.filter((a) => typeof a === 'string') : [];
    const known = this.options.platforms.some((p) => p.issuer === unverified.iss);
    if (!known) throw new LtiError('unknown_platform', 'the id_token comes from a platform this tool is not registered with');
    // An issuer this tool knows but no audience it is registered under: the token is for another tool.
    const platform = this.platformFor(unverified.iss, audiences);
    if (!platform) throw new LtiError('wrong_audience', "the id_token's audience is not this tool's client id");
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(idToken, this.#keys(platform), {
        algorithms: ['RS256'],
        issuer: platform.issuer,
        audience: platform.clientId,
        clockTolerance: this.options.clockToleranceSeconds,
        // Requires iat, refuses one in the future, and one older than a login may wait.
        maxTokenAge: this.options.loginTtlSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'nonce'],
      }));
    } catch (error) {
      throw refusal(error);
    }
    // OIDC core 3.1.3.7: with several audiences azp is required, and when present it must be this client.
    const aud = claims.aud;
    if ((Array.isArray(aud) && aud.length > 1 && claims.azp === undefined) || (claims.azp !== undefined && claims.azp !== platform.clientId)) {
      throw new LtiError('wrong_audience', "the id_token's authorized party (azp) is not this tool's client id");
    }
    return { platform, claims: claims as JWTPayload & Record<string, unknown> };
  }

  /** One remote key set per JWKS URL, kept for the app's life (its cache is the point). */
  #keys(platform: LtiPlatform): ReturnType<typeof createRemoteJWKSet> {
    let keys = this.#jwks.get(platform.jwksUrl);
    if (!keys) {
      keys = createRemoteJWKSet(new URL(platform.jwksUrl), {
        cooldownDuration: this.options.jwksCooldownMs,
        cacheMaxAge: this.options.jwksCacheMaxAgeMs,
        timeoutDuration: 5_000,
      });
      this.#jwks.set(platform.jwksUrl, keys);
    }
    return keys;
  }
}

/** jose's failure as the tool's typed refusal (jose's messages name the claim; ours stay stable). */
function refusal(error: unknown): unknown {
  if (error instanceof errors.JWTExpired) {
    return new LtiError('expired', error.claim === 'iat' ? 'the id_token was issued too long ago' : 'the id_token has expired');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return new LtiError('wrong_issuer', "the id_token's issuer is not the platform's");
    if (error.claim === 'aud') return new LtiError('wrong_audience', "the id_token's audience is not this tool's client id");
    if ((error.claim === 'iat' || error.claim === 'nbf') && error.reason === 'check_failed') return new LtiError('not_yet_valid', `the id_token's ${error.claim} is in the future`);
    if (error.claim === 'nonce') return new LtiError('invalid_nonce', 'the id_token has no nonce');
    return new LtiError('invalid_claims', `the id_token's ${error.claim} claim is missing or invalid`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new LtiError('bad_signature', "the id_token's signature does not verify with the platform's key");
  if (error instanceof errors.JWKSNoMatchingKey) return new LtiError('unknown_key', "no key of the platform's JWKS matches the id_token's kid");
  if (error instanceof errors.JOSEAlgNotAllowed) return new LtiError('algorithm_not_allowed', 'id_tokens must be signed with RS256');
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return new LtiError('jwks_unavailable', "the platform's JWKS could not be fetched");
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new LtiError('malformed_token', 'the id_token is not a valid JWS');
  if (error instanceof errors.JOSEError || error instanceof TypeError) {
    // Fetching or parsing the key set failed (jose raises its generic error, fetch a TypeError).
    return new LtiError('jwks_unavailable', "the platform's JWKS could not be fetched or read");
  }
  return error; // not a refusal but a bug: the app's 500 path logs it
}
