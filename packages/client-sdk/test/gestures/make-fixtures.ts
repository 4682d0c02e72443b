// Writes the gesture fixtures (fixtures/*.json) from the skeletal hand model.
//
//   bash scripts/run.sh packages/client-sdk/test/gestures/make-fixtures.ts
//
// The fixtures are AUTHORED, not recorded: no image or video of a hand exists on the
// build machine (and there is no internet), so MediaPipe could not be run on a real
// hand. Each recording poses hand-model.ts (anthropometric bone lengths, joint angles
// per gesture) at a place and orientation in a 640x480 frame, with per-frame jitter
// (±0.004 of the frame, in x, y and z) and a slow drift to imitate tracking noise.
// Deterministic: running it again writes the same files.

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DetectedHand, GestureName, GestureRecording, RecordedFrame } from '../../src/gestures/index.js';
import { POSES, poseHand, type HandPose, type Placement } from './hand-model.js';

const FRAME_MS = 200; // 5 fps, the recognizer's default rate
const JITTER = 0.004;
const WIDTH = 640;
const HEIGHT = 480;

interface StaticSpec {
  name: string;
  description: string;
  pose: keyof typeof POSES;
  placement: Placement;
  expected: GestureName[];
  frames?: number;
}

/** One gesture (or none) held still for `frames` frames. */
export const STATIC_SPECS: StaticSpec[] = [
  {
    name: 'raised-hand-right',
    description: 'Right hand raised beside the head: fingers straight and together pointing up, thumb folded in front of the palm, palm to the camera.',
    pose: 'flatThumbIn',
    placement: { handedness: 'Right', wrist: { x: 0.28, y: 0.42 }, roll: -8 },
    expected: ['raised-hand'],
  },
  {
    name: 'raised-hand-left-back',
    description: 'Left hand raised high, seen from the back (knuckles to the camera), fingers up and slightly tilted.',
    pose: 'flatThumbIn',
    placement: { handedness: 'Left', wrist: { x: 0.72, y: 0.35 }, yaw: 160, roll: 12, palmLength: 0.15 },
    expected: ['raised-hand'],
  },
  {
    name: 'raised-open-palm-left',
    description: 'Left hand raised with all five digits spread and the palm to the camera: both a raised hand and an open palm.',
    pose: 'open',
    placement: { handedness: 'Left', wrist: { x: 0.7, y: 0.4 }, roll: 5 },
    expected: ['raised-hand', 'open-palm'],
  },
  {
    name: 'open-palm-right-low',
    description: 'Right hand at chest height, five digits spread, palm to the camera (a "stop"/wave): open palm, not raised.',
    pose: 'open',
    placement: { handedness: 'Right', wrist: { x: 0.45, y: 0.92 }, pitch: 10 },
    expected: ['open-palm'],
  },
  {
    name: 'open-palm-left-sideways',
    description: 'Left hand, palm to the camera, fingers pointing sideways across the frame: open palm, not raised.',
    pose: 'open',
    placement: { handedness: 'Left', wrist: { x: 0.75, y: 0.55 }, roll: -80, yaw: 15 },
    expected: ['open-palm'],
  },
  {
    name: 'thumbs-up-right',
    description: 'Right fist held sideways with the thumb pointing up, curled fingers turned partly towards the camera.',
    pose: 'thumbOut',
    placement: { handedness: 'Right', wrist: { x: 0.38, y: 0.62 }, roll: 90, yaw: 40 },
    expected: ['thumbs-up'],
  },
  {
    name: 'thumbs-up-left',
    description: 'Left fist with the thumb up, knuckles towards the camera, forearm pointing slightly down.',
    pose: 'thumbOut',
    placement: { handedness: 'Left', wrist: { x: 0.65, y: 0.66 }, roll: 75, yaw: 70, pitch: 10 },
    expected: ['thumbs-up'],
  },
  {
    name: 'thumbs-down-right',
    description: 'Right fist with the thumb pointing down.',
    pose: 'thumbOut',
    placement: { handedness: 'Right', wrist: { x: 0.42, y: 0.5 }, roll: -90, yaw: 40 },
    expected: ['thumbs-down'],
  },
  {
    name: 'thumbs-down-left',
    description: 'Left fist with the thumb pointing down and slightly outwards.',
    pose: 'thumbOut',
    placement: { handedness: 'Left', wrist: { x: 0.6, y: 0.45 }, roll: -105, yaw: 60 },
    expected: ['thumbs-down'],
  },
  {
    name: 'none-fist',
    description: 'A raised fist with the thumb wrapped over the fingers: no gesture.',
    pose: 'fist',
    placement: { handedness: 'Right', wrist: { x: 0.35, y: 0.45 } },
    expected: [],
  },
  {
    name: 'none-pointing',
    description: 'Index finger pointing up, the others curled: no gesture.',
    pose: 'pointing',
    placement: { handedness: 'Right', wrist: { x: 0.4, y: 0.45 }, roll: -10 },
    expected: [],
  },
  {
    name: 'none-claw',
    description: 'Ambiguous: every finger half bent (a claw) near the top of the frame: neither open nor closed.',
    pose: 'claw',
    placement: { handedness: 'Left', wrist: { x: 0.6, y: 0.4 } },
    expected: [],
  },
  {
    name: 'none-relaxed-low',
    description: 'A relaxed hand resting low in the frame, fingers loosely bent.',
    pose: 'relaxed',
    placement: { handedness: 'Right', wrist: { x: 0.5, y: 0.9 }, roll: 30, yaw: 20 },
    expected: [],
  },
  {
    name: 'none-thumb-sideways',
    description: 'Ambiguous: a fist with the thumb out but pointing sideways (neither up nor down).',
    pose: 'thumbOut',
    placement: { handedness: 'Right', wrist: { x: 0.45, y: 0.6 }, roll: 0, yaw: 40 },
    expected: [],
  },
  {
    name: 'none-back-of-hand-low',
    description: 'Five digits spread but the back of the hand to the camera, low in the frame: not an open palm, not raised.',
    pose: 'open',
    placement: { handedness: 'Left', wrist: { x: 0.4, y: 0.9 }, yaw: 180 },
    expected: [],
  },
  {
    name: 'none-ok-sign',
    description: 'The "OK" sign: thumb and index tips touching, three fingers up.',
    pose: 'ok',
    placement: { handedness: 'Right', wrist: { x: 0.4, y: 0.45 } },
    expected: [],
  },
];

