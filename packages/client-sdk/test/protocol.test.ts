// The wire protocol has one definition, @lectern/protocol, which the client and
// the server both import. What is left to check: the client re-exports that
// definition (not a copy), both SDKs agree with it, and the client handles every
// notification the protocol names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as protocol from '@lectern/protocol';
import { ErrorCode as ServerErrorCode, requestMethods as serverMethods } from '@lectern/server-sdk';
import {
  ErrorCode,
  GESTURE_NAMES,
  LectureClient,
  errorCodes,
  gestureRequestMethods,
  mediaRequestMethods,
  mediaSources,
  notificationNames,
  requestMethods,
  sourceKind,
  type LecternClientError,
  type NotificationMap,
  type NotificationName,
} from '../src/index.js';
import { FakeServer, flush, recordingHandlerFactory, remoteProducer } from './helpers/fake-server.js';

const sorted = (values: Iterable<string>) => [...values].sort();

test('the client re-exports the protocol definitions themselves, not copies', () => {
  assert.equal(ErrorCode, protocol.ErrorCode);
  assert.equal(errorCodes, protocol.errorCodes);
  assert.equal(requestMethods, protocol.requestMethods);
  assert.equal(mediaRequestMethods, protocol.mediaRequestMethods);
  assert.equal(gestureRequestMethods, protocol.gestureRequestMethods);
  assert.equal(notificationNames, protocol.notificationNames);
  assert.equal(mediaSources, protocol.mediaSources);
  assert.equal(sourceKind, protocol.sourceKind);
  assert.equal(GESTURE_NAMES, protocol.gestureNames, "the gesture module's names are the protocol's");
});

test('the client knows exactly the server error codes', () => {
  assert.deepEqual(sorted(errorCodes), sorted(Object.values(ServerErrorCode)));
  assert.deepEqual(ErrorCode, { ...ServerErrorCode });
});

test('the client request methods equal the server request methods', () => {
  assert.deepEqual(sorted(requestMethods), sorted(serverMethods));
});

test('the server serves the gesture and hand-queue methods', () => {
  for (const method of gestureRequestMethods) assert.ok((serverMethods as readonly string[]).includes(method), method);
});

test('the client handles every protocol notification (and leaves other names to the host)', async () => {
  const server = new FakeServer();
  const lecturer = { peerId: 'lecturer', role: 'lecturer' as const, appData: {} };
  const mic = remoteProducer('lecturer', 'microphone');
  server.peers = [lecturer];
  server.producers = [mic];
  const client = new LectureClient({ request: server.request, handlerFactory: recordingHandlerFactory().factory });
  const errors: LecternClientError[] = [];
  client.on('error', (e) => errors.push(e));
  await client.join();
  await flush();
  const consumerId = client.remoteTracks.get(mic.producerId)!.consumerId;
  const camera = remoteProducer('lecturer', 'camera');
  server.producers.push(camera);
  // One payload per name: the mapped type fails to compile when the protocol gains a notification.
  const samples: { [N in NotificationName]: NotificationMap[N] } = {
    peerJoined: { peerId: 'student', role: 'student', appData: {} },
    peerLeft: { peerId: 'student', reason: 'left' },
    newProducer: camera,
    producerClosed: { producerId: 'unknown', peerId: 'lecturer' },
    producerPaused: { producerId: mic.producerId },
    producerResumed: { producerId: mic.producerId },
    consumerClosed: { consumerId: 'another', producerId: mic.producerId },
    consumerPaused: { consumerId },
    consumerResumed: { consumerId },
    consumerLayersChanged: { consumerId, spatialLayer: 0, temporalLayer: null },
    activeSpeaker: { peerId: 'lecturer', producerId: mic.producerId },
    reconnectRequired: { reason: 'worker-died' },
    roomClosed: { roomId: 'r' },
    gesture: { peerId: 'lecturer', gesture: 'open-palm', phase: 'end', confidence: 0.8 },
    handQueueChanged: { queue: [] },
    removed: { reason: 'removed by the host', banned: false },
    mutedByHost: { producerId: 'unknown', source: 'microphone', closed: false },
    caption: { lectureId: 'l', peerId: 'lecturer', streamKey: 'lecturer:microphone', kind: 'partial', seq: 1, text: 'hello', start: 1, end: 2 },
  };
  assert.deepEqual(sorted(Object.keys(samples)), sorted(protocol.notificationNames));
  for (const name of protocol.notificationNames) {
    assert.equal(client.handleNotification(name, samples[name]), true, name);
  }
  assert.equal(client.handleNotification('transcript', { entries: [] }), false);
  await flush();
  assert.equal(client.connectionState, 'disconnected', 'roomClosed ended the rejoin that reconnectRequired started');
  assert.deepEqual(errors, []);
  client.close();
});
