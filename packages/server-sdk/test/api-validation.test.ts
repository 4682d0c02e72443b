// Malformed and hostile requests: each gets its typed error (bounded, plain JSON),
// and afterwards the SDK and mediasoup hold exactly what they held before.
// The API is driven with plain JSON, as a host's signaling would; no WebRTC client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode, LecternError, RoomManager, requestMethods, type PeerContext } from '@lectern/server-sdk';
import { workerTotals } from './helpers.js';

const ROOM = 'validation';
const contexts = {
  lecturer: { roomId: ROOM, peerId: 'lecturer', role: 'lecturer' },
  /** Has a send transport (the room allows student audio), a recv transport and a consumer of the mic. */
  s1: { roomId: ROOM, peerId: 's1', role: 'student' },
  /** Joined, no transports. */
  s2: { roomId: ROOM, peerId: 's2', role: 'student' },
  /** Joined with video-only capabilities, has a recv transport. */
  videoOnly: { roomId: ROOM, peerId: 'video-only', role: 'student' },
  /** Had transports, a producer and a consumer, then left. */
  gone: { roomId: ROOM, peerId: 'gone', role: 'student' },
  /** Never joined. */
  stranger: { roomId: ROOM, peerId: 'stranger', role: 'student' },
  /** A student in a room with studentMedia 'off'. */
  quiet: { roomId: 'quiet', peerId: 'q1', role: 'student', roomOptions: { studentMedia: 'off' } },
  /** A newcomer to a room of maxPeers 1 that already holds one peer. */
  latecomer: { roomId: 'tiny', peerId: 't2', role: 'student', roomOptions: { maxPeers: 1 } },
} satisfies Record<string, PeerContext>;
type Who = keyof typeof contexts;

/** Ids made during setup; rows whose data needs them take a function of them. */
interface Ids {
  lecturerSend: string;
  lecturerRecv: string;
  mic: string;
  s1Send: string;
  s1Consumer: string;
  goneSend: string;
  goneRecv: string;
  goneProducer: string;
  goneConsumer: string;
}

interface Row {
  name: string;
  /** A peer of the setup, or a raw (possibly broken) context the host passed. */
  as: Who | { context: unknown };
  method: string;
  /** The request body; a function receives the ids made during setup. */
  data?: ((ids: Ids) => unknown) | object | string | number | null;
  code: ErrorCode;
  message?: RegExp;
}

const MB = 'x'.repeat(1 << 20);
const UNKNOWN_ID = '0f3c5c0e-6a1e-4d55-9a43-7d2b8c1e9f00';
const FINGERPRINT = Array(32).fill('AB').join(':');
const dtls = (fingerprints: unknown = [{ algorithm: 'sha-256', value: FINGERPRINT }], role = 'client') => ({ role, fingerprints });
/** rtpParameters with one codec and one encoding. */
const rtp = (codec: Record<string, unknown>, ssrc: number, extra: Record<string, unknown> = {}) => ({
  codecs: [codec],
  encodings: [{ ssrc }],
  ...extra,
});
const OPUS = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 };
const opus = (ssrc: number, extra: Record<string, unknown> = {}) => rtp(OPUS, ssrc, extra);
const vp8 = (ssrc: number) => rtp({ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }, ssrc);
/** A produce request on the lecturer's send transport; 'screen-audio' is free, so mediasoup sees it. */
const lecturerProduces = (rtpParameters: unknown, source = 'screen-audio', kind = 'audio') => (ids: Ids) => ({
  transportId: ids.lecturerSend,
  kind,
  source,
  rtpParameters,
});
const circular: Record<string, unknown> = { direction: 'send' };
circular.self = circular;

/** Valid requests of the peer that left, each with its data. */
const afterLeave: [string, (ids: Ids) => unknown][] = [
  ['createWebRtcTransport', () => ({ direction: 'recv' })],
  ['connectTransport', (ids) => ({ transportId: ids.goneRecv, dtlsParameters: dtls() })],
  ['restartIce', (ids) => ({ transportId: ids.goneRecv })],
  ['produce', (ids) => ({ transportId: ids.goneSend, kind: 'audio', source: 'microphone', rtpParameters: opus(71) })],
  ['closeProducer', (ids) => ({ producerId: ids.goneProducer })],
  ['pauseProducer', (ids) => ({ producerId: ids.goneProducer })],
  ['resumeProducer', (ids) => ({ producerId: ids.goneProducer })],
  ['consume', (ids) => ({ producerId: ids.mic })],
  ['pauseConsumer', (ids) => ({ consumerId: ids.goneConsumer })],
  ['resumeConsumer', (ids) => ({ consumerId: ids.goneConsumer })],
  ['setConsumerPreferredLayers', (ids) => ({ consumerId: ids.goneConsumer, spatialLayer: 0 })],
  ['leave', () => ({})],
  ['sendGesture', () => ({ gesture: 'raised-hand', phase: 'start', confidence: 0.9 })],
  ['raiseHand', () => ({})],
  ['lowerHand', () => ({})],
  ['getHandQueue', () => ({})],
  ['dismissHand', () => ({ peerId: 's1' })],
  ['clearHandQueue', () => ({})],
];

