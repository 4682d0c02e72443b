// Smoke test: video through a real room. The lecturer's test peer publishes VP8
// (FFmpeg's testsrc, RTP into a werift track, DTLS/SRTP to a WebRtcTransport) as
// its camera; students consume it through the request API and receive VP8 RTP,
// keyframes included, also a student who arrives late (the periodic keyframe).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { RoomManager } from '@lectern/server-sdk';
import { RoomTestPeer } from '@lectern/testkit';
import { requester, waitFor, workerTotals } from './helpers.js';

let manager: RoomManager;

before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 } });
});
after(() => manager.close());

/** FFmpeg processes this test process started (and not yet reaped). */
function ffmpegChildren(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n').filter((line) => /\bffmpeg\b/.test(line));
  } catch {
    return []; // ps exits 1 when there is no child at all
  }
}

test('a peer publishes VP8 video as its camera; consumers receive VP8 RTP and keyframes, a late one too', async () => {
  const roomId = 'video';
  const lecturer = await RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
  const early = await RoomTestPeer.join(requester(manager, roomId, 'student-early'));
  let late: RoomTestPeer | undefined;
  try {
    const producerId = await lecturer.produceVideo({ width: 320, height: 240, fps: 15 });
    assert.equal(ffmpegChildren().length, 1, 'one FFmpeg sender runs');
    const room = manager.getRoom(roomId)!;
    const info = room.producerInfos().find((p) => p.producerId === producerId);
    assert.equal(info?.kind, 'video');
    assert.equal(info?.source, 'camera');

    const received = await early.consume(producerId);
    assert.equal(received.consumer.kind, 'video');
    assert.equal(received.consumer.rtpParameters.codecs[0]?.mimeType.toLowerCase(), 'video/vp8');
    await waitFor('the early student to receive video RTP', () => received.packets() > 30, 15_000);
    await waitFor('the early student to receive a keyframe', () => received.keyframes() >= 1, 5_000);
    assert.ok(received.bytes() > 5_000, `${received.bytes()} bytes`);

    // A student who arrives 2.5 s later still gets a picture: FFmpeg sends a
    // keyframe every second (mediasoup forwards from a keyframe on).
    await new Promise((r) => setTimeout(r, 2_500));
    late = await RoomTestPeer.join(requester(manager, roomId, 'student-late'));
    assert.ok(late.joined.producers.some((p) => p.producerId === producerId));
    const lateReceived = await late.consume(producerId);
    await waitFor('the late student to receive a keyframe', () => lateReceived.keyframes() >= 1, 5_000);
    await waitFor('the late student to receive video RTP', () => lateReceived.packets() > 30, 10_000);
    // Over the whole run the early student saw several keyframes (one a second).
    assert.ok(received.keyframes() >= 2, `${received.keyframes()} keyframes`);
    assert.equal(room.stats().consumers, 2);
  } finally {
    await late?.leave();
    await early.leave();
    await lecturer.leave();
  }
  // close() (via leave) stopped FFmpeg and closed the transports.
  assert.deepEqual(ffmpegChildren(), []);
  assert.deepEqual(workerTotals(manager), { routers: 1, transports: 0, pipeTransports: 0, consumers: 0 });
});
