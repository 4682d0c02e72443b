// LectureClient's logic in Node: mediasoup-client's FakeHandler stands in for
// the browser, a scripted FakeServer for the request API. Covers notification
// routing and remote state, publishing, error mapping, ICE restart and rejoin.
// The real browser + real server paths are in browser.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ClientErrorCode,
  LectureClient,
  LecternClientError,
  isRetryableRejoinError,
  type ConnectionStateEvent,
  type LectureClientEvents,
  type LectureClientOptions,
  type MediaDeviceProvider,
} from '../src/index.js';
import { FakeServer, FakeTrack, flush, recordingHandlerFactory, remoteProducer, until } from './helpers/fake-server.js';

function setup(options: Partial<LectureClientOptions> = {}) {
  const server = new FakeServer();
  const { factory, handlers } = recordingHandlerFactory();
  const captured: FakeTrack[] = [];
  const mediaDevices: MediaDeviceProvider = {
    async getUserMedia(constraints) {
      const track = new FakeTrack(constraints.audio ? 'audio' : 'video');
      captured.push(track);
      return { getAudioTracks: () => (track.kind === 'audio' ? [track] : []), getVideoTracks: () => (track.kind === 'video' ? [track] : []), getTracks: () => [track] } as unknown as MediaStream;
    },
  };
  const client = new LectureClient({ request: server.request, handlerFactory: factory, mediaDevices, ...options });
  const events: { name: keyof LectureClientEvents; event: unknown }[] = [];
  const names: (keyof LectureClientEvents)[] = [
    'peerJoined', 'peerLeft', 'trackPublished', 'trackUnpublished', 'trackSubscribed', 'trackUnsubscribed', 'trackMuted',
    'trackUnmuted', 'trackLayersChanged', 'activeSpeaker', 'gesture', 'handQueueChanged', 'localTrackPublished',
    'localTrackUnpublished', 'connectionStateChanged', 'error',
  ];
  for (const name of names) client.on(name, (event: unknown) => events.push({ name, event }));
  const of = <K extends keyof LectureClientEvents>(name: K) =>
    events.filter((e) => e.name === name).map((e) => e.event as LectureClientEvents[K]);
  const states = () => of('connectionStateChanged').map((e: ConnectionStateEvent) => e.state);
  return { server, client, handlers, captured, events, of, states };
}

const lecturer = { peerId: 'lecturer', role: 'lecturer' as const, displayName: 'Prof', appData: {} };

test('join loads the device, joins with its capabilities and subscribes to what is already there', async () => {
  const { server, client, of, states } = setup();
  const mic = remoteProducer('lecturer', 'microphone');
  const cam = remoteProducer('lecturer', 'camera', true);
  server.peers = [lecturer];
  server.producers = [mic, cam];
  const result = await client.join({ displayName: 'Ada', appData: { seat: 3 } });
  assert.equal(result.peerId, 'me');
  assert.equal(result.role, 'student');
  assert.deepEqual(result.peers.map((p) => p.peerId), ['lecturer']);
  const [caps, join] = [server.requests[0], server.requests[1]];
  assert.equal(caps?.method, 'getRouterRtpCapabilities');
  assert.equal(join?.method, 'join');
  const joinData = join?.data as { displayName: string; appData: unknown; rtpCapabilities: { codecs: unknown[] } };
  assert.equal(joinData.displayName, 'Ada');
  assert.deepEqual(joinData.appData, { seat: 3 });
  assert.ok(joinData.rtpCapabilities.codecs.length > 0);
  assert.deepEqual(states(), ['connecting', 'connected']);
  assert.equal(client.connectionState, 'connected');

  await flush();
  assert.deepEqual(server.calls('createWebRtcTransport'), [{ direction: 'recv' }], 'one recv transport, created on demand');
  assert.equal(server.calls('consume').length, 2);
  assert.equal(server.calls('resumeConsumer').length, 2, 'consumers are resumed once set up');
  const subscribed = of('trackSubscribed');
  assert.deepEqual(subscribed.map((s) => s.source).sort(), ['camera', 'microphone']);
  assert.equal(subscribed.find((s) => s.source === 'camera')?.muted, true, 'a paused producer arrives muted');
  const peer = client.remotePeers.get('lecturer');
  assert.equal(peer?.displayName, 'Prof');
  assert.equal(peer?.tracks.get('microphone')?.producerId, mic.producerId);
  assert.equal(peer?.tracks.get('microphone')?.kind, 'audio');
  assert.equal(peer?.producers.size, 2);
  assert.equal(server.calls('connectTransport').length, 1, 'the recv transport connected');
  client.close();
});

