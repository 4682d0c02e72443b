// Host-enabled plain-RTP peers: PlainTransports through the request API (join →
// createPlainTransport → produce / consume), with real workers, real FFmpeg Opus
// and real UDP sockets. Off by default; placed, sharded and piped like WebRTC
// transports; refused by the WebRTC-only methods; closed when their peer leaves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type * as dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import {
  ErrorCode,
  hostRequestMethods,
  LecternError,
  requestMethods,
  RoomManager,
  type PeerContext,
  type ResponseMap,
} from '@lectern/server-sdk';
import { bindUdp, opusRtpParameters, sendOpusRtp, type OwnedProcess } from '@lectern/testkit';
import { requester, waitFor, workerTotals } from './helpers.js';

const PT = 100;
const FINGERPRINT = Array(32).fill('AB').join(':');

let manager: RoomManager;
let ssrcs = 31_000_000;

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 }, plainTransport: { enabled: true }, emptyRoomTimeoutMs: null });
});
after(() => manager?.close());

/** A UDP socket on 127.0.0.1 that keeps what it receives. */
interface Sink {
  socket: dgram.Socket;
  port: number;
  packets: Buffer[];
}
const sinks: Sink[] = [];
after(() => sinks.forEach((s) => s.socket.close()));

async function sink(): Promise<Sink> {
  const { socket, port } = await bindUdp();
  const packets: Buffer[] = [];
  socket.on('message', (msg) => {
    if (packets.length < 5000) packets.push(msg);
  });
  const s = { socket, port, packets };
  sinks.push(s);
  return s;
}

/** The RTP packets (not RTCP) of one SSRC and payload type. */
function rtp(packets: Buffer[], consumer: ResponseMap['consume']): Buffer[] {
  const pt = consumer.rtpParameters.codecs[0]!.payloadType;
  const ssrc = consumer.rtpParameters.encodings![0]!.ssrc!;
  return packets.filter((p) => p.length > 12 && p[0]! >> 6 === 2 && (p[1]! & 0x7f) === pt && p.readUInt32BE(8) === ssrc);
}

/** Where an RTP packet's payload starts (after CSRCs and the header extension). */
function payloadOffset(p: Buffer): number {
  let offset = 12 + 4 * (p[0]! & 0x0f);
  if (p[0]! & 0x10) offset += 4 + 4 * p.readUInt16BE(offset + 2);
  return offset;
}

type Request = (method: string, data: unknown) => Promise<unknown>;

/** A lecturer whose microphone is FFmpeg Opus sent into a comedia plain transport. */
async function plainLecturer(m: RoomManager, roomId: string) {
  const request = requester(m, roomId, 'lecturer', 'lecturer');
  const { routerRtpCapabilities } = (await request('getRouterRtpCapabilities', {})) as ResponseMap['getRouterRtpCapabilities'];
  await request('join', { rtpCapabilities: routerRtpCapabilities, displayName: 'ffmpeg lecturer' });
  const transport = (await request('createPlainTransport', { comedia: true })) as ResponseMap['createPlainTransport'];
  assert.equal(transport.ip, '127.0.0.1');
  assert.equal(transport.rtcpPort, undefined, 'rtcpMux by default');
  assert.equal(transport.srtpParameters, undefined, 'no SRTP by default');
  const ssrc = ssrcs++;
  const { producerId } = (await request('produce', {
    transportId: transport.transportId,
    kind: 'audio',
    source: 'microphone',
    rtpParameters: opusRtpParameters(ssrc, PT),
  })) as ResponseMap['produce'];
  const ffmpeg = sendOpusRtp({ port: transport.port, ssrc, payloadType: PT });
  return { request, routerRtpCapabilities, producerId, ffmpeg };
}

