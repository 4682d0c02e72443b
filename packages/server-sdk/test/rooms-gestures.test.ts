// Gestures and the raised-hand queue through the request API: who hears what,
// the queue's order, lecturer-only actions, leaving peers, and the rate limit.
// Peers join with the router's own capabilities; no WebRTC is needed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  LecternError,
  RoomManager,
  type HandQueueEntry,
  type Notification,
  type RoomManagerEvents,
} from '@lectern/server-sdk';
import { notificationLog, requester, waitFor } from './helpers.js';

type Request = ReturnType<typeof requester>;
type QueueReply = { queue: HandQueueEntry[] };

let manager: RoomManager;
let log: Notification[];

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 }, emptyRoomTimeoutMs: null });
  log = notificationLog(manager);
});
after(() => manager?.close());

/** Joins `peerId` to `roomId` (the display name is the peer id, upper-cased) and returns its request function. */
async function join(m: RoomManager, roomId: string, peerId: string, role: 'lecturer' | 'student' = 'student'): Promise<Request> {
  const request = requester(m, roomId, peerId, role);
  const { routerRtpCapabilities } = (await request('getRouterRtpCapabilities', {})) as { routerRtpCapabilities: unknown };
  await request('join', { rtpCapabilities: routerRtpCapabilities, displayName: peerId.toUpperCase() });
  return request;
}

async function joinAll(roomId: string, students: string[]) {
  const lecturer = await join(manager, roomId, 'lecturer', 'lecturer');
  const peers: Record<string, Request> = {};
  for (const id of students) peers[id] = await join(manager, roomId, id);
  return { lecturer, ...peers } as { lecturer: Request } & Record<string, Request>;
}

const queueOf = async (request: Request) => ((await request('getHandQueue', {})) as QueueReply).queue;
const ids = (queue: HandQueueEntry[]) => queue.map((e) => e.peerId);
const inRoom = (roomId: string, name?: Notification['name']) => log.filter((n) => n.roomId === roomId && (!name || n.name === name));
const gesture = (g: string, phase: string, confidence = 0.9) => ({ gesture: g, phase, confidence });

async function rejects(promise: Promise<unknown>, code: string): Promise<LecternError> {
  const error = await promise.then(
    (reply) => assert.fail(`resolved: ${JSON.stringify(reply)}`),
    (thrown: unknown) => thrown,
  );
  assert.ok(error instanceof LecternError, String(error));
  assert.equal(error.code, code, error.message);
  return error;
}

test('the queue is first come, first served; re-raising keeps the place; a gesture end does not lower', async () => {
  const roomId = 'gestures-order';
  const p = await joinAll(roomId, ['a', 'b', 'c']);

  assert.deepEqual(await p.a!('sendGesture', gesture('raised-hand', 'start')), {});
  const afterB = (await p.b!('raiseHand', {})) as QueueReply;
  assert.deepEqual(ids(afterB.queue), ['a', 'b']);
  // Only a start raises a hand: hold, or another gesture, does not.
  await p.c!('sendGesture', gesture('raised-hand', 'hold'));
  await p.c!('sendGesture', gesture('open-palm', 'start'));
  assert.deepEqual(ids(await queueOf(p.c!)), ['a', 'b']);
  await p.c!('raiseHand', {});

  const first = await queueOf(p.lecturer);
  assert.deepEqual(first, [
    { peerId: 'a', displayName: 'A', raisedAt: first[0]!.raisedAt, source: 'gesture' },
    { peerId: 'b', displayName: 'B', raisedAt: first[1]!.raisedAt, source: 'button' },
    { peerId: 'c', displayName: 'C', raisedAt: first[2]!.raisedAt, source: 'button' },
  ]);
  for (const entry of first) assert.equal(new Date(entry.raisedAt).toISOString(), entry.raisedAt, 'raisedAt is ISO 8601');
  const times = first.map((e) => Date.parse(e.raisedAt));
  assert.deepEqual([...times].sort((x, y) => x - y), times, 'ordered by time raised');

  // Re-raising (button or gesture) while queued changes nothing, not even the source or time; no notification.
  const before = inRoom(roomId, 'handQueueChanged').length;
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual((await p.a!('raiseHand', {})) as QueueReply, { queue: first });
  await p.b!('sendGesture', gesture('raised-hand', 'start'));
  await p.a!('sendGesture', gesture('raised-hand', 'end'));
  assert.deepEqual(await queueOf(p.b!), first);
  assert.equal(inRoom(roomId, 'handQueueChanged').length, before);

  // Lowering takes the peer out; raising again goes to the back.
  assert.deepEqual(ids(((await p.b!('lowerHand', {})) as QueueReply).queue), ['a', 'c']);
  assert.deepEqual(ids(((await p.b!('lowerHand', {})) as QueueReply).queue), ['a', 'c'], 'lowering twice is harmless');
  assert.deepEqual(ids(((await p.b!('raiseHand', {})) as QueueReply).queue), ['a', 'c', 'b']);
  assert.deepEqual(ids(manager.getRoom(roomId)!.handQueueSnapshot()), ['a', 'c', 'b']);
});

