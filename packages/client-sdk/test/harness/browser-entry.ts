/// <reference lib="dom" />
// Bundled by the harness for the test page: puts `lecternTest` on `window` with the
// SDK, a WebSocket signaling for this page's peer, an event log and stats helpers.
import {
  LectureClient,
  LecternClientError,
  type LectureClientEvents,
  type LectureClientOptions,
  type SignalingRequest,
} from '../../src/index.js';

/** One client event, reduced to JSON-safe fields. */
export interface LoggedEvent {
  name: keyof LectureClientEvents;
  /** performance.now() when it fired. */
  at: number;
  peerId?: string;
  producerId?: string;
  source?: string;
  kind?: string;
  state?: string;
  reason?: string;
  code?: string;
  message?: string;
}

/** Page options: everything of LectureClientOptions but the signaling. */
export type PageClientOptions = Omit<LectureClientOptions, 'request' | 'handlerFactory' | 'mediaDevices'>;

export interface LecternTestApi {
  LectureClient: typeof LectureClient;
  LecternClientError: typeof LecternClientError;
  /** The client made by `start`. */
  client: LectureClient | undefined;
  events: LoggedEvent[];
  /** Opens the signaling socket for the page URL's room/peer/role and creates `client`. */
  start(options?: PageClientOptions): Promise<void>;
  /** `bytesReceived` summed over the `inbound-rtp` stats of the subscribed tracks, by kind. */
  inboundBytes(): Promise<{ audio: number; video: number }>;
  /** `bytesSent` summed over the published tracks' `outbound-rtp` stats, by kind. */
  outboundBytes(): Promise<{ audio: number; video: number }>;
  /** Resolves once `inboundBytes()[kind]` exceeds `min`; returns ms waited. */
  waitForInbound(kind: 'audio' | 'video', min?: number, timeoutMs?: number): Promise<number>;
  /** Closes the signaling socket. */
  closeSignaling(): void;
}

declare global {
  interface Window {
    lecternTest: LecternTestApi;
  }
}

interface Pending {
  resolve(data: unknown): void;
  reject(error: unknown): void;
}

function connect(url: string, onNotification: (name: string, data: unknown) => void): Promise<{ request: SignalingRequest; close(): void }> {
  const socket = new WebSocket(url);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number | null;
      data?: unknown;
      error?: { code: string; message: string; details?: Record<string, unknown> };
      notification?: string;
    };
    if (typeof message.notification === 'string') {
      onNotification(message.notification, message.data);
      return;
    }
    if (typeof message.id !== 'number') return;
    const p = pending.get(message.id);
    pending.delete(message.id);
    // The server's error JSON, rejected as the plain object it is (LectureClient accepts it).
    if (message.error) p?.reject(message.error);
    else p?.resolve(message.data);
  });
  socket.addEventListener('close', () => {
    for (const p of pending.values()) p.reject(new Error('signaling closed'));
    pending.clear();
  });
  const request: SignalingRequest = (method: string, data: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      if (socket.readyState !== WebSocket.OPEN) {
        reject(new Error('signaling closed'));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, data }));
    });
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve({ request, close: () => socket.close() }), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), { once: true });
  });
}

const EVENT_NAMES: (keyof LectureClientEvents)[] = [
  'peerJoined', 'peerLeft', 'trackPublished', 'trackUnpublished', 'trackSubscribed', 'trackUnsubscribed', 'trackMuted',
  'trackUnmuted', 'trackLayersChanged', 'activeSpeaker', 'gesture', 'handQueueChanged', 'localTrackPublished',
  'localTrackUnpublished', 'transportStateChanged', 'connectionStateChanged', 'error',
];

function summarize(name: keyof LectureClientEvents, event: unknown): LoggedEvent {
  const e = event as Record<string, unknown>;
  const pick = (k: string) => (typeof e[k] === 'string' ? { [k]: e[k] as string } : {});
  return {
    name,
    at: performance.now(),
    ...pick('peerId'),
    ...pick('producerId'),
    ...pick('source'),
    ...pick('kind'),
    ...pick('state'),
    ...pick('reason'),
    ...pick('code'),
    ...(event instanceof Error ? { message: event.message } : {}),
  };
}

async function sumStats(reports: Promise<RTCStatsReport>[], type: string, field: 'bytesReceived' | 'bytesSent'): Promise<number> {
  let total = 0;
  for (const report of await Promise.all(reports.map((r) => r.catch(() => undefined)))) {
    report?.forEach((s: { type: string; [k: string]: unknown }) => {
      if (s.type === type && typeof s[field] === 'number') total += s[field] as number;
    });
  }
  return total;
}

let signaling: { close(): void } | undefined;

const api: LecternTestApi = {
  LectureClient,
  LecternClientError,
  client: undefined,
  events: [],
  async start(options = {}) {
    const params = new URLSearchParams(location.search);
    const wsUrl = `ws://${location.host}/ws?${params.toString()}`;
    let client: LectureClient | undefined;
    const s = await connect(wsUrl, (name, data) => client?.handleNotification(name, data));
    signaling = s;
    client = new LectureClient({ ...options, request: s.request });
    for (const name of EVENT_NAMES) client.on(name, (event: unknown) => api.events.push(summarize(name, event)));
    api.client = client;
  },
  async inboundBytes() {
    const tracks = [...(api.client?.remoteTracks.values() ?? [])];
    return {
      audio: await sumStats(tracks.filter((t) => t.kind === 'audio').map((t) => t.getStats()), 'inbound-rtp', 'bytesReceived'),
      video: await sumStats(tracks.filter((t) => t.kind === 'video').map((t) => t.getStats()), 'inbound-rtp', 'bytesReceived'),
    };
  },
  async outboundBytes() {
    const tracks = [...(api.client?.localTracks.values() ?? [])].filter((t) => t.producerId !== undefined);
    return {
      audio: await sumStats(tracks.filter((t) => t.kind === 'audio').map((t) => t.getStats()), 'outbound-rtp', 'bytesSent'),
      video: await sumStats(tracks.filter((t) => t.kind === 'video').map((t) => t.getStats()), 'outbound-rtp', 'bytesSent'),
    };
  },
  async waitForInbound(kind, min = 0, timeoutMs = 15_000) {
    const started = performance.now();
    while ((await api.inboundBytes())[kind] <= min) {
      if (performance.now() - started > timeoutMs) throw new Error(`no inbound ${kind} beyond ${min} bytes after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return performance.now() - started;
  },
  closeSignaling() {
    signaling?.close();
  },
};

window.lecternTest = api;
