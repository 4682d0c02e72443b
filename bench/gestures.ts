// Gesture detection cost in headless Debian Chromium (CPU only, --disable-gpu): the client
// SDK's default TasksVisionHandDetector (@mediapipe/tasks-vision 0.10.35, CPU delegate) and
// the legacy MediaPipeHandsDetector (@mediapipe/hands, WebGL on SwiftShader), in one run.
//
//   npm run bench:gestures                       # 3 rounds, both variants (~8 minutes)
//   npm run bench:gestures -- --quick            # 1 round, seconds per phase (smoke test, ~1 minute)
//   bash scripts/run.sh bench/gestures.ts [--rounds 3] [--seconds 15] [--variants tasks,legacy,tasks-full] [--json]
//
// Every run is a fresh Chromium whose fake camera plays a Y4M file: `hand` = the gesture
// tests' hand model (an open right hand, swaying) rendered by render-hand.ts into 2 s of
// 640x480 frames at 15 fps; `nohand` = FFmpeg's testsrc (the palm detector runs on every
// frame: "searching"). Per run, in this order:
//   idle       the camera playing into an off-DOM <video>, no detection (the floor)
//   first      detector created -> first completed detection (WASM + model + first inference),
//              and -> first frame with a hand (hand source)
//   at 10/s    GestureRecognizer { maxFps: 10, idleFps: 10 } for --seconds: detections/s reached
//              and CPU % of one core of ALL Chromium processes (utime+stime from /proc/<pid>/stat)
//   flat out   GestureRecognizer { maxFps: 1000 } for --seconds/2: detections/s back to back, CPU
// Variants alternate within a round (tasks, legacy, tasks, legacy, ...) so drift in the
// machine's load hits both; medians and min-max over rounds are reported. Writes
// bench/results/gestures.json. Leaves no Chromium running. Run it on a quiet machine.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_PATH, launchChromium, startProcess, testPatternY4m } from '@lectern/testkit';
import { startAssetServer, type AssetServer } from '../packages/client-sdk/test/gestures/asset-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    variants: { type: 'string', default: 'tasks,legacy' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Math.max(1, Math.floor(Number(args.rounds ?? (args.quick ? 1 : 3))));
const seconds = Number(args.seconds ?? (args.quick ? 3 : 15));
const idleSeconds = args.quick ? 1 : 4;
const warmupSeconds = args.quick ? 1 : 2;
const VARIANTS = ['tasks', 'legacy', 'tasks-full'] as const;
type Variant = (typeof VARIANTS)[number];
const variants = args.variants.split(',').map((v) => v.trim()) as Variant[];
if (!(seconds > 0) || variants.some((v) => !VARIANTS.includes(v))) {
  throw new Error(`usage: [--quick] [--rounds N] [--seconds N] [--variants ${VARIANTS.join(',')}] [--json]`);
}
const SOURCES = ['hand', 'nohand'] as const;
type Source = (typeof SOURCES)[number];
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

