import { isNotificationName, type NotificationMap, type NotificationName } from '@lectern/protocol';
import { LecternClientError } from '../errors.js';
import type { Publications } from './publications.js';
import type { RemoteState } from './remote-state.js';
import type { SessionContext } from './session.js';
import type { Subscriptions } from './subscriptions.js';

/** What the connection does about the two notifications that concern the whole client. */
export interface ConnectionNotifications {
  /** `reconnectRequired`: the peer's media is gone on the server (`reason`: its worker or node died, or its node drains). */
  reconnectRequired(reason: string): void;
  /** `roomClosed`: the room is gone. */
  roomClosed(): void;
  /** `removed`: a lecturer or the host took this peer out of the room (no rejoin). */
  removed(): void;
}

/**
 * Routes the server's notifications to the remote state, the subscriptions and
 * the connection. While a join is in flight, notifications wait until its
 * snapshot has been applied (the server may send them before the join reply),
 * so nothing is announced twice or applied to a state that the snapshot then
 * overwrites.
 */
export class NotificationRouter {
  /** Notifications that arrived while a join was in flight; `undefined` when none is. */
  #buffered: [NotificationName, unknown][] | undefined;

  constructor(
    private readonly ctx: SessionContext,
    private readonly remote: RemoteState,
    private readonly subscriptions: Subscriptions,
    private readonly connection: ConnectionNotifications,
    private readonly publications: Publications,
  ) {}

  /**
   * Feeds one notification. `false` for a name the protocol does not have (the
   * host may use its own notifications on the same channel).
   */
  handle(name: string, data: unknown): boolean {
    if (!isNotificationName(name)) return false;
    if (this.ctx.state === 'closed' || typeof data !== 'object' || data === null) return true;
    if (name === 'reconnectRequired') {
      const reason = (data as { reason?: unknown }).reason;
      this.connection.reconnectRequired(typeof reason === 'string' ? reason.slice(0, 64) : 'worker-died');
      return true;
    }
    // roomClosed and removed end the join in flight too, so they never wait.
    const ending = name === 'roomClosed' || name === 'removed';
    if (this.#buffered && !ending) {
      this.#buffered.push([name, data]);
      return true;
    }
    // Not joined (left, or between rejoin attempts): the next join's snapshot has the current state.
    if (!this.ctx.session && !ending) return true;
    if (ending && this.ctx.state === 'disconnected') return true;
    this.dispatch(name, data);
    return true;
  }

  /** A join is in flight: hold notifications until {@link flush}. */
  hold(): void {
    this.#buffered = [];
  }

  /** The join's snapshot is applied: route what arrived meanwhile. */
  flush(): void {
    const pending = this.#buffered;
    this.#buffered = undefined;
    for (const [name, data] of pending ?? []) this.dispatch(name, data);
  }

  /** The join ended without a snapshot (or the client left): what was held is stale. */
  discard(): void {
    this.#buffered = undefined;
  }

  private dispatch(name: NotificationName, data: unknown): void {
    try {
      this.route(name, data);
    } catch (error) {
      this.ctx.emitError(LecternClientError.from(error));
    }
  }

  private route(name: NotificationName, raw: unknown): void {
    switch (name) {
      case 'peerJoined':
        this.remote.peerJoined(raw as NotificationMap['peerJoined']);
        return;
      case 'peerLeft': {
        const { peerId, reason } = raw as NotificationMap['peerLeft'];
        this.remote.peerLeft(peerId, reason);
        return;
      }
      case 'newProducer': {
        const info = raw as NotificationMap['newProducer'];
        this.remote.addProducer(info);
        this.subscriptions.producerAnnounced(info.producerId);
        return;
      }
      case 'producerClosed':
        this.remote.removeProducer((raw as NotificationMap['producerClosed']).producerId, 'producer-closed');
        return;
      case 'producerPaused':
      case 'producerResumed': {
        const { producerId } = raw as NotificationMap['producerPaused'];
        const paused = name === 'producerPaused';
        const info = this.remote.setProducerPaused(producerId, paused);
        if (!info) return;
        const remoteTrack = this.subscriptions.setMuted(producerId, paused);
        this.ctx.emit(paused ? 'trackMuted' : 'trackUnmuted', {
          peerId: info.peerId,
          producerId,
          source: info.source,
          kind: info.kind,
          remoteTrack,
        });
        return;
      }
      case 'consumerClosed': {
        const { producerId, consumerId } = raw as NotificationMap['consumerClosed'];
        this.subscriptions.consumerClosed(producerId, consumerId);
        return;
      }
      case 'consumerPaused':
      case 'consumerResumed':
        // Mirrors producerPaused/Resumed for this client's consumer; those carry the events.
        return;
      case 'consumerLayersChanged': {
        const event = raw as NotificationMap['consumerLayersChanged'];
        const remote = this.subscriptions.byConsumerId(event.consumerId);
        if (remote) this.ctx.emit('trackLayersChanged', { ...event, producerId: remote.producerId });
        return;
      }
      case 'activeSpeaker': {
        const { peerId, producerId } = raw as NotificationMap['activeSpeaker'];
        this.ctx.emit('activeSpeaker', { peerId, producerId });
        return;
      }
      case 'roomClosed': {
        const { reason } = raw as NotificationMap['roomClosed'];
        this.ctx.emit('roomClosed', typeof reason === 'string' ? { reason } : {});
        this.connection.roomClosed();
        return;
      }
      case 'removed': {
        const { reason, banned, bannedUntil, by } = raw as NotificationMap['removed'];
        this.ctx.emit('removed', {
          reason: String(reason),
          banned: banned === true,
          ...(typeof bannedUntil === 'string' ? { bannedUntil } : {}),
          ...(typeof by === 'string' ? { by } : {}),
        });
        this.connection.removed();
        return;
      }
      case 'mutedByHost': {
        const { producerId, closed, reason, by } = raw as NotificationMap['mutedByHost'];
        const publication = this.publications.mutedByHost(producerId, closed === true);
        if (!publication) return; // not (or no longer) this client's producer
        this.ctx.emit('mutedByHost', {
          source: publication.source,
          producerId,
          closed: closed === true,
          ...(typeof reason === 'string' ? { reason } : {}),
          ...(typeof by === 'string' ? { by } : {}),
        });
        return;
      }
      case 'gesture':
        this.ctx.emit('gesture', { ...(raw as NotificationMap['gesture']) });
        return;
      case 'handQueueChanged': {
        const queue = this.remote.setHandQueue((raw as NotificationMap['handQueueChanged']).queue);
        this.ctx.emit('handQueueChanged', { queue: [...queue] });
        return;
      }
      case 'caption': {
        const c = raw as NotificationMap['caption'];
        if ((c.kind !== 'partial' && c.kind !== 'final') || typeof c.text !== 'string' || !Number.isFinite(c.seq) || !Number.isFinite(c.start) || !Number.isFinite(c.end)) return;
        this.ctx.emit('caption', {
          lectureId: String(c.lectureId),
          peerId: String(c.peerId),
          streamKey: String(c.streamKey),
          kind: c.kind,
          seq: c.seq,
          text: c.text,
          start: c.start,
          end: c.end,
          ...(Array.isArray(c.words) ? { words: c.words.map((w) => ({ ...w })) } : {}),
        });
        return;
      }
      case 'reconnectRequired':
        return; // handled in handle(), before any buffering
      default: {
        // A notification the protocol gained and this switch lacks fails to compile here.
        const unhandled: never = name;
        return unhandled;
      }
    }
  }
}
