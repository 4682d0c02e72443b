import type { MediaSource } from './model.js';

/**
 * What a peer may do in its room. The host grants it: in a signed access token
 * (`AccessToken` in `@lectern/server-sdk`), or in the trusted context it passes
 * with each request. The server enforces it for every method (one table,
 * `methodGrants` in the server SDK); the join reply tells the client what it got.
 */
export interface PeerGrants {
  /** Sources the peer may publish (`produce`); empty: none (and no send transport). */
  canPublish: MediaSource[];
  /** Whether the peer may receive others' media (`consume`, a recv transport). */
  canSubscribe: boolean;
  /** Whether the peer may send gestures and raise / lower its hand. */
  canRaiseHand: boolean;
  /**
   * Lecturer / admin powers: manage the hand queue, list the peers with their
   * media, mute or remove a peer, end the room for everyone.
   */
  roomAdmin: boolean;
  /** Whether the peer may use the host-enabled plain RTP transports (server-side peers only). */
  plainTransport: boolean;
}

/** The grants that can be named: every key of {@link PeerGrants}. */
export type GrantName = keyof PeerGrants;
