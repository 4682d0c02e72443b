// GestureRecognizer driven by ScriptedDetector: pushed frames (processFrame) with the
// recorded sequence fixture, dropping while busy, errors, close; and attach() with a
// minimal fake DOM (video element + MediaStream) to check the maxFps / no-overlap loop.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import {
  GestureRecognizer,
  classifyHands,
  ScriptedDetector,
  parseGestureRecording,
  type DetectedHand,
  type GestureDetector,
  type GestureEvent,
  type GestureFrameInfo,
  type GestureFrameSource,
} from '../../src/gestures/index.js';
import { POSES, poseHand } from './hand-model.js';

const fixture = (name: string) =>
  parseGestureRecording(JSON.parse(fs.readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')));

/** ScriptedDetector ignores the image; in Node a plain object with a size stands in for a 640x480 frame. */
const FRAME = { width: 640, height: 480 } as unknown as GestureFrameSource;

function record(recognizer: GestureRecognizer): { events: string[]; raw: GestureEvent[]; frames: GestureFrameInfo[]; errors: Error[] } {
  const out = { events: [] as string[], raw: [] as GestureEvent[], frames: [] as GestureFrameInfo[], errors: [] as Error[] };
  const push = (e: GestureEvent): void => {
    out.raw.push(e);
    out.events.push(`${e.phase} ${e.gesture} @${e.timestampMs}`);
  };
  recognizer.on('gestureStart', push).on('gestureHold', push).on('gestureEnd', push);
  recognizer.on('frame', (f) => out.frames.push(f));
  recognizer.on('error', (e) => out.errors.push(e));
  return out;
}

describe('GestureRecognizer with pushed frames', () => {
  test('replays the recorded lecture moment into start / hold / end events', async () => {
    const rec = fixture('sequence-raise-then-thumbs-up');
    const detector = ScriptedDetector.fromRecording(rec);
    const recognizer = new GestureRecognizer({ detector });
    const seen = record(recognizer);
    for (const frame of rec.frames) {
      const events = await recognizer.processFrame(FRAME, frame.timestampMs);
      assert.ok(events !== null);
    }
    assert.deepEqual(seen.events, [
      'start raised-hand @1600', // raised from 1000 ms, minHoldMs 600
      'hold raised-hand @2800', // due at 2600, but that detection is missing
      'end raised-hand @3600', // last seen 3200, endAfterMs 400
      'start thumbs-up @5000',
      'end thumbs-up @6200',
    ]);
    assert.equal(seen.raw[2]!.durationMs, 2200);
    assert.equal(seen.raw[4]!.durationMs, 1400);
    for (const e of seen.raw) assert.ok(e.confidence >= 0.7 && e.confidence <= 1);
    assert.equal(seen.frames.length, rec.frames.length);
    assert.equal(detector.calls, rec.frames.length);
    assert.ok(Math.abs(recognizer.fps - 5) < 1e-9, `fps ${recognizer.fps}`);
    const withHands = seen.frames.find((f) => f.timestampMs === 1000)!;
    assert.equal(withHands.hands.length, 1);
    assert.deepEqual(withHands.candidates.map((c) => c.gesture), ['raised-hand']);
    assert.deepEqual(seen.errors, []);
    await recognizer.close();
  });

  test('the frame size sets the classifier aspect ratio (videoWidth/Height first); the aspectRatio option overrides it', async () => {
    // A thumb tilted ~30 deg from vertical: its tilt (so its thumbs-up score) depends on the aspect ratio.
    const hands = [poseHand(POSES.thumbOut, { wrist: { x: 0.4, y: 0.6 }, roll: 55, yaw: 40 })];
    const candidatesFor = async (source: GestureFrameSource, aspectRatio?: number): Promise<GestureFrameInfo['candidates']> => {
      const r = new GestureRecognizer({ detector: new ScriptedDetector([hands]), ...(aspectRatio ? { aspectRatio } : {}) });
      const infos: GestureFrameInfo[] = [];
      r.on('frame', (f) => infos.push(f));
      await r.processFrame(source, 0);
      await r.close();
      return infos[0]!.candidates;
    };
    const wide = { videoWidth: 1280, videoHeight: 480, width: 0, height: 0 } as unknown as GestureFrameSource;
    assert.deepEqual(await candidatesFor(FRAME), classifyHands(hands, { aspectRatio: 4 / 3 }));
    assert.deepEqual(await candidatesFor(wide), classifyHands(hands, { aspectRatio: 8 / 3 }));
    assert.notDeepEqual(classifyHands(hands, { aspectRatio: 8 / 3 }), classifyHands(hands, { aspectRatio: 4 / 3 }));
    assert.deepEqual(await candidatesFor(wide, 4 / 3), classifyHands(hands, { aspectRatio: 4 / 3 }));
  });

  test('a frame pushed while a detection runs is dropped (null); detections never overlap', async () => {
    let running = 0;
    let maxRunning = 0;
    const inner = new ScriptedDetector([[], [], []], { latencyMs: 30 });
    const detector: GestureDetector = {
      async detect(source, ts) {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        try {
          return await inner.detect(source, ts);
        } finally {
          running -= 1;
        }
      },
      close: () => inner.close(),
    };
    const recognizer = new GestureRecognizer({ detector });
    const first = recognizer.processFrame(FRAME, 0);
    const second = recognizer.processFrame(FRAME, 10);
    assert.equal(await second, null);
    assert.deepEqual(await first, []);
    assert.deepEqual(await recognizer.processFrame(FRAME, 50), []);
    assert.equal(maxRunning, 1);
    assert.equal(inner.calls, 2);
    await recognizer.close();
  });

  test('detection errors are emitted and the frame counts as empty; a throwing listener does not break it', async () => {
    const up = fixture('thumbs-up-right').frames[0]!.hands;
    let n = 0;
    const detector: GestureDetector = {
      async detect(): Promise<DetectedHand[]> {
        n += 1;
        if (n === 3) throw new Error('model hiccup');
        return up.map((h) => ({ ...h }));
      },
      async close() {},
    };
    const recognizer = new GestureRecognizer({ detector, minHoldMs: 0, endAfterMs: 1000 });
    const seen = record(recognizer);
    recognizer.on('gestureStart', () => {
      throw new Error('app bug');
    });
    for (let t = 0; t <= 800; t += 200) await recognizer.processFrame(FRAME, t);
    assert.deepEqual(seen.events, ['start thumbs-up @0']); // the failed frame (400) is a short dropout
    assert.deepEqual(seen.errors.map((e) => e.message), ['app bug', 'model hiccup']);
    await recognizer.close();
  });

  test('close() ends active gestures, closes the detector (unless closeDetector: false) and stops processing', async () => {
    const hands = fixture('raised-hand-right').frames[0]!.hands;
    const detector = new ScriptedDetector([hands], { loop: true });
    const recognizer = new GestureRecognizer({ detector, minHoldMs: 0 });
    const seen = record(recognizer);
    await recognizer.processFrame(FRAME, 0);
    await recognizer.processFrame(FRAME, 200);
    await recognizer.close();
    assert.deepEqual(seen.events.map((e) => e.replace(/ @\d+(\.\d+)?$/, '')), ['start raised-hand', 'end raised-hand']);
    assert.equal(await recognizer.processFrame(FRAME, 400), null);
    await assert.rejects(detector.detect(FRAME, 0), /closed/);

    const kept = new ScriptedDetector([hands]);
    const r2 = new GestureRecognizer({ detector: kept, closeDetector: false });
    await r2.close();
    assert.equal((await kept.detect(FRAME, 0)).length, 1);
  });

  test('ScriptedDetector: sequence, loop and timestamp modes', async () => {
    const a = fixture('thumbs-up-right').frames[0]!.hands;
    const b = fixture('open-palm-right-low').frames[0]!.hands;
    const seq = new ScriptedDetector([a, b]);
    assert.deepEqual([await seq.detect(FRAME, 0), await seq.detect(FRAME, 0), await seq.detect(FRAME, 0)].map((h) => h.length), [1, 1, 0]);
    assert.equal(seq.done, true);
    const loop = new ScriptedDetector([a, [], b], { loop: true });
    const lens = [];
    for (let i = 0; i < 5; i++) lens.push((await loop.detect(FRAME, 0)).length);
    assert.deepEqual(lens, [1, 0, 1, 1, 0]);
    // Timestamp mode: frames at 0 / 200 / 400 ms relative to the first call.
    const timed = new ScriptedDetector([
      { timestampMs: 0, hands: a },
      { timestampMs: 200, hands: [] },
      { timestampMs: 400, hands: b },
    ], { mode: 'timestamp' });
    const at = async (t: number): Promise<string> => {
      const h = await timed.detect(FRAME, t);
      return h.length === 0 ? '-' : h[0]!.landmarks === b[0]!.landmarks ? 'b' : JSON.stringify(h[0]!.landmarks) === JSON.stringify(b[0]!.landmarks) ? 'b' : 'a';
    };
    assert.deepEqual([await at(1000), await at(1150), await at(1250), await at(1450), await at(1650)], ['a', 'a', '-', 'b', '-']);
  });
});

// ---- attach() with a minimal fake DOM ---------------------------------------------

class FakeTrack extends EventTarget {
  readonly kind = 'video';
  readyState: 'live' | 'ended' = 'live';
  end(): void {
    this.readyState = 'ended';
    this.dispatchEvent(new Event('ended'));
  }
}

class FakeVideo extends EventTarget {
  muted = false;
  playsInline = false;
  autoplay = false;
  srcObject: unknown = null;
  readyState = 4;
  videoWidth = 640;
  videoHeight = 480;
  paused = true;
  async play(): Promise<void> {
    this.paused = false;
  }
  pause(): void {
    this.paused = true;
  }
  removeAttribute(): void {}
}

const globals = globalThis as unknown as Record<string, unknown>;
function installFakeDom(): FakeVideo[] {
  const videos: FakeVideo[] = [];
  globals.document = {
    createElement: (tag: string) => {
      assert.equal(tag, 'video');
      const v = new FakeVideo();
      videos.push(v);
      return v;
    },
  };
  globals.MediaStream = class {
    constructor(readonly tracks: unknown[]) {}
  };
  return videos;
}

describe('GestureRecognizer.attach (fake DOM)', () => {
  afterEach(() => {
    delete globals.document;
    delete globals.MediaStream;
  });

  test('detects at most maxFps times a second on the attached track', async () => {
    const videos = installFakeDom();
    const detector = new ScriptedDetector([fixture('thumbs-up-right').frames[0]!.hands], { loop: true });
    const recognizer = new GestureRecognizer({ detector, maxFps: 20 });
    const track = new FakeTrack();
    await recognizer.attach(track as unknown as MediaStreamTrack);
    assert.equal(videos.length, 1);
    assert.equal(videos[0]!.paused, false);
    assert.equal(videos[0]!.muted, true);
    await new Promise((r) => setTimeout(r, 1000));
    const calls = detector.calls;
    recognizer.detach();
    assert.ok(calls >= 12 && calls <= 21, `calls in 1 s at maxFps 20: ${calls}`);
    assert.equal(videos[0]!.paused, true);
    assert.equal(videos[0]!.srcObject, null);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(detector.calls, calls, 'no detection after detach');
    await recognizer.close();
  });

  test('a slow detector sets the pace: the next frame waits for the previous detect (no overlap)', async () => {
    installFakeDom();
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const detector: GestureDetector = {
      async detect() {
        calls += 1;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 120));
        running -= 1;
        return [];
      },
      async close() {},
    };
    const recognizer = new GestureRecognizer({ detector, maxFps: 30, idleFps: 30 });
    await recognizer.attach(new FakeTrack() as unknown as MediaStreamTrack);
    await new Promise((r) => setTimeout(r, 1000));
    const fps = recognizer.fps;
    await recognizer.close();
    assert.equal(maxRunning, 1);
    assert.ok(calls >= 6 && calls <= 9, `calls ${calls}`);
    assert.ok(fps > 6 && fps < 8.6, `fps ${fps}`);
  });

  test('adaptive rate: maxFps while a hand is in view (and idleAfterMs after), idleFps while searching', async () => {
    installFakeDom();
    const hand = fixture('raised-hand-right').frames[0]!.hands;
    // 8 frames with a hand, then none (sequence mode without loop: [] forever).
    const detector = new ScriptedDetector(Array.from({ length: 8 }, () => hand));
    const recognizer = new GestureRecognizer({ detector, maxFps: 20, idleFps: 4, idleAfterMs: 300 });
    assert.equal(recognizer.targetFps, 4, 'searching before any hand');
    await recognizer.attach(new FakeTrack() as unknown as MediaStreamTrack);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(recognizer.targetFps, 20, 'a hand in view');
    // The hand goes after ~0.4 s; 0.3 s later the rate drops to 4/s.
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(recognizer.targetFps, 4);
    const before = detector.calls;
    await new Promise((r) => setTimeout(r, 1000));
    const idleCalls = detector.calls - before;
    await recognizer.close();
    assert.ok(before >= 10 && before <= 17, `calls in the first 1.2 s: ${before}`);
    assert.ok(idleCalls >= 3 && idleCalls <= 5, `calls in 1 s while searching: ${idleCalls}`);
    assert.throws(() => new GestureRecognizer({ detector, maxFps: 5, idleFps: 10 }), RangeError);
    assert.throws(() => new GestureRecognizer({ detector, idleAfterMs: -1 }), RangeError);
  });

  test('the track ending detaches and ends active gestures; attach rejects audio or ended tracks', async () => {
    installFakeDom();
    const detector = new ScriptedDetector([fixture('raised-hand-right').frames[0]!.hands], { loop: true });
    const recognizer = new GestureRecognizer({ detector, maxFps: 50, minHoldMs: 0 });
    const seen = record(recognizer);
    const track = new FakeTrack();
    await recognizer.attach(track as unknown as MediaStreamTrack);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(recognizer.track, track as unknown as MediaStreamTrack);
    track.end();
    assert.equal(recognizer.track, undefined);
    assert.deepEqual(seen.events.map((e) => e.split(' @')[0]), ['start raised-hand', 'end raised-hand']);
    const calls = detector.calls;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(detector.calls, calls);
    await assert.rejects(recognizer.attach(track as unknown as MediaStreamTrack), /ended/);
    const audio = Object.assign(new FakeTrack(), { kind: 'audio' });
    await assert.rejects(recognizer.attach(audio as unknown as MediaStreamTrack), /video track/);
    await recognizer.close();
    await assert.rejects(recognizer.attach(new FakeTrack() as unknown as MediaStreamTrack), /closed/);
  });
});
