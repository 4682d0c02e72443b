// Every option RoomManager.create refuses is refused the same way: INVALID_CONFIG,
// naming the option, before any mediasoup worker starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, LecternError, RoomManager, type RoomManagerOptions } from '@lectern/server-sdk';

const bad: [string, unknown][] = [
  ['workers.numWorkers 0', { workers: { numWorkers: 0 } }],
  ['workers.numWorkers -1', { workers: { numWorkers: -1 } }],
  ['workers.numWorkers 1.5', { workers: { numWorkers: 1.5 } }],
  ['workers.numWorkers a string', { workers: { numWorkers: 'four' } }],
  ['workers.numWorkers NaN', { workers: { numWorkers: Number.NaN } }],
  ['workers.logLevel', { workers: { logLevel: 'verbose' } }],
  ['workers.logTags not an array', { workers: { logTags: 'ice' } }],
  ['workers.placement', { workers: { placement: 'random' } }],
  ['workers.cpuCeilingPercent 0', { workers: { cpuCeilingPercent: 0 } }],
  ['workers.cpuCeilingPercent 150', { workers: { cpuCeilingPercent: 150 } }],
  ['workers.loadSampleIntervalMs 0', { workers: { loadSampleIntervalMs: 0 } }],
  ['workers.requestTimeoutMs Infinity', { workers: { requestTimeoutMs: Infinity } }],
  ['workers.rtcMinPort 0', { workers: { rtcMinPort: 0 } }],
  ['workers.rtcMaxPort 70000', { workers: { rtcMaxPort: 70_000 } }],
  ['workers.rtcMinPort > rtcMaxPort', { workers: { rtcMinPort: 50_000, rtcMaxPort: 40_000 } }],
  ['workers.webRtcServer.basePort past 65535 for 2 workers', { workers: { numWorkers: 2, webRtcServer: { listenIp: '127.0.0.1', basePort: 65_535 } } }],
  ['workers.webRtcServer.listenIp empty', { workers: { webRtcServer: { listenIp: '', basePort: 40_000 } } }],
  ['workers.loadModel negative', { workers: { loadModel: { cpuPerTransport: -1 } } }],
  ['room.maxTransportsPerRouter 0', { room: { maxTransportsPerRouter: 0 } }],
  ['room.maxPeers 0', { room: { maxPeers: 0 } }],
  ['room.studentMedia', { room: { studentMedia: 'video' } }],
  ['room.mediaCodecs empty', { room: { mediaCodecs: [] } }],
  ['room.activeSpeaker a string', { room: { activeSpeaker: 'yes' } }],
  ['limits.maxTransportsPerPeer 0', { limits: { maxTransportsPerPeer: 0 } }],
  ['limits.maxConsumersPerPeer 2.5', { limits: { maxConsumersPerPeer: 2.5 } }],
  ['limits.maxRequestBytes -1', { limits: { maxRequestBytes: -1 } }],
  ['emptyRoomTimeoutMs -5', { emptyRoomTimeoutMs: -5 }],
  ['webRtcTransport.listenInfos empty', { webRtcTransport: { listenInfos: [] } }],
  ['webRtcTransport.maxIncomingBitrate -1', { webRtcTransport: { maxIncomingBitrate: -1 } }],
  ['plainTransport.enabled a string', { plainTransport: { enabled: 'yes' } }],
  ['requestRateLimit.perSecond 0', { requestRateLimit: { perSecond: 0 } }],
  ['auth.clockToleranceSeconds 1000', { auth: { secret: 'x'.repeat(32), clockToleranceSeconds: 1000 } }],
];

for (const [what, options] of bad) {
  test(`RoomManager.create refuses ${what} with INVALID_CONFIG, before any worker starts`, async () => {
    const t0 = Date.now();
    const error = await RoomManager.create(options as RoomManagerOptions).then(
      async (manager) => {
        await manager.close();
        return assert.fail(`accepted ${JSON.stringify(options)}`);
      },
      (e: unknown) => e,
    );
    assert.ok(error instanceof LecternError, `${what}: ${String(error)}`);
    assert.equal(error.code, ErrorCode.INVALID_CONFIG, `${what}: ${error.message}`);
    const name = what.split(' ')[0]!;
    if (!name.startsWith('auth') && !name.startsWith('requestRateLimit')) {
      assert.ok(error.message.includes(name.split('.').at(-1)!), `the message names the option: ${error.message}`);
    }
    // Spawning a worker takes far longer than refusing an option.
    assert.ok(Date.now() - t0 < 1000, `${what}: refused in ${Date.now() - t0} ms`);
  });
}

test('the same options with good values start (control)', async () => {
  const manager = await RoomManager.create({
    workers: { numWorkers: 1, logLevel: 'warn', placement: 'least-loaded', cpuCeilingPercent: 100, loadModel: { cpuPerTransport: 0 } },
    room: { maxTransportsPerRouter: 1, maxPeers: 1, studentMedia: 'off', activeSpeaker: false },
    limits: { maxTransportsPerPeer: 1, maxConsumersPerPeer: 1, maxRequestBytes: 1 },
    emptyRoomTimeoutMs: 0,
    webRtcTransport: { maxIncomingBitrate: 0 },
    plainTransport: { enabled: false },
  });
  assert.equal(manager.pool.size, 1);
  await manager.close();
});
