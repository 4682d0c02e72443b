// One lecture over three media-node processes (A, B, C) with this process as the
// signaling gateway: real redis-server, real mediasoup workers, real WebRTC peers
// (werift), SIGKILL and SIGTERM of whole nodes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { LecternError, type Notification } from '@lectern/server-sdk';
import { startProcess, waitFor, type ReceivingConsumer } from '@lectern/testkit';
import { ClusterHarness, type HarnessPeer } from '../src/harness.js';
import { NodeLinkClient, NodeLinkServer } from '../src/node-link.js';

const NODES = ['A', 'B', 'C'] as const;
const TEST_TIMEOUT = 180_000;
/** A dead node's peers hear `reconnectRequired` within this of the SIGKILL (the bound; deadAfterMs 2500 + a sweep + delivery). */
const DETECTION_BOUND_MS = 3000;
/** A rejoined peer receives the lecture's audio again within this of starting its rejoin. */
const REJOIN_AUDIO_BOUND_MS = 2000;

let harness: ClusterHarness;

before(async () => {
  harness = await ClusterHarness.start({ nodeIds: [...NODES] });
});

after(async () => {
  await harness?.close();
});

const roomName = (tag: string) => `${tag}-${randomBytes(3).toString('hex')}`;

/** Runs a scenario on a full cluster; a failure carries the nodes' stderr. */
async function scenario(body: () => Promise<void>): Promise<void> {
  for (const nodeId of NODES) if (!harness.isAlive(nodeId)) await harness.restart(nodeId);
  try {
    await body();
  } catch (error) {
    if (error instanceof Error && !error.message.includes('--- ')) error.message += harness.diagnostics();
    throw error;
  }
}

/** Waits until the consumer got `count` more packets than now. */
async function packetsGrow(who: string, consumer: ReceivingConsumer, count = 25, timeoutMs = 10_000): Promise<void> {
  const start = consumer.packets();
  await waitFor(`${who} to receive ${count} more RTP packets (has ${start})`, () => consumer.packets() >= start + count, timeoutMs);
}

function reconnectRequiredIn(roomId: string): Notification[] {
  return harness.notifications.map((e) => e.notification).filter((n) => n.roomId === roomId && n.name === 'reconnectRequired');
}

/** A lecturer producing audio on `lecturerNode`, and one consuming student per entry of `studentNodes`. */
async function lecture(roomId: string, lecturerNode: string, studentNodes: string[]) {
  const lecturer = await harness.join(lecturerNode, { roomId, peerId: 'lecturer', role: 'lecturer', displayName: 'Prof' });
  const producerId = await lecturer.peer.produceAudio();
  const students: { hp: HarnessPeer; consumer: ReceivingConsumer & { consumerId: string } }[] = [];
  for (const [i, nodeId] of studentNodes.entries()) {
    const hp = await harness.join(nodeId, { roomId, peerId: `s${i}-${nodeId}`, role: 'student' });
    assert.ok(
      hp.peer.joined.producers.some((p) => p.producerId === producerId),
      `${hp.peerId} on ${nodeId} sees the lecturer's producer in its join reply: ${JSON.stringify(hp.peer.joined.producers)}`,
    );
    students.push({ hp, consumer: await hp.peer.consume(producerId) });
  }
  await Promise.all(students.map((s) => packetsGrow(`${s.hp.peerId} on ${s.hp.nodeId}`, s.consumer)));
  return { lecturer, producerId, students };
}

test('the link: requests in flight reject at once when the node goes; a closed link refuses new ones', { timeout: TEST_TIMEOUT }, async () => {
  const never = new Promise<never>(() => {});
  const server = await NodeLinkServer.listen({
    host: '127.0.0.1',
    port: 0,
    handlers: { request: () => never, place: () => never, stats: () => ({ rooms: [], load: 0.25 }) },
  });
  const client = await NodeLinkClient.connect(server.url);
  try {
    assert.deepEqual(await client.stats(), { rooms: [], load: 0.25 });
    const pushed: Notification[] = [];
    client.on('notification', (n) => pushed.push(n));
    server.notify({ roomId: 'r', to: ['p'], name: 'peerLeft', data: { peerId: 'q', reason: 'left' } });
    await waitFor('the pushed notification', () => pushed.length === 1, 5000);
    assert.deepEqual(pushed[0], { roomId: 'r', to: ['p'], name: 'peerLeft', data: { peerId: 'q', reason: 'left' } });

    const inFlight = Promise.allSettled([client.request({ roomId: 'r', peerId: 'p' }, 'join', {}, 60_000), client.place('r', 60_000)]);
    const started = performance.now();
    await server.close(0);
    for (const result of await inFlight) {
      assert.equal(result.status, 'rejected');
      assert.ok(result.reason instanceof LecternError && result.reason.code === 'UNAVAILABLE', String(result.reason));
    }
    assert.ok(performance.now() - started < 2000, 'rejected at the close, not at the timeout');
    await assert.rejects(client.stats(), (e: unknown) => e instanceof LecternError && e.code === 'UNAVAILABLE');
  } finally {
    await client.close();
    await server.close();
  }
});

