// Property-based fuzzing of the whole request API (RoomManager.handle) against a
// real mediasoup worker pool: random JSON, mutations of valid payloads captured
// from a real scenario, and random multi-peer sequences (some of them
// concurrent). Every request must settle with plain JSON or a typed LecternError
// (never INTERNAL: a client cannot cause a server bug), nothing may escape as an
// unhandled rejection, the workers must stay alive, and once every peer has left
// nothing may be left behind: no transport, producer, consumer, pipe, hand, peer
// or room, by the SDK's own counts and by mediasoup's (observer events, worker dump).
//
// Reproduce a failure with the seed fast-check prints:
//   LECTERN_FUZZ_SEED=<seed> bash scripts/test.sh packages/server-sdk/test/fuzz-api.test.ts
// Fuzz longer locally: LECTERN_FUZZ_SCALE=10 (multiplies every run count).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import type { types } from 'mediasoup';
import { hostRequestMethods, isErrorCode, requestMethods, type RequestMethod, type ResponseMap, type RtpCapabilities } from '@lectern/protocol';
import { allRequestSchemas } from '@lectern/protocol/schemas';
import { LecternError, RoomManager, type PeerContext } from '@lectern/server-sdk';
import { requestHandlers } from '../src/api/dispatch.js';
import type { TokenBuckets } from '../src/util/token-bucket.js';
import { waitFor, workerTotals } from './helpers.js';

const SEED = Number(process.env.LECTERN_FUZZ_SEED ?? 0x1ec7e2);
const SCALE = Number(process.env.LECTERN_FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** Empty rooms close after this long: teardown waits for the manager to drop the room by itself. */
const EMPTY_ROOM_MS = 25;
const RATE = { perSecond: 500, burst: 60 };

// ---------------------------------------------------------------- the methods (from the source of truth)

/** Every method the protocol's schemas define: a new method is fuzzed without touching this file. */
const METHODS = Object.keys(allRequestSchemas) as RequestMethod[];

// ---------------------------------------------------------------- what the SDK and mediasoup hold

let manager: RoomManager;
let caps: RtpCapabilities;
/** Live mediasoup objects, from the workers' observer events (mediasoup's truth, not the SDK's maps). */
const live = { routers: 0, transports: 0, producers: 0, consumers: 0, dataProducers: 0, dataConsumers: 0, rtpObservers: 0 };
const unhandled: unknown[] = [];
const workerDeaths: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
/** Outcomes by method and code: what the fuzzing reached (printed as diagnostics). */
const tally = new Map<string, number>();
let roomSeq = 0;

function countLive(worker: types.Worker): void {
  const track = (key: keyof typeof live, observer: { once(e: 'close', f: () => void): unknown }) => {
    live[key] += 1;
    observer.once('close', () => (live[key] -= 1));
  };
  worker.observer.on('newrouter', (router) => {
    track('routers', router.observer);
    router.observer.on('newrtpobserver', (o) => track('rtpObservers', o.observer));
    router.observer.on('newtransport', (transport) => {
      track('transports', transport.observer);
      transport.observer.on('newproducer', (p) => track('producers', p.observer));
      transport.observer.on('newconsumer', (c) => track('consumers', c.observer));
      transport.observer.on('newdataproducer', (p) => track('dataProducers', p.observer));
      transport.observer.on('newdataconsumer', (c) => track('dataConsumers', c.observer));
    });
  });
}

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  // Two workers and two transports per router: rooms shard, so producers are piped.
  // Plain transports on: the host-enabled methods are fuzzed too.
  manager = await RoomManager.create({
    workers: { numWorkers: 2 },
    room: { maxTransportsPerRouter: 2, studentMedia: 'all' },
    plainTransport: { enabled: true },
    emptyRoomTimeoutMs: EMPTY_ROOM_MS,
    // Tight enough that floods (and some long sequences) are refused, loose enough for the scenario.
    requestRateLimit: RATE,
  });
  for (const slot of manager.pool.workers) countLive(slot.worker);
  manager.on('workerDied', (e) => workerDeaths.push(e));
  caps = (await manager.request({ roomId: 'caps', peerId: 'caps' }, 'getRouterRtpCapabilities', {})).routerRtpCapabilities;
  manager.closeRoom('caps');
});
after(() => {
  manager?.close();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

// ---------------------------------------------------------------- payloads

const UNKNOWN_ID = '0f3c5c0e-6a1e-4d55-9a43-7d2b8c1e9f00';
const FINGERPRINT = Array(32).fill('AB').join(':');
const dtls = () => ({ role: 'client', fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }] });
const opus = (ssrc: number) => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});
const vp8 = (ssrc: number, simulcast: boolean) => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }],
  encodings: simulcast ? [0, 1, 2].map((i) => ({ ssrc: ssrc + i * 1000, scaleResolutionDownBy: 4 / 2 ** i })) : [{ ssrc }],
});
const MEDIA = [
  ['microphone', 'audio'],
  ['camera', 'video'],
  ['screen', 'video'],
  ['screen-audio', 'audio'],
] as const;
const SRTP_SUITES = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const;
const GESTURES = ['raised-hand', 'thumbs-up', 'thumbs-down', 'open-palm'] as const;
const PHASES = ['start', 'hold', 'end'] as const;