/** A valid sendGesture body with `patch` applied. */
const gesture = (patch: Record<string, unknown> = {}) => ({ gesture: 'raised-hand', phase: 'start', confidence: 0.9, ...patch });

const rows: Row[] = [
  // --- method names and envelopes
  { name: 'unknown method', as: 'lecturer', method: 'fly', data: {}, code: 'UNKNOWN_METHOD' },
  { name: 'method __proto__', as: 'lecturer', method: '__proto__', data: {}, code: 'UNKNOWN_METHOD' },
  { name: 'method constructor', as: 'lecturer', method: 'constructor', data: {}, code: 'UNKNOWN_METHOD' },
  { name: 'method hasOwnProperty', as: 'lecturer', method: 'hasOwnProperty', data: {}, code: 'UNKNOWN_METHOD' },
  { name: 'a 1 MB method name', as: 'lecturer', method: MB, data: {}, code: 'UNKNOWN_METHOD', message: /^unknown method: x+…$/ },
  { name: 'circular payload', as: 's2', method: 'createWebRtcTransport', data: circular, code: 'INVALID_REQUEST', message: /JSON/ },
  {
    name: 'payload with a BigInt',
    as: 's2',
    method: 'createWebRtcTransport',
    data: { direction: 'recv', n: 10n },
    code: 'INVALID_REQUEST',
  },
  {
    name: 'request body over 64 KiB',
    as: 'stranger',
    method: 'join',
    data: { rtpCapabilities: {}, padding: 'x'.repeat(70_000) },
    code: 'INVALID_REQUEST',
    message: /limit is 65536/,
  },
  {
    name: 'a 1 MB producer id (over the size limit)',
    as: 'lecturer',
    method: 'closeProducer',
    data: { producerId: MB },
    code: 'INVALID_REQUEST',
  },

  // --- data of the wrong shape or type
  { name: 'data null', as: 's2', method: 'createWebRtcTransport', data: null, code: 'INVALID_REQUEST', message: /direction/ },
  { name: 'data a string', as: 'lecturer', method: 'produce', data: 'produce please', code: 'INVALID_REQUEST' },
  { name: 'data an array', as: 's1', method: 'consume', data: [{ producerId: UNKNOWN_ID }], code: 'INVALID_REQUEST' },
  { name: 'data a number', as: 'lecturer', method: 'connectTransport', data: 42, code: 'INVALID_REQUEST' },
  {
    name: '"__proto__" key smuggling a direction',
    as: 's2',
    method: 'createWebRtcTransport',
    data: JSON.parse('{"__proto__": {"direction": "recv"}}'),
    code: 'INVALID_REQUEST',
  },
  { name: 'missing producerId', as: 's1', method: 'consume', data: {}, code: 'INVALID_REQUEST', message: /producerId/ },
  {
    name: 'missing dtlsParameters',
    as: 'lecturer',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerSend }),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'transportId: 123',
    as: 'lecturer',
    method: 'connectTransport',
    data: { transportId: 123, dtlsParameters: dtls() },
    code: 'INVALID_REQUEST',
  },
  { name: "direction: 'sideways'", as: 's2', method: 'createWebRtcTransport', data: { direction: 'sideways' }, code: 'INVALID_REQUEST' },
  {
    name: "forceTcp: 'yes'",
    as: 's2',
    method: 'createWebRtcTransport',
    data: { direction: 'recv', forceTcp: 'yes' },
    code: 'INVALID_REQUEST',
  },
  {
    name: "paused: 'yes'",
    as: 'lecturer',
    method: 'produce',
    data: (ids) => ({ ...lecturerProduces(opus(11))(ids), paused: 'yes' }),
    code: 'INVALID_REQUEST',
  },
  { name: 'a 65-character id', as: 'lecturer', method: 'pauseProducer', data: { producerId: 'a'.repeat(65) }, code: 'INVALID_REQUEST' },
  {
    name: 'an id with path characters',
    as: 'lecturer',
    method: 'closeProducer',
    data: { producerId: '../../etc/passwd' },
    code: 'INVALID_REQUEST',
  },
  { name: 'an id with a NUL and a space', as: 's1', method: 'pauseConsumer', data: { consumerId: 'a\u0000b c' }, code: 'INVALID_REQUEST' },
  {
    name: 'spatialLayer 9',
    as: 's1',
    method: 'setConsumerPreferredLayers',
    data: (ids) => ({ consumerId: ids.s1Consumer, spatialLayer: 9 }),
    code: 'INVALID_REQUEST',
  },

  // --- broken contexts (host bugs must still give typed errors)
  {
    name: 'join without a role',
    as: { context: { roomId: ROOM, peerId: 'stranger' } },
    method: 'join',
    data: { rtpCapabilities: {} },
    code: 'INVALID_REQUEST',
    message: /role/,
  },
  {
    name: 'roomId with spaces',
    as: { context: { roomId: 'my room', peerId: 's1' } },
    method: 'leave',
    data: {},
    code: 'INVALID_REQUEST',
    message: /roomId/,
  },
  {
    name: 'context without peerId',
    as: { context: { roomId: ROOM } },
    method: 'leave',
    data: {},
    code: 'INVALID_REQUEST',
    message: /peerId/,
  },
  { name: 'context null', as: { context: null }, method: 'leave', data: {}, code: 'INVALID_REQUEST' },
  {
    name: "role 'admin'",
    as: { context: { roomId: ROOM, peerId: 'stranger', role: 'admin' } },
    method: 'join',
    data: { rtpCapabilities: {} },
    code: 'INVALID_REQUEST',
  },
  { name: 'a 1 MB roomId', as: { context: { roomId: MB, peerId: 's1' } }, method: 'leave', data: {}, code: 'INVALID_REQUEST' },
  {
    name: 'roomOptions maxPeers 0 for a new room',
    as: { context: { roomId: 'bad-options', peerId: 'p', role: 'student', roomOptions: { maxPeers: 0 } } },
    method: 'join',
    data: { rtpCapabilities: {} },
    code: 'INVALID_REQUEST',
  },
  {
    name: 'roomOptions mediaCodecs not an array',
    as: { context: { roomId: 'bad-codecs', peerId: 'p', role: 'student', roomOptions: { mediaCodecs: 'opus' } } },
    method: 'join',
    data: { rtpCapabilities: {} },
    code: 'INVALID_REQUEST',
  },

  // --- rooms, peers and ids that do not exist, or belong to another peer
  {
    name: 'a room that does not exist',
    as: { context: { roomId: 'nowhere', peerId: 's1' } },
    method: 'createWebRtcTransport',
    data: { direction: 'recv' },
    code: 'NOT_FOUND',
    message: /room not found/,
  },
  {
    name: 'a peer that never joined',
    as: 'stranger',
    method: 'consume',
    data: (ids) => ({ producerId: ids.mic }),
    code: 'NOT_FOUND',
    message: /peer not found/,
  },
  {
    name: 'unknown transport id',
    as: 'lecturer',
    method: 'connectTransport',
    data: { transportId: UNKNOWN_ID, dtlsParameters: dtls() },
    code: 'NOT_FOUND',
    message: /transport not found/,
  },
  {
    name: "connect the lecturer's transport as a student",
    as: 's1',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerSend, dtlsParameters: dtls() }),
    code: 'NOT_FOUND',
  },
  {
    name: "produce on the lecturer's transport as a student",
    as: 's1',
    method: 'produce',
    data: (ids) => ({ transportId: ids.lecturerSend, kind: 'audio', source: 'microphone', rtpParameters: opus(21) }),
    code: 'NOT_FOUND',
  },
  {
    name: "restartIce on the lecturer's transport",
    as: 's1',
    method: 'restartIce',
    data: (ids) => ({ transportId: ids.lecturerRecv }),
    code: 'NOT_FOUND',
  },
  {
    name: "consume through the lecturer's recv transport",
    as: 's1',
    method: 'consume',
    data: (ids) => ({ producerId: ids.mic, transportId: ids.lecturerRecv }),
    code: 'NOT_FOUND',
  },
  { name: "close the lecturer's producer", as: 's1', method: 'closeProducer', data: (ids) => ({ producerId: ids.mic }), code: 'NOT_FOUND' },
  { name: "pause the lecturer's producer", as: 's1', method: 'pauseProducer', data: (ids) => ({ producerId: ids.mic }), code: 'NOT_FOUND' },
  {
    name: 'unknown producer id',
    as: 's1',
    method: 'consume',
    data: { producerId: UNKNOWN_ID },
    code: 'NOT_FOUND',
    message: /producer not found/,
  },
  {
    name: 'unknown consumer id',
    as: 's1',
    method: 'resumeConsumer',
    data: { consumerId: UNKNOWN_ID },
    code: 'NOT_FOUND',
    message: /consumer not found/,
  },
  {
    name: "pause another student's consumer",
    as: 's2',
    method: 'pauseConsumer',
    data: (ids) => ({ consumerId: ids.s1Consumer }),
    code: 'NOT_FOUND',
  },

  // --- requests that make no sense in the current state
  {
    name: 'consume own producer',
    as: 'lecturer',
    method: 'consume',
    data: (ids) => ({ producerId: ids.mic }),
    code: 'INVALID_REQUEST',
    message: /own producer/,
  },
  {
    name: 'consume before creating a recv transport',
    as: 's2',
    method: 'consume',
    data: (ids) => ({ producerId: ids.mic }),
    code: 'INVALID_STATE',
  },
  {
    name: 'consume through a send transport',
    as: 's1',
    method: 'consume',
    data: (ids) => ({ producerId: ids.mic, transportId: ids.s1Send }),
    code: 'INVALID_REQUEST',
    message: /"recv"/,
  },
  {
    name: 'produce on a recv transport',
    as: 'lecturer',
    method: 'produce',
    data: (ids) => ({ ...lecturerProduces(opus(31))(ids), transportId: ids.lecturerRecv }),
    code: 'INVALID_REQUEST',
    message: /"send"/,
  },
  {
    name: 'microphone as video',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(vp8(32), 'microphone', 'video'),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'produce the microphone twice',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(opus(33), 'microphone'),
    code: 'INVALID_STATE',
  },
  {
    name: 'connectTransport twice',
    as: 'lecturer',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerRecv, dtlsParameters: dtls() }),
    code: 'INVALID_STATE',
  },
  {
    name: 'preferred layers on an audio consumer',
    as: 's1',
    method: 'setConsumerPreferredLayers',
    data: (ids) => ({ consumerId: ids.s1Consumer, spatialLayer: 0 }),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'consume with incompatible capabilities',
    as: 'videoOnly',
    method: 'consume',
    data: (ids) => ({ producerId: ids.mic }),
    code: 'INCOMPATIBLE_CAPABILITIES',
  },

  // --- what a role may not do
  {
    name: 'a student sends camera (studentMedia audio)',
    as: 's1',
    method: 'produce',
    data: (ids) => ({ transportId: ids.s1Send, kind: 'video', source: 'camera', rtpParameters: vp8(41) }),
    code: 'FORBIDDEN',
  },
  {
    name: 'a student sends screen-audio (studentMedia audio)',
    as: 's1',
    method: 'produce',
    data: (ids) => ({ transportId: ids.s1Send, kind: 'audio', source: 'screen-audio', rtpParameters: opus(42) }),
    code: 'FORBIDDEN',
  },
  {
    name: 'a send transport as a student (studentMedia off)',
    as: 'quiet',
    method: 'createWebRtcTransport',
    data: { direction: 'send' },
    code: 'FORBIDDEN',
  },
  { name: 'join a full room', as: 'latecomer', method: 'join', data: { rtpCapabilities: {} }, code: 'ROOM_FULL' },

  // --- invalid rtpParameters: the schema, then mediasoup's own validation
  {
    name: 'rtpParameters without codecs',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces({ codecs: [], encodings: [{ ssrc: 51 }] }),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'payloadType 300',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(rtp({ ...OPUS, payloadType: 300 }, 51)),
    code: 'INVALID_REQUEST',
  },
  {
    name: "mimeType 'audio/../../etc'",
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(rtp({ ...OPUS, mimeType: 'audio/../../etc' }, 51)),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'rtpParameters a string',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces('v=0 o=- 0 0 IN IP4 127.0.0.1'),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'audio/PCMU (not in the router)',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(rtp({ mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 }, 52)),
    code: 'INVALID_REQUEST',
    message: /unsupported codec/,
  },
  {
    name: 'video/H265 (not in the router)',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(rtp({ mimeType: 'video/H265', payloadType: 100, clockRate: 90000 }, 53), 'camera', 'video'),
    code: 'INVALID_REQUEST',
    message: /unsupported codec/,
  },
  {
    name: 'opus at 8 kHz',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(rtp({ ...OPUS, clockRate: 8000 }, 54)),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'an encoding with an unknown codecPayloadType',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(opus(55, { encodings: [{ ssrc: 55, codecPayloadType: 99 }] })),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'no encodings and no mid',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(opus(56, { encodings: [] })),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'an rtx codec without its media codec',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(
      rtp({ mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 } }, 57),
      'camera',
      'video',
    ),
    code: 'INVALID_REQUEST',
  },
  {
    name: "the SSRC of the lecturer's microphone again",
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(opus(1111)),
    code: 'INVALID_REQUEST',
  },
  {
    name: "the MID of the lecturer's microphone again",
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(opus(58, { mid: '0' })),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'kind video with an audio codec',
    as: 'lecturer',
    method: 'produce',
    data: lecturerProduces(opus(59), 'screen', 'video'),
    code: 'INVALID_REQUEST',
  },

  // --- DTLS parameters
  {
    name: "fingerprint 'zz'",
    as: 'lecturer',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerSend, dtlsParameters: dtls([{ algorithm: 'sha-256', value: 'zz' }]) }),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'no fingerprints',
    as: 'lecturer',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerSend, dtlsParameters: dtls([]) }),
    code: 'INVALID_REQUEST',
  },
  {
    name: "fingerprint algorithm 'md5'",
    as: 'lecturer',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerSend, dtlsParameters: dtls([{ algorithm: 'md5', value: FINGERPRINT }]) }),
    code: 'INVALID_REQUEST',
  },
  {
    name: "DTLS role 'boss'",
    as: 'lecturer',
    method: 'connectTransport',
    data: (ids) => ({ transportId: ids.lecturerSend, dtlsParameters: dtls(undefined, 'boss') }),
    code: 'INVALID_REQUEST',
  },

  // --- appData
  {
    name: 'produce appData over 4 KiB',
    as: 'lecturer',
    method: 'produce',
    data: (ids) => ({ ...lecturerProduces(opus(61))(ids), appData: { note: 'n'.repeat(5000) } }),
    code: 'INVALID_REQUEST',
    message: /4096/,
  },
  {
    name: 'join appData over 4 KiB',
    as: 'stranger',
    method: 'join',
    data: { rtpCapabilities: {}, appData: { note: 'n'.repeat(5000) } },
    code: 'INVALID_REQUEST',
    message: /4096/,
  },
  {
    name: 'appData with a 10 000-character key',
    as: 'stranger',
    method: 'join',
    data: { rtpCapabilities: {}, appData: { ['k'.repeat(10_000)]: 1 } },
    code: 'INVALID_REQUEST',
  },
  { name: 'appData an array', as: 'stranger', method: 'join', data: { rtpCapabilities: {}, appData: ['a'] }, code: 'INVALID_REQUEST' },

  // --- gestures and the raised-hand queue
  { name: "gesture 'wave'", as: 's2', method: 'sendGesture', data: gesture({ gesture: 'wave' }), code: 'INVALID_REQUEST' },
  {
    name: "gesture 'Raised-Hand' (case)",
    as: 's2',
    method: 'sendGesture',
    data: gesture({ gesture: 'Raised-Hand' }),
    code: 'INVALID_REQUEST',
  },
  { name: 'gesture 7', as: 's2', method: 'sendGesture', data: gesture({ gesture: 7 }), code: 'INVALID_REQUEST' },
  { name: 'gesture null', as: 's2', method: 'sendGesture', data: gesture({ gesture: null }), code: 'INVALID_REQUEST' },
  { name: 'gesture an array', as: 's2', method: 'sendGesture', data: gesture({ gesture: ['raised-hand'] }), code: 'INVALID_REQUEST' },
  { name: "gesture '__proto__'", as: 's2', method: 'sendGesture', data: gesture({ gesture: '__proto__' }), code: 'INVALID_REQUEST' },
  {
    name: 'a 60 000-character gesture name (under the size limit)',
    as: 's2',
    method: 'sendGesture',
    data: gesture({ gesture: 'g'.repeat(60_000) }),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'a 1 MB gesture name (over the size limit)',
    as: 's2',
    method: 'sendGesture',
    data: gesture({ gesture: MB }),
    code: 'INVALID_REQUEST',
    message: /limit is 65536/,
  },
  { name: "phase 'begin'", as: 's2', method: 'sendGesture', data: gesture({ phase: 'begin' }), code: 'INVALID_REQUEST' },
  { name: 'phase missing', as: 's2', method: 'sendGesture', data: { gesture: 'raised-hand', confidence: 1 }, code: 'INVALID_REQUEST' },
  { name: 'confidence -0.01', as: 's2', method: 'sendGesture', data: gesture({ confidence: -0.01 }), code: 'INVALID_REQUEST' },
  { name: 'confidence 1.01', as: 's2', method: 'sendGesture', data: gesture({ confidence: 1.01 }), code: 'INVALID_REQUEST' },
  { name: 'confidence NaN', as: 's2', method: 'sendGesture', data: gesture({ confidence: Number.NaN }), code: 'INVALID_REQUEST' },
  { name: 'confidence Infinity', as: 's2', method: 'sendGesture', data: gesture({ confidence: Infinity }), code: 'INVALID_REQUEST' },
  { name: "confidence '0.9'", as: 's2', method: 'sendGesture', data: gesture({ confidence: '0.9' }), code: 'INVALID_REQUEST' },
  { name: "confidence 'NaN'", as: 's2', method: 'sendGesture', data: gesture({ confidence: 'NaN' }), code: 'INVALID_REQUEST' },
  { name: 'confidence null', as: 's2', method: 'sendGesture', data: gesture({ confidence: null }), code: 'INVALID_REQUEST' },
  {
    name: 'confidence missing',
    as: 's2',
    method: 'sendGesture',
    data: { gesture: 'raised-hand', phase: 'start' },
    code: 'INVALID_REQUEST',
  },
  { name: 'confidence a BigInt', as: 's2', method: 'sendGesture', data: gesture({ confidence: 1n }), code: 'INVALID_REQUEST' },
  {
    name: 'sendGesture with an extra key',
    as: 's2',
    method: 'sendGesture',
    data: gesture({ peerId: 'lecturer' }),
    code: 'INVALID_REQUEST',
    message: /peerId/,
  },
  {
    name: 'sendGesture with a 10 000-character extra key',
    as: 's2',
    method: 'sendGesture',
    data: gesture({ ['k'.repeat(10_000)]: 1 }),
    code: 'INVALID_REQUEST',
  },
  {
    name: 'sendGesture "__proto__" key smuggling the fields',
    as: 's2',
    method: 'sendGesture',
    data: JSON.parse('{"__proto__": {"gesture": "raised-hand", "phase": "start", "confidence": 1}}'),
    code: 'INVALID_REQUEST',
  },
  { name: 'sendGesture data a string', as: 's2', method: 'sendGesture', data: 'raised-hand', code: 'INVALID_REQUEST' },
  { name: 'sendGesture data an array', as: 's2', method: 'sendGesture', data: [gesture()], code: 'INVALID_REQUEST' },
  { name: 'sendGesture of a peer that never joined', as: 'stranger', method: 'sendGesture', data: gesture(), code: 'NOT_FOUND' },
  { name: 'raiseHand with an extra key', as: 's2', method: 'raiseHand', data: { hand: 'left' }, code: 'INVALID_REQUEST' },
  {
    name: 'raiseHand with a 60 000-character payload',
    as: 's2',
    method: 'raiseHand',
    data: { padding: 'p'.repeat(60_000) },
    code: 'INVALID_REQUEST',
  },
  { name: 'raiseHand data a number', as: 's2', method: 'raiseHand', data: 1, code: 'INVALID_REQUEST' },
  { name: 'lowerHand of another peer (extra peerId)', as: 's2', method: 'lowerHand', data: { peerId: 's1' }, code: 'INVALID_REQUEST' },
  { name: 'getHandQueue with an extra key', as: 's2', method: 'getHandQueue', data: { all: true }, code: 'INVALID_REQUEST' },
  { name: 'getHandQueue of a peer that never joined', as: 'stranger', method: 'getHandQueue', data: {}, code: 'NOT_FOUND' },
  { name: 'dismissHand with peerId 42', as: 'lecturer', method: 'dismissHand', data: { peerId: 42 }, code: 'INVALID_REQUEST' },
  { name: 'dismissHand with peerId null', as: 'lecturer', method: 'dismissHand', data: { peerId: null }, code: 'INVALID_REQUEST' },
  {
    name: 'dismissHand with peerId an object',
    as: 'lecturer',
    method: 'dismissHand',
    data: { peerId: { id: 's1' } },
    code: 'INVALID_REQUEST',
  },
  { name: 'dismissHand with peerId an array', as: 'lecturer', method: 'dismissHand', data: { peerId: ['s1'] }, code: 'INVALID_REQUEST' },
  { name: 'dismissHand without peerId', as: 'lecturer', method: 'dismissHand', data: {}, code: 'INVALID_REQUEST', message: /peerId/ },
  {
    name: 'dismissHand with a peerId with path characters',
    as: 'lecturer',
    method: 'dismissHand',
    data: { peerId: '../s1' },
    code: 'INVALID_REQUEST',
  },
  {
    name: 'dismissHand with a 65-character peerId',
    as: 'lecturer',
    method: 'dismissHand',
    data: { peerId: 'p'.repeat(65) },
    code: 'INVALID_REQUEST',
  },
  { name: 'dismissHand with a 1 MB peerId', as: 'lecturer', method: 'dismissHand', data: { peerId: MB }, code: 'INVALID_REQUEST' },
  {
    name: 'dismissHand with an extra key',
    as: 'lecturer',
    method: 'dismissHand',
    data: { peerId: 's1', all: true },
    code: 'INVALID_REQUEST',
  },
  { name: 'dismissHand as a student', as: 's1', method: 'dismissHand', data: { peerId: 's2' }, code: 'FORBIDDEN' },
  {
    name: 'dismissHand of a peer whose hand is not raised',
    as: 'lecturer',
    method: 'dismissHand',
    data: { peerId: 's2' },
    code: 'NOT_FOUND',
  },
  {
    name: 'dismissHand of a peer that does not exist',
    as: 'lecturer',
    method: 'dismissHand',
    data: { peerId: UNKNOWN_ID },
    code: 'NOT_FOUND',
  },
  { name: 'clearHandQueue as a student', as: 's1', method: 'clearHandQueue', data: {}, code: 'FORBIDDEN' },
  { name: 'clearHandQueue with an extra key', as: 'lecturer', method: 'clearHandQueue', data: { force: true }, code: 'INVALID_REQUEST' },

  // --- every method after leave
  ...afterLeave.map(
    ([method, data]): Row => ({ name: `${method} after leave`, as: 'gone', method, data, code: 'NOT_FOUND', message: /peer not found/ }),
  ),
];

