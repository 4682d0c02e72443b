// LectureClient in real Chromium (headless, fake camera = FFmpeg test pattern,
// fake microphone = flite speech) against a real RoomManager in this process,
// through the test harness (HTTP page + esbuild bundle + WebSocket bridge).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { RoomManager } from '@lectern/server-sdk';
import { launchChromium, speak, testPatternY4m, waitFor, workerTotals } from '@lectern/testkit';
import { closeAll, openPeerPage, startHarness, type Harness, type PeerPage } from './harness/index.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let manager: RoomManager;
let harness: Harness;
let browser: Browser;
const pages: PeerPage[] = [];
const figures: Record<string, number> = {};

async function peer(room: string, peerId: string, role: 'lecturer' | 'student', options = {}): Promise<PeerPage> {
  const page = await openPeerPage(browser, harness, { room, peer: peerId, role }, options);
  pages.push(page);
  return page;
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-client-sdk-'));
  const wav = path.join(dir, 'lecture.wav');
  await speak('Good morning everyone. Today we look at how a selective forwarding unit routes media between peers.', wav);
  const y4m = await testPatternY4m(path.join(dir, 'camera.y4m'), { seconds: 4, width: 640, height: 480, fps: 15 });
  // Two workers, one transport per router: the student of a room lands on the other worker than its lecturer.
  manager = await RoomManager.create({ workers: { numWorkers: 2 }, room: { maxTransportsPerRouter: 1 } });
  harness = await startHarness(manager);
  browser = await launchChromium({ fakeAudioWav: wav, fakeVideoY4m: y4m });
});

after(async () => {
  await closeAll(pages);
  await browser?.close().catch(() => undefined);
  await harness?.close();
  manager?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  if (Object.keys(figures).length > 0) console.log('client-sdk browser figures (ms):', JSON.stringify(figures));
});

test('a lecturer publishes microphone + simulcast camera; a student receives both', async () => {
  const room = 'browser-media';
  const lecturer = await peer(room, 'prof', 'lecturer');
  const published = await lecturer.page.evaluate(async () => {
    const client = window.lecternTest.client!;
    await client.join({ displayName: 'Prof' });
    const mic = await client.publishMicrophone();
    const cam = await client.publishCamera();
    return { mic: mic.producerId, cam: cam.producerId, owned: cam.ownedByClient, state: client.connectionState };
  });
  assert.ok(published.mic && published.cam);
  assert.equal(published.owned, true);
  assert.equal(published.state, 'connected');

  const student = await peer(room, 'stu', 'student');
  const timing = await student.page.evaluate(async () => {
    const t0 = performance.now();
    await window.lecternTest.client!.join({ displayName: 'Stu' });
    const joined = performance.now() - t0;
    await window.lecternTest.waitForInbound('audio');
    const audio = performance.now() - t0;
    await window.lecternTest.waitForInbound('video');
    return { joined, audio, video: performance.now() - t0 };
  });
  figures['join→joined'] = Math.round(timing.joined);
  figures['join→first inbound audio bytes'] = Math.round(timing.audio);
  figures['join→first inbound video bytes'] = Math.round(timing.video);

  await student.waitForEvent({ name: 'trackSubscribed', source: 'microphone', kind: 'audio', peerId: 'prof' });
  await student.waitForEvent({ name: 'trackSubscribed', source: 'camera', kind: 'video', peerId: 'prof' });
  const first = await student.page.evaluate(() => window.lecternTest.inboundBytes());
  await sleep(1500);
  const second = await student.page.evaluate(() => window.lecternTest.inboundBytes());
  assert.ok(second.audio > first.audio + 1000, `audio keeps flowing: ${first.audio} → ${second.audio}`);
  assert.ok(second.video > first.video + 10_000, `video keeps flowing: ${first.video} → ${second.video}`);

  const remote = await student.page.evaluate(() => {
    const prof = window.lecternTest.client!.remotePeers.get('prof');
    return {
      role: prof?.role,
      displayName: prof?.displayName,
      sources: [...(prof?.tracks.keys() ?? [])].sort(),
      trackStates: [...(prof?.tracks.values() ?? [])].map((t) => t.track.readyState),
    };
  });
  assert.deepEqual(remote, { role: 'lecturer', displayName: 'Prof', sources: ['camera', 'microphone'], trackStates: ['live', 'live'] });

  // The camera goes out as simulcast: several outbound-rtp streams (one per active layer).
  const layers = await lecturer.page.evaluate(async () => {
    const stats = await window.lecternTest.client!.localTracks.get('camera')!.getStats();
    let n = 0;
    stats.forEach((s: { type: string; kind?: string }) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') n += 1;
    });
    return n;
  });
  assert.ok(layers >= 2, `simulcast layers sent: ${layers}`);

  // The student's room view: the lecturer joined once, nothing failed.
  const events = await student.events();
  assert.deepEqual(events.filter((e) => e.name === 'peerJoined').map((e) => e.peerId), ['prof']);
  assert.deepEqual(events.filter((e) => e.name === 'error'), []);

  // leave() stops the tracks the client captured.
  const afterLeave = await lecturer.page.evaluate(async () => {
    const client = window.lecternTest.client!;
    const tracks = [...client.localTracks.values()].map((p) => p.track);
    await client.leave();
    return { states: tracks.map((t) => t.readyState), state: client.connectionState };
  });
  assert.deepEqual(afterLeave, { states: ['ended', 'ended'], state: 'disconnected' });
  // The server closes the lecturer's producers as it removes the peer: producerClosed, then peerLeft.
  await student.waitForEvent({ name: 'trackUnsubscribed', source: 'camera', reason: 'producer-closed' });
  await student.waitForEvent({ name: 'peerLeft', peerId: 'prof', reason: 'left' });
  assert.equal(await student.page.evaluate(() => window.lecternTest.client!.remotePeers.size), 0);
  await closeAll([lecturer, student]);
});