/** What a run has seen: ids from replies (kept after they close: stale ids are fuzz input too). */
interface RunState {
  roomId: string;
  transports: { id: string; peerId: string; kind: 'send' | 'recv' | 'plain' }[];
  producers: { id: string; peerId: string }[];
  consumers: { id: string; peerId: string; kind: string }[];
  /** Every peer id that joined the run's room (teardown makes each one leave). */
  joined: Map<string, PeerContext>;
  ssrc: number;
}

/**
 * An id of `list`: mostly one `prefer` accepts (the caller's own, usually),
 * sometimes anyone's (another peer's, or a closed one's), sometimes unknown.
 */
function pickId<T extends { id: string }>(list: T[], pick: number, prefer: (x: T) => boolean): string {
  const preferred = list.filter(prefer);
  const i = Math.floor(pick / 5);
  const mode = pick % 5; // 0-2: preferred, 3: anyone's, 4: unknown
  if (mode <= 2 && preferred.length > 0) return preferred[i % preferred.length]!.id;
  if (mode <= 3 && list.length > 0) return list[i % list.length]!.id;
  return UNKNOWN_ID;
}

type Builder = (s: RunState, caller: string, pick: number) => unknown;

/**
 * A plausible payload for every method (ids from the run's replies). Typed over
 * every RequestMethod: a new method does not compile until it has a builder.
 */
const builders: { [M in RequestMethod]: Builder } = {
  getRouterRtpCapabilities: () => ({}),
  join: (_s, caller, pick) => ({
    rtpCapabilities: caps,
    ...(pick % 2 ? { displayName: `peer ${caller}` } : {}),
    ...(pick % 3 ? {} : { appData: { seat: pick } }),
  }),
  createWebRtcTransport: (_s, _c, pick) => ({ direction: pick % 2 ? 'send' : 'recv', ...(pick % 5 === 4 ? { forceTcp: true } : {}) }),
  connectTransport: (s, caller, pick) => ({
    transportId: pickId(s.transports, pick, (t) => t.peerId === caller && t.kind !== 'plain'),
    dtlsParameters: dtls(),
  }),
  restartIce: (s, caller, pick) => ({ transportId: pickId(s.transports, pick, (t) => t.peerId === caller && t.kind !== 'plain') }),
  createPlainTransport: (_s, _c, pick) =>
    [{}, { comedia: true }, { rtcpMux: false }, { enableSrtp: true, srtpCryptoSuite: SRTP_SUITES[Math.floor(pick / 4) % SRTP_SUITES.length] }][pick % 4],
  connectPlainTransport: (s, caller, pick) => ({
    transportId: pickId(s.transports, pick, (t) => t.peerId === caller && t.kind === 'plain'),
    ip: '127.0.0.1',
    port: 9, // discard: nothing listens, nothing is sent anywhere but loopback
    ...(pick % 3 === 1 ? { rtcpPort: 9 } : {}),
    // Every suite, with a key of the length AES_CM_128 needs (40 base64 characters) or of another suite's (60).
    ...(pick % 3 === 2 ? { srtpParameters: { cryptoSuite: SRTP_SUITES[pick % SRTP_SUITES.length], keyBase64: 'A'.repeat(pick % 2 ? 40 : 60) } } : {}),
  }),
  produce: (s, caller, pick) => {
    const [source, kind] = MEDIA[pick % MEDIA.length]!;
    const ssrc = (s.ssrc += 10_000);
    return {
      transportId: pickId(s.transports, Math.floor(pick / 4), (t) => t.peerId === caller && t.kind !== 'recv'),
      kind,
      source,
      rtpParameters: kind === 'audio' ? opus(ssrc) : vp8(ssrc, pick % 3 === 0),
      ...(pick % 7 === 0 ? { paused: true } : {}),
    };
  },
  closeProducer: (s, caller, pick) => ({ producerId: pickId(s.producers, pick, (p) => p.peerId === caller) }),
  pauseProducer: (s, caller, pick) => ({ producerId: pickId(s.producers, pick, (p) => p.peerId === caller) }),
  resumeProducer: (s, caller, pick) => ({ producerId: pickId(s.producers, pick, (p) => p.peerId === caller) }),
  consume: (s, caller, pick) => ({
    producerId: pickId(s.producers, pick, (p) => p.peerId !== caller),
    ...(pick % 4 === 3 ? { transportId: pickId(s.transports, Math.floor(pick / 4), (t) => t.peerId === caller && t.kind !== 'send') } : {}),
  }),
  pauseConsumer: (s, caller, pick) => ({ consumerId: pickId(s.consumers, pick, (c) => c.peerId === caller) }),
  resumeConsumer: (s, caller, pick) => ({ consumerId: pickId(s.consumers, pick, (c) => c.peerId === caller) }),
  setConsumerPreferredLayers: (s, caller, pick) => ({
    consumerId: pickId(s.consumers, pick, (c) => c.peerId === caller && c.kind === 'video'),
    spatialLayer: pick % 3,
    ...(pick % 2 ? { temporalLayer: pick % 4 } : {}),
  }),
  leave: () => ({}),
  sendGesture: (_s, _c, pick) => ({ gesture: GESTURES[pick % 4], phase: PHASES[pick % 3], confidence: (pick % 11) / 10 }),
  raiseHand: () => ({}),
  lowerHand: () => ({}),
  getHandQueue: () => ({}),
  dismissHand: (s, caller, pick) => ({ peerId: pickId([...s.joined.keys()].map((id) => ({ id })), pick, (p) => p.id !== caller) }),
  clearHandQueue: () => ({}),
  listPeers: () => ({}),
  removePeer: (s, caller, pick) => ({
    peerId: pickId([...s.joined.keys()].map((id) => ({ id })), pick, (p) => p.id !== caller),
    ...(pick % 3 === 0 ? { reason: 'fuzzed out' } : {}),
    ...(pick % 4 === 1 ? { ban: true } : {}),
    ...(pick % 8 === 5 ? { ban: true, banSeconds: 1 } : {}),
  }),
  muteProducer: (s, caller, pick) => ({
    producerId: pickId(s.producers, pick, (p) => p.peerId !== caller),
    ...(pick % 2 ? { close: true } : {}),
    ...(pick % 3 === 0 ? { reason: 'quiet, please' } : {}),
  }),
  endRoom: (_s, _c, pick) => (pick % 2 ? {} : { reason: 'the fuzzer ends it' }),
};

