// A skeletal hand model: joint angles -> the 21 MediaPipe Hands landmarks.
//
// Used to author the gesture fixtures (no photo or video of a hand exists on the build
// machine) and by property tests; record-fixtures.ts also renders it as an image for
// real MediaPipe runs (fixtures/recorded/).
// Proportions follow adult hand anthropometry, relative to the palm length
// (wrist -> middle-finger MCP = 1): phalanx lengths proximal/middle/distal of about
// 0.45/0.26/0.2 (index), 0.5/0.3/0.22 (middle), 0.46/0.28/0.21 (ring), 0.36/0.2/0.18
// (pinky); thumb metacarpal/proximal/distal 0.42/0.32/0.26.
//
// Frames: the hand is built in a hand-local basis - `distal` (wrist towards the
// fingers), `radial` (towards the thumb), `palmar` (out of the palm) - then rotated
// into the camera frame (x right, y down, z away from the camera) and projected the
// way MediaPipe normalises: x / width, y / height, z relative to the wrist in x's unit.
//
// Handedness follows MediaPipe's convention (labels assume a mirrored/selfie image): a
// hand labelled 'Right', palm to the camera and fingers up, has its thumb on the
// image's left. 'Left' hands are built as 'Right' ones and mirrored in x.

import { prng } from '@lectern/testkit/random';
import type { DetectedHand, Handedness } from '../../src/gestures/index.js';

export type V3 = [number, number, number];

/** Flexion in degrees at one finger's MCP, PIP and DIP joints (0 = straight). */
export type FingerFlex = [mcp: number, pip: number, dip: number];

export interface ThumbPose {
  /** Angle of the thumb from the distal axis towards the radial side, in the palm plane (deg). */
  abduction: number;
  /** Angle of the thumb out of the palm plane towards the palmar side (deg). */
  palmar: number;
  /** Flexion at the MCP and IP joints (deg), bending across the palm. */
  flex: [mcp: number, ip: number];
}

export interface HandPose {
  /** Index, middle, ring, pinky. */
  fingers: [FingerFlex, FingerFlex, FingerFlex, FingerFlex];
  /** Sideways spread of each finger at its MCP (deg, + = towards the thumb). */
  spread?: [number, number, number, number];
  thumb: ThumbPose;
}

export interface Placement {
  /** Handedness label (MediaPipe convention). Default 'Right'. */
  handedness?: Handedness;
  /** Wrist position in normalised image coordinates. */
  wrist: { x: number; y: number };
  /** Palm length (wrist -> middle MCP) as a fraction of the image height. Default 0.18. */
  palmLength?: number;
  /**
   * Orientation, applied in this order to the canonical pose (palm to the camera,
   * fingers up): `yaw` about the image's vertical axis (deg; 180 = back of the hand
   * to the camera), `pitch` about the horizontal axis (deg, + tips the upward-pointing
   * fingers towards the camera), `roll` in the image plane (deg, + = clockwise on screen).
   * Yaw is applied while the fingers point up, so it turns the hand about its own long
   * axis (like the forearm does).
   */
  roll?: number;
  yaw?: number;
  pitch?: number;
  /** Image width / height. Default 4/3 (640x480). */
  aspectRatio?: number;
  /** Detector score. Default 0.96. */
  score?: number;
  /** Uniform jitter added to every coordinate (normalised units, ± this). Default 0. */
  jitter?: number;
  /** Seed of the jitter. */
  seed?: number;
}

