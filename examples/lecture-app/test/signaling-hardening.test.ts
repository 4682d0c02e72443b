// The example app's signaling under hostile input, against the real app (real
// mediasoup worker, real ws): malformed WebSocket frames written by hand over
// node:net must end only the connection that sent them; the limits (message
// rate, requests in flight, message shape, connection caps, heartbeat) answer
// with the protocol's error codes; endLecture closes a room for everyone.
// Runs in-process: an 'error' nobody listens to would crash this test runner,
// and an uncaughtException listener turns any such escape into a failure.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '@lectern/protocol';
import { freeTcpPort } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';
import type { Logger } from '../server/log.js';
import {
  RawPeer,
  SignalingPeer,
  closePayload,
  frame,
  textFrame,
  tokenQuery,
  until,
  type NotificationMessage,
} from './hardening-helpers.js';

const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);
process.on('uncaughtException', onEscape);
process.on('unhandledRejection', onEscape);

/** Captures what the app logs, so the output stays readable and the tests can check the reports. */
function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (...args: unknown[]) => void lines.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  return { lines, warn: record, error: record };
}

const HEARTBEAT_MS = 1_000;
const ROOM = 'hardening';

let tmp: string;
let app: LectureApp;
let port: number;
let logger: ReturnType<typeof captureLogger>;
let lecturer: SignalingPeer;
let student: SignalingPeer;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-signaling-hardening-'));
  logger = captureLogger();
  app = await startLectureApp({
    port: 0,
    whisperUrl: `http://127.0.0.1:${await freeTcpPort()}`, // nothing listens: these tests never transcribe
    manager: { workers: { numWorkers: 1 } },
    // No engine listens: skip the start-up engine check so endLecture can run a (silent) transcription.
    transcription: { workDir: path.join(tmp, 'work'), engineCheck: false },
    // Only the heartbeat is shortened (so a dead peer is found within seconds); every other limit is the default.
    signaling: { heartbeatIntervalMs: HEARTBEAT_MS },
    logger,
  });
  port = Number(new URL(app.url).port);
  lecturer = await SignalingPeer.connect(app.url, `room=${ROOM}&peer=lecturer&role=lecturer`);
  student = await SignalingPeer.connect(app.url, `room=${ROOM}&peer=student&role=student`);
  for (const [peer, name] of [[lecturer, 'Lecturer'], [student, 'Student']] as const) {
    const reply = await peer.request('join', { rtpCapabilities: {}, displayName: name });
    assert.equal(reply.error, undefined, `join: ${JSON.stringify(reply.error)}`);
  }
});

