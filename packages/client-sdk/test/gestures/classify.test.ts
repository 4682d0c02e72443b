// The rule-based classifier on every fixture (authored with hand-model.ts, see
// make-fixtures.ts), plus invariances, handedness, confidence ordering and bad input.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import {
  GESTURE_NAMES,
  analyzeHand,
  classifyHand,
  classifyHands,
  parseGestureRecording,
  scoreGestures,
  type DetectedHand,
  type GestureName,
  type GestureRecording,
} from '../../src/gestures/index.js';
import { prng } from '@lectern/testkit/random';
import { POSES, poseHand } from './hand-model.js';
import { buildFixtures } from './make-fixtures.js';

const FIXTURE_DIR = new URL('./fixtures/', import.meta.url);
const ASPECT = 4 / 3; // the fixtures' 640x480
const THRESHOLD = 0.7; // the state machine's default minConfidence

function loadFixtures(): GestureRecording[] {
  return fs
    .readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => parseGestureRecording(JSON.parse(fs.readFileSync(new URL(f, FIXTURE_DIR), 'utf8'))));
}

const fixtures = loadFixtures();
const staticFixtures = fixtures.filter((r) => !r.name.startsWith('sequence-'));
const recognised = (hands: readonly DetectedHand[], aspectRatio = ASPECT): GestureName[] =>
  classifyHands(hands, { aspectRatio })
    .filter((c) => c.confidence >= THRESHOLD)
    .map((c) => c.gesture)
    .sort();

function transform(hand: DetectedHand, f: (p: { x: number; y: number; z: number }) => { x: number; y: number; z: number }): DetectedHand {
  return { ...hand, landmarks: hand.landmarks.map(f) };
}
/** Mirror image: x -> 1 - x, which turns a right hand into a left one (MediaPipe's labels follow). */
function mirror(hand: DetectedHand): DetectedHand {
  return { ...transform(hand, (p) => ({ x: 1 - p.x, y: p.y, z: p.z })), handedness: hand.handedness === 'Left' ? 'Right' : 'Left' };
}
function assertScoresClose(a: DetectedHand, b: DetectedHand, label: string, aspectRatio = ASPECT): void {
  const fa = analyzeHand(a, { aspectRatio });
  const fb = analyzeHand(b, { aspectRatio });
  assert.ok(fa && fb, label);
  const sa = scoreGestures(fa);
  const sb = scoreGestures(fb);
  for (const g of GESTURE_NAMES) assert.ok(Math.abs(sa[g] - sb[g]) < 1e-6, `${label}: ${g} ${sa[g]} vs ${sb[g]}`);
}

describe('classifier on the fixtures', () => {
  test('the fixture files are what make-fixtures.ts generates (17 recordings)', () => {
    const built = buildFixtures();
    assert.equal(fixtures.length, built.size);
    for (const rec of fixtures) assert.deepEqual(rec, parseGestureRecording(JSON.parse(JSON.stringify(built.get(rec.name)))), rec.name);
  });

  for (const rec of staticFixtures) {
    const expected = [...(rec.expected ?? [])].sort();
    test(`${rec.name}: every frame gives exactly [${expected.join(', ')}] at confidence >= ${THRESHOLD}`, () => {
      assert.ok(rec.frames.length >= 8);
      for (const [i, frame] of rec.frames.entries()) {
        assert.deepEqual(recognised(frame.hands), expected, `frame ${i}`);
        const candidates = classifyHands(frame.hands, { aspectRatio: ASPECT });
        // Everything else stays well below the threshold (a margin against noise).
        for (const c of candidates) if (!expected.includes(c.gesture)) assert.ok(c.confidence < 0.5, `frame ${i}: ${c.gesture} ${c.confidence}`);
        // Confidence never exceeds the square root of the detector's score.
        for (const c of candidates) assert.ok(c.confidence <= Math.sqrt(frame.hands[0]!.score) + 1e-12);
      }
    });
  }

  test('sequence fixture: frame by frame it shows rest, raised hand (with 2 dropouts), rest, thumbs-up, rest', () => {
    const rec = fixtures.find((r) => r.name === 'sequence-raise-then-thumbs-up')!;
    const labels = rec.frames.map((f) => recognised(f.hands).join('+') || '-');
    assert.equal(
      labels.join(' '),
      [
        ...Array<string>(5).fill('-'),
        ...['raised-hand', 'raised-hand', 'raised-hand', 'raised-hand', '-', 'raised-hand', 'raised-hand', 'raised-hand', '-', 'raised-hand', 'raised-hand', 'raised-hand'],
        ...Array<string>(5).fill('-'),
        ...Array<string>(8).fill('thumbs-up'),
        ...Array<string>(7).fill('-'),
      ].join(' '),
    );
  });
});