test('notifications update the remote state and emit the matching events', async () => {
  const { server, client, of } = setup();
  await client.join();
  assert.equal(client.handleNotification('peerJoined', lecturer), true);
  assert.equal(of('peerJoined')[0]?.peerId, 'lecturer');

  const mic = remoteProducer('lecturer', 'microphone');
  server.producers.push(mic);
  client.handleNotification('newProducer', mic);
  await flush();
  assert.equal(of('trackPublished')[0]?.producerId, mic.producerId);
  const sub = of('trackSubscribed')[0];
  assert.equal(sub?.peerId, 'lecturer');
  assert.equal(sub?.kind, 'audio');
  assert.ok(sub?.track);

  client.handleNotification('producerPaused', { producerId: mic.producerId });
  assert.equal(of('trackMuted')[0]?.source, 'microphone');
  assert.equal(client.remoteTracks.get(mic.producerId)?.muted, true);
  client.handleNotification('producerResumed', { producerId: mic.producerId });
  assert.equal(of('trackUnmuted').length, 1);
  assert.equal(client.remoteTracks.get(mic.producerId)?.muted, false);

  const consumerId = client.remoteTracks.get(mic.producerId)!.consumerId;
  client.handleNotification('consumerLayersChanged', { consumerId, spatialLayer: 1, temporalLayer: 2 });
  assert.deepEqual(of('trackLayersChanged')[0], { consumerId, spatialLayer: 1, temporalLayer: 2, producerId: mic.producerId });
  client.handleNotification('activeSpeaker', { peerId: 'lecturer', producerId: mic.producerId });
  assert.deepEqual(of('activeSpeaker'), [{ peerId: 'lecturer', producerId: mic.producerId }]);
  client.handleNotification('gesture', { peerId: 'lecturer', gesture: 'thumbs-up', phase: 'start', confidence: 0.9 });
  assert.equal(of('gesture')[0]?.gesture, 'thumbs-up');
  const queue = [{ peerId: 's1', displayName: 'Bo', raisedAt: '2026-11-24T10:00:00.000Z', source: 'gesture' as const }];
  client.handleNotification('handQueueChanged', { queue });
  assert.deepEqual(of('handQueueChanged')[0]?.queue, queue);
  assert.deepEqual(client.handQueue, queue);

  client.handleNotification('producerClosed', { producerId: mic.producerId, peerId: 'lecturer' });
  assert.equal(of('trackUnsubscribed')[0]?.reason, 'producer-closed');
  assert.equal(of('trackUnpublished')[0]?.producerId, mic.producerId);
  assert.equal(client.remotePeers.get('lecturer')?.tracks.size, 0);

  const cam = remoteProducer('lecturer', 'camera');
  server.producers.push(cam);
  client.handleNotification('newProducer', cam);
  await flush();
  client.handleNotification('peerLeft', { peerId: 'lecturer', reason: 'left' });
  assert.equal(of('trackUnsubscribed')[1]?.reason, 'peer-left');
  assert.equal(of('peerLeft')[0]?.peerId, 'lecturer');
  assert.equal(client.remotePeers.size, 0);

  assert.equal(client.handleNotification('transcript', { entries: [] }), false, 'unknown names are left to the host');
  assert.deepEqual(of('error'), []);
  client.close();
});

