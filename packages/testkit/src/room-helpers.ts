import type { RequestFn } from './room-peer.js';

/** What these helpers need of a RoomManager (structural, so the testkit does not depend on the SDK). */
export interface RequestHandler {
  handle(context: { roomId: string; peerId: string; role?: 'lecturer' | 'student' }, method: string, data: unknown): Promise<unknown>;
}
export interface WorkerPoolView {
  pool: { workers: readonly { load: { routers: number; transports: number; pipeTransports: number; consumers: number } }[] };
}

/** A request function bound to one peer of one room, as a host's signaling would be. */
export function requester(
  manager: RequestHandler,
  roomId: string,
  peerId: string,
  role: 'lecturer' | 'student' = 'student',
): RequestFn {
  const context = { roomId, peerId, role };
  return (method, data) => manager.handle(context, method, data);
}

/** Polls until `check` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Everything the workers hold, from mediasoup's own counts (not the SDK's bookkeeping). */
export function workerTotals(manager: WorkerPoolView) {
  const totals = { routers: 0, transports: 0, pipeTransports: 0, consumers: 0 };
  for (const { load } of manager.pool.workers) {
    totals.routers += load.routers;
    totals.transports += load.transports;
    totals.pipeTransports += load.pipeTransports;
    totals.consumers += load.consumers;
  }
  return totals;
}
