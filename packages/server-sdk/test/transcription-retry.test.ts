// Who retries what, for one batch: the STT stage (lecture-long, the batch stays
// on disk) around the real WhisperApiClient (a bounded number of HTTP tries per
// call), against a local HTTP server that counts every request. The layers
// must nest exactly once: requests = Σ over stage attempts of the client's
// tries, each ≤ 1 + retries.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { MemoryTranscriptStore, type BatchManifest } from '@lectern/server-sdk/transcription';
import { waitFor } from '@lectern/testkit';
import { DeletionQueue } from '../src/transcription/batch/deletion-queue.js';
import { SttStage, DEFAULT_STT_STAGE_SETTINGS, type SttStageEvents } from '../src/transcription/pipeline/stt-stage.js';

let tmp: string;
let server: Server;
let baseUrl: string;
let requests = 0;
/** Status to answer request number n (1-based) with; 200 = a transcription. */
let answer: (n: number) => number = () => 503;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-retry-'));
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = answer(++requests);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 200
            ? { language: 'en', duration: 1, text: 'hello', segments: [{ id: 0, start: 0, end: 1, text: 'hello' }] }
            : { error: { code: status === 400 ? 'invalid_audio' : status === 401 ? 'unauthorized' : 'busy', message: 'no' } },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await fs.rm(tmp, { recursive: true, force: true });
});

let batches = 0;
async function readyBatch(): Promise<{ dir: string; manifest: BatchManifest; root: string }> {
  const root = path.join(tmp, `lecture-${++batches}`);
  const dir = path.join(root, 'batches', 'b1');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'audio.wav'), Buffer.alloc(64));
  const manifest: BatchManifest = {
    version: 1, lectureId: 'L', batchId: 'b1', streamKey: 's', file: 'audio.wav', format: 'wav', createdAt: '', duration: 1, offset: 0,
    parts: [{ batchStart: 0, offset: 0, duration: 1, partial: false }],
  };
  return { dir, manifest, root };
}

function stage(root: string, store = new MemoryTranscriptStore(), maxRejections = 3) {
  const engine = new WhisperApiClient({ baseUrl, retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 10 });
  const deletion = new DeletionQueue();
  const stt = new SttStage('L', engine, store, deletion, path.join(root, 'failed'), {
    ...DEFAULT_STT_STAGE_SETTINGS,
    retryMinDelayMs: 10,
    retryMaxDelayMs: 30,
    maxRejections,
  });
  const errors: SttStageEvents['error'][] = [];
  const transcribed: SttStageEvents['batchTranscribed'][] = [];
  stt.on('error', (e) => errors.push(e));
  stt.on('batchTranscribed', (e) => transcribed.push(e));
  return { stt, errors, transcribed, deletion, store };
}

test('an engine that stays down: each stage attempt is one client call of ≤ 1 + retries requests; the batch stays on disk', async () => {
  requests = 0;
  answer = () => 503;
  const { dir, manifest, root } = await readyBatch();
  const { stt, errors } = stage(root);
  stt.submit({ dir, manifest });
  await waitFor('three stage attempts', () => errors.length >= 3, 10_000);
  await stt.stop();
  // A request sent just before stop() may reach this server's handler a little
  // later (same event loop, loaded machine): count once those have arrived.
  await new Promise((r) => setTimeout(r, 100));
  const seen = requests;
  for (const [i, e] of errors.entries()) {
    assert.equal(e.stage, 'stt');
    assert.equal(e.willRetry, true);
    assert.deepEqual(e.error.details, { attempt: i + 1, engineAttempts: 2 }, 'stage attempt n made one call of 2 requests');
  }
  // The stop may cut one more attempt short; nothing else made a request.
  assert.ok(seen >= 2 * errors.length && seen <= 2 * (errors.length + 1), `${seen} requests for ${errors.length} failed stage attempts`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(requests, seen, 'no request after stop()');
  assert.ok(await fs.stat(path.join(dir, 'audio.wav')), 'the batch is still on disk for recovery');
});

test('recovery in the second stage attempt: attempt counts the stage, requests count the client', async () => {
  requests = 0;
  answer = (n) => (n <= 3 ? 503 : 200); // attempt 1: requests 1+2 fail; attempt 2: request 3 fails, 4 succeeds
  const { dir, manifest, root } = await readyBatch();
  const { stt, errors, transcribed, deletion, store } = stage(root);
  stt.submit({ dir, manifest });
  await waitFor('the batch is stored', () => transcribed.length === 1 && stt.pending === 0, 10_000);
  await stt.stop();
  await deletion.drain();
  assert.equal(requests, 4);
  assert.equal(errors.length, 1);
  assert.equal(transcribed[0]!.attempt, 2);
  assert.deepEqual((await store.getTranscript('L')).map((e) => e.text), ['hello']);
  await assert.rejects(fs.stat(dir), 'a stored batch is deleted');
});

test('input the engine refuses is neither retried by the client nor forever by the stage: maxRejections, then failed/', async () => {
  requests = 0;
  answer = () => 400;
  const { dir, manifest, root } = await readyBatch();
  const { stt, errors } = stage(root, new MemoryTranscriptStore(), 3);
  stt.submit({ dir, manifest });
  await stt.idle();
  await stt.stop();
  assert.equal(requests, 3, 'one request per stage attempt, three attempts');
  assert.deepEqual(errors.map((e) => e.willRetry), [true, true, false]);
  assert.deepEqual(errors.map((e) => e.error.details), [1, 2, 3].map((attempt) => ({ attempt, engineAttempts: 1 })));
  assert.ok(await fs.stat(path.join(root, 'failed', 'b1', 'audio.wav')), 'kept in failed/ for an operator');
});

test('refused credentials are a configuration error, not bad input: the batch is kept and retried until the token works', async () => {
  requests = 0;
  answer = (n) => (n <= 5 ? 401 : 200); // five stage attempts refused (more than maxRejections), then the operator fixes the token
  const { dir, manifest, root } = await readyBatch();
  const { stt, errors, transcribed, deletion, store } = stage(root, new MemoryTranscriptStore(), 3);
  stt.submit({ dir, manifest });
  await waitFor('the batch is stored', () => transcribed.length === 1 && stt.pending === 0, 10_000);
  await stt.stop();
  await deletion.drain();
  assert.equal(requests, 6, 'UNAUTHORIZED is not retried inside the client: one request per stage attempt');
  assert.equal(errors.length, 5);
  assert.ok(errors.every((e) => e.willRetry), 'never given up on');
  assert.deepEqual((await store.getTranscript('L')).map((e) => e.text), ['hello']);
  await assert.rejects(fs.stat(path.join(root, 'failed', 'b1')), 'not moved to failed/');
});
