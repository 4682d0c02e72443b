// Gesture detection cost in the browser: MediaPipe Hands (lite and full) through the
// client SDK's MediaPipeHandsDetector + GestureRecognizer on a camera track, in
// headless Debian Chromium (CPU only: --disable-gpu, WebGL on SwiftShader).
//
//   bash scripts/run.sh bench/gesture-fps.ts [--seconds 20]
//        [--models lite,full] [--repeat 1] [--source camera,synthetic] [--loader script|import] [--raw] [--json]
//
// A local http server on 127.0.0.1 serves node_modules/@mediapipe/hands/ at
// /mediapipe/hands/ (no CDN) and an esbuild bundle of a tiny page. Per model, a fresh
// page: getUserMedia -> GestureRecognizer({ detector: MediaPipeHandsDetector, maxFps: 30 })
// .attach(track), so detection runs back to back (a frame waits for the previous
// detect). Reported: time to first result (page start -> first completed detection,
// i.e. script + WASM + model loading + first inference), initialize() alone, detections
// per second over --seconds after the first result, detect() time (median / p95), and
// how many frames had a hand.
//
// --source (default camera,synthetic): camera = Chromium's fake camera playing an FFmpeg testsrc Y4M
// (640x480, no hand in it: MediaPipe runs its palm detector on every frame).
// synthetic = a canvas drawing an open hand (the gesture tests' hand model, rendered by
// packages/client-sdk/test/gestures/render-hand.ts), captureStream()ed: when MediaPipe
// tracks it, the landmark model runs (where lite and full differ) and palm detection is skipped.
// --loader script (default): MediaPipeHandsDetector loads /mediapipe/hands/hands.js with a
// <script> tag; import: the page bundles `import { Hands } from '@mediapipe/hands'`.
// --raw: no SDK in the loop - MediaPipe's own hands.send({ image: video }) back to back
// (the baseline the SDK's overhead is measured against).
//
// Writes bench/results/gesture-fps.json. Leaves no Chromium running.
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { launchChromium, testPatternY4m } from '@lectern/testkit';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HANDS_DIR = path.join(ROOT, 'node_modules/@mediapipe/hands');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    models: { type: 'string', default: 'lite,full' },
    source: { type: 'string', default: 'camera,synthetic' },
    loader: { type: 'string', default: 'script' },
    raw: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const repeat = Math.max(1, Math.floor(Number(args.repeat)));
const models = args.models.split(',').map((m) => m.trim()) as ('lite' | 'full')[];
const sources = args.source.split(',').map((s) => s.trim()) as ('camera' | 'synthetic')[];
const loader = args.loader as 'script' | 'import';
if (!(seconds > 0) || models.some((m) => m !== 'lite' && m !== 'full') || sources.some((s) => s !== 'camera' && s !== 'synthetic') || !['script', 'import'].includes(loader)) {
  throw new Error('usage: --seconds N --models lite,full --repeat N --source camera,synthetic --loader script|import [--raw] [--json]');
}
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

/** Result of one model's run, computed in the page. */
interface PageResult {
  model: 'lite' | 'full';
  source?: 'camera' | 'synthetic';
  run?: number;
  initializeMs: number;
  timeToFirstResultMs: number;
  firstDetectMs: number;
  frames: number;
  measuredSeconds: number;
  fps: number;
  recognizerFps: number;
  detectMs: { median: number; p95: number; mean: number };
  framesWithHand: number;
  gestures: Record<string, number>;
  firstHand?: { handedness: string; score: number; landmarks: { x: number; y: number; z: number }[] };
  videoSize: string;
}

