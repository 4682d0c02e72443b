/// <reference lib="dom" />
import { ErrorCode, sourceKind, type MediaSource } from '@lectern/protocol';
import type { types } from 'mediasoup-client';
import { ClientErrorCode, LecternClientError, errorMessage } from '../errors.js';
import type { CameraPublishOptions, LectureClientEvents, LocalTrackPublication, PublishOptions, ScreenPublishOptions } from '../types.js';
import type { MediaCapture } from './capture.js';
import type { InternalProducerAppData, MediaSession, SessionContext } from './session.js';

/** A published track; outlives rejoins (each gives it a new producer). */
class LocalPublicationImpl implements LocalTrackPublication {
  producer: types.Producer | undefined;
  paused: boolean;

  constructor(
    readonly source: MediaSource,
    readonly track: MediaStreamTrack,
    readonly ownedByClient: boolean,
    readonly encodings: types.RtpEncodingParameters[] | undefined,
    readonly codecOptions: types.ProducerCodecOptions | undefined,
    readonly appData: Record<string, unknown>,
    paused: boolean,
  ) {
    this.paused = paused;
  }

  get kind(): types.MediaKind {
    return sourceKind[this.source];
  }

  get producerId(): string | undefined {
    return this.producer && !this.producer.closed ? this.producer.id : undefined;
  }

  getStats(): Promise<RTCStatsReport> {
    if (!this.producer || this.producer.closed) {
      return Promise.reject(new LecternClientError(ClientErrorCode.NOT_JOINED, `${this.source} is not being sent`));
    }
    return this.producer.getStats();
  }
}

/** How a source is encoded. */
interface SourceEncoding {
  encodings: types.RtpEncodingParameters[] | undefined;
  codecOptions: types.ProducerCodecOptions | undefined;
}

const NO_ENCODING: SourceEncoding = { encodings: undefined, codecOptions: undefined };

/** Why a publication ended, as `localTrackUnpublished` says. */
type UnpublishReason = LectureClientEvents['localTrackUnpublished']['reason'];

/**
 * The tracks this client publishes, one per source: capture (or the app's own
 * track), the producer on the send transport, pause / resume, and publishing
 * again on the new session after a rejoin.
 */
export class Publications {
  /** By source. */
  readonly local = new Map<MediaSource, LocalPublicationImpl>();
  /** Sources being captured (not yet in `local`), so a second publish of one is refused. */
  readonly #capturing = new Set<MediaSource>();

  constructor(
    private readonly ctx: SessionContext,
    private readonly capture: MediaCapture,
    private readonly cameraDefaults: { simulcast: boolean; simulcastEncodings: readonly types.RtpEncodingParameters[] },
  ) {}

  microphone(track: MediaStreamTrack | undefined, options: PublishOptions): Promise<LocalTrackPublication> {
    return this.publish('microphone', track, options, {
      encodings: undefined,
      codecOptions: { opusStereo: false, opusDtx: true, opusFec: true },
    });
  }

  camera(track: MediaStreamTrack | undefined, options: CameraPublishOptions): Promise<LocalTrackPublication> {
    const simulcast = options.simulcast ?? this.cameraDefaults.simulcast;
    const encodings = options.encodings ?? (simulcast ? this.cameraDefaults.simulcastEncodings.map((e) => ({ ...e })) : undefined);
    return this.publish('camera', track, options, { encodings, codecOptions: { videoGoogleStartBitrate: 1000 } });
  }

  async screen(options: ScreenPublishOptions): Promise<LocalTrackPublication> {
    this.ctx.requireSession();
    const { video, audio } = await this.capture.screen(options);
    const publication = await this.publish('screen', video, options, NO_ENCODING, true).catch((error: unknown) => {
      audio?.stop();
      throw error;
    });
    if (audio && options.audio === true) {
      await this.publish('screen-audio', audio, { ...options, constraints: undefined }, NO_ENCODING, true).catch((error: unknown) => {
        audio.stop();
        this.ctx.emitError(LecternClientError.from(error));
      });
    } else {
      audio?.stop();
    }
    return publication;
  }

