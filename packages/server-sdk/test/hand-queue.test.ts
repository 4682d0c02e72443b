// HandQueue is pure (time passed in): the queue's order, its announcements and
// the per-peer rate limit, without a room.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HandQueueEntry } from '@lectern/protocol';
import { HAND_REQUEST_LIMIT, HAND_REQUEST_WINDOW_MS, HandQueue } from '../src/rooms/hand-queue.js';
import { LecternError } from '../src/errors.js';

function queue() {
  const announced: HandQueueEntry[][] = [];
  return { hands: new HandQueue((q) => announced.push(q)), announced };
}
const ids = (q: HandQueueEntry[]) => q.map((e) => e.peerId);

test('first come, first served; raising again keeps the place; each change is announced once', () => {
  const { hands, announced } = queue();
  hands.raise({ peerId: 'a', displayName: 'Ada' }, 'button', new Date(1000));
  hands.raise({ peerId: 'b' }, 'gesture', new Date(2000));
  hands.raise({ peerId: 'a' }, 'gesture', new Date(3000));
  assert.deepEqual(ids(hands.snapshot()), ['a', 'b']);
  assert.deepEqual(hands.snapshot()[0], { peerId: 'a', displayName: 'Ada', raisedAt: new Date(1000).toISOString(), source: 'button' });
  assert.equal(announced.length, 2, 'raising an already raised hand announces nothing');
  assert.equal(hands.lower('c'), false);
  assert.equal(hands.lower('a'), true);
  assert.deepEqual(announced.map(ids), [['a'], ['a', 'b'], ['b']]);
});

test('snapshots are copies', () => {
  const { hands } = queue();
  hands.raise({ peerId: 'a' }, 'button');
  hands.snapshot()[0]!.peerId = 'mallory';
  assert.deepEqual(ids(hands.snapshot()), ['a']);
});

test('a batch announces once at its end, and only if something changed', () => {
  const { hands, announced } = queue();
  hands.raise({ peerId: 'a' }, 'button');
  hands.raise({ peerId: 'b' }, 'button');
  announced.length = 0;
  hands.batch(() => {
    hands.lower('a');
    hands.lower('b');
  });
  assert.deepEqual(announced, [[]]);
  hands.batch(() => hands.lower('nobody'));
  assert.equal(announced.length, 1);
  hands.clear();
  assert.equal(announced.length, 1, 'clearing an empty queue announces nothing');
});

test('discard forgets every hand silently (the room is closing)', () => {
  const { hands, announced } = queue();
  hands.raise({ peerId: 'a' }, 'button');
  hands.discard();
  assert.deepEqual(hands.snapshot(), []);
  assert.equal(announced.length, 1);
});

test(`at most ${HAND_REQUEST_LIMIT} requests at once, then ${HAND_REQUEST_LIMIT} per ${HAND_REQUEST_WINDOW_MS} ms per peer (a token bucket); refusals do not count`, () => {
  const { hands } = queue();
  const peer = {};
  const other = {};
  const refusal = (now: number) => {
    try {
      hands.limitRequests(peer, now);
    } catch (error) {
      return error;
    }
    return undefined;
  };
  for (let i = 0; i < HAND_REQUEST_LIMIT; i++) hands.limitRequests(peer, 100);
  const refused = refusal(100);
  assert.ok(refused instanceof LecternError && refused.code === 'RATE_LIMITED');
  const tokenMs = HAND_REQUEST_WINDOW_MS / HAND_REQUEST_LIMIT;
  assert.equal(refused.details?.retryAfterMs, tokenMs);
  hands.limitRequests(other, 100); // another peer has its own bucket
  for (let t = 101; t < 100 + tokenMs; t += 7) assert.ok(refusal(t), `refused at ${t}`);
  hands.limitRequests(peer, 100 + tokenMs); // one token back, refusals did not use it
  assert.ok(refusal(100 + tokenMs));
  // After a whole window the whole burst is back, and no more.
  for (let i = 0; i < HAND_REQUEST_LIMIT; i++) hands.limitRequests(peer, 100 + tokenMs + HAND_REQUEST_WINDOW_MS);
  assert.ok(refusal(100 + tokenMs + HAND_REQUEST_WINDOW_MS));
});
