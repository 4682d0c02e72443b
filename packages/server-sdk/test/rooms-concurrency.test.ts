// 20 peers join and consume at once while the lecturer produces: every consumer
// exists exactly once and every producer is piped once per router.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RoomManager } from '@lectern/server-sdk';
import { RoomTestPeer } from '@lectern/testkit';
import { notificationLog, requester, waitFor, workerTotals } from './helpers.js';

let manager: RoomManager;

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 4 }, room: { maxTransportsPerRouter: 6 } });
});
after(() => manager.close());

test('a storm of 20 joins + consumes ends consistent: one consumer each, one pipe per router', async () => {
  const roomId = 'storm';
  const notifications = notificationLog(manager);
  const lecturer = await RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
  const producerId = await lecturer.produceAudio();

  // All at once: join, recv transport, consume -- half of them ask to consume twice
  // concurrently (an auto-subscribe racing a manual one).
  const students = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const student = await RoomTestPeer.join(requester(manager, roomId, `s${i}`));
      const requests = i % 2 === 0 ? [student.consume(producerId), student.consume(producerId)] : [student.consume(producerId)];
      const consumers = await Promise.all(requests);
      assert.equal(new Set(consumers.map((c) => c.consumerId)).size, 1, `s${i} got one consumer id`);
      return student;
    }),
  );
  try {
    const room = manager.getRoom(roomId)!;
    const stats = room.stats();
    // 21 transports, 6 per router: 6 + 6 + 6 + 3, one router per worker.
    assert.deepEqual(stats.routers.map((r) => r.transports), [6, 6, 6, 3]);
    assert.equal(new Set(stats.routers.map((r) => r.workerPid)).size, 4);
    assert.equal(stats.consumers, 20);
    // mediasoup's own count: 20 peer consumers + one pipe consumer per pipe.
    assert.equal(workerTotals(manager).consumers, 20 + stats.pipes, 'no duplicate consumer in mediasoup');
    assert.equal(stats.pipes, 3, 'the producer is piped once to each other router');
    assert.equal(workerTotals(manager).pipeTransports, 6, 'one pipe transport pair per router pair, no duplicates');
    for (const s of students) assert.equal(s.consumers.size, 1);

    await waitFor('all 20 students to receive audio', () => students.every((s) => [...s.consumers.values()][0]!.packets() > 10), 20_000);

    // A producer that starts now is announced to exactly the 20 students.
    const before = notifications.length;
    const lecturerRequest = requester(manager, roomId, 'lecturer', 'lecturer');
    const transportId = (await lecturer.send()).id;
    const { producerId: second } = (await lecturerRequest('produce', {
      transportId,
      kind: 'audio',
      source: 'screen-audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
        encodings: [{ ssrc: 777 }],
      },
    })) as { producerId: string };
    const announced = notifications.slice(before).filter((n) => n.name === 'newProducer');
    assert.equal(announced.length, 1);
    assert.equal(announced[0]!.name === 'newProducer' && announced[0]!.data.producerId, second);
    assert.deepEqual([...announced[0]!.to].sort(), students.map((_, i) => `s${i}`).sort());
  } finally {
    await Promise.all(students.map((s) => s.leave()));
    await lecturer.leave();
  }
  assert.deepEqual(workerTotals(manager), { transports: 0, pipeTransports: 0, consumers: 0, routers: 1 });
});
