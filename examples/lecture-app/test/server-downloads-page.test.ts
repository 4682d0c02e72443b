// The lecturer's page in Debian's Chromium downloads the lecture's subtitles
// from the server (WebVTT and SRT, and the live captions as WebVTT, parsed
// strictly): the buttons appear once the page knows the lecture, for the
// lecturer only, and stay after the transcription stopped. No speech-to-text: the engine check is off and the
// transcript is written to the app's store by the test.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, waitFor } from '@lectern/testkit';
import { startLectureApp, type LectureApp } from '../server/app.js';
import { parseSrt, parseWebVtt } from '../../../packages/server-sdk/test/subtitle-parser.js';

const ROOM = 'subs';
let tmp: string;
let app: LectureApp;
let browser: Browser;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-server-downloads-'));
  app = await startLectureApp({
    port: 0,
    whisperUrl: 'http://127.0.0.1:9', // never contacted: the engine check is off and no audio is sent (microphones muted)
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, 'work'), engineCheck: false },
    logger: { warn: () => undefined, error: () => undefined },
  });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function open(role: 'lecturer' | 'student', peer: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page ${peer}]`, error));
  await page.goto(`${app.url}/?${new URLSearchParams({ room: ROOM, peer, role, name: peer, mic: 'off' })}`);
  await page.waitForFunction(() => window.lectern?.state === 'joined', undefined, { timeout: 30_000 });
  return page;
}

async function downloaded(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click(button)]);
  return { name: download.suggestedFilename(), text: await fs.readFile(await download.path(), 'utf8') };
}

test("the lecturer downloads the current lecture's subtitles from the server; a student has no such buttons", { timeout: 120_000 }, async () => {
  const lecturer = await open('lecturer', 'ada');
  const student = await open('student', 'bob');
  assert.equal(await lecturer.isVisible('#server-downloads'), false, 'no lecture yet');

  await lecturer.click('#transcription');
  await waitFor('the transcription runs', () => app.transcription.pipeline(ROOM) !== undefined, 15_000);
  const lectureId = app.transcription.pipeline(ROOM)!.lectureId;
  await app.transcription.store.putBatch(lectureId, 'b0', [
    { batchId: 'b0', index: 0, start: 1, end: 4, text: 'Welcome to the lecture.' },
    { batchId: 'b0', index: 1, start: 3.5, end: 8, text: 'Arrows --> & <tags> are text.' },
  ]);
  await lecturer.waitForSelector('#server-downloads', { state: 'visible', timeout: 10_000 });
  assert.equal(await student.isVisible('#server-downloads'), false, 'students never see them');

  const vtt = await downloaded(lecturer, '#server-vtt');
  assert.equal(vtt.name, `${lectureId}.vtt`);
  const cues = parseWebVtt(vtt.text);
  assert.deepEqual(cues.map((c) => [c.startMs, c.endMs, c.lines.join(' ')]), [
    [1000, 3500, 'Welcome to the lecture.'],
    [3500, 8000, 'Arrows --&gt; &amp; &lt;tags&gt; are text.'],
  ]);

  // The live captions' finals, a file of their own (other words than the batch transcript's).
  await app.transcription.store.putBatch(lectureId, 'live-0', [
    { batchId: 'live-0', index: 0, start: 0.8, end: 3.9, text: 'Welcome to the lectern.' },
  ], { source: 'live' });
  const live = await downloaded(lecturer, '#server-live-vtt');
  assert.equal(live.name, `${lectureId}.live.vtt`);
  assert.deepEqual(parseWebVtt(live.text).map((c) => [c.startMs, c.endMs, c.lines.join(' ')]), [[800, 3900, 'Welcome to the lectern.']]);

  // After the transcription stopped, the last lecture is still there to download.
  await app.transcription.stopTranscription(ROOM);
  const srt = await downloaded(lecturer, '#server-srt');
  assert.equal(srt.name, `${lectureId}.srt`);
  assert.deepEqual(parseSrt(srt.text), cues);
  assert.deepEqual((await app.transcription.listLectures(ROOM)).map((l) => [l.lectureId, l.status]), [[lectureId, 'summarised']]);
});
