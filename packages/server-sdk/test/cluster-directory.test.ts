/**
 * RoomDirectory against a real redis-server (testkit), no mocks: placement
 * (sticky, least loaded, draining, OVERLOADED), one answer for concurrent
 * placements, ownership, clean-up of a dead node's entries, stale entries
 * corrected, and no keys left behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@lectern/testkit';
import { ErrorCode, LecternError } from '@lectern/server-sdk';
import { NodeRegistry, RoomDirectory } from '@lectern/server-sdk/cluster';
import { scanKeys, sleep, waitForEvent } from './cluster-helpers.js';

let server: TestRedis;
let inspect: Redis;
let prefixes = 0;
const open: Array<{ close(): unknown }> = [];

before(async () => {
  server = await startRedis();
  inspect = new Redis(server.url);
});
after(async () => {
  for (const item of open.reverse()) await item.close();
  await inspect?.quit();
  await server?.stop();
});

/** A cluster of in-process nodes with fast timings (heartbeat 200 ms, dead after 600 ms); `loads` is mutable. */
async function cluster(ids: string[]) {
  const prefix = `cd${++prefixes}:`;
  const loads = new Map(ids.map((id) => [id, 0]));
  const nodes = new Map<string, { registry: NodeRegistry; directory: RoomDirectory }>();
  for (const nodeId of ids) {
    const registry = new NodeRegistry({ url: server.url, keyPrefix: prefix, nodeId, heartbeatMs: 200, deadAfterMs: 600, load: () => loads.get(nodeId) ?? 0 });
    const directory = new RoomDirectory(registry);
    open.push(registry, directory);
    await registry.start();
    nodes.set(nodeId, { registry, directory });
  }
  const get = (id: string) => nodes.get(id)!;
  /** Sets loads and waits for a heartbeat to carry them. */
  const setLoads = async (values: Record<string, number>) => {
    for (const [id, load] of Object.entries(values)) loads.set(id, load);
    await sleep(300);
  };
  const closeAll = async () => {
    for (const { registry, directory } of nodes.values()) {
      directory.close();
      await registry.close();
    }
  };
  return { prefix, get, setLoads, closeAll, base: `${prefix}{cluster}:` };
}

const overloaded = (e: unknown) => e instanceof LecternError && e.code === ErrorCode.OVERLOADED;