test('pausing and resuming reach the other side as trackMuted / trackUnmuted', async () => {
  const room = 'browser-pause';
  const lecturer = await peer(room, 'prof', 'lecturer');
  await lecturer.page.evaluate(async () => {
    await window.lecternTest.client!.join();
    await window.lecternTest.client!.publishMicrophone();
  });
  const student = await peer(room, 'stu', 'student');
  await student.page.evaluate(async () => {
    await window.lecternTest.client!.join();
    await window.lecternTest.waitForInbound('audio', 2000);
  });

  await lecturer.page.evaluate(() => window.lecternTest.client!.pause('microphone'));
  await student.waitForEvent({ name: 'trackMuted', source: 'microphone', peerId: 'prof' });
  assert.equal(await student.page.evaluate(() => [...window.lecternTest.client!.remoteTracks.values()][0]?.muted), true);
  await sleep(500); // let in-flight packets land
  const paused1 = (await student.page.evaluate(() => window.lecternTest.inboundBytes())).audio;
  await sleep(1000);
  const paused2 = (await student.page.evaluate(() => window.lecternTest.inboundBytes())).audio;
  assert.ok(paused2 - paused1 < 500, `no audio while paused (${paused2 - paused1} bytes)`);

  await lecturer.page.evaluate(() => window.lecternTest.client!.resume('microphone'));
  await student.waitForEvent({ name: 'trackUnmuted', source: 'microphone', peerId: 'prof' });
  await student.page.evaluate((min) => window.lecternTest.waitForInbound('audio', min + 2000), paused2);
  assert.equal(await student.page.evaluate(() => [...window.lecternTest.client!.remoteTracks.values()][0]?.muted), false);
  await closeAll([lecturer, student]);
});

test('a student publishing the camera in an audio-only room gets LecternClientError FORBIDDEN; the microphone is allowed', async () => {
  const room = 'browser-forbidden';
  const lecturer = await peer(room, 'prof', 'lecturer');
  await lecturer.page.evaluate(() => window.lecternTest.client!.join().then(() => undefined));
  const student = await peer(room, 'stu', 'student');
  const refused = await student.page.evaluate(async () => {
    const { client, LecternClientError } = window.lecternTest;
    await client!.join();
    try {
      await client!.publishCamera();
      return { rejected: false };
    } catch (error) {
      return {
        rejected: true,
        isLecternClientError: error instanceof LecternClientError,
        code: (error as { code?: string }).code,
        method: (error as { method?: string }).method,
        message: (error as Error).message,
        stillPublished: client!.localTracks.has('camera'),
        state: client!.connectionState,
      };
    }
  });
  assert.deepEqual(
    { ...refused, message: undefined },
    { rejected: true, isLecternClientError: true, code: 'FORBIDDEN', method: 'produce', message: undefined, stillPublished: false, state: 'connected' },
  );
  assert.match(refused.message ?? '', /camera/);

  // The app captures its own microphone: the client publishes it and leaves it running on leave().
  const appTrack = await student.page.evaluate(async () => {
    const { client } = window.lecternTest;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const track = stream.getAudioTracks()[0]!;
    const publication = await client!.publishMicrophone(track);
    return { owned: publication.ownedByClient };
  });
  assert.equal(appTrack.owned, false);
  await lecturer.waitForEvent({ name: 'trackSubscribed', source: 'microphone', peerId: 'stu' });
  await lecturer.page.evaluate(() => window.lecternTest.waitForInbound('audio', 1000));
  const afterLeave = await student.page.evaluate(async () => {
    const { client } = window.lecternTest;
    const track = client!.localTracks.get('microphone')!.track;
    await client!.leave();
    const state = track.readyState;
    track.stop();
    return state;
  });
  assert.equal(afterLeave, 'live', "the app's track is the app's to stop");
  await closeAll([lecturer, student]);
});