// ---------------------------------------------------------------- calling and checking

/** A value for messages: bounded, and safe for BigInt, cycles and null-prototype objects. */
const show = (v: unknown) => inspect(v, { depth: 3, maxStringLength: 80, maxArrayLength: 8, breakLength: Infinity }).slice(0, 600);

/**
 * The property every request must satisfy, whatever it was: it settles with
 * plain JSON, or with a LecternError whose code is the protocol's, is not
 * INTERNAL, and whose JSON is bounded.
 */
function check(what: string, outcome: PromiseSettledResult<unknown>): void {
  if (outcome.status === 'fulfilled') {
    const text = JSON.stringify(outcome.value);
    assert.equal(typeof text, 'string', `${what}: the reply is not JSON`);
    return;
  }
  const error = outcome.reason;
  if (!(error instanceof LecternError)) assert.fail(`${what}: rejected with a ${error?.constructor?.name ?? typeof error}, not a LecternError: ${show(error)}`);
  assert.ok(isErrorCode(error.code), `${what}: code ${show(error.code)} is not one of the protocol's`);
  assert.notEqual(error.code, 'INTERNAL', `${what}: INTERNAL (${error.message}); cause: ${show(error.cause)}`);
  const json = error.toJSON();
  assert.deepEqual(JSON.parse(JSON.stringify(json)), json, `${what}: toJSON() is not plain JSON`);
  assert.ok(json.message.length < 500 && JSON.stringify(json).length < 2000, `${what}: the error is ${JSON.stringify(json).length} characters`);
}

