import type { types } from 'mediasoup';
import { ErrorCode, LecternError } from '../errors.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { PoolWorker, WorkerPool } from '../workers/worker-pool.js';
import type { MediasoupCall } from './mediasoup-call.js';
import type { RoomOptions } from './types.js';

/** One router of a room, on one worker. A room grows shards as it fills. */
export interface RouterShard {
  readonly router: types.Router;
  readonly slot: PoolWorker;
  /** Live transports of peers plus reservations for transports being created. */
  transports: number;
  readonly activeSpeaker: types.ActiveSpeakerObserver | undefined;
}

/** What the shard set tells its room. */
export interface ShardSetHooks {
  routerAdded(shard: RouterShard): void;
  /** An extra router nobody used any more was closed. */
  routerRemoved(shard: RouterShard): void;
  /** The shard's worker died: the set has already dropped it and the pipes into it. */
  shardLost(shard: RouterShard): void;
  dominantSpeaker(producerId: string): void;
  /** Whether a peer of the room is still placed on `shard` (a shard in use is never retired). */
  inUse(shard: RouterShard): boolean;
}

/** The peer-side state placement reads and writes. */
export interface Placed {
  shard: RouterShard | undefined;
  readonly holdsMedia: boolean;
}

/**
 * The routers of one room, spread over workers, and the pipes between them.
 * Routers are added when every router holds `maxTransportsPerRouter` transports;
 * a peer's transports all live on one router, and producers reach other routers
 * through `pipeToRouter`, lazily (the first consumer there) and once per
 * producer and router. The set closes its routers, which closes everything on them.
 */
export class ShardSet {
  private readonly shards: RouterShard[] = [];
  /** Placement decisions are made one at a time, so a storm cannot over-fill a router. */
  private readonly placement = new SerialQueue();
  /** Pipes of producers to other routers: producer id → target router id → the pipe. */
  private readonly pipes = new Map<string, Map<string, Promise<void>>>();
  private closed = false;

  constructor(
    private readonly roomId: string,
    private readonly options: Pick<RoomOptions, 'mediaCodecs' | 'activeSpeaker' | 'maxTransportsPerRouter'>,
    private readonly pool: WorkerPool,
    private readonly call: MediasoupCall,
    private readonly hooks: ShardSetHooks,
  ) {}

  get size(): number {
    return this.shards.length;
  }

  /** Every router of the room offers the same codecs; the first one answers. */
  get routerRtpCapabilities(): types.RtpCapabilities {
    const shard = this.shards[0];
    if (!shard) throw new LecternError(ErrorCode.OVERLOADED, `room ${this.roomId} has no router (its workers are restarting)`);
    return shard.router.rtpCapabilities;
  }

  /** The room's first router (the cluster's pipes to other nodes live there). */
  first(): RouterShard {
    const shard = this.shards[0];
    if (!shard) throw new LecternError(ErrorCode.OVERLOADED, `room ${this.roomId} has no router (its workers are restarting)`);
    return shard;
  }

  /** Adds a router when the room has none (at creation, or after its routers were lost with their workers). */
  ensureRouter(): Promise<void> {
    if (this.shards.length > 0) return Promise.resolve();
    return this.placement.run(async () => {
      if (this.shards.length === 0) await this.add(this.pool.requireWorker());
    });
  }

  /**
   * Picks (once) the router a peer's transports live on and reserves room for one
   * more transport there. Runs in the placement queue, so concurrent joins see
   * each other's reservations.
   *
   * Order: a router below `maxTransportsPerRouter` whose worker has headroom; else
   * a new router on a worker that hosts none of this room's routers; else (every
   * worker already hosts one) the least-filled router with headroom, past the
   * soft limit. A room never has two routers on one worker: a worker is one
   * thread, so a second router there adds pipe cost without adding CPU.
   */
  reserve(peer: Placed): Promise<RouterShard> {
    return this.placement.run(async () => {
      this.assertOpen();
      let shard = peer.shard;
      if (!shard || shard.router.closed) {
        const usable = this.shards.filter((s) => !s.router.closed && this.pool.hasHeadroom(s.slot));
        shard = usable.find((s) => s.transports < this.options.maxTransportsPerRouter);
        if (!shard) {
          const slot = this.pool.pickWorker(new Set(this.shards.map((s) => s.slot.worker)));
          if (slot) shard = await this.add(slot);
          else shard = usable.sort((a, b) => a.transports - b.transports)[0];
        }
        if (!shard) {
          throw new LecternError(ErrorCode.OVERLOADED, 'no media worker has headroom for this room', {
            ceilingPercent: this.pool.cpuCeilingPercent,
          });
        }
        peer.shard = shard;
      }
      shard.transports += 1;
      shard.slot.load.pendingTransports += 1;
      return shard;
    });
  }

  /** The transport reserved on `shard` exists now (or failed): mediasoup's own count has it from here. */
  created(shard: RouterShard): void {
    shard.slot.load.pendingTransports -= 1;
  }