test('gesture goes to the lecturers, handQueueChanged to every peer, with room events', async () => {
  const roomId = 'gestures-notify';
  const p = await joinAll(roomId, ['a', 'b']);
  const gestures: RoomManagerEvents['gesture'][] = [];
  const changes: RoomManagerEvents['handQueueChanged'][] = [];
  manager.on('gesture', (e) => e.roomId === roomId && gestures.push(e));
  manager.on('handQueueChanged', (e) => e.roomId === roomId && changes.push(e));
  const start = log.length;
  const fresh = () => log.slice(start).filter((n) => n.roomId === roomId);

  await p.a!('sendGesture', gesture('thumbs-up', 'start', 0.75));
  assert.deepEqual(fresh(), [
    { roomId, to: ['lecturer'], name: 'gesture', data: { peerId: 'a', gesture: 'thumbs-up', phase: 'start', confidence: 0.75 } },
  ]);
  assert.deepEqual(gestures, [{ roomId, peerId: 'a', gesture: 'thumbs-up', phase: 'start', confidence: 0.75 }]);
  assert.equal(changes.length, 0, 'a thumbs-up does not touch the queue');

  await p.a!('sendGesture', gesture('raised-hand', 'start', 1));
  const [g, q] = fresh().slice(1) as [Notification, Notification & { name: 'handQueueChanged' }];
  assert.deepEqual(g, {
    roomId,
    to: ['lecturer'],
    name: 'gesture',
    data: { peerId: 'a', gesture: 'raised-hand', phase: 'start', confidence: 1 },
  });
  assert.equal(q.name, 'handQueueChanged');
  assert.deepEqual(q.to, ['lecturer', 'a', 'b'], 'every peer, the raiser too');
  assert.deepEqual(ids(q.data.queue), ['a']);
  assert.equal(q.data.queue[0]!.source, 'gesture');
  assert.deepEqual(changes.map((c) => ({ roomId: c.roomId, queue: ids(c.queue) })), [{ roomId, queue: ['a'] }]);
  assert.equal(fresh().length, 3);

  // A button raise notifies every peer too; getHandQueue notifies nobody.
  await p.b!('raiseHand', {});
  await p.lecturer('getHandQueue', {});
  assert.deepEqual(
    fresh().slice(3).map((n) => [n.name, n.to, n.name === 'handQueueChanged' ? ids(n.data.queue) : undefined]),
    [['handQueueChanged', ['lecturer', 'a', 'b'], ['a', 'b']]],
  );
  assert.deepEqual(ids(changes.at(-1)!.queue), ['a', 'b']);
  // Notification data is a copy: a host that changes it does not change the room's queue.
  (q.data.queue[0] as { peerId: string }).peerId = 'mallory';
  assert.deepEqual(ids(await queueOf(p.a!)), ['a', 'b']);
});

