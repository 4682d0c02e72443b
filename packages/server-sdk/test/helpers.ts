import type { Notification, PeerContext, PeerRole, RoomManager } from '@lectern/server-sdk';
import type { RequestFn } from '@lectern/testkit';

/** A request function bound to one peer of one room, as a host's signaling would be. */
export function requester(manager: RoomManager, roomId: string, peerId: string, role: PeerRole = 'student'): RequestFn {
  const context: PeerContext = { roomId, peerId, role };
  return (method, data) => manager.handle(context, method, data);
}

/** Polls until `check` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Collects the notifications the manager addresses to peers. */
export function notificationLog(manager: RoomManager): Notification[] {
  const log: Notification[] = [];
  manager.on('notification', (n) => log.push(n));
  return log;
}

/** Everything the workers hold, from mediasoup's own counts (not the SDK's bookkeeping). */
export function workerTotals(manager: RoomManager) {
  let transports = 0;
  let pipeTransports = 0;
  let consumers = 0;
  let routers = 0;
  for (const slot of manager.pool.workers) {
    transports += slot.load.transports;
    pipeTransports += slot.load.pipeTransports;
    consumers += slot.load.consumers;
    routers += slot.load.routers;
  }
  return { transports, pipeTransports, consumers, routers };
}
