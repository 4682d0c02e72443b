// The room's active speaker: mediasoup's ActiveSpeakerObserver names a
// router's only audio producer dominant at once, even while paused (a student
// who joined muted, alone on a router of a sharded room). The room must not
// announce a muted peer; it does once that peer unmutes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RoomManager, type Notification } from '@lectern/server-sdk';
import { notificationLog, requester, waitFor } from './helpers.js';

let manager: RoomManager;
let log: Notification[];

before(async () => {
  // One transport per router: every peer's producer is alone on its router.
  manager = await RoomManager.create({ workers: { numWorkers: 1 }, room: { maxTransportsPerRouter: 1 }, emptyRoomTimeoutMs: null });
  log = notificationLog(manager);
});
after(() => manager?.close());

const opus = (ssrc: number) => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});

test('a paused microphone is never announced as the active speaker; resumed, it is', async () => {
  const roomId = 'speaker-muted';
  const lecturer = requester(manager, roomId, 'lecturer', 'lecturer');
  const student = requester(manager, roomId, 'student', 'student');
  const { routerRtpCapabilities } = (await lecturer('getRouterRtpCapabilities', {})) as { routerRtpCapabilities: unknown };
  await lecturer('join', { rtpCapabilities: routerRtpCapabilities, displayName: 'L' });
  await student('join', { rtpCapabilities: routerRtpCapabilities, displayName: 'S' });
  const { transportId } = (await student('createWebRtcTransport', { direction: 'send' })) as { transportId: string };
  const { producerId } = (await student('produce', { transportId, kind: 'audio', source: 'microphone', rtpParameters: opus(1111), paused: true })) as {
    producerId: string;
  };
  const speakers = () => log.filter((n) => n.roomId === roomId && n.name === 'activeSpeaker');

  // The observer re-evaluates every 300 ms; give it several rounds.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(speakers(), [], 'no activeSpeaker for a paused producer');

  await student('resumeProducer', { producerId });
  await waitFor('the unmuted student is announced', () => speakers().length > 0, 5000);
  assert.deepEqual(speakers()[0]!.data, { peerId: 'student', producerId });
});
