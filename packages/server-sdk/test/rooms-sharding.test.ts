// A room spreads over routers on different workers as it fills, and the
// lecturer's audio reaches consumers on every router through pipeToRouter.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RoomManager } from '@lectern/server-sdk';
import { RoomTestPeer } from '@lectern/testkit';
import { notificationLog, requester, waitFor, workerTotals } from './helpers.js';

let manager: RoomManager;

before(async () => {
  manager = await RoomManager.create({
    workers: { numWorkers: 3 },
    room: { maxTransportsPerRouter: 4 },
  });
});
after(() => manager.close());

test('10 peers with maxTransportsPerRouter=4 spread over 3 routers on 3 workers; audio reaches every router', async () => {
  const roomId = 'sharding';
  const notifications = notificationLog(manager);
  const lecturer = await RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
  const producerId = await lecturer.produceAudio();

  const students: RoomTestPeer[] = [];
  for (let i = 0; i < 9; i++) {
    const student = await RoomTestPeer.join(requester(manager, roomId, `student-${i}`));
    await student.recv(); // one transport each: placement happens here
    students.push(student);
  }
  try {
    const room = manager.getRoom(roomId)!;
    const stats = room.stats();
    // 1 send + 9 recv transports, 4 per router: 4 + 4 + 2.
    assert.equal(stats.routers.length, 3, JSON.stringify(stats.routers));
    assert.deepEqual(stats.routers.map((r) => r.transports), [4, 4, 2]);
    assert.equal(new Set(stats.routers.map((r) => r.workerPid)).size, 3, 'routers on 3 different workers');

    // Every student consumes the lecturer (students on routers 2 and 3 need pipes).
    const received = await Promise.all(students.map((s) => s.consume(producerId)));
    await waitFor('every student to receive the lecturer', () => received.every((r) => r.packets() > 25), 15_000);

    // Server side: each router's consumers forwarded packets.
    const afterConsume = room.stats();
    assert.equal(afterConsume.consumers, 9);
    assert.equal(afterConsume.pipes, 2, 'the producer is piped once to each of the 2 other routers');
    assert.equal(workerTotals(manager).pipeTransports, 4, 'one pipe transport pair per router pair');

    // Students who joined after the lecturer produced learned of it from join's reply.
    for (const s of students) assert.ok(s.joined.producers.some((p) => p.producerId === producerId));
    // Peers already in the room heard about each newcomer.
    const joinedNotes = notifications.filter((n) => n.name === 'peerJoined');
    assert.equal(joinedNotes.length, 9);
    assert.deepEqual(joinedNotes[0]!.to, ['lecturer']);

    // Metrics expose the topology.
    const text = await manager.metrics.registry.metrics();
    assert.match(text, /lectern_rooms 1/);
    assert.match(text, /lectern_peers 10/);
    assert.match(text, /lectern_consumers 9/);
    assert.match(text, /lectern_pipes 2/);
    assert.match(text, /lectern_worker_pipe_transports\{worker="\d"\} 2/);
    assert.match(text, /lectern_request_duration_seconds_count\{method="consume"\} 9/);
  } finally {
    await Promise.all(students.map((s) => s.leave()));
    await lecturer.leave();
  }
  // Everyone left: the extra routers were retired with their pipes.
  const room = manager.getRoom(roomId)!;
  assert.equal(room.stats().routers.length, 1);
  assert.deepEqual(workerTotals(manager), { transports: 0, pipeTransports: 0, consumers: 0, routers: 1 });
});

test('once every worker hosts a full router of the room, peers overflow onto the least-filled router', async () => {
  const small = await RoomManager.create({ workers: { numWorkers: 2 }, room: { maxTransportsPerRouter: 2 } });
  const peers: RoomTestPeer[] = [];
  try {
    const roomId = 'overflow';
    const lecturer = await RoomTestPeer.join(requester(small, roomId, 'lecturer', 'lecturer'));
    peers.push(lecturer);
    const producerId = await lecturer.produceAudio();
    for (let i = 0; i < 5; i++) {
      const student = await RoomTestPeer.join(requester(small, roomId, `s${i}`));
      peers.push(student);
      await student.consume(producerId);
    }
    const stats = small.getRoom(roomId)!.stats();
    // Two workers, so two routers at most; 6 transports shared 3 + 3 past the soft limit of 2.
    assert.deepEqual(stats.routers.map((r) => r.transports), [3, 3]);
    assert.equal(new Set(stats.routers.map((r) => r.workerPid)).size, 2);
    assert.equal(stats.pipes, 1);
    await waitFor('overflowed students to receive audio', () =>
      peers.slice(1).every((p) => [...p.consumers.values()][0]!.packets() > 10),
    );
  } finally {
    await Promise.all(peers.map((p) => p.leave()));
    small.close();
  }
});