// Real MediaPipe Hands output (record-fixtures.ts: MediaPipe lite in Chromium on a canvas
// rendering of the hand model posed like each authored fixture). The recordings whose
// drawing MediaPipe reads as intended are asserted: every frame where MediaPipe found
// the hand must give the expected gestures. Not asserted, because the flat drawing
// itself is ambiguous (see the .jpg next to each recording): none-claw and
// none-relaxed-low (without shading, MediaPipe sees the bent fingers as straight:
// open palm), none-ok-sign (it sees the index as straight: raised hand),
// none-back-of-hand-low (a drawing has no palm/back: MediaPipe labels it the other hand,
// palm forward), thumbs-up-left (the thumb is hidden behind the fist), thumbs-down-left
// (no hand found).
const RECORDED: Record<string, GestureName[]> = {
  'raised-hand-right': ['raised-hand'],
  'raised-hand-left-back': ['raised-hand'],
  'open-palm-right-low': ['open-palm'],
  'open-palm-left-sideways': ['open-palm'],
  'thumbs-up-right': ['thumbs-up'],
  'thumbs-down-right': ['thumbs-down'],
  'none-fist': [],
  'none-pointing': [],
  'none-thumb-sideways': [],
};

// The same renderings recorded with both detectors: fixtures/recorded/ from the legacy
// @mediapipe/hands (MediaPipeHandsDetector), fixtures/recorded-tasks/ from
// @mediapipe/tasks-vision (TasksVisionHandDetector, the default), whose landmarks are
// within ~0.01 of the legacy ones and whose handedness the detector flips to the legacy
// convention. One set of thresholds serves both.
for (const [subdir, detector] of [['recorded', 'legacy @mediapipe/hands'], ['recorded-tasks', 'tasks-vision']] as const) describe(`classifier on real MediaPipe landmarks of rendered hands (${detector})`, () => {
  const dir = new URL(`./${subdir}/`, FIXTURE_DIR);
  const load = (name: string) => parseGestureRecording(JSON.parse(fs.readFileSync(new URL(`${name}.json`, dir), 'utf8')));

  for (const [name, expected] of Object.entries(RECORDED)) {
    test(`${subdir} ${name}: [${expected.join(', ')}] in every frame with a hand`, () => {
      const rec = load(name);
      const withHand = rec.frames.filter((f) => f.hands.length > 0);
      assert.ok(withHand.length >= 4, `MediaPipe found the hand in ${withHand.length} frames`);
      withHand.forEach((frame, i) => {
        const got = recognised(frame.hands);
        // tasks-vision, thumbs-down-right: in the first frame after palm detection (before
        // tracking) the landmark model puts the thumb sideways (82° from up) - a missed frame
        // (no gesture), never a wrong one. The state machine's debounce absorbs one miss.
        if (i === 0 && subdir === 'recorded-tasks' && got.length === 0) return;
        assert.deepEqual(got, expected, `t=${frame.timestampMs}`);
      });
    });
  }

  test(`${subdir} raised-open-palm-left: raised-hand in every frame, open-palm when MediaPipe is sure of the label`, () => {
    const rec = load('raised-open-palm-left');
    for (const frame of rec.frames) {
      const got = recognised(frame.hands);
      assert.ok(got.includes('raised-hand'), `t=${frame.timestampMs}: ${got.join(',')}`);
      if (frame.hands[0]!.score >= 0.85) assert.ok(got.includes('open-palm'), `t=${frame.timestampMs}`);
    }
  });

  test(`${subdir}: the handedness labels agree with the hand model's convention for palms facing the camera`, () => {
    for (const name of ['raised-hand-right', 'raised-open-palm-left', 'open-palm-right-low', 'open-palm-left-sideways', 'thumbs-up-right', 'none-fist']) {
      const authored = fixtures.find((r) => r.name === name)!.frames[0]!.hands[0]!.handedness;
      const hands = load(name).frames.flatMap((f) => f.hands);
      // A label at ~0.5 is a coin flip (tasks-vision's first frame of raised-open-palm-left:
      // 0.50); the classifier weighs open-palm by this score, so it never passes 0.7 then.
      const sure = hands.filter((h) => h.score >= 0.6);
      assert.ok(sure.length >= hands.length - 1 && sure.length >= 4, `${name}: ${sure.length} of ${hands.length} labels with score >= 0.6`);
      for (const hand of sure) assert.equal(hand.handedness, authored, name);
    }
  });
});

