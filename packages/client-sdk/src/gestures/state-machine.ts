import { GESTURE_NAMES, type GestureCandidate, type GestureEvent, type GestureName } from './types.js';

/** Debounce timing of one gesture (all times in milliseconds). */
export interface GestureTiming {
  /** A frame counts the gesture as present when its confidence is at least this. Default 0.7. */
  minConfidence: number;
  /**
   * How long the gesture must be present before `start` (debounce). Gaps shorter
   * than `endAfterMs` do not restart the count. Default 600.
   */
  minHoldMs: number;
  /** Interval of the repeated `hold` events after `start`. Default 1000. */
  holdIntervalMs: number;
  /**
   * How long the gesture must be absent (or below `minConfidence`) before `end`;
   * shorter dropouts (missed detections) are ignored. Default 400.
   */
  endAfterMs: number;
  /** After `end`, how long before the same gesture may be seen again. Default 2000. */
  cooldownMs: number;
}

/** Options of {@link GestureStateMachine}: defaults for every gesture, plus per-gesture overrides. */
export interface GestureStateMachineOptions extends Partial<GestureTiming> {
  /** Overrides for single gestures, e.g. `{ 'raised-hand': { minHoldMs: 1000 } }`. */
  gestures?: Partial<Record<GestureName, Partial<GestureTiming>>>;
  /** Only track these gestures (default: all). Others are ignored. */
  enabled?: readonly GestureName[];
}

/** The default {@link GestureTiming}. */
export const DEFAULT_GESTURE_TIMING: Readonly<GestureTiming> = Object.freeze({
  minConfidence: 0.7,
  minHoldMs: 600,
  holdIntervalMs: 1000,
  endAfterMs: 400,
  cooldownMs: 2000,
});

/** Where one gesture is in its life cycle (see {@link GestureStateMachine.state}). */
export type GestureStatus = 'idle' | 'pending' | 'active' | 'cooldown';

interface Track {
  readonly timing: GestureTiming;
  status: GestureStatus;
  firstSeenMs: number;
  lastSeenMs: number;
  confidenceSum: number;
  frames: number;
  nextHoldMs: number;
  cooldownUntilMs: number;
}

const PHASE_ORDER = { end: 0, start: 1, hold: 2 } as const;

