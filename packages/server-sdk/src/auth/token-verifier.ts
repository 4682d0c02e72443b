import { errors, jwtVerify, type JWTHeaderParameters, type JWTVerifyOptions } from 'jose';
import type { PeerGrants, PeerRole } from '@lectern/protocol';
import { ErrorCode, LecternError } from '../errors.js';
import { GRANT_CLAIM, tokenClaimsSchema } from './claims.js';
import { resolveGrants, tokenDefaultGrants } from './grants.js';
import { secretBytes, type AsymmetricAlgorithm, type AsymmetricKey } from './keys.js';

/** How tokens are checked; at least one of `secret` and `publicKeys`. */
export interface TokenVerifierOptions {
  /** The HS256 shared secret the host signs with (at least 32 bytes). */
  secret?: string | Uint8Array;
  /**
   * Public keys for EdDSA / ES256 tokens. A token's `kid` header picks the key
   * of that id; a token without `kid` needs exactly one key of its algorithm.
   */
  publicKeys?: readonly AsymmetricKey[];
  /** Required `iss` (one of). Default: not checked. */
  issuer?: string | string[];
  /** Required `aud` (one of). Default: not checked. */
  audience?: string | string[];
  /** Allowed clock skew for `exp` and `nbf`, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Tokens whose lifetime (`exp - iat`) exceeds this are refused. Default 86 400 (a day). */
  maxTtlSeconds?: number;
}

/** Why a token was refused (`details.reason` of the UNAUTHORIZED error). */
export type TokenRejection =
  | 'malformed'
  | 'bad-signature'
  | 'unknown-key'
  | 'algorithm-not-allowed'
  | 'expired'
  | 'not-yet-valid'
  | 'too-long-lived'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'wrong-room'
  | 'invalid-claims';

/** What a verified token says. */
export interface VerifiedToken {
  /** The peer id (`sub`). */
  identity: string;
  /** The display name the host gave, if any. */
  name: string | undefined;
  roomId: string;
  role: PeerRole;
  /** The token's grants over the role's defaults for tokens. */
  grants: PeerGrants;
  expiresAt: Date;
  /** `jti`, if the token has one. */
  tokenId: string | undefined;
}

/**
 * Verifies access tokens ({@link AccessToken}): the signature (HS256 with the
 * host's secret, or EdDSA / ES256 with its public keys; the algorithm is
 * never taken from the token alone), the lifetime (`exp` required, `nbf`, a
 * small clock tolerance, a maximum lifetime), the issuer and audience when
 * configured, the room when the caller names one, and the claims' shape.
 * Every refusal is a {@link LecternError} `UNAUTHORIZED` with `details.reason`
 * ({@link TokenRejection}).
 *
 * `RoomManager` uses one when created with `auth`; hosts can use one on its
 * own and pass {@link toContext} of the result to `RoomManager.handle`.
 */
export class TokenVerifier {
  readonly #secret: Uint8Array | undefined;
  readonly #keys: readonly AsymmetricKey[];
  readonly #options: JWTVerifyOptions;
  readonly #maxTtlSeconds: number;