  /** A transport of `peer` on `shard` closed (or was never created). */
  release(peer: Placed, shard: RouterShard): void {
    shard.transports -= 1;
    // A closed router is being lost with its worker (its transports close before
    // 'workerclose' fires): keep its peers pointing at it so the loss finds them.
    if (shard.router.closed) return;
    if (!peer.holdsMedia && peer.shard === shard) {
      peer.shard = undefined; // nothing holds the peer on this router: place it afresh next time
    }
    this.retireIfEmpty(shard);
  }

  /** Makes a producer of shard `from` consumable on shard `to`: one pipe per producer and router. */
  ensurePiped(producerId: string, from: RouterShard, to: RouterShard): Promise<void> {
    if (from === to) return Promise.resolve();
    let byRouter = this.pipes.get(producerId);
    if (!byRouter) this.pipes.set(producerId, (byRouter = new Map()));
    const pipes = byRouter;
    const key = to.router.id;
    let pipe = pipes.get(key);
    if (!pipe) {
      const made = this.call(
        from.router.pipeToRouter({ producerId, router: to.router }),
        'pipeToRouter',
        // It did complete after the deadline: keep it (unless the producer is gone).
        () => this.pipes.get(producerId) === pipes && pipes.set(key, Promise.resolve()),
      ).then(() => undefined);
      pipe = made;
      pipes.set(key, made);
      // A failed pipe is forgotten so the next consumer can try again.
      made.catch(() => {
        if (pipes.get(key) === made) pipes.delete(key);
      });
    }
    return pipe;
  }

  /** The producer closed: closing it closed its pipe consumers, which close the pipe producers elsewhere. */
  forgetProducer(producerId: string): void {
    this.pipes.delete(producerId);
  }

  /** Feeds an audio producer to its router's active-speaker observer (best effort). */
  async observeAudio(shard: RouterShard, producerId: string): Promise<void> {
    if (!shard.activeSpeaker) return;
    await this.call(shard.activeSpeaker.addProducer({ producerId }), 'addProducer').catch(() => undefined);
  }

  stats(): { routers: { routerId: string; workerPid: number; transports: number }[]; pipes: number } {
    let pipes = 0;
    for (const byRouter of this.pipes.values()) pipes += byRouter.size;
    return {
      routers: this.shards.map((s) => ({ routerId: s.router.id, workerPid: s.slot.worker.pid, transports: s.transports })),
      pipes,
    };
  }

  /** Closes every router (and so everything on them). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const shard of this.shards.splice(0)) shard.router.close();
    this.pipes.clear();
  }

  /** Creates a router of the room on `slot`'s worker. */
  async add(slot: PoolWorker): Promise<RouterShard> {
    const router = await this.call(
      slot.worker.createRouter({ mediaCodecs: this.options.mediaCodecs, appData: { roomId: this.roomId } }),
      'createRouter',
      (r) => r.close(),
    );
    let activeSpeaker: types.ActiveSpeakerObserver | undefined;
    try {
      if (this.options.activeSpeaker) {
        activeSpeaker = await this.call(router.createActiveSpeakerObserver({ interval: 300 }), 'createActiveSpeakerObserver');
      }
    } catch (error) {
      router.close();
      throw error;
    }
    if (this.closed) {
      router.close();
      throw new LecternError(ErrorCode.CLOSED, 'room closed');
    }
    const shard: RouterShard = { router, slot, transports: 0, activeSpeaker };
    activeSpeaker?.on('dominantspeaker', ({ producer }) => this.hooks.dominantSpeaker(producer.id));
    // The worker died (mediasoup closes its routers): the room loses this shard.
    router.once('workerclose', () => this.lost(shard));
    this.shards.push(shard);
    this.hooks.routerAdded(shard);
    return shard;
  }

  /**
   * An extra router nobody uses any more is closed, with the pipes into it (the
   * room keeps at least one router). Safe without the placement queue: a
   * reservation counts in `transports` synchronously when it is made.
   */
  private retireIfEmpty(shard: RouterShard): void {
    if (this.closed || shard.transports > 0 || this.shards.length <= 1) return;
    if (this.hooks.inUse(shard)) return;
    if (!this.drop(shard)) return;
    shard.router.close();
    this.hooks.routerRemoved(shard);
  }

  private lost(shard: RouterShard): void {
    if (this.drop(shard)) this.hooks.shardLost(shard); // else closed by the room itself
  }

  /** Removes a shard and every pipe into its router; false if it was not in the set. */
  private drop(shard: RouterShard): boolean {
    const index = this.shards.indexOf(shard);
    if (index === -1) return false;
    this.shards.splice(index, 1);
    for (const byRouter of this.pipes.values()) byRouter.delete(shard.router.id);
    return true;
  }

  private assertOpen(): void {
    if (this.closed) throw new LecternError(ErrorCode.CLOSED, `room ${this.roomId} is closed`);
  }
}