test('media-node.ts refuses a bad environment with one line and exit code 2', { timeout: TEST_TIMEOUT }, async () => {
  const script = fileURLToPath(new URL('../src/media-node.ts', import.meta.url));
  const cases: [Record<string, string>, RegExp][] = [
    [{ LECTERN_NODE_ID: 'bad id!' }, /LECTERN_NODE_ID/],
    [{ LECTERN_NODE_ID: 'n1', LECTERN_REDIS_URL: 'http://x' }, /LECTERN_REDIS_URL/],
    [{ LECTERN_NODE_ID: 'n1', LECTERN_REDIS_URL: 'redis://127.0.0.1:1', LECTERN_PIPE_MIN_PORT: '40500', LECTERN_PIPE_MAX_PORT: '40600' }, /overlap/],
  ];
  await Promise.all(
    cases.map(async ([env, expected]) => {
      const proc = startProcess(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', script], {
        cwd: fileURLToPath(new URL('../../..', import.meta.url)),
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      assert.equal(await proc.exited, 2, proc.stderr());
      const lines = proc.stderr().trim().split('\n');
      assert.equal(lines.length, 1, proc.stderr());
      assert.match(lines[0]!, expected);
    }),
  );
});

test('every node serves: ready, place, stats, a room on one node, bad link frames answered', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    for (const nodeId of NODES) {
      const node = harness.node(nodeId);
      assert.ok(node.alive && node.pid > 0 && node.link.startsWith('ws://127.0.0.1:'), `${nodeId}: ${JSON.stringify(node)}`);
      const stats = await harness.stats(nodeId);
      assert.ok(Array.isArray(stats.rooms) && stats.load >= 0 && stats.load <= 1, `${nodeId} stats: ${JSON.stringify(stats)}`);
    }
    const roomId = roomName('solo');
    const placement = await harness.place(roomId);
    assert.ok((NODES as readonly string[]).includes(placement.nodeId), `placed on a node of the cluster: ${JSON.stringify(placement)}`);
    assert.equal(placement.roomId, roomId);

    const { lecturer, students } = await lecture(roomId, placement.nodeId, [placement.nodeId]);
    const stats = await harness.stats(placement.nodeId);
    const room = stats.rooms.find((r) => r.roomId === roomId);
    assert.ok(room && room.stats.peers === 2, `the node holds the room with 2 peers: ${JSON.stringify(room)}`);
    await students[0]!.hp.leave();
    await lecturer.leave();

    // The link answers malformed frames with INVALID_REQUEST (and keeps serving).
    const socket = new WebSocket(harness.node('A').link);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const replies: unknown[] = [];
    socket.on('message', (raw) => replies.push(JSON.parse(raw.toString())));
    socket.send('not json');
    socket.send(JSON.stringify({ id: 7, op: 'request', peer: { roomId: 'r' }, method: 'join', data: {} }));
    socket.send(JSON.stringify({ id: 8, op: 'launch' }));
    socket.send(JSON.stringify({ id: 9, op: 'request', peer: { roomId: 'r', peerId: 'p' }, method: 'noSuchMethod', data: {} }));
    socket.send(JSON.stringify({ id: 10, op: 'stats' }));
    await waitFor('five replies', () => replies.length >= 5, 5000);
    socket.close();
    const byId = new Map(replies.map((r) => [(r as { id: unknown }).id, r as { ok: boolean; error?: { code: string } }]));
    assert.equal(byId.get(null)?.error?.code, 'INVALID_REQUEST');
    assert.equal(byId.get(7)?.error?.code, 'INVALID_REQUEST');
    assert.equal(byId.get(8)?.error?.code, 'INVALID_REQUEST');
    assert.equal(byId.get(9)?.error?.code, 'UNKNOWN_METHOD');
    assert.equal(byId.get(10)?.ok, true);
    assert.equal(harness.isAlive('A'), true);
  }),
);