function checkTiming(name: string, t: GestureTiming): void {
  for (const [key, value] of Object.entries(t) as [keyof GestureTiming, number][]) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name}.${key} must be a finite number >= 0 (got ${value})`);
  }
  if (t.minConfidence > 1) throw new RangeError(`${name}.minConfidence must be <= 1 (got ${t.minConfidence})`);
  if (t.holdIntervalMs === 0) throw new RangeError(`${name}.holdIntervalMs must be > 0`);
}

/**
 * Turns per-frame gesture candidates into debounced `start` / `hold` / `end`
 * events. Pure: no timers, the caller passes each frame's time, so it runs (and
 * is tested) anywhere. Each gesture has its own life cycle:
 *
 * `idle` → (present) → `pending` → (present for `minHoldMs`) → `start`, `active`
 * → `hold` every `holdIntervalMs` while present → (absent for `endAfterMs`) → `end`,
 * `cooldown` → (`cooldownMs` after the end) → `idle`.
 *
 * "Present" means a candidate with confidence ≥ `minConfidence` in the frame. A
 * pending gesture absent for `endAfterMs` goes back to idle without events. Within
 * one frame, `end` events come before `start` before `hold`.
 */
export class GestureStateMachine {
  readonly #tracks = new Map<GestureName, Track>();
  #lastTimestampMs = -Infinity;

  /**
   * @param options - Timing defaults and per-gesture overrides (see {@link GestureTiming}).
   * @throws RangeError when a time or confidence is negative, not finite, or out of range.
   */
  constructor(options: GestureStateMachineOptions = {}) {
    const { gestures = {}, enabled = GESTURE_NAMES, ...base } = options;
    const defaults = { ...DEFAULT_GESTURE_TIMING, ...stripUndefined(base) };
    for (const name of GESTURE_NAMES) {
      if (!enabled.includes(name)) continue;
      const timing: GestureTiming = { ...defaults, ...stripUndefined(gestures[name] ?? {}) };
      checkTiming(name, timing);
      this.#tracks.set(name, {
        timing,
        status: 'idle',
        firstSeenMs: 0,
        lastSeenMs: 0,
        confidenceSum: 0,
        frames: 0,
        nextHoldMs: 0,
        cooldownUntilMs: 0,
      });
    }
  }

  /**
   * Feeds one frame and returns the events it causes (often none).
   * @param timestampMs - The frame's time; frames older than the last one are ignored.
   * @param candidates - The gestures seen in the frame (e.g. from {@link classifyHands});
   *   pass `[]` for a frame without hands. Duplicates of a gesture: the most confident counts.
   */
  update(timestampMs: number, candidates: readonly GestureCandidate[]): GestureEvent[] {
    if (!Number.isFinite(timestampMs) || timestampMs < this.#lastTimestampMs) return [];
    this.#lastTimestampMs = timestampMs;
    const t = timestampMs;
    const events: GestureEvent[] = [];

    for (const [gesture, track] of this.#tracks) {
      let confidence = 0;
      for (const c of candidates) if (c.gesture === gesture && c.confidence > confidence) confidence = c.confidence;
      const { timing } = track;
      const present = confidence > 0 && confidence >= timing.minConfidence;

      if (track.status === 'cooldown' && t >= track.cooldownUntilMs) track.status = 'idle';

      switch (track.status) {
        case 'cooldown':
          break;
        case 'idle':
          if (present) {
            track.status = 'pending';
            track.firstSeenMs = t;
            track.lastSeenMs = t;
            track.confidenceSum = confidence;
            track.frames = 1;
            this.#maybeStart(gesture, track, t, events);
          }
          break;
        case 'pending':
          if (present) {
            this.#see(track, t, confidence);
            this.#maybeStart(gesture, track, t, events);
          } else if (t - track.lastSeenMs >= timing.endAfterMs) {
            track.status = 'idle';
          }
          break;
        case 'active':
          if (present) {
            this.#see(track, t, confidence);
            if (t >= track.nextHoldMs) {
              events.push(this.#event(gesture, track, 'hold', t));
              // Keep the cadence of the start time; skip holds missed in a long gap.
              while (track.nextHoldMs <= t) track.nextHoldMs += timing.holdIntervalMs;
            }
          } else if (t - track.lastSeenMs >= timing.endAfterMs) {
            events.push(this.#end(gesture, track, t));
          }
          break;
      }
    }
    return events.sort((a, b) => PHASE_ORDER[a.phase] - PHASE_ORDER[b.phase]);
  }

  /**
   * Ends every active gesture now (e.g. when the camera stops) and forgets pending
   * ones; cooldowns keep running. Returns the `end` events.
   * @param timestampMs - The current time (the ended gestures' cooldowns start here).
   */
  flush(timestampMs: number): GestureEvent[] {
    const t = Math.max(timestampMs, this.#lastTimestampMs);
    if (Number.isFinite(t)) this.#lastTimestampMs = t;
    const events: GestureEvent[] = [];
    for (const [gesture, track] of this.#tracks) {
      if (track.status === 'active') events.push(this.#end(gesture, track, t));
      else if (track.status === 'pending') track.status = 'idle';
    }
    return events;
  }

  /** Forgets everything (no events): every gesture idle, no cooldowns, any timestamp accepted next. */
  reset(): void {
    this.#lastTimestampMs = -Infinity;
    for (const track of this.#tracks.values()) track.status = 'idle';
  }

  /** Where a gesture is in its life cycle (`idle` for gestures that are not enabled). */
  state(gesture: GestureName): GestureStatus {
    return this.#tracks.get(gesture)?.status ?? 'idle';
  }

  /** The gestures that have started and not ended. */
  get activeGestures(): GestureName[] {
    return [...this.#tracks].filter(([, t]) => t.status === 'active').map(([g]) => g);
  }

  #see(track: Track, t: number, confidence: number): void {
    track.lastSeenMs = t;
    track.confidenceSum += confidence;
    track.frames += 1;
  }

  #maybeStart(gesture: GestureName, track: Track, t: number, events: GestureEvent[]): void {
    if (t - track.firstSeenMs < track.timing.minHoldMs) return;
    track.status = 'active';
    track.nextHoldMs = t + track.timing.holdIntervalMs;
    events.push(this.#event(gesture, track, 'start', t));
  }

  #end(gesture: GestureName, track: Track, t: number): GestureEvent {
    track.status = 'cooldown';
    track.cooldownUntilMs = t + track.timing.cooldownMs;
    return { ...this.#event(gesture, track, 'end', t), durationMs: track.lastSeenMs - track.firstSeenMs };
  }

  #event(gesture: GestureName, track: Track, phase: GestureEvent['phase'], t: number): GestureEvent {
    return {
      gesture,
      phase,
      confidence: track.frames > 0 ? track.confidenceSum / track.frames : 0,
      durationMs: t - track.firstSeenMs,
      timestampMs: t,
    };
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