let manager: RoomManager;
let ids: Ids;
let snapshotBefore: ReturnType<typeof snapshot>;
let errorsBefore: Map<string, number>;
/** The code each row actually got, and what the manager reported through requestFailed. */
const observedCodes: string[] = [];
const reportedFailures: string[] = [];

const call = (who: Who, method: string, data: unknown) => manager.handle(contexts[who], method, data);

/** What the SDK and mediasoup hold: every room's stats and the workers' own counts. */
function snapshot() {
  return {
    rooms: manager.roomIds.sort().map((id) => ({ id, ...manager.getRoom(id)!.stats() })),
    workers: workerTotals(manager),
  };
}

/** lectern_request_errors_total by code. */
async function errorCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const text = await manager.metrics.registry.metrics();
  for (const [, labels, value] of text.matchAll(/^lectern_request_errors_total\{([^}]*)\} (\d+)$/gm)) {
    const code = /code="([^"]*)"/.exec(labels!)![1]!;
    counts.set(code, (counts.get(code) ?? 0) + Number(value));
  }
  return counts;
}

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 }, room: { studentMedia: 'audio' }, emptyRoomTimeoutMs: null });
  const { routerRtpCapabilities: caps } = await manager.request(contexts.lecturer, 'getRouterRtpCapabilities', {});
  const joinAs = (who: Who, rtpCapabilities: unknown = caps) => call(who, 'join', { rtpCapabilities });
  const transport = async (who: Who, direction: 'send' | 'recv') =>
    ((await call(who, 'createWebRtcTransport', { direction })) as { transportId: string }).transportId;
  const consume = async (who: Who, producerId: string) =>
    ((await call(who, 'consume', { producerId })) as { consumerId: string }).consumerId;

  await joinAs('lecturer');
  const lecturerSend = await transport('lecturer', 'send');
  const lecturerRecv = await transport('lecturer', 'recv');
  // Connected without a real client: the DTLS handshake never starts, but connect() is done.
  await call('lecturer', 'connectTransport', { transportId: lecturerRecv, dtlsParameters: dtls() });
  const { producerId: mic } = (await call('lecturer', 'produce', {
    transportId: lecturerSend,
    kind: 'audio',
    source: 'microphone',
    rtpParameters: opus(1111, { mid: '0' }),
  })) as { producerId: string };

  await joinAs('s1');
  const s1Send = await transport('s1', 'send');
  await transport('s1', 'recv');
  const s1Consumer = await consume('s1', mic);
  await joinAs('s2');
  await joinAs('videoOnly', { codecs: caps.codecs!.filter((c) => c.mimeType === 'video/VP8'), headerExtensions: [] });
  await transport('videoOnly', 'recv');

  await joinAs('gone');
  const goneSend = await transport('gone', 'send');
  const goneRecv = await transport('gone', 'recv');
  const { producerId: goneProducer } = (await call('gone', 'produce', {
    transportId: goneSend,
    kind: 'audio',
    source: 'microphone',
    rtpParameters: opus(2222),
  })) as { producerId: string };
  const goneConsumer = await consume('gone', mic);
  await call('gone', 'leave', {});

  await joinAs('quiet');
  await manager.handle({ roomId: 'tiny', peerId: 't1', role: 'student', roomOptions: { maxPeers: 1 } }, 'join', { rtpCapabilities: caps });

  ids = { lecturerSend, lecturerRecv, mic, s1Send, s1Consumer, goneSend, goneRecv, goneProducer, goneConsumer };
  snapshotBefore = snapshot();
  errorsBefore = await errorCounts();
  manager.on('requestFailed', ({ error }) => reportedFailures.push(error.code));
});
after(() => manager?.close());

