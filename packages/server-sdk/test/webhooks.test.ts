// Signed webhooks against a real local HTTP receiver (node:http) and a real
// RoomManager (mediasoup worker): Standard Webhooks signatures that verify with
// the helper and with an independent HMAC, and fail when tampered, expired or
// signed with another secret; per-room order; a receiver that refuses
// connections, then answers 500, then comes up (every event arrives once, the
// retries are counted); the queue bound with both drop policies; a slow
// receiver that does not slow RoomManager.handle; close()'s bound; an attempt
// cut by attemptTimeoutMs and retried.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { RtpCapabilities } from '@lectern/protocol';
import {
  generateWebhookSecret,
  LecternError,
  RoomManager,
  verifyWebhook,
  WebhookSender,
  type WebhookEvent,
  type WebhookSenderEvents,
} from '@lectern/server-sdk';
import { TypedEmitter } from '../src/util/typed-emitter.js';
import type { TranscriptionServiceEvents } from '../src/transcription/events.js';
import { waitFor } from './helpers.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  event: WebhookEvent;
}

/** A webhook receiver: `answer` decides each request's status (after an optional sleep). */
class Receiver {
  readonly received: Received[] = [];
  answer: (event: WebhookEvent) => number | Promise<number> = () => 204;
  private readonly server: Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const event = JSON.parse(body) as WebhookEvent;
        this.received.push({ headers: req.headers, body, event });
        void Promise.resolve(this.answer(event)).then((status) => res.writeHead(status).end());
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port));
    });
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const r = new Receiver();
  const port = await r.listen();
  await r.close();
  return port;
}

function record<K extends keyof WebhookSenderEvents>(sender: WebhookSender, name: K): WebhookSenderEvents[K][] {
  const log: WebhookSenderEvents[K][] = [];
  sender.on(name, ((e: WebhookSenderEvents[K]) => log.push(e)) as never);
  return log;
}

const secret = generateWebhookSecret();
let manager: RoomManager;
let caps: RtpCapabilities;

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 }, emptyRoomTimeoutMs: null, requestRateLimit: false });
  caps = (await manager.request({ roomId: 'caps', peerId: 'caps' }, 'getRouterRtpCapabilities', {})).routerRtpCapabilities;
  manager.closeRoom('caps');
});
after(() => manager?.close());

