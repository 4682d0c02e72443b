/**
 * The signals are the host's: mediasoup makes each Worker close on SIGINT and
 * SIGTERM, which would take a node's media before it could drain; the pool
 * removes those listeners (also from workers respawned after a death).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RoomManager } from '@lectern/server-sdk';
import { waitFor } from './helpers.js';

test("the pool's workers do not listen to the process' SIGINT/SIGTERM, respawned ones neither", async () => {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const manager = await RoomManager.create({ workers: { numWorkers: 2 } });
  try {
    const workers = manager.pool.workers.map((w) => w.worker as unknown as { onSignal?: unknown; pid: number });
    assert.equal(workers.length, 2);
    for (const w of workers) assert.equal(typeof w.onSignal, 'function', "mediasoup's Worker still has its signal handler (the check would mean nothing otherwise)");
    const listeners = () => [...process.listeners('SIGINT'), ...process.listeners('SIGTERM')];
    for (const w of workers) assert.ok(!listeners().includes(w.onSignal as never), `worker ${w.pid} listens to a termination signal`);
    assert.deepEqual(process.listeners('SIGINT'), before.SIGINT);
    assert.deepEqual(process.listeners('SIGTERM'), before.SIGTERM);
    // A respawned worker too.
    const dead = workers[0]!.pid;
    process.kill(dead, 'SIGKILL');
    await waitFor('a respawned worker', () => manager.pool.workers.length === 2 && !manager.pool.workers.some((w) => w.worker.pid === dead), 15_000);
    for (const w of manager.pool.workers) assert.ok(!listeners().includes((w.worker as unknown as { onSignal: never }).onSignal));
    assert.deepEqual(process.listeners('SIGTERM'), before.SIGTERM);
  } finally {
    manager.close();
  }
});