// The page: runs in Chromium. Uses the SDK's source through esbuild (stdin, so no file is written).
const PAGE_SOURCE = `
import { GestureRecognizer, MediaPipeHandsDetector, loadMediaPipeHandsScript } from './packages/client-sdk/src/gestures/index.js';
import { POSES, poseHand } from './packages/client-sdk/test/gestures/hand-model.js';
import { renderHand } from './packages/client-sdk/test/gestures/render-hand.js';
${loader === 'import' ? "import { Hands } from '@mediapipe/hands';" : ''}

function drawHand(ctx, t) {
  // An open right hand, palm to the camera, swaying slightly (the hand model of the SDK's gesture tests).
  const hand = poseHand(POSES.open, {
    wrist: { x: 0.45 + Math.sin(t / 900) * 0.02, y: 0.72 }, palmLength: 0.22, roll: Math.sin(t / 1300) * 6, aspectRatio: 4 / 3,
  });
  renderHand(ctx, hand, 0.22 * ctx.canvas.height);
}

async function cameraTrack(kind) {
  if (kind === 'camera') {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    return stream.getVideoTracks()[0];
  }
  const canvas = document.createElement('canvas');
  canvas.width = 640; canvas.height = 480;
  const ctx = canvas.getContext('2d');
  const loop = () => { drawHand(ctx, performance.now()); setTimeout(loop, 1000 / 15); };
  loop();
  window.__handCanvas = canvas;
  return canvas.captureStream(15).getVideoTracks()[0];
}

// Baseline without the SDK's recognizer: MediaPipe's own send() in a loop on the video element.
async function runRaw({ model, seconds, source }) {
  const t0 = performance.now();
  const Hands = ${loader === 'import' ? 'Hands' : "await loadMediaPipeHandsScript('/mediapipe/hands/')"};
  const hands = new Hands({ locateFile: (f) => '/mediapipe/hands/' + f });
  hands.setOptions({ modelComplexity: model === 'full' ? 1 : 0, maxNumHands: 1 });
  let found = 0;
  hands.onResults((r) => { if (r.multiHandLandmarks && r.multiHandLandmarks.length) found += 1; });
  await hands.initialize();
  const initializeMs = performance.now() - t0;
  const track = await cameraTrack(source);
  const video = document.createElement('video');
  video.muted = true; video.srcObject = new MediaStream([track]); await video.play();
  while (video.videoWidth === 0) await new Promise((r) => setTimeout(r, 10));
  const times = [];
  let s = performance.now();
  await hands.send({ image: video });
  const firstDetectMs = performance.now() - s;
  const timeToFirstResultMs = performance.now() - t0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    s = performance.now();
    await hands.send({ image: video });
    times.push(performance.now() - s);
  }
  const measuredSeconds = (performance.now() - start) / 1000;
  await hands.close(); track.stop();
  const d = times.slice().sort((a, b) => a - b);
  const q = (p) => d.length ? d[Math.min(d.length - 1, Math.floor(p * d.length))] : 0;
  return { model, initializeMs, timeToFirstResultMs, firstDetectMs, frames: times.length, measuredSeconds, fps: times.length / measuredSeconds, recognizerFps: 0,
    detectMs: { median: q(0.5), p95: q(0.95), mean: d.reduce((a, b) => a + b, 0) / Math.max(1, d.length) }, framesWithHand: found, gestures: {}, videoSize: video.videoWidth + 'x' + video.videoHeight };
}

window.runBench = async ({ model, seconds, source, raw }) => {
  if (raw) return runRaw({ model, seconds, source });
  const t0 = performance.now();
  const detector = new MediaPipeHandsDetector({
    assetBaseUrl: '/mediapipe/hands/',
    modelComplexity: model === 'full' ? 1 : 0,
    ${loader === 'import' ? 'hands: Hands,' : ''}
  });
  await detector.initialize();
  const initializeMs = performance.now() - t0;
  const track = await cameraTrack(source);
  const recognizer = new GestureRecognizer({ detector, maxFps: 30 });
  const frames = [];
  const gestures = {};
  let firstHand;
  recognizer.on('frame', (f) => {
    frames.push({ at: performance.now(), detectMs: f.detectMs, hands: f.hands.length });
    if (f.hands.length && !firstHand) firstHand = f.hands[0];
  });
  recognizer.on('gestureStart', (e) => { gestures[e.gesture] = (gestures[e.gesture] ?? 0) + 1; });
  recognizer.on('error', (e) => console.error('recognizer error', e.message));
  await recognizer.attach(track);
  while (frames.length === 0) await new Promise((r) => setTimeout(r, 20));
  const first = frames[0];
  const timeToFirstResultMs = first.at - t0;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const recognizerFps = recognizer.fps;
  const video = track.getSettings();
  await recognizer.close();
  track.stop();
  const after = frames.slice(1);
  const measuredSeconds = (after.length ? after[after.length - 1].at - first.at : 0) / 1000;
  const d = after.map((f) => f.detectMs).sort((a, b) => a - b);
  const q = (p) => d.length ? d[Math.min(d.length - 1, Math.floor(p * d.length))] : 0;
  return {
    model, initializeMs, timeToFirstResultMs, firstDetectMs: first.detectMs,
    frames: after.length, measuredSeconds, fps: measuredSeconds > 0 ? after.length / measuredSeconds : 0, recognizerFps,
    detectMs: { median: q(0.5), p95: q(0.95), mean: d.reduce((a, b) => a + b, 0) / Math.max(1, d.length) },
    framesWithHand: frames.filter((f) => f.hands > 0).length, gestures, firstHand,
    videoSize: video.width + 'x' + video.height,
  };
};
window.benchReady = true;
`;