describe('tasks-vision against the legacy detector (same renderings)', () => {
  const load = (subdir: string, name: string) =>
    parseGestureRecording(JSON.parse(fs.readFileSync(new URL(`./${subdir}/${name}.json`, FIXTURE_DIR), 'utf8')));
  test('landmarks agree within ~0.01 of the image (mean per recording) and the labels agree where both are sure', () => {
    let compared = 0;
    for (const name of fs.readdirSync(new URL('./recorded-tasks/', FIXTURE_DIR)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5))) {
      const tasks = load('recorded-tasks', name);
      const legacy = load('recorded', name);
      let sum = 0;
      let n = 0;
      tasks.frames.forEach((frame, i) => {
        const a = frame.hands[0];
        const b = legacy.frames[i]?.hands[0];
        if (!a || !b) return;
        a.landmarks.forEach((p, j) => {
          sum += Math.hypot(p.x - b.landmarks[j]!.x, p.y - b.landmarks[j]!.y);
          n += 1;
        });
        if (a.score >= 0.6 && b.score >= 0.6) assert.equal(a.handedness, b.handedness, `${name} t=${frame.timestampMs}`);
      });
      if (n === 0) continue;
      compared += 1;
      assert.ok(sum / n < 0.015, `${name}: mean landmark distance ${(sum / n).toFixed(4)}`);
    }
    assert.ok(compared >= 12, `recordings compared: ${compared}`);
  });
});