test('only lecturers dismiss and clear; a student gets FORBIDDEN and nothing changes', async () => {
  const roomId = 'gestures-lecturer';
  const p = await joinAll(roomId, ['a', 'b', 'c']);
  await p.a!('raiseHand', {});
  await p.b!('raiseHand', {});
  await p.c!('raiseHand', {});
  const count = () => inRoom(roomId, 'handQueueChanged').length;
  const before = count();

  await rejects(p.a!('dismissHand', { peerId: 'b' }), 'FORBIDDEN');
  await rejects(p.a!('dismissHand', { peerId: 'a' }), 'FORBIDDEN');
  await rejects(p.b!('clearHandQueue', {}), 'FORBIDDEN');
  assert.deepEqual(ids(await queueOf(p.a!)), ['a', 'b', 'c']);
  assert.equal(count(), before);

  assert.deepEqual(ids(((await p.lecturer('dismissHand', { peerId: 'b' })) as QueueReply).queue), ['a', 'c']);
  assert.equal(count(), before + 1);
  const last = inRoom(roomId, 'handQueueChanged').at(-1)!;
  assert.deepEqual(last.to, ['lecturer', 'a', 'b', 'c'], 'the dismissed peer hears it too');
  const notQueued = await rejects(p.lecturer('dismissHand', { peerId: 'b' }), 'NOT_FOUND');
  await rejects(p.lecturer('dismissHand', { peerId: 'nobody' }), 'NOT_FOUND');
  assert.match(notQueued.message, /b/);
  assert.equal(count(), before + 1);

  assert.deepEqual(await p.lecturer('clearHandQueue', {}), { queue: [] });
  assert.equal(count(), before + 2);
  assert.deepEqual(inRoom(roomId, 'handQueueChanged').at(-1)!.data, { queue: [] });
  assert.deepEqual(await p.lecturer('clearHandQueue', {}), { queue: [] }, 'clearing an empty queue is harmless');
  assert.equal(count(), before + 2, 'and announces nothing');
  assert.deepEqual(await queueOf(p.c!), []);
});

test('a peer that leaves or is replaced leaves the queue', async () => {
  const roomId = 'gestures-leave';
  const p = await joinAll(roomId, ['a', 'b', 'c']);
  await p.a!('raiseHand', {});
  await p.b!('sendGesture', gesture('raised-hand', 'start'));
  await p.c!('raiseHand', {});

  await p.b!('leave', {});
  const afterLeave = inRoom(roomId, 'handQueueChanged').at(-1)!;
  assert.deepEqual(afterLeave.to, ['lecturer', 'a', 'c']);
  assert.deepEqual(ids((afterLeave.data as QueueReply).queue), ['a', 'c']);
  assert.deepEqual(ids(await queueOf(p.lecturer)), ['a', 'c']);

  // A student who lowers nothing and leaves announces nothing about the queue.
  const before = inRoom(roomId, 'handQueueChanged').length;
  const d = await join(manager, roomId, 'd');
  await d('leave', {});
  assert.equal(inRoom(roomId, 'handQueueChanged').length, before);

  // Joining again with the same id replaces the old peer, whose hand goes down.
  await join(manager, roomId, 'a');
  assert.deepEqual(ids(await queueOf(p.lecturer)), ['c']);
  assert.deepEqual(ids((inRoom(roomId, 'handQueueChanged').at(-1)!.data as QueueReply).queue), ['c']);
});

test('a peer dropped with its worker leaves the queue (one announcement)', async () => {
  const m = await RoomManager.create({
    workers: { numWorkers: 2 },
    room: { maxTransportsPerRouter: 1 },
    emptyRoomTimeoutMs: null,
  });
  try {
    const roomId = 'gestures-worker';
    const notes = notificationLog(m);
    const lecturer = await join(m, roomId, 'lecturer', 'lecturer');
    const a = await join(m, roomId, 'a');
    const b = await join(m, roomId, 'b');
    // One transport per router: the lecturer's is on router A, a's on router B (the other worker).
    await lecturer('createWebRtcTransport', { direction: 'recv' });
    await a('createWebRtcTransport', { direction: 'recv' });
    await a('raiseHand', {});
    await b('raiseHand', {});
    const routers = m.getRoom(roomId)!.stats().routers;
    assert.equal(routers.length, 2);
    const before = notes.filter((n) => n.name === 'handQueueChanged').length;

    process.kill(routers[1]!.workerPid, 'SIGKILL');
    await waitFor('a to be dropped', () => !m.getRoom(roomId)!.hasPeer('a'), 5000);
    const changes = notes.filter((n) => n.name === 'handQueueChanged').slice(before);
    assert.equal(changes.length, 1);
    assert.deepEqual(changes[0]!.to, ['lecturer', 'b']);
    assert.deepEqual(ids((changes[0]!.data as QueueReply).queue), ['b']);
    assert.deepEqual(ids(await queueOf(b)), ['b']);
  } finally {
    m.close();
  }
});