const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.html': 'text/html',
  '.wasm': 'application/wasm',
  '.data': 'application/octet-stream',
  '.tflite': 'application/octet-stream',
  '.binarypb': 'application/octet-stream',
  '.json': 'application/json',
};

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-gesture-'));
  const built = await esbuild.build({
    stdin: { contents: PAGE_SOURCE, resolveDir: ROOT, sourcefile: 'gesture-bench-page.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    conditions: ['lectern-source'],
    write: false,
    logLevel: 'warning',
  });
  const bundle = built.outputFiles[0]!.text;
  log(`page bundle ${(bundle.length / 1024).toFixed(0)} KiB (loader: ${loader})`);

  const requested = new Map<string, number>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><meta charset="utf-8"><title>gesture bench</title><script type="module" src="/bench.js"></script>');
        return;
      }
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      if (url.pathname === '/bench.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(bundle);
        return;
      }
      if (url.pathname.startsWith('/mediapipe/hands/')) {
        const name = path.basename(url.pathname);
        const file = path.join(HANDS_DIR, name);
        try {
          const body = await fs.readFile(file);
          requested.set(name, (requested.get(name) ?? 0) + 1);
          res.writeHead(200, { 'content-type': MIME[path.extname(name)] ?? 'application/octet-stream', 'content-length': body.length });
          res.end(body);
        } catch {
          requested.set(`${name} (404)`, (requested.get(`${name} (404)`) ?? 0) + 1);
          res.writeHead(404).end();
        }
        return;
      }
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  log(`serving on http://127.0.0.1:${port}/ (mediapipe files from ${path.relative(ROOT, HANDS_DIR)})`);

  const y4m = sources.includes('camera') ? await testPatternY4m(path.join(tmp, 'testsrc.y4m'), { seconds: 10, width: 640, height: 480, fps: 15 }) : undefined;
  const browser = await launchChromium(y4m ? { fakeVideoY4m: y4m } : {});
  const version = browser.version();
  log(`chromium ${version}`);
  const results: PageResult[] = [];
  const files: Record<string, Record<string, number>> = {};
  try {
    for (let run = 1; run <= repeat; run++) for (const source of sources) for (const model of models) {
      requested.clear();
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') log(`page ${m.type()}: ${m.text().slice(0, 300)}`);
      });
      page.on('pageerror', (e) => log(`page error: ${e.message}`));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
      log(`run ${run} ${source} ${model}: running for ${seconds} s after the first result...`);
      const result = await page.evaluate(
        (o) => (window as unknown as { runBench: (x: typeof o) => Promise<PageResult> }).runBench(o),
        { model, seconds, source, raw: args.raw },
      );
      results.push({ ...result, source, run });
      files[model] = Object.fromEntries(requested);
      log(
        `run ${run} ${source} ${model}: ${result.fps.toFixed(2)} detections/s (${result.frames} in ${result.measuredSeconds.toFixed(1)} s), ` +
          `first result ${(result.timeToFirstResultMs / 1000).toFixed(2)} s (initialize ${(result.initializeMs / 1000).toFixed(2)} s + first detect ${result.firstDetectMs.toFixed(0)} ms), ` +
          `detect median ${result.detectMs.median.toFixed(0)} ms p95 ${result.detectMs.p95.toFixed(0)} ms, frames with a hand ${result.framesWithHand}`,
      );
      await context.close();
    }
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(tmp, { recursive: true, force: true });
  }

  const out = {
    date: new Date().toISOString(),
    command: `bash scripts/run.sh bench/gesture-fps.ts --seconds ${seconds} --models ${models.join(',')} --repeat ${repeat} --source ${sources.join(',')} --loader ${loader}${args.raw ? ' --raw' : ''}`,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavg: os.loadavg() },
    chromium: version,
    flags: 'headless, --disable-gpu (WebGL2 on SwiftShader), fake camera',
    sources: {
      camera: 'Chromium fake camera playing an FFmpeg testsrc Y4M (640x480, 15 fps, no hand: palm detection on every frame)',
      synthetic: 'a canvas drawing of an open right hand (hand-model.ts + render-hand.ts), swaying slightly (captureStream 15 fps, 640x480): when MediaPipe tracks it, the landmark model runs and palm detection is skipped',
    },
    loader,
    recognizer: args.raw ? 'none (--raw: hands.send() back to back)' : 'GestureRecognizer maxFps 30 (detections back to back)',
    results: results.map(({ firstHand, ...r }) => ({ ...r, ...(firstHand ? { firstHand } : {}) })),
    filesRequested: files,
  };
  const file = path.join(ROOT, 'bench/results/gesture-fps.json');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, file)}`);

  console.log(`run  source     model  detections/s  first result  initialize  first detect  detect median / p95  frames with hand`);
  for (const r of results) {
    console.log(
      `${String(r.run).padStart(3)}  ${(r.source ?? '').padEnd(9)}  ${r.model.padEnd(5)}  ${r.fps.toFixed(2).padStart(12)}  ${(r.timeToFirstResultMs / 1000).toFixed(2).padStart(10)} s  ${(r.initializeMs / 1000).toFixed(2).padStart(8)} s  ${r.firstDetectMs.toFixed(0).padStart(9)} ms  ${r.detectMs.median.toFixed(0).padStart(9)} / ${r.detectMs.p95.toFixed(0)} ms  ${String(r.framesWithHand).padStart(8)}`,
    );
  }
  if (repeat > 1) {
    const median = (v: number[]): number => {
      if (v.length === 0) return Number.NaN;
      const d = [...v].sort((a, b) => a - b);
      return d.length % 2 ? d[(d.length - 1) / 2]! : (d[d.length / 2 - 1]! + d[d.length / 2]!) / 2;
    };
    for (const source of sources) for (const model of models) {
      const rs = results.filter((r) => r.model === model && r.source === source);
      console.log(
        `median of ${rs.length} ${source} ${model}: ${median(rs.map((r) => r.fps)).toFixed(2)} detections/s, first result ${(median(rs.map((r) => r.timeToFirstResultMs)) / 1000).toFixed(2)} s, detect median ${median(rs.map((r) => r.detectMs.median)).toFixed(0)} ms`,
      );
    }
  }
  if (args.json) console.log(JSON.stringify(out, null, 2));
}

await main();
