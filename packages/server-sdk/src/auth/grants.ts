import { mediaSources, type PeerGrants, type PeerRole } from '@lectern/protocol';

/**
 * The grants an access token gives when it does not state them: least
 * privilege. A lecturer may publish every source and has `roomAdmin`; a student
 * may publish its microphone only. Both may subscribe and raise their hand;
 * neither may use plain transports.
 */
export function tokenDefaultGrants(role: PeerRole): PeerGrants {
  return {
    canPublish: role === 'lecturer' ? [...mediaSources] : ['microphone'],
    canSubscribe: true,
    canRaiseHand: true,
    roomAdmin: role === 'lecturer',
    plainTransport: false,
  };
}

/**
 * The grants of a trusted context (`RoomManager.handle`) that states none: what
 * the role could always do there. Every source (the room's `studentMedia`
 * policy decides what students send), plain transports (the host's
 * `plainTransport.enabled` decides), and `roomAdmin` for lecturers.
 */
export function trustedDefaultGrants(role: PeerRole): PeerGrants {
  return {
    canPublish: [...mediaSources],
    canSubscribe: true,
    canRaiseHand: true,
    roomAdmin: role === 'lecturer',
    plainTransport: true,
  };
}

/** `stated` over `defaults`; the result is a fresh object (callers may keep it). */
export function resolveGrants(defaults: PeerGrants, stated: Partial<PeerGrants> | undefined): PeerGrants {
  const merged = { ...defaults, ...stated };
  return { ...merged, canPublish: [...new Set(merged.canPublish)] };
}