/** One request through the host's entry point; checked, and its ids learnt when it succeeds. */
async function call(s: RunState | undefined, context: unknown, method: unknown, data: unknown): Promise<PromiseSettledResult<unknown>> {
  const outcome = await manager.handle(context as PeerContext, method as string, data).then(
    (value): PromiseSettledResult<unknown> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseSettledResult<unknown> => ({ status: 'rejected', reason }),
  );
  check(`${show(method)} as ${show(context)} with ${show(data)}`, outcome);
  const key = `${typeof method === 'string' && Object.hasOwn(builders, method) ? method : '(other)'} ${outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as LecternError).code}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  if (s && outcome.status === 'fulfilled') learn(s, context as PeerContext, method as RequestMethod, data, outcome.value);
  return outcome;
}

function learn(s: RunState, context: PeerContext, method: RequestMethod, data: unknown, reply: unknown): void {
  if (context.roomId !== s.roomId) return;
  const r = reply as Partial<ResponseMap['createWebRtcTransport'] & ResponseMap['produce'] & ResponseMap['consume']>;
  const d = data as { direction?: 'send' | 'recv' };
  if (method === 'join') s.joined.set(context.peerId, context);
  if (method === 'createWebRtcTransport') s.transports.push({ id: r.transportId!, peerId: context.peerId, kind: d.direction! });
  if (method === 'createPlainTransport') s.transports.push({ id: r.transportId!, peerId: context.peerId, kind: 'plain' });
  if (method === 'produce') s.producers.push({ id: r.producerId!, peerId: context.peerId });
  if (method === 'consume' && !s.consumers.some((c) => c.id === r.consumerId)) {
    s.consumers.push({ id: r.consumerId!, peerId: context.peerId, kind: r.kind! });
  }
}

const newState = (): RunState => ({ roomId: `fuzz-${++roomSeq}`, transports: [], producers: [], consumers: [], joined: new Map(), ssrc: 0 });

// ---------------------------------------------------------------- the real scenario (valid payloads captured from it)

/** The scenario's peers; `stranger` never joins, `gone` joins and leaves. */
const PEERS = [
  ['lecturer', 'lecturer'],
  ['s1', 'student'],
  ['s2', 'student'],
  ['gone', 'student'],
  ['stranger', 'student'],
] as const;
type PeerName = (typeof PEERS)[number][0];
const contextOf = (s: RunState, name: string, role?: string): PeerContext => ({ roomId: s.roomId, peerId: name, role } as PeerContext);
const roleOf = (name: string) => PEERS.find(([n]) => n === name)?.[1] ?? 'student';

/** A successful request of the scenario, as sent. */
interface Captured {
  method: RequestMethod;
  peer: PeerName;
  data: unknown;
}

/**
 * Builds a room every run starts from: a lecturer with send/recv/plain
 * transports, microphone and simulcast camera; two students on a second router
 * (so the lecturer's producers are piped), consumers, hands, a peer that left.
 * Every request must succeed; each is captured (the mutation fuzzer starts from them).
 */
async function scenario(): Promise<{ s: RunState; captured: Captured[] }> {
  const s = newState();
  const captured: Captured[] = [];
  const ok = async (peer: PeerName, method: RequestMethod, data: unknown) => {
    const outcome = await call(s, contextOf(s, peer, roleOf(peer)), method, data);
    if (outcome.status === 'rejected') assert.fail(`scenario: ${method} as ${peer} failed: ${show(outcome.reason)}`);
    captured.push({ method, peer, data: structuredClone(data) });
    return outcome.value as Record<string, string>;
  };
  for (const peer of ['lecturer', 's1', 's2', 'gone'] as const) await ok(peer, 'join', { rtpCapabilities: caps, displayName: peer });
  const lSend = (await ok('lecturer', 'createWebRtcTransport', { direction: 'send' })).transportId!;
  const lRecv = (await ok('lecturer', 'createWebRtcTransport', { direction: 'recv' })).transportId!;
  await ok('lecturer', 'connectTransport', { transportId: lRecv, dtlsParameters: dtls() });
  const mic = (await ok('lecturer', 'produce', { transportId: lSend, kind: 'audio', source: 'microphone', rtpParameters: opus(1111) })).producerId!;
  const cam = (await ok('lecturer', 'produce', { transportId: lSend, kind: 'video', source: 'camera', rtpParameters: vp8(2222, true) })).producerId!;
  const extra = (await ok('lecturer', 'produce', { transportId: lSend, kind: 'audio', source: 'screen-audio', rtpParameters: opus(3333) })).producerId!;
  const plain = (await ok('lecturer', 'createPlainTransport', { comedia: false })).transportId!;
  await ok('lecturer', 'connectPlainTransport', { transportId: plain, ip: '127.0.0.1', port: 9 });
  const s1Send = (await ok('s1', 'createWebRtcTransport', { direction: 'send' })).transportId!;
  await ok('s1', 'createWebRtcTransport', { direction: 'recv' });
  const s1Producer = (await ok('s1', 'produce', { transportId: s1Send, kind: 'audio', source: 'microphone', rtpParameters: opus(4444) })).producerId!;
  const s1Mic = (await ok('s1', 'consume', { producerId: mic })).consumerId!;
  const s1Cam = (await ok('s1', 'consume', { producerId: cam })).consumerId!;
  await ok('s1', 'resumeConsumer', { consumerId: s1Cam });
  await ok('s1', 'setConsumerPreferredLayers', { consumerId: s1Cam, spatialLayer: 1, temporalLayer: 1 });
  await ok('s1', 'pauseConsumer', { consumerId: s1Mic });
  const s2Recv = (await ok('s2', 'createWebRtcTransport', { direction: 'recv' })).transportId!;
  await ok('s2', 'consume', { producerId: mic, transportId: s2Recv });
  await ok('lecturer', 'pauseProducer', { producerId: extra });
  await ok('lecturer', 'resumeProducer', { producerId: extra });
  await ok('lecturer', 'restartIce', { transportId: lSend });
  await ok('lecturer', 'closeProducer', { producerId: extra });
  await ok('s1', 'sendGesture', { gesture: 'raised-hand', phase: 'start', confidence: 0.9 });
  await ok('s2', 'raiseHand', {});
  await ok('s2', 'lowerHand', {});
  await ok('lecturer', 'getHandQueue', {});
  await ok('lecturer', 'dismissHand', { peerId: 's1' });
  await ok('s2', 'raiseHand', {});
  await ok('lecturer', 'clearHandQueue', {});
  // The admin API: list, mute a student, remove one (who joins again), end a room of its own.
  await ok('lecturer', 'listPeers', {});
  await ok('lecturer', 'muteProducer', { producerId: s1Producer, reason: 'quiet, please' });
  await ok('lecturer', 'removePeer', { peerId: 's2', reason: 'the scenario removes s2' });
  await ok('s2', 'join', { rtpCapabilities: caps, displayName: 's2' });
  const ending = { roomId: `${s.roomId}-end`, peerId: 'lecturer', role: 'lecturer' };
  for (const [method, data] of [['join', { rtpCapabilities: caps }], ['endRoom', { reason: 'the scenario ends it' }]] as const) {
    const outcome = await call(undefined, ending, method, data);
    if (outcome.status === 'rejected') assert.fail(`scenario: ${method} in ${ending.roomId} failed: ${show(outcome.reason)}`);
  }
  captured.push({ method: 'endRoom', peer: 'lecturer', data: { reason: 'the scenario ends it' } });
  const goneSend = (await ok('gone', 'createWebRtcTransport', { direction: 'send' })).transportId!;
  await ok('gone', 'produce', { transportId: goneSend, kind: 'audio', source: 'microphone', rtpParameters: opus(5555) });
  await ok('gone', 'leave', {});
  s.joined.delete('gone');
  await ok('stranger', 'getRouterRtpCapabilities', {});
  return { s, captured };
}

/**
 * Every peer leaves, then: the room holds nothing, the manager drops it (the
 * empty-room timer), rooms the run created through other contexts are closed,
 * and mediasoup holds nothing either. The workers are alive; nothing escaped.
 */
async function teardown(s: RunState): Promise<void> {
  for (const context of s.joined.values()) await call(undefined, context, 'leave', {});
  // Rooms the run created through contexts the host got wrong are not this check's subject.
  for (const roomId of manager.roomIds) if (roomId !== s.roomId) manager.closeRoom(roomId);
  const room = manager.getRoom(s.roomId);
  if (room) {
    const stats = room.stats();
    assert.deepEqual(
      { peers: stats.peers, producers: stats.producers, consumers: stats.consumers, serverConsumers: stats.serverConsumers, pipes: stats.pipes },
      { peers: 0, producers: 0, consumers: 0, serverConsumers: 0, pipes: 0 },
      'the room is empty once every peer left',
    );
    assert.ok(stats.routers.length <= 1, `extra routers are retired (${stats.routers.length} left)`);
    assert.deepEqual(stats.routers.map((r) => r.transports).filter((n) => n !== 0), [], 'no transport counted on a router');
    assert.deepEqual(room.handQueueSnapshot(), [], 'the hand queue is empty');
    assert.deepEqual(workerTotals(manager), { routers: stats.routers.length, transports: 0, pipeTransports: 0, consumers: 0 });
    await waitFor('the empty room to close', () => manager.getRoom(s.roomId) === undefined, 5000, 5);
  }
  assert.deepEqual(manager.roomIds, [], 'the manager holds no room');
  assert.deepEqual(live, { routers: 0, transports: 0, producers: 0, consumers: 0, dataProducers: 0, dataConsumers: 0, rtpObservers: 0 });
  for (const slot of manager.pool.workers) {
    assert.equal(slot.worker.closed, false, 'the worker is alive');
    assert.deepEqual((await slot.worker.dump()).routerIds, [], 'the worker holds no router');
  }
  assert.deepEqual(workerDeaths, [], 'no worker died');
  assert.deepEqual(unhandled.map(show), [], 'no unhandled rejection or uncaught exception');
}

/**
 * Runs one property run and its teardown. A run that fails (fast-check then
 * shrinks, re-running smaller inputs) first closes every room, so the next run
 * starts from nothing: each run is judged on its own.
 */
async function isolated(s: RunState, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    await teardown(s);
  } catch (error) {
    for (const roomId of manager.roomIds) manager.closeRoom(roomId);
    unhandled.length = 0;
    throw error;
  }
}

/** Sends requests at once; every one is awaited (and checked) before the first failure is rethrown. */
async function concurrently(sends: (() => Promise<unknown>)[]): Promise<void> {
  const settled = await Promise.allSettled(sends.map((f) => f()));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

// ---------------------------------------------------------------- arbitraries

const anyOpts = {
  maxDepth: 3,
  maxKeys: 5,
  withNullPrototype: true,
  withBigInt: true,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  withObjectString: true,
  key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'then', 'valueOf')),
} as const;
const specialNumber = fc.constantFrom(NaN, Infinity, -Infinity, -0, 0.5, -1, 256, 65536, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 1e308, 5e-324, -(2 ** 63));
const bigString = fc.constantFrom(10_240, 70_000).map((n) => 'x'.repeat(n));
/** Objects and arrays nested deeper than any schema (and, at 200 000, deeper than JSON.stringify's stack). */
const deep = fc.tuple(fc.constantFrom(64, 2000, 200_000), fc.boolean()).map(([depth, arrays]) => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  // fast-check would print it recursively (and overflow its own stack): say what it is instead.
  Object.defineProperty(v, fc.toStringMethod, { value: () => `<${depth} nested ${arrays ? 'arrays' : 'objects'}>` });
  return v;
});
/** `__proto__` as an own key (what JSON.parse makes) and prototype-pollution shapes. */
const protoObject = fc.constantFrom(
  () => JSON.parse('{"__proto__": {"polluted": true, "direction": "send", "producerId": "x"}}'),
  () => JSON.parse('{"constructor": {"prototype": {"polluted": true}}}'),
  () => Object.create(null),
  () => JSON.parse('{"__proto__": null}'),
).map((f) => f() as unknown);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 2, arbitrary: specialNumber },
  { weight: 2, arbitrary: fc.constantFrom('', null, [], {}, true, false, 0, UNKNOWN_ID, 'lecturer', 's1') },
  { weight: 1, arbitrary: bigString },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: protoObject },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.anything(anyOpts) },
);
/** A payload for `method`: anything, or an object with the method's own keys (and hostile ones) set to random values. */
const randomPayload = (method: string): fc.Arbitrary<unknown> => {
  const schema = (allRequestSchemas as Record<string, { shape?: Record<string, unknown> }>)[method];
  const keys = Object.keys(schema?.shape ?? {});
  return fc.oneof(
    value,
    fc.dictionary(fc.constantFrom(...keys, '__proto__', 'constructor', 'extra'), value, { maxKeys: keys.length + 1, noNullPrototype: false }),
  );
};
const weirdMethod = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'JOIN', 'join ', 'x'.repeat(70_000)),
  fc.string({ maxLength: 12 }),
  fc.anything(anyOpts),
);
const methodArb = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...METHODS) }, { weight: 1, arbitrary: weirdMethod });

/** Who calls: a peer of the run (maybe claiming another role), or a context the host got wrong. */
type Who =
  | { kind: 'peer'; peer: PeerName; role?: unknown }
  | { kind: 'tweaked'; peer: PeerName; patch: Record<string, unknown> }
  | { kind: 'raw'; context: unknown };
const peerArb = fc.constantFrom(...PEERS.map(([n]) => n));
const whoArb: fc.Arbitrary<Who> = fc.oneof(
  { weight: 16, arbitrary: peerArb.map((peer): Who => ({ kind: 'peer', peer })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('peer' as const), peer: peerArb, role: fc.constantFrom('lecturer', 'student', undefined) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('tweaked' as const),
      peer: peerArb,
      patch: fc.dictionary(
        fc.constantFrom('roomId', 'peerId', 'role', 'roomOptions', 'grants', 'displayName', '__proto__'),
        fc.oneof(
          value,
          // Grants a host may state (some valid, some not): what they allow is checked by the dispatch table.
          fc.record(
            {
              canPublish: fc.subarray(['microphone', 'camera', 'screen', 'screen-audio', 'hologram']),
              canSubscribe: fc.boolean(),
              canRaiseHand: fc.boolean(),
              roomAdmin: fc.boolean(),
              plainTransport: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
          fc.constantFrom('other-room', 'new-peer', 'admin', 'a'.repeat(64), 'a'.repeat(65)),
          fc.dictionary(
            fc.constantFrom('maxTransportsPerRouter', 'studentMedia', 'maxPeers', 'mediaCodecs', 'activeSpeaker', '__proto__'),
            value,
            { maxKeys: 3 },
          ),
        ),
        { minKeys: 1, maxKeys: 2, noNullPrototype: false },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), context: fc.oneof(value, fc.anything(anyOpts)) }) },
);
function contextFor(s: RunState, who: Who): unknown {
  if (who.kind === 'raw') return who.context;
  const base = contextOf(s, who.peer, roleOf(who.peer));
  if (who.kind === 'peer') return 'role' in who ? { ...base, role: who.role } : base;
  const context: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(who.patch)) Object.defineProperty(context, k, { value: v, enumerable: true, writable: true, configurable: true });
  return context;
}

// ---------------------------------------------------------------- mutations of valid payloads

/** One change to a valid payload, at a position chosen among its paths. */
type Mutation =
  | { op: 'drop'; at: number }
  | { op: 'set'; at: number; value: unknown }
  | { op: 'id'; at: number; pick: number }
  | { op: 'number'; at: number; value: number }
  | { op: 'add'; at: number; key: string; value: unknown };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value }),
  fc.record({ op: fc.constant('id' as const), at: fc.nat(), pick: fc.nat() }),
  fc.record({ op: fc.constant('number' as const), at: fc.nat(), value: fc.oneof(specialNumber, fc.integer()) }),
  // Values a schema accepts but mediasoup may not (payload types, SSRCs, ids, layers, short strings):
  // these get past zod and reach mediasoup's own validation and the worker.
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom('audio/opus', 'video/VP8', 'video/rtx', 'video/H264', 'audio/PCMU', 'L1T3', 'L3T3_KEY', 'S3T3', 'r0', '0', 'a', ''),
      fc.string({ maxLength: 12 }),
    ),
  }),
  fc.record({
    op: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.constantFrom('__proto__', 'constructor', 'extra', 'peerId', 'x'.repeat(100)),
    value,
  }),
);

type Path = (string | number)[];
/** Every path of a JSON value (objects and arrays included, the root first), down to the depth valid payloads have. */
function paths(v: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (prefix.length >= 8) return out; // a nested value an earlier mutation set: not a place worth aiming at
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}
/** JSON objects (not typed arrays, maps, boxed values... that a mutation may have put in). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
function getAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], root);
}
/** Every id a run knows (transports, producers, consumers and peers of anyone), plus unknown and empty. */
function anyId(s: RunState, pick: number): string {
  const ids = [...s.transports, ...s.producers, ...s.consumers].map((x) => x.id).concat([...s.joined.keys()], ['stranger', 'gone', UNKNOWN_ID, '']);
  return ids[pick % ids.length]!;
}
function mutate(s: RunState, payload: unknown, mutations: Mutation[]): unknown {
  let root: unknown = structuredClone(payload);
  for (const m of mutations) {
    const all = paths(root);
    const path = all[m.at % all.length]!;
    const replace = (next: unknown) => {
      if (path.length === 0) return void (root = next);
      const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
      parent[path.at(-1)!] = next;
    };
    switch (m.op) {
      case 'drop':
        if (path.length === 0) root = undefined;
        else {
          const parent = getAt(root, path.slice(0, -1));
          if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1);
          else delete (parent as Record<string, unknown>)[path.at(-1) as string];
        }
        break;
      case 'set':
        replace(m.value);
        break;
      case 'id':
        replace(anyId(s, m.pick));
        break;
      case 'number':
        replace(m.value);
        break;
      case 'add': {
        const target = getAt(root, path);
        if (isPlainObject(target) || Array.isArray(target)) {
          Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
        }
        break;
      }
    }
  }
  return root;
}

// ---------------------------------------------------------------- the properties

test('every method of the protocol is fuzzed: the schemas, the lists and the dispatch table agree', () => {
  assert.ok(METHODS.length > 0);
  assert.deepEqual([...METHODS].sort(), [...requestMethods, ...hostRequestMethods].sort());
  assert.deepEqual([...METHODS].sort(), Object.keys(requestHandlers).sort());
  assert.deepEqual([...METHODS].sort(), Object.keys(builders).sort());
});

test('the scenario succeeds, captures a valid payload of every method, and leaves nothing behind', async () => {
  const { s, captured } = await scenario();
  const seen = new Set(captured.map((c) => c.method));
  assert.deepEqual(METHODS.filter((m) => !seen.has(m)), [], 'methods without a valid payload in the scenario');
  const stats = manager.getRoom(s.roomId)!.stats();
  assert.equal(stats.routers.length, 2, 'the students were placed on a second router');
  assert.ok(stats.pipes >= 1, 'and the lecturer is piped to it');
  await teardown(s);
});

test('(a) random payloads, methods and contexts: typed errors only, nothing left behind', async () => {
  const callArb = methodArb.chain((method) => fc.record({ method: fc.constant(method), who: whoArb, data: randomPayload(typeof method === 'string' ? method : '') }));
  await fc.assert(
    fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 12 }), async (calls) => {
      const { s } = await scenario();
      await isolated(s, async () => {
        for (const c of calls) await call(s, contextFor(s, c.who), c.method, c.data);
      });
    }),
    { seed: SEED, numRuns: runs(100) },
  );
});

test('(b) mutations of valid payloads (dropped fields, wrong types, out-of-range numbers, other peers\' ids)', async () => {
  const mutatedArb = fc.record({
    index: fc.nat(),
    who: fc.option(whoArb, { freq: 3 }),
    mutations: fc.array(mutationArb, { minLength: 0, maxLength: 3 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(mutatedArb, { minLength: 1, maxLength: 16 }), async (calls) => {
      const { s, captured } = await scenario();
      await isolated(s, async () => {
        for (const c of calls) {
          const base = captured[c.index % captured.length]!;
          const who: Who = c.who ?? { kind: 'peer', peer: base.peer };
          await call(s, contextFor(s, who), base.method, mutate(s, base.data, c.mutations));
        }
      });
    }),
    { seed: SEED + 1, numRuns: runs(100) },
  );
});

test('(c) random sequences of several peers, some concurrent, from an empty room', async () => {
  /** A request of the sequence: a plausible payload (mostly), a mutated one, or random data. */
  const request = fc.record({
    act: fc.constant('request' as const),
    who: whoArb,
    method: methodArb,
    pick: fc.nat(),
    payload: fc.oneof(
      { weight: 8, arbitrary: fc.constant<{ kind: 'valid' }>({ kind: 'valid' }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('mutated' as const), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), data: value }) },
    ),
  });
  type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;
  /**
   * What real clients and hosts do in a few steps, so sequences reach media
   * (and race it): a peer joins and publishes, a peer subscribes to everything,
   * the host closes the room.
   */
  const action = fc.oneof(
    { weight: 6, arbitrary: request },
    { weight: 2, arbitrary: fc.record({ act: fc.constant('publish' as const), peer: peerArb, pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ act: fc.constant('subscribe' as const), peer: peerArb }) },
    // Capabilities the schema accepts but mediasoup may not like, kept by the room and used at consume time.
    {
      weight: 1,
      arbitrary: fc.record({ act: fc.constant('oddJoin' as const), peer: peerArb, mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) }),
    },
    { weight: 1, arbitrary: fc.record({ act: fc.constant('leave' as const), peer: peerArb }) },
    // More requests at once than the rate limit's burst: the refused ones must change nothing.
    { weight: 1, arbitrary: fc.record({ act: fc.constant('flood' as const), peer: peerArb, method: fc.constantFrom(...METHODS), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ act: 'closeRoom' as const }) },
  );
  type Action = typeof action extends fc.Arbitrary<infer T> ? T : never;
  const step = fc.oneof(
    { weight: 3, arbitrary: action.map((a) => [a]) },
    { weight: 2, arbitrary: fc.array(action, { minLength: 2, maxLength: 5 }) },
  );
  const payloadOf = (s: RunState, c: Request): unknown => {
    const caller = c.who.kind === 'raw' ? 'stranger' : c.who.peer;
    const build = typeof c.method === 'string' && Object.hasOwn(builders, c.method) ? builders[c.method as RequestMethod] : builders.leave;
    const valid = build(s, caller, c.pick);
    if (c.payload.kind === 'valid') return valid;
    if (c.payload.kind === 'mutated') return mutate(s, valid, c.payload.mutations);
    return c.payload.data;
  };
  const perform = async (s: RunState, a: Action): Promise<void> => {
    const as = (peer: PeerName, method: RequestMethod, data: unknown) => call(s, contextOf(s, peer, roleOf(peer)), method, data);
    switch (a.act) {
      case 'request':
        await call(s, contextFor(s, a.who), a.method, payloadOf(s, a));
        return;
      case 'publish': {
        await as(a.peer, 'join', builders.join(s, a.peer, a.pick));
        const send = await as(a.peer, 'createWebRtcTransport', { direction: 'send' });
        await as(a.peer, 'createWebRtcTransport', { direction: 'recv' });
        if (send.status !== 'fulfilled') return;
        const transportId = (send.value as { transportId: string }).transportId;
        for (const [source, kind] of MEDIA.slice(0, 1 + (a.pick % MEDIA.length))) {
          const ssrc = (s.ssrc += 10_000);
          await as(a.peer, 'produce', { transportId, source, kind, rtpParameters: kind === 'audio' ? opus(ssrc) : vp8(ssrc, a.pick % 2 === 0) });
        }
        return;
      }
      case 'oddJoin':
      case 'subscribe':
        if (a.act === 'oddJoin') await as(a.peer, 'join', mutate(s, builders.join(s, a.peer, 0), a.mutations));
        if (a.act === 'oddJoin' || !s.transports.some((t) => t.peerId === a.peer && t.kind === 'recv')) await as(a.peer, 'createWebRtcTransport', { direction: 'recv' });
        for (const producer of s.producers.filter((p) => p.peerId !== a.peer)) {
          const consumed = await as(a.peer, 'consume', { producerId: producer.id });
          if (consumed.status === 'fulfilled') await as(a.peer, 'resumeConsumer', { consumerId: (consumed.value as { consumerId: string }).consumerId });
        }
        return;
      case 'leave':
        await as(a.peer, 'leave', {});
        return;
      case 'flood':
        await concurrently(Array.from({ length: RATE.burst + 10 }, (_, i) => () => as(a.peer, a.method, builders[a.method](s, a.peer, a.pick + i))));
        return;
      case 'closeRoom':
        manager.closeRoom(s.roomId);
        return;
    }
  };
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 24 }), async (steps) => {
      const s = newState();
      await isolated(s, async () => {
        for (const actions of steps) await concurrently(actions.map((a) => () => perform(s, a)));
      });
    }),
    { seed: SEED + 2, numRuns: runs(120) },
  );
});

// ---------------------------------------------------------------- regressions: counterexamples the fuzzing found

test('regression: a method name or context id that String() cannot convert is a typed error, and is reported', async () => {
  // Found by (b) and (c): `{ roomId: Object.create(null) }` and `method: Object.create(null)`
  // rejected with "TypeError: Cannot convert object to primitive value" (the
  // manager printed them with String() for the error message and requestFailed).
  const failures: { roomId: string; peerId: string; method: string }[] = [];
  const onFailed = (e: { roomId: string; peerId: string; method: string }) => failures.push(e);
  manager.on('requestFailed', onFailed);
  try {
    const throwing = { toString: () => assert.fail('toString called') };
    const cases: [unknown, unknown, string][] = [
      [{ roomId: 'regression', peerId: 'p', role: 'student' }, Object.create(null), 'UNKNOWN_METHOD'],
      [{ roomId: 'regression', peerId: 'p', role: 'student' }, throwing, 'UNKNOWN_METHOD'],
      [{ roomId: Object.create(null), peerId: 'p', role: 'lecturer' }, 'join', 'INVALID_REQUEST'],
      [{ roomId: 'regression', peerId: throwing }, 'leave', 'INVALID_REQUEST'],
    ];
    for (const [context, method, code] of cases) {
      const outcome = await call(undefined, context, method, {});
      assert.equal(outcome.status === 'rejected' && (outcome.reason as LecternError).code, code);
    }
    assert.deepEqual(failures.map((f) => [f.roomId, f.peerId, f.method]), [
      ['regression', 'p', '(object)'],
      ['regression', 'p', '(object)'],
      ['(object)', 'p', 'join'],
      ['regression', '(object)', 'leave'],
    ]);
    assert.deepEqual(manager.roomIds, []);
  } finally {
    manager.off('requestFailed', onFailed);
  }
});

test('afterwards: the workers answer, nothing escaped, Object.prototype is untouched', async (t) => {
  t.diagnostic([...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', '));
  for (const slot of manager.pool.workers) await slot.worker.getResourceUsage();
  assert.deepEqual(workerDeaths, []);
  assert.deepEqual(unhandled.map(show), []);
  assert.deepEqual(Object.keys(Object.prototype), []);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // Request budgets: once refilled, every one is dropped (none is held by something else).
  const budgets = (manager as unknown as { requestBudgets: TokenBuckets<string> }).requestBudgets;
  await new Promise((r) => setTimeout(r, (RATE.burst / RATE.perSecond) * 1000 + 20));
  budgets.sweep();
  assert.equal(budgets.size, 0);
});
