// Live captions in the lecture page, in Debian's Chromium with real parts: the
// lecturer's fake microphone plays flite speech of a known text, the real
// whisper-api (tiny.en) streams captions and transcribes the batches. While
// the speech is still playing, a student's caption bar shows the lecturer's
// words and the transcript panel has live lines, which batch lines then
// replace; the student's caption toggle hides and shows the bar (remembered);
// at the end the student sees the live summary, then the batch one; the live
// captions download from the server as strictly valid WebVTT.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import {
  LECTURE_PARAGRAPHS,
  audioDuration,
  launchChromium,
  normalizeWords,
  speak,
  startWhisperApi,
  waitFor,
  type TestWhisperApi,
} from '@lectern/testkit';
import type { CaptionInfo } from '@lectern/protocol';
import { startLectureApp, type LectureApp } from '../server/app.js';
import { parseWebVtt } from '../../../packages/server-sdk/test/subtitle-parser.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const artifacts = path.join(repoRoot, 'test-output', 'lecture-app');
const ROOM = 'captions';
/** The page's localStorage key of the viewer's caption choice (web/captions.ts; not imported: browser code). */
const CAPTIONS_STORAGE_KEY = 'lectern.captions';
const SPOKEN = LECTURE_PARAGRAPHS.slice(0, 2).join(' ');
/** Words of the text long enough to be its content (no "the", "and", "with"...). */
const CONTENT_WORDS = new Set(normalizeWords(SPOKEN).filter((w) => w.length >= 6));

let tmp: string;
let seconds: number;
let wav: string;
let whisper: TestWhisperApi;
let app: LectureApp;
let browser: Browser;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-captions-page-'));
  await fs.mkdir(artifacts, { recursive: true });
  wav = path.join(tmp, 'speech.wav');
  await speak(SPOKEN, wav);
  seconds = await audioDuration(wav);
  whisper = await startWhisperApi({ env: { WHISPER_MODEL: 'tiny.en' } });
  app = await startLectureApp({
    port: 0,
    whisperUrl: whisper.url,
    manager: { workers: { numWorkers: 1 } },
    // Batches of 20 s: live lines stand for a while before the batch lines replace them.
    transcription: { segmentSeconds: 10, segmentsPerBatch: 2, workDir: path.join(tmp, 'work') },
  });
  browser = await launchChromium({ fakeAudioWav: wav });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await whisper?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function open(role: 'lecturer' | 'student', peer: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => console.error(`[page ${peer}]`, error));
  await page.goto(`${app.url}/?${new URLSearchParams({ room: ROOM, peer, role, name: peer })}`);
  await page.waitForFunction(() => window.lectern?.state === 'joined', undefined, { timeout: 30_000 });
  return page;
}

/** What the student's page shows of the captions right now. */
function captionView(page: Page) {
  return page.evaluate(() => {
    const bar = document.querySelector<HTMLElement>('#captions')!;
    // No named functions in here: tsx would wrap them in a helper the page does not have.
    return {
      visible: !bar.hidden && bar.getBoundingClientRect().height > 0,
      text: bar.textContent ?? '',
      partial: document.querySelector('#caption-partial')?.textContent ?? '',
      lines: [...document.querySelectorAll<HTMLElement>('#transcript p')].map((p) => ({ start: Number(p.dataset.start), end: Number(p.dataset.end), live: p.classList.contains('live') })),
    };
  });
}

