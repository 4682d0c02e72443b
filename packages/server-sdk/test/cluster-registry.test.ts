/**
 * NodeRegistry against a real redis-server (testkit), no mocks: several nodes in
 * this process and one in a child process killed with SIGKILL, restarts of a
 * node (new incarnation), draining, Redis outages (empty and persistent), and no
 * keys left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '@lectern/testkit';
import { ErrorCode, LecternError } from '@lectern/server-sdk';
import { NodeRegistry, RoomDirectory, type ClusterRedisClient, type NodeRegistryEvents, type NodeRegistryOptions } from '@lectern/server-sdk/cluster';
import { killHard, scanKeys, sleep, spawnNode, waitForEvent } from './cluster-helpers.js';

let server: TestRedis;
let inspect: Redis;
let prefixes = 0;
const uniquePrefix = () => `cr${++prefixes}:`;
const children: ChildProcess[] = [];
const open: NodeRegistry[] = [];

before(async () => {
  server = await startRedis();
  inspect = new Redis(server.url);
});
after(async () => {
  for (const child of children) await killHard(child);
  await Promise.all(open.map((r) => r.close()));
  await inspect?.quit();
  await server?.stop();
});

function node(prefix: string, nodeId: string, options: Partial<NodeRegistryOptions> = {}, url = server.url): NodeRegistry {
  const source = options.redis ? {} : { url };
  const registry = new NodeRegistry({ ...source, keyPrefix: prefix, nodeId, ...options } as NodeRegistryOptions);
  open.push(registry);
  return registry;
}

/** Every nodeDown a registry emits, for "nothing was announced" assertions. */
function recordDowns(registry: NodeRegistry): Array<NodeRegistryEvents['nodeDown']> {
  const downs: Array<NodeRegistryEvents['nodeDown']> = [];
  registry.on('nodeDown', (e) => downs.push(e));
  return downs;
}

