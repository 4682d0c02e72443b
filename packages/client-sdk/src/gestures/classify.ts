import {
  GESTURE_NAMES,
  HAND_LANDMARK_COUNT,
  HandLandmark as L,
  type DetectedHand,
  type GestureCandidate,
  type GestureName,
  type Landmark,
} from './types.js';

// Rule-based gesture classification from the 21 landmarks of one hand.
//
// Every rule is a fuzzy membership in [0, 1] (a linear ramp between a "clearly
// false" and a "clearly true" value of some measurement); a gesture's rule score
// is the minimum of its rules (how clearly the weakest one holds), and its
// confidence is that times the detector's hand score. Measurements are angles or
// lengths divided by the palm size, so they do not depend on the hand's size or
// position in the image.

/** Options of {@link classifyHand} / {@link classifyHands}. */
export interface ClassifyOptions {
  /**
   * Width / height of the image the landmarks are normalised to (MediaPipe divides
   * x by the width and y by the height, so lengths and angles are only true after
   * correcting for it). Default 1; {@link GestureRecognizer} fills it in from the frame.
   */
  aspectRatio?: number;
  /**
   * The "shoulder line" of `raised-hand`, as a fraction of the image height from the
   * top (0..1). A hand counts as raised when its wrist is above this line (fully when
   * `raisedMargin` above it, not at all when `raisedMargin` below it). Default 0.6:
   * for a seated person framed head-and-shoulders by a webcam the shoulders are at
   * about 0.7-0.85, so the wrist must be at least at chin height. Apps that track the
   * body can set it from the real shoulders.
   */
  raisedLineY?: number;
  /** Half-width of the raised-line ramp, as a fraction of the image height. Default 0.05. */
  raisedMargin?: number;
  /**
   * Whether `open-palm` requires the palm (not the back of the hand) to face the
   * camera, judged from the handedness label. Default true; set false if your
   * detector's handedness is unreliable.
   */
  requirePalmFacing?: boolean;
}

/** Geometry of one digit, from {@link analyzeHand}. */
export interface DigitFeatures {
  /**
   * Total flexion in degrees: for a finger, the bend at the MCP (wrist -> MCP -> PIP)
   * plus the bend from the proximal phalanx to the PIP -> tip chord; for the thumb, the
   * bend from its metacarpal (CMC -> MCP) to the MCP -> tip chord. About 0-40 for a
   * straight digit, ~90 for a half-bent (claw) finger, 120-230 for a finger curled into a
   * fist (MediaPipe's flat z gives the lower values).
   */
  readonly curlDeg: number;
  /** Membership (0..1) of "this digit is extended". */
  readonly extended: number;
  /** Membership (0..1) of "this digit is curled". */
  readonly curled: number;
}

/** Measurements of one hand that the gesture rules are built from. */
export interface HandFeatures {
  /** Wrist to middle-finger MCP distance (3D, aspect-corrected, in image-height units). */
  readonly palmSize: number;
  readonly thumb: DigitFeatures;
  readonly index: DigitFeatures;
  readonly middle: DigitFeatures;
  readonly ring: DigitFeatures;
  readonly pinky: DigitFeatures;
  /**
   * Direction of the thumb (MCP to tip) in the image, in degrees from straight up:
   * 0 = up, 90 = sideways, 180 = down.
   */
  readonly thumbAngleFromUpDeg: number;
  /** Direction of the palm (wrist to middle MCP) in degrees from straight up. */
  readonly handAngleFromUpDeg: number;
  /**
   * How squarely the palm faces the camera: the signed area spanned by wrist, index
   * MCP and pinky MCP divided by palmSize², positive when the palm (not the back)
   * faces the camera according to the handedness label. About ±0.5-0.7 frontal, 0 edge-on.
   */
  readonly palmFacing: number;
  /** The wrist's y (0 = top of the image). */
  readonly wristY: number;
  /**
   * How far the lowest of the four fingertips (index..pinky) is above the wrist, in
   * palm sizes (negative when a fingertip is below the wrist).
   */
  readonly fingertipsAboveWrist: number;
  /** How far the thumb tip is above (positive) or below (negative) every other fingertip and the MCPs, in palm sizes. */
  readonly thumbTipAboveOthers: number;
  /** How far the thumb tip is below (positive) every other fingertip and the MCPs, in palm sizes. */
  readonly thumbTipBelowOthers: number;
}

