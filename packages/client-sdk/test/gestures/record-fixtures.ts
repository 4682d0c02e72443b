// Records REAL MediaPipe Hands landmarks for the gesture fixtures: headless Debian
// Chromium runs MediaPipeHandsDetector (lite model, files served from
// node_modules/@mediapipe/hands/ on 127.0.0.1) on a canvas that renders the skeletal
// hand model (hand-model.ts) posed like each authored fixture (make-fixtures.ts), and
// writes what MediaPipe reports to fixtures/recorded/<name>.json.
//
//   bash scripts/run.sh packages/client-sdk/test/gestures/record-fixtures.ts
//
// No photo or video of a real hand exists on the build machine, so the image is a
// rendering (render-hand.ts: skin-coloured capsules per bone, a palm polygon and a
// forearm, drawn far to near): the landmarks are MediaPipe's own estimates (its noise, its z, its
// handedness and score), but of a drawn hand. Needs Chromium; takes about a minute.
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { launchChromium } from '@lectern/testkit';
import type { GestureRecording, RecordedFrame } from '../../src/gestures/index.js';
import { STATIC_SPECS } from './make-fixtures.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../../..');
const HANDS_DIR = path.join(ROOT, 'node_modules/@mediapipe/hands');
const OUT_DIR = path.join(HERE, 'fixtures/recorded');
const FRAMES = 8;
const FRAME_MS = 200;
const log = (...a: unknown[]) => console.error(`[record ${new Date().toISOString().slice(11, 19)}]`, ...a);

// Runs in the page.
const PAGE_SOURCE = `
import { MediaPipeHandsDetector } from './packages/client-sdk/src/gestures/index.js';
import { POSES, poseHand } from './packages/client-sdk/test/gestures/hand-model.js';
import { renderHand } from './packages/client-sdk/test/gestures/render-hand.js';

const W = 640, H = 480;
const canvas = document.createElement('canvas');
canvas.width = W; canvas.height = H;
document.body.appendChild(canvas);
const ctx = canvas.getContext('2d');

window.record = async ({ pose, placement, frames, frameMs, modelComplexity }) => {
  const detector = new MediaPipeHandsDetector({ assetBaseUrl: '/mediapipe/hands/', modelComplexity });
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

const MIME: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm' };

async function main(): Promise<void> {
  const built = await esbuild.build({
    stdin: { contents: PAGE_SOURCE, resolveDir: ROOT, sourcefile: 'record-page.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    conditions: ['lectern-source'],
    write: false,
    logLevel: 'warning',
  });
  const bundle = built.outputFiles[0]!.text;
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><meta charset="utf-8"><body style="margin:0"><script type="module" src="/page.js"></script>');
      } else if (url.pathname === '/page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(bundle);
      } else if (url.pathname.startsWith('/mediapipe/hands/')) {
        const name = path.basename(url.pathname);
        try {
          const body = await fs.readFile(path.join(HANDS_DIR, name));
          res.writeHead(200, { 'content-type': MIME[path.extname(name)] ?? 'application/octet-stream' });
          res.end(body);
        } catch {
          res.writeHead(404).end();
        }
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const browser = await launchChromium();
  const version = browser.version();
  await fs.mkdir(OUT_DIR, { recursive: true });
  try {
    const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { recorderReady?: boolean }).recorderReady === true);
    for (const spec of STATIC_SPECS) {
      const { frames, jpeg } = await page.evaluate(
        (o) =>
          (window as unknown as { record: (x: typeof o) => Promise<{ frames: (RecordedFrame & { modelHandedness: string })[]; jpeg: string }> }).record(o),
        { pose: spec.pose, placement: spec.placement, frames: FRAMES, frameMs: FRAME_MS, modelComplexity: 0 as const },
      );
      const detected = frames.filter((f) => f.hands.length > 0).length;
      const labels = [...new Set(frames.flatMap((f) => f.hands.map((h) => h.handedness)))].join('/') || '-';
      log(`${spec.name}: hand in ${detected}/${frames.length} frames, label ${labels} (model: ${spec.placement.handedness ?? 'Right'})`);
      const recording: GestureRecording = {
        name: `recorded-${spec.name}`,
        description:
          `MediaPipe Hands ${'0.4.1675469240'} (lite, video mode, MediaPipeHandsDetector) in headless Chromium ${version} ` +
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
    await new Promise<void>((resolve) => server.close(() => resolve()));
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
