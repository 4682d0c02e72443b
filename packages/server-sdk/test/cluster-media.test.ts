/**
 * MediaNode in one process: two RoomManagers (a worker each) as two nodes of a
 * cluster over a real redis-server, real WebRTC peers (werift). A room spans
 * both: remote producers are listed, consumed through PipeTransport pairs and
 * followed (pause, resume, close); hands and gestures cross nodes; a peer that
 * re-joins on the other node ends its old session; an idle pipe closes; a node
 * declared dead is cleaned up and its peers are claimed once; no keys remain.
 * (The multi-process tests with kill -9 are in examples/cluster/test.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Notification } from '@lectern/protocol';
import { RoomTestPeer, startRedis, waitFor, type TestRedis } from '@lectern/testkit';
import { RoomManager } from '@lectern/server-sdk';
import { MediaNode, NodeRegistry, RoomDirectory } from '@lectern/server-sdk/cluster';
import { scanKeys } from './cluster-helpers.js';

let server: TestRedis;
let inspect: Redis;
let prefixes = 0;

before(async () => {
  server = await startRedis();
  inspect = new Redis(server.url);
  inspect.on('error', () => undefined); // the Redis-restart test takes the server away
});
after(async () => {
  await inspect?.quit();
  await server?.stop();
});

interface TestNode {
  nodeId: string;
  manager: RoomManager;
  registry: NodeRegistry;
  directory: RoomDirectory;
  node: MediaNode;
  notes: Notification[];
  lost: Array<{ roomId: string; nodeId: string; peerIds: string[]; reason: string }>;
  errors: unknown[];
  /** The node's own Redis client, when it was given one (to cut it off). */
  redis?: Redis;
}

async function startNode(prefix: string, nodeId: string, options: { idlePipeCloseMs?: number; ownClient?: boolean; workers?: number; maxTransportsPerRouter?: number } = {}): Promise<TestNode> {
  const manager = await RoomManager.create({
    workers: { numWorkers: options.workers ?? 1 },
    emptyRoomTimeoutMs: null,
    ...(options.maxTransportsPerRouter !== undefined ? { room: { maxTransportsPerRouter: options.maxTransportsPerRouter } } : {}),
  });
  const redis = options.ownClient ? new Redis(server.url, { maxRetriesPerRequest: 0 }) : undefined;
  const common = { keyPrefix: prefix, nodeId, heartbeatMs: 200, deadAfterMs: 600, load: () => manager.loadEstimate };
  const registry = redis ? new NodeRegistry({ ...common, redis }) : new NodeRegistry({ ...common, url: server.url });
  const directory = new RoomDirectory(registry);
  const node = await MediaNode.create({
    manager,
    registry,
    directory,
    pipeListenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    ...(options.idlePipeCloseMs !== undefined ? { idlePipeCloseMs: options.idlePipeCloseMs } : {}),
  });
  const t: TestNode = { nodeId, manager, registry, directory, node, notes: [], lost: [], errors: [], ...(redis ? { redis } : {}) };
  manager.on('notification', (n) => t.notes.push(n));
  node.on('notification', (n) => t.notes.push(n));
  node.on('peersLost', (e) => t.lost.push(e));
  node.on('clusterError', (e) => t.errors.push(e));
  return t;
}

async function stopNode(t: TestNode): Promise<void> {
  await t.node.close();
  t.directory.close();
  await t.registry.close();
  t.manager.close();
}

/**
 * Runs `body` on a fresh key prefix and then, however it ended, releases what it
 * started — its peers' client sides, the `cleanup` extras, the nodes (the last
 * started first) — and checks that no cluster key is left.
 */