after(async () => {
  await lecturer?.closeAndWait();
  await student?.closeAndWait();
  await app?.close();
  await fs.rm(tmp, { recursive: true, force: true });
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

/** The app is up and unharmed: nothing escaped, /health answers, both normal peers are connected and served. */
async function assertUnharmed(context: string): Promise<void> {
  // Each check reports (and clears) what escaped since the last one, so a failure names its own case.
  assert.deepEqual(escaped.splice(0), [], `${context}: an error escaped to the process`);
  const health = await fetch(`${app.url}/health`);
  assert.equal(health.status, 200, `${context}: /health`);
  for (const [peer, name] of [[lecturer, 'lecturer'], [student, 'student']] as const) {
    assert.equal(peer.closed, undefined, `${context}: the ${name} was closed: ${JSON.stringify(peer.closed)}`);
    const reply = await peer.request('getHandQueue');
    assert.equal(reply.error, undefined, `${context}: the ${name}'s getHandQueue failed: ${JSON.stringify(reply.error)}`);
    assert.deepEqual(reply.data, { queue: [] });
  }
  assert.ok(app.manager.getRoom(ROOM)?.hasPeer('lecturer') && app.manager.getRoom(ROOM)?.hasPeer('student'), `${context}: both still in the room`);
}

let rawPeers = 0;
/** A raw peer that joined the hardening room (so its departure can be checked). */
async function joinedRawPeer(): Promise<{ raw: RawPeer; peerId: string }> {
  const peerId = `raw-${++rawPeers}`;
  const raw = await RawPeer.connect(port, `room=${ROOM}&peer=${peerId}&role=student`);
  const reply = await raw.request(1, 'join', { rtpCapabilities: {}, displayName: peerId });
  assert.equal(reply.error, undefined, `raw join: ${JSON.stringify(reply.error)}`);
  assert.ok(app.manager.getRoom(ROOM)?.hasPeer(peerId));
  return { raw, peerId };
}

const leftNotice = (peer: SignalingPeer, peerId: string) =>
  peer.notifications.some((n) => n.notification === 'peerLeft' && (n.data as { peerId: string }).peerId === peerId);

/** The raw peer's connection is over and its peer left the room (the others heard it). */
async function assertRawPeerGone(raw: RawPeer, peerId: string): Promise<void> {
  await raw.waitEnded();
  await until(`${peerId} left the room`, () => !app.manager.getRoom(ROOM)?.hasPeer(peerId));
  await until(`the lecturer heard ${peerId} leave`, () => leftNotice(lecturer, peerId));
}

const { maxMessageBytes } = { maxMessageBytes: 128 * 1024 }; // the documented default, checked against the app below

/** Malformed input → the close code ws sends for it (undefined: no close frame is expected, the TCP connection just ends). */
const malformedFrames: { name: string; bytes: () => Buffer; closeCode: number | undefined }[] = [
  { name: 'a payload over the size limit', bytes: () => textFrame('x'.repeat(maxMessageBytes + 1)), closeCode: 1009 },
  {
    name: 'fragments that add up to more than the size limit',
    bytes: () => Buffer.concat([
      frame({ opcode: 0x1, fin: false, payload: Buffer.alloc(maxMessageBytes / 2 + 1, 0x61) }),
      frame({ opcode: 0x0, fin: true, payload: Buffer.alloc(maxMessageBytes / 2 + 1, 0x61) }),
    ]),
    closeCode: 1009,
  },
  { name: 'invalid UTF-8 in a text frame', bytes: () => frame({ opcode: 0x1, payload: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }), closeCode: 1007 },
  { name: 'RSV1 set without an extension', bytes: () => frame({ opcode: 0x1, rsv: 0b100, payload: Buffer.from('{}') }), closeCode: 1002 },
  { name: 'RSV2 set', bytes: () => frame({ opcode: 0x1, rsv: 0b010, payload: Buffer.from('{}') }), closeCode: 1002 },
  { name: 'RSV3 set', bytes: () => frame({ opcode: 0x1, rsv: 0b001, payload: Buffer.from('{}') }), closeCode: 1002 },
  ...[0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => ({
    name: `reserved opcode 0x${opcode.toString(16)}`,
    bytes: () => frame({ opcode, payload: Buffer.from('{}') }),
    closeCode: 1002,
  })),
  { name: 'an unmasked client frame', bytes: () => frame({ opcode: 0x1, masked: false, payload: Buffer.from('{"id":2,"method":"getHandQueue"}') }), closeCode: 1002 },
  { name: 'a fragmented control frame (ping without FIN)', bytes: () => frame({ opcode: 0x9, fin: false, payload: Buffer.from('hi') }), closeCode: 1002 },
  { name: 'a control frame over 125 bytes', bytes: () => frame({ opcode: 0x9, payload: Buffer.alloc(126) }), closeCode: 1002 },
  { name: 'a continuation frame with nothing to continue', bytes: () => frame({ opcode: 0x0, payload: Buffer.from('{}') }), closeCode: 1002 },
  { name: 'a close frame with a reserved code (1005)', bytes: () => frame({ opcode: 0x8, payload: closePayload(1005) }), closeCode: 1002 },
  { name: 'a close frame with an out-of-range code (999)', bytes: () => frame({ opcode: 0x8, payload: closePayload(999) }), closeCode: 1002 },
  { name: 'a close frame with a one-byte payload', bytes: () => frame({ opcode: 0x8, payload: Buffer.from([0x03]) }), closeCode: 1002 },
  { name: 'a close frame whose reason is invalid UTF-8', bytes: () => frame({ opcode: 0x8, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) }), closeCode: 1007 },
  { name: 'garbage bytes after the handshake', bytes: () => Buffer.from('GARBAGE\r\n\r\n'), closeCode: 1002 },
];

describe('malformed WebSocket frames end only the connection that sent them', () => {
  test('the documented default size limit is the one in force', () => {
    assert.equal(app.signalingLimits.maxMessageBytes, maxMessageBytes);
  });

  for (const { name, bytes, closeCode } of malformedFrames) {
    test(name, { timeout: 60_000 }, async () => {
      const { raw, peerId } = await joinedRawPeer();
      raw.write(bytes());
      await assertRawPeerGone(raw, peerId);
      await assertUnharmed(name);
      assert.equal(raw.closeCode, closeCode, `close code for ${name}`);
      assert.ok(logger.lines.some((line) => line.includes(`${ROOM}/${peerId}`)), `the error of ${peerId} was logged`);
    });
  }

  test('a truncated frame, then EOF', { timeout: 60_000 }, async () => {
    const { raw, peerId } = await joinedRawPeer();
    const whole = textFrame(JSON.stringify({ id: 2, method: 'getHandQueue', data: {} }));
    raw.write(whole.subarray(0, whole.length - 5));
    raw.socket.end(); // half-close: the server sees EOF in the middle of a frame
    await assertRawPeerGone(raw, peerId);
    assert.equal(raw.replies().find((r) => r.id === 2), undefined, 'the truncated request was not served');
    await assertUnharmed('truncated frame');
  });

  test('garbage instead of a handshake gets 400 and nothing else', { timeout: 30_000 }, async () => {
    const raw = await RawPeer.open(port);
    raw.write(Buffer.from('\x16\x03\x01 not http at all\r\n\r\n'));
    await raw.waitEnded();
    assert.match(raw.responseHead, /^HTTP\/1\.1 400/);
    await assertUnharmed('garbage before the handshake');
  });

  test('garbage in the same packet as the handshake', { timeout: 30_000 }, async () => {
    const raw = await RawPeer.open(port);
    raw.write(RawPeer.handshakeRequest(port, await tokenQuery(port, `room=${ROOM}&peer=raw-garbage&role=student`), Buffer.from([0xff, 0xff, 0xff, 0xff])));
    await raw.waitEnded();
    assert.match(raw.responseHead, /^HTTP\/1\.1 101/);
    assert.equal(raw.closeCode, 1002);
    await assertUnharmed('garbage with the handshake');
  });

  test('a handshake with a bad Sec-WebSocket-Key is refused with 400', { timeout: 30_000 }, async () => {
    const raw = await RawPeer.open(port);
    raw.write(Buffer.from(RawPeer.handshakeRequest(port, await tokenQuery(port, `room=${ROOM}&peer=x&role=student`)).toString('latin1').replace(/Sec-WebSocket-Key: .*/, 'Sec-WebSocket-Key: short')));
    await raw.waitEnded();
    assert.match(raw.responseHead, /^HTTP\/1\.1 400/);
    await assertUnharmed('bad handshake');
  });

  test('an upgrade to another path is refused with 404', { timeout: 30_000 }, async () => {
    const raw = await RawPeer.open(port);
    raw.write(Buffer.from(RawPeer.handshakeRequest(port, 'x').toString('latin1').replace('GET /ws?x', 'GET /elsewhere')));
    await raw.waitEnded();
    assert.match(raw.responseHead, /^HTTP\/1\.1 404/);
    await assertUnharmed('upgrade elsewhere');
  });
});

describe('message shape: INVALID_REQUEST, and the connection stays', () => {
  const cases: { name: string; send: string | Buffer; binary?: boolean; id: number | string | null; message: RegExp }[] = [
    { name: 'not JSON', send: '{"id": 1, "method": ', id: null, message: /not JSON/ },
    { name: 'a JSON array', send: '[1, "getHandQueue"]', id: null, message: /JSON object/ },
    { name: 'no id', send: '{"method":"getHandQueue"}', id: null, message: /id must be/ },
    { name: 'an id of 65 characters', send: JSON.stringify({ id: 'i'.repeat(65), method: 'getHandQueue' }), id: null, message: /id must be/ },
    { name: 'a fractional id', send: '{"id":1.5,"method":"getHandQueue"}', id: null, message: /id must be/ },
    { name: 'a method of 65 characters', send: JSON.stringify({ id: 'm', method: 'm'.repeat(65) }), id: 'm', message: /method must be/ },
    { name: 'a method that is not a string', send: '{"id":7,"method":42}', id: 7, message: /method must be/ },
    { name: 'JSON nested 33 levels deep', send: `{"id":8,"method":"getHandQueue","data":${'['.repeat(32)}${']'.repeat(32)}}`, id: null, message: /nested deeper than 32/ },
    { name: 'a binary frame', send: Buffer.from('{"id":9,"method":"getHandQueue"}'), binary: true, id: null, message: /binary/ },
  ];
  for (const { name, send, binary, id, message } of cases) {
    test(name, async () => {
      student.sendRaw(send, binary);
      const reply = await student.nextUnmatched();
      assert.equal(reply.id, id);
      assert.equal(reply.error?.code, ErrorCode.INVALID_REQUEST);
      assert.match(reply.error?.message ?? '', message);
      await assertUnharmed(name);
    });
  }

  test('brackets inside strings do not count as nesting', async () => {
    const reply = await student.request('sendGesture', { gesture: `x${'['.repeat(40)}`, phase: 'start' });
    // Refused by the SDK's schema (unknown gesture), not by the depth check.
    assert.equal(reply.error?.code, ErrorCode.INVALID_REQUEST);
    assert.doesNotMatch(reply.error?.message ?? '', /nested/);
  });

  test('an unknown method reaches the SDK: UNKNOWN_METHOD', async () => {
    const reply = await student.request('noSuchMethod');
    assert.equal(reply.error?.code, ErrorCode.UNKNOWN_METHOD);
    await assertUnharmed('unknown method');
  });
});

describe('rate and in-flight limits', () => {
  test('over the message rate: RATE_LIMITED replies, then a 1008 close on sustained flooding', { timeout: 60_000 }, async () => {
    const { messageBurst, floodTolerance } = app.signalingLimits;
    const flooder = await SignalingPeer.connect(app.url, `room=${ROOM}&peer=flooder&role=student`);
    // Messages with an empty method are refused by the shape check, after the rate check: they cost tokens, never work.
    const burst = (from: number, count: number) => {
      for (let id = from; id < from + count; id++) flooder.sendRaw(JSON.stringify({ id, method: '' }));
    };
    const over = Math.floor(floodTolerance / 2);
    burst(0, messageBurst + over);
    const replies = [];
    for (let i = 0; i < messageBurst + over; i++) replies.push(await flooder.nextUnmatched());
    const limited = replies.filter((r) => r.error?.code === ErrorCode.RATE_LIMITED);
    const invalid = replies.filter((r) => r.error?.code === ErrorCode.INVALID_REQUEST);
    assert.equal(limited.length + invalid.length, replies.length, 'every reply is one of the two');
    // The whole burst is served; a few tokens may refill (50/s) while a loaded machine processes the rest.
    assert.ok(invalid.length >= messageBurst && invalid.length <= messageBurst + 10, `served: ${invalid.length}`);
    assert.ok(limited.length >= over - 10, `rate limited: ${limited.length}`);
    const first = limited[0]!;
    assert.equal(typeof first.id, 'number', 'the rate-limited reply carries the request id');
    assert.ok(Number(first.error?.details?.retryAfterMs) > 0, `retryAfterMs: ${JSON.stringify(first.error?.details)}`);
    assert.ok(flooder.isOpen, 'a short excess is answered, not punished');

    // Keeps flooding: the connection is closed with 1008 once the tolerance is spent.
    burst(10_000, floodTolerance * 2);
    await until('the flooder is closed', () => flooder.closed !== undefined);
    assert.equal(flooder.closed?.code, 1008);
    assert.match(flooder.closed?.reason ?? '', /rate limit/);
    await assertUnharmed('flooding');
  });

  test('a ping flood counts as a message flood: closed with 1008, and the peer leaves', { timeout: 60_000 }, async () => {
    const { messageBurst, floodTolerance } = app.signalingLimits;
    const { raw, peerId } = await joinedRawPeer();
    // In rounds small enough that ws's own guard (it terminates a peer with 60 pongs unsent) stays out of it.
    const pongs = () => raw.frames.filter((f) => f.opcode === 0xa).length;
    for (let sent = 0; sent < messageBurst + floodTolerance + 20 && raw.closeCode === undefined; sent += 20) {
      raw.write(Buffer.concat(Array.from({ length: 20 }, () => frame({ opcode: 0x9, payload: Buffer.from('p') }))));
      await until('pongs or the close', () => pongs() >= Math.min(sent + 20, messageBurst + floodTolerance) || raw.closeCode !== undefined);
    }
    await assertRawPeerGone(raw, peerId);
    await assertUnharmed('ping flood');
    assert.equal(raw.closeCode, 1008);
    assert.equal(logger.lines.filter((line) => line.includes(`${ROOM}/${peerId}`) && line.includes('1008')).length, 1, 'reported once');
  });

  test('requests in flight are bounded: RATE_LIMITED with maxPendingRequests', { timeout: 60_000 }, async () => {
    const { maxPendingRequests } = app.signalingLimits;
    // A room that does not exist yet: every getRouterRtpCapabilities waits for its router, so all are in flight at once.
    const raw = await RawPeer.connect(port, 'room=inflight&peer=p&role=student');
    const total = maxPendingRequests + 8;
    raw.write(Buffer.concat(Array.from({ length: total }, (_, i) => textFrame(JSON.stringify({ id: i, method: 'getRouterRtpCapabilities' })))));
    await until('every request answered', () => raw.replies().length === total, 20_000);
    const replies = raw.replies();
    const served = replies.filter((r) => r.error === undefined);
    const refused = replies.filter((r) => r.error !== undefined);
    assert.equal(served.length, maxPendingRequests);
    assert.equal(refused.length, total - maxPendingRequests);
    for (const reply of refused) {
      assert.equal(reply.error?.code, ErrorCode.RATE_LIMITED);
      assert.equal(reply.error?.details?.maxPendingRequests, maxPendingRequests);
    }
    assert.deepEqual(refused.map((r) => r.id).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 8 }, (_, i) => maxPendingRequests + i));
    // Once answered, there is room again.
    const again = await raw.request(total, 'getRouterRtpCapabilities');
    assert.equal(again.error, undefined);
    raw.destroy();
    await assertUnharmed('in flight');
  });
});