/** Per-gesture rule scores (0..1) before the detector score is applied, from {@link scoreGestures}. */
export type GestureScores = Record<GestureName, number>;

interface Vec {
  x: number;
  y: number;
  z: number;
}

const RAD_TO_DEG = 180 / Math.PI;

/** Linear membership: 0 at `zeroAt`, 1 at `oneAt`, clamped (either order). */
function ramp(value: number, zeroAt: number, oneAt: number): number {
  const t = (value - zeroAt) / (oneAt - zeroAt);
  return t <= 0 ? 0 : t >= 1 ? 1 : t;
}

function sub(a: Vec, b: Vec): Vec {
  return { x: a.x - b.x, y: a.y - b.y, z: a.z - b.z };
}

function norm(v: Vec): number {
  return Math.hypot(v.x, v.y, v.z);
}

/** Angle between two vectors in degrees (0 when parallel). */
function angleDeg(a: Vec, b: Vec): number {
  const na = norm(a);
  const nb = norm(b);
  if (na === 0 || nb === 0) return 0;
  const cos = (a.x * b.x + a.y * b.y + a.z * b.z) / (na * nb);
  return Math.acos(Math.max(-1, Math.min(1, cos))) * RAD_TO_DEG;
}

/** Angle of a 2D image direction from straight up (0..180 degrees). */
function angleFromUpDeg(v: Vec): number {
  const n = Math.hypot(v.x, v.y);
  if (n === 0) return 90;
  return Math.acos(Math.max(-1, Math.min(1, -v.y / n))) * RAD_TO_DEG;
}

/** Sum of the bend angles along a chain of points (the angle between consecutive segments). */
function chainBendDeg(points: readonly Vec[]): number {
  let total = 0;
  for (let i = 2; i < points.length; i++) {
    total += angleDeg(sub(points[i - 1]!, points[i - 2]!), sub(points[i]!, points[i - 1]!));
  }
  return total;
}

function isFiniteLandmark(p: Landmark | undefined): p is Landmark {
  return p !== undefined && Number.isFinite(p.x) && Number.isFinite(p.y) && Number.isFinite(p.z);
}

// Thresholds (degrees of total flexion). A straight finger measures 5-30 (the MCP
// "bend" includes the finger's splay from the wrist-MCP line); a half-bent "claw"
// finger ~90, which is neither extended nor curled; an anatomical fist 200-230, but
// MediaPipe underestimates flexion towards the camera (its z is flat), so fists it
// reports measure 120-190.
const FINGER_EXTENDED_ZERO = 85;
const FINGER_EXTENDED_ONE = 45;
const FINGER_CURLED_ZERO = 90;
const FINGER_CURLED_ONE = 130;
// Thumb: a straight thumb measures 0-20, one folded over the palm 50-80.
const THUMB_EXTENDED_ZERO = 50;
const THUMB_EXTENDED_ONE = 25;
const THUMB_CURLED_ZERO = 35;
const THUMB_CURLED_ONE = 60;

/**
 * Measures one hand: per-digit flexion, thumb and hand direction, palm orientation
 * and position. Returns `undefined` when the hand does not have 21 finite landmarks
 * or is degenerate (zero palm size).
 * @param hand - The hand (landmarks in MediaPipe normalised image coordinates).
 * @param options - Only `aspectRatio` matters here.
 */