function staticFrames(pose: HandPose, placement: Placement, count: number, seed: number, startMs = 0): RecordedFrame[] {
  const frames: RecordedFrame[] = [];
  for (let i = 0; i < count; i++) {
    // A slow drift of up to ~1 % of the frame plus per-frame jitter.
    const drift = Math.sin((i + seed) * 0.7) * 0.01;
    const hand = poseHand(pose, {
      aspectRatio: WIDTH / HEIGHT,
      ...placement,
      wrist: { x: placement.wrist.x + drift, y: placement.wrist.y + drift / 2 },
      roll: (placement.roll ?? 0) + drift * 200,
      jitter: JITTER,
      seed: seed * 1000 + i,
    });
    frames.push({ timestampMs: startMs + i * FRAME_MS, hands: [hand] });
  }
  return frames;
}

function recording(name: string, description: string, expected: GestureName[], frames: RecordedFrame[]): GestureRecording {
  return {
    name,
    description: `${description} Authored with hand-model.ts (make-fixtures.ts), not recorded from a camera.`,
    imageWidth: WIDTH,
    imageHeight: HEIGHT,
    expected,
    frames,
  };
}

/** Every fixture recording, by file name (without .json). */
export function buildFixtures(): Map<string, GestureRecording> {
  const out = new Map<string, GestureRecording>();
  STATIC_SPECS.forEach((spec, i) => {
    out.set(spec.name, recording(spec.name, spec.description, spec.expected, staticFrames(POSES[spec.pose], spec.placement, spec.frames ?? 8, i + 1)));
  });

  // A lecture moment at 5 fps: resting hand (1 s), hand raised for 2.4 s with two
  // dropped detections, lowered (1 s), thumbs-up for 1.6 s, resting again (1.4 s).
  const seq: RecordedFrame[] = [];
  let t = 0;
  const push = (frames: RecordedFrame[]): void => {
    for (const f of frames) seq.push({ timestampMs: t + f.timestampMs, hands: f.hands });
    t += frames.length * FRAME_MS;
  };
  const rest = (n: number, seed: number): RecordedFrame[] =>
    staticFrames(POSES.relaxed, { handedness: 'Right', wrist: { x: 0.5, y: 0.9 }, roll: 30, yaw: 20 }, n, seed);
  push(rest(5, 101));
  const raised = staticFrames(POSES.flatThumbIn, { handedness: 'Right', wrist: { x: 0.3, y: 0.42 }, roll: -8 }, 12, 102);
  push(raised.map((f, i) => (i === 4 || i === 8 ? { ...f, hands: [] as DetectedHand[] } : f)));
  push(rest(5, 103));
  push(staticFrames(POSES.thumbOut, { handedness: 'Right', wrist: { x: 0.38, y: 0.62 }, roll: 90, yaw: 40 }, 8, 104));
  push(rest(7, 105));
  out.set(
    'sequence-raise-then-thumbs-up',
    recording(
      'sequence-raise-then-thumbs-up',
      'At 5 fps: a resting hand (0-1 s), the right hand raised (1-3.4 s; the detections at 1.8 s and 2.6 s are missing), resting (3.4-4.4 s), thumbs-up (4.4-6 s), resting (6-7.4 s).',
      ['raised-hand', 'thumbs-up'],
      seq,
    ),
  );
  return out;
}

/** JSON with one frame per line (readable diffs, small files). */
function formatRecording(rec: GestureRecording): string {
  const { frames, ...head } = rec;
  const headJson = JSON.stringify(head, null, 2);
  const frameLines = frames.map((f) => `    ${JSON.stringify(f)}`).join(',\n');
  return `${headJson.slice(0, -2)},\n  "frames": [\n${frameLines}\n  ]\n}\n`;
}

const FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await fs.mkdir(FIXTURE_DIR, { recursive: true });
  for (const [name, rec] of buildFixtures()) {
    await fs.writeFile(path.join(FIXTURE_DIR, `${name}.json`), formatRecording(rec));
  }
  console.log(`wrote ${buildFixtures().size} fixtures to ${FIXTURE_DIR}`);
}
