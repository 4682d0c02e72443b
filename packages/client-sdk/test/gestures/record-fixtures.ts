// Records REAL MediaPipe landmarks for the gesture fixtures: headless Debian Chromium
// runs a detector on a canvas that renders the skeletal hand model (hand-model.ts) posed
// like each authored fixture (make-fixtures.ts), and writes what it reports:
//   --detector tasks (default): TasksVisionHandDetector (@mediapipe/tasks-vision 0.10.35,
//     CPU delegate, packages/client-sdk/models/hand_landmarker.task) -> fixtures/recorded-tasks/
//   --detector legacy: MediaPipeHandsDetector (@mediapipe/hands, lite) -> fixtures/recorded/
// Files are served from 127.0.0.1 (asset-server.ts).
//
//   bash scripts/run.sh packages/client-sdk/test/gestures/record-fixtures.ts [--detector tasks|legacy]
//
// No photo or video of a real hand exists on the build machine, so the image is a
// rendering (render-hand.ts: skin-coloured capsules per bone, a palm polygon and a
// forearm, drawn far to near): the landmarks are MediaPipe's own estimates (its noise, its z, its
// handedness and score), but of a drawn hand. Needs Chromium; takes about a minute.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium } from '@lectern/testkit';
import type { GestureRecording, RecordedFrame } from '../../src/gestures/index.js';
import { REPO_ROOT as ROOT, startAssetServer } from './asset-server.js';
import { STATIC_SPECS } from './make-fixtures.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { detector: { type: 'string', default: 'tasks' } } });
if (args.detector !== 'tasks' && args.detector !== 'legacy') throw new Error('usage: --detector tasks|legacy');
const DETECTOR = args.detector;
const OUT_DIR = path.join(HERE, DETECTOR === 'tasks' ? 'fixtures/recorded-tasks' : 'fixtures/recorded');
const FRAMES = 8;
const FRAME_MS = 200;
const log = (...a: unknown[]) => console.error(`[record ${new Date().toISOString().slice(11, 19)}]`, ...a);

// Runs in the page.
const PAGE_SOURCE = `
import { MediaPipeHandsDetector, TasksVisionHandDetector } from './packages/client-sdk/src/gestures/index.js';
import { POSES, poseHand } from './packages/client-sdk/test/gestures/hand-model.js';
import { renderHand } from './packages/client-sdk/test/gestures/render-hand.js';

const W = 640, H = 480;
const canvas = document.createElement('canvas');
canvas.width = W; canvas.height = H;
document.body.appendChild(canvas);
const ctx = canvas.getContext('2d');

window.record = async ({ pose, placement, frames, frameMs, modelComplexity, detectorName }) => {
  const detector = detectorName === 'tasks'
    ? new TasksVisionHandDetector({ assetBaseUrl: '/mediapipe-tasks/' })
    : new MediaPipeHandsDetector({ assetBaseUrl: '/mediapipe/hands/', modelComplexity });
  const out = [];
  try {
    for (let i = 0; i < frames; i++) {
      const drift = Math.sin(i * 0.9) * 0.01;
      const hand = poseHand(POSES[pose], {
        ...placement,
        aspectRatio: W / H,
        wrist: { x: placement.wrist.x + drift, y: placement.wrist.y + drift / 2 },
        roll: (placement.roll ?? 0) + drift * 200,
      });
      renderHand(ctx, hand, (placement.palmLength ?? 0.18) * H);
      const hands = await detector.detect(canvas, i * frameMs);
      out.push({ timestampMs: i * frameMs, hands, modelHandedness: hand.handedness });
    }
  } finally {
    await detector.close();
  }
  return { frames: out, jpeg: canvas.toDataURL('image/jpeg', 0.6) };
};
window.recorderReady = true;
`;

async function main(): Promise<void> {
  const server = await startAssetServer(PAGE_SOURCE);
  const browser = await launchChromium();
  const version = browser.version();
  await fs.mkdir(OUT_DIR, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { recorderReady?: boolean }).recorderReady === true);
    for (const spec of STATIC_SPECS) {
      const { frames, jpeg } = await page.evaluate(
        (o) =>
          (window as unknown as { record: (x: typeof o) => Promise<{ frames: (RecordedFrame & { modelHandedness: string })[]; jpeg: string }> }).record(o),
        { pose: spec.pose, placement: spec.placement, frames: FRAMES, frameMs: FRAME_MS, modelComplexity: 0 as const, detectorName: DETECTOR },
      );
      const detected = frames.filter((f) => f.hands.length > 0).length;
      const labels = [...new Set(frames.flatMap((f) => f.hands.map((h) => h.handedness)))].join('/') || '-';
      log(`${spec.name}: hand in ${detected}/${frames.length} frames, label ${labels} (model: ${spec.placement.handedness ?? 'Right'})`);
      const recording: GestureRecording = {
        name: `recorded-${spec.name}`,
        description:
          (DETECTOR === 'tasks'
            ? `@mediapipe/tasks-vision 0.10.35 HandLandmarker (CPU delegate, VIDEO mode, hand_landmarker.task = palm_detection_lite + ` +
              `hand_landmark_lite from mediapipe 0.10.21, TasksVisionHandDetector: handedness in the legacy convention) in headless Chromium ${version} `
            : `MediaPipe Hands ${'0.4.1675469240'} (lite, video mode, MediaPipeHandsDetector) in headless Chromium ${version} `) +
          `(--disable-gpu) on a 640x480 canvas rendering of hand-model.ts posed as the authored fixture ${spec.name}: ${spec.description} ` +
          `Landmarks, handedness and score are MediaPipe's; the image is a drawing, not a photo. Written by record-fixtures.ts.`,
        imageWidth: 640,
        imageHeight: 480,
        expected: spec.expected,
        frames: frames.map(({ timestampMs, hands }) => ({
          timestampMs,
          hands: hands.map((h) => ({
            ...h,
            landmarks: h.landmarks.map((l) => ({ x: round(l.x), y: round(l.y), z: round(l.z) })),
            score: round(h.score),
          })),
        })),
      };
      await fs.writeFile(path.join(OUT_DIR, `${spec.name}.json`), format(recording));
      await fs.writeFile(path.join(OUT_DIR, `${spec.name}.jpg`), Buffer.from(jpeg.slice(jpeg.indexOf(',') + 1), 'base64'));
    }
  } finally {
    await browser.close();
    await server.close();
  }
  log(`wrote ${STATIC_SPECS.length} recordings (+ the last frame of each as JPEG) to ${path.relative(ROOT, OUT_DIR)}`);
}

function round(v: number): number {
  return Math.round(v * 1e5) / 1e5;
}

function format(rec: GestureRecording): string {
  const { frames, ...head } = rec;
  const headJson = JSON.stringify(head, null, 2);
  return `${headJson.slice(0, -2)},\n  "frames": [\n${frames.map((f) => `    ${JSON.stringify(f)}`).join(',\n')}\n  ]\n}\n`;
}

await main();