describe('classifier invariances', () => {
  test('scale about the wrist (x0.5, x1.8) and horizontal translation do not change any score', () => {
    for (const rec of staticFixtures) {
      const hand = rec.frames[0]!.hands[0]!;
      const w = hand.landmarks[0]!;
      for (const s of [0.5, 1.8]) {
        assertScoresClose(hand, transform(hand, (p) => ({ x: w.x + (p.x - w.x) * s, y: w.y + (p.y - w.y) * s, z: p.z * s })), `${rec.name} scale ${s}`);
      }
      assertScoresClose(hand, transform(hand, (p) => ({ x: p.x - 0.2, y: p.y, z: p.z })), `${rec.name} shift x`);
    }
  });

  test('vertical translation changes only raised-hand (the raised line is a position in the frame)', () => {
    for (const rec of staticFixtures) {
      const hand = rec.frames[0]!.hands[0]!;
      const shifted = transform(hand, (p) => ({ x: p.x, y: p.y + 0.3, z: p.z }));
      const a = scoreGestures(analyzeHand(hand, { aspectRatio: ASPECT })!);
      const b = scoreGestures(analyzeHand(shifted, { aspectRatio: ASPECT })!);
      for (const g of GESTURE_NAMES) if (g !== 'raised-hand') assert.ok(Math.abs(a[g] - b[g]) < 1e-6, `${rec.name} ${g}`);
    }
    const raised = fixtures.find((r) => r.name === 'raised-hand-right')!.frames[0]!.hands[0]!;
    assert.deepEqual(recognised([raised]), ['raised-hand']);
    assert.deepEqual(recognised([transform(raised, (p) => ({ ...p, y: p.y + 0.3 }))]), [], 'lowered below the raised line');
  });

  test('mirroring a hand (left <-> right, with the label) keeps its gestures: both hands work', () => {
    for (const rec of staticFixtures) {
      for (const frame of rec.frames) assert.deepEqual(recognised(frame.hands.map(mirror)), [...(rec.expected ?? [])].sort(), rec.name);
    }
  });

  test('the aspect ratio is corrected: the same hand in a 16:9 frame classifies like in 4:3', () => {
    const cases: [keyof typeof POSES, Parameters<typeof poseHand>[1], GestureName[]][] = [
      ['thumbOut', { wrist: { x: 0.4, y: 0.6 }, roll: 70, yaw: 40 }, ['thumbs-up']],
      ['open', { wrist: { x: 0.5, y: 0.9 }, roll: -60 }, ['open-palm']],
      ['flatThumbIn', { wrist: { x: 0.3, y: 0.4 }, roll: 25 }, ['raised-hand']],
    ];
    for (const [pose, placement, expected] of cases) {
      const h43 = poseHand(POSES[pose], { ...placement, aspectRatio: 4 / 3 });
      const h169 = poseHand(POSES[pose], { ...placement, aspectRatio: 16 / 9 });
      assert.deepEqual(recognised([h43], 4 / 3), expected);
      assert.deepEqual(recognised([h169], 16 / 9), expected);
      assertScoresClose(h43, { ...h169, landmarks: h169.landmarks.map((p) => ({ x: 0.5 + ((p.x - 0.5) * 16) / 12, y: p.y, z: (p.z * 16) / 12 })) }, pose, 4 / 3);
    }
  });

  test('random orientations within the rules keep the gesture (200 hands per gesture)', () => {
    const rand = prng(42);
    const between = (a: number, b: number): number => a + (b - a) * rand();
    for (let i = 0; i < 200; i++) {
      const handedness = rand() < 0.5 ? 'Left' : 'Right';
      const common = { handedness, palmLength: between(0.1, 0.3), jitter: 0.002, seed: i } as const;
      // Thumb within ~20 deg of vertical (the model thumb leans 10 deg towards the fingers, hence
      // the asymmetric roll), fist turned anywhere from facing the camera to side-on.
      const up = poseHand(POSES.thumbOut, { ...common, wrist: { x: between(0.3, 0.7), y: between(0.4, 0.8) }, roll: 90 + between(-20, 10), yaw: between(0, 70), pitch: between(-15, 15) });
      assert.deepEqual(recognised([up]), ['thumbs-up'], `thumbs-up #${i}`);
      const down = poseHand(POSES.thumbOut, { ...common, wrist: { x: between(0.3, 0.7), y: between(0.3, 0.6) }, roll: -90 + between(-20, 10), yaw: between(0, 70), pitch: between(-15, 15) });
      assert.deepEqual(recognised([down]), ['thumbs-down'], `thumbs-down #${i}`);
      // Open palm at any angle in the image, palm within 40 deg of facing the camera, low in the frame.
      const palm = poseHand(POSES.open, { ...common, wrist: { x: between(0.3, 0.7), y: between(0.75, 0.95) }, roll: between(-180, 180), yaw: between(-40, 40), pitch: between(-20, 20) });
      assert.deepEqual(recognised([palm]), ['open-palm'], `open-palm #${i}`);
      // A raised hand within 25 deg of vertical, palm or back to the camera.
      const raised = poseHand(POSES.flatThumbIn, { ...common, wrist: { x: between(0.2, 0.8), y: between(0.2, 0.5) }, roll: between(-25, 25), yaw: rand() < 0.5 ? between(-40, 40) : between(140, 220), pitch: between(-20, 20) });
      assert.deepEqual(recognised([raised]), ['raised-hand'], `raised-hand #${i}`);
      // A fist anywhere is nothing.
      const fist = poseHand(POSES.fist, { ...common, wrist: { x: between(0.3, 0.7), y: between(0.2, 0.9) }, roll: between(-180, 180), yaw: between(-60, 60) });
      assert.deepEqual(recognised([fist]), [], `fist #${i}`);
    }
  });
});

