/**
 * Identities banned from rooms (`removePeer` with `ban`). A ban lasts for the
 * room's lifetime (dropped when the room closes) or until a deadline (kept
 * across the room's closing and re-creation until then). The manager owns the
 * list; rooms consult it at `join`.
 */
export class BanList {
  /** By room id, then peer id: the deadline (ms since the epoch), or `null` for the room's lifetime. */
  readonly #bans = new Map<string, Map<string, number | null>>();

  constructor(private readonly now: () => number = Date.now) {}

  ban(roomId: string, peerId: string, seconds?: number): { until: Date | undefined } {
    this.sweep(); // bans are rare: timed bans of rooms that never come back go here
    let room = this.#bans.get(roomId);
    if (!room) this.#bans.set(roomId, (room = new Map()));
    const until = seconds === undefined ? null : this.now() + seconds * 1000;
    const existing = room.get(peerId);
    // A longer ban is never shortened by a later, shorter one.
    const kept = existing === null || (existing !== undefined && until !== null && existing > until) ? existing : until;
    room.set(peerId, kept);
    return { until: kept === null ? undefined : new Date(kept) };
  }

  isBanned(roomId: string, peerId: string): boolean {
    const room = this.#bans.get(roomId);
    const until = room?.get(peerId);
    if (until === undefined) return false;
    if (until === null || until > this.now()) return true;
    room!.delete(peerId);
    if (room!.size === 0) this.#bans.delete(roomId);
    return false;
  }

  /** The room closed: its lifetime bans end; timed ones stay until their deadline. */
  roomClosed(roomId: string): void {
    const room = this.#bans.get(roomId);
    if (!room) return;
    const now = this.now();
    for (const [peerId, until] of room) if (until === null || until <= now) room.delete(peerId);
    if (room.size === 0) this.#bans.delete(roomId);
  }

  /** Drops every timed ban that ended. */
  sweep(): void {
    const now = this.now();
    for (const [roomId, room] of this.#bans) {
      for (const [peerId, until] of room) if (until !== null && until <= now) room.delete(peerId);
      if (room.size === 0) this.#bans.delete(roomId);
    }
  }

  /** Bans in force, for stats and tests. */
  get size(): number {
    let n = 0;
    for (const room of this.#bans.values()) n += room.size;
    return n;
  }

  clear(): void {
    this.#bans.clear();
  }
}