test('autoSubscribe: false waits for subscribe(producerId); subscribe is idempotent', async () => {
  const { server, client, of } = setup({ autoSubscribe: false });
  const mic = remoteProducer('lecturer', 'microphone');
  server.peers = [lecturer];
  server.producers = [mic];
  await client.join();
  await flush();
  assert.equal(server.calls('consume').length, 0);
  assert.equal(of('trackPublished').length, 1);
  const [a, b] = await Promise.all([client.subscribe(mic.producerId), client.subscribe(mic.producerId)]);
  assert.equal(a, b);
  assert.equal(server.calls('consume').length, 1);
  assert.equal(a.source, 'microphone');
  await client.pauseTrack(mic.producerId);
  assert.equal(client.remoteTracks.get(mic.producerId)?.receivingPaused, true);
  await client.resumeTrack(mic.producerId);
  assert.deepEqual(server.calls('pauseConsumer'), [{ consumerId: a.consumerId }]);
  client.close();
});

test('notifications that arrive while join is in flight are applied after its snapshot', async () => {
  const { server, client, of } = setup();
  let open!: () => void;
  server.gate = new Promise<void>((r) => (open = r));
  server.peers = [lecturer];
  const joining = client.join();
  const late = remoteProducer('lecturer', 'microphone');
  client.handleNotification('newProducer', late); // server sent it before the join reply
  server.producers = [late];
  open();
  await joining;
  await flush();
  assert.deepEqual(of('peerJoined').map((p) => p.peerId), ['lecturer']);
  assert.equal(of('trackPublished').length, 1, 'not announced twice');
  assert.equal(server.calls('consume').length, 1);
  assert.equal(client.remotePeers.get('lecturer')?.tracks.has('microphone'), true);
  client.close();
});

test('publishing: mic and simulcast camera go out with their sources; pause, resume and unpublish reach the server', async () => {
  const { server, client, of } = setup();
  server.role = 'lecturer';
  await client.join();
  const appMic = new FakeTrack('audio');
  const mic = await client.publishMicrophone(appMic.asTrack());
  assert.equal(mic.source, 'microphone');
  assert.equal(mic.ownedByClient, false);
  const cam = await client.publishCamera(); // captured by the client
  assert.equal(cam.ownedByClient, true);
  assert.deepEqual(server.calls('createWebRtcTransport'), [{ direction: 'send' }], 'one send transport for both');
  const [p1, p2] = server.produced;
  assert.equal(p1?.source, 'microphone');
  assert.equal(p1?.kind, 'audio');
  assert.equal(p2?.source, 'camera');
  assert.equal(p2?.rtpParameters.encodings?.length, 3, 'camera simulcast: 3 encodings');
  assert.equal(mic.producerId, p1?.producerId);
  assert.equal(of('localTrackPublished').length, 2);

  await assert.rejects(client.publishMicrophone(new FakeTrack('audio').asTrack()), (e: unknown) => e instanceof LecternClientError && e.code === 'INVALID_STATE');
  await assert.rejects(client.publishScreen(), (e: unknown) => e instanceof LecternClientError && e.code === 'MEDIA_UNAVAILABLE');

  await client.pause('camera');
  assert.equal(cam.paused, true);
  assert.deepEqual(server.calls('pauseProducer'), [{ producerId: cam.producerId }]);
  await client.pause('camera'); // no-op
  await client.resume('camera');
  assert.deepEqual(server.calls('resumeProducer'), [{ producerId: cam.producerId }]);
  assert.equal(server.calls('pauseProducer').length, 1);

  const camProducerId = cam.producerId;
  const camTrack = cam.track as unknown as FakeTrack;
  await client.unpublish('camera');
  assert.deepEqual(server.calls('closeProducer'), [{ producerId: camProducerId }]);
  assert.equal(camTrack.stopped, true, 'a track the client captured is stopped');
  await client.unpublish('microphone');
  assert.equal(appMic.stopped, false, "the app's track is left to the app");
  assert.equal(client.localTracks.size, 0);

  // simulcast: false sends a single encoding.
  const flatServer = new FakeServer();
  flatServer.role = 'lecturer';
  const single = new LectureClient({ request: flatServer.request, handlerFactory: recordingHandlerFactory().factory, simulcast: false });
  await single.join();
  await single.publishCamera(new FakeTrack('video').asTrack());
  assert.equal(flatServer.produced[0]?.rtpParameters.encodings?.length, 1);
  single.close();
  client.close();
});

