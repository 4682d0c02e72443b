import type { KeyObject, webcrypto } from 'node:crypto';
import type { JWK } from 'jose';
import { ErrorCode, LecternError } from '../errors.js';

/** The asymmetric algorithms tokens may be signed with (HS256 uses a shared secret). */
export type AsymmetricAlgorithm = 'EdDSA' | 'ES256';

/** A private key (to sign, {@link AccessToken}) or public key (to verify, {@link TokenVerifier}) of an asymmetric algorithm. */
export interface AsymmetricKey {
  alg: AsymmetricAlgorithm;
  /** A Node `KeyObject`, a WebCrypto `CryptoKey`, or a JWK. */
  key: KeyObject | webcrypto.CryptoKey | JWK;
  /** Key id: written in the token header when signing, and matched against it when verifying. */
  kid?: string;
}

/** An HS256 shared secret (at least 32 bytes), or an asymmetric key. */
export type SigningKey = string | Uint8Array | AsymmetricKey;

/** Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size). */
export const MIN_SECRET_BYTES = 32;

/** The secret as bytes; INVALID_CONFIG when it is too short to be safe. */
export function secretBytes(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new LecternError(ErrorCode.INVALID_CONFIG, `an HS256 secret needs at least ${MIN_SECRET_BYTES} bytes (got ${bytes.byteLength})`);
  }
  return bytes;
}

export function isAsymmetricKey(key: SigningKey): key is AsymmetricKey {
  return typeof key === 'object' && !(key instanceof Uint8Array);
}
