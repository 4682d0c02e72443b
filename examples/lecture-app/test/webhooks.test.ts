// The lecture app's webhooks: with `webhooks` the app forwards its rooms' and
// lectures' events through the SDK's WebhookSender to the LMS's endpoint. A real
// local HTTP receiver gets them while a lecturer and a student join over the
// app's real WebSocket signaling (tokens from /api/join), the lecturer starts
// and stops the transcription, the student leaves and the lecturer ends the
// lecture; each request is verified with verifyWebhook (Standard Webhooks
// signature, the receiver's half), and a body changed by one byte is refused.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode, generateWebhookSecret, LecternError, WebhookSender } from '@lectern/server-sdk';
import { verifyWebhook, type WebhookEvent } from '@lectern/server-sdk/webhooks';
import { startLectureApp, type LectureApp } from '../server/app.js';
import { SignalingPeer, until } from './hardening-helpers.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const ROOM = 'hooks';
const secret = generateWebhookSecret();
const received: Received[] = [];
let receiver: http.Server;
let tmp: string;
let app: LectureApp;

before(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-webhooks-'));
  app = await startLectureApp({
    port: 0,
    whisperUrl: 'http://127.0.0.1:9', // never contacted: the engine check is off and no audio is sent
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, 'work'), engineCheck: false },
    webhooks: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/lectern/webhooks`, secret },
    logger: { warn: () => undefined, error: () => undefined },
  });
});
after(async () => {
  await app?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Every request the receiver got, verified as the LMS would (throws on any bad one). */
function verified(): WebhookEvent[] {
  return received.map(({ headers, body }) => {
    const event = verifyWebhook(secret, headers, body);
    assert.equal(event.id, headers['webhook-id'], 'the envelope id is the webhook-id header');
    return event;
  });
}

async function ok(peer: SignalingPeer, method: string, data: unknown = {}): Promise<unknown> {
  const reply = await peer.request(method, data);
  assert.equal(reply.error, undefined, `${method}: ${JSON.stringify(reply.error)}`);
  return reply.data;
}

test("a lecture's lifecycle arrives at the LMS as signed webhooks, in order", { timeout: 60_000 }, async () => {
  assert.ok(app.webhooks instanceof WebhookSender);
  const lecturer = await SignalingPeer.connect(app.url, `room=${ROOM}&peer=ada&role=lecturer&name=Ada`);
  const student = await SignalingPeer.connect(app.url, `room=${ROOM}&peer=bob&role=student&name=Bob`);
  await ok(lecturer, 'join', { rtpCapabilities: {} });
  await ok(student, 'join', { rtpCapabilities: {} });
  const { lectureId } = (await ok(lecturer, 'startTranscription')) as { lectureId: string };
  // What the STT stage would have stored, so the lecture has a summary to announce.
  await app.transcription.store.putBatch(lectureId, 'b0', [
    { batchId: 'b0', index: 0, start: 0, end: 5, text: 'Photosynthesis turns light into chemical energy in the chloroplast.' },
  ]);
  await ok(student, 'leave');
  await student.closeAndWait();
  const ended = (await ok(lecturer, 'endLecture')) as { summary?: { text: string } };
  assert.match(ended.summary?.text ?? '', /Photosynthesis/);
  await until('the room.closed webhook', () => received.some((r) => r.body.includes('"room.closed"')), 15_000);

  const events = verified().filter((e) => e.data.roomId === ROOM);
  assert.deepEqual(events.map((e) => e.type), [
    'room.created',
    'peer.joined',
    'peer.joined',
    'transcription.started',
    'peer.left',
    'summary.ready', // stored before stopTranscription resolves
    'transcription.stopped',
    'peer.left', // the lecturer, still inside when the room closed (reason room-closed)
    'room.closed',
  ]);
  assert.deepEqual(events.map((e) => 'peerId' in e.data ? [e.data.peerId, e.type] : undefined).filter(Boolean), [
    ['ada', 'peer.joined'],
    ['bob', 'peer.joined'],
    ['bob', 'peer.left'],
    ['ada', 'peer.left'],
  ]);
  const joined = events.find((e) => e.type === 'peer.joined');
  assert.deepEqual(joined?.data, { roomId: ROOM, peerId: 'ada', role: 'lecturer', displayName: 'Ada' }, "the token's role and name");
  const left = events.filter((e) => e.type === 'peer.left');
  assert.deepEqual(left.map((e) => e.data), [
    { roomId: ROOM, peerId: 'bob', reason: 'left' },
    { roomId: ROOM, peerId: 'ada', reason: 'room-closed' },
  ]);
  for (const e of events) {
    if (e.type === 'transcription.started' || e.type === 'summary.ready' || e.type === 'transcription.stopped') assert.equal(e.data.lectureId, lectureId);
  }
  const summary = events.find((e) => e.type === 'summary.ready');
  assert.ok(summary?.type === 'summary.ready' && /Photosynthesis/.test(summary.data.summary.text), 'the stored summary');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'one id per event');
  assert.deepEqual(app.webhooks.stats(), { queued: 0, delivered: received.length, failedAttempts: 0, dropped: { 'queue-full': 0, 'max-attempts': 0, closed: 0 } });
  await lecturer.closeAndWait();
});

test('a request whose body, signature or secret is not the one sent is refused', () => {
  const sample = received.find((r) => r.body.includes('"peer.joined"'));
  assert.ok(sample, 'a received webhook (previous test)');
  assert.equal(verifyWebhook(secret, sample.headers, sample.body).type, 'peer.joined', 'the control: as received, it verifies');
  const refusal = (headers: http.IncomingHttpHeaders, body: Buffer, key = secret): unknown => {
    try {
      verifyWebhook(key, headers, body);
    } catch (error) {
      return error instanceof LecternError ? [error.code, (error.details as { reason?: string } | undefined)?.reason] : error;
    }
    return 'accepted';
  };
  // One byte of the body changed (ada's role): the signature no longer matches.
  const tampered = Buffer.from(sample.body.toString().replace('"role":"lecturer"', '"role":"lecturez"'));
  assert.notDeepEqual(tampered, sample.body);
  assert.deepEqual(refusal(sample.headers, tampered), [ErrorCode.UNAUTHORIZED, 'bad-signature']);
  assert.deepEqual(refusal(sample.headers, sample.body, generateWebhookSecret()), [ErrorCode.UNAUTHORIZED, 'bad-signature'], 'another secret');
  const forged = { ...sample.headers, 'webhook-id': 'msg_someoneelse' };
  assert.deepEqual(refusal(forged, sample.body), [ErrorCode.UNAUTHORIZED, 'bad-signature'], 'the id is signed too');
});
