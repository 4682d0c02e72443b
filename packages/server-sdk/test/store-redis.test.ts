/**
 * RedisTranscriptStore against a real redis-server (testkit), no mocks: the shared
 * contract, then what only Redis has (key layout, TTL, prefixes, connection
 * ownership, restarts and outages).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { freeTcpPort, startRedis, type TestRedis } from '@lectern/testkit';
import { ErrorCode } from '@lectern/server-sdk';
import { RedisTranscriptStore, type RedisTranscriptStoreOptions } from '@lectern/server-sdk/transcription';
import { batch, record, rejectsWith, summary, transcriptStoreContract } from './store-contract.js';

let server: TestRedis;
/** A plain client to inspect what the store wrote. */
let inspect: Redis;
let prefixes = 0;
const uniquePrefix = () => `t${++prefixes}:`;

before(async () => {
  server = await startRedis();
  inspect = new Redis(server.url);
});
after(async () => {
  await inspect?.quit();
  await server?.stop();
});

/** Every key under `prefix`, found with SCAN (never KEYS). */
async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

async function writeLecture(store: RedisTranscriptStore, id: string): Promise<void> {
  await store.putLecture(record(id));
  await store.putBatch(id, 'b0', batch('b0', [0, 1, 2]));
  await store.putBatch(id, 'b1', batch('b1', [3]));
  await store.putSummary(id, summary());
}

const newStore = (options: Partial<RedisTranscriptStoreOptions> = {}) =>
  new RedisTranscriptStore({ url: server.url, keyPrefix: uniquePrefix(), ...options } as RedisTranscriptStoreOptions);

/** Each contract store's key prefix, to SCAN what it left behind. */
const contractPrefixes = new WeakMap<object, string>();
transcriptStoreContract('RedisTranscriptStore', {
  create: async () => {
    const prefix = uniquePrefix();
    const store = newStore({ keyPrefix: prefix });
    contractPrefixes.set(store, prefix);
    return store;
  },
  keys: (store) => scanKeys(inspect, contractPrefixes.get(store)!),
});