test('captions reach the student while the lecturer speaks; live lines give way to batch lines; toggle; live then batch summary; live VTT download', { timeout: 300_000 }, async () => {
  assert.ok(seconds >= 40, `the speech lasts ${seconds.toFixed(1)} s (at least 40 s wanted)`);
  const captions: (CaptionInfo & { at: number })[] = [];
  app.transcription.on('caption', (caption) => captions.push({ ...caption, at: Date.now() }));

  // The fake microphone starts playing when the lecturer's page captures it, after this moment:
  // the speech is certainly still playing before `speechEnds`.
  const speechEnds = Date.now() + seconds * 1000;
  const lecturer = await open('lecturer', 'lecturer');
  const student = await open('student', 'student');
  // When the student's bar first shows words (the page's clock is this machine's clock).
  await student.evaluate(() => {
    const seen = globalThis as unknown as { firstCaption?: { at: number; text: string } };
    const bar = document.querySelector('#captions')!;
    const observer = new MutationObserver(() => {
      const text = bar.textContent?.trim() ?? '';
      if (text === '' || seen.firstCaption) return;
      seen.firstCaption = { at: Date.now(), text: document.querySelector('#caption-partial')?.textContent || text };
      observer.disconnect();
    });
    observer.observe(bar, { subtree: true, childList: true, characterData: true });
  });
  assert.equal(await student.isVisible('#captions'), false, 'no captions before the transcription');

  await lecturer.click('#transcription');
  await waitFor('the transcription runs', () => app.transcription.pipeline(ROOM) !== undefined, 15_000);
  const pipeline = app.transcription.pipeline(ROOM)!;
  const { lectureId } = pipeline;
  await student.waitForSelector('#captions-toggle', { state: 'visible', timeout: 10_000 });

  // While the speech plays: the lecturer's words in the student's caption bar, live lines in the panel.
  const heard = new Set<string>();
  let liveLinesSeen = 0;
  let italicPartial = false;
  await waitFor('the caption bar shows the spoken words and the panel live lines', async () => {
    const view = await captionView(student);
    if (view.visible) for (const word of normalizeWords(view.text)) if (CONTENT_WORDS.has(word)) heard.add(word);
    liveLinesSeen = Math.max(liveLinesSeen, view.lines.filter((l) => l.live).length);
    if (view.partial !== '') {
      italicPartial ||= await student.evaluate(() => getComputedStyle(document.querySelector('#caption-partial')!).fontStyle === 'italic');
    }
    return heard.size >= 8 && liveLinesSeen >= 1;
  }, Math.max(1000, speechEnds - Date.now()), 250);
  const beforeEnd = speechEnds - Date.now();
  console.log(`caption words on the student's bar with ${(beforeEnd / 1000).toFixed(1)} s of speech left: ${[...heard].join(', ')}`);
  assert.ok(beforeEnd > 0, 'the captions came while the lecturer was still speaking');
  assert.ok(italicPartial, 'the partial is shown, in italics');

  // Time from the spoken audio to the student's screen: the first caption shown covers the
  // lecture's audio up to its `end`, spoken at startedAt + end.
  const first = await student.evaluate(() => (globalThis as unknown as { firstCaption?: { at: number; text: string } }).firstCaption);
  const firstCaption = first && captions.find((c) => c.text.trim() !== '' && first.text.includes(c.text.trim()));
  if (first && firstCaption) {
    console.log(`first caption "${firstCaption.text.trim()}": on the student's screen ${first.at - (pipeline.startedAtMs + firstCaption.end * 1000)} ms after its last word was spoken`);
  }

  // Accessibility: only the finals are announced; the bar is a named region.
  const a11y = await student.evaluate(() => ({
    region: document.querySelector('#captions')?.getAttribute('role'),
    name: document.querySelector('#captions')?.getAttribute('aria-label'),
    finalsLive: document.querySelector('#caption-finals')?.getAttribute('aria-live'),
    partialLive: document.querySelector('#caption-partial')?.closest('[aria-live]')?.id ?? null,
    panelLive: document.querySelector('#transcript')?.getAttribute('aria-live'),
  }));
  assert.deepEqual(a11y, { region: 'region', name: 'Live captions', finalsLive: 'polite', partialLive: null, panelLive: 'off' });

  await student.screenshot({ path: path.join(artifacts, 'captions-student.png') });

  // The toggle: off hides the bar (remembered, and the panel speaks again), on shows it.
  await student.click('#captions-toggle');
  assert.equal(await student.isVisible('#captions'), false, 'captions off: no bar');
  assert.deepEqual(await student.evaluate((key) => ({
    stored: localStorage.getItem(key),
    pressed: document.querySelector('#captions-toggle')?.getAttribute('aria-pressed'),
    text: document.querySelector('#captions-toggle')?.textContent,
    panelLive: document.querySelector('#transcript')?.getAttribute('aria-live'),
  }), CAPTIONS_STORAGE_KEY), { stored: 'off', pressed: 'true', text: 'Captions on', panelLive: 'polite' });
  assert.equal(await lecturer.isVisible('#captions'), true, "the lecturer's choice is the lecturer's");
  await student.click('#captions-toggle');
  await student.waitForSelector('#captions', { state: 'visible', timeout: 5_000 });
  assert.equal(await student.evaluate((key) => localStorage.getItem(key), CAPTIONS_STORAGE_KEY), 'on');

  // The batch transcript replaces the live lines it covers (a line goes once the batch reaches its middle).
  await waitFor('batch lines in the panel', async () => (await captionView(student)).lines.some((l) => !l.live), 90_000, 500);
  const { lines } = await captionView(student);
  const batchEnd = Math.max(...lines.filter((l) => !l.live).map((l) => l.end));
  const stale = lines.filter((l) => l.live && (l.start + l.end) / 2 <= batchEnd);
  assert.deepEqual(stale, [], `live lines the batch transcript (to ${batchEnd} s) covers are gone`);

  // The end: the student sees the live captions' summary, then the batch one replacing it.
  await student.evaluate(() => {
    const seen = globalThis as unknown as { summaries?: string[] };
    seen.summaries = [];
    const panel = document.querySelector<HTMLElement>('#summary-panel')!;
    new MutationObserver(() => {
      const now = `${panel.dataset.source}:${panel.dataset.final}`;
      if (seen.summaries!.at(-1) !== now) seen.summaries!.push(now);
    }).observe(panel, { attributes: true, attributeFilter: ['data-source', 'data-final'] });
  });
  await lecturer.click('#end-lecture');
  await lecturer.click('#end-confirm');
  await student.waitForFunction(() => document.querySelector<HTMLElement>('#summary-panel')?.dataset.source === 'batch', undefined, { timeout: 120_000 });
  const summary = await student.evaluate(() => ({
    text: document.querySelector('#summary')?.textContent ?? '',
    label: document.querySelector('#summary-source')?.textContent ?? '',
    seen: (globalThis as unknown as { summaries?: string[] }).summaries,
  }));
  assert.ok(summary.text.length > 20, `summary: ${summary.text}`);
  assert.equal(summary.label, '');
  assert.deepEqual(summary.seen, ['live:false', 'batch:true'], 'the live summary (labelled provisional), then the batch one');

  // The live captions as the server exports them: strictly valid WebVTT with the spoken words.
  const join = await fetch(`${app.url}/api/join?${new URLSearchParams({ room: ROOM, role: 'lecturer', name: 'lecturer', peer: 'exporter' })}`);
  const { token } = (await join.json()) as { token: string };
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  const vtt = await fetch(`${app.url}/api/lectures/${lectureId}/transcript.vtt?source=live`, auth);
  assert.equal(vtt.status, 200);
  const cues = parseWebVtt(await vtt.text());
  // Every final the room was sent, word for word (a long one may be split over cues).
  const finals = captions.filter((c) => c.kind === 'final' && c.text.trim() !== '');
  assert.ok(cues.length >= finals.length && finals.length >= 1, `${cues.length} cues from ${finals.length} finals`);
  const cueWords = normalizeWords(cues.flatMap((c) => c.lines).join(' '));
  assert.deepEqual(cueWords, normalizeWords(finals.map((c) => c.text).join(' ')));
  assert.ok([...CONTENT_WORDS].filter((w) => cueWords.includes(w)).length >= 8, 'the live VTT holds the spoken words');
  assert.equal((await fetch(`${app.url}/api/lectures/${lectureId}/transcript.vtt?source=subtitles`, auth)).status, 400);

  for (const page of [lecturer, student]) await page.close();
});