test('room and peer events arrive signed (Standard Webhooks); tampered, expired or foreign-signed requests are refused', async () => {
  const receiver = new Receiver();
  const port = await receiver.listen();
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/hooks`, secret });
  sender.attachRooms(manager);
  const lecturer = { roomId: 'wh-sig', peerId: 'prof', role: 'lecturer' as const };
  await manager.request(lecturer, 'join', { rtpCapabilities: caps, displayName: 'Prof' });
  await manager.request(lecturer, 'leave', {});
  manager.closeRoom('wh-sig');
  await waitFor('four webhooks', () => receiver.received.length === 4, 10_000);
  assert.deepEqual(
    receiver.received.map((r) => r.event.type),
    ['room.created', 'peer.joined', 'peer.left', 'room.closed'],
  );
  const joined = receiver.received[1]!.event;
  assert.deepEqual(joined.data, { roomId: 'wh-sig', peerId: 'prof', role: 'lecturer', displayName: 'Prof' });
  assert.deepEqual(receiver.received[2]!.event.data, { roomId: 'wh-sig', peerId: 'prof', reason: 'left' });

  for (const { headers, body, event } of receiver.received) {
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['webhook-id'], event.id);
    assert.match(event.id, /^msg_[0-9a-f]{32}$/);
    assert.ok(!Number.isNaN(Date.parse(event.createdAt)));
    assert.deepEqual(verifyWebhook(secret, headers, body), event);
    // The spec's signature, computed independently: base64(HMAC-SHA256(base64-decoded key, "id.timestamp.body")).
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64');
    assert.equal(headers['webhook-signature'], `v1,${mac}`);
    assert.ok(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000) < 30);
  }

  const { headers, body } = receiver.received[1]!;
  const refused = (reason: string) => (e: unknown) => e instanceof LecternError && e.code === 'UNAUTHORIZED' && e.details?.reason === reason;
  assert.throws(() => verifyWebhook(secret, headers, body.replace('"prof"', '"admin"')), refused('bad-signature'));
  assert.throws(() => verifyWebhook(generateWebhookSecret(), headers, body), refused('bad-signature'));
  assert.throws(() => verifyWebhook(secret, { ...headers, 'webhook-id': 'msg_other' }, body), refused('bad-signature'));
  assert.throws(() => verifyWebhook(secret, { ...headers, 'webhook-signature': 'v1,' }, body), refused('bad-signature'));
  const ts = Number(headers['webhook-timestamp']) * 1000;
  assert.throws(() => verifyWebhook(secret, headers, body, { now: () => ts + 301_000 }), refused('timestamp-out-of-tolerance'));
  assert.throws(() => verifyWebhook(secret, headers, body, { now: () => ts - 301_000 }), refused('timestamp-out-of-tolerance'));
  assert.throws(() => verifyWebhook(secret, headers, body, { now: () => ts + 11_000, toleranceSeconds: 10 }), refused('timestamp-out-of-tolerance'));
  assert.doesNotThrow(() => verifyWebhook(secret, headers, body, { now: () => ts + 299_000 }));
  assert.throws(() => verifyWebhook(secret, { ...headers, 'webhook-timestamp': 'soon' }, body), refused('bad-timestamp'));
  assert.throws(() => verifyWebhook(secret, { 'webhook-id': 'x' }, body), refused('missing-headers'));
  // A fetch Headers object and a rotated secret's second signature work too.
  const fetchHeaders = new Headers({
    'webhook-id': String(headers['webhook-id']),
    'webhook-timestamp': String(headers['webhook-timestamp']),
    'webhook-signature': `v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ${String(headers['webhook-signature'])}`,
  });
  assert.equal(verifyWebhook(secret, fetchHeaders, Buffer.from(body)).id, headers['webhook-id']);
  assert.throws(() => new WebhookSender({ url: `http://127.0.0.1:${port}`, secret: 'too-short' }), (e: unknown) => e instanceof LecternError && e.code === 'INVALID_CONFIG');

  assert.deepEqual(await sender.close(), { abandoned: 0 });
  assert.equal(sender.stats().delivered, 4);
  await receiver.close();
});

test('transcription events are forwarded (started, stopped with the summary, summary ready); filters apply', async () => {
  const receiver = new Receiver();
  const port = await receiver.listen();
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, events: ['transcription.started', 'summary.ready', 'transcription.stopped'] });
  const service = new TypedEmitter<TranscriptionServiceEvents>();
  const detach = sender.attachTranscription(service);
  sender.attachRooms(manager); // room events are filtered out
  const summary = { text: 'Photosynthesis.', keyPoints: ['Light to sugar.'], generator: 'offline-extractive', createdAt: new Date().toISOString(), coveredSeconds: 60 };
  service.safeEmit('transcriptionStarted', { roomId: 'wh-tx', lectureId: 'L1' });
  await manager.request({ roomId: 'wh-tx', peerId: 'p' }, 'getRouterRtpCapabilities', {});
  service.safeEmit('summaryReady', { roomId: 'wh-tx', lectureId: 'L1', summary });
  service.safeEmit('transcriptionStopped', { roomId: 'wh-tx', lectureId: 'L1', summary });
  detach();
  service.safeEmit('transcriptionStarted', { roomId: 'wh-tx', lectureId: 'L2' }); // after detach: not sent
  manager.closeRoom('wh-tx');
  await sender.close();
  assert.deepEqual(
    receiver.received.map((r) => [r.event.type, r.event.data]),
    [
      ['transcription.started', { roomId: 'wh-tx', lectureId: 'L1' }],
      ['summary.ready', { roomId: 'wh-tx', lectureId: 'L1', summary }],
      ['transcription.stopped', { roomId: 'wh-tx', lectureId: 'L1', summary }],
    ],
  );
  await receiver.close();
});

