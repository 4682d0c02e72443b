// The admin API against a real mediasoup worker: a lecturer (grant roomAdmin)
// lists the peers with their media, mutes a student (paused: the student hears
// mutedByHost and may unmute; closed: the producer is gone), removes one, and
// ends the room with a reason; the host does the same through RoomManager
// (listRooms, listPeers, removePeer, muteProducer, closeRoom). Counts are
// checked in the SDK and in mediasoup.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RtpCapabilities } from '@lectern/protocol';
import { LecternError, RoomManager, type PeerContext } from '@lectern/server-sdk';
import { notificationLog, waitFor, workerTotals } from './helpers.js';

let manager: RoomManager;
let caps: RtpCapabilities;
const opus = (ssrc: number) => ({ codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] });

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 }, room: { studentMedia: 'audio' }, emptyRoomTimeoutMs: null });
  caps = (await manager.request({ roomId: 'caps', peerId: 'caps' }, 'getRouterRtpCapabilities', {})).routerRtpCapabilities;
  manager.closeRoom('caps');
});
after(() => manager?.close());

/** A room with a lecturer and two students, each student publishing its microphone and receiving the other's. */
async function classroom(roomId: string) {
  const ctx = (peerId: string, role: 'lecturer' | 'student'): PeerContext => ({ roomId, peerId, role });
  const lecturer = ctx('lecturer', 'lecturer');
  const students = [ctx('s1', 'student'), ctx('s2', 'student')];
  await manager.request(lecturer, 'join', { rtpCapabilities: caps, displayName: 'Prof' });
  const mics: string[] = [];
  for (const [i, s] of students.entries()) {
    await manager.request(s, 'join', { rtpCapabilities: caps });
    const { transportId } = await manager.request(s, 'createWebRtcTransport', { direction: 'send' });
    await manager.request(s, 'createWebRtcTransport', { direction: 'recv' });
    mics.push((await manager.request(s, 'produce', { transportId, kind: 'audio', source: 'microphone', rtpParameters: opus(1000 + i) })).producerId);
  }
  await manager.request(students[0]!, 'consume', { producerId: mics[1]! });
  return { lecturer, students, mics };
}

test('listPeers (lecturer) and the host\'s listRooms / listPeers show each peer with its media', async () => {
  const { lecturer, mics } = await classroom('admin-list');
  const { peers } = await manager.request(lecturer, 'listPeers', {});
  assert.deepEqual(peers.map((p) => [p.peerId, p.role, p.producers.map((x) => x.producerId), p.consumers, p.transports]), [
    ['lecturer', 'lecturer', [], 0, 0],
    ['s1', 'student', [mics[0]], 1, 2],
    ['s2', 'student', [mics[1]], 0, 2],
  ]);
  assert.equal(peers[0]!.displayName, 'Prof');
  assert.equal(peers[0]!.grants.roomAdmin, true);
  assert.equal(peers[1]!.grants.roomAdmin, false);
  assert.ok(!Number.isNaN(Date.parse(peers[1]!.joinedAt)));
  assert.deepEqual(manager.listPeers('admin-list'), peers);
  assert.deepEqual(manager.listRooms().find((r) => r.roomId === 'admin-list'), { roomId: 'admin-list', peers: 3, lecturers: ['lecturer'], producers: 2, consumers: 1, routers: 1 });
  assert.throws(() => manager.listPeers('no-such-room'), (e: unknown) => e instanceof LecternError && e.code === 'NOT_FOUND');
  manager.closeRoom('admin-list');
});

test('muteProducer pauses a student\'s microphone: it hears mutedByHost, the others producerPaused, and it may unmute', async () => {
  const log = notificationLog(manager);
  const { lecturer, students, mics } = await classroom('admin-mute');
  await manager.request(lecturer, 'muteProducer', { producerId: mics[1]!, reason: 'background noise' });
  const room = manager.getRoom('admin-mute')!;
  assert.equal(room.producerInfos().find((p) => p.producerId === mics[1])!.paused, true);
  const mine = log.filter((n) => n.roomId === 'admin-mute');
  assert.deepEqual(mine.filter((n) => n.name === 'mutedByHost').map((n) => [n.to, n.data]), [
    [['s2'], { producerId: mics[1], source: 'microphone', closed: false, reason: 'background noise', by: 'lecturer' }],
  ]);
  assert.deepEqual(mine.filter((n) => n.name === 'producerPaused').map((n) => n.to.sort()), [['lecturer', 's1']]);
  // The consumer's producerpause comes from the worker, a moment later.
  await waitFor("s1's consumer to follow", () => log.some((n) => n.roomId === 'admin-mute' && n.name === 'consumerPaused'), 5000, 5);
  assert.deepEqual(log.filter((n) => n.roomId === 'admin-mute' && n.name === 'consumerPaused').map((n) => n.to), [['s1']]);
  // Muting again changes nothing for the others (no second producerPaused); the owner is told again.
  await manager.request(lecturer, 'muteProducer', { producerId: mics[1]! });
  assert.equal(log.filter((n) => n.roomId === 'admin-mute' && n.name === 'producerPaused').length, 1);
  await manager.request(students[1]!, 'resumeProducer', { producerId: mics[1]! });
  assert.equal(room.producerInfos().find((p) => p.producerId === mics[1])!.paused, false);
  // A student may not mute anyone (FORBIDDEN, grant roomAdmin); an unknown producer is NOT_FOUND.
  await assert.rejects(manager.request(students[0]!, 'muteProducer', { producerId: mics[1]! }), (e: unknown) => e instanceof LecternError && e.code === 'FORBIDDEN');
  await assert.rejects(manager.request(lecturer, 'muteProducer', { producerId: 'unknown' }), (e: unknown) => e instanceof LecternError && e.code === 'NOT_FOUND');
  manager.closeRoom('admin-mute');
});