  async unpublish(source: MediaSource): Promise<void> {
    const publication = this.local.get(source);
    if (publication) await this.end(publication, 'unpublished');
  }

  /** Pauses or resumes sending `source`; the local producer follows at once and is put back if the server refuses. */
  async setPaused(source: MediaSource, paused: boolean): Promise<void> {
    const publication = this.local.get(source);
    if (!publication) throw new LecternClientError(ErrorCode.INVALID_STATE, `not publishing ${source}`);
    if (publication.paused === paused) return;
    publication.paused = paused;
    const producer = publication.producer;
    if (!producer || producer.closed) return; // applied when (re)published
    if (paused) producer.pause();
    else producer.resume();
    try {
      await this.ctx.request(paused ? 'pauseProducer' : 'resumeProducer', { producerId: producer.id });
    } catch (error) {
      if (publication.producer === producer && !producer.closed) {
        publication.paused = !paused;
        if (paused) producer.resume();
        else producer.pause();
      }
      throw error;
    }
  }

  /**
   * A lecturer or the host paused (or closed) one of this client's producers on
   * the server: the publication follows without asking the server again.
   * Paused: `paused` becomes true and the app may resume it. Closed: the
   * publication ends (`localTrackUnpublished`, reason `closed-by-host`).
   * Undefined when `producerId` is not a current producer of this client.
   */
  mutedByHost(producerId: string, closed: boolean): LocalTrackPublication | undefined {
    const publication = [...this.local.values()].find((p) => p.producer !== undefined && p.producer.id === producerId);
    if (!publication) return undefined;
    const producer = publication.producer!;
    if (closed) {
      this.local.delete(publication.source);
      publication.producer = undefined;
      if (!producer.closed) producer.close();
      if (publication.ownedByClient) publication.track.stop();
      this.ctx.emit('localTrackUnpublished', { source: publication.source, track: publication.track, reason: 'closed-by-host' });
    } else if (!publication.paused) {
      publication.paused = true;
      if (!producer.closed) producer.pause();
    }
    return publication;
  }

  /**
   * After a rejoin: sends every publication again on the new session. One the
   * room no longer allows (or whose track died) is dropped and reported;
   * anything else fails the rejoin attempt.
   */
  async republish(session: MediaSession): Promise<void> {
    await Promise.all(
      [...this.local.values()].map(async (publication) => {
        try {
          await this.produce(session, publication);
        } catch (thrown) {
          const error = LecternClientError.from(thrown, 'produce');
          if (error.code !== ErrorCode.FORBIDDEN && error.code !== ClientErrorCode.MEDIA_UNAVAILABLE) throw error;
          if (this.local.get(publication.source) === publication) {
            this.local.delete(publication.source);
            if (publication.ownedByClient) publication.track.stop();
            this.ctx.emit('localTrackUnpublished', { source: publication.source, track: publication.track, reason: 'refused' });
          }
          this.ctx.emitError(error);
        }
      }),
    );
  }

  /** The session is going away: the producers go with its transport; the publications stay for {@link republish}. */
  detachProducers(): void {
    for (const publication of this.local.values()) publication.producer = undefined;
  }

  /** Leave / close: ends every publication (stopping the tracks the client captured). */
  releaseAll(reason: UnpublishReason): void {
    for (const publication of [...this.local.values()]) {
      this.local.delete(publication.source);
      publication.producer?.close();
      publication.producer = undefined;
      if (publication.ownedByClient) publication.track.stop();
      this.ctx.emit('localTrackUnpublished', { source: publication.source, track: publication.track, reason });
    }
  }