describe('NodeRegistry', () => {
  test('validates its options (INVALID_CONFIG)', () => {
    const bad: Array<Partial<NodeRegistryOptions>> = [
      { nodeId: '' },
      { nodeId: 'a:b' },
      { nodeId: 'a', heartbeatMs: 0 },
      { nodeId: 'a', heartbeatMs: 1000, deadAfterMs: 1500 },
      { nodeId: 'a', sweepIntervalMs: 5000 },
      { nodeId: 'a', keyPrefix: 'x{y}' },
      { nodeId: 'a', limits: { workers: Number.NaN } },
      { nodeId: 'a', meta: { url: 3 as unknown as string } },
      { nodeId: 'a', meta: { big: 'x'.repeat(5000) } },
      { nodeId: 'a', load: 0.5 as unknown as () => number },
    ];
    for (const options of bad) {
      assert.throws(
        () => new NodeRegistry({ url: server.url, ...options } as NodeRegistryOptions),
        (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_CONFIG,
        JSON.stringify(options).slice(0, 100),
      );
    }
    assert.throws(() => new NodeRegistry({ nodeId: 'a' } as NodeRegistryOptions), (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_CONFIG);
  });

  test('nodes see each other; a SIGKILLed child node is announced dead by the others within deadAfterMs + a sweep', async () => {
    const prefix = uniquePrefix();
    const a = node(prefix, 'a', { limits: { workers: 2 }, meta: { url: 'wss://a' } });
    const host: ClusterRedisClient = inspect; // an ioredis client is a ClusterRedisClient
    const b = node(prefix, 'b', { redis: host } as Partial<NodeRegistryOptions>); // a host-owned client works too
    await a.start();
    const bSeesA = waitForEvent(b, 'nodeUp', (n) => n.nodeId === 'a', 5000);
    await b.start();
    const seenA = await bSeesA;
    assert.deepEqual(seenA.limits, { workers: 2 });
    assert.deepEqual(seenA.meta, { url: 'wss://a' });
    assert.equal(seenA.incarnation, a.incarnation);

    const aSeesC = waitForEvent(a, 'nodeUp', (n) => n.nodeId === 'c', 5000);
    const bSeesC = waitForEvent(b, 'nodeUp', (n) => n.nodeId === 'c', 5000);
    const c = await spawnNode(server.url, prefix, 'c');
    children.push(c.child);
    assert.equal((await aSeesC).incarnation, c.incarnation);
    assert.equal((await bSeesC).load, 0.5);

    const aDown = waitForEvent(a, 'nodeDown', (e) => e.nodeId === 'c', 6000);
    const bDown = waitForEvent(b, 'nodeDown', (e) => e.nodeId === 'c', 6000);
    const lastBeat = Number(await inspect.zscore(`${prefix}{cluster}:nodes`, 'c'));
    const killedAt = Date.now();
    await killHard(c.child);
    const [downA, downB] = await Promise.all([aDown.then((e) => [e, Date.now()] as const), bDown.then((e) => [e, Date.now()] as const)]);
    for (const [event, at] of [downA, downB]) {
      assert.deepEqual(event, { nodeId: 'c', incarnation: c.incarnation, reason: 'missed-heartbeats' });
      const fromKill = at - killedAt;
      const fromLastBeat = at - lastBeat; // same host: Redis TIME and Date.now() share the clock
      console.log(`# nodeDown after ${fromKill} ms from SIGKILL, ${fromLastBeat} ms from the last heartbeat`);
      // Dead after 3000 ms of silence, noticed at the next sweep (every 250 ms); the kill
      // came up to one heartbeat (1000 ms) after the last one.
      assert.ok(fromKill <= a.deadAfterMs + a.sweepIntervalMs + 300, `nodeDown ${fromKill} ms after the kill`);
      assert.ok(fromLastBeat >= a.deadAfterMs, `declared dead after only ${fromLastBeat} ms of silence`);
    }
    assert.deepEqual((await inspect.zrange(`${prefix}{cluster}:nodes`, 0, -1)).sort(), ['a', 'b']);
    assert.equal(await inspect.exists(`${prefix}{cluster}:node:c`), 0);

    await b.close();
    assert.equal(inspect.status, 'ready', 'the host client is left open');
    await a.close();
    assert.deepEqual(await scanKeys(inspect, prefix), []);
  });

  test('a node restarted with a new incarnation: the old one is announced dead (restarted), the new one up', async () => {
    const prefix = uniquePrefix();
    const a = node(prefix, 'a');
    await a.start();
    const firstUp = waitForEvent(a, 'nodeUp', (n) => n.nodeId === 'c', 20_000);
    const first = await spawnNode(server.url, prefix, 'c');
    children.push(first.child);
    assert.equal((await firstUp).incarnation, first.incarnation);
    await killHard(first.child);
    const down = waitForEvent(a, 'nodeDown', (e) => e.nodeId === 'c', 20_000);
    const up = waitForEvent(a, 'nodeUp', (n) => n.nodeId === 'c', 20_000);
    const second = await spawnNode(server.url, prefix, 'c'); // at once: before the old one could be declared dead
    const registeredAt = Date.now();
    children.push(second.child);
    assert.notEqual(second.incarnation, first.incarnation);
    assert.deepEqual(await down, { nodeId: 'c', incarnation: first.incarnation, reason: 'restarted' });
    assert.equal((await up).incarnation, second.incarnation);
    assert.ok(Date.now() - registeredAt < 1000, 'the restart is known at the next sweep, without waiting for deadAfterMs');

    // A clean exit of the child: reason 'left'.
    const left = waitForEvent(a, 'nodeDown', (e) => e.nodeId === 'c', 5000);
    second.child.kill('SIGTERM');
    assert.deepEqual(await left, { nodeId: 'c', incarnation: second.incarnation, reason: 'left' });
    await a.close();
    assert.deepEqual(await scanKeys(inspect, prefix), []);
  });

  test('two live registries with one nodeId: the older is superseded and stops', async () => {
    const prefix = uniquePrefix();
    const old = node(prefix, 'x', { heartbeatMs: 200, deadAfterMs: 600 });
    await old.start();
    const superseded = waitForEvent(old, 'superseded', () => true, 3000);
    const young = node(prefix, 'x', { heartbeatMs: 200, deadAfterMs: 600 });
    await young.start();
    assert.equal((await superseded).by, young.incarnation);
    await assert.rejects(old.drain(), (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_STATE);
    await old.close(); // must not deregister the young one
    assert.equal(await inspect.hget(`${prefix}{cluster}:node:x`, 'incarnation'), young.incarnation);
    await young.close();
    assert.deepEqual(await scanKeys(inspect, prefix), []);
  });

  test('drain() is announced (nodeDraining) at once', async () => {
    const prefix = uniquePrefix();
    const a = node(prefix, 'a', { heartbeatMs: 200, deadAfterMs: 600 });
    const b = node(prefix, 'b', { heartbeatMs: 200, deadAfterMs: 600 });
    await a.start();
    await b.start();
    await waitForEvent(a, 'nodeUp', (n) => n.nodeId === 'b', 3000);
    const draining = waitForEvent(a, 'nodeDraining', (n) => n.nodeId === 'b', 3000);
    await b.drain();
    assert.equal((await draining).state, 'draining');
    assert.equal(b.state, 'draining');
    await Promise.all([a.close(), b.close()]);
  });
});

describe('NodeRegistry across Redis restarts', () => {
  for (const persistent of [false, true]) {
    test(`Redis down for 4 s (${persistent ? 'persistent: stale heartbeats come back' : 'empty on restart'}): no false nodeDown, registrations and rooms come back`, async () => {
      const redis = await startRedis({ persistent });
      const client = new Redis(redis.url, { lazyConnect: true });
      try {
        const prefix = uniquePrefix();
        const a = node(prefix, 'a', {}, redis.url);
        const b = node(prefix, 'b', {}, redis.url);
        await a.start();
        await b.start();
        const dirB = new RoomDirectory(b);
        await dirB.join('room-1');
        await waitForEvent(a, 'nodeUp', (n) => n.nodeId === 'b', 5000);
        await sleep(1100); // a has swept with b in view
        const downs = recordDowns(a);
        const downsB = recordDowns(b);
        const restored: string[] = [];
        a.on('registered', (e) => restored.push(`a:${e.status}`));
        b.on('registered', (e) => restored.push(`b:${e.status}`));
        await redis.restart({ whileDown: () => sleep(4000) });
        await sleep(5000); // the grace (3 s) and a few sweeps
        assert.deepEqual(downs, [], 'a announced nodeDown for an outage of Redis');
        assert.deepEqual(downsB, [], 'b announced nodeDown for an outage of Redis');
        if (!persistent) assert.deepEqual(restored.sort(), ['a:restored', 'b:restored']);
        await client.connect();
        assert.deepEqual((await client.zrange(`${prefix}{cluster}:nodes`, 0, -1)).sort(), ['a', 'b']);
        assert.deepEqual(a.nodes().map((n) => n.nodeId).sort(), ['a', 'b']);
        const entry = await dirB.lookup('room-1');
        assert.equal(entry?.owner, 'b', 'b re-asserted its room');
        assert.deepEqual(entry?.nodes.map((n) => [n.nodeId, n.alive]), [['b', true]]);

        // And a real death after the outage is still detected.
        const down = waitForEvent(a, 'nodeDown', (e) => e.nodeId === 'b', 6000);
        dirB.close();
        await b.close();
        assert.equal((await down).reason, 'left');
        await a.close();
        assert.deepEqual(await scanKeys(client, prefix), []);
      } finally {
        client.disconnect();
        await redis.stop();
      }
    });
  }

  test('Redis frozen (SIGSTOP) for 4 s: commands queued during the freeze run in any order when it wakes, yet nobody is declared dead; a crash afterwards still is', async () => {
    const redis = await startRedis();
    const client = new Redis(redis.url, { lazyConnect: true });
    let child: Awaited<ReturnType<typeof spawnNode>> | undefined;
    try {
      const prefix = uniquePrefix();
      const nodes = ['a', 'b'].map((id) => node(prefix, id, {}, redis.url));
      for (const n of nodes) await n.start();
      child = await spawnNode(redis.url, prefix, 'c');
      await waitForEvent(nodes[0]!, 'nodeUp', (n) => n.nodeId === 'c', 5000);
      await sleep(1100);
      const downs = nodes.map((n) => recordDowns(n));
      redis.process.child.kill('SIGSTOP');
      await sleep(4000);
      redis.process.child.kill('SIGCONT');
      await sleep(5000); // the calm after the stall (3 s) and a few sweeps
      assert.deepEqual(downs.flat(), [], 'a frozen Redis was taken for dead nodes');
      for (const n of nodes) assert.deepEqual(n.nodes().map((x) => x.nodeId).sort(), ['a', 'b', 'c']);
      // A crash after the freeze is still found, as fast as ever.
      const down = waitForEvent(nodes[0]!, 'nodeDown', (e) => e.nodeId === 'c', 6000);
      const killedAt = performance.now();
      await killHard(child.child);
      assert.equal((await down).reason, 'missed-heartbeats');
      assert.ok(performance.now() - killedAt < 4000, `found ${Math.round(performance.now() - killedAt)} ms after the kill`);
      for (const n of nodes) await n.close();
      await client.connect();
      assert.deepEqual(await scanKeys(client, prefix), []);
    } finally {
      if (child) await killHard(child.child);
      client.disconnect();
      await redis.stop();
    }
  });
});

test('importing @lectern/server-sdk/cluster loads neither ioredis nor the transcription pipeline; a url registry loads ioredis, INVALID_CONFIG without it', async () => {
  const script = `
    import { createRequire, registerHooks } from 'node:module';
    const loaded = new Set();
    let hide = false;
    registerHooks({
      resolve(specifier, context, next) {
        if (hide && specifier === 'ioredis') { const e = new Error("Cannot find module 'ioredis'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
        return next(specifier, context);
      },
      load(url, context, next) { loaded.add(url); return next(url, context); },
    });
    const require = createRequire(import.meta.url);
    const seen = (part) => [...loaded].some((u) => u.includes(part)) || Object.keys(require.cache).some((f) => f.includes(part));
    const { NodeRegistry } = await import('@lectern/server-sdk/cluster');
    const report = { ioredisAtImport: seen('/node_modules/ioredis/'), transcription: seen('/server-sdk/src/transcription/'), rooms: seen('/server-sdk/src/rooms/') };
    hide = true;
    try { new NodeRegistry({ url: 'redis://127.0.0.1:1', nodeId: 'x' }); report.missing = 'no error'; } catch (e) { report.missing = e.code; }
    hide = false;
    const registry = new NodeRegistry({ url: 'redis://127.0.0.1:1', nodeId: 'x' });
    report.ioredisAfter = seen('/node_modules/ioredis/');
    await registry.close();
    console.log(JSON.stringify(report));
  `;
  const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, sig) => resolve([c, sig])));
  clearTimeout(killer);
  assert.equal(signal, null, `the child had to be killed (open handles after close()?): ${err}`);
  assert.equal(code, 0, err);
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1) ?? ''), {
    ioredisAtImport: false,
    transcription: false,
    rooms: false,
    missing: ErrorCode.INVALID_CONFIG,
    ioredisAfter: true,
  });
});