async function withCluster(
  body: (cluster: { start: (nodeId: string, options?: Parameters<typeof startNode>[2]) => Promise<TestNode>; peers: RoomTestPeer[]; cleanup: Array<() => Promise<unknown>> }) => Promise<void>,
): Promise<void> {
  const prefix = `cm${++prefixes}:`;
  const nodes: TestNode[] = [];
  const peers: RoomTestPeer[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];
  const start = async (nodeId: string, options?: Parameters<typeof startNode>[2]) => {
    const node = await startNode(prefix, nodeId, options);
    nodes.push(node);
    return node;
  };
  try {
    await body({ start, peers, cleanup });
  } finally {
    for (const p of peers) await p.close().catch(() => undefined);
    for (const release of cleanup) await release();
    for (const node of nodes.reverse()) await stopNode(node);
  }
  assert.deepEqual(await scanKeys(inspect, prefix), [], 'no cluster keys left');
}

const request = (t: TestNode, roomId: string, peerId: string, role: 'lecturer' | 'student') => (method: string, data: unknown) =>
  t.manager.handle({ roomId, peerId, role }, method, data);

const notesFor = (t: TestNode, peerId: string, name: string) => t.notes.filter((n) => n.to.includes(peerId) && n.name === name);

describe('MediaNode: one room over two nodes', () => {
  test('remote producers are listed, piped once per node, followed, and released', async () => {
    await withCluster(async ({ start, peers }) => {
      const a = await start('node-a', { idlePipeCloseMs: 300 });
      const b = await start('node-b', { idlePipeCloseMs: 300 });
      const lecturer = await RoomTestPeer.join(request(a, 'physics', 'lecturer-1', 'lecturer'));
      peers.push(lecturer);
      const producerId = await lecturer.produceAudio();

      // A student on B: the join reply lists A's lecturer and producer.
      const s1 = await RoomTestPeer.join(request(b, 'physics', 'student-1', 'student'));
      peers.push(s1);
      assert.deepEqual(
        s1.joined.producers.map((p) => p.producerId),
        [producerId],
      );
      const consumer1 = await s1.consume(producerId);
      await waitFor('student-1 on node B receives the lecturer from node A', () => consumer1.packets() > 20, 10_000);

      // A second student on B shares the pipe: one pipe in, one out.
      const s2 = await RoomTestPeer.join(request(b, 'physics', 'student-2', 'student'));
      peers.push(s2);
      const consumer2 = await s2.consume(producerId);
      await waitFor('student-2 on node B receives too', () => consumer2.packets() > 20, 10_000);
      assert.equal(b.node.stats().pipesIn, 1);
      assert.equal(a.node.stats().pipesOut, 1);
      assert.equal(b.node.stats().remotePeers, 1);
      const scraped = await b.manager.metrics.registry.metrics();
      assert.match(scraped, /^lectern_cluster_pipes_in 1$/m);
      assert.match(scraped, /^lectern_cluster_request_duration_seconds_count\{method="pipeProducer",outcome="ok"\} 1$/m);
      assert.match(await a.manager.metrics.registry.metrics(), /^lectern_cluster_pipes_out 1$/m);
      // The lecturer on A heard about both students from B.
      await waitFor('peerJoined crosses nodes', () => notesFor(a, 'lecturer-1', 'peerJoined').length === 2, 5000);

      // Pause and resume follow: remote consumers are paused with the producer.
      await lecturer.request('pauseProducer', { producerId });
      await waitFor('consumerPaused on node B', () => notesFor(b, 'student-1', 'consumerPaused').length === 1, 5000);
      assert.equal(notesFor(b, 'student-2', 'producerPaused').length, 1);
      await lecturer.request('resumeProducer', { producerId });
      await waitFor('consumerResumed on node B', () => notesFor(b, 'student-1', 'consumerResumed').length === 1, 5000);
      const before = consumer1.packets();
      await waitFor('media flows again after resume', () => consumer1.packets() > before + 20, 10_000);

      // Hands and gestures cross nodes: the lecturer on A sees a student of B.
      await s1.request('raiseHand', {});
      await waitFor('the hand of a student on B reaches the lecturer on A', () => notesFor(a, 'lecturer-1', 'handQueueChanged').some((n) => (n.data as { queue: unknown[] }).queue.length === 1), 5000);
      const queue = (await lecturer.request('getHandQueue', {})) as { queue: Array<{ peerId: string }> };
      assert.deepEqual(queue.queue.map((h) => h.peerId), ['student-1']);
      await lecturer.request('dismissHand', { peerId: 'student-1' });
      await waitFor('the dismissal reaches node B', () => notesFor(b, 'student-1', 'handQueueChanged').some((n) => (n.data as { queue: unknown[] }).queue.length === 0), 5000);
      await s2.request('sendGesture', { gesture: 'thumbs-up', phase: 'start', confidence: 0.9 });
      await waitFor('a gesture on B reaches the lecturer on A', () => notesFor(a, 'lecturer-1', 'gesture').length === 1, 5000);

      // Both students stop consuming: the pipe closes after idlePipeCloseMs, on both ends.
      await s1.leave();
      await s2.request('leave', {});
      await waitFor('the idle pipe closed on both nodes', () => b.node.stats().pipesIn === 0 && a.node.stats().pipesOut === 0, 5000);

      // Closing the producer tells remote peers; a later student is piped afresh.
      const s3 = await RoomTestPeer.join(request(b, 'physics', 'student-3', 'student'));
      peers.push(s3);
      const consumer3 = await s3.consume(producerId);
      await waitFor('a later student gets a new pipe', () => consumer3.packets() > 20, 10_000);
      await lecturer.request('closeProducer', { producerId });
      await waitFor('consumerClosed on node B', () => notesFor(b, 'student-3', 'consumerClosed').length === 1, 5000);
      assert.equal(notesFor(b, 'student-3', 'producerClosed').length, 1);
      await waitFor('the closed producer\'s pipe is gone', () => b.node.stats().pipesIn === 0, 5000);
      assert.deepEqual(a.errors, []);
      assert.deepEqual(b.errors, []);
    });
  });

  test('a peer that re-joins on another node ends its old session; a node cut off is declared dead, its peers claimed once, and a re-join brings media back', async () => {
    await withCluster(async ({ start, peers }) => {
      const a = await start('node-a', { ownClient: true });
      const b = await start('node-b');
      const c = await start('node-c');
      const lecturer = await RoomTestPeer.join(request(a, 'chem', 'lecturer-1', 'lecturer'));
      peers.push(lecturer);
      const producerId = await lecturer.produceAudio();
      const onB = await RoomTestPeer.join(request(b, 'chem', 'student-b', 'student'));
      const onC = await RoomTestPeer.join(request(c, 'chem', 'student-c', 'student'));
      peers.push(onB, onC);
      const fromC = await onC.consume(producerId);
      await waitFor('student on C receives', () => fromC.packets() > 10, 10_000);

      // student-b moves to C: B ends its session there ('replaced'); A never hears it left.
      const moved = await RoomTestPeer.join(request(c, 'chem', 'student-b', 'student'));
      peers.push(moved);
      await waitFor('the old session on B ended', () => !b.manager.getRoom('chem')?.hasPeer('student-b'), 5000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(notesFor(a, 'lecturer-1', 'peerLeft').length, 0, 'the lecturer never saw the moved student leave');

      // Node A is cut off from Redis (its heartbeats stop, as in a crash): the others declare it dead.
      a.redis!.disconnect();
      await waitFor("a survivor claims the dead node's peers", () => b.lost.length + c.lost.length > 0, 5000);
      await waitFor('the consumer of the dead node\'s producer closed', () => notesFor(c, 'student-c', 'consumerClosed').length === 1, 5000);
      assert.equal(notesFor(c, 'student-c', 'producerClosed').length, 1);
      assert.deepEqual(
        notesFor(c, 'student-c', 'peerLeft').map((n) => n.data),
        [{ peerId: 'lecturer-1', reason: 'node-died' }],
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      const lost = [...b.lost, ...c.lost];
      assert.equal(lost.length, 1, "exactly one node tells the dead node's peers");
      assert.deepEqual(lost[0], { roomId: 'chem', nodeId: 'node-a', peerIds: ['lecturer-1'], reason: 'node-died' });
      const told = [...b.notes, ...c.notes].filter((n) => n.name === 'reconnectRequired');
      assert.deepEqual(told.map((n) => n.to), [['lecturer-1']]);
      assert.equal(c.node.stats().pipesIn, 0, 'the pipe from the dead node closed');

      // The lecturer re-joins on B and publishes again: the student on C receives it.
      const back = await RoomTestPeer.join(request(b, 'chem', 'lecturer-1', 'lecturer'));
      peers.push(back);
      const again = await back.produceAudio();
      await waitFor('newProducer reaches C', () => notesFor(c, 'student-c', 'newProducer').some((n) => (n.data as { producerId: string }).producerId === again), 5000);
      const fromB = await onC.consume(again);
      await waitFor('media back after the re-join', () => fromB.packets() > 10, 10_000);
    });
  });

  test("a lecturer's admin acts across nodes: listPeers, mute, remove with a ban every node keeps, end the room everywhere", async () => {
    await withCluster(async ({ start, peers }) => {
      const a = await start('node-a');
      const b = await start('node-b');
      const lecturer = await RoomTestPeer.join(request(a, 'bio', 'lecturer-1', 'lecturer'));
      const student = await RoomTestPeer.join(request(b, 'bio', 'student-1', 'student'));
      const other = await RoomTestPeer.join(request(b, 'bio', 'student-2', 'student'));
      peers.push(lecturer, student, other);
      const mic = await student.produceAudio();
      await waitFor('the student\'s microphone is known on A', () => a.manager.getRoom('bio')!.producerInfos().some((p) => p.producerId === mic), 5000);

      const listed = (await lecturer.request('listPeers', {})) as { peers: Array<{ peerId: string; producers: unknown[]; transports: number }> };
      assert.deepEqual(listed.peers.map((p) => p.peerId).sort(), ['lecturer-1', 'student-1', 'student-2']);
      assert.equal(listed.peers.find((p) => p.peerId === 'student-1')!.producers.length, 1, 'the remote peer comes with its media');
      assert.equal(listed.peers.find((p) => p.peerId === 'student-1')!.transports, 1);
      assert.deepEqual((await a.node.listPeers('bio')).map((p) => p.peerId).sort(), ['lecturer-1', 'student-1', 'student-2']);

      await lecturer.request('muteProducer', { producerId: mic });
      await waitFor('the student hears it was muted', () => notesFor(b, 'student-1', 'mutedByHost').length === 1, 5000);
      await waitFor('the lecturer hears producerPaused', () => notesFor(a, 'lecturer-1', 'producerPaused').length === 1, 5000);

      await lecturer.request('removePeer', { peerId: 'student-1', reason: 'disruptive', ban: true });
      await waitFor('the student is removed on B', () => notesFor(b, 'student-1', 'removed').length === 1, 5000);
      assert.deepEqual(notesFor(b, 'student-1', 'removed')[0]!.data, { reason: 'disruptive', banned: true, by: 'lecturer-1' });
      await waitFor('the lecturer hears it left', () => notesFor(a, 'lecturer-1', 'peerLeft').some((n) => (n.data as { reason: string }).reason === 'removed'), 5000);
      // The ban holds on the other node too.
      await waitFor('A keeps the ban', async () => {
        try {
          await RoomTestPeer.join(request(a, 'bio', 'student-1', 'student')).then((p) => p.close());
          return false;
        } catch (error) {
          return (error as { code?: string }).code === 'FORBIDDEN';
        }
      }, 5000);
      await assert.rejects(lecturer.request('removePeer', { peerId: 'nobody' }), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND');

      await lecturer.request('endRoom', { reason: 'done' });
      await waitFor('the student on B hears the room closed', () => notesFor(b, 'student-2', 'roomClosed').length === 1, 5000);
      assert.deepEqual(notesFor(b, 'student-2', 'roomClosed')[0]!.data, { roomId: 'bio', reason: 'done' });
      await waitFor('the room is gone on B', () => b.manager.getRoom('bio') === undefined, 5000);
      assert.deepEqual(a.errors, []);
      assert.deepEqual(b.errors, []);
    });
  });

  test('Redis restarts empty mid-lecture: media keeps flowing, nobody is told anything left, state changed meanwhile is shared once Redis is back', async () => {
    await withCluster(async ({ start, peers }) => {
      const a = await start('node-a');
      const b = await start('node-b');
      const lecturer = await RoomTestPeer.join(request(a, 'geo', 'lecturer-1', 'lecturer'));
      peers.push(lecturer);
      const producerId = await lecturer.produceAudio();
      const student = await RoomTestPeer.join(request(b, 'geo', 'student-1', 'student'));
      peers.push(student);
      const receiving = await student.consume(producerId);
      await waitFor('the student receives', () => receiving.packets() > 10, 10_000);
      let duringOutage = 0;
      await server.restart({
        whileDown: async () => {
          const before = receiving.packets();
          // Changes while Redis is down: their writes fail, so the others learn them at the re-assert.
          await lecturer.request('pauseProducer', { producerId });
          await new Promise((resolve) => setTimeout(resolve, 1500));
          duringOutage = receiving.packets() - before;
        },
      });
      assert.ok(duringOutage >= 0);
      await waitFor('the pause reaches node B after Redis is back', () => notesFor(b, 'student-1', 'producerPaused').length === 1, 10_000).catch((error: unknown) => {
        throw new Error(`${String(error)}; errors on A: ${JSON.stringify(a.errors.map((e) => (e as { op: string; error: { message: string } }).op + ': ' + (e as { error: { message: string } }).error.message))}; on B: ${JSON.stringify(b.errors.map((e) => (e as { op: string; error: { message: string } }).op + ': ' + (e as { error: { message: string } }).error.message))}`);
      });
      await lecturer.request('resumeProducer', { producerId });
      const resumedAt = receiving.packets();
      await waitFor('media flows after the outage', () => receiving.packets() > resumedAt + 20, 10_000);
      // Let a grace period pass: nothing the others hold may be dropped for the outage.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(notesFor(b, 'student-1', 'producerClosed').length, 0, 'the student never heard the producer close');
      assert.equal(notesFor(b, 'student-1', 'peerLeft').length, 0);
      assert.equal(notesFor(a, 'lecturer-1', 'peerLeft').length, 0);
      assert.equal([...a.lost, ...b.lost].length, 0, 'no node was declared dead');
      // A node that arrives after the restart learns the room from the re-asserted state.
      const c = await start('node-c');
      const late = await RoomTestPeer.join(request(c, 'geo', 'student-2', 'student'));
      peers.push(late);
      assert.deepEqual(late.joined.producers.map((p) => p.producerId), [producerId]);
      const fromC = await late.consume(producerId);
      await waitFor('a student on the new node receives', () => fromC.packets() > 10, 10_000);
    });
  });

  test('a MediaNode closed and created again on a live manager: the others see its room leave and come back, media flows again', async () => {
    await withCluster(async ({ start, peers, cleanup }) => {
      const a = await start('node-a');
      const b = await start('node-b');
      let again: MediaNode | undefined;
      cleanup.push(async () => again?.close());
      const lecturer = await RoomTestPeer.join(request(a, 'art', 'lecturer-1', 'lecturer'));
      peers.push(lecturer);
      const producerId = await lecturer.produceAudio();
      const student = await RoomTestPeer.join(request(b, 'art', 'student-1', 'student'));
      peers.push(student);
      await a.node.close();
      await waitFor('B hears the producer close', () => notesFor(b, 'student-1', 'producerClosed').length === 1, 5000);
      await waitFor('B hears the lecturer leave', () => notesFor(b, 'student-1', 'peerLeft').length === 1, 5000);
      // The room lives on at A as a single-node room; a new MediaNode links it again and announces it.
      again = await MediaNode.create({ manager: a.manager, registry: a.registry, directory: a.directory, pipeListenInfo: { protocol: 'udp', ip: '127.0.0.1' } });
      await waitFor('B hears the producer again', () => notesFor(b, 'student-1', 'newProducer').some((n) => (n.data as { producerId: string }).producerId === producerId), 5000);
      const receiving = await student.consume(producerId);
      await waitFor('media flows through the new link', () => receiving.packets() > 10, 10_000);
    });
  });

  test("the worker under a node's pipes dies: the peers that received through them are told the producer again, subscribe anew, and media flows over a new pair", async () => {
    await withCluster(async ({ start, peers }) => {
      const a = await start('node-a');
      // Two workers, one transport per router: each student on its own router; the pipes arrive on the room's first.
      const b = await start('node-b', { workers: 2, maxTransportsPerRouter: 1 });
      const lecturer = await RoomTestPeer.join(request(a, 'phys', 'lecturer-1', 'lecturer'));
      peers.push(lecturer);
      const producerId = await lecturer.produceAudio();
      const onFirst = await RoomTestPeer.join(request(b, 'phys', 'student-1', 'student'));
      const onSecond = await RoomTestPeer.join(request(b, 'phys', 'student-2', 'student'));
      peers.push(onFirst, onSecond);
      const first = await onFirst.consume(producerId);
      const second = await onSecond.consume(producerId);
      await waitFor('both receive', () => first.packets() > 10 && second.packets() > 10, 10_000);
      const routers = b.manager.getRoom('phys')!.stats().routers;
      assert.equal(routers.length, 2, 'the students are on two routers');
      const pipeWorker = routers[0]!.workerPid; // the room's first router: the pipe pair from A ends there
      process.kill(pipeWorker, 'SIGKILL');
      await waitFor('student-1 (on the dead worker) is told to reconnect', () => notesFor(b, 'student-1', 'reconnectRequired').length === 1, 10_000);
      await waitFor('student-2 is told the producer again', () => notesFor(b, 'student-2', 'newProducer').some((n) => (n.data as { producerId: string }).producerId === producerId), 10_000);
      const order = b.notes.filter((n) => n.to.includes('student-2') && ['consumerClosed', 'newProducer'].includes(n.name)).map((n) => n.name);
      assert.deepEqual(order, ['consumerClosed', 'newProducer'], 'its consumer closed first, then the producer is announced again');
      // Subscribing again (what an auto-subscribing client does) makes a new pair; the old end on A was closed when B said so.
      onSecond.consumers.clear();
      const again = await onSecond.consume(producerId);
      await waitFor('media flows over the new pair', () => again.packets() > 10, 10_000);
      await waitFor('A holds one pipe out (the old pair is gone)', () => a.node.stats().pipesOut === 1, 5000);
      assert.equal(notesFor(b, 'student-2', 'producerClosed').length, 0, 'the producer never closed');
    });
  });

  test("the worker under the sending end of a pair dies (the producer lives on): the receiving node is told, its peers subscribe anew over a new pair", async () => {
    await withCluster(async ({ start, peers }) => {
      const a = await start('node-a', { workers: 2, maxTransportsPerRouter: 1 });
      const b = await start('node-b');
      // A student on A takes the room's first router (where the pairs to other nodes start); the lecturer gets the second.
      const first = await RoomTestPeer.join(request(a, 'chem2', 'student-a', 'student'));
      peers.push(first);
      await first.recv();
      const lecturer = await RoomTestPeer.join(request(a, 'chem2', 'lecturer-1', 'lecturer'));
      peers.push(lecturer);
      const producerId = await lecturer.produceAudio();
      const student = await RoomTestPeer.join(request(b, 'chem2', 'student-b', 'student'));
      peers.push(student);
      const receiving = await student.consume(producerId);
      await waitFor('the student on B receives', () => receiving.packets() > 10, 10_000);
      const routers = a.manager.getRoom('chem2')!.stats().routers;
      assert.equal(routers.length, 2);
      process.kill(routers[0]!.workerPid, 'SIGKILL');
      await waitFor('the student on B is told the producer again', () => notesFor(b, 'student-b', 'newProducer').some((n) => (n.data as { producerId: string }).producerId === producerId), 10_000);
      assert.equal(notesFor(b, 'student-b', 'consumerClosed').length, 1);
      assert.equal(notesFor(b, 'student-b', 'producerClosed').length, 0, 'the producer never closed');
      const again = await student.consume(producerId);
      await waitFor('media flows over a new pair', () => again.packets() > 10, 10_000);
      assert.equal(b.node.stats().pipesIn, 1);
    });
  });
});
