// The example lecture app end to end in Debian's Chromium: a lecturer and two
// students on different routers (maxTransportsPerRouter 1, two workers), real
// fake-device media (the mic plays a flite WAV of known text), the real
// whisper-api, a student's raised hand seen by the SDK's default gesture detector
// (tasks-vision, model bundle and WASM served by the app) on a track showing a rendered
// hand, and a screenshot of the lecturer's page.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import {
  LECTURE_PARAGRAPHS,
  launchChromium,
  normalizeWords,
  speak,
  startWhisperApi,
  testPatternY4m,
  waitFor,
  type TestWhisperApi,
} from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const artifacts = path.join(repoRoot, 'test-output', 'lecture-app');
const SPOKEN = LECTURE_PARAGRAPHS[0]!;
/**
 * A rendered raised right hand, 640x480 (the client SDK's gesture fixtures: no camera photo of a
 * hand exists here), the picture the tasks-vision recording raised-hand-right.json was made from.
 */
const RAISED_HAND = path.join(repoRoot, 'packages', 'client-sdk', 'test', 'gestures', 'fixtures', 'recorded-tasks', 'raised-hand-right');

let tmp: string;
let whisper: TestWhisperApi;
let app: LectureApp;
let browser: Browser;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-app-e2e-'));
  await fs.mkdir(artifacts, { recursive: true });
  const wav = path.join(tmp, 'speech.wav');
  const y4m = path.join(tmp, 'camera.y4m');
  await Promise.all([speak(SPOKEN, wav), testPatternY4m(y4m, { seconds: 5, width: 320, height: 240, fps: 15 })]);
  whisper = await startWhisperApi();
  app = await startLectureApp({
    port: 0,
    whisperUrl: whisper.url,
    manager: { workers: { numWorkers: 2 }, room: { maxTransportsPerRouter: 1 } },
    transcription: { segmentSeconds: 5, segmentsPerBatch: 2, workDir: path.join(tmp, 'work') },
  });
  browser = await launchChromium({ fakeAudioWav: wav, fakeVideoY4m: y4m });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await whisper?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function open(query: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => console.error(`[page ${query}]`, error));
  await page.goto(`${app.url}/?${query}`);
  await page.waitForFunction(() => window.lectern?.state === 'joined', undefined, { timeout: 30_000 });
  return page;
}

const inbound = (page: Page) => page.evaluate(() => window.lectern!.inboundBytes());

test('lecturer and two students: media across routers, live transcript, raised hand in the queue, summary', { timeout: 300_000 }, async () => {
  const lecturer = await open('room=e2e&peer=lecturer&role=lecturer&name=Lecturer');
  const s1 = await open('room=e2e&peer=s1&role=student&name=Student%20One');
  const s2 = await open('room=e2e&peer=s2&role=student&name=Student%20Two');

  // Students receive the lecturer's audio and video: inbound-rtp bytes grow.
  for (const student of [s1, s2]) {
    await waitFor('student receives audio and video', async () => {
      const b = await inbound(student);
      return b.audio > 0 && b.video > 0;
    }, 20_000);
    const before = await inbound(student);
    await new Promise((r) => setTimeout(r, 2_000));
    const later = await inbound(student);
    assert.ok(later.audio > before.audio + 4_000, `audio bytes grow: ${before.audio} → ${later.audio}`);
    assert.ok(later.video > before.video + 10_000, `video bytes grow: ${before.video} → ${later.video}`);
  }
  // Different routers: the lecturer's media reached the students through pipes.
  const stats = app.manager.getRoom('e2e')!.stats();
  assert.ok(stats.routers.length >= 2, `routers: ${JSON.stringify(stats.routers)}`);
  assert.ok(stats.pipes >= 2, `the lecturer's audio and video are piped to the students' router (pipes: ${stats.pipes})`);
  const firstAudioMs = await s1.evaluate(() => window.lectern!.firstAudioMs);
  console.log(`student time to first audio (join → first inbound audio bytes): ${firstAudioMs} ms`);
  assert.ok(typeof firstAudioMs === 'number' && firstAudioMs > 0 && firstAudioMs < 10_000);

  // The student's raised hand, seen by TasksVisionHandDetector on a track that shows the
  // rendered hand, reaches the lecturer's queue.
  const recording = JSON.parse(await fs.readFile(`${RAISED_HAND}.json`, 'utf8')) as { expected: string[] };
  assert.deepEqual(recording.expected, ['raised-hand']);
  const picture = `data:image/jpeg;base64,${(await fs.readFile(`${RAISED_HAND}.jpg`)).toString('base64')}`;
  await s1.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    setInterval(() => ctx.drawImage(img, 0, 0), 100);
    await window.lectern!.startGestures(canvas.captureStream(10).getVideoTracks()[0]!);
  }, picture);
  await s1.waitForFunction(() => (document.querySelector('#gesture-status')?.textContent ?? '').startsWith('raised-hand'), undefined, { timeout: 20_000 });
  await lecturer.waitForFunction(() => [...document.querySelectorAll('#hand-queue li')].some((li) => li.textContent?.includes('Student One')), undefined, { timeout: 20_000 });
  const queue = await lecturer.evaluate(() => [...document.querySelectorAll('#hand-queue li')].map((li) => li.getAttribute('data-peer')));
  assert.deepEqual(queue, ['s1']);

  // Transcription: the panel fills with the spoken words.
  await lecturer.click('#transcription');
  const spoken = new Set(normalizeWords(SPOKEN));
  await waitFor('transcript panel shows the spoken words', async () => {
    const text = await s2.evaluate(() => document.querySelector('#transcript')?.textContent ?? '');
    return normalizeWords(text).filter((w) => spoken.has(w)).length >= 15;
  }, 90_000, 500);
  const transcript = await lecturer.evaluate(() => document.querySelector('#transcript')?.textContent ?? '');
  console.log(`lecturer transcript panel: ${transcript.slice(0, 200)}…`);

  await lecturer.screenshot({ path: path.join(artifacts, 'lecturer.png'), fullPage: true });

  // The lecturer dismisses the hand; the end of the lecture brings the summary to everyone.
  await lecturer.click('#hand-queue li[data-peer="s1"] button');
  await s1.waitForFunction(() => document.querySelectorAll('#hand-queue li').length === 0, undefined, { timeout: 10_000 });
  await lecturer.click('#transcription');
  await s2.waitForFunction(() => (document.querySelector('#summary')?.textContent ?? '').length > 20, undefined, { timeout: 120_000 });
  await lecturer.screenshot({ path: path.join(artifacts, 'lecturer-summary.png'), fullPage: true });
  for (const page of [lecturer, s1, s2]) await page.close();
  await waitFor('peers gone', () => (app.manager.getRoom('e2e')?.peerCount ?? 0) === 0, 10_000);
});
