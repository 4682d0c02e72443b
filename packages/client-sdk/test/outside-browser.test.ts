// LectureClient outside the browser: without a handlerFactory, join fails
// locally with DEVICE_UNSUPPORTED (naming the option) before any request; with
// one (mediasoup-client's FakeHandler here) it joins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
import { ClientErrorCode, LectureClient, LecternClientError } from '../src/index.js';
import { FakeServer } from './helpers/fake-server.js';

test('Node without a handlerFactory: DEVICE_UNSUPPORTED before any request, the message says what to pass', async () => {
  const server = new FakeServer();
  const client = new LectureClient({ request: server.request });
  const error = await client.join({ displayName: 'bot' }).then(
    () => assert.fail('join should reject'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LecternClientError);
  assert.equal(error.code, ClientErrorCode.DEVICE_UNSUPPORTED);
  assert.notEqual(error.code, ClientErrorCode.SIGNALING_FAILED);
  assert.match(error.message, /handlerFactory/);
  assert.match(error.message, /FakeHandler\.createFactory/);
  assert.deepEqual(server.requests, [], 'nothing was sent: the failure is local');
  assert.equal(client.connectionState, 'disconnected');
  client.close();
});

test('Node with a handlerFactory (FakeHandler): joins, the device is loaded from the server', async () => {
  const server = new FakeServer();
  const client = new LectureClient({ request: server.request, handlerFactory: FakeHandler.createFactory(testFakeParameters) });
  const joined = await client.join({ displayName: 'bot' });
  assert.equal(joined.peerId, server.peerId);
  assert.equal(client.connectionState, 'connected');
  assert.deepEqual(
    server.requests.slice(0, 2).map((r) => r.method),
    ['getRouterRtpCapabilities', 'join'],
  );
  await client.leave();
  client.close();
});