describe('RedisTranscriptStore: Redis specifics', () => {
  test("key layout: four keys per lecture, hash-tagged by the lecture id, and a room's list hash-tagged by the room id", async () => {
    const prefix = uniquePrefix();
    const store = newStore({ keyPrefix: prefix });
    try {
      await writeLecture(store, 'lec-1');
      const base = `${prefix}lecture:{lec-1}`;
      const roomList = `${prefix}room:{room-1}:lectures`;
      assert.deepEqual(await scanKeys(inspect, prefix), [base, `${base}:batches`, `${base}:entries`, `${base}:entry`, roomList].sort());
      assert.equal(await inspect.type(roomList), 'zset');
      assert.deepEqual(await inspect.zrange(roomList, 0, -1, 'WITHSCORES'), ['lec-1', String(Date.parse(record('lec-1').startedAt))]);
      assert.equal(await inspect.type(base), 'hash');
      assert.equal(await inspect.type(`${base}:entries`), 'zset');
      assert.equal(await inspect.type(`${base}:entry`), 'hash');
      assert.equal(await inspect.type(`${base}:batches`), 'hash');
      assert.deepEqual(await inspect.zrange(`${base}:entries`, 0, -1, 'WITHSCORES'), [
        'b0:0000000000', '0', 'b0:0000000001', '1', 'b0:0000000002', '2', 'b1:0000000000', '3',
      ]);
      assert.deepEqual(JSON.parse((await inspect.hget(`${base}:batches`, 'b1'))!), ['b1:0000000000']);
      assert.equal(await inspect.hget(base, 'roomId'), 'room-1');
      assert.deepEqual(JSON.parse((await inspect.hget(base, 'summary'))!), summary());

      // A retried batch with fewer entries leaves no stray members or entry fields.
      await store.putBatch('lec-1', 'b0', batch('b0', [0.5]));
      assert.equal(await inspect.zcard(`${base}:entries`), 2);
      assert.deepEqual((await inspect.hkeys(`${base}:entry`)).sort(), ['b0:0000000000', 'b1:0000000000']);

      // The live transcript: the same three keys under `:live`, in the lecture's slot.
      await store.putBatch('lec-1', 'live-1', batch('live-1', [4]), { source: 'live' });
      assert.deepEqual(await inspect.zrange(`${base}:live:entries`, 0, -1), ['live-1:0000000000']);
      assert.deepEqual(await inspect.hkeys(`${base}:live:entry`), ['live-1:0000000000']);
      assert.deepEqual(JSON.parse((await inspect.hget(`${base}:live:batches`, 'live-1'))!), ['live-1:0000000000']);
      assert.equal(await inspect.zcard(`${base}:entries`), 2, 'the batch transcript is untouched');
    } finally {
      await store.close();
    }
  });

  test('TTL is applied to every key of the lecture on every write (0 = no expiry)', async () => {
    const prefix = uniquePrefix();
    const short = newStore({ keyPrefix: prefix, ttlSeconds: 100 });
    const long = newStore({ keyPrefix: prefix, ttlSeconds: 5000 });
    const foreverPrefix = uniquePrefix();
    const forever = newStore({ keyPrefix: foreverPrefix, ttlSeconds: 0 });
    try {
      await writeLecture(short, 'L');
      const keys = await scanKeys(inspect, prefix);
      assert.equal(keys.length, 5, 'four lecture keys and the room list');
      for (const key of keys) {
        const pttl = await inspect.pttl(key);
        assert.ok(pttl > 90_000 && pttl <= 100_000, `${key} PTTL ${pttl}`);
      }
      // A live write refreshes the batch keys too (and the other way round).
      await short.putBatch('L', 'live-0', batch('live-0', [1]), { source: 'live' });
      assert.equal((await scanKeys(inspect, prefix)).length, 8, 'three live keys more');
      // One small write through another store refreshes the expiry of every
      // lecture key; the room list is refreshed by putLecture.
      await long.putSummary('L', summary('later'));
      await long.putLecture(record('L'));
      for (const key of await scanKeys(inspect, prefix)) {
        const ttl = await inspect.ttl(key);
        assert.ok(ttl > 4900 && ttl <= 5000, `${key} TTL ${ttl}`);
      }
      await writeLecture(forever, 'L');
      const foreverKeys = await scanKeys(inspect, foreverPrefix);
      assert.equal(foreverKeys.length, 5);
      for (const key of foreverKeys) assert.equal(await inspect.ttl(key), -1, key);
    } finally {
      await Promise.all([short.close(), long.close(), forever.close()]);
    }
  });

  test('keyPrefix isolates two stores on one server', async () => {
    const a = newStore({ keyPrefix: 'iso-a:' });
    const b = newStore({ keyPrefix: 'iso-b:' });
    try {
      await writeLecture(a, 'same');
      await b.putBatch('same', 'only-b', batch('only-b', [9]));
      assert.deepEqual(await a.getBatchIds('same'), ['b0', 'b1']);
      assert.deepEqual(await b.getBatchIds('same'), ['only-b']);
      assert.equal(await b.getLecture('same'), undefined);
      assert.equal(await b.getSummary('same'), undefined);
      assert.ok((await scanKeys(inspect, 'iso-a:')).every((k) => k.startsWith('iso-a:lecture:{same}') || k === 'iso-a:room:{room-1}:lectures'));
      assert.deepEqual(await b.listLectures('room-1'), []);
      await b.deleteLecture('same');
      assert.equal((await a.getTranscript('same')).length, 4, "deleting in b leaves a's lecture");
      assert.equal((await scanKeys(inspect, 'iso-a:')).length, 5);
      assert.deepEqual((await a.listLectures('room-1')).map((l) => l.lectureId), ['same']);
      assert.deepEqual(await scanKeys(inspect, 'iso-b:'), []);
    } finally {
      await a.deleteLecture('same');
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('deleteLecture leaves no key of the lecture (SCAN)', async () => {
    const prefix = uniquePrefix();
    const store = newStore({ keyPrefix: prefix });
    try {
      await writeLecture(store, 'L1');
      await writeLecture(store, 'L2');
      assert.equal((await scanKeys(inspect, prefix)).length, 9, 'four keys per lecture and their room list');
      await store.deleteLecture('L1');
      assert.deepEqual(await scanKeys(inspect, `${prefix}lecture:{L1}`), []);
      assert.equal((await scanKeys(inspect, prefix)).length, 5);
      assert.deepEqual(await inspect.zrange(`${prefix}room:{room-1}:lectures`, 0, -1), ['L2']);
      await store.deleteLecture('L2');
      assert.deepEqual(await scanKeys(inspect, prefix), []);
    } finally {
      await store.close();
    }
  });

  test("a lecture whose keys expired leaves its room's list when a listing meets it", async () => {
    const prefix = uniquePrefix();
    const store = newStore({ keyPrefix: prefix });
    try {
      await writeLecture(store, 'gone');
      await writeLecture(store, 'kept');
      // What TTL expiry does to one lecture while its room's list lives on (a later lecture refreshed it).
      const base = `${prefix}lecture:{gone}`;
      await inspect.del(base, `${base}:entries`, `${base}:entry`, `${base}:batches`);
      const listKey = `${prefix}room:{room-1}:lectures`;
      assert.deepEqual(await inspect.zrange(listKey, 0, -1), ['gone', 'kept']);
      assert.deepEqual((await store.listLectures('room-1')).map((l) => l.lectureId), ['kept']);
      assert.deepEqual(await inspect.zrange(listKey, 0, -1), ['kept'], 'the stale member was removed');
      await store.deleteLecture('kept');
      assert.deepEqual(await scanKeys(inspect, prefix), []);
    } finally {
      await store.close();
    }
  });

  test('a host-owned client is never closed by close()', async () => {
    const client = new Redis(server.url);
    const store = new RedisTranscriptStore({ redis: client, keyPrefix: uniquePrefix() });
    try {
      await writeLecture(store, 'L');
      assert.equal((await store.getTranscript('L')).length, 4);
      await store.close();
      await store.close();
      assert.equal(client.status, 'ready');
      assert.equal(await client.ping(), 'PONG');
      assert.equal(client.listenerCount('ready'), 0, 'no listeners left behind');
      assert.equal(client.listenerCount('end'), 0, 'no listeners left behind');
      await rejectsWith(store.getTranscript('L'), ErrorCode.CLOSED);
    } finally {
      await client.quit();
    }
  });

  test('an owned connection is closed by close(): a process using the store exits by itself', async () => {
    const storeUrl = new URL('../src/transcription/store/redis-store.ts', import.meta.url).href;
    const script = `
      const { RedisTranscriptStore } = await import(${JSON.stringify(storeUrl)});
      const used = new RedisTranscriptStore({ url: ${JSON.stringify(server.url)}, keyPrefix: 'child:' });
      await used.putBatch('L', 'b0', [{ batchId: 'b0', index: 0, start: 0, end: 1, text: 'hi' }]);
      const entries = await used.getTranscript('L');
      await used.deleteLecture('L');
      await used.close();
      const unused = new RedisTranscriptStore({ url: ${JSON.stringify(server.url)} });
      await unused.close();
      const unreachable = new RedisTranscriptStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 });
      const failure = await unreachable.getLecture('L').catch((e) => e.code);
      await unreachable.close();
      console.log(JSON.stringify({ entries: entries.length, failure }));
    `;
    const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let printedAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      printedAt ||= Date.now();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    const lingeredMs = Date.now() - printedAt;
    clearTimeout(killer);
    assert.equal(signal, null, `the child had to be killed: open handles kept it alive. stderr: ${err}`);
    assert.equal(code, 0, err);
    assert.deepEqual(JSON.parse(out.trim()), { entries: 1, failure: ErrorCode.UNAVAILABLE });
    assert.ok(lingeredMs < 1000, `the child exited ${lingeredMs} ms after its last close()`);
  });

  test('close() releases operations waiting for an unreachable Redis at once (CLOSED)', async () => {
    const port = await freeTcpPort(); // nothing listens there
    const store = new RedisTranscriptStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 10_000 });
    const t0 = Date.now();
    const waiting = rejectsWith(store.putBatch('L', 'b0', batch('b0', [0])), ErrorCode.CLOSED);
    await new Promise((r) => setTimeout(r, 300));
    await store.close();
    await waiting;
    assert.ok(Date.now() - t0 < 2000, `released after ${Date.now() - t0} ms`);
  });

  test('invalid options are refused with INVALID_CONFIG', () => {
    const configError = (options: unknown) => (error: unknown) => {
      assert.equal((error as { code?: string }).code, ErrorCode.INVALID_CONFIG, JSON.stringify(options));
      return true;
    };
    const bad: unknown[] = [
      {},
      { url: '' },
      { url: server.url, redis: inspect },
      { url: server.url, keyPrefix: 'a{b}:' },
      { url: server.url, keyPrefix: 'a\n' },
      { url: server.url, ttlSeconds: -1 },
      { url: server.url, ttlSeconds: 1.5 },
      { url: server.url, commandTimeoutMs: 0 },
      { redis: {} },
    ];
    for (const options of bad) {
      assert.throws(() => new RedisTranscriptStore(options as RedisTranscriptStoreOptions), configError(options));
    }
  });
});

describe('RedisTranscriptStore: restarts and outages', () => {
  let durable: TestRedis;
  before(async () => {
    durable = await startRedis({ persistent: true });
  });
  after(async () => {
    await durable?.stop();
  });

  test('a persistent Redis restart loses nothing and the store reconnects by itself', async () => {
    const store = new RedisTranscriptStore({ url: durable.url, keyPrefix: 'restart:' });
    try {
      await writeLecture(store, 'L');
      await store.putLecture({ ...record('L'), endedAt: '2024-05-01T10:00:00.000Z' });
      const before = {
        lecture: await store.getLecture('L'),
        transcript: await store.getTranscript('L'),
        batches: await store.getBatchIds('L'),
        summary: await store.getSummary('L'),
      };
      const pid = durable.process.child.pid;
      await durable.restart();
      assert.notEqual(durable.process.child.pid, pid, 'a new redis-server process');
      assert.deepEqual(
        {
          lecture: await store.getLecture('L'),
          transcript: await store.getTranscript('L'),
          batches: await store.getBatchIds('L'),
          summary: await store.getSummary('L'),
        },
        before,
      );
      // Writes work again too (the Lua scripts are reloaded after the restart).
      await store.putBatch('L', 'b2', batch('b2', [4]));
      assert.equal((await store.getTranscript('L')).length, 5);
    } finally {
      await store.close();
    }
  });

  test('during an outage a write waits at most commandTimeoutMs: UNAVAILABLE if Redis stays down, success if it returns in time', async () => {
    const quick = new RedisTranscriptStore({ url: durable.url, keyPrefix: 'outage:', commandTimeoutMs: 400 });
    const patient = new RedisTranscriptStore({ url: durable.url, keyPrefix: 'outage:', commandTimeoutMs: 15_000 });
    try {
      await quick.putLecture(record('L'));
      await patient.putBatch('L', 'b0', batch('b0', [0]));
      let pending: Promise<void> | undefined;
      let failedAfterMs = -1;
      await durable.restart({
        whileDown: async () => {
          const t0 = Date.now();
          const error = await rejectsWith(quick.putBatch('L', 'lost', batch('lost', [1])), ErrorCode.UNAVAILABLE);
          failedAfterMs = Date.now() - t0;
          assert.ok(error.cause !== undefined, 'the connection error is kept as cause');
          assert.deepEqual(error.details, { store: 'redis', op: 'putBatch' });
          await rejectsWith(quick.getTranscript('L'), ErrorCode.UNAVAILABLE);
          // Started while Redis is down; Redis comes back well within 15 s.
          pending = patient.putBatch('L', 'b1', batch('b1', [2]));
          await new Promise((r) => setTimeout(r, 200));
        },
      });
      assert.ok(failedAfterMs >= 0 && failedAfterMs < 400 + 1000, `failed within the bound (${failedAfterMs} ms)`);
      await pending;
      // Read through the patient store: the quick one may still be inside its
      // reconnect delay (up to 1 s) and would rightly answer UNAVAILABLE.
      assert.deepEqual(await patient.getBatchIds('L'), ['b0', 'b1'], 'the failed write was not applied later; the patient one was');
      assert.equal((await patient.getLecture('L'))?.lectureId, 'L');
    } finally {
      await patient.deleteLecture('L').catch(() => undefined);
      await Promise.all([quick.close(), patient.close()]);
    }
  });
});