describe('heartbeat', () => {
  test('a peer that never answers pings is terminated and leaves the room', { timeout: 30_000 }, async () => {
    const { raw, peerId } = await joinedRawPeer();
    raw.answerPings = false;
    const started = Date.now();
    await assertRawPeerGone(raw, peerId);
    const elapsed = Date.now() - started;
    assert.ok(raw.frames.some((f) => f.opcode === 0x9), 'the server pinged');
    assert.ok(elapsed <= 2 * HEARTBEAT_MS + 2_000, `terminated after ${elapsed} ms`);
    assert.ok(logger.lines.some((line) => line.includes(`${ROOM}/${peerId}`) && line.includes('no pong')));
    await assertUnharmed('heartbeat');
  });

  test('a ws client (which answers pings) outlives several heartbeats', { timeout: 30_000 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS));
    await assertUnharmed('after heartbeats');
  });
});

describe('endLecture', () => {
  const LECTURE = 'lecture-end';

  test('a student may not end the lecture (FORBIDDEN); the lecturer ends it for everyone: roomClosed, then close 4000', { timeout: 60_000 }, async () => {
    const teacher = await SignalingPeer.connect(app.url, `room=${LECTURE}&peer=teacher&role=lecturer`);
    const pupils = [
      await SignalingPeer.connect(app.url, `room=${LECTURE}&peer=pupil1&role=student`),
      await SignalingPeer.connect(app.url, `room=${LECTURE}&peer=pupil2&role=student`),
    ];
    for (const peer of [teacher, ...pupils]) assert.equal((await peer.request('join', { rtpCapabilities: {} })).error, undefined);
    assert.equal((await teacher.request('startTranscription')).error, undefined);

    const refused = await pupils[0]!.request('endLecture');
    assert.equal(refused.error?.code, ErrorCode.FORBIDDEN);
    assert.equal(app.manager.getRoom(LECTURE)?.peerCount, 3, 'nothing ended');
    assert.ok(app.transcription.pipeline(LECTURE), 'the transcription still runs');

    const ended = await teacher.request('endLecture');
    assert.equal(ended.error, undefined, JSON.stringify(ended.error));
    const { summary } = ended.data as { summary?: { text: string; generator: string } };
    assert.equal(typeof summary?.generator, 'string', `the running transcription's summary is in the reply: ${JSON.stringify(ended.data)}`);
    assert.equal(app.transcription.pipeline(LECTURE), undefined, 'the transcription stopped');
    for (const peer of [teacher, ...pupils]) {
      await until('closed by the server', () => peer.closed !== undefined);
      assert.deepEqual(peer.closed, { code: 4000, reason: 'lecture ended' });
      const roomClosed = peer.notifications.find((n: NotificationMessage) => n.notification === 'roomClosed');
      assert.deepEqual(roomClosed?.data, { roomId: LECTURE, reason: 'the lecturer ended the lecture' });
    }
    assert.equal(app.manager.getRoom(LECTURE), undefined, 'the room is closed');
    await assertUnharmed('endLecture in another room');
  });

  test('endLecture without a transcription replies {} and closes the room', { timeout: 60_000 }, async () => {
    const room = 'lecture-end-2';
    const teacher = await SignalingPeer.connect(app.url, `room=${room}&peer=teacher&role=lecturer`);
    const pupil = await SignalingPeer.connect(app.url, `room=${room}&peer=pupil&role=student`);
    for (const peer of [teacher, pupil]) assert.equal((await peer.request('join', { rtpCapabilities: {} })).error, undefined);
    const ended = await teacher.request('endLecture');
    assert.deepEqual(ended, { id: ended.id, data: {} });
    for (const peer of [teacher, pupil]) {
      await until('closed by the server', () => peer.closed !== undefined);
      assert.equal(peer.closed?.code, 4000);
      // The notification came before the close: it is in what the socket received.
      assert.ok(peer.notifications.some((n) => n.notification === 'roomClosed'));
    }
    assert.equal(app.manager.getRoom(room), undefined);
  });
});