test("the server kills the student's worker: reconnectRequired → the client rejoins and receives again", async () => {
  const room = 'browser-rejoin';
  const lecturer = await peer(room, 'prof', 'lecturer');
  await lecturer.page.evaluate(async () => {
    await window.lecternTest.client!.join();
    await window.lecternTest.client!.publishMicrophone();
    await window.lecternTest.client!.publishCamera();
  });
  const student = await peer(room, 'stu', 'student');
  await student.page.evaluate(async () => {
    await window.lecternTest.client!.join();
    await window.lecternTest.waitForInbound('audio');
    await window.lecternTest.waitForInbound('video');
  });

  const routers = manager.getRoom(room)!.stats().routers;
  assert.equal(routers.length, 2, 'lecturer and student on different routers');
  const [lecturerRouter, studentRouter] = routers as [(typeof routers)[0], (typeof routers)[0]];
  assert.notEqual(lecturerRouter.workerPid, studentRouter.workerPid, 'on different workers');
  const victim = manager.pool.workers.find((w) => w.worker.pid === studentRouter.workerPid);
  assert.ok(victim, "the student's worker is in the pool");

  const killedAt = await student.page.evaluate(() => performance.now());
  process.kill(victim.worker.pid, 'SIGKILL');

  await student.waitForEvent({ name: 'connectionStateChanged', state: 'reconnecting', reason: 'worker-died' });
  await student.waitForEvent({ name: 'connectionStateChanged', state: 'connected', reason: 'rejoined' }, { timeoutMs: 20_000 });
  await student.waitForEvent({ name: 'trackUnsubscribed', reason: 'reconnect' }, { count: 2 });
  await student.waitForEvent({ name: 'trackSubscribed', source: 'microphone' }, { count: 2 });
  await student.waitForEvent({ name: 'trackSubscribed', source: 'camera' }, { count: 2 });
  const recovered = await student.page.evaluate(async (t0) => {
    await window.lecternTest.waitForInbound('audio', 0, 20_000);
    const audio = performance.now() - t0;
    await window.lecternTest.waitForInbound('video', 0, 20_000);
    return { audio, video: performance.now() - t0 };
  }, killedAt);
  figures['worker SIGKILL→student inbound audio again'] = Math.round(recovered.audio);
  figures['worker SIGKILL→student inbound video again'] = Math.round(recovered.video);
  const first = await student.page.evaluate(() => window.lecternTest.inboundBytes());
  await sleep(1000);
  const second = await student.page.evaluate(() => window.lecternTest.inboundBytes());
  assert.ok(second.audio > first.audio && second.video > first.video, 'media flows after the rejoin');

  // The lecturer never lost anything: it saw the student leave (worker-died) and come back.
  const lecturerEvents = await lecturer.events();
  assert.deepEqual(lecturerEvents.filter((e) => e.name === 'connectionStateChanged').map((e) => e.state), ['connecting', 'connected']);
  await lecturer.waitForEvent({ name: 'peerLeft', peerId: 'stu', reason: 'worker-died' });
  await lecturer.waitForEvent({ name: 'peerJoined', peerId: 'stu' }, { count: 2 });
  assert.deepEqual((await student.events()).filter((e) => e.name === 'error'), []);
  assert.equal(manager.getRoom(room)!.stats().peers, 2);
  await closeAll([lecturer, student]);
});

test('closing everything leaves no Chromium, mediasoup worker or socket behind', async () => {
  await closeAll(pages);
  await waitFor('peers to be gone from the rooms', () => manager.roomIds.every((id) => manager.getRoom(id)!.stats().peers === 0), 5000);
  await waitFor('the workers to hold no transports', () => workerTotals(manager).transports === 0, 5000);
  await browser.close();
  await harness.close();
  manager.close();
  assert.equal(harness.connections, 0);
  // Our Chromium carries the temp dir in its fake-capture flags; mediasoup workers are our children.
  const ours = async () => {
    const chromium = await run('pgrep', ['-f', `chromium.*${path.basename(dir)}`]).then((r) => r.stdout.trim(), () => '');
    const workers = await run('pgrep', ['-P', String(process.pid), 'mediasoup']).then((r) => r.stdout.trim(), () => '');
    return [chromium && `chromium: ${chromium}`, workers && `mediasoup-worker: ${workers}`].filter(Boolean).join('; ');
  };
  await waitFor('Chromium and the workers to exit', async () => (await ours()) === '', 10_000).catch(async (error: unknown) => {
    throw new Error(`still running: ${await ours()}`, { cause: error });
  });
  await assert.rejects(fetch(harness.url), 'the harness no longer listens');
});
