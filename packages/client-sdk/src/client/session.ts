/// <reference lib="dom" />
/**
 * One join of the room: the mediasoup-client Device loaded with the router's
 * capabilities, the send and recv transports made for it on demand, and each
 * transport's ICE recovery. A rejoin replaces the whole session.
 *
 * This is also the client's one boundary with mediasoup-client's RTP types:
 * `@lectern/protocol` declares the wire's RTP structures as JSON (so neither SDK
 * depends on the other's mediasoup package), and the few places that hand them
 * to mediasoup-client are here.
 * @module
 */
import { ErrorCode, type MediaSource, type PeerRole, type ResponseMap } from '@lectern/protocol';
import { Device, type types } from 'mediasoup-client';
import { ClientErrorCode, LecternClientError, errorMessage } from '../errors.js';
import { IceRecovery, isFatalIceRestartError, type IceGiveUpReason, type IceRecoveryOptions } from '../recovery.js';
import type { ClientContext } from './context.js';

/** The context every part of the client shares, with its session type filled in. */
export type SessionContext = ClientContext<MediaSession>;

/** A transport's direction: `send` carries the local tracks, `recv` the remote ones. */
export type Direction = 'send' | 'recv';

/**
 * What the publications put in a producer's mediasoup-client appData for the
 * send transport's `produce` handler (which turns it into the `produce` request).
 * Never sent to the server as the producer's appData.
 */
export interface InternalProducerAppData extends types.AppData {
  source: MediaSource;
  paused: boolean;
  userAppData: Record<string, unknown>;
}

/** Transport settings from the client's options. */
export interface TransportSettings {
  forceTcp: boolean;
  iceServers: RTCIceServer[] | undefined;
  iceTransportPolicy: RTCIceTransportPolicy | undefined;
  ice: Partial<IceRecoveryOptions>;
}

/** How a session reports what its transports go through (to the connection). */
export interface SessionObserver {
  /** ICE recovery gave up on one of the session's transports: the client should rejoin. */
  iceGaveUp(session: MediaSession, reason: IceGiveUpReason): void;
  /** The ICE health of one of the session's transports changed (see {@link MediaSession.recovering}). */
  iceHealthChanged(session: MediaSession): void;
}

/**
 * Creates the mediasoup-client Device. `Device.factory()` detects the browser's
 * handler more reliably than the constructor; where it finds none (Node without
 * a `handlerFactory`, a browser without WebRTC) the client cannot work at all,
 * which the app should hear as such (`DEVICE_UNSUPPORTED`, naming the
 * `handlerFactory` option) rather than as a signaling failure. The connection
 * calls this before its first request, so that failure is local.
 */