test('more than 20 gesture/hand requests a second are RATE_LIMITED, per peer, and recover', async () => {
  const roomId = 'gestures-rate';
  const p = await joinAll(roomId, ['a', 'b']);
  const sentBefore = inRoom(roomId, 'gesture').length;

  // The budget is shared by sendGesture, raiseHand and lowerHand; requests of one peer run in order.
  // The bucket refills one token per 50 ms, so on a slow machine a request of the
  // burst may get a fresh token: those are allowed for, bounded by the elapsed time.
  const started = performance.now();
  const burst = await Promise.allSettled([
    ...Array.from({ length: 18 }, () => p.a!('sendGesture', gesture('thumbs-up', 'hold', 0.5))),
    p.a!('raiseHand', {}),
    p.a!('lowerHand', {}),
    ...Array.from({ length: 40 }, () => p.a!('sendGesture', gesture('thumbs-down', 'start', 0.5))),
  ]);
  const refilled = Math.floor(((performance.now() - started) * 20) / 1000);
  const statuses = burst.map((r) => r.status);
  assert.deepEqual(statuses.slice(0, 20), Array<string>(20).fill('fulfilled'), 'the burst of 20 is allowed');
  const extra = statuses.slice(20).filter((s) => s === 'fulfilled').length;
  assert.ok(extra <= refilled, `${extra} requests past the burst got through, but only ${refilled} tokens refilled`);
  assert.ok(extra < 40, 'the limit refused requests');
  let limited: LecternError | undefined;
  for (let i = 0; i < 5 && !limited; i++) {
    limited = await p.a!('lowerHand', {}).then(() => undefined, (error: unknown) => (error as LecternError));
  }
  assert.ok(limited instanceof LecternError, 'a request right after the burst is refused');
  assert.equal(limited.code, 'RATE_LIMITED');
  const details = limited.details as { limit: number; windowMs: number; retryAfterMs: number };
  assert.equal(details.limit, 20);
  assert.equal(details.windowMs, 1000);
  assert.ok(details.retryAfterMs > 0 && details.retryAfterMs <= 1000, `retryAfterMs ${details.retryAfterMs}`);
  assert.deepEqual(JSON.parse(JSON.stringify(limited.toJSON())), limited.toJSON());

  // Refused gestures reached nobody and changed nothing.
  assert.equal(inRoom(roomId, 'gesture').length, sentBefore + 18 + extra);
  assert.deepEqual(await queueOf(p.a!), []);
  // Other peers and other methods are not limited.
  await p.b!('sendGesture', gesture('thumbs-up', 'start'));
  for (let i = 0; i < 30; i++) await p.a!('getHandQueue', {});
  await p.lecturer('clearHandQueue', {});

  await new Promise((r) => setTimeout(r, details.retryAfterMs + 50));
  assert.deepEqual(ids(((await p.a!('raiseHand', {})) as QueueReply).queue), ['a']);
  await p.a!('sendGesture', gesture('thumbs-up', 'end'));

  // A steady 20 a second is fine: after a full window the whole budget is back.
  await new Promise((r) => setTimeout(r, 1050));
  const steadyStart = performance.now();
  for (let i = 0; i < 20; i++) await p.a!('sendGesture', gesture('open-palm', 'hold'));
  // Then the budget runs out, give or take the tokens refilled meanwhile.
  let accepted = 0;
  for (;;) {
    const refused = await p.a!('sendGesture', gesture('open-palm', 'hold')).then(
      () => false,
      (error: unknown) => (assert.equal((error as LecternError).code, 'RATE_LIMITED'), true),
    );
    if (refused) break;
    accepted += 1;
    assert.ok(accepted <= Math.floor(((performance.now() - steadyStart) * 20) / 1000), 'no more than the refilled tokens');
  }
});
