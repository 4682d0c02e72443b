/**
 * Who is in the lecture, as the page shows it (tiles and the participant list):
 * derived each time from the client's view of the room, so there is one source
 * of truth (the SDK's remote state plus this page's own publication) and no copy
 * to keep in step. Pure: no DOM, no client.
 */
import type { MediaSource, PeerRole } from '@lectern/protocol';

/** A peer's microphone: sending, paused by its owner, or not published at all. */
export type MicState = 'live' | 'muted' | 'none';

export interface Participant {
  peerId: string;
  name: string;
  role: PeerRole;
  isLocal: boolean;
  mic: MicState;
  handRaised: boolean;
}

/** The parts of a remote peer this needs (the client SDK's RemotePeer has them). */
export interface PeerLike {
  readonly peerId: string;
  readonly role: PeerRole;
  readonly displayName: string | undefined;
  readonly producers: ReadonlyMap<string, { readonly source: MediaSource; readonly paused: boolean }>;
}

export interface RoomPicture {
  local: { peerId: string; name: string; role: PeerRole; micPaused: boolean | undefined };
  remotePeers: Iterable<PeerLike>;
  handQueue: readonly { peerId: string }[];
}

/** A remote peer's microphone state from what it publishes. */
export function micStateOf(peer: PeerLike): MicState {
  const mic = [...peer.producers.values()].find((p) => p.source === 'microphone');
  if (!mic) return 'none';
  return mic.paused ? 'muted' : 'live';
}

/** Everyone, in a stable order: you first, then lecturers, then students, each by name. */
export function participantsOf(room: RoomPicture): Participant[] {
  const raised = new Set(room.handQueue.map((entry) => entry.peerId));
  const { local } = room;
  const me: Participant = {
    peerId: local.peerId,
    name: local.name,
    role: local.role,
    isLocal: true,
    mic: local.micPaused === undefined ? 'none' : local.micPaused ? 'muted' : 'live',
    handRaised: raised.has(local.peerId),
  };
  const others = [...room.remotePeers].map((peer): Participant => ({
    peerId: peer.peerId,
    name: peer.displayName ?? peer.peerId,
    role: peer.role,
    isLocal: false,
    mic: micStateOf(peer),
    handRaised: raised.has(peer.peerId),
  }));
  others.sort((a, b) => roleRank(a.role) - roleRank(b.role) || a.name.localeCompare(b.name) || a.peerId.localeCompare(b.peerId));
  return [me, ...others];
}

/** The order on the stage: lecturers first (they are what students came to see), otherwise as given. */
export function stageOrder(people: readonly Participant[]): Participant[] {
  return [...people].sort((a, b) => roleRank(a.role) - roleRank(b.role));
}

const roleRank = (role: PeerRole) => (role === 'lecturer' ? 0 : 1);

/** Short visible text for a microphone state (empty when there is nothing to point out). */
export function micText(state: MicState): string {
  return state === 'muted' ? 'muted' : state === 'none' ? 'no mic' : '';
}

/** The same state for assistive technology, which gets no icon. */
export function micDescription(state: MicState): string {
  return state === 'muted' ? 'microphone muted' : state === 'none' ? 'no microphone' : 'microphone on';
}
