import type { HandQueueEntry, LeaveReason, MediaSource, PeerInfo, PeerRole, ProducerInfo } from '@lectern/protocol';
import type { RemotePeer, RemoteTrack, TrackUnsubscribedReason } from '../types.js';
import type { SessionContext } from './session.js';

/** A remote peer; its `info` is replaced when a join snapshot brings newer data. */
export class RemotePeerImpl implements RemotePeer {
  readonly producers = new Map<string, ProducerInfo>();
  /** Kept by the subscriptions. */
  readonly tracks = new Map<MediaSource, RemoteTrack>();

  constructor(public info: PeerInfo) {}

  get peerId(): string {
    return this.info.peerId;
  }
  get role(): PeerRole {
    return this.info.role;
  }
  get displayName(): string | undefined {
    return this.info.displayName;
  }
  get appData(): Readonly<Record<string, unknown>> {
    return this.info.appData;
  }
}

/**
 * The room as this client knows it: the other peers, what they publish (whether
 * subscribed or not) and the raised-hand queue. Learned from each join's
 * snapshot and kept current by notifications; emits `peerJoined` / `peerLeft` /
 * `trackPublished` / `trackUnpublished` as it changes.
 */
export class RemoteState {
  readonly peers = new Map<string, RemotePeerImpl>();
  /** Remote producers by id (also in their peer's `producers`). */
  readonly producers = new Map<string, ProducerInfo>();
  #handQueue: HandQueueEntry[] = [];

  constructor(
    private readonly ctx: SessionContext,
    /** Called before a producer is forgotten, so its subscription ends first (`trackUnsubscribed` before `trackUnpublished`). */
    private readonly producerGone: (producerId: string, reason: TrackUnsubscribedReason) => void,
  ) {}

  /** The raised-hand queue as last heard from the server (oldest first). */
  get handQueue(): readonly HandQueueEntry[] {
    return this.#handQueue;
  }

  /** Keeps the queue a `handQueueChanged` notification carries. */
  setHandQueue(queue: HandQueueEntry[] | undefined): readonly HandQueueEntry[] {
    this.#handQueue = Array.isArray(queue) ? [...queue] : [];
    return this.#handQueue;
  }

  /** Keeps the queue a hand-queue reply carries (the `handQueueChanged` notification follows); returns a copy. */
  adoptQueue(reply: { queue?: HandQueueEntry[] } | undefined): HandQueueEntry[] {
    if (reply && Array.isArray(reply.queue)) this.#handQueue = [...reply.queue];
    return [...this.#handQueue];
  }

  peerJoined(info: PeerInfo): void {
    const existing = this.peers.get(info.peerId);
    // Replaced (the same id joined again): its old producers are gone.
    if (existing) this.dropPeer(existing, 'replaced');
    const peer = new RemotePeerImpl(info);
    this.peers.set(info.peerId, peer);
    this.ctx.emit('peerJoined', peer);
  }

  peerLeft(peerId: string, reason: LeaveReason): void {
    const peer = this.peers.get(peerId);
    if (peer) this.dropPeer(peer, reason);
  }

  /** Learns a producer of another peer (this client's own producers are not remote). */
  addProducer(info: ProducerInfo): void {
    if (this.producers.has(info.producerId) || info.peerId === this.ctx.session?.peerId) return;
    const copy = { ...info };
    this.producers.set(info.producerId, copy);
    this.peers.get(info.peerId)?.producers.set(info.producerId, copy);
    this.ctx.emit('trackPublished', { ...copy });
  }

  removeProducer(producerId: string, reason: TrackUnsubscribedReason): void {
    const info = this.producers.get(producerId);
    this.producerGone(producerId, reason);
    if (!info) return;
    this.producers.delete(producerId);
    this.peers.get(info.peerId)?.producers.delete(producerId);
    this.ctx.emit('trackUnpublished', { ...info });
  }

  /** Records a producer's pause state; `undefined` when the producer is unknown. */
  setProducerPaused(producerId: string, paused: boolean): ProducerInfo | undefined {
    const info = this.producers.get(producerId);
    if (info) info.paused = paused;
    return info;
  }

  /** Reconciles with a join reply, emitting only what changed (peers still there are not announced again). */
  applySnapshot(peers: PeerInfo[], producers: ProducerInfo[]): void {
    const present = new Set(peers.map((p) => p.peerId));
    for (const peer of [...this.peers.values()]) if (!present.has(peer.peerId)) this.dropPeer(peer, 'left');
    for (const info of peers) {
      const existing = this.peers.get(info.peerId);
      if (existing) existing.info = info;
      else {
        const peer = new RemotePeerImpl(info);
        this.peers.set(info.peerId, peer);
        this.ctx.emit('peerJoined', peer);
      }
    }
    const live = new Set(producers.map((p) => p.producerId));
    for (const producerId of [...this.producers.keys()]) {
      if (!live.has(producerId)) this.removeProducer(producerId, 'producer-closed');
    }
    for (const info of producers) {
      const existing = this.producers.get(info.producerId);
      if (existing) existing.paused = info.paused;
      else this.addProducer(info);
    }
  }

  /** Forgets the room (leave, close, room closed), without events: the app hears `connectionStateChanged`. */
  clear(): void {
    this.peers.clear();
    this.producers.clear();
    this.#handQueue = [];
  }

  private dropPeer(peer: RemotePeerImpl, reason: LeaveReason): void {
    for (const producerId of [...peer.producers.keys()]) this.removeProducer(producerId, 'peer-left');
    if (this.peers.get(peer.peerId) === peer) this.peers.delete(peer.peerId);
    this.ctx.emit('peerLeft', { peerId: peer.peerId, reason, peer });
  }
}