test('a receiver that refuses connections, then answers 500, then comes up gets every event once, in order per room; retries are counted', async () => {
  const port = await closedPort();
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, retryBackoff: { minMs: 30, maxMs: 150 }, maxAttempts: 100, concurrency: 2 });
  const failures = record(sender, 'attemptFailed');
  const delivered = record(sender, 'delivered');
  const sent = { a: [] as string[], b: [] as string[] };
  for (let i = 0; i < 6; i++) {
    for (const room of ['a', 'b'] as const) sent[room].push(sender.send('peer.joined', { roomId: `wh-${room}`, peerId: `p${i}`, role: 'student' })!);
  }
  await waitFor('refused attempts', () => failures.length >= 4, 10_000);
  assert.ok(failures.every((f) => f.status === undefined && f.willRetry), 'connection refused: no status, retried');
  assert.match(failures[0]!.error, /ECONNREFUSED/);
  assert.equal(delivered.length, 0);

  const receiver = new Receiver();
  let up = false;
  receiver.answer = () => (up ? 200 : 500);
  await receiver.listen(port);
  await waitFor('a 500', () => failures.some((f) => f.status === 500), 10_000);
  await new Promise((r) => setTimeout(r, 300));
  up = true;
  await waitFor('all delivered once up', () => delivered.length === 12, 20_000);

  const acceptedIds = delivered.map((d) => d.event.id);
  assert.equal(new Set(acceptedIds).size, 12, 'each event accepted exactly once');
  for (const room of ['a', 'b'] as const) {
    const order = delivered.filter((d) => d.event.data.roomId === `wh-${room}`).map((d) => d.event.id);
    assert.deepEqual(order, sent[room], `room ${room} in order`);
  }
  const stats = sender.stats();
  assert.equal(stats.delivered, 12);
  assert.equal(stats.failedAttempts, failures.length);
  assert.ok(failures.filter((f) => f.status === 500).length >= 1);
  assert.equal(delivered.reduce((n, d) => n + d.attempts - 1, 0), failures.length, 'every failed attempt was a retry of a delivered event');
  assert.ok(receiver.received.length > 12, 'the 500s reached the receiver too');
  assert.deepEqual(stats.dropped, { 'queue-full': 0, 'max-attempts': 0, closed: 0 });
  assert.deepEqual(await sender.close(), { abandoned: 0 });
  await receiver.close();
});

test('order per room holds when some events need retries while other rooms go on', async () => {
  const receiver = new Receiver();
  const port = await receiver.listen();
  const firstTry = new Set<string>();
  // Room a's events each fail their first attempt; room b's never fail.
  receiver.answer = (e) => (e.data.roomId === 'wh-a' && !firstTry.has(e.id) ? (firstTry.add(e.id), 503) : 200);
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, retryBackoff: { minMs: 20, maxMs: 40 } });
  const sent: Record<string, string[]> = { 'wh-a': [], 'wh-b': [] };
  for (let i = 0; i < 10; i++) for (const roomId of ['wh-a', 'wh-b']) sent[roomId]!.push(sender.send('peer.left', { roomId, peerId: `p${i}`, reason: 'left' })!);
  await sender.close({ drainTimeoutMs: 20_000 });
  for (const roomId of ['wh-a', 'wh-b']) {
    const ok = receiver.received.filter((r) => r.event.data.roomId === roomId && (roomId === 'wh-b' || receiver.received.filter((x) => x.event.id === r.event.id).indexOf(r) === 1));
    assert.deepEqual(ok.map((r) => r.event.id), sent[roomId], `${roomId}: accepted in send order`);
  }
  assert.equal(sender.stats().failedAttempts, 10);
  // Room b did not wait for room a's retries: its last event was accepted before room a's.
  const lastB = receiver.received.findIndex((r) => r.event.id === sent['wh-b']!.at(-1));
  const lastA = receiver.received.findLastIndex((r) => r.event.id === sent['wh-a']!.at(-1));
  assert.ok(lastB < lastA, `room b done (${lastB}) before room a (${lastA})`);
  await receiver.close();
});

