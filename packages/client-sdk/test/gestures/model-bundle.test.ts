// The model bundles scripts/setup.sh builds (scripts/lib/gesture-models.py) from the PyPI
// wheel mediapipe==0.10.21: stored zips of the two models tasks-vision expects, each with
// its TFLite metadata, palm_detection_lite carrying palm_detection_full's metadata block
// byte for byte, landmark models untouched; a second build is a no-op.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { MODELS_DIR, REPO_ROOT } from './asset-server.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts/lib/gesture-models.py');
// sha256 of the wheel's models (pinned in the script) and of palm_detection_full's TFLITE_METADATA block.
const HAND_LANDMARK_LITE = '048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6';
const HAND_LANDMARK_FULL = '11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3';
const PALM_DETECTION_FULL = '1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54';
const PALM_FULL_METADATA = '623cc92cf47b488c8ecaa61525d263bf7407c7b44ad1897ea5b77df89c6f671c';

interface Member {
  name: string;
  stored: boolean;
  bytes: number;
  sha256: string;
  metadata?: Record<string, { bytes: number; sha256: string }>;
  associatedFiles?: string[];
}

function inspect(file: string): { members: Member[] } {
  return (JSON.parse(execFileSync('python3', [SCRIPT, 'inspect', file], { encoding: 'utf8' })) as { members: Member[] }[])[0]!;
}

test('hand_landmarker.task: stored zip of the grafted lite palm detector and the lite landmark model', () => {
  const { members } = inspect(path.join(MODELS_DIR, 'hand_landmarker.task'));
  assert.deepEqual(members.map((m) => m.name), ['hand_detector.tflite', 'hand_landmarks_detector.tflite']);
  for (const m of members) assert.equal(m.stored, true, `${m.name} is stored, not deflated`);
  const [detector, landmarks] = members as [Member, Member];
  assert.equal(detector.metadata?.TFLITE_METADATA?.sha256, PALM_FULL_METADATA, 'the full model\'s metadata block, byte for byte');
  assert.deepEqual(detector.associatedFiles, ['labels.txt']);
  assert.ok(detector.bytes < 2_100_000, `the lite detector (1.99 MB), not the full one (2.34 MB): ${detector.bytes}`);
  assert.equal(landmarks.sha256, HAND_LANDMARK_LITE);
  assert.ok(landmarks.metadata?.TFLITE_METADATA);
});

test('hand_landmarker_full.task: the wheel\'s full models unchanged', () => {
  const { members } = inspect(path.join(MODELS_DIR, 'hand_landmarker_full.task'));
  assert.deepEqual(members.map((m) => [m.name, m.sha256]), [
    ['hand_detector.tflite', PALM_DETECTION_FULL],
    ['hand_landmarks_detector.tflite', HAND_LANDMARK_FULL],
  ]);
});

test('a second build is a no-op (stamp), and a build into a new folder gives the same bytes', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lectern-models-'));
  try {
    const again = spawnSync('python3', [SCRIPT], { encoding: 'utf8' });
    assert.equal(again.status, 0);
    assert.match(again.stderr, /up to date/);
    execFileSync('python3', [SCRIPT, '--out', out], { stdio: 'ignore' });
    for (const name of ['hand_landmarker.task', 'hand_landmarker_full.task']) {
      assert.ok(fs.readFileSync(path.join(out, name)).equals(fs.readFileSync(path.join(MODELS_DIR, name))), `${name} is reproducible`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