test('(a) a lecturer on A is heard by students on A, B and C; a late student on B sees the producer at join', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    const roomId = roomName('a');
    const lecturer = await harness.join('A', { roomId, peerId: 'lecturer', role: 'lecturer' });
    // Joined before the producer exists: told by newProducer, across nodes.
    const early = await harness.join('C', { roomId, peerId: 'early-C', role: 'student' });
    const producerId = await lecturer.peer.produceAudio();
    const announced = await early.waitFor('newProducer', (p) => p.producerId === producerId);
    assert.equal(announced.peerId, 'lecturer');
    assert.equal(announced.kind, 'audio');

    const consumers = [{ who: early, consumer: await early.peer.consume(producerId) }];
    for (const nodeId of ['A', 'B']) {
      const student = await harness.join(nodeId, { roomId, peerId: `student-${nodeId}`, role: 'student' });
      assert.ok(student.peer.joined.producers.some((p) => p.producerId === producerId), `student on ${nodeId} sees the producer at join`);
      consumers.push({ who: student, consumer: await student.peer.consume(producerId) });
    }
    await Promise.all(consumers.map(({ who, consumer }) => packetsGrow(`${who.peerId} on ${who.nodeId}`, consumer)));

    const joinStarted = performance.now();
    const late = await harness.join('B', { roomId, peerId: 'late-B', role: 'student' });
    const seen = late.peer.joined.producers.find((p) => p.producerId === producerId);
    assert.ok(seen, `the late student on B sees the producer in its join reply: ${JSON.stringify(late.peer.joined.producers)}`);
    assert.equal(seen.peerId, 'lecturer');
    const lateConsumer = await late.peer.consume(producerId);
    await waitFor('late-B to receive audio', () => lateConsumer.packets() > 0, 10_000, 10);
    console.log(`# late-B: audio from A ${(performance.now() - joinStarted).toFixed(0)} ms after starting its join on B`);
    await packetsGrow('late-B', lateConsumer);
    // Still flowing to everyone.
    await Promise.all(consumers.map(({ who, consumer }) => packetsGrow(`${who.peerId} on ${who.nodeId}`, consumer)));

    for (const peer of [late, ...consumers.map((c) => c.who), lecturer]) await peer.leave();
  }),
);

test('(b) pause, resume and close of the lecturer\'s producer reach students on other nodes', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    const roomId = roomName('b');
    const { lecturer, producerId, students } = await lecture(roomId, 'A', ['B', 'C']);

    await lecturer.peer.request('pauseProducer', { producerId });
    for (const { hp, consumer } of students) {
      await hp.waitFor('producerPaused', (d) => d.producerId === producerId);
      await hp.waitFor('consumerPaused', (d) => d.consumerId === consumer.consumerId);
    }
    // Paused means no media: after the pause notifications, the counts settle.
    await waitFor(
      'no RTP while paused',
      async () => {
        const before = students.map((s) => s.consumer.packets());
        await new Promise((r) => setTimeout(r, 300));
        return students.every((s, i) => s.consumer.packets() === before[i]);
      },
      5000,
      0,
    );

    await lecturer.peer.request('resumeProducer', { producerId });
    for (const { hp, consumer } of students) {
      await hp.waitFor('producerResumed', (d) => d.producerId === producerId);
      await hp.waitFor('consumerResumed', (d) => d.consumerId === consumer.consumerId);
    }
    await Promise.all(students.map((s) => packetsGrow(`${s.hp.peerId} after resume`, s.consumer)));

    await lecturer.peer.request('closeProducer', { producerId });
    for (const { hp, consumer } of students) {
      const closed = await hp.waitFor('producerClosed', (d) => d.producerId === producerId);
      assert.equal(closed.peerId, 'lecturer');
      await hp.waitFor('consumerClosed', (d) => d.consumerId === consumer.consumerId && d.producerId === producerId);
    }
    for (const peer of [...students.map((s) => s.hp), lecturer]) await peer.leave();
  }),
);