// ---- the page ---------------------------------------------------------------------------
const PAGE_SOURCE = `
import { GestureRecognizer, MediaPipeHandsDetector, TasksVisionHandDetector } from './packages/client-sdk/src/gestures/index.js';
import { POSES, poseHand } from './packages/client-sdk/test/gestures/hand-model.js';
import { renderHand } from './packages/client-sdk/test/gestures/render-hand.js';

// Renders the hand source's frames (PNG data URLs) for the Y4M.
window.renderFrames = (count, fps) => {
  const canvas = document.createElement('canvas');
  canvas.width = 640; canvas.height = 480;
  const ctx = canvas.getContext('2d');
  const out = [];
  for (let i = 0; i < count; i++) {
    const t = (i * 1000) / fps;
    const hand = poseHand(POSES.open, {
      wrist: { x: 0.45 + Math.sin((2 * Math.PI * i) / count) * 0.02, y: 0.72 }, palmLength: 0.22,
      roll: Math.sin((2 * Math.PI * i) / count) * 6, aspectRatio: 4 / 3,
    });
    renderHand(ctx, hand, 0.22 * 480);
    out.push(canvas.toDataURL('image/png'));
  }
  return out;
};

let track, video, detector, recognizer, frames = 0, withHand = 0, firstHandAt, detectMs = [];
function makeDetector(variant) {
  if (variant === 'legacy') return new MediaPipeHandsDetector({ assetBaseUrl: '/mediapipe/hands/' });
  return new TasksVisionHandDetector({ assetBaseUrl: '/mediapipe-tasks/', ...(variant === 'tasks-full' ? { modelAssetUrl: '/mediapipe-tasks/hand_landmarker_full.task' } : {}) });
}
function listen(r) {
  r.on('frame', (f) => { frames += 1; detectMs.push(f.detectMs); if (f.hands.length) { withHand += 1; firstHandAt ??= performance.now(); } });
  r.on('error', (e) => console.error('recognizer error', e.message));
}
window.idle = async () => {
  track = (await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } })).getVideoTracks()[0];
  video = document.createElement('video');
  video.muted = true; video.srcObject = new MediaStream([track]); await video.play();
  return track.getSettings().width + 'x' + track.getSettings().height;
};
window.start = async (variant) => {
  video.pause(); video.srcObject = null;
  const t0 = performance.now();
  detector = makeDetector(variant);
  recognizer = new GestureRecognizer({ detector, maxFps: 10, idleFps: 10, closeDetector: false });
  listen(recognizer);
  await recognizer.attach(track);
  while (frames === 0) await new Promise((r) => setTimeout(r, 5));
  const firstResultMs = performance.now() - t0;
  const deadline = performance.now() + 8000;
  while (firstHandAt === undefined && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { firstResultMs, firstHandMs: firstHandAt === undefined ? null : firstHandAt - t0 };
};
window.counts = () => {
  const d = detectMs.sort((a, b) => a - b);
  detectMs = [];
  return { frames, withHand, at: performance.now(), detectMedianMs: d.length ? d[Math.floor(d.length / 2)] : NaN };
};
window.flatOut = async () => {
  await recognizer.close();
  recognizer = new GestureRecognizer({ detector, maxFps: 1000, idleFps: 1000, closeDetector: false });
  listen(recognizer);
  await recognizer.attach(track);
};
window.stop = async () => { await recognizer.close(); await detector.close(); track.stop(); };
window.benchReady = true;
`;

// ---- CPU of every Chromium process, from /proc ------------------------------------------
/**
 * utime+stime ticks of every live Chromium process started by this benchmark (its
 * executable, and this Node process among its ancestors: other Chromiums on the machine
 * are not counted).
 */
function chromiumTicks(): Map<number, number> {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(f[1]));
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').startsWith(CHROMIUM_PATH)) ticks.set(Number(entry), Number(f[11]) + Number(f[12])); // fields 14, 15
    } catch {
      // the process went away
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && p > 1 && hops < 20; p = parent.get(p), hops++) if (p === process.pid) return true;
    return false;
  };
  return new Map([...ticks].filter(([pid]) => ours(pid)));
}

/** CPU % of one core used by Chromium between two samples (processes present in both, plus new ones). */
function cpuPercent(a: Map<number, number>, b: Map<number, number>, ms: number): number {
  let ticks = 0;
  for (const [pid, t] of b) ticks += t - (a.get(pid) ?? 0);
  return (ticks / CLK_TCK / (ms / 1000)) * 100;
}

interface Phase {
  fps: number;
  /** Median time of one detect() on the page's main thread, ms. */
  detectMs: number;
  cpuPercent: number;
  framesWithHand: number;
  frames: number;
}
interface RunResult {
  round: number;
  variant: Variant;
  source: Source;
  idleCpuPercent: number;
  firstResultMs: number;
  firstHandMs: number | null;
  at10: Phase;
  flatOut: Phase;
}

async function measure(page: import('playwright-core').Page, ms: number): Promise<Phase> {
  type Counts = { frames: number; withHand: number; at: number; detectMedianMs: number };
  const counts = () => page.evaluate(() => (window as unknown as { counts: () => Counts }).counts());
  const c0 = await counts();
  const p0 = chromiumTicks();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const p1 = chromiumTicks();
  const t1 = performance.now();
  const c1 = await counts();
  const frames = c1.frames - c0.frames;
  return { fps: (frames * 1000) / (c1.at - c0.at), detectMs: c1.detectMedianMs, cpuPercent: cpuPercent(p0, p1, t1 - t0), frames, framesWithHand: c1.withHand - c0.withHand };
}

async function handY4m(server: AssetServer, dir: string): Promise<string> {
  const file = path.join(dir, 'hand.y4m');
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
    const pngs = await page.evaluate(() => (window as unknown as { renderFrames: (n: number, fps: number) => string[] }).renderFrames(30, 15));
    await Promise.all(pngs.map((p, i) => fs.writeFile(path.join(dir, `hand-${String(i).padStart(3, '0')}.png`), Buffer.from(p.slice(p.indexOf(',') + 1), 'base64'))));
  } finally {
    await browser.close();
  }
  const ffmpeg = startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-framerate', '15', '-i', path.join(dir, 'hand-%03d.png'), '-pix_fmt', 'yuv420p', file]);
  const code = await ffmpeg.exited;
  if (code !== 0) throw new Error(`ffmpeg failed (${code}): ${ffmpeg.stderr()}`);
  return file;
}