export function analyzeHand(hand: DetectedHand, options: ClassifyOptions = {}): HandFeatures | undefined {
  const lm = hand.landmarks;
  if (lm.length !== HAND_LANDMARK_COUNT || !lm.every(isFiniteLandmark)) return undefined;
  const aspect = options.aspectRatio !== undefined && options.aspectRatio > 0 ? options.aspectRatio : 1;
  // Isotropic coordinates in image-height units (MediaPipe's z is in x's unit).
  const p: Vec[] = lm.map((q) => ({ x: q.x * aspect, y: q.y, z: q.z * aspect }));
  const at = (i: number): Vec => p[i]!;

  const wrist = at(L.WRIST);
  const palmSize = norm(sub(at(L.MIDDLE_MCP), wrist));
  if (!(palmSize > 1e-6)) return undefined;

  // Bends are measured along wrist -> MCP -> PIP -> TIP: the PIP -> TIP chord stands
  // for the two distal phalanges (their short bones make single-joint angles noisy).
  const finger = (mcp: number): DigitFeatures => {
    const curlDeg = chainBendDeg([wrist, at(mcp), at(mcp + 1), at(mcp + 3)]);
    return {
      curlDeg,
      extended: ramp(curlDeg, FINGER_EXTENDED_ZERO, FINGER_EXTENDED_ONE),
      curled: ramp(curlDeg, FINGER_CURLED_ZERO, FINGER_CURLED_ONE),
    };
  };

  // Thumb: the bend from its metacarpal (CMC -> MCP) to the MCP -> tip chord. A straight
  // thumb lying across the palm is not "extended": its tip must also be away from the index MCP.
  const thumbCurl = chainBendDeg([at(L.THUMB_CMC), at(L.THUMB_MCP), at(L.THUMB_TIP)]);
  const thumbReach = norm(sub(at(L.THUMB_TIP), at(L.INDEX_MCP))) / palmSize;
  const thumb: DigitFeatures = {
    curlDeg: thumbCurl,
    extended: Math.min(ramp(thumbCurl, THUMB_EXTENDED_ZERO, THUMB_EXTENDED_ONE), ramp(thumbReach, 0.35, 0.55)),
    curled: Math.max(ramp(thumbCurl, THUMB_CURLED_ZERO, THUMB_CURLED_ONE), ramp(thumbReach, 0.45, 0.3)),
  };

  const v1 = sub(at(L.INDEX_MCP), wrist);
  const v2 = sub(at(L.PINKY_MCP), wrist);
  const cross = v1.x * v2.y - v1.y * v2.x;
  // With MediaPipe's (mirrored-image) labels, a 'Right' hand shows its palm when
  // wrist -> index MCP -> pinky MCP turns clockwise on screen (y down): cross > 0.
  // (MediaPipe's labels on rendered palms agree: see test/gestures/record-fixtures.ts.)
  const palmFacing = ((hand.handedness === 'Right' ? 1 : -1) * cross) / (palmSize * palmSize);

  const fingerTips = [L.INDEX_TIP, L.MIDDLE_TIP, L.RING_TIP, L.PINKY_TIP].map((i) => at(i).y);
  const others = [...fingerTips, ...[L.INDEX_MCP, L.MIDDLE_MCP, L.RING_MCP, L.PINKY_MCP].map((i) => at(i).y)];
  const thumbTipY = at(L.THUMB_TIP).y;

  return {
    palmSize,
    thumb,
    index: finger(L.INDEX_MCP),
    middle: finger(L.MIDDLE_MCP),
    ring: finger(L.RING_MCP),
    pinky: finger(L.PINKY_MCP),
    thumbAngleFromUpDeg: angleFromUpDeg(sub(at(L.THUMB_TIP), at(L.THUMB_MCP))),
    handAngleFromUpDeg: angleFromUpDeg(sub(at(L.MIDDLE_MCP), wrist)),
    palmFacing,
    wristY: lm[L.WRIST]!.y,
    fingertipsAboveWrist: (wrist.y - Math.max(...fingerTips)) / palmSize,
    thumbTipAboveOthers: (Math.min(...others) - thumbTipY) / palmSize,
    thumbTipBelowOthers: (thumbTipY - Math.max(...others)) / palmSize,
  };
}