test('(c) SIGKILL of node B: exactly B\'s peers are told to reconnect, the others see them leave, they rejoin on C and hear the lecture again', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    const roomId = roomName('c');
    const { lecturer, producerId, students } = await lecture(roomId, 'A', ['A', 'B', 'B', 'C']);
    const onB = students.filter((s) => s.hp.nodeId === 'B');
    const survivors = [lecturer, ...students.filter((s) => s.hp.nodeId !== 'B').map((s) => s.hp)];
    const bPeerIds = onB.map((s) => s.hp.peerId).sort();

    const killedAt = await harness.kill('B');
    for (const { hp } of onB) {
      const told = await hp.waitForReceived('reconnectRequired', (d) => d.reason === 'node-died', 10_000);
      const after = told.at - killedAt;
      assert.ok(after <= DETECTION_BOUND_MS, `${hp.peerId} told to reconnect ${after.toFixed(0)} ms after the kill (bound ${DETECTION_BOUND_MS})`);
      assert.notEqual(told.from, 'B');
      console.log(`# ${hp.peerId}: reconnectRequired from ${told.from} ${after.toFixed(0)} ms after SIGKILL`);
    }
    for (const peer of survivors) {
      for (const peerId of bPeerIds) await peer.waitFor('peerLeft', (d) => d.peerId === peerId && d.reason === 'node-died');
    }
    const lost = harness.peersLost.filter((e) => e.event.roomId === roomId);
    assert.equal(lost.length, 1, `one peersLost for the room: ${JSON.stringify(lost)}`);
    assert.deepEqual({ ...lost[0]!.event, peerIds: [...lost[0]!.event.peerIds].sort() }, { roomId, nodeId: 'B', peerIds: bPeerIds, reason: 'node-died' });
    for (const peer of survivors) {
      assert.deepEqual(peer.notifications.filter((n) => n.name === 'reconnectRequired'), [], `${peer.peerId} on ${peer.nodeId} is not told to reconnect`);
    }
    for (const n of reconnectRequiredIn(roomId)) assert.deepEqual([...n.to].sort().filter((p) => !bPeerIds.includes(p)), [], `reconnectRequired only to B's peers: ${JSON.stringify(n)}`);
    // The survivors still hear the lecture.
    await Promise.all(students.filter((s) => s.hp.nodeId !== 'B').map((s) => packetsGrow(`${s.hp.peerId} after the kill`, s.consumer)));

    for (const { hp } of onB) {
      const started = performance.now();
      const again = await harness.rejoin(hp, 'C');
      assert.ok(again.peer.joined.producers.some((p) => p.producerId === producerId), `${again.peerId} sees the producer again`);
      const consumer = await again.peer.consume(producerId);
      await waitFor(`${again.peerId} to receive audio on C`, () => consumer.packets() > 0, 10_000, 10);
      const took = performance.now() - started;
      console.log(`# ${again.peerId}: audio again ${took.toFixed(0)} ms after starting the rejoin on C`);
      assert.ok(took <= REJOIN_AUDIO_BOUND_MS, `${again.peerId} hears audio ${took.toFixed(0)} ms after starting its rejoin (bound ${REJOIN_AUDIO_BOUND_MS})`);
      await packetsGrow(`${again.peerId} on C`, consumer);
    }
    for (const peer of harness.peers().filter((p) => p.roomId === roomId)) await peer.leave();
  }),
);

test('(d) SIGKILL of the lecturer\'s node A: students elsewhere see the producer close; the lecturer rejoins on C and is heard again', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    const roomId = roomName('d');
    const { lecturer, producerId, students } = await lecture(roomId, 'A', ['B', 'C']);

    const killedAt = await harness.kill('A');
    const told = await lecturer.waitForReceived('reconnectRequired', (d) => d.reason === 'node-died', 10_000);
    console.log(`# lecturer: reconnectRequired from ${told.from} ${(told.at - killedAt).toFixed(0)} ms after SIGKILL`);
    assert.ok(told.at - killedAt <= DETECTION_BOUND_MS, `lecturer told ${(told.at - killedAt).toFixed(0)} ms after the kill`);
    for (const { hp, consumer } of students) {
      await hp.waitFor('producerClosed', (d) => d.producerId === producerId);
      await hp.waitFor('consumerClosed', (d) => d.consumerId === consumer.consumerId);
      await hp.waitFor('peerLeft', (d) => d.peerId === 'lecturer' && d.reason === 'node-died');
      assert.deepEqual(hp.notifications.filter((n) => n.name === 'reconnectRequired'), [], `${hp.peerId} is not told to reconnect`);
    }

    const again = await harness.rejoin(lecturer, 'C');
    const newProducerId = await again.peer.produceAudio();
    assert.notEqual(newProducerId, producerId);
    for (const { hp } of students) {
      await hp.waitFor('newProducer', (p) => p.producerId === newProducerId && p.peerId === 'lecturer');
      const consumer = await hp.peer.consume(newProducerId);
      await packetsGrow(`${hp.peerId} on ${hp.nodeId} from the rejoined lecturer`, consumer);
    }
    for (const peer of harness.peers().filter((p) => p.roomId === roomId)) await peer.leave();
  }),
);

