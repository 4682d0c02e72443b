// Admission control: with a low ceiling, a join storm is spread over workers with
// headroom, the rest get OVERLOADED, and existing consumers lose no packets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode, LecternError, RoomManager } from '@lectern/server-sdk';
import { RoomTestPeer } from '@lectern/testkit';
import { requester, waitFor } from './helpers.js';

let manager: RoomManager;
// Each peer transport is modelled at 10 % of a core and the ceiling is 45 %: a
// worker takes at most 5 transports (4 x 10 = 40 < 45 still admits a fifth).
const CEILING = 45;
const PER_TRANSPORT = 10;

before(async () => {
  manager = await RoomManager.create({
    workers: {
      numWorkers: 2,
      cpuCeilingPercent: CEILING,
      loadModel: { cpuPerTransport: PER_TRANSPORT, cpuPerAudioConsumer: 0, cpuPerVideoConsumer: 0 },
    },
  });
});
after(() => manager.close());

test('a join storm past the ceiling is spread, refused with OVERLOADED, and spares existing media', async () => {
  const roomId = 'admission';
  const lecturer = await RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
  const peers: RoomTestPeer[] = [lecturer];
  const stormIds = Array.from({ length: 20 }, (_, i) => `storm-${i}`);
  try {
    const producerId = await lecturer.produceAudio();
    const listener = await RoomTestPeer.join(requester(manager, roomId, 'listener'));
    peers.push(listener);
    const listening = await listener.consume(producerId);
    await waitFor('the listener to receive', () => listening.packets() > 25);

    const room = manager.getRoom(roomId)!;
    const receivedBefore = listening.packets();
    const startedAt = Date.now();

    // 20 students at once, signaling only: admission happens at their first transport.
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const request = requester(manager, roomId, `storm-${i}`);
        await request('join', { rtpCapabilities: listener.webrtc.rtpCapabilities });
        return request('createWebRtcTransport', { direction: 'recv' });
      }),
    );
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) {
      assert.ok(r.reason instanceof LecternError, String(r.reason));
      assert.equal(r.reason.code, ErrorCode.OVERLOADED, r.reason.message);
    }
    // Two workers x at most 5 transports, 2 of them already used by lecturer + listener.
    assert.ok(admitted >= 4 && admitted <= 8, `admitted ${admitted}`);
    assert.equal(admitted + refused.length, 20);

    const stats = room.stats();
    assert.equal(stats.routers.length, 2, 'the storm spilled onto the second worker');
    assert.equal(new Set(stats.routers.map((r) => r.workerPid)).size, 2);
    for (const slot of manager.pool.workers) {
      assert.ok(slot.load.transports <= Math.floor(CEILING / PER_TRANSPORT) + 1, `worker ${slot.index}: ${slot.load.transports} transports`);
    }
    // The storm filled both workers to the ceiling: the load a cluster node reports is 1 (no headroom).
    assert.ok(manager.loadEstimate >= 0.85 && manager.loadEstimate <= 1, `loadEstimate ${manager.loadEstimate}`);

    // The listener kept getting the lecturer's ~50 packets/s throughout: no gap.
    await new Promise((r) => setTimeout(r, 1000));
    const elapsedS = (Date.now() - startedAt) / 1000;
    const got = listening.packets() - receivedBefore;
    assert.ok(got >= Math.floor(elapsedS * 50) - 10, `received ${got} packets in ${elapsedS.toFixed(1)} s`);
  } finally {
    await Promise.all(stormIds.map((peerId) => manager.handle({ roomId, peerId }, 'leave', {}).catch(() => undefined)));
    await Promise.all(peers.map((p) => p.leave()));
  }
  assert.equal(manager.loadEstimate, 0, 'everyone left: no load');
});
