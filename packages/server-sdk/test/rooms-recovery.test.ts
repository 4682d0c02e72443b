// SIGKILL a worker during a lecture: a replacement runs within 2 s, events fire,
// peers on other routers keep receiving, the affected peers are told to rejoin
// and can, and nothing throws.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RoomManager, type RoomManagerEvents } from '@lectern/server-sdk';
import { RoomTestPeer } from '@lectern/testkit';
import { notificationLog, requester, waitFor } from './helpers.js';

let manager: RoomManager;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  manager = await RoomManager.create({ workers: { numWorkers: 2 }, room: { maxTransportsPerRouter: 3 } });
});
after(() => {
  manager.close();
  process.off('unhandledRejection', onUnhandled);
});

test('a killed worker is replaced and the room keeps working', async () => {
  const roomId = 'recovery';
  const notifications = notificationLog(manager);
  const died: RoomManagerEvents['workerDied'][] = [];
  const respawned: (RoomManagerEvents['workerRespawned'] & { at: number })[] = [];
  const lostRouters: RoomManagerEvents['routerLost'][] = [];
  manager.on('workerDied', (e) => died.push(e));
  manager.on('workerRespawned', (e) => respawned.push({ ...e, at: Date.now() }));
  manager.on('routerLost', (e) => lostRouters.push(e));

  const lecturer = await RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
  const producerId = await lecturer.produceAudio();
  // lecturer + s0 + s1 fill router A (3 transports); s2..s4 go to router B on the other worker.
  const students: RoomTestPeer[] = [];
  for (let i = 0; i < 5; i++) {
    const s = await RoomTestPeer.join(requester(manager, roomId, `s${i}`));
    await s.consume(producerId);
    students.push(s);
  }
  const received = (s: RoomTestPeer) => [...s.consumers.values()][0]!.packets();
  await waitFor('all students to receive', () => students.every((s) => received(s) > 10));

  const room = manager.getRoom(roomId)!;
  const routers = room.stats().routers;
  assert.equal(routers.length, 2);
  const victimPid = routers[1]!.workerPid;
  const survivorPid = routers[0]!.workerPid;
  const [safe, affected] = [students.slice(0, 2), students.slice(2)];

  const killedAt = Date.now();
  process.kill(victimPid, 'SIGKILL');

  await waitFor('a replacement worker', () => respawned.length === 1, 2000);
  assert.ok(respawned[0]!.at - killedAt < 2000, `respawned after ${respawned[0]!.at - killedAt} ms`);
  assert.equal(died.length, 1);
  assert.equal(died[0]!.pid, victimPid);
  assert.equal(respawned[0]!.previousPid, victimPid);
  assert.notEqual(respawned[0]!.pid, victimPid);
  assert.equal(manager.pool.workers.length, 2);

  // The room lost router B and told exactly its peers to reconnect.
  assert.equal(lostRouters.length, 1);
  assert.deepEqual([...lostRouters[0]!.peerIds].sort(), ['s2', 's3', 's4']);
  const reconnect = notifications.filter((n) => n.name === 'reconnectRequired').flatMap((n) => n.to);
  assert.deepEqual(reconnect.sort(), ['s2', 's3', 's4']);
  assert.deepEqual(room.stats().routers.map((r) => r.workerPid), [survivorPid]);
  assert.equal(room.stats().peers, 3);

  // Peers on the surviving router keep receiving.
  const before = safe.map(received);
  await waitFor('surviving students to keep receiving', () => safe.every((s, i) => received(s) > before[i]! + 25));

  // The affected peers rejoin (their old client-side transports are dead) and receive again.
  await Promise.all(affected.map((s) => s.close()));
  const rejoined = await Promise.all(
    affected.map(async (_, i) => {
      const s = await RoomTestPeer.join(requester(manager, roomId, `s${i + 2}`));
      await s.consume(producerId);
      return s;
    }),
  );
  await waitFor('rejoined students to receive', () => rejoined.every((s) => received(s) > 10));
  const after = room.stats();
  assert.equal(after.routers.length, 2, 'a router was added on the replacement worker');
  assert.ok(after.routers.some((r) => r.workerPid === respawned[0]!.pid));

  await Promise.all([...safe, ...rejoined, lecturer].map((p) => p.leave()));
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});