  constructor(options: TokenVerifierOptions) {
    this.#secret = options.secret !== undefined ? secretBytes(options.secret) : undefined;
    this.#keys = [...(options.publicKeys ?? [])];
    if (!this.#secret && this.#keys.length === 0) {
      throw new LecternError(ErrorCode.INVALID_CONFIG, 'a TokenVerifier needs a secret or public keys');
    }
    const algorithms = [...(this.#secret ? ['HS256'] : []), ...new Set(this.#keys.map((k) => k.alg))];
    const tolerance = options.clockToleranceSeconds ?? 5;
    if (!(tolerance >= 0 && tolerance <= 300)) throw new LecternError(ErrorCode.INVALID_CONFIG, 'clockToleranceSeconds must be 0-300');
    this.#maxTtlSeconds = options.maxTtlSeconds ?? 86_400;
    this.#options = {
      algorithms,
      clockTolerance: tolerance,
      requiredClaims: ['exp', 'sub'],
      ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
    };
  }

  /**
   * Verifies `token`; with `roomId`, also that it was minted for that room.
   * @throws {LecternError} `UNAUTHORIZED` with `details.reason`.
   */
  async verify(token: unknown, expect: { roomId?: string } = {}): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw unauthorized('malformed', 'the access token is missing or not a string of at most 8 KiB');
    }
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, (header) => this.#keyFor(header), this.#options));
    } catch (error) {
      throw fromJose(error);
    }
    const parsed = tokenClaimsSchema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw unauthorized('invalid-claims', `the access token's claims are invalid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : ''}`.slice(0, 300));
    }
    const claims = parsed.data;
    const issuedAt = claims.iat ?? Math.floor(Date.now() / 1000);
    if (claims.exp - issuedAt > this.#maxTtlSeconds) {
      throw unauthorized('too-long-lived', `the access token lives ${claims.exp - issuedAt} s; at most ${this.#maxTtlSeconds} s are accepted`);
    }
    const { room, role = 'student', ...stated } = claims[GRANT_CLAIM];
    if (expect.roomId !== undefined && expect.roomId !== room) {
      throw unauthorized('wrong-room', 'the access token is for another room');
    }
    return {
      identity: claims.sub,
      name: claims.name,
      roomId: room,
      role,
      grants: resolveGrants(tokenDefaultGrants(role), stated),
      expiresAt: new Date(claims.exp * 1000),
      tokenId: claims.jti,
    };
  }

  /** The key for a token's header: the secret for HS256, else the public key its `kid` (or its algorithm alone) names. */
  #keyFor(header: JWTHeaderParameters): Uint8Array | AsymmetricKey['key'] {
    if (header.alg === 'HS256' && this.#secret) return this.#secret;
    const candidates = this.#keys.filter((k) => k.alg === (header.alg as AsymmetricAlgorithm) && (header.kid === undefined || k.kid === header.kid));
    if (candidates.length !== 1) throw unauthorized('unknown-key', header.kid === undefined ? 'no single key for the token (name one with kid)' : 'no key with the token\'s kid');
    return candidates[0]!.key;
  }
}

/** The request context a verified token stands for (what `RoomManager.handle` takes). */
export function contextFromToken(token: VerifiedToken): {
  roomId: string;
  peerId: string;
  role: PeerRole;
  grants: PeerGrants;
  displayName?: string;
} {
  return {
    roomId: token.roomId,
    peerId: token.identity,
    role: token.role,
    grants: token.grants,
    ...(token.name !== undefined ? { displayName: token.name } : {}),
  };
}

const MAX_TOKEN_LENGTH = 8192;

function unauthorized(reason: TokenRejection, message: string): LecternError {
  return new LecternError(ErrorCode.UNAUTHORIZED, message, { reason });
}

/** jose's errors as typed UNAUTHORIZED ones (the message says what, never echoes the token). */
function fromJose(error: unknown): LecternError {
  if (error instanceof LecternError) return error;
  if (error instanceof errors.JWTExpired) return unauthorized('expired', 'the access token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return unauthorized('not-yet-valid', 'the access token is not valid yet');
      case 'iss':
        return unauthorized('wrong-issuer', 'the access token has another issuer');
      case 'aud':
        return unauthorized('wrong-audience', 'the access token is for another audience');
      default:
        return unauthorized('invalid-claims', `the access token's ${String(error.claim).slice(0, 32)} claim is invalid`);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthorized('bad-signature', 'the access token signature does not verify');
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthorized('algorithm-not-allowed', 'the access token is signed with an algorithm this server does not accept');
  if (error instanceof errors.JOSEError) return unauthorized('malformed', 'the access token is malformed');
  // A key jose could not use (e.g. a JWK of the wrong curve) is the host's configuration, not the client's fault.
  return new LecternError(ErrorCode.UNAUTHORIZED, 'the access token could not be verified', { reason: 'malformed' }, { cause: error });
}
