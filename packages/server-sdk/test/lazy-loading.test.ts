// What each entry point loads, observed in a fresh Node process: a module-load
// recorder (synchronous customization hooks, which see every `import` and
// `require` before tsx does, plus `require.cache` for CommonJS) is installed
// before anything of Lectern is imported. The controls prove the recorder
// sees what it must not see elsewhere: execa once the transcription entry
// point is imported, ioredis once a Redis store is constructed, openai once an
// LLM summarizer is.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ErrorCode } from '@lectern/server-sdk';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The recorder, and `snapshot()`: which packages and parts of Lectern are loaded so far. */
const PRELUDE = `
import { createRequire, registerHooks } from 'node:module';
const missing = new Set(JSON.parse(process.env.LECTERN_TEST_MISSING ?? '[]'));
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    if (missing.has(specifier)) {
      const error = new Error("Cannot find module '" + specifier + "'");
      error.code = 'MODULE_NOT_FOUND';
      throw error;
    }
    return next(specifier, context);
  },
  load(url, context, next) {
    loaded.add(url);
    return next(url, context);
  },
});
const require = createRequire(import.meta.url);
const seen = (part) => [...loaded].some((u) => u.includes(part)) || Object.keys(require.cache).some((f) => f.includes(part));
const snapshot = () => ({
  ioredis: seen('/node_modules/ioredis/'),
  openai: seen('/node_modules/openai/'),
  bullmq: seen('/node_modules/bullmq/'),
  execa: seen('/node_modules/execa/'),
  transcription: seen('/server-sdk/src/transcription/'),
  sttAdapter: seen('/stt-adapter/'),
  roomManager: seen('/server-sdk/src/rooms/room-manager.ts'),
  mediasoup: seen('/node_modules/mediasoup/'),
});
const report = {};
const codeOf = (fn) => { try { fn(); return 'no error'; } catch (e) { return { code: e.code, dependency: e.details?.dependency, message: e.message }; } };
`;

async function inFreshNode(body: string, env: Record<string, string> = {}): Promise<Record<string, any>> {
  const script = `${PRELUDE}\n${body}\nconsole.log(JSON.stringify(report));`;
  const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.equal(signal, null, `the child was killed; stderr: ${err}`);
  assert.equal(code, 0, err);
  const last = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, any>;
}

test('importing @lectern/server-sdk loads none of the transcription pipeline: no ioredis, openai, bullmq, execa', async () => {
  const report = await inFreshNode(`
    const sdk = await import('@lectern/server-sdk');
    report.exports = typeof sdk.RoomManager;
    report.after = snapshot();
  `);
  assert.equal(report['exports'], 'function');
  // The recorder works: it saw the SDK's own sources and mediasoup (a CommonJS package).
  assert.equal(report['after'].roomManager, true, 'the recorder saw rooms/room-manager.ts');
  assert.equal(report['after'].mediasoup, true, 'the recorder saw mediasoup');
  assert.deepEqual(
    { ioredis: report['after'].ioredis, openai: report['after'].openai, bullmq: report['after'].bullmq, execa: report['after'].execa, transcription: report['after'].transcription, sttAdapter: report['after'].sttAdapter },
    { ioredis: false, openai: false, bullmq: false, execa: false, transcription: false, sttAdapter: false },
  );
});

test('control: the transcription subpath loads execa; ioredis and openai load only when a store or summarizer that needs them is constructed', async () => {
  const report = await inFreshNode(`
    const t = await import('@lectern/server-sdk/transcription');
    report.imported = snapshot();
    // A host-owned client: the store needs nothing of ioredis itself.
    const hostOwned = new t.RedisTranscriptStore({ redis: { evalsha() {} } });
    await hostOwned.close();
    report.hostOwned = snapshot();
    const owned = new t.RedisTranscriptStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 100 });
    report.redis = snapshot();
    await owned.close();
    new t.OpenAICompatibleSummarizer({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm' });
    report.openai = snapshot();
  `);
  assert.deepEqual(
    { execa: report['imported'].execa, transcription: report['imported'].transcription, ioredis: report['imported'].ioredis, openai: report['imported'].openai, bullmq: report['imported'].bullmq },
    { execa: true, transcription: true, ioredis: false, openai: false, bullmq: false },
    'importing the subpath loads the pipeline and execa, not ioredis, openai or bullmq',
  );
  assert.equal(report['hostOwned'].ioredis, false, 'a store on a host-owned client loads no ioredis');
  assert.equal(report['redis'].ioredis, true, 'a store with a url loads ioredis');
  assert.equal(report['redis'].openai, false);
  assert.equal(report['openai'].openai, true, 'an OpenAI-compatible summarizer loads openai');
  assert.equal(report['openai'].bullmq, false, 'nothing of the above loads bullmq');
});

test('without the optional peers: the subpath still imports, and what needs them fails with INVALID_CONFIG', async () => {
  const report = await inFreshNode(
    `
    const t = await import('@lectern/server-sdk/transcription');
    report.redis = codeOf(() => new t.RedisTranscriptStore({ url: 'redis://127.0.0.1:1' }));
    report.openai = codeOf(() => new t.OpenAICompatibleSummarizer({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm' }));
    report.hostOwned = codeOf(() => new t.RedisTranscriptStore({ redis: { evalsha() {} } }));
    report.worker = codeOf(() => new t.SttQueueWorker({ connection: 'redis://127.0.0.1:1', engines: [{ name: 'e', healthy: async () => true, transcribe: async () => ({}) }], store: new t.MemoryTranscriptStore() }));
    const memory = new t.MemoryTranscriptStore();
    await memory.putBatch('L', 'b0', [{ batchId: 'b0', index: 0, start: 0, end: 1, text: 'Hello.' }]);
    report.offline = (await new t.OfflineSummarizer().summarize({ lectureId: 'L', entries: await memory.getTranscript('L') })).generator;
    report.after = snapshot();
  `,
    { LECTERN_TEST_MISSING: JSON.stringify(['ioredis', 'openai', 'bullmq']) },
  );
  assert.equal(report['redis'].code, ErrorCode.INVALID_CONFIG, JSON.stringify(report['redis']));
  assert.equal(report['redis'].dependency, 'ioredis');
  assert.match(report['redis'].message, /npm install ioredis/);
  assert.equal(report['openai'].code, ErrorCode.INVALID_CONFIG, JSON.stringify(report['openai']));
  assert.equal(report['openai'].dependency, 'openai');
  assert.equal(report['hostOwned'], 'no error');
  assert.equal(report['worker'].code, ErrorCode.INVALID_CONFIG, JSON.stringify(report['worker']));
  assert.equal(report['worker'].dependency, 'bullmq');
  assert.match(report['worker'].message, /npm install bullmq/);
  assert.equal(report['offline'], 'offline-extractive');
  assert.equal(report['after'].ioredis, false);
  assert.equal(report['after'].openai, false);
  assert.equal(report['after'].bullmq, false);
});