test('a server refusal surfaces as LecternClientError with the server code, and nothing is left published', async () => {
  const { server, client, captured } = setup();
  await client.join();
  server.on('produce', (data) => {
    if ((data as { source: string }).source === 'camera') throw { code: 'FORBIDDEN', message: 'students may not send camera in this room' };
    return { producerId: 'p-mic' };
  });
  const error = await client.publishCamera().then(
    () => assert.fail('publishCamera should reject'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LecternClientError);
  assert.equal(error.code, 'FORBIDDEN');
  assert.equal(error.method, 'produce');
  assert.match(error.message, /may not send camera/);
  assert.equal(client.localTracks.has('camera'), false);
  assert.equal(captured[0]?.stopped, true, 'the captured camera is released');
  const mic = await client.publishMicrophone(new FakeTrack('audio').asTrack());
  assert.equal(mic.producerId, 'p-mic', 'the send transport still works');

  server.on('getHandQueue', () => {
    throw Object.assign(new Error('not joined'), { code: 'NOT_FOUND' });
  });
  await assert.rejects(client.getHandQueue(), (e: unknown) => e instanceof LecternClientError && e.code === 'NOT_FOUND');
  client.close();
  await assert.rejects(client.publishMicrophone(new FakeTrack('audio').asTrack()), (e: unknown) => e instanceof LecternClientError && e.code === 'CLOSED');
});

test('gesture and hand-queue methods send their requests and keep the queue', async () => {
  const { server, client } = setup();
  await client.join();
  const queue = [{ peerId: 'me', raisedAt: '2026-11-24T10:00:00.000Z', source: 'button' as const }];
  server.on('raiseHand', () => ({ queue }));
  await client.sendGesture('raised-hand', 'start', 0.93);
  assert.deepEqual(await client.raiseHand(), queue);
  assert.deepEqual(client.handQueue, queue);
  server.on('getHandQueue', () => ({ queue: [] }));
  assert.deepEqual(await client.getHandQueue(), []);
  await client.lowerHand();
  await client.dismissHand('s1');
  await client.clearHandQueue();
  assert.deepEqual(server.calls('sendGesture'), [{ gesture: 'raised-hand', phase: 'start', confidence: 0.93 }]);
  assert.deepEqual(server.calls('dismissHand'), [{ peerId: 's1' }]);
  for (const m of ['raiseHand', 'lowerHand', 'getHandQueue', 'clearHandQueue']) assert.equal(server.calls(m).length, 1, m);
  client.close();
  await assert.rejects(client.raiseHand(), (e: unknown) => e instanceof LecternClientError && e.code === 'CLOSED');
});

test('reconnectRequired: full rejoin republishes the local tracks and resubscribes', async () => {
  const { server, client, of, states } = setup();
  server.role = 'lecturer';
  const mic = remoteProducer('s1', 'microphone');
  server.peers = [{ peerId: 's1', role: 'student', appData: {} }];
  server.producers = [mic];
  await client.join({ displayName: 'Prof' });
  const appCam = new FakeTrack('video');
  await client.publishCamera(appCam.asTrack());
  await client.pause('camera');
  await flush();
  assert.equal(of('trackSubscribed').length, 1);
  const before = { joins: server.calls('join').length, transports: server.calls('createWebRtcTransport').length };

  client.handleNotification('reconnectRequired', { reason: 'worker-died' });
  await new Promise<void>((resolve) => client.on('connectionStateChanged', (e) => e.state === 'connected' && resolve()));
  await flush();
  assert.deepEqual(states().slice(-2), ['reconnecting', 'connected']);
  assert.equal(of('connectionStateChanged').at(-2)?.reason, 'worker-died');
  assert.equal(server.calls('join').length, before.joins + 1);
  assert.deepEqual((server.calls('join').at(-1) as { displayName: string }).displayName, 'Prof');
  assert.equal(server.calls('createWebRtcTransport').length, before.transports + 2, 'new send and recv transports');
  const republished = server.produced.at(-1);
  assert.equal(republished?.source, 'camera');
  assert.equal(republished?.paused, true, 'a paused track is republished paused');
  assert.equal(appCam.stopped, false);
  assert.equal(client.localTracks.get('camera')?.producerId, republished?.producerId);
  assert.deepEqual(of('trackUnsubscribed').map((e) => e.reason), ['reconnect']);
  assert.equal(of('trackSubscribed').length, 2, 'resubscribed to the same producer');
  assert.equal(of('peerLeft').length, 0, 'peers that are still there are not re-announced');
  assert.equal(of('peerJoined').length, 1);
  assert.deepEqual(of('error'), []);
  client.close();
});

test('ICE: a failed transport is restarted (reconnecting → connected); exhausted restarts fall back to a rejoin', async () => {
  const { server, client, handlers, states, of } = setup({ iceRestartAttempts: 1, iceRestartTimeoutMs: 50, disconnectedGraceMs: 20 });
  server.role = 'lecturer';
  await client.join();
  await client.publishMicrophone(new FakeTrack('audio').asTrack());
  const send = handlers[0]!;
  send.setConnectionState('connected');
  send.setConnectionState('failed');
  await flush();
  assert.equal(server.calls('restartIce').length, 1);
  assert.equal(client.connectionState, 'reconnecting');
  send.setConnectionState('connected');
  assert.equal(client.connectionState, 'connected');
  assert.deepEqual(states(), ['connecting', 'connected', 'reconnecting', 'connected']);
  assert.equal(of('connectionStateChanged')[3]?.reason, 'ice-restarted');

  // disconnected → grace (20 ms) → restart → no 'connected' within 50 ms → budget (1) spent → rejoin.
  const rejoined = new Promise<void>((resolve) => client.on('connectionStateChanged', (e) => e.reason === 'rejoined' && resolve()));
  send.setConnectionState('disconnected');
  await until('the second ICE restart', () => server.calls('restartIce').length === 2);
  await rejoined;
  assert.deepEqual(states().slice(4), ['reconnecting', 'connected'], 'reconnecting throughout the restart and the rejoin');
  assert.deepEqual(of('connectionStateChanged').slice(4).map((e) => e.reason), ['ice-restart', 'rejoined']);
  assert.equal(server.calls('join').length, 2);
  assert.equal(server.produced.at(-1)?.source, 'microphone');
  client.close();
});

test('rejoin retries with backoff, then reports failed (and a final code stops at once)', async () => {
  const { server, client, of } = setup({ rejoinAttempts: 3, rejoinBaseDelayMs: 10 });
  await client.join();
  let joins = 0;
  server.on('join', (data) => {
    joins += 1;
    if (joins === 1) throw { code: 'OVERLOADED', message: 'no worker has headroom' };
    return { peerId: 'me', role: 'student', routerRtpCapabilities: (data as { rtpCapabilities: unknown }).rtpCapabilities, peers: [], producers: [] };
  });
  client.handleNotification('reconnectRequired', { reason: 'worker-died' });
  await new Promise<void>((resolve) => client.on('connectionStateChanged', (e) => e.state === 'connected' && resolve()));
  assert.equal(joins, 2, 'one retry after OVERLOADED');

  server.on('join', () => {
    throw { code: 'FORBIDDEN', message: 'banned' };
  });
  client.handleNotification('reconnectRequired', { reason: 'worker-died' });
  await new Promise<void>((resolve) => client.on('connectionStateChanged', (e) => e.state === 'failed' && resolve()));
  assert.equal(of('error').at(-1)?.code, 'FORBIDDEN');
  assert.equal(server.calls('join').length, 4, 'FORBIDDEN is not retried');
  client.close();
});

test('leave and close release everything; roomClosed disconnects', async () => {
  const { server, client, states, of } = setup();
  server.role = 'lecturer';
  server.peers = [lecturer];
  server.producers = [remoteProducer('lecturer', 'microphone')];
  await client.join();
  const owned = await client.publishCamera();
  const app = new FakeTrack('audio');
  await client.publishMicrophone(app.asTrack());
  await flush();
  await client.leave();
  assert.equal(client.connectionState, 'disconnected');
  assert.equal(server.calls('leave').length, 1);
  assert.equal((owned.track as unknown as FakeTrack).stopped, true);
  assert.equal(app.stopped, false);
  assert.equal(client.remotePeers.size, 0);
  assert.equal(client.localTracks.size, 0);
  assert.deepEqual(of('trackUnsubscribed').map((e) => e.reason), ['left']);
  assert.equal(of('localTrackUnpublished').length, 2);

  await client.join(); // a left client can join again
  client.handleNotification('roomClosed', { roomId: 'r' });
  assert.equal(client.connectionState, 'disconnected');
  assert.equal(of('connectionStateChanged').at(-1)?.reason, 'room-closed');
  await client.join();
  client.close();
  assert.deepEqual(states().slice(-2), ['connected', 'closed']);
  await assert.rejects(client.join(), (e: unknown) => e instanceof LecternClientError && e.code === 'CLOSED');
});

test('join where mediasoup-client has no WebRTC handler (Node, no handlerFactory) fails with DEVICE_UNSUPPORTED, not SIGNALING_FAILED', async () => {
  const server = new FakeServer();
  const client = new LectureClient({ request: server.request });
  const states: string[] = [];
  client.on('connectionStateChanged', (e) => states.push(e.state));
  const error = await client.join().then(
    () => assert.fail('join should reject'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LecternClientError);
  assert.equal(error.code, ClientErrorCode.DEVICE_UNSUPPORTED);
  assert.match(error.message, /handlerFactory/);
  assert.equal((error.cause as Error).name, 'UnsupportedError');
  assert.deepEqual(states, ['connecting', 'disconnected']);
  assert.deepEqual(server.calls('join'), [], 'the server never saw a join');
  assert.ok(!isRetryableRejoinError(error.code), 'a rejoin does not retry it either');
  client.close();
});

test('a reconnectRequired that arrives while joining is acted on once the join completes; leave during a rejoin backoff ends it at once', async () => {
  const { server, client, states, of } = setup({ rejoinBaseDelayMs: 60_000 });
  let open!: () => void;
  server.gate = new Promise<void>((r) => (open = r));
  const joining = client.join();
  client.handleNotification('reconnectRequired', { reason: 'worker-died' });
  assert.equal(client.connectionState, 'connecting', 'no rejoin while the join is in flight');
  open();
  await joining;
  await until('the deferred rejoin', () => of('connectionStateChanged').some((e) => e.reason === 'rejoined'));
  assert.deepEqual(states(), ['connecting', 'connected', 'reconnecting', 'connected']);
  assert.equal(server.calls('join').length, 2);

  // The first attempt fails; the next waits the capped backoff (8 s). leave() ends the wait and the run.
  server.on('join', () => {
    throw { code: 'OVERLOADED', message: 'no worker has headroom' };
  });
  client.handleNotification('reconnectRequired', { reason: 'worker-died' });
  await until('the first attempt to fail', () => server.calls('join').length === 3);
  await flush();
  await client.leave();
  await flush();
  assert.deepEqual(states().slice(-2), ['reconnecting', 'disconnected']);
  assert.equal(server.calls('join').length, 3, 'no attempt after leave');
  assert.deepEqual(of('error'), []);
  client.close();
});

test('joining a room of 40 producers subscribes to all of them, at most 8 consume requests in flight', async () => {
  const { server, client, of } = setup();
  server.peers = Array.from({ length: 40 }, (_, i) => ({ peerId: `s${i}`, role: 'student' as const, displayName: `S${i}`, appData: {} }));
  server.producers = server.peers.map((p) => remoteProducer(p.peerId, 'microphone'));
  let inFlight = 0;
  let most = 0;
  let answered = 0;
  server.on('consume', async (data) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 2));
    inFlight -= 1;
    answered += 1;
    return server.answer('consume', data);
  });
  await client.join();
  await until('40 tracks', () => of('trackSubscribed').length === 40, 5000);
  assert.equal(answered, 40);
  assert.ok(most <= 8, `${most} consume requests were in flight at once`);
  assert.ok(most >= 2, 'subscriptions still run in parallel');
  client.close();
});
