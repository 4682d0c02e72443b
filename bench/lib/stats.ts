// Small figures helpers shared by the benches.
import type { types } from 'mediasoup';

/** Rounds to `digits` decimals (non-finite values pass through). */
export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of an ascending array (p95 of 50 samples is the 48th smallest); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** CPU seconds (user + system) a worker has used so far, from getResourceUsage(). */
export async function workerCpuSeconds(worker: types.Worker): Promise<number> {
  const u = await worker.getResourceUsage();
  return (u.ru_utime + u.ru_stime) / 1000;
}

/** RTP packets the producers have received so far (sum of their stats' packetCount). */
export async function producedPackets(producers: readonly types.Producer[]): Promise<number> {
  let n = 0;
  for (const p of producers) for (const s of await p.getStats()) n += s.packetCount;
  return n;
}
