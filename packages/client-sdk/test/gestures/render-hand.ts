/// <reference lib="dom" />
// Draws a DetectedHand as a picture MediaPipe recognises as a hand: a skin-coloured
// capsule per bone, a palm polygon and a forearm, painted far to near and shaded by
// depth. Used by record-fixtures.ts (real MediaPipe landmarks of rendered poses) and by
// bench/gesture-fps.ts (--source synthetic). Browser only.
import type { DetectedHand } from '../../src/gestures/index.js';

/** Bones as [from, to, radius as a fraction of the palm length]. */
const BONES: [number, number, number][] = [
  [1, 2, 0.13], [2, 3, 0.115], [3, 4, 0.105],
  [5, 6, 0.105], [6, 7, 0.095], [7, 8, 0.085],
  [9, 10, 0.11], [10, 11, 0.1], [11, 12, 0.09],
  [13, 14, 0.105], [14, 15, 0.095], [15, 16, 0.085],
  [17, 18, 0.09], [18, 19, 0.08], [19, 20, 0.075],
];
const PALM = [0, 1, 5, 9, 13, 17];

/**
 * Paints `hand` (normalised landmarks) over a plain background filling the canvas.
 * @param palmPx - Palm length (wrist to middle MCP) in pixels, for the bone widths.
 */
export function renderHand(ctx: CanvasRenderingContext2D, hand: DetectedHand, palmPx: number): void {
  const W = ctx.canvas.width;
  const H = ctx.canvas.height;
  const bg = ctx.createLinearGradient(0, 0, W, H);
  bg.addColorStop(0, '#5d6d80');
  bg.addColorStop(1, '#2f3a47');
  ctx.fillStyle = bg;
  ctx.fillRect(0, 0, W, H);
  const p = hand.landmarks.map((l) => ({ x: l.x * W, y: l.y * H, z: l.z * W }));
  const at = (i: number) => p[i]!;
  const zs = p.map((q) => q.z);
  const zMin = Math.min(...zs);
  const zMax = Math.max(...zs);
  const shade = (z: number): string => {
    const t = zMax > zMin ? (z - zMin) / (zMax - zMin) : 0.5; // 0 near .. 1 far
    const k = 1.08 - 0.3 * t;
    return `rgb(${Math.round(224 * k)},${Math.round(172 * k)},${Math.round(138 * k)})`;
  };
  const capsule = (a: { x: number; y: number }, b: { x: number; y: number }, r: number, color: string): void => {
    ctx.lineCap = 'round';
    ctx.strokeStyle = 'rgba(90,50,35,0.55)';
    ctx.lineWidth = 2 * r + 2.5;
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * r;
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  };
  const parts: { z: number; draw: () => void }[] = [];
  // Forearm: from the wrist away from the fingers.
  const wrist = at(0);
  const arm = { x: wrist.x - (at(9).x - wrist.x) * 1.6, y: wrist.y - (at(9).y - wrist.y) * 1.6 };
  parts.push({ z: zMax + 1, draw: () => capsule(wrist, arm, palmPx * 0.3, shade(zMax)) });
  const palmZ = PALM.reduce((a, i) => a + at(i).z, 0) / PALM.length;
  parts.push({
    z: palmZ,
    draw: () => {
      ctx.fillStyle = shade(palmZ);
      ctx.strokeStyle = shade(palmZ);
      ctx.lineWidth = palmPx * 0.16;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      for (const i of PALM) ctx.lineTo(at(i).x, at(i).y);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    },
  });
  for (const [a, b, r] of BONES) {
    const z = (at(a).z + at(b).z) / 2;
    parts.push({ z, draw: () => capsule(at(a), at(b), palmPx * r, shade(z)) });
  }
  parts.sort((u, v) => v.z - u.z);
  for (const part of parts) part.draw();
}
