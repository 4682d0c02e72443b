// Who the page shows (web/participants.ts): order, microphone state, raised hands.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MediaSource } from '@lectern/protocol';
import { micStateOf, participantsOf, stageOrder, type PeerLike } from '../web/participants.js';

function peer(peerId: string, role: 'lecturer' | 'student', displayName: string | undefined, producers: [MediaSource, boolean][] = []): PeerLike {
  return { peerId, role, displayName, producers: new Map(producers.map(([source, paused], i) => [`${peerId}-p${i}`, { source, paused }])) };
}

test('microphone state: live, muted (paused producer), none (not published; a camera does not count)', () => {
  assert.equal(micStateOf(peer('a', 'student', 'A', [['microphone', false]])), 'live');
  assert.equal(micStateOf(peer('a', 'student', 'A', [['camera', false], ['microphone', true]])), 'muted');
  assert.equal(micStateOf(peer('a', 'lecturer', 'A', [['camera', false]])), 'none');
});

test('participants: you first, then lecturers, then students by name; hands from the queue; names fall back to ids', () => {
  const people = participantsOf({
    local: { peerId: 'me', name: 'Mia', role: 'student', micPaused: true },
    remotePeers: [
      peer('s2', 'student', 'Zoe', [['microphone', false]]),
      peer('s1', 'student', undefined, [['microphone', true]]),
      peer('l1', 'lecturer', 'Ada', [['microphone', false], ['camera', false]]),
    ],
    handQueue: [{ peerId: 's2' }, { peerId: 'me' }],
  });
  assert.deepEqual(people.map((p) => [p.peerId, p.name, p.role, p.isLocal, p.mic, p.handRaised]), [
    ['me', 'Mia', 'student', true, 'muted', true],
    ['l1', 'Ada', 'lecturer', false, 'live', false],
    ['s1', 's1', 'student', false, 'muted', false],
    ['s2', 'Zoe', 'student', false, 'live', true],
  ]);
  assert.deepEqual(stageOrder(people).map((p) => p.peerId), ['l1', 'me', 's1', 's2'], 'the stage puts lecturers first');
});

test('your microphone before it is published reads as none', () => {
  const [me] = participantsOf({ local: { peerId: 'me', name: 'Mia', role: 'lecturer', micPaused: undefined }, remotePeers: [], handQueue: [] });
  assert.equal(me!.mic, 'none');
});