/** A server-side peer that receives `producerId` on a plain transport connected to its own socket. */
async function plainListener(
  request: Request,
  rtpCapabilities: unknown,
  producerId: string,
  options: { enableSrtp?: boolean } = {},
) {
  await request('join', { rtpCapabilities });
  const transport = (await request('createPlainTransport', options)) as ResponseMap['createPlainTransport'];
  const socket = await sink();
  const srtpParameters = options.enableSrtp
    ? { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') }
    : undefined;
  await request('connectPlainTransport', {
    transportId: transport.transportId,
    ip: '127.0.0.1',
    port: socket.port,
    ...(srtpParameters ? { srtpParameters } : {}),
  });
  const consumer = (await request('consume', { producerId, transportId: transport.transportId })) as ResponseMap['consume'];
  assert.equal(consumer.kind, 'audio');
  await request('resumeConsumer', { consumerId: consumer.consumerId });
  return { transport, socket, consumer, received: () => rtp(socket.packets, consumer) };
}

async function rejects(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  const error = await promise.then(
    (reply) => assert.fail(`resolved: ${JSON.stringify(reply).slice(0, 200)}`),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof LecternError, `not a LecternError: ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  assert.ok(error.message.length < 500);
}

async function stop(ffmpeg: OwnedProcess): Promise<void> {
  await ffmpeg.stop();
}

test('the plain methods are host methods, not part of the client wire protocol', () => {
  assert.deepEqual([...hostRequestMethods].sort(), ['connectPlainTransport', 'createPlainTransport']);
  for (const method of hostRequestMethods) assert.ok(!(requestMethods as readonly string[]).includes(method), method);
});

test('disabled by default: createPlainTransport and connectPlainTransport are FORBIDDEN', async () => {
  for (const options of [{}, { plainTransport: {} }, { plainTransport: { enabled: false } }]) {
    const off = await RoomManager.create({ workers: { numWorkers: 1 }, ...options });
    try {
      const request = requester(off, 'off', 'p', 'lecturer');
      const { routerRtpCapabilities } = (await request('getRouterRtpCapabilities', {})) as ResponseMap['getRouterRtpCapabilities'];
      await request('join', { rtpCapabilities: routerRtpCapabilities });
      await rejects(request('createPlainTransport', {}), ErrorCode.FORBIDDEN, /not enabled/);
      await rejects(request('createPlainTransport', { comedia: true, enableSrtp: true }), ErrorCode.FORBIDDEN);
      // Refused before validation or lookup: nothing about the schema or ids leaks.
      await rejects(request('createPlainTransport', { bogus: 1 }), ErrorCode.FORBIDDEN);
      await rejects(
        request('connectPlainTransport', { transportId: 'x', ip: '127.0.0.1', port: 5000 }),
        ErrorCode.FORBIDDEN,
      );
      await rejects(requester(off, 'off', 'stranger')('createPlainTransport', {}), ErrorCode.FORBIDDEN);
      assert.equal(workerTotals(off).transports, 0);
      const text = await off.metrics.registry.metrics();
      assert.match(text, /lectern_request_errors_total\{method="createPlainTransport",code="FORBIDDEN"\} 4/);
    } finally {
      off.close();
    }
  }
});

test('FFmpeg Opus → comedia plain transport → produce; a plain peer consumes it on a UDP socket; leaving closes everything', async () => {
  const roomId = 'plain-rtp';
  const lecturer = await plainLecturer(manager, roomId);
  try {
    const listener = await plainListener(requester(manager, roomId, 'recorder'), lecturer.routerRtpCapabilities, lecturer.producerId);
    assert.equal(listener.transport.ip, '127.0.0.1');
    assert.ok(listener.transport.port > 0);
    await waitFor('RTP from the plain consumer', () => listener.received().length > 25, 15_000);
    const packets = listener.received();
    // Plain Opus: the payload's first byte is the Opus TOC, the same in every packet.
    const tocs = new Set(packets.map((p) => p[payloadOffset(p)]));
    assert.ok(tocs.size <= 2, `Opus TOC bytes: ${[...tocs].join(', ')}`);

    const room = manager.getRoom(roomId)!;
    assert.deepEqual(room.stats().routers.map((r) => r.transports), [2], 'plain transports count on the router');
    assert.equal(workerTotals(manager).transports, 2, 'and in the worker load');
    assert.equal(workerTotals(manager).consumers, 1);

    // A second connect is INVALID_STATE, like connectTransport.
    await rejects(
      requester(manager, roomId, 'recorder')('connectPlainTransport', {
        transportId: listener.transport.transportId,
        ip: '127.0.0.1',
        port: listener.socket.port,
      }),
      ErrorCode.INVALID_STATE,
      /already connected/,
    );

    await requester(manager, roomId, 'recorder')('leave', {});
    assert.equal(workerTotals(manager).transports, 1, "the recorder's plain transport closed with its peer");
    assert.equal(workerTotals(manager).consumers, 0);
  } finally {
    await stop(lecturer.ffmpeg);
    await lecturer.request('leave', {}).catch(() => undefined);
  }
  assert.deepEqual(workerTotals(manager), { routers: 1, transports: 0, pipeTransports: 0, consumers: 0 });
  assert.equal(manager.getRoom(roomId)!.stats().routers[0]!.transports, 0);
});

test('SRTP (AES_CM_128_HMAC_SHA1_80): encrypted RTP reaches the socket, 10 bytes longer than plain RTP', async () => {
  const roomId = 'plain-srtp';
  const lecturer = await plainLecturer(manager, roomId);
  try {
    const clear = await plainListener(requester(manager, roomId, 'clear'), lecturer.routerRtpCapabilities, lecturer.producerId);
    const secure = await plainListener(requester(manager, roomId, 'secure'), lecturer.routerRtpCapabilities, lecturer.producerId, {
      enableSrtp: true,
    });
    assert.equal(secure.transport.srtpParameters?.cryptoSuite, 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(Buffer.from(secure.transport.srtpParameters!.keyBase64, 'base64').length, 30, 'a 30-byte master key + salt');
    await waitFor('SRTP and RTP packets', () => secure.received().length > 40 && clear.received().length > 40, 15_000);

    const srtp = secure.received();
    const plain = clear.received();
    // The RTP header stays readable in SRTP; the payload does not: its first byte
    // is no constant Opus TOC any more.
    const firstBytes = new Set(srtp.map((p) => p[payloadOffset(p)]));
    assert.ok(firstBytes.size > 10, `first payload bytes of ${srtp.length} SRTP packets: ${firstBytes.size} distinct`);
    // Both consumers carry the same producer packets (same RTP timestamps): sizes differ by the 10-byte auth tag.
    const sizes = (packets: Buffer[]) => new Map(packets.map((p) => [p.readUInt32BE(4), p.length]));
    const clearSizes = sizes(plain);
    let matched = 0;
    for (const [ts, length] of sizes(srtp)) {
      const clearLength = clearSizes.get(ts);
      if (clearLength !== undefined) {
        assert.equal(length, clearLength + 10, `packet at ${ts}: SRTP ${length} B, RTP ${clearLength} B`);
        matched += 1;
      }
    }
    assert.ok(matched > 10, `${matched} packets matched by timestamp`);

    // SRTP transports need the remote key; plain ones refuse it.
    const r = requester(manager, roomId, 'secure');
    const second = (await r('createPlainTransport', { enableSrtp: true })) as ResponseMap['createPlainTransport'];
    const target = { transportId: second.transportId, ip: '127.0.0.1', port: 40_000 };
    await rejects(r('connectPlainTransport', target), ErrorCode.INVALID_REQUEST, /srtpParameters/);
    await rejects(
      r('connectPlainTransport', { ...target, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'AAAA' } }),
      ErrorCode.INVALID_REQUEST,
      /key length/,
    );
    // A refused connect can be retried.
    await r('connectPlainTransport', {
      ...target,
      srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') },
    });
    const unencrypted = (await r('createPlainTransport', {})) as ResponseMap['createPlainTransport'];
    await rejects(
      r('connectPlainTransport', {
        transportId: unencrypted.transportId,
        ip: '127.0.0.1',
        port: 40_000,
        srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') },
      }),
      ErrorCode.INVALID_REQUEST,
    );
    const suites = [
      [r, 'AES_CM_128_HMAC_SHA1_32', 30],
      [requester(manager, roomId, 'clear'), 'AEAD_AES_128_GCM', 28],
      [requester(manager, roomId, 'clear'), 'AEAD_AES_256_GCM', 44],
    ] as const;
    for (const [request, suite, keyBytes] of suites) {
      const t = (await request('createPlainTransport', { enableSrtp: true, srtpCryptoSuite: suite })) as ResponseMap['createPlainTransport'];
      assert.equal(t.srtpParameters?.cryptoSuite, suite);
      assert.equal(Buffer.from(t.srtpParameters!.keyBase64, 'base64').length, keyBytes);
    }
    // 4 transports: the per-peer limit holds for plain transports too.
    await rejects(r('createPlainTransport', {}), ErrorCode.FORBIDDEN, /at most 4 transports/);
  } finally {
    await stop(lecturer.ffmpeg);
    for (const peerId of ['clear', 'secure']) await requester(manager, roomId, peerId)('leave', {}).catch(() => undefined);
    await lecturer.request('leave', {}).catch(() => undefined);
  }
  assert.deepEqual(workerTotals(manager), { routers: 2, transports: 0, pipeTransports: 0, consumers: 0 });
});

test('rtcpMux false: a separate RTCP port, and connect needs rtcpPort', async () => {
  const r = requester(manager, 'plain-rtcp', 'gateway', 'lecturer');
  const { routerRtpCapabilities } = (await r('getRouterRtpCapabilities', {})) as ResponseMap['getRouterRtpCapabilities'];
  await r('join', { rtpCapabilities: routerRtpCapabilities });
  try {
    const t = (await r('createPlainTransport', { rtcpMux: false })) as ResponseMap['createPlainTransport'];
    assert.ok(t.rtcpPort !== undefined && t.rtcpPort !== t.port, JSON.stringify(t));
    const target = { transportId: t.transportId, ip: '::1', port: 40_000 };
    await rejects(r('connectPlainTransport', target), ErrorCode.INVALID_REQUEST, /rtcpPort/);
    await r('connectPlainTransport', { ...target, rtcpPort: 40_001 });
    const muxed = (await r('createPlainTransport', {})) as ResponseMap['createPlainTransport'];
    await rejects(
      r('connectPlainTransport', { transportId: muxed.transportId, ip: '127.0.0.1', port: 40_000, rtcpPort: 40_001 }),
      ErrorCode.INVALID_REQUEST,
      /rtcpMux/,
    );
  } finally {
    await r('leave', {});
  }
  assert.equal(workerTotals(manager).transports, 0);
});

test('WebRTC-only methods refuse plain transports (INVALID_REQUEST), and connectPlainTransport refuses WebRTC ones', async () => {
  const roomId = 'plain-kinds';
  const r = requester(manager, roomId, 'mixed', 'lecturer');
  const other = requester(manager, roomId, 'other', 'lecturer');
  const { routerRtpCapabilities } = (await r('getRouterRtpCapabilities', {})) as ResponseMap['getRouterRtpCapabilities'];
  await r('join', { rtpCapabilities: routerRtpCapabilities });
  await other('join', { rtpCapabilities: routerRtpCapabilities });
  try {
    const plain = (await r('createPlainTransport', {})) as ResponseMap['createPlainTransport'];
    const webrtc = (await r('createWebRtcTransport', { direction: 'recv' })) as ResponseMap['createWebRtcTransport'];
    const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }] };
    await rejects(r('connectTransport', { transportId: plain.transportId, dtlsParameters }), ErrorCode.INVALID_REQUEST, /plain transport/);
    await rejects(r('restartIce', { transportId: plain.transportId }), ErrorCode.INVALID_REQUEST, /plain transport/);
    await rejects(
      r('connectPlainTransport', { transportId: webrtc.transportId, ip: '127.0.0.1', port: 40_000 }),
      ErrorCode.INVALID_REQUEST,
      /WebRTC transport/,
    );
    // Another peer's plain transport does not exist for this peer.
    await rejects(
      other('connectPlainTransport', { transportId: plain.transportId, ip: '127.0.0.1', port: 40_000 }),
      ErrorCode.NOT_FOUND,
    );
    await rejects(other('restartIce', { transportId: plain.transportId }), ErrorCode.NOT_FOUND);
    // Plain transports send and receive: produce works on one (and its producer can be closed).
    const { producerId } = (await r('produce', {
      transportId: plain.transportId,
      kind: 'audio',
      source: 'microphone',
      rtpParameters: opusRtpParameters(ssrcs++, PT),
    })) as ResponseMap['produce'];
    await r('pauseProducer', { producerId });
    await r('resumeProducer', { producerId });
    const otherPlain = (await other('createPlainTransport', {})) as ResponseMap['createPlainTransport'];
    const consumer = (await other('consume', { producerId, transportId: otherPlain.transportId })) as ResponseMap['consume'];
    await other('pauseConsumer', { consumerId: consumer.consumerId });
    await other('resumeConsumer', { consumerId: consumer.consumerId });
    // consume without a transport id picks a WebRTC recv transport; a plain peer names its transport.
    await rejects(other('consume', { producerId }), ErrorCode.INVALID_STATE, /recv transport/);
    await r('closeProducer', { producerId });
    await waitFor('closing the producer to close its consumer', () => workerTotals(manager).consumers === 0);
    assert.equal(manager.getRoom(roomId)!.stats().consumers, 0);
  } finally {
    await r('leave', {});
    await other('leave', {});
  }
  assert.equal(workerTotals(manager).transports, 0);
});

const UNKNOWN_ID = '0f3c5c0e-6a1e-4d55-9a43-7d2b8c1e9f00';

test('hostile createPlainTransport / connectPlainTransport requests get typed errors and change nothing', async () => {
  const roomId = 'plain-hostile';
  const r = requester(manager, roomId, 'host-peer', 'lecturer');
  const { routerRtpCapabilities } = (await r('getRouterRtpCapabilities', {})) as ResponseMap['getRouterRtpCapabilities'];
  await r('join', { rtpCapabilities: routerRtpCapabilities });
  const { transportId } = (await r('createPlainTransport', {})) as ResponseMap['createPlainTransport'];
  const connect = (patch: Record<string, unknown>) => ({ transportId, ip: '127.0.0.1', port: 40_000, ...patch });
  const key = randomBytes(30).toString('base64');
  const rows: [string, string, unknown, ErrorCode][] = [
    ['create: extra key', 'createPlainTransport', { comedia: true, listenIp: '0.0.0.0' }, 'INVALID_REQUEST'],
    ['create: comedia a string', 'createPlainTransport', { comedia: 'yes' }, 'INVALID_REQUEST'],
    ['create: rtcpMux 1', 'createPlainTransport', { rtcpMux: 1 }, 'INVALID_REQUEST'],
    ['create: unknown crypto suite', 'createPlainTransport', { enableSrtp: true, srtpCryptoSuite: 'ROT13' }, 'INVALID_REQUEST'],
    ['create: a suite mediasoup does not have', 'createPlainTransport', { enableSrtp: true, srtpCryptoSuite: 'AEAD_AES_192_GCM' }, 'INVALID_REQUEST'],
    ['create: appData over 4 KiB', 'createPlainTransport', { appData: { note: 'n'.repeat(5000) } }, 'INVALID_REQUEST'],
    ['create: appData an array', 'createPlainTransport', { appData: ['a'] }, 'INVALID_REQUEST'],
    ['create: data a string', 'createPlainTransport', 'plain please', 'INVALID_REQUEST'],
    ['create: __proto__ smuggling', 'createPlainTransport', JSON.parse('{"__proto__": {"comedia": true}}'), 'INVALID_REQUEST'],
    ['connect: ip with a shell suffix', 'connectPlainTransport', connect({ ip: '0.0.0.0; rm -rf /' }), 'INVALID_REQUEST'],
    ['connect: ip 999.1.1.1', 'connectPlainTransport', connect({ ip: '999.1.1.1' }), 'INVALID_REQUEST'],
    ['connect: ip 0.0.0.0', 'connectPlainTransport', connect({ ip: '0.0.0.0' }), 'INVALID_REQUEST'],
    ['connect: ip ::', 'connectPlainTransport', connect({ ip: '::' }), 'INVALID_REQUEST'],
    ['connect: a host name', 'connectPlainTransport', connect({ ip: 'localhost' }), 'INVALID_REQUEST'],
    ['connect: ip with a port', 'connectPlainTransport', connect({ ip: '127.0.0.1:5000' }), 'INVALID_REQUEST'],
    ['connect: a 1 KB ip', 'connectPlainTransport', connect({ ip: '1'.repeat(1000) }), 'INVALID_REQUEST'],
    ['connect: ip 42', 'connectPlainTransport', connect({ ip: 42 }), 'INVALID_REQUEST'],
    ['connect: port 0', 'connectPlainTransport', connect({ port: 0 }), 'INVALID_REQUEST'],
    ['connect: port 70000', 'connectPlainTransport', connect({ port: 70_000 }), 'INVALID_REQUEST'],
    ['connect: port "5000"', 'connectPlainTransport', connect({ port: '5000' }), 'INVALID_REQUEST'],
    ['connect: port 5000.5', 'connectPlainTransport', connect({ port: 5000.5 }), 'INVALID_REQUEST'],
    ['connect: rtcpPort -1', 'connectPlainTransport', connect({ rtcpPort: -1 }), 'INVALID_REQUEST'],
    ['connect: missing port', 'connectPlainTransport', { transportId, ip: '127.0.0.1' }, 'INVALID_REQUEST'],
    ['connect: missing ip', 'connectPlainTransport', { transportId, port: 5000 }, 'INVALID_REQUEST'],
    ['connect: extra key', 'connectPlainTransport', connect({ comedia: true }), 'INVALID_REQUEST'],
    ['connect: unknown crypto suite', 'connectPlainTransport', connect({ srtpParameters: { cryptoSuite: 'NULL', keyBase64: key } }), 'INVALID_REQUEST'],
    ['connect: key not base64', 'connectPlainTransport', connect({ srtpParameters: { cryptoSuite: 'AEAD_AES_128_GCM', keyBase64: 'not base64!' } }), 'INVALID_REQUEST'],
    ['connect: a 1 KB key', 'connectPlainTransport', connect({ srtpParameters: { cryptoSuite: 'AEAD_AES_128_GCM', keyBase64: 'A'.repeat(1024) } }), 'INVALID_REQUEST'],
    ['connect: srtpParameters extra key', 'connectPlainTransport', connect({ srtpParameters: { cryptoSuite: 'AEAD_AES_128_GCM', keyBase64: key, mki: 1 } }), 'INVALID_REQUEST'],
    ['connect: transportId with path characters', 'connectPlainTransport', connect({ transportId: '../x' }), 'INVALID_REQUEST'],
    ['connect: unknown transport', 'connectPlainTransport', connect({ transportId: UNKNOWN_ID }), 'NOT_FOUND'],
    ['connect: SRTP key for a transport without SRTP', 'connectPlainTransport', connect({ srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key } }), 'INVALID_REQUEST'],
  ];
  const before = { room: manager.getRoom(roomId)!.stats(), workers: workerTotals(manager) };
  try {
    for (const [name, method, data, code] of rows) {
      await rejects(r(method, data), code).catch((error: unknown) => {
        throw new Error(`${name}: ${String(error)}`);
      });
    }
    await rejects(requester(manager, roomId, 'never-joined')('createPlainTransport', {}), ErrorCode.NOT_FOUND, /peer not found/);
    assert.deepEqual({ room: manager.getRoom(roomId)!.stats(), workers: workerTotals(manager) }, before);
    // The transport is still usable after all that.
    await r('connectPlainTransport', connect({ ip: '127.0.0.1' }));
  } finally {
    await r('leave', {});
  }
});

test('sharding: plain peers spread over routers like WebRTC peers and the producer is piped to them', async () => {
  const sharded = await RoomManager.create({
    workers: { numWorkers: 2 },
    room: { maxTransportsPerRouter: 2 },
    plainTransport: { enabled: true, listenInfo: { protocol: 'udp', ip: '127.0.0.1' } },
  });
  const roomId = 'plain-sharding';
  const peerIds = ['rec-0', 'rec-1', 'rec-2'];
  let lecturer: Awaited<ReturnType<typeof plainLecturer>> | undefined;
  try {
    lecturer = await plainLecturer(sharded, roomId);
    const { routerRtpCapabilities, producerId } = lecturer;
    const listeners: Awaited<ReturnType<typeof plainListener>>[] = [];
    for (const peerId of peerIds) {
      listeners.push(await plainListener(requester(sharded, roomId, peerId), routerRtpCapabilities, producerId));
    }
    const stats = sharded.getRoom(roomId)!.stats();
    // 1 lecturer + 3 listener transports, 2 per router, 2 workers.
    assert.deepEqual(stats.routers.map((r) => r.transports), [2, 2]);
    assert.equal(new Set(stats.routers.map((r) => r.workerPid)).size, 2, 'routers on 2 workers');
    assert.equal(stats.pipes, 1, "the lecturer's producer is piped to the second router");
    assert.ok(stats.pipes > 0);
    assert.equal(workerTotals(sharded).pipeTransports, 2, 'one pipe transport pair');
    await waitFor('every plain listener to receive RTP', () => listeners.every((l) => l.received().length > 25), 15_000);
    const text = await sharded.metrics.registry.metrics();
    assert.match(text, /lectern_request_duration_seconds_count\{method="createPlainTransport"\} 4/);
  } finally {
    if (lecturer) await stop(lecturer.ffmpeg);
    for (const peerId of [...peerIds, 'lecturer']) {
      await sharded.handle({ roomId, peerId } satisfies PeerContext, 'leave', {}).catch(() => undefined);
    }
  }
  try {
    // Everyone left: plain transports closed, the extra router retired with its pipe.
    assert.equal(sharded.getRoom(roomId)!.stats().routers.length, 1);
    assert.deepEqual(workerTotals(sharded), { routers: 1, transports: 0, pipeTransports: 0, consumers: 0 });
  } finally {
    sharded.close();
  }
});
