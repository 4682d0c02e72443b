import type { types } from 'mediasoup';
import type { MediaSource, PeerGrants, PeerInfo } from '@lectern/protocol';
import { ErrorCode, LecternError, notFound } from '../errors.js';
import type { RouterShard } from './shard-set.js';

/**
 * One transport of a peer. WebRTC transports have a direction; plain transports
 * (host-enabled, for server-side peers) both send and receive.
 */
export type PeerTransport =
  | { readonly kind: 'webrtc'; readonly transport: types.WebRtcTransport; readonly direction: 'send' | 'recv' }
  | {
      readonly kind: 'plain';
      readonly transport: types.PlainTransport;
      /** Tracked here: mediasoup's own "already called" is an untyped error. */
      connectCalled: boolean;
    };

/** A producer of a peer, with where it lives. */
export interface ProducerEntry {
  readonly producer: types.Producer;
  readonly peer: Peer;
  readonly shard: RouterShard;
  readonly source: MediaSource;
  readonly appData: Record<string, unknown>;
}

/**
 * A joined peer: its identity and the media it owns. The peer closes what it
 * owns: closing its transports closes (in mediasoup) their producers and
 * consumers. Lookups answer only for the peer's own objects: another peer's id is
 * NOT_FOUND.
 */
export class Peer {
  /** The router all of this peer's transports live on (chosen at its first transport). */
  shard: RouterShard | undefined;
  readonly transports = new Map<string, PeerTransport>();
  readonly producers = new Map<string, ProducerEntry>();
  readonly consumers = new Map<string, types.Consumer>();
  /** When the peer joined. */
  readonly joinedAt = new Date();
  private isClosed = false;

  constructor(
    readonly info: PeerInfo,
    readonly rtpCapabilities: types.RtpCapabilities,
    /** What the peer may do, fixed at join (the request API checks every method against it). */
    readonly grants: PeerGrants,
  ) {}

  get id(): string {
    return this.info.peerId;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Whether anything still holds the peer on its router (placement may move a peer that holds nothing). */
  get holdsMedia(): boolean {
    return this.transports.size > 0 || this.producers.size > 0 || this.consumers.size > 0;
  }

  transport(transportId: string): PeerTransport {
    return lookup(this.transports, transportId, 'transport');
  }

  /** For DTLS/ICE requests: a plain transport's id is INVALID_REQUEST. */
  webRtcTransport(transportId: string, method: string): types.WebRtcTransport {
    const entry = this.transport(transportId);
    if (entry.kind !== 'webrtc') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `${method} applies to WebRTC transports; ${entry.transport.id} is a plain transport`);
    }
    return entry.transport;
  }

  plainTransport(transportId: string): Extract<PeerTransport, { kind: 'plain' }> {
    const entry = this.transport(transportId);
    if (entry.kind !== 'plain') {
      throw new LecternError(ErrorCode.INVALID_REQUEST, `connectPlainTransport applies to plain transports; ${entry.transport.id} is a WebRTC transport`);
    }
    return entry;
  }

  /** The peer's first WebRTC receive transport (what `consume` uses when no transport id is given). */
  defaultRecvTransport(): PeerTransport | undefined {
    return [...this.transports.values()].find((t) => t.kind === 'webrtc' && t.direction === 'recv');
  }

  producer(producerId: string): ProducerEntry {
    return lookup(this.producers, producerId, 'producer');
  }

  consumer(consumerId: string): types.Consumer {
    return lookup(this.consumers, consumerId, 'consumer');
  }

  /** The consumer of `producerId` this peer already has, if any. */
  consumerOf(producerId: string): types.Consumer | undefined {
    for (const consumer of this.consumers.values()) if (consumer.producerId === producerId) return consumer;
    return undefined;
  }

  isProducing(source: MediaSource): boolean {
    for (const entry of this.producers.values()) if (entry.source === source) return true;
    return false;
  }

  /**
   * Closes every transport (cascading to producers and consumers). Idempotent.
   * `routerClosing`: the room is closing its routers, which takes the media with
   * them in one step; the peer is only marked closed.
   */
  close({ routerClosing = false }: { routerClosing?: boolean } = {}): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (routerClosing) return;
    for (const { transport } of this.transports.values()) transport.close();
  }
}

/** A map lookup that fails with a typed NOT_FOUND. */
export function lookup<T>(map: ReadonlyMap<string, T>, id: string, what: string): T {
  const value = map.get(id);
  if (value === undefined) throw notFound(what, id);
  return value;
}