const deg = Math.PI / 180;
const add = (a: V3, b: V3): V3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a: V3, s: number): V3 => [a[0] * s, a[1] * s, a[2] * s];
const lin = (a: V3, sa: number, b: V3, sb: number): V3 => add(scale(a, sa), scale(b, sb));
const dot = (a: V3, b: V3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const unit = (a: V3): V3 => scale(a, 1 / Math.hypot(...a));

// Hand-local basis in model space: (distal, radial, palmar) = unit vectors.
const DISTAL: V3 = [1, 0, 0];
const RADIAL: V3 = [0, 1, 0];
const PALMAR: V3 = [0, 0, 1];

/** MCP positions (distal, radial) relative to the wrist, palm length 1. */
const MCP: [number, number][] = [
  [0.92, 0.3], // index
  [1.0, 0.06], // middle (|.| = 1.0)
  [0.94, -0.15], // ring
  [0.84, -0.34], // pinky
];
const PHALANGES: [number, number, number][] = [
  [0.45, 0.26, 0.2],
  [0.5, 0.3, 0.22],
  [0.46, 0.28, 0.21],
  [0.36, 0.2, 0.18],
];
const THUMB_CMC: [number, number] = [0.2, 0.24];
const THUMB_BONES: [number, number, number] = [0.42, 0.32, 0.26];
/** Natural splay of the fingers when spread is not given (deg, + = radial). */
const DEFAULT_SPREAD: [number, number, number, number] = [6, 0, -6, -13];

/** Builds the 21 landmarks in model space (palm length 1, wrist at the origin). */
export function buildModel(pose: HandPose): V3[] {
  const points: V3[] = new Array<V3>(21);
  points[0] = [0, 0, 0];
  const spread = pose.spread ?? DEFAULT_SPREAD;

  // Thumb: CMC, then metacarpal, proximal and distal bones.
  const t = pose.thumb;
  const cmc = lin(DISTAL, THUMB_CMC[0], RADIAL, THUMB_CMC[1]);
  const inPlane = lin(DISTAL, Math.cos(t.abduction * deg), RADIAL, Math.sin(t.abduction * deg));
  const dir0 = unit(lin(inPlane, Math.cos(t.palmar * deg), PALMAR, Math.sin(t.palmar * deg)));
  // The thumb flexes across the palm: towards the ulnar and palmar side, orthogonal to its own direction.
  const flexRaw = lin(RADIAL, -0.6, PALMAR, 0.8);
  const flexDir = unit(lin(flexRaw, 1, dir0, -dot(flexRaw, dir0)));
  points[1] = cmc;
  let at = add(cmc, scale(dir0, THUMB_BONES[0]));
  points[2] = at;
  let bend = 0;
  for (let j = 0; j < 2; j++) {
    bend += t.flex[j]! * deg;
    const d = lin(dir0, Math.cos(bend), flexDir, Math.sin(bend));
    at = add(at, scale(d, THUMB_BONES[j + 1]!));
    points[3 + j] = at;
  }

  // Fingers: MCP, then three phalanges flexing towards the palmar side.
  for (let f = 0; f < 4; f++) {
    const [d0, r0] = MCP[f]!;
    const mcp = lin(DISTAL, d0, RADIAL, r0);
    const base = 5 + 4 * f;
    points[base] = mcp;
    // The finger's straight direction: the wrist->MCP line turned by the spread.
    const radialAngle = Math.atan2(r0, d0) * 0.35 + spread[f]! * deg;
    const straight = lin(DISTAL, Math.cos(radialAngle), RADIAL, Math.sin(radialAngle));
    let p = mcp;
    let flex = 0;
    for (let j = 0; j < 3; j++) {
      flex += pose.fingers[f]![j]! * deg;
      const d = lin(straight, Math.cos(flex), PALMAR, Math.sin(flex));
      p = add(p, scale(d, PHALANGES[f]![j]!));
      points[base + 1 + j] = p;
    }
  }
  return points;
}

function rotZ(v: V3, a: number): V3 {
  const c = Math.cos(a);
  const s = Math.sin(a);
  return [v[0] * c - v[1] * s, v[0] * s + v[1] * c, v[2]];
}
function rotY(v: V3, a: number): V3 {
  const c = Math.cos(a);
  const s = Math.sin(a);
  return [v[0] * c + v[2] * s, v[1], -v[0] * s + v[2] * c];
}
function rotX(v: V3, a: number): V3 {
  const c = Math.cos(a);
  const s = Math.sin(a);
  return [v[0], v[1] * c - v[2] * s, v[1] * s + v[2] * c];
}

/** Poses and places a hand: the {@link DetectedHand} MediaPipe would report for it. */
export function poseHand(pose: HandPose, placement: Placement): DetectedHand {
  const { handedness = 'Right', palmLength = 0.18, roll = 0, yaw = 0, pitch = 0, aspectRatio = 4 / 3 } = placement;
  const model = buildModel(pose);
  // Canonical camera orientation: distal -> up (-y), radial -> image left (-x), palmar -> camera (-z).
  const toCamera = (m: V3): V3 => [-m[1], -m[0], -m[2]];
  const rand = prng(placement.seed ?? 1);
  const jitter = placement.jitter ?? 0;
  const landmarks: { x: number; y: number; z: number }[] = model.map((m) => {
    let v = toCamera(m);
    v = rotY(v, yaw * deg);
    v = rotX(v, pitch * deg);
    v = rotZ(v, roll * deg);
    // v is in palm lengths, isotropic; convert to image-height units, then normalise.
    const xh = v[0] * palmLength;
    const yh = v[1] * palmLength;
    const zh = v[2] * palmLength;
    const noise = (): number => (jitter > 0 ? (rand() * 2 - 1) * jitter : 0);
    let x = placement.wrist.x + xh / aspectRatio;
    if (handedness === 'Left') x = placement.wrist.x - xh / aspectRatio;
    return { x: x + noise(), y: placement.wrist.y + yh + noise(), z: zh / aspectRatio + noise() };
  });
  // MediaPipe's z is relative to the wrist.
  const wristZ = landmarks[0]!.z;
  for (const p of landmarks) Object.assign(p, { x: round(p.x), y: round(p.y), z: round(p.z - wristZ) });
  return { landmarks, handedness, score: placement.score ?? 0.96 };
}

function round(v: number): number {
  return Math.round(v * 1e5) / 1e5;
}

// ---- Named poses ---------------------------------------------------------------

const straight: FingerFlex = [4, 4, 2];
const fist: FingerFlex = [85, 100, 60];

export const POSES = {
  /** All five digits straight, thumb out: an open palm. */
  open: {
    fingers: [straight, straight, straight, straight],
    spread: [10, 0, -8, -18],
    thumb: { abduction: 50, palmar: 25, flex: [5, 5] },
  },
  /** Fingers straight and together, thumb folded in front of the palm (how people often raise a hand). */
  flatThumbIn: {
    fingers: [straight, straight, straight, straight],
    spread: [3, 0, -3, -7],
    thumb: { abduction: 15, palmar: 45, flex: [40, 35] },
  },
  /** A fist with the thumb wrapped over the fingers. */
  fist: {
    fingers: [fist, fist, fist, fist],
    thumb: { abduction: 25, palmar: 55, flex: [45, 55] },
  },
  /** A fist with the thumb straight and out to the radial side: thumbs-up in hand terms. */
  thumbOut: {
    fingers: [fist, fist, fist, fist],
    thumb: { abduction: 80, palmar: 10, flex: [0, 4] },
  },
  /** Index extended, the rest curled. */
  pointing: {
    fingers: [straight, fist, fist, fist],
    thumb: { abduction: 25, palmar: 55, flex: [45, 55] },
  },
  /** A claw: every finger half bent (ambiguous between open and closed). */
  claw: {
    fingers: [
      [35, 45, 25],
      [35, 45, 25],
      [35, 45, 25],
      [35, 45, 25],
    ],
    thumb: { abduction: 40, palmar: 35, flex: [20, 25] },
  },
  /** A relaxed, resting hand: fingers loosely bent. */
  relaxed: {
    fingers: [
      [20, 35, 15],
      [25, 40, 20],
      [30, 45, 20],
      [35, 45, 20],
    ],
    thumb: { abduction: 30, palmar: 30, flex: [15, 15] },
  },
  /** "OK": thumb and index tips touching, the other three extended. */
  ok: {
    fingers: [[40, 70, 40], straight, straight, straight],
    thumb: { abduction: 30, palmar: 50, flex: [25, 25] },
  },
} satisfies Record<string, HandPose>;