async function run(server: AssetServer, y4m: string, round: number, variant: Variant, source: Source): Promise<RunResult> {
  const browser = await launchChromium({ fakeVideoY4m: y4m });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      // tasks-vision logs its start-up (INFO: Created TensorFlow Lite XNNPACK delegate) on stderr.
      if (m.type() === 'error' && !m.text().startsWith('INFO:')) log(`page error: ${m.text().slice(0, 300)}`);
    });
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
    type W = { idle: () => Promise<string>; start: (v: Variant) => Promise<{ firstResultMs: number; firstHandMs: number | null }>; flatOut: () => Promise<void>; stop: () => Promise<void> };
    await page.evaluate(() => (window as unknown as W).idle());
    await new Promise((r) => setTimeout(r, 500));
    const idle = await measure(page, idleSeconds * 1000);
    const first = await page.evaluate((v) => (window as unknown as W).start(v), variant);
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    const at10 = await measure(page, seconds * 1000);
    await page.evaluate(() => (window as unknown as W).flatOut());
    await new Promise((r) => setTimeout(r, 500));
    const flatOut = await measure(page, (seconds / 2) * 1000);
    await page.evaluate(() => (window as unknown as W).stop());
    return { round, variant, source, idleCpuPercent: idle.cpuPercent, ...first, at10, flatOut };
  } finally {
    await browser.close();
  }
}

