// GestureStateMachine: debounce, hold cadence, dropout tolerance, end, cooldown,
// confidence threshold, several gestures. Pure: frames are fed with explicit times.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_GESTURE_TIMING,
  GestureStateMachine,
  type GestureCandidate,
  type GestureEvent,
  type GestureName,
} from '../../src/gestures/index.js';

const FRAME = 100; // 10 fps unless a test says otherwise

/** Feeds `frames` (time -> candidates) and returns every event, in order. */
function run(machine: GestureStateMachine, frames: [number, GestureCandidate[]][]): GestureEvent[] {
  return frames.flatMap(([t, c]) => machine.update(t, c));
}

/** Frames every `step` ms in [from, to), each showing `gesture` (or nothing) at `confidence`. */
function span(from: number, to: number, gesture: GestureName | null, confidence = 0.9, step = FRAME): [number, GestureCandidate[]][] {
  const out: [number, GestureCandidate[]][] = [];
  for (let t = from; t < to; t += step) out.push([t, gesture ? [{ gesture, confidence }] : []]);
  return out;
}

const brief = (events: GestureEvent[]): string[] => events.map((e) => `${e.phase} ${e.gesture} @${e.timestampMs}`);

describe('GestureStateMachine', () => {
  test('defaults are 0.7 / 600 / 1000 / 400 / 2000 ms', () => {
    assert.deepEqual({ ...DEFAULT_GESTURE_TIMING }, { minConfidence: 0.7, minHoldMs: 600, holdIntervalMs: 1000, endAfterMs: 400, cooldownMs: 2000 });
  });

  test('debounce: a gesture shorter than minHoldMs never starts', () => {
    const m = new GestureStateMachine();
    // Seen for 500 ms (frames 0..500 = 6 frames), then gone for good.
    const events = run(m, [...span(0, 600, 'raised-hand'), ...span(600, 4000, null)]);
    assert.deepEqual(events, []);
    assert.equal(m.state('raised-hand'), 'idle');
  });

  test('start comes when the gesture has lasted minHoldMs, with its duration and mean confidence', () => {
    const m = new GestureStateMachine();
    const events = run(m, [...span(0, 500, 'thumbs-up', 0.8), ...span(500, 700, 'thumbs-up', 1.0)]);
    assert.deepEqual(brief(events), ['start thumbs-up @600']);
    const start = events[0]!;
    assert.equal(start.durationMs, 600);
    // Frames 0..400 at 0.8 (5 frames), 500 and 600 at 1.0: mean 0.857.
    assert.ok(Math.abs(start.confidence - 6 / 7) < 1e-9, String(start.confidence));
    assert.equal(m.state('thumbs-up'), 'active');
  });

  test('hold events come every holdIntervalMs while the gesture lasts', () => {
    const m = new GestureStateMachine();
    const events = run(m, span(0, 3700, 'open-palm'));
    assert.deepEqual(brief(events), ['start open-palm @600', 'hold open-palm @1600', 'hold open-palm @2600', 'hold open-palm @3600']);
    assert.deepEqual(events.map((e) => e.durationMs), [600, 1600, 2600, 3600]);
  });

  test('hold keeps the cadence of the start at an uneven frame rate, without bursts after a gap', () => {
    const m = new GestureStateMachine({ endAfterMs: 2000 });
    const times = [0, 330, 610, 950, 1290, 1580, 1640, 1900, 2230, /* gap */ 3900, 4100];
    const events = run(m, times.map((t) => [t, [{ gesture: 'raised-hand', confidence: 0.9 }]]));
    // start at the first frame >= 600; holds due at 1610, 2610, 3610, 4610: first frames at/after 1610 -> 1640,
    // 2610 -> (gap) 3900 covers 2610 and 3610 with a single hold.
    assert.deepEqual(brief(events), ['start raised-hand @610', 'hold raised-hand @1640', 'hold raised-hand @3900']);
  });

  test('brief dropouts shorter than endAfterMs do not end it (nor restart the debounce)', () => {
    const m = new GestureStateMachine();
    const frames = [
      ...span(0, 300, 'raised-hand'),
      ...span(300, 600, null), // frames 300-500 miss it during the debounce
      ...span(600, 2000, 'raised-hand'),
      ...span(2000, 2300, null), // 300 ms without it while active
      ...span(2300, 2500, 'raised-hand'),
    ];
    const events = run(m, frames);
    // The gap at 300..500: at 500, 500 - 200 = 300 < 400, so the pending gesture survives and starts at 600.
    assert.deepEqual(brief(events), ['start raised-hand @600', 'hold raised-hand @1600']);
    assert.equal(m.state('raised-hand'), 'active');
  });

  test('a dropout of endAfterMs resets a pending gesture without events', () => {
    const m = new GestureStateMachine();
    const events = run(m, [...span(0, 500, 'raised-hand'), ...span(500, 900, null), ...span(900, 1400, 'raised-hand')]);
    // Last seen 400, absent at 800 (400 ms): reset. Back at 900: the 600 ms count starts again (1500 > 1300).
    assert.deepEqual(events, []);
    assert.equal(m.state('raised-hand'), 'pending');
    assert.deepEqual(brief(m.update(1500, [{ gesture: 'raised-hand', confidence: 0.9 }])), ['start raised-hand @1500']);
  });

  test('end comes endAfterMs after the last frame with the gesture; duration is first to last seen', () => {
    const m = new GestureStateMachine();
    const events = run(m, [...span(0, 1000, 'thumbs-down', 0.9), ...span(1000, 1600, null)]);
    assert.deepEqual(brief(events), ['start thumbs-down @600', 'end thumbs-down @1300']);
    const end = events[1]!;
    assert.equal(end.durationMs, 900);
    assert.ok(Math.abs(end.confidence - 0.9) < 1e-9);
    assert.equal(m.state('thumbs-down'), 'cooldown');
  });

  test('cooldown blocks a restart, and allows it after cooldownMs', () => {
    const m = new GestureStateMachine();
    // Active 0..900, ends at 1300; cooldown until 3300.
    const first = run(m, [...span(0, 1000, 'raised-hand'), ...span(1000, 1400, null)]);
    assert.deepEqual(brief(first), ['start raised-hand @600', 'end raised-hand @1300']);
    // Raised again from 1500 to 3200: within the cooldown, ignored entirely.
    assert.deepEqual(run(m, span(1400, 3300, 'raised-hand')), []);
    assert.equal(m.state('raised-hand'), 'cooldown');
    // From 3300 on it counts again: pending at 3300, start at 3900.
    const again = run(m, span(3300, 4000, 'raised-hand'));
    assert.deepEqual(brief(again), ['start raised-hand @3900']);
    assert.equal(again[0]!.durationMs, 600);
  });

  test('low confidence is ignored (treated as absent)', () => {
    const m = new GestureStateMachine();
    assert.deepEqual(run(m, span(0, 3000, 'open-palm', 0.69)), []);
    assert.equal(m.state('open-palm'), 'idle');
    // An active gesture whose confidence drops below the threshold ends like a vanished one.
    const events = run(m, [...span(3000, 4000, 'open-palm', 0.95), ...span(4000, 5000, 'open-palm', 0.5)]);
    assert.deepEqual(brief(events), ['start open-palm @3600', 'end open-palm @4300']);
    assert.equal(events[1]!.durationMs, 900);
  });

  test('minConfidence and timings can be set per gesture', () => {
    const m = new GestureStateMachine({ minConfidence: 0.9, gestures: { 'thumbs-up': { minConfidence: 0.5, minHoldMs: 200 } } });
    const events = run(m, span(0, 700, null).map(([t]) => [t, [
      { gesture: 'thumbs-up', confidence: 0.6 },
      { gesture: 'open-palm', confidence: 0.8 },
    ]]));
    assert.deepEqual(brief(events), ['start thumbs-up @200']);
  });

  test('two gestures in sequence: each has its own start / end, and end precedes start in one frame', () => {
    const m = new GestureStateMachine({ minHoldMs: 400, endAfterMs: 300 });
    const events = run(m, [...span(0, 1000, 'thumbs-up'), ...span(1000, 2000, 'thumbs-down'), ...span(2000, 2400, null)]);
    assert.deepEqual(brief(events), [
      'start thumbs-up @400',
      'end thumbs-up @1200',
      'start thumbs-down @1400',
      'end thumbs-down @2200',
    ]);
    // Both at once (a raised open palm): independent life cycles.
    const both = new GestureStateMachine();
    const e2 = run(both, span(0, 700, null).map(([t]) => [t, [
      { gesture: 'raised-hand', confidence: 0.9 },
      { gesture: 'open-palm', confidence: 0.8 },
    ]]));
    assert.deepEqual(brief(e2), ['start raised-hand @600', 'start open-palm @600']);
    assert.deepEqual(both.activeGestures.sort(), ['open-palm', 'raised-hand']);
    // In one frame an end sorts before a start.
    const m3 = new GestureStateMachine({ minHoldMs: 0, endAfterMs: 0 });
    m3.update(0, [{ gesture: 'thumbs-up', confidence: 1 }]);
    assert.deepEqual(brief(m3.update(1, [{ gesture: 'thumbs-down', confidence: 1 }])), ['end thumbs-up @1', 'start thumbs-down @1']);
  });

  test('the most confident duplicate counts; frames going back in time are ignored', () => {
    const m = new GestureStateMachine({ minHoldMs: 0 });
    const e = m.update(100, [{ gesture: 'open-palm', confidence: 0.3 }, { gesture: 'open-palm', confidence: 0.8 }]);
    assert.deepEqual(brief(e), ['start open-palm @100']);
    assert.deepEqual(m.update(50, []), []);
    assert.equal(m.state('open-palm'), 'active');
  });

  test('flush ends active gestures and drops pending ones; reset forgets everything', () => {
    const m = new GestureStateMachine();
    run(m, [...span(0, 700, 'raised-hand'), ...span(700, 900, null).map(([t]) => [t, [{ gesture: 'thumbs-up', confidence: 0.9 }]] as [number, GestureCandidate[]])]);
    assert.equal(m.state('raised-hand'), 'active');
    assert.equal(m.state('thumbs-up'), 'pending');
    const ended = m.flush(1000);
    assert.deepEqual(brief(ended), ['end raised-hand @1000']);
    assert.equal(ended[0]!.durationMs, 600);
    assert.equal(m.state('thumbs-up'), 'idle');
    assert.equal(m.state('raised-hand'), 'cooldown');
    m.reset();
    assert.equal(m.state('raised-hand'), 'idle');
    assert.deepEqual(brief(run(m, span(0, 700, 'raised-hand'))), ['start raised-hand @600']);
  });

  test('enabled limits the tracked gestures; invalid options throw', () => {
    const m = new GestureStateMachine({ enabled: ['raised-hand'], minHoldMs: 0 });
    assert.deepEqual(brief(m.update(0, [{ gesture: 'thumbs-up', confidence: 1 }, { gesture: 'raised-hand', confidence: 1 }])), ['start raised-hand @0']);
    assert.throws(() => new GestureStateMachine({ minHoldMs: -1 }), RangeError);
    assert.throws(() => new GestureStateMachine({ minConfidence: 1.5 }), RangeError);
    assert.throws(() => new GestureStateMachine({ holdIntervalMs: 0 }), RangeError);
    assert.throws(() => new GestureStateMachine({ gestures: { 'open-palm': { cooldownMs: Number.NaN } } }), RangeError);
  });
});
