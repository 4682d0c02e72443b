// The admin API as the client sees it (mediasoup-client's FakeHandler, a scripted
// FakeServer): `mutedByHost` pauses or ends the local publication without asking
// the server again, `removed` and `roomClosed` end the session with their reason
// and no rejoin, and the admin methods send their requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LectureClient, type LectureClientEvents, type MediaDeviceProvider } from '../src/index.js';
import { FakeServer, FakeTrack, flush, recordingHandlerFactory } from './helpers/fake-server.js';

function setup() {
  const server = new FakeServer();
  // Capture hands out fake tracks (as in client-logic.test.ts), so the client owns what it captured.
  const mediaDevices: MediaDeviceProvider = {
    async getUserMedia(constraints) {
      const track = new FakeTrack(constraints.audio ? 'audio' : 'video');
      return { getAudioTracks: () => (track.kind === 'audio' ? [track] : []), getVideoTracks: () => (track.kind === 'video' ? [track] : []), getTracks: () => [track] } as unknown as MediaStream;
    },
  };
  const client = new LectureClient({ request: server.request, handlerFactory: recordingHandlerFactory().factory, mediaDevices });
  const events: { name: keyof LectureClientEvents; event: unknown }[] = [];
  for (const name of ['mutedByHost', 'removed', 'roomClosed', 'localTrackUnpublished', 'connectionStateChanged', 'error'] as const) {
    client.on(name, (event: unknown) => events.push({ name, event }));
  }
  const of = <K extends keyof LectureClientEvents>(name: K) => events.filter((e) => e.name === name).map((e) => e.event as LectureClientEvents[K]);
  return { server, client, of };
}

test('mutedByHost (paused): the publication is paused locally, the app may unmute it', async () => {
  const { server, client, of } = setup();
  await client.join();
  const mic = await client.publishMicrophone(new FakeTrack('audio').asTrack());
  assert.equal(mic.paused, false);
  client.handleNotification('mutedByHost', { producerId: mic.producerId!, source: 'microphone', closed: false, reason: 'quiet, please', by: 'lecturer' });
  assert.equal(mic.paused, true);
  assert.deepEqual(of('mutedByHost'), [{ source: 'microphone', producerId: mic.producerId, closed: false, reason: 'quiet, please', by: 'lecturer' }]);
  assert.deepEqual(server.calls('pauseProducer'), [], 'the server paused it already: no request');
  await client.resume('microphone');
  assert.equal(mic.paused, false);
  assert.deepEqual(server.calls('resumeProducer'), [{ producerId: mic.producerId }]);
  // Someone else's producer (or a stale id): nothing happens, no event.
  client.handleNotification('mutedByHost', { producerId: 'not-mine', source: 'camera', closed: true });
  assert.equal(of('mutedByHost').length, 1);
  assert.equal(client.localTracks.size, 1);
  client.close();
});

test('mutedByHost (closed): the publication ends with reason closed-by-host, the captured track stops', async () => {
  const { server, client, of } = setup();
  server.role = 'lecturer';
  await client.join();
  const cam = await client.publishCamera(); // captured by the client
  const producerId = cam.producerId!;
  client.handleNotification('mutedByHost', { producerId, source: 'camera', closed: true });
  assert.equal(client.localTracks.has('camera'), false);
  assert.equal((cam.track as unknown as FakeTrack).stopped, true);
  assert.deepEqual(of('localTrackUnpublished').map((e) => e.reason), ['closed-by-host']);
  assert.deepEqual(of('mutedByHost').map((e) => [e.source, e.closed]), [['camera', true]]);
  await flush();
  assert.deepEqual(server.calls('closeProducer'), [], 'closed on the server already: no request');
  // It may publish again.
  await client.publishCamera();
  assert.equal(client.localTracks.has('camera'), true);
  client.close();
});

test('removed: the session ends with reason removed, no rejoin; the event carries the reason and the ban', async () => {
  const { server, client, of } = setup();
  await client.join();
  await client.publishMicrophone(new FakeTrack('audio').asTrack());
  client.handleNotification('removed', { reason: 'disruptive', banned: true, by: 'lecturer' });
  assert.equal(client.connectionState, 'disconnected');
  assert.equal(of('connectionStateChanged').at(-1)?.reason, 'removed');
  assert.deepEqual(of('removed'), [{ reason: 'disruptive', banned: true, by: 'lecturer' }]);
  assert.equal(client.localTracks.size, 0);
  await flush();
  assert.equal(server.calls('join').length, 1, 'no automatic rejoin');
  // A second one (e.g. the host's copy) changes nothing.
  client.handleNotification('removed', { reason: 'again', banned: false });
  assert.equal(of('removed').length, 1);
  client.close();
});

test('roomClosed carries the reason as an event; the admin methods send their requests', async () => {
  const { server, client, of } = setup();
  server.role = 'lecturer';
  await client.join();
  await client.listPeers().catch(() => undefined);
  await client.removePeer('s1', { reason: 'r', ban: true }).catch(() => undefined);
  await client.muteProducer('p1', { close: true }).catch(() => undefined);
  await client.endRoom('class is over').catch(() => undefined);
  assert.deepEqual(server.calls('listPeers'), [{}]);
  assert.deepEqual(server.calls('removePeer'), [{ peerId: 's1', reason: 'r', ban: true }]);
  assert.deepEqual(server.calls('muteProducer'), [{ producerId: 'p1', close: true }]);
  assert.deepEqual(server.calls('endRoom'), [{ reason: 'class is over' }]);
  client.handleNotification('roomClosed', { roomId: 'r', reason: 'class is over' });
  assert.deepEqual(of('roomClosed'), [{ reason: 'class is over' }]);
  assert.equal(of('connectionStateChanged').at(-1)?.reason, 'room-closed');
  client.close();
});
