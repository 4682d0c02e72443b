import type { types } from 'mediasoup';
import type { MediaKind } from '@lectern/protocol';
import type { MediasoupCall } from './mediasoup-call.js';

/** Where a {@link ServerConsumer}'s PlainTransport listens, and how it sends. */
export interface ServerConsumerOptions {
  /** The IP its PlainTransport binds (the transcription tap uses 127.0.0.1 only). */
  listenIp: string;
  /** RTP and RTCP on one port (default true). With `false`, `connect` needs an RTCP port. */
  rtcpMux?: boolean;
  appData?: Record<string, unknown>;
}

/**
 * A server-side consumer of one producer (e.g. the transcription tap feeding
 * FFmpeg): a PlainTransport on the producer's own router and a consumer on it,
 * created paused. The room owns it: it shows in the room's stats, and it closes
 * with its producer, with the room, or on `close()`. Its user picks where it
 * sends only after it exists (`connect`), so a port it picks can never be one
 * the worker took for the transport.
 */
export class ServerConsumer {
  constructor(
    private readonly transport: types.PlainTransport,
    private readonly consumer: types.Consumer,
    private readonly call: MediasoupCall,
  ) {}

  get id(): string {
    return this.consumer.id;
  }

  get producerId(): string {
    return this.consumer.producerId;
  }

  /** What the consumer sends (codec, payload type, SSRC), e.g. to write an SDP for FFmpeg. */
  get rtpParameters(): types.RtpParameters {
    return this.consumer.rtpParameters;
  }

  /** The transport's local RTP port. */
  get localPort(): number {
    return this.transport.tuple.localPort;
  }

  get closed(): boolean {
    return this.transport.closed || this.consumer.closed;
  }

  /** Where to send RTP (and RTCP to `rtcpPort` when `rtcpMux` is off). */
  async connect(remote: { ip: string; port: number; rtcpPort?: number }): Promise<void> {
    await this.call(this.transport.connect(remote), 'connect server consumer');
  }

  /**
   * Calls `listener` once, with the wall-clock time (ms) the first RTP packet was
   * forwarded after this call (an `rtp` trace, turned off again after one packet).
   */
  async onFirstPacket(listener: (atMs: number) => void): Promise<void> {
    let seen = false;
    this.consumer.on('trace', () => {
      if (seen) return;
      seen = true;
      listener(Date.now());
      this.consumer.enableTraceEvent([]).catch(() => undefined);
    });
    await this.call(this.consumer.enableTraceEvent(['rtp']), 'enableTraceEvent');
  }

  async resume(): Promise<void> {
    await this.call(this.consumer.resume(), 'resume server consumer');
  }

  /** Calls `listener` once when the consumer is gone (closed, its producer closed, or the room closed). */
  onClose(listener: () => void): void {
    this.transport.observer.once('close', listener);
  }

  /** Closes the transport and with it the consumer. Idempotent. */
  close(): void {
    this.transport.close();
  }
}

/**
 * Opens a {@link ServerConsumer} of `producerId` on `router` (the producer's own).
 * The room calls this and counts the result; nothing is left behind on failure.
 */
export async function openServerConsumer(
  router: types.Router,
  producerId: string,
  options: ServerConsumerOptions,
  call: MediasoupCall,
): Promise<ServerConsumer> {
  const transport = await call(
    router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: options.listenIp },
      rtcpMux: options.rtcpMux ?? true,
      comedia: false,
      appData: { lectern: 'server-consumer', ...options.appData },
    }),
    'createPlainTransport',
    (t) => t.close(),
  );
  try {
    const consumer = await call(
      transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: true, appData: { ...options.appData } }),
      'consume',
      (c) => c.close(),
    );
    // The consumer goes with its producer; its transport goes with it.
    consumer.observer.once('close', () => transport.close());
    return new ServerConsumer(transport, consumer, call);
  } catch (error) {
    transport.close();
    throw error;
  }
}

/** A change of a producer's state, as {@link ProducerWatch} reports it. */
export type ProducerChange = 'pause' | 'resume' | 'close';

/** A producer as server-side code (the transcription tap) sees it: its state and its changes, read only. */
export interface ProducerWatch {
  readonly producerId: string;
  readonly kind: MediaKind;
  readonly paused: boolean;
  readonly closed: boolean;
  /** Subscribes to the producer's pause/resume/close; returns the unsubscribe function. */
  watch(listener: (change: ProducerChange) => void): () => void;
}

export function producerWatch(producer: types.Producer): ProducerWatch {
  return {
    producerId: producer.id,
    kind: producer.kind,
    get paused() {
      return producer.paused;
    },
    get closed() {
      return producer.closed;
    },
    watch(listener) {
      const onPause = () => listener('pause');
      const onResume = () => listener('resume');
      const onClose = () => listener('close');
      producer.observer.on('pause', onPause);
      producer.observer.on('resume', onResume);
      producer.observer.on('close', onClose);
      return () => {
        producer.observer.off('pause', onPause);
        producer.observer.off('resume', onResume);
        producer.observer.off('close', onClose);
      };
    },
  };
}