test('the queue is bounded: drop-oldest keeps the newest, drop-newest the oldest, each drop announced; an event past maxAttempts is dropped', async () => {
  const port = await closedPort();
  for (const policy of ['drop-oldest', 'drop-newest'] as const) {
    const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, maxQueueSize: 3, dropPolicy: policy, concurrency: 1, retryBackoff: { minMs: 1000, maxMs: 1000 } });
    const dropped = record(sender, 'dropped');
    const ids = Array.from({ length: 6 }, (_, i) => sender.send('room.created', { roomId: `wh-q${i}` }));
    assert.equal(sender.stats().queued, 3);
    if (policy === 'drop-oldest') {
      assert.deepEqual(dropped.map((d) => [d.eventId, d.reason]), ids.slice(0, 3).map((id) => [id, 'queue-full']));
      assert.ok(ids.every((id) => id !== undefined));
    } else {
      assert.deepEqual(ids.slice(3), [undefined, undefined, undefined], 'refused events have no id');
      assert.deepEqual(dropped.map((d) => [d.roomId, d.reason]), [3, 4, 5].map((i) => [`wh-q${i}`, 'queue-full']));
    }
    assert.equal(sender.stats().dropped['queue-full'], 3);
    const t0 = performance.now();
    assert.deepEqual(await sender.close({ drainTimeoutMs: 0 }), { abandoned: 3 });
    assert.ok(performance.now() - t0 < 500);
    assert.equal(sender.stats().dropped.closed, 3);
    assert.equal(sender.stats().queued, 0);
    assert.equal(sender.send('room.created', { roomId: 'late' }), undefined, 'closed: refused');
  }
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, maxAttempts: 3, retryBackoff: { minMs: 10, maxMs: 20 } });
  const dropped = record(sender, 'dropped');
  const failures = record(sender, 'attemptFailed');
  const id = sender.send('room.closed', { roomId: 'wh-gone' });
  await waitFor('dropped after max attempts', () => dropped.length === 1, 10_000);
  assert.deepEqual(dropped, [{ eventId: id, type: 'room.closed', roomId: 'wh-gone', reason: 'max-attempts' }]);
  assert.deepEqual(failures.map((f) => [f.attempt, f.willRetry]), [[1, true], [2, true], [3, false]]);
  await sender.close();
});