test(`the table has ${rows.length} rows`, () => {
  assert.ok(rows.length >= 30);
  assert.equal(new Set(rows.map((r) => r.name)).size, rows.length, 'row names are unique');
});

for (const row of rows) {
  test(`${row.name} → ${row.code}`, async () => {
    const context = typeof row.as === 'string' ? contexts[row.as] : row.as.context;
    const data = typeof row.data === 'function' ? row.data(ids) : row.data;
    const error = await manager.handle(context as PeerContext, row.method, data).then(
      (reply) => assert.fail(`resolved: ${JSON.stringify(reply).slice(0, 200)}`),
      (thrown: unknown) => thrown,
    );
    observedCodes.push(error instanceof LecternError ? error.code : 'untyped');
    assert.ok(error instanceof LecternError, `rejected with something other than a LecternError: ${String(error)}`);
    const json = error.toJSON();
    assert.equal(json.code, row.code, `got ${json.code}: ${json.message.slice(0, 300)}`);
    if (row.message) assert.match(json.message, row.message);
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json, 'toJSON() is plain JSON');
    assert.deepEqual(Object.keys(json).filter((k) => k !== 'details'), ['code', 'message']);
    // Hostile inputs must not be echoed back unbounded.
    assert.ok(json.message.length < 500, `message is ${json.message.length} characters`);
    assert.ok(JSON.stringify(json).length < 2000, `the JSON reply is ${JSON.stringify(json).length} characters`);
  });
}