describe('RoomDirectory', () => {
  test('placement: least loaded, then sticky; draining and full nodes are skipped; OVERLOADED cluster-wide with details', async () => {
    const c = await cluster(['a', 'b', 'c']);
    const dir = c.get('a').directory;
    await c.setLoads({ a: 0.5, b: 0.2, c: 0.7 });

    const first = await dir.place('r1');
    assert.deepEqual(first, { roomId: 'r1', nodeId: 'b', sticky: false, owner: 'b' });
    // Sticky: the room's node stays the answer while it has headroom, even when no longer the least loaded.
    await c.setLoads({ b: 0.6 });
    assert.deepEqual(await c.get('c').directory.place('r1'), { roomId: 'r1', nodeId: 'b', sticky: true, owner: 'b' });
    // b full: the room spreads to the least loaded other node, which joins it; b still owns it.
    await c.setLoads({ b: 1 });
    assert.deepEqual(await dir.place('r1'), { roomId: 'r1', nodeId: 'a', sticky: false, owner: 'b' });
    const entry = await dir.lookup('r1');
    assert.deepEqual(entry?.nodes.map((n) => n.nodeId), ['b', 'a']);

    // A cost that does not fit: a (0.5) cannot take 0.6; c (0.7) neither.
    await assert.rejects(dir.place('r2', { estimatedCost: 0.6 }), overloaded);
    // Draining: no new placements on it.
    await c.get('a').registry.drain();
    assert.equal((await dir.place('r3')).nodeId, 'c');
    await c.get('c').registry.drain();
    const error = await dir.place('r4').then(
      () => assert.fail('placed on a cluster without headroom'),
      (e: unknown) => e,
    );
    assert.ok(overloaded(error));
    const details = (error as LecternError).details as { nodes: Array<{ nodeId: string; state: string; load: number }> };
    assert.deepEqual(
      details.nodes.map((n) => [n.nodeId, n.state, n.load]),
      [
        ['a', 'draining', 0.5],
        ['b', 'serving', 1],
        ['c', 'draining', 0.7],
      ],
    );
    // A refused placement leaves nothing behind.
    assert.equal(await inspect.exists(`${c.base}room:r4`), 0);
    await assert.rejects(dir.place('r5', { estimatedCost: 2 }), (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_REQUEST);
    await c.closeAll();
    assert.deepEqual(await scanKeys(inspect, c.prefix), []);
  });

  test('concurrent placement of one new room from every node: one answer, one owner', async () => {
    const ids = ['n1', 'n2', 'n3', 'n4'];
    const c = await cluster(ids);
    await sleep(300); // every node has swept once
    for (let round = 0; round < 20; round++) {
      const roomId = `race-${round}`;
      const answers = await Promise.all(ids.flatMap((id) => [c.get(id).directory.place(roomId), c.get(id).directory.place(roomId)]));
      const chosen = new Set(answers.map((a) => a.nodeId));
      const owners = new Set(answers.map((a) => a.owner));
      assert.equal(chosen.size, 1, `round ${round}: ${JSON.stringify(answers)}`);
      assert.deepEqual(owners, chosen);
      assert.equal(answers.filter((a) => !a.sticky).length, 1, 'exactly one placement created the room');
      assert.equal((await c.get('n1').directory.lookup(roomId))?.nodes.length, 1);
    }
    // Different new rooms placed at once spread by their cost (the load rises until the next heartbeat).
    const spread = await Promise.all(ids.map((id, i) => c.get(id).directory.place(`spread-${i}`, { estimatedCost: 0.3 })));
    assert.equal(new Set(spread.map((p) => p.nodeId)).size, 4, JSON.stringify(spread));
    await c.closeAll();
    assert.deepEqual(await scanKeys(inspect, c.prefix), []);
  });

  test('join/leave: the first node owns the room, ownership passes on, an empty room is deleted; NOT_FOUND for an unknown node', async () => {
    const c = await cluster(['a', 'b']);
    const a = c.get('a').directory;
    const b = c.get('b').directory;
    assert.deepEqual(await a.join('lecture'), { owner: 'a' });
    assert.deepEqual(await b.join('lecture'), { owner: 'a' });
    assert.deepEqual(await b.join('lecture'), { owner: 'a' }, 'idempotent');
    await a.leave('lecture');
    assert.equal((await b.lookup('lecture'))?.owner, 'b');
    await b.leave('lecture');
    assert.equal(await b.lookup('lecture'), undefined);
    assert.equal(await inspect.exists(`${c.base}room:lecture`), 0);
    await assert.rejects(a.join('lecture', 'nobody'), (e: unknown) => e instanceof LecternError && e.code === ErrorCode.NOT_FOUND);
    await assert.rejects(a.join('lecture', 'bad:id'), (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_REQUEST);
    await assert.rejects(a.join(''), (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_REQUEST);
    await c.closeAll();
    assert.deepEqual(await scanKeys(inspect, c.prefix), []);
  });

  test("a dead node's entries go with it (same sweep), and place() corrects entries the sweep never saw", async () => {
    const c = await cluster(['a', 'b']);
    const a = c.get('a');
    // Past the start-up grace (deadAfterMs, no sweeping), so that 'a' sweeps and sees the ghost
    // alive before it is declared dead: a node never seen alive is not announced as down.
    await sleep(800);
    // 'ghost' registers, joins two rooms, then falls silent (its heartbeat score is made old, as a crash would).
    const [seconds, micros] = (await inspect.time()) as [number | string, number | string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000); // to the ms: the seconds alone are up to 1 s old
    await inspect.hset(`${c.base}node:ghost`, { incarnation: 'g1', state: 'serving', load: '0', limits: '{}', meta: '{}', since: String(now) });
    await inspect.zadd(`${c.base}nodes`, now, 'ghost');
    await a.directory.join('shared', 'ghost');
    await a.directory.join('shared');
    await a.directory.join('ghost-only', 'ghost');
    assert.equal((await a.directory.lookup('shared'))?.owner, 'ghost');
    const down = await waitForEvent(a.registry, 'nodeDown', (e) => e.nodeId === 'ghost', 6000);
    assert.deepEqual(down, { nodeId: 'ghost', incarnation: 'g1', reason: 'missed-heartbeats' });
    const shared = await a.directory.lookup('shared');
    assert.deepEqual(shared?.nodes.map((n) => n.nodeId), ['a']);
    assert.equal(shared?.owner, 'a', 'ownership passed to the remaining node');
    assert.equal(await a.directory.lookup('ghost-only'), undefined);
    assert.equal(await inspect.exists(`${c.base}node:ghost:rooms`), 0);

    // An entry written behind the registry's back (a node that vanished with Redis' data, say): a hint that place() corrects.
    await inspect.hset(`${c.base}room:stale`, { owner: 'phantom', 'n:phantom': `p1|${now}` });
    const placed = await a.directory.place('stale');
    assert.equal(placed.sticky, false);
    assert.notEqual(placed.nodeId, 'phantom');
    assert.equal(placed.owner, placed.nodeId);
    assert.deepEqual((await a.directory.lookup('stale'))?.nodes.map((n) => n.nodeId), [placed.nodeId]);
    await c.closeAll();
    assert.deepEqual(await scanKeys(inspect, c.prefix), []);
  });

  test('every key has a TTL while the cluster runs', async () => {
    const c = await cluster(['a', 'b']);
    await c.get('a').directory.join('r');
    await c.get('b').directory.place('r2');
    await c.get('b').registry.drain();
    for (const key of await scanKeys(inspect, c.prefix)) {
      const ttl = await inspect.pttl(key);
      assert.ok(ttl > 0, `${key} has no TTL (${ttl})`);
    }
    await c.closeAll();
    assert.deepEqual(await scanKeys(inspect, c.prefix), []);
  });
});
