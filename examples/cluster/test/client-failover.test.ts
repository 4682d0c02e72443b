/**
 * The real client SDK through a node's death: a LectureClient whose signaling
 * goes through a gateway (this test) to media-node processes. Its node is
 * SIGKILLed; a surviving node tells it `reconnectRequired` (node-died), the
 * client rejoins by itself, the gateway places it again (a live node), and it
 * is subscribed to the lecturer again. mediasoup-client's FakeHandler stands in
 * for the browser's WebRTC (the media path is covered by cluster.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
import { LectureClient, type ConnectionStateEvent } from '@lectern/client-sdk';
import type { Notification, PeerContext } from '@lectern/server-sdk';
import { waitFor } from '@lectern/testkit';
import { ClusterHarness } from '../src/harness.js';
import { NodeLinkClient } from '../src/node-link.js';

let harness: ClusterHarness;
const links = new Map<string, NodeLinkClient>();

before(async () => {
  harness = await ClusterHarness.start({ nodeIds: ['A', 'B', 'C'], deadAfterMs: 2500 });
});
after(async () => {
  for (const link of links.values()) await link.close().catch(() => undefined);
  await harness?.close();
});

/** The gateway's own link to a node (one per node; notifications of every link go to `deliver`). */
async function linkTo(nodeId: string, deliver: (n: Notification) => void): Promise<NodeLinkClient> {
  let link = links.get(nodeId);
  if (!link?.open) {
    link = await NodeLinkClient.connect(harness.node(nodeId).link);
    link.on('notification', deliver);
    links.set(nodeId, link);
  }
  return link;
}

test('a LectureClient on a node that dies is told by a survivor, rejoins by itself on a live node, and is subscribed again', async () => {
  const roomId = 'failover';
  const lecturer = await harness.join('A', { roomId, peerId: 'lecturer', role: 'lecturer' });
  const producerId = await lecturer.peer.produceAudio();

  // The gateway: the client's first join goes to B (chosen); a later join is placed by the directory.
  const context: PeerContext = { roomId, peerId: 'student-1', role: 'student' };
  let nodeId = 'B';
  let joins = 0;
  const states: ConnectionStateEvent[] = [];
  const client: LectureClient = new LectureClient({
    handlerFactory: FakeHandler.createFactory(testFakeParameters),
    request: async (method, data) => {
      if (method === 'getRouterRtpCapabilities' && joins++ > 0) nodeId = (await (await linkTo('A', deliver)).place(roomId)).nodeId;
      return (await linkTo(nodeId, deliver)).request(context, method, data);
    },
  });
  function deliver(n: Notification): void {
    if (n.roomId === roomId && n.to.includes(context.peerId)) client.handleNotification(n.name, n.data as never);
  }
  client.on('connectionStateChanged', (e) => states.push(e));
  try {
    for (const id of ['A', 'C']) await linkTo(id, deliver); // notifications from every node reach the client
    await client.join({ displayName: 'Student One' });
    await waitFor('the client subscribes to the lecturer', () => client.remoteTracks.has(producerId), 10_000);
    const firstConsumer = client.remoteTracks.get(producerId)!.consumerId;

    const killedAt = performance.now();
    await harness.kill('B');
    await waitFor('the client is told and rejoins', () => states.some((s) => s.state === 'reconnecting' && s.reason === 'node-died'), 5000);
    const toldMs = performance.now() - killedAt;
    await waitFor('the client is connected again', () => client.connectionState === 'connected' && states.at(-1)?.state === 'connected', 10_000);
    assert.ok(toldMs <= 3000, `told ${Math.round(toldMs)} ms after the kill`);
    assert.notEqual(nodeId, 'B', 'placed on a live node');
    await waitFor('subscribed to the lecturer again (a new consumer on the new node)', () => {
      const track = client.remoteTracks.get(producerId);
      return track !== undefined && track.consumerId !== firstConsumer;
    }, 10_000);
    const stats = await harness.stats(nodeId);
    assert.ok(stats.rooms.some((r) => r.roomId === roomId && r.stats.peers >= 1), `the student is in the room on ${nodeId}`);
    await client.leave();
  } finally {
    client.close();
    await lecturer.leave().catch(() => undefined);
  }
});