test('(e) SIGTERM of a node: its student is told to reconnect (node-draining), rejoins elsewhere, the node exits 0', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    const roomId = roomName('e');
    const { lecturer, producerId, students } = await lecture(roomId, 'A', ['B', 'C']);
    const [onB, onC] = students as [(typeof students)[0], (typeof students)[0]];

    const exited = harness.terminate('B');
    const told = await onB.hp.waitForReceived('reconnectRequired', (d) => d.reason === 'node-draining', 10_000);
    assert.equal(told.from, 'B');
    // What a client does: rejoin on a node that serves.
    const again = await harness.rejoin(onB.hp, 'C');
    const consumer = await again.peer.consume(producerId);
    await packetsGrow(`${again.peerId} on C`, consumer);
    assert.equal(await exited, 0, 'the drained node exits 0');

    const lost = harness.peersLost.filter((e) => e.event.roomId === roomId);
    assert.deepEqual(
      lost.map((e) => e.event),
      [{ roomId, nodeId: 'B', peerIds: [onB.hp.peerId], reason: 'node-draining' }],
    );
    for (const peer of [lecturer, onC.hp]) {
      assert.deepEqual(peer.notifications.filter((n) => n.name === 'reconnectRequired'), [], `${peer.peerId} is not told to reconnect`);
    }
    await packetsGrow(`${onC.hp.peerId} after B left`, onC.consumer);
    for (const peer of harness.peers().filter((p) => p.roomId === roomId)) await peer.leave();
  }),
);

test('(f) Redis frozen for 4 s mid-lecture, then restarted empty: media between nodes keeps flowing, nobody is told to reconnect or sees anyone leave, a later student joins as before', { timeout: TEST_TIMEOUT }, () =>
  scenario(async () => {
    const roomId = roomName('f');
    const { lecturer, producerId, students } = await lecture(roomId, 'A', ['B', 'C']);
    const seenBefore = harness.notifications.length;
    const lostBefore = harness.peersLost.length;
    // Frozen (SIGSTOP): connections stay open, nothing answers — the nodes' heartbeats and writes time out.
    harness.pauseRedis();
    try {
      await Promise.all(students.map((s) => packetsGrow(`${s.hp.peerId} while Redis is frozen`, s.consumer, 100, 8000)));
    } finally {
      harness.resumeRedis();
    }
    // Then gone and back empty: every node writes its registration and its part of the room again.
    await harness.restartRedis({ whileDown: () => new Promise((resolve) => setTimeout(resolve, 1500)) });
    await Promise.all(students.map((s) => packetsGrow(`${s.hp.peerId} after Redis came back`, s.consumer)));
    // Longer than a grace period (deadAfterMs) after the restart: nothing may be dropped for the outage.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const since = harness.notifications.slice(seenBefore).map((e) => e.notification).filter((n) => n.roomId === roomId);
    assert.deepEqual(since.filter((n) => ['reconnectRequired', 'peerLeft', 'producerClosed', 'consumerClosed'].includes(n.name)), [], 'nobody told anything left');
    assert.equal(harness.peersLost.length, lostBefore, 'no node declared dead');
    const late = await harness.join('C', { roomId, peerId: 'late-C', role: 'student' });
    assert.ok(late.peer.joined.producers.some((p) => p.producerId === producerId), 'the re-asserted room lists the lecturer at join');
    const consumer = await late.peer.consume(producerId);
    await packetsGrow('late-C', consumer);
    for (const peer of [late, ...students.map((s) => s.hp), lecturer]) await peer.leave();
  }),
);