  private async publish(
    source: MediaSource,
    track: MediaStreamTrack | undefined,
    options: PublishOptions,
    encoding: SourceEncoding,
    owned = track === undefined,
  ): Promise<LocalTrackPublication> {
    const session = this.ctx.requireSession();
    if (this.local.has(source) || this.#capturing.has(source)) {
      throw new LecternClientError(ErrorCode.INVALID_STATE, `already publishing ${source}; unpublish it first`);
    }
    const kind = sourceKind[source];
    if (track && track.kind !== kind) {
      throw new LecternClientError(ErrorCode.INVALID_REQUEST, `source "${source}" carries ${kind}, not ${track.kind}`);
    }
    this.#capturing.add(source);
    let publication: LocalPublicationImpl;
    try {
      const captured = track ?? (await this.capture.track(kind, options.constraints));
      if (this.ctx.session !== session) {
        if (owned) captured.stop();
        throw new LecternClientError(ErrorCode.CLOSED, 'the client left while publishing');
      }
      publication = new LocalPublicationImpl(
        source,
        captured,
        owned,
        encoding.encodings,
        encoding.codecOptions,
        options.appData ?? {},
        options.paused ?? false,
      );
      this.local.set(source, publication);
    } finally {
      this.#capturing.delete(source);
    }
    try {
      await this.produce(session, publication);
    } catch (thrown) {
      const error = LecternClientError.from(thrown, 'produce');
      if (this.ctx.state === 'reconnecting' && this.ctx.session !== session && this.local.get(source) === publication) {
        // A rejoin started meanwhile; it republishes everything in `local`, this track included.
        this.ctx.emit('localTrackPublished', publication);
        return publication;
      }
      if (this.local.get(source) === publication) this.local.delete(source);
      if (owned) publication.track.stop();
      throw error;
    }
    this.ctx.emit('localTrackPublished', publication);
    return publication;
  }

  /** Creates the publication's producer on `session`'s send transport. */
  private async produce(session: MediaSession, publication: LocalPublicationImpl): Promise<void> {
    const transport = await session.transport('send');
    session.assertOpen();
    if (publication.track.readyState === 'ended') {
      throw new LecternClientError(ClientErrorCode.MEDIA_UNAVAILABLE, `the ${publication.source} track has ended`);
    }
    const appData: InternalProducerAppData = {
      source: publication.source,
      paused: publication.paused,
      userAppData: publication.appData,
    };
    let producer: types.Producer;
    try {
      producer = await transport.produce({
        track: publication.track,
        ...(publication.encodings ? { encodings: publication.encodings.map((e) => ({ ...e })) } : {}),
        ...(publication.codecOptions ? { codecOptions: publication.codecOptions } : {}),
        stopTracks: false, // the client decides (tracks survive rejoins; app tracks are the app's)
        appData,
      });
    } catch (error) {
      if (error instanceof LecternClientError) throw error;
      throw new LecternClientError(ClientErrorCode.TRANSPORT_FAILED, `cannot send ${publication.source}: ${errorMessage(error)}`, undefined, {
        cause: error,
      });
    }
    if (session.closed || this.local.get(publication.source) !== publication) {
      producer.close();
      throw new LecternClientError(ErrorCode.CLOSED, `stopped publishing ${publication.source}`);
    }
    publication.producer = producer;
    if (publication.paused) producer.pause(); // the server's producer was created paused
    producer.on('trackended', () => {
      if (this.local.get(publication.source) === publication) void this.end(publication, 'track-ended');
    });
  }

  /** Ends one publication: closes its producer (here and on the server), stops a captured track, tells the app. */
  private async end(publication: LocalPublicationImpl, reason: UnpublishReason): Promise<void> {
    if (this.local.get(publication.source) !== publication) return;
    this.local.delete(publication.source);
    const producer = publication.producer;
    publication.producer = undefined;
    if (producer && !producer.closed) producer.close();
    if (publication.ownedByClient) publication.track.stop();
    this.ctx.emit('localTrackUnpublished', { source: publication.source, track: publication.track, reason });
    const session = this.ctx.session;
    if (producer && session && !session.closed && reason !== 'left') {
      await this.ctx.request('closeProducer', { producerId: producer.id }).catch((error: unknown) => {
        const e = LecternClientError.from(error, 'closeProducer');
        if (e.code !== ErrorCode.NOT_FOUND && e.code !== ErrorCode.CLOSED) throw e;
      });
    }
  }
}
