import { version as installedVersion } from 'mediasoup';
import semver from 'semver';

/**
 * The mediasoup versions Lectern is built and tested against: the package's
 * peerDependencies range (a test keeps the two equal).
 */
export const SUPPORTED_MEDIASOUP_RANGE = '>=3.27.1 <4';

/**
 * Whether `version` (default: the installed mediasoup) is in
 * {@link SUPPORTED_MEDIASOUP_RANGE}. npm only warns about a peer dependency out of
 * range; the server SDK checks at start so a wrong install fails early and clearly.
 */
export function isSupportedMediasoupVersion(version: string = installedVersion): boolean {
  return semver.satisfies(version, SUPPORTED_MEDIASOUP_RANGE);
}