test('muteProducer with close ends the producer and its consumers; the host can do the same', async () => {
  const log = notificationLog(manager);
  const { lecturer, mics } = await classroom('admin-close');
  const before = workerTotals(manager).consumers;
  await manager.request(lecturer, 'muteProducer', { producerId: mics[1]!, close: true });
  const room = manager.getRoom('admin-close')!;
  assert.deepEqual(room.producerInfos().map((p) => p.producerId), [mics[0]]);
  await waitFor("s1's consumer of it to close in mediasoup", () => workerTotals(manager).consumers === before - 1, 5000, 5);
  await waitFor('consumerClosed', () => log.some((n) => n.roomId === 'admin-close' && n.name === 'consumerClosed'), 5000, 5);
  const mine = log.filter((n) => n.roomId === 'admin-close');
  assert.deepEqual(mine.filter((n) => n.name === 'mutedByHost').map((n) => [n.to, (n.data as { closed: boolean }).closed]), [[['s2'], true]]);
  assert.deepEqual(mine.filter((n) => n.name === 'producerClosed').map((n) => n.to.sort()), [['lecturer', 's1']]);
  assert.deepEqual(mine.filter((n) => n.name === 'consumerClosed').map((n) => n.to), [['s1']]);
  // The host: pause the other one, without a lecturer.
  await manager.muteProducer('admin-close', mics[0]!, { reason: 'the host' });
  assert.equal(room.producerInfos()[0]!.paused, true);
  assert.deepEqual(log.filter((n) => n.roomId === 'admin-close' && n.name === 'mutedByHost').at(-1)?.data, { producerId: mics[0], source: 'microphone', closed: false, reason: 'the host' });
  manager.closeRoom('admin-close');
});

test('removePeer closes the peer\'s media; a lecturer cannot remove itself; the host can remove and ban', async () => {
  const log = notificationLog(manager);
  const { lecturer, students } = await classroom('admin-remove');
  const start = workerTotals(manager);
  await assert.rejects(manager.request(lecturer, 'removePeer', { peerId: 'lecturer' }), (e: unknown) => e instanceof LecternError && e.code === 'INVALID_REQUEST');
  await assert.rejects(manager.request(lecturer, 'removePeer', { peerId: 'nobody' }), (e: unknown) => e instanceof LecternError && e.code === 'NOT_FOUND');
  await assert.rejects(manager.request(lecturer, 'removePeer', { peerId: 's1', banSeconds: 5 }), (e: unknown) => e instanceof LecternError && e.code === 'INVALID_REQUEST');
  await manager.request(lecturer, 'removePeer', { peerId: 's1' });
  const after = workerTotals(manager);
  assert.equal(after.transports, start.transports - 2, "s1's two transports closed");
  await waitFor('its consumer to close', () => workerTotals(manager).consumers === start.consumers - 1, 5000, 5);
  assert.deepEqual(manager.getRoom('admin-remove')!.producerInfos().map((p) => p.peerId), ['s2'], 'and its producer');
  // Its own requests now find no peer.
  await assert.rejects(manager.request(students[0]!, 'getHandQueue', {}), (e: unknown) => e instanceof LecternError && e.code === 'NOT_FOUND');
  await manager.removePeer('admin-remove', 's2', { reason: 'by the host', ban: true, banSeconds: 60 });
  const removed = log.filter((n) => n.roomId === 'admin-remove' && n.name === 'removed');
  assert.deepEqual(removed.map((n) => n.to), [['s1'], ['s2']]);
  assert.equal((removed[0]!.data as { reason: string }).reason, 'removed by lecturer');
  const banned = removed[1]!.data as { banned: boolean; bannedUntil?: string; reason: string };
  assert.equal(banned.banned, true);
  assert.equal(banned.reason, 'by the host');
  assert.ok(Math.abs(Date.parse(banned.bannedUntil!) - Date.now() - 60_000) < 5_000);
  await assert.rejects(manager.request(students[1]!, 'join', { rtpCapabilities: caps }), (e: unknown) => e instanceof LecternError && e.code === 'FORBIDDEN');
  await manager.request(students[0]!, 'join', { rtpCapabilities: caps }); // not banned: back in
  manager.closeRoom('admin-remove');
});

test('endRoom (lecturer) and closeRoom (host) tell every peer why', async () => {
  const log = notificationLog(manager);
  const { lecturer, students } = await classroom('admin-end');
  await assert.rejects(manager.request(students[0]!, 'endRoom', {}), (e: unknown) => e instanceof LecternError && e.code === 'FORBIDDEN');
  assert.ok(manager.getRoom('admin-end'));
  await manager.request(lecturer, 'endRoom', { reason: 'class is over' });
  assert.equal(manager.getRoom('admin-end'), undefined);
  const closed = log.filter((n) => n.roomId === 'admin-end' && n.name === 'roomClosed');
  assert.deepEqual(closed.map((n) => [n.to.sort(), n.data]), [[['lecturer', 's1', 's2'], { roomId: 'admin-end', reason: 'class is over' }]]);
  await classroom('admin-end-2');
  manager.closeRoom('admin-end-2', { reason: 'maintenance' });
  assert.deepEqual(log.filter((n) => n.roomId === 'admin-end-2' && n.name === 'roomClosed').map((n) => n.data), [{ roomId: 'admin-end-2', reason: 'maintenance' }]);
  await waitFor('mediasoup to hold nothing', () => JSON.stringify(workerTotals(manager)) === JSON.stringify({ routers: 0, transports: 0, pipeTransports: 0, consumers: 0 }), 5000, 5);
});
