// A scripted stand-in for the server's request API, for Node unit tests of the
// client's logic (routing, state, recovery) on mediasoup-client's FakeHandler.
// The real server is exercised by the browser tests.
import { randomUUID } from 'node:crypto';
import { FakeHandler, testFakeParameters, type types } from 'mediasoup-client';
import type { MediaSource, PeerInfo, ProducerInfo, RequestMap, ResponseMap } from '../../src/index.js';

export interface RecordedRequest {
  method: string;
  data: unknown;
}

type Handler = (data: unknown) => unknown;

/** A fake server: answers requests like the server SDK, records them, and lets tests override a method. */
export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  peerId = 'me';
  role: 'lecturer' | 'student' = 'student';
  peers: PeerInfo[] = [];
  producers: ProducerInfo[] = [];
  readonly produced: (RequestMap['produce'] & { producerId: string })[] = [];
  readonly consumers = new Map<string, string>(); // consumerId -> producerId
  private readonly overrides = new Map<string, Handler>();
  /** Requests wait for this before answering (to hold a join in flight). */
  gate: Promise<void> = Promise.resolve();

  /** The `request` function for `LectureClient`. */
  readonly request = async <T>(method: string, data: unknown): Promise<T> => {
    this.requests.push({ method, data });
    await this.gate;
    const override = this.overrides.get(method);
    if (override) return (await override(data)) as T;
    return this.answer(method, data) as T;
  };

  /** Answers `method` with `handler` from now on (throw inside it to reject). */
  on(method: string, handler: Handler): void {
    this.overrides.set(method, handler);
  }

  off(method: string): void {
    this.overrides.delete(method);
  }

  calls(method: string): unknown[] {
    return this.requests.filter((r) => r.method === method).map((r) => r.data);
  }

  /** The scripted answer (what an override can fall back to). */
  answer(method: string, data: unknown): unknown {
    switch (method) {
      case 'getRouterRtpCapabilities':
        return { routerRtpCapabilities: testFakeParameters.generateRouterRtpCapabilities() };
      case 'join':
        return {
          peerId: this.peerId,
          role: this.role,
          routerRtpCapabilities: testFakeParameters.generateRouterRtpCapabilities(),
          peers: this.peers,
          producers: this.producers,
          grants: {
            canPublish: ['microphone', 'camera', 'screen', 'screen-audio'],
            canSubscribe: true,
            canRaiseHand: true,
            roomAdmin: this.role === 'lecturer',
            plainTransport: false,
          },
        } satisfies ResponseMap['join'];
      case 'createWebRtcTransport': {
        const t = testFakeParameters.generateTransportRemoteParameters();
        return { transportId: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
      }
      case 'restartIce':
        return { iceParameters: testFakeParameters.generateTransportRemoteParameters().iceParameters };
      case 'produce': {
        const producerId = randomUUID();
        this.produced.push({ ...(data as RequestMap['produce']), producerId });
        return { producerId };
      }
      case 'consume': {
        const { producerId } = data as RequestMap['consume'];
        const info = this.producers.find((p) => p.producerId === producerId);
        if (!info) throw { code: 'NOT_FOUND', message: `producer not found: ${producerId}` };
        const params = testFakeParameters.generateConsumerRemoteParameters({
          codecMimeType: info.kind === 'audio' ? 'audio/opus' : 'video/VP8',
        });
        this.consumers.set(params.id, producerId);
        return {
          consumerId: params.id,
          producerId,
          peerId: info.peerId,
          kind: info.kind,
          source: info.source,
          rtpParameters: structuredClone(params.rtpParameters) as types.RtpParameters,
          type: 'simple',
          producerPaused: info.paused,
          appData: info.appData,
        } satisfies ResponseMap['consume'];
      }
      case 'raiseHand':
      case 'lowerHand':
      case 'getHandQueue':
      case 'dismissHand':
      case 'clearHandQueue':
        return { queue: [] };
      default:
        return {};
    }
  }
}

/** A producer another peer publishes. */
export function remoteProducer(peerId: string, source: MediaSource, paused = false): ProducerInfo {
  return {
    producerId: randomUUID(),
    peerId,
    kind: source === 'microphone' || source === 'screen-audio' ? 'audio' : 'video',
    source,
    paused,
    appData: {},
  };
}

/** FakeHandler factory that also hands out the handlers it creates (to drive connection states). */
export function recordingHandlerFactory(): { factory: types.HandlerFactory; handlers: FakeHandler[] } {
  const base = FakeHandler.createFactory(testFakeParameters);
  const handlers: FakeHandler[] = [];
  return {
    handlers,
    factory: {
      name: base.name,
      getNativeRtpCapabilities: (options) => base.getNativeRtpCapabilities(options),
      factory: (options) => {
        const handler = base.factory(options) as FakeHandler;
        handlers.push(handler);
        return handler;
      },
    },
  };
}

/** A MediaStreamTrack stand-in for Node (what FakeHandler needs). */
export class FakeTrack extends EventTarget {
  readonly id = randomUUID();
  readyState: 'live' | 'ended' = 'live';
  enabled = true;
  stopped = false;
  constructor(readonly kind: 'audio' | 'video') {
    super();
  }
  stop(): void {
    this.stopped = true;
    this.readyState = 'ended';
  }
  clone(): FakeTrack {
    return new FakeTrack(this.kind);
  }
  getSettings(): Record<string, unknown> {
    return {};
  }
  /** As a track that ended by itself (device unplugged, screen share stopped). */
  end(): void {
    this.readyState = 'ended';
    this.dispatchEvent(new Event('ended'));
  }
  asTrack(): MediaStreamTrack {
    return this as unknown as MediaStreamTrack;
  }
}

/** Lets pending promise callbacks run. */
export async function flush(times = 20): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `check` every 5 ms until it holds; fails after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