/**
 * The rule scores (0..1, before the detector score) of every gesture for one hand.
 *
 * - **raised-hand**: the four fingers extended; the hand pointing up (wrist to
 *   middle MCP within 30° of vertical, nothing beyond 55°); every fingertip at least
 *   0.8 palm sizes above the wrist (from 0.3); the wrist above the raised line
 *   (`raisedLineY` ± `raisedMargin`). The thumb and the palm's orientation do not matter.
 * - **open-palm**: all five digits extended and (unless `requirePalmFacing` is false)
 *   the palm facing the camera (palmFacing from 0.1 to 0.3). Any position or direction.
 * - **thumbs-up**: thumb extended and pointing up (within 30°, nothing beyond 60°), the
 *   four fingers curled, the thumb tip above every fingertip and MCP (by 0.1 palm sizes;
 *   nothing below 0).
 * - **thumbs-down**: the same pointing down, thumb tip below everything else.
 */
export function scoreGestures(features: HandFeatures, options: ClassifyOptions = {}): GestureScores {
  const { raisedLineY = 0.6, raisedMargin = 0.05, requirePalmFacing = true } = options;
  const f = features;
  const fourExtended = Math.min(f.index.extended, f.middle.extended, f.ring.extended, f.pinky.extended);
  const fourCurled = Math.min(f.index.curled, f.middle.curled, f.ring.curled, f.pinky.curled);

  const raised = Math.min(
    fourExtended,
    ramp(f.handAngleFromUpDeg, 55, 30),
    ramp(f.fingertipsAboveWrist, 0.3, 0.8),
    ramp(f.wristY, raisedLineY + raisedMargin, raisedLineY - raisedMargin),
  );
  const openPalm = Math.min(fourExtended, f.thumb.extended, requirePalmFacing ? ramp(f.palmFacing, 0.1, 0.3) : 1);
  const thumbsUp = Math.min(
    f.thumb.extended,
    fourCurled,
    ramp(f.thumbAngleFromUpDeg, 60, 30),
    ramp(f.thumbTipAboveOthers, 0, 0.1),
  );
  const thumbsDown = Math.min(
    f.thumb.extended,
    fourCurled,
    ramp(f.thumbAngleFromUpDeg, 120, 150),
    ramp(f.thumbTipBelowOthers, 0, 0.1),
  );
  return { 'raised-hand': raised, 'open-palm': openPalm, 'thumbs-up': thumbsUp, 'thumbs-down': thumbsDown };
}

/**
 * Classifies one hand: every gesture whose confidence is above 0, best first.
 *
 * Confidence = rule score ({@link scoreGestures}) × a factor of the detector's score:
 * the score itself for `open-palm` when it requires the palm to face the camera
 * (that decision rests on the handedness label, and MediaPipe's score *is* its
 * handedness confidence), its square root for the other gestures (which do not depend
 * on the label: a 0.8 score costs them ~10 %). A raised open palm is both
 * `raised-hand` and `open-palm`.
 * @param hand - One detected hand (21 landmarks).
 * @param options - Image aspect ratio and rule knobs.
 */
export function classifyHand(hand: DetectedHand, options: ClassifyOptions = {}): GestureCandidate[] {
  const features = analyzeHand(hand, options);
  if (!features) return [];
  const handScore = Number.isFinite(hand.score) ? Math.max(0, Math.min(1, hand.score)) : 0;
  const labelDependent = options.requirePalmFacing ?? true;
  const scores = scoreGestures(features, options);
  const out: GestureCandidate[] = [];
  for (const gesture of GESTURE_NAMES) {
    const factor = gesture === 'open-palm' && labelDependent ? handScore : Math.sqrt(handScore);
    const confidence = scores[gesture] * factor;
    if (confidence > 0) out.push({ gesture, confidence });
  }
  return out.sort((a, b) => b.confidence - a.confidence);
}

/**
 * Classifies every hand of a frame and keeps, per gesture, the most confident hand.
 * @param hands - The hands a detector found in one frame.
 * @param options - Image aspect ratio and rule knobs.
 */
export function classifyHands(hands: readonly DetectedHand[], options: ClassifyOptions = {}): GestureCandidate[] {
  const best = new Map<GestureName, number>();
  for (const hand of hands) {
    for (const c of classifyHand(hand, options)) {
      if (c.confidence > (best.get(c.gesture) ?? 0)) best.set(c.gesture, c.confidence);
    }
  }
  return [...best].map(([gesture, confidence]) => ({ gesture, confidence })).sort((a, b) => b.confidence - a.confidence);
}