test('the table left every count unchanged (SDK stats and mediasoup)', () => {
  assert.deepEqual(snapshot(), snapshotBefore);
  assert.deepEqual(Object.keys(Object.prototype), [], 'Object.prototype is untouched');
});

test('every failure was reported: requestFailed events and lectern_request_errors_total', async () => {
  const tally = (codes: string[]) => codes.reduce((m, c) => m.set(c, (m.get(c) ?? 0) + 1), new Map<string, number>());
  const expected = tally(observedCodes);
  const now = await errorCounts();
  const delta = [...now].map(([code, n]) => [code, n - (errorsBefore.get(code) ?? 0)] as const).filter(([, n]) => n !== 0);
  assert.deepEqual(Object.fromEntries(delta), Object.fromEntries(expected));
  assert.deepEqual(Object.fromEntries(tally(reportedFailures)), Object.fromEntries(expected));
  const unknownMethods = rows.filter((r) => !(requestMethods as readonly string[]).includes(r.method)).length;
  const text = await manager.metrics.registry.metrics();
  assert.match(text, new RegExp(`^lectern_request_errors_total\\{method="unknown",code="UNKNOWN_METHOD"\\} ${unknownMethods}$`, 'm'));
});

test('the manager still works: a newcomer joins, consumes the lecturer and leaves', async () => {
  const newcomer: PeerContext = { roomId: ROOM, peerId: 'newcomer', role: 'student' };
  const { routerRtpCapabilities } = await manager.request(newcomer, 'getRouterRtpCapabilities', {});
  const start = snapshot();
  const joined = await manager.request(newcomer, 'join', { rtpCapabilities: routerRtpCapabilities });
  assert.ok(joined.producers.some((p) => p.producerId === ids.mic));
  await manager.request(newcomer, 'createWebRtcTransport', { direction: 'recv' });
  const consumer = await manager.request(newcomer, 'consume', { producerId: ids.mic });
  assert.equal(consumer.kind, 'audio');
  await manager.request(newcomer, 'resumeConsumer', { consumerId: consumer.consumerId });
  const during = snapshot().workers;
  assert.equal(during.consumers, start.workers.consumers + 1);
  assert.equal(during.transports, start.workers.transports + 1);
  await manager.request(newcomer, 'leave', {});
  assert.deepEqual(snapshot(), start);
});
