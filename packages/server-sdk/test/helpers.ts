import type { Notification, RoomManager } from '@lectern/server-sdk';

export { requester, waitFor, workerTotals } from '@lectern/testkit';

/** Collects the notifications the manager addresses to peers. */
export function notificationLog(manager: RoomManager): Notification[] {
  const log: Notification[] = [];
  manager.on('notification', (n) => log.push(n));
  return log;
}
