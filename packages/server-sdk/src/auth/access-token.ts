import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { ErrorCode, LecternError } from '../errors.js';
import { GRANT_CLAIM, roomGrantSchema, type RoomGrant } from './claims.js';
import { isAsymmetricKey, secretBytes, type SigningKey } from './keys.js';

/** Who the token is for, and how long it lives. */
export interface AccessTokenOptions {
  /** The peer id the token's bearer joins as (`sub`): 1-64 of `[A-Za-z0-9_.:-]`. */
  identity: string;
  /** The display name other peers see (the client cannot change it). */
  name?: string;
  /** Lifetime in seconds from now. Default 600 (10 minutes): tokens are for joining, not for sessions. */
  ttl?: number;
  /** `iss`: who minted it (the verifier can require it). */
  issuer?: string;
  /** `aud`: who it is for (the verifier can require it). */
  audience?: string | string[];
  /** Not valid before this many seconds from now (`nbf`). Default 0. */
  notBefore?: number;
}

/**
 * A signed access token for one peer of one room, minted by the host (your LMS
 * backend) and verified by the server SDK ({@link TokenVerifier},
 * `RoomManager.verifyToken` / `handleWithToken`). The host decides the
 * identity, the name, the role and the grants; the SDK derives every request's
 * context from the verified token, so the client cannot claim more.
 *
 * ```ts
 * const token = await new AccessToken(process.env.LECTERN_SECRET!, { identity: user.id, name: user.name, ttl: 600 })
 *   .addGrant({ room: course.roomId, role: 'student', canPublish: ['microphone'] })
 *   .toJwt();
 * ```
 *
 * Signed with HS256 for a shared secret (at least 32 bytes), or with EdDSA /
 * ES256 for a private key (`{ alg, key, kid }`), so the SDK can hold only the
 * public key.
 */
export class AccessToken {
  readonly #key: SigningKey;
  readonly #options: AccessTokenOptions;
  #grant: RoomGrant | undefined;

  constructor(key: SigningKey, options: AccessTokenOptions) {
    if (!isAsymmetricKey(key)) secretBytes(key); // refused now, not at toJwt()
    const ttl = options.ttl ?? DEFAULT_TTL_SECONDS;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new LecternError(ErrorCode.INVALID_CONFIG, `ttl must be a positive number of seconds (got ${ttl})`);
    this.#key = key;
    this.#options = { ...options, ttl };
  }

  /** Sets what the token grants (one room per token); a second call replaces the first. */
  addGrant(grant: RoomGrant): this {
    const parsed = roomGrantSchema.safeParse(grant);
    if (!parsed.success) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, `invalid grant: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    this.#grant = parsed.data;
    return this;
  }

  /** Signs the token (a compact JWS). INVALID_CONFIG without a grant or with a bad identity. */
  async toJwt(): Promise<string> {
    const grant = this.#grant;
    if (!grant) throw new LecternError(ErrorCode.INVALID_CONFIG, 'an access token needs a grant (addGrant({ room, ... }))');
    const { identity, name, ttl, issuer, audience, notBefore } = this.#options;
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(identity)) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'identity must be 1-64 characters of [A-Za-z0-9_.:-]');
    }
    const now = Math.floor(Date.now() / 1000);
    const key = this.#key;
    const jwt = new SignJWT({ ...(name !== undefined ? { name } : {}), [GRANT_CLAIM]: grant })
      .setSubject(identity)
      .setIssuedAt(now)
      .setNotBefore(now + (notBefore ?? 0))
      .setExpirationTime(now + Math.ceil(ttl!))
      .setJti(randomUUID());
    if (issuer !== undefined) jwt.setIssuer(issuer);
    if (audience !== undefined) jwt.setAudience(audience);
    if (isAsymmetricKey(key)) {
      return jwt.setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.kid !== undefined ? { kid: key.kid } : {}) }).sign(key.key);
    }
    return jwt.setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secretBytes(key));
  }
}

const DEFAULT_TTL_SECONDS = 600;