test('a slow receiver does not slow RoomManager.handle; close() abandons within its bound', async () => {
  const receiver = new Receiver();
  const port = await receiver.listen();
  const releases: (() => void)[] = [];
  receiver.answer = () => new Promise<number>((resolve) => releases.push(() => resolve(200))); // never answers on its own
  const roomId = 'wh-slow';
  await manager.request({ roomId, peerId: 'prof', role: 'lecturer' }, 'join', { rtpCapabilities: caps });
  /** Join latency of `n` students, each leaving again (one join, one leave: two webhooks each). */
  const joins = async (tag: string, n: number) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const ctx = { roomId, peerId: `${tag}${i}`, role: 'student' as const };
      const t0 = performance.now();
      await manager.handle(ctx, 'join', { rtpCapabilities: caps });
      times.push(performance.now() - t0);
      await manager.handle(ctx, 'leave', {});
    }
    return times.sort((a, b) => a - b);
  };
  await joins('warm', 5);
  const without = await joins('plain', 30);
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, attemptTimeoutMs: 60_000 });
  sender.attachRooms(manager);
  const withSlow = await joins('slow', 30);
  const median = (t: number[]) => t[Math.floor(t.length / 2)]!;
  console.log(`join latency median without a receiver ${median(without).toFixed(2)} ms, with a receiver that never answers ${median(withSlow).toFixed(2)} ms (max ${withSlow.at(-1)!.toFixed(1)} ms); held ${sender.stats().queued} events`);
  await waitFor('the first event at the receiver', () => receiver.received.length === 1);
  assert.equal(receiver.received.length, 1, 'the receiver holds the first event; the room\'s next ones wait');
  assert.equal(sender.stats().queued, 60);
  assert.ok(median(withSlow) < Math.max(2 * median(without), median(without) + 10), 'join is not slower with a slow receiver');
  assert.ok(withSlow.at(-1)! < 1000);

  const dropped = record(sender, 'dropped');
  const t0 = performance.now();
  assert.deepEqual(await sender.close({ drainTimeoutMs: 300 }), { abandoned: 60 });
  const closeMs = performance.now() - t0;
  assert.ok(closeMs >= 290 && closeMs < 1500, `close() took ${closeMs.toFixed(0)} ms for a 300 ms bound`);
  assert.equal(dropped.length, 60);
  assert.ok(dropped.every((d) => d.reason === 'closed'));
  releases.forEach((r) => r());
  manager.closeRoom(roomId);
  await receiver.close();
});

test('@lectern/server-sdk/webhooks loads neither mediasoup nor the rooms nor the transcription pipeline (a receiver needs only it)', async () => {
  const script = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
const webhooks = await import('@lectern/server-sdk/webhooks');
console.log(JSON.stringify({ verify: typeof webhooks.verifyWebhook, sender: typeof webhooks.WebhookSender, loaded }));
`;
  const root = new URL('../../..', import.meta.url);
  const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, err);
  const report = JSON.parse(out.trim().split('\n').at(-1)!) as { verify: string; sender: string; loaded: string[] };
  assert.equal(report.verify, 'function');
  assert.equal(report.sender, 'function');
  assert.ok(report.loaded.some((u) => u.includes('/server-sdk/src/webhooks/signature.ts')), 'the recorder sees the webhook modules');
  const heavy = report.loaded.filter((u) => /\/node_modules\/(mediasoup|ioredis|openai|execa|zod)\/|\/server-sdk\/src\/(rooms|transcription)\//.test(u));
  assert.deepEqual(heavy, []);
});

test('an attempt the receiver does not answer within attemptTimeoutMs is aborted and retried', async () => {
  const receiver = new Receiver();
  const port = await receiver.listen();
  let calls = 0;
  const hung: (() => void)[] = [];
  // The first request is never answered; the retry is.
  receiver.answer = () => (++calls === 1 ? new Promise<number>((resolve) => hung.push(() => resolve(200))) : 200);
  const sender = new WebhookSender({ url: `http://127.0.0.1:${port}/`, secret, attemptTimeoutMs: 200, retryBackoff: { minMs: 10, maxMs: 20 } });
  const failures = record(sender, 'attemptFailed');
  const delivered = record(sender, 'delivered');
  const t0 = performance.now();
  const id = sender.send('room.created', { roomId: 'wh-timeout' });
  await waitFor('delivered after a timeout', () => delivered.length === 1, 10_000);
  const elapsed = performance.now() - t0;
  assert.deepEqual(failures.map((f) => [f.attempt, f.error, f.status, f.willRetry]), [[1, 'timed out', undefined, true]]);
  assert.equal(delivered[0]!.event.id, id);
  assert.equal(delivered[0]!.attempts, 2);
  assert.ok(elapsed >= 190 && elapsed < 3000, `the first attempt was cut at ~200 ms (delivered after ${elapsed.toFixed(0)} ms)`);
  assert.equal(receiver.received.filter((r) => r.event.id === id).length, 2, 'the receiver saw the event twice (same webhook-id: deduplicate on it)');
  await sender.close();
  hung.forEach((release) => release());
  await receiver.close();
});