describe('connection caps', () => {
  let capped: LectureApp;
  let cappedPort: number;

  before(async () => {
    capped = await startLectureApp({
      port: 0,
      whisperUrl: `http://127.0.0.1:${await freeTcpPort()}`,
      manager: { workers: { numWorkers: 1 } },
      transcription: { workDir: path.join(tmp, 'work-capped') },
      signaling: { maxConnections: 3, maxConnectionsPerIp: 2 },
      logger: captureLogger(),
    });
    cappedPort = Number(new URL(capped.url).port);
  });
  after(() => capped?.close());

  test('per address (429) and per server (503), refused before the handshake; a closed connection frees its slot', { timeout: 60_000 }, async () => {
    const first = await RawPeer.connect(cappedPort, 'room=r&peer=a&role=student');
    const second = await RawPeer.connect(cappedPort, 'room=r&peer=b&role=student');
    await assert.rejects(RawPeer.connect(cappedPort, 'room=r&peer=c&role=student'), /handshake refused: HTTP\/1\.1 429/);
    // Another loopback address has its own per-address count, but the server's cap of 3 is shared.
    const third = await RawPeer.connect(cappedPort, 'room=r&peer=d&role=student', '127.0.0.2');
    await assert.rejects(RawPeer.connect(cappedPort, 'room=r&peer=e&role=student', '127.0.0.2'), /handshake refused: HTTP\/1\.1 503/);
    first.destroy();
    await until('the slot is freed', async () => {
      try {
        (await RawPeer.connect(cappedPort, 'room=r&peer=f&role=student')).destroy();
        return true;
      } catch {
        return false;
      }
    });
    for (const peer of [second, third]) peer.destroy();
    assert.deepEqual(escaped.splice(0), []);
  });
});
