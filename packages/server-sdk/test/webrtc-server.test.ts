// With a WebRtcServer per worker, every peer transport of a worker shares that
// worker's single UDP/TCP port, and real peers still connect and receive.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RoomManager } from '@lectern/server-sdk';
import { freeTcpPort, RoomTestPeer } from '@lectern/testkit';
import { requester, waitFor } from './helpers.js';

test('peers connect through the per-worker WebRtcServer ports', async () => {
  const basePort = await freeTcpPort();
  const manager = await RoomManager.create({
    workers: { numWorkers: 2, webRtcServer: { listenIp: '127.0.0.1', basePort } },
    room: { maxTransportsPerRouter: 2 },
  });
  const peers: RoomTestPeer[] = [];
  try {
    const lecturer = await RoomTestPeer.join(requester(manager, 'wrs', 'lecturer', 'lecturer'));
    peers.push(lecturer);
    const producerId = await lecturer.produceAudio();
    for (let i = 0; i < 3; i++) {
      const s = await RoomTestPeer.join(requester(manager, 'wrs', `s${i}`));
      peers.push(s);
      await s.consume(producerId);
    }
    await waitFor('students to receive over the shared ports', () =>
      peers.slice(1).every((p) => [...p.consumers.values()][0]!.packets() > 10),
    );
    // A new transport announces only its worker's server port, over UDP and TCP.
    const probe = requester(manager, 'wrs', 'probe');
    await probe('join', { rtpCapabilities: lecturer.webrtc.rtpCapabilities });
    const t = (await probe('createWebRtcTransport', { direction: 'recv' })) as {
      iceCandidates: { port: number; protocol: string }[];
    };
    const ports = new Set(t.iceCandidates.map((c) => c.port));
    assert.ok([...ports].every((port) => port === basePort || port === basePort + 1), `ports ${[...ports]}`);
    assert.equal(new Set(t.iceCandidates.map((c) => c.protocol)).size, 2, 'UDP and TCP candidates');
    assert.equal(manager.getRoom('wrs')!.stats().routers.length, 2);
  } finally {
    await Promise.all(peers.map((p) => p.leave()));
    manager.close();
  }
});