export async function createDevice(handlerFactory: types.HandlerFactory | undefined): Promise<Device> {
  try {
    return await Device.factory(handlerFactory ? { handlerFactory } : {});
  } catch (error) {
    // mediasoup-client does not export UnsupportedError; its name is stable.
    if (error instanceof Error && error.name === 'UnsupportedError') {
      throw new LecternClientError(
        ClientErrorCode.DEVICE_UNSUPPORTED,
        `mediasoup-client found no WebRTC handler for this runtime (${error.message}); outside a WebRTC browser pass ` +
          "LectureClientOptions.handlerFactory, a mediasoup-client HandlerFactory for the runtime (e.g. FakeHandler.createFactory(testFakeParameters) " +
          "from 'mediasoup-client' for a signaling-only client or a test; see the README, \"Outside the browser\")",
        undefined,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Loads `device` with the router's capabilities from the `getRouterRtpCapabilities` reply. */
export async function loadDevice(device: Device, routerRtpCapabilities: ResponseMap['getRouterRtpCapabilities']['routerRtpCapabilities']): Promise<void> {
  try {
    // Wire → mediasoup-client: the server sent mediasoup's own RtpCapabilities; the
    // protocol types them as JSON (e.g. header extension URIs as plain strings).
    await device.load({ routerRtpCapabilities: routerRtpCapabilities as types.RtpCapabilities });
  } catch (error) {
    throw new LecternClientError(ErrorCode.INCOMPATIBLE_CAPABILITIES, `cannot load the media device: ${errorMessage(error)}`, undefined, {
      cause: error,
    });
  }
}

/** A transport and the ICE recovery watching it. */
interface OpenTransport {
  readonly transport: types.Transport;
  readonly recovery: IceRecovery;
}

/** See the module description. */
export class MediaSession {
  #closed = false;
  /** The transports being created or created, by direction (created on first use). */
  readonly #pending: Partial<Record<Direction, Promise<types.Transport>>> = {};
  /** The transports created, in creation order. */
  readonly #open: OpenTransport[] = [];

  constructor(
    readonly device: Device,
    readonly peerId: string,
    readonly role: PeerRole,
    private readonly ctx: SessionContext,
    private readonly settings: TransportSettings,
    private readonly observer: SessionObserver,
  ) {}

  /** Closed by a rejoin (a new session replaces it), leave or close. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether any transport is restarting ICE, or gave up (a rejoin follows at once, so no `connected` in between). */
  get recovering(): boolean {
    return this.#open.some(({ recovery }) => recovery.health === 'restarting' || recovery.health === 'failed');
  }

  /** Throws `CLOSED` when the session ended while a caller awaited something. */
  assertOpen(): void {
    if (this.#closed) throw new LecternClientError(ErrorCode.CLOSED, 'the session ended (left or reconnecting)');
  }

  /** The transport for `direction`, created (once) on first use; a failed creation is retried by the next call. */
  transport(direction: Direction): Promise<types.Transport> {
    let promise = this.#pending[direction];
    if (!promise) {
      const created = this.createTransport(direction);
      promise = created;
      this.#pending[direction] = created;
      created.catch(() => {
        if (this.#pending[direction] === created) delete this.#pending[direction];
      });
    }
    return promise;
  }

  /** Creates the local consumer for a `consume` reply on the recv transport. */
  consume(transport: types.Transport, reply: ResponseMap['consume']): Promise<types.Consumer> {
    return transport.consume({
      id: reply.consumerId,
      producerId: reply.producerId,
      kind: reply.kind,
      // Wire → mediasoup-client: mediasoup's own RtpParameters, typed by the protocol as JSON.
      rtpParameters: reply.rtpParameters as types.RtpParameters,
      streamId: `${reply.peerId}-${reply.source}`,
      appData: { peerId: reply.peerId, source: reply.source },
    });
  }

  /** WebRTC stats of the send and recv transports (whichever exist). */
  async getStats(): Promise<{ send?: RTCStatsReport; recv?: RTCStatsReport }> {
    const result: { send?: RTCStatsReport; recv?: RTCStatsReport } = {};
    for (const { transport } of this.#open) {
      if (transport.closed) continue;
      result[transport.direction] = await transport.getStats();
    }
    return result;
  }

  /** Stops ICE recovery and closes the transports (their producers and consumers close with them). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { recovery } of this.#open) recovery.dispose();
    for (const { transport } of this.#open) transport.close();
  }

  /** One implementation for both directions; only `send` answers mediasoup-client's `produce`. */
  private async createTransport(direction: Direction): Promise<types.Transport> {
    const reply = await this.ctx.request('createWebRtcTransport', {
      direction,
      ...(this.settings.forceTcp ? { forceTcp: true } : {}),
    });
    this.assertOpen();
    const options: types.TransportOptions = {
      id: reply.transportId,
      iceParameters: reply.iceParameters,
      iceCandidates: reply.iceCandidates,
      dtlsParameters: reply.dtlsParameters,
      ...(this.settings.iceServers ? { iceServers: this.settings.iceServers } : {}),
      ...(this.settings.iceTransportPolicy ? { iceTransportPolicy: this.settings.iceTransportPolicy } : {}),
    };
    let transport: types.Transport;
    try {
      transport = direction === 'send' ? this.device.createSendTransport(options) : this.device.createRecvTransport(options);
    } catch (error) {
      throw new LecternClientError(ClientErrorCode.TRANSPORT_FAILED, `cannot create the ${direction} transport: ${errorMessage(error)}`, undefined, {
        cause: error,
      });
    }
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.ctx.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const internal = appData as InternalProducerAppData;
        const userAppData = internal.userAppData ?? {};
        this.ctx
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters,
            source: internal.source,
            ...(internal.paused ? { paused: true } : {}),
            ...(Object.keys(userAppData).length > 0 ? { appData: userAppData } : {}),
          })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    const recovery = this.watchIce(transport);
    this.#open.push({ transport, recovery });
    transport.on('connectionstatechange', (state) => {
      if (this.#closed) return;
      this.ctx.emit('transportStateChanged', { direction, state });
      recovery.onConnectionState(state);
    });
    return transport;
  }

  /** ICE recovery for `transport`: restarts through the server, then hands over to a rejoin. */
  private watchIce(transport: types.Transport): IceRecovery {
    return new IceRecovery(
      {
        restartIce: async () => {
          const { iceParameters } = await this.ctx.request('restartIce', { transportId: transport.id });
          if (!transport.closed) await transport.restartIce({ iceParameters });
        },
        giveUp: (reason: IceGiveUpReason) => {
          if (!this.#closed) this.observer.iceGaveUp(this, reason);
        },
        isFatal: (error) => isFatalIceRestartError(LecternClientError.from(error).code),
        onHealthChange: () => {
          if (!this.#closed) this.observer.iceHealthChanged(this);
        },
      },
      this.settings.ice,
    );
  }
}