describe('classifier details', () => {
  const base = { handedness: 'Right', wrist: { x: 0.45, y: 0.6 }, yaw: 40 } as const;

  test('confidence falls as the thumb tilts away from vertical (thumbs-up) and as the wrist sinks below the raised line', () => {
    const tilt = [90, 70, 60, 50, 40, 30].map((roll) => classifyHand(poseHand(POSES.thumbOut, { ...base, roll })).find((c) => c.gesture === 'thumbs-up')?.confidence ?? 0);
    for (let i = 1; i < tilt.length; i++) assert.ok(tilt[i]! <= tilt[i - 1]!, `tilt ${tilt.join(' ')}`);
    assert.ok(tilt[0]! >= 0.9 && tilt[tilt.length - 1] === 0, `tilt ${tilt.join(' ')}`);

    const heights = [0.4, 0.55, 0.58, 0.6, 0.62, 0.7].map(
      (y) => classifyHand(poseHand(POSES.flatThumbIn, { wrist: { x: 0.3, y } }), { aspectRatio: ASPECT }).find((c) => c.gesture === 'raised-hand')?.confidence ?? 0,
    );
    for (let i = 1; i < heights.length; i++) assert.ok(heights[i]! <= heights[i - 1]!, `heights ${heights.join(' ')}`);
    assert.ok(heights[0]! > 0.9 && heights[3]! > 0.4 && heights[3]! < 0.6 && heights[5] === 0, `heights ${heights.join(' ')}`);
  });

  test('confidence is the rule score times the detector score (open-palm) or its square root (the others)', () => {
    const palm = poseHand(POSES.open, { wrist: { x: 0.5, y: 0.4 } }); // raised open palm: both gestures, rule score 1
    const at = (score: number, options = {}) => {
      const c = classifyHand({ ...palm, score }, options);
      return [c.find((x) => x.gesture === 'open-palm')?.confidence ?? 0, c.find((x) => x.gesture === 'raised-hand')?.confidence ?? 0];
    };
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-9);
    assert.ok(near(at(1), [1, 1]));
    assert.ok(near(at(0.64), [0.64, 0.8]), String(at(0.64)));
    // Without the palm-facing rule open-palm does not depend on the label either.
    assert.ok(near(at(0.64, { requirePalmFacing: false }), [0.8, 0.8]));
    assert.deepEqual(classifyHand({ ...palm, score: 0 }), []);
  });

  test('open-palm needs the palm towards the camera: the same landmarks with the other label are the back of a hand', () => {
    const hand = poseHand(POSES.open, { wrist: { x: 0.5, y: 0.9 } });
    assert.deepEqual(recognised([hand]), ['open-palm']);
    const relabelled: DetectedHand = { ...hand, handedness: 'Left' };
    assert.deepEqual(recognised([relabelled]), []);
    assert.ok(analyzeHand(relabelled)!.palmFacing < 0);
    assert.deepEqual(classifyHand(relabelled, { requirePalmFacing: false }).map((c) => c.gesture), ['open-palm']);
  });

  test('raisedLineY moves the line', () => {
    const hand = poseHand(POSES.flatThumbIn, { wrist: { x: 0.3, y: 0.75 } });
    assert.deepEqual(recognised([hand]), []);
    assert.deepEqual(classifyHand(hand, { aspectRatio: ASPECT, raisedLineY: 0.85 }).map((c) => c.gesture), ['raised-hand']);
  });

  test('several hands: each gesture keeps its most confident hand', () => {
    const up = poseHand(POSES.thumbOut, { handedness: 'Left', wrist: { x: 0.7, y: 0.6 }, roll: 90, yaw: 40, score: 0.8 });
    const palm = poseHand(POSES.open, { handedness: 'Right', wrist: { x: 0.3, y: 0.9 }, score: 0.9 });
    const palm2 = { ...palm, score: 0.75 };
    const result = classifyHands([up, palm2, palm], { aspectRatio: ASPECT });
    assert.deepEqual(result.map((c) => c.gesture), ['open-palm', 'thumbs-up']);
    assert.ok(Math.abs(result[0]!.confidence - 0.9) < 1e-9 && Math.abs(result[1]!.confidence - Math.sqrt(0.8)) < 1e-9);
    assert.deepEqual(classifyHands([]), []);
  });

  test('malformed hands give no gestures', () => {
    const hand = poseHand(POSES.open, { wrist: { x: 0.5, y: 0.9 } });
    assert.deepEqual(classifyHand({ ...hand, landmarks: hand.landmarks.slice(0, 20) }), []);
    assert.deepEqual(classifyHand({ ...hand, landmarks: hand.landmarks.map((p, i) => (i === 8 ? { ...p, x: Number.NaN } : p)) }), []);
    assert.deepEqual(classifyHand({ ...hand, landmarks: hand.landmarks.map(() => ({ x: 0.5, y: 0.5, z: 0 })) }), []);
    assert.deepEqual(classifyHand({ ...hand, score: Number.NaN }), []);
  });

  test('parseGestureRecording rejects malformed recordings with the path of the problem', () => {
    assert.throws(() => parseGestureRecording(null), /\(root\)/);
    assert.throws(() => parseGestureRecording({ name: 'x', frames: [{ hands: [{ handedness: 'Up', score: 1, landmarks: [] }] }] }), /frames\[0\]\.hands\[0\]\.handedness/);
    assert.throws(() => parseGestureRecording({ name: 'x', frames: [{ hands: [{ handedness: 'Left', score: 1, landmarks: [] }] }] }), /landmarks must be an array of 21/);
    assert.throws(() => parseGestureRecording({ name: 'x', expected: ['wave'], frames: [] }), /expected/);
    assert.deepEqual(parseGestureRecording({ name: 'x', frames: [{ hands: [] }] }), { name: 'x', frames: [{ timestampMs: 0, hands: [] }] });
  });
});
