// The SDK's default gesture detector for real, in Debian's Chromium (--disable-gpu):
// TasksVisionHandDetector (@mediapipe/tasks-vision 0.10.35, CPU delegate) with the
// hand_landmarker.task that scripts/setup.sh builds, on a camera-like track that shows a
// rendered raised right hand (the JPEG written beside the tasks-vision recordings), through
// GestureRecognizer; the legacy MediaPipeHandsDetector on the same picture. Every request
// is answered by the local asset server; anything else would be recorded and fail the test.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@lectern/testkit';
import { startAssetServer, type AssetServer } from './asset-server.js';

const JPEG = new URL('./fixtures/recorded-tasks/raised-hand-right.jpg', import.meta.url);

const PAGE_SOURCE = `
import { GestureRecognizer, MediaPipeHandsDetector, TasksVisionHandDetector } from './packages/client-sdk/src/gestures/index.js';

async function pictureTrack(dataUrl) {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  const draw = () => ctx.drawImage(img, 0, 0);
  draw();
  setInterval(draw, 100);
  window.__canvas = canvas;
  return canvas.captureStream(10).getVideoTracks()[0];
}

window.recognise = async (dataUrl) => {
  const t0 = performance.now();
  const detector = new TasksVisionHandDetector({ assetBaseUrl: '/mediapipe-tasks' });
  const recognizer = new GestureRecognizer({ detector });
  const frames = [];
  let firstResultMs;
  const started = new Promise((resolve, reject) => {
    recognizer.on('gestureStart', (e) => resolve({ gesture: e.gesture, confidence: e.confidence, afterMs: performance.now() - t0 }));
    recognizer.on('error', reject);
    setTimeout(() => reject(new Error('no gestureStart in 15 s')), 15000);
  });
  recognizer.on('frame', (f) => {
    firstResultMs ??= performance.now() - t0;
    frames.push({ hands: f.hands.map((h) => ({ handedness: h.handedness, score: h.score, wristY: h.landmarks[0].y })), candidates: f.candidates.map((c) => c.gesture), targetFps: recognizer.targetFps });
  });
  await recognizer.attach(await pictureTrack(dataUrl));
  const start = await started;
  while (frames.length < 8) await new Promise((r) => setTimeout(r, 50));
  await recognizer.close();
  // Closed: the detector refuses further work; close() is idempotent.
  let afterClose = 'resolved';
  await detector.detect(window.__canvas, performance.now()).catch((e) => { afterClose = e.message; });
  await detector.close();
  return { start, firstResultMs, frames, afterClose };
};

window.timestamps = async () => {
  const detector = new TasksVisionHandDetector({ assetBaseUrl: '/mediapipe-tasks/' });
  const c = window.__canvas;
  // The same, then an older timestamp: tasks-vision needs strictly increasing ones, the detector makes them so.
  const a = await detector.detect(c, 1000);
  const b = await detector.detect(c, 1000);
  const d = await detector.detect(c, 500);
  await detector.close();
  return [a, b, d].map((hands) => hands.length);
};

window.legacy = async () => {
  const detector = new MediaPipeHandsDetector({ assetBaseUrl: '/mediapipe/hands/' });
  const hands = await detector.detect(window.__canvas, performance.now());
  await detector.close();
  return hands.map((h) => ({ handedness: h.handedness, wristY: h.landmarks[0].y }));
};
window.ready = true;
`;

let server: AssetServer;
let browser: Browser;
let page: Page;
const foreign: string[] = [];

before(async () => {
  server = await startAssetServer(PAGE_SOURCE);
  browser = await launchChromium();
  page = await browser.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(server.url) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page.on('pageerror', (e) => console.error('[page]', e.message));
  await page.goto(server.url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('TasksVisionHandDetector + GestureRecognizer: a raised right hand on a track starts raised-hand, labelled in the legacy convention', { timeout: 60_000 }, async () => {
  const dataUrl = `data:image/jpeg;base64,${(await fs.readFile(JPEG)).toString('base64')}`;
  type Frame = { hands: { handedness: string; score: number; wristY: number }[]; candidates: string[]; targetFps: number };
  const result = await page.evaluate(
    (u) => (window as unknown as { recognise: (u: string) => Promise<{ start: { gesture: string; confidence: number; afterMs: number }; firstResultMs: number; frames: Frame[]; afterClose: string }> }).recognise(u),
    dataUrl,
  );
  console.log(`first result ${result.firstResultMs.toFixed(0)} ms, raised-hand started after ${result.start.afterMs.toFixed(0)} ms (${result.frames.length} detections), confidence ${result.start.confidence.toFixed(2)}`);
  assert.equal(result.start.gesture, 'raised-hand');
  assert.ok(result.start.confidence >= 0.7);
  const withHand = result.frames.filter((f) => f.hands.length === 1);
  assert.ok(withHand.length >= 7, `frames with the hand: ${withHand.length} of ${result.frames.length}`);
  // The rendering is a right hand with its palm to the camera; tasks-vision says 'Left', the detector flips it.
  for (const f of withHand) assert.equal(f.hands[0]!.handedness, 'Right');
  for (const f of withHand) assert.ok(f.candidates.includes('raised-hand'), JSON.stringify(f));
  assert.equal(withHand.at(-1)!.targetFps, 10, 'a hand in view: maxFps');
  assert.ok(result.firstResultMs < 10_000, `first result after ${result.firstResultMs} ms`);
  assert.match(result.afterClose, /closed/);
});

test('timestamps that repeat or go back are made strictly increasing (tasks-vision would throw)', { timeout: 60_000 }, async () => {
  const counts = await page.evaluate(() => (window as unknown as { timestamps: () => Promise<number[]> }).timestamps());
  assert.deepEqual(counts, [1, 1, 1]);
});

test('the legacy MediaPipeHandsDetector finds the same hand with the same label', { timeout: 60_000 }, async () => {
  const hands = await page.evaluate(() => (window as unknown as { legacy: () => Promise<{ handedness: string; wristY: number }[]> }).legacy());
  assert.equal(hands.length, 1);
  assert.equal(hands[0]!.handedness, 'Right');
});

test('every file came from the local server: the model bundle and the WASM, nothing else', () => {
  assert.deepEqual(foreign, []);
  const paths = [...server.requested.keys()];
  assert.ok(paths.includes('/mediapipe-tasks/hand_landmarker.task'), paths.join(', '));
  assert.ok(paths.some((p) => /^\/mediapipe-tasks\/wasm\/vision_wasm.*internal\.wasm$/.test(p)), paths.join(', '));
  assert.deepEqual(paths.filter((p) => p.endsWith('(404)')), []);
});