function stats(v: number[]): { median: number; min: number; max: number } {
  const d = [...v].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (d.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const median = d.length % 2 ? d[(d.length - 1) / 2]! : (d[d.length / 2 - 1]! + d[d.length / 2]!) / 2;
  return { median, min: d[0]!, max: d[d.length - 1]! };
}
const fmt = (s: { median: number; min: number; max: number }, digits = 1, unit = ''): string =>
  Number.isNaN(s.median) ? '-' : `${s.median.toFixed(digits)}${unit} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-gestures-'));
  const server = await startAssetServer(PAGE_SOURCE);
  const results: RunResult[] = [];
  let version = '';
  try {
    const y4m: Record<Source, string> = {
      hand: await handY4m(server, tmp),
      nohand: await testPatternY4m(path.join(tmp, 'testsrc.y4m'), { seconds: 10, width: 640, height: 480, fps: 15 }),
    };
    const probe = await launchChromium();
    version = probe.version();
    await probe.close();
    log(`chromium ${version}; ${rounds} round(s) x ${variants.join(',')} x ${SOURCES.join(',')}; ${seconds} s at 10/s, ${seconds / 2} s flat out`);
    for (let round = 1; round <= rounds; round++) {
      for (const source of SOURCES) {
        // Alternate the variants; every other round starts with the other one.
        const order = round % 2 ? variants : [...variants].reverse();
        for (const variant of order) {
          const r = await run(server, y4m[source], round, variant, source);
          results.push(r);
          log(
            `round ${round} ${variant} ${source}: first result ${r.firstResultMs.toFixed(0)} ms` +
              (r.firstHandMs !== null ? ` (hand ${r.firstHandMs.toFixed(0)} ms)` : '') +
              `; at 10/s: ${r.at10.fps.toFixed(1)}/s, CPU ${r.at10.cpuPercent.toFixed(0)} %, hand in ${r.at10.framesWithHand}/${r.at10.frames}` +
              `; flat out: ${r.flatOut.fps.toFixed(1)}/s, CPU ${r.flatOut.cpuPercent.toFixed(0)} %; idle camera CPU ${r.idleCpuPercent.toFixed(0)} %`,
          );
        }
      }
    }
  } finally {
    await server.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }

  const summary = variants.map((variant) => {
    const of = (source: Source) => results.filter((r) => r.variant === variant && r.source === source);
    const hand = of('hand');
    const nohand = of('nohand');
    return {
      variant,
      runs: hand.length + nohand.length,
      firstResultMs: stats([...hand, ...nohand].map((r) => r.firstResultMs)),
      firstHandMs: stats(hand.map((r) => r.firstHandMs ?? Number.NaN)),
      trackingAt10: { detectMs: stats(hand.map((r) => r.at10.detectMs)), fps: stats(hand.map((r) => r.at10.fps)), cpuPercent: stats(hand.map((r) => r.at10.cpuPercent)), handShare: stats(hand.map((r) => r.at10.framesWithHand / Math.max(1, r.at10.frames))) },
      searchingAt10: { detectMs: stats(nohand.map((r) => r.at10.detectMs)), fps: stats(nohand.map((r) => r.at10.fps)), cpuPercent: stats(nohand.map((r) => r.at10.cpuPercent)) },
      flatOutTracking: { fps: stats(hand.map((r) => r.flatOut.fps)), cpuPercent: stats(hand.map((r) => r.flatOut.cpuPercent)) },
      flatOutSearching: { fps: stats(nohand.map((r) => r.flatOut.fps)), cpuPercent: stats(nohand.map((r) => r.flatOut.cpuPercent)) },
      idleCameraCpuPercent: stats([...hand, ...nohand].map((r) => r.idleCpuPercent)),
    };
  });

  console.log(`\nGesture detection, headless Chromium ${version} (--disable-gpu), ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}; median (min-max) of ${rounds} round(s); CPU = % of one core, all Chromium processes`);
  const rows: [string, (s: (typeof summary)[number]) => string][] = [
    ['first result (ms)', (s) => fmt(s.firstResultMs, 0)],
    ['first hand found (ms)', (s) => fmt(s.firstHandMs, 0)],
    ['tracking at 10/s: detections/s', (s) => fmt(s.trackingAt10.fps)],
    ['tracking at 10/s: CPU %', (s) => fmt(s.trackingAt10.cpuPercent, 0)],
    ['tracking at 10/s: frames with the hand', (s) => fmt(s.trackingAt10.handShare, 2)],
    ['tracking: detect() median, main thread (ms)', (s) => fmt(s.trackingAt10.detectMs, 0)],
    ['searching at 10/s: detections/s', (s) => fmt(s.searchingAt10.fps)],
    ['searching at 10/s: CPU %', (s) => fmt(s.searchingAt10.cpuPercent, 0)],
    ['searching: detect() median, main thread (ms)', (s) => fmt(s.searchingAt10.detectMs, 0)],
    ['flat out, tracking: detections/s', (s) => fmt(s.flatOutTracking.fps)],
    ['flat out, tracking: CPU %', (s) => fmt(s.flatOutTracking.cpuPercent, 0)],
    ['flat out, searching: detections/s', (s) => fmt(s.flatOutSearching.fps)],
    ['flat out, searching: CPU %', (s) => fmt(s.flatOutSearching.cpuPercent, 0)],
    ['camera alone, no detection: CPU %', (s) => fmt(s.idleCameraCpuPercent, 0)],
  ];
  console.log(`${''.padEnd(46)}${summary.map((s) => s.variant.padEnd(24)).join('')}`);
  for (const [label, cell] of rows) console.log(`${label.padEnd(46)}${summary.map((s) => cell(s).padEnd(24)).join('')}`);

  const tasks = summary.find((s) => s.variant === 'tasks');
  const targets = tasks
    ? {
        'tracking >= 10 detections/s': tasks.trackingAt10.fps.median >= 9.5 && tasks.flatOutTracking.fps.median >= 10,
        'tracking CPU <= 35 % at 10/s': tasks.trackingAt10.cpuPercent.median <= 35,
        'searching CPU <= 50 % at 10/s': tasks.searchingAt10.cpuPercent.median <= 50,
        'first result < 1 s': tasks.firstResultMs.median < 1000,
      }
    : {};
  for (const [name, ok] of Object.entries(targets)) console.log(`target (tasks, medians): ${name}: ${ok ? 'met' : 'NOT met'}`);

  const out = {
    date: new Date().toISOString(),
    command: `bash scripts/run.sh bench/gestures.ts --rounds ${rounds} --seconds ${seconds} --variants ${variants.join(',')}${args.quick ? ' --quick' : ''}`,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', loadavgAtEnd: os.loadavg() },
    chromium: version,
    variants: {
      tasks: 'TasksVisionHandDetector: @mediapipe/tasks-vision 0.10.35, CPU delegate, hand_landmarker.task (palm_detection_lite + metadata, hand_landmark_lite)',
      'tasks-full': 'TasksVisionHandDetector with hand_landmarker_full.task (palm_detection_full, hand_landmark_full)',
      legacy: 'MediaPipeHandsDetector: @mediapipe/hands 0.4, lite, WebGL2 on SwiftShader',
    },
    summary,
    targets,
    runs: results,
  };
  const file = path.join(ROOT, 'bench/results/gestures.json');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, file)}`);
  if (args.json) console.log(JSON.stringify(out, null, 2));
}

await main();
