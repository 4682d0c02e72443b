// The pipeline's stages one by one: timeline mapping, the batcher (real FFmpeg
// concat + encode), the deletion queue, and the service's refusals.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { audioDuration, RoomTestPeer, requester, startProcess } from '@lectern/testkit';
import type { SttEngine, Transcription } from '@lectern/stt-adapter';
import { ErrorCode, LecternError, RoomManager } from '@lectern/server-sdk';
import { toTimeline, TranscriptionService, type BatchManifest } from '@lectern/server-sdk/transcription';
import { Batcher, DEFAULT_BATCHER_SETTINGS, type ReadyBatch } from '../src/transcription/batch/batcher.js';
import { DeletionQueue } from '../src/transcription/batch/deletion-queue.js';
import { readWav } from '../src/transcription/tap/wav.js';
import type { AudioSegment } from '../src/transcription/tap/audio-tap.js';

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-stages-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function sineWav(file: string, seconds: number, hz: number): Promise<void> {
  const p = startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=16000:duration=${seconds}`, '-ac', '1', '-c:a', 'pcm_s16le', file]);
  assert.equal(await p.exited, 0, p.stderr());
}

async function segments(dir: string, durations: number[], startOffset = 0): Promise<AudioSegment[]> {
  await fs.mkdir(dir, { recursive: true });
  let offset = startOffset;
  const out: AudioSegment[] = [];
  for (const [i, d] of durations.entries()) {
    const file = path.join(dir, `seg-${i}.wav`);
    await sineWav(file, d, 300 + 100 * i);
    out.push({ streamKey: 'lecturer:microphone', producerId: 'p1', path: file, offset, duration: d, partial: false });
    offset += d + 2; // a 2 s gap between segments (a pause)
  }
  return out;
}

test('toTimeline: batch times map back to each part\'s lecture offset, across gaps', () => {
  const manifest: BatchManifest = {
    version: 1, lectureId: 'l', batchId: 'b', streamKey: 's', file: 'audio.mp3', format: 'mp3', createdAt: '', duration: 20, offset: 100,
    parts: [
      { batchStart: 0, offset: 100, duration: 10, partial: false },
      { batchStart: 10, offset: 130, duration: 10, partial: false }, // 20 s pause before this part
    ],
  };
  const result: Transcription = {
    language: 'en', duration: 20, text: '',
    segments: [
      { id: 0, start: 1, end: 4, text: ' first ', words: [{ start: 1, end: 1.5, word: 'first', probability: 0.9 }] },
      { id: 1, start: 12.5, end: 15, text: 'second' },
      { id: 2, start: 16, end: 17, text: '   ' },
    ],
  };
  const entries = toTimeline(result, manifest);
  assert.deepEqual(entries.map((e) => [e.start, e.end, e.text, e.index]), [[101, 104, 'first', 0], [132.5, 135, 'second', 1]]);
  assert.deepEqual(entries[0]!.words, [{ start: 101, end: 101.5, word: 'first', probability: 0.9 }]);
});

test('batcher: N segments → one batch by concat (PCM copied, not re-encoded), encoded once, segments deleted after the manifest', async () => {
  const dir = path.join(tmp, 'batch-wav');
  const segs = await segments(path.join(dir, 'segments'), [1, 1.5, 2]);
  const deletion = new DeletionQueue();
  const batcher = new Batcher('lecture-1', path.join(dir, 'batches'), deletion, { ...DEFAULT_BATCHER_SETTINGS, segmentsPerBatch: 3, transferFormat: 'wav' });
  const ready: ReadyBatch[] = [];
  batcher.on('batchReady', (b) => ready.push(b));
  const pcm = await Promise.all(segs.map(async (s) => {
    const info = (await readWav(s.path))!;
    return (await fs.readFile(s.path)).subarray(info.dataOffset, info.dataOffset + info.dataBytes);
  }));
  for (const s of segs) await batcher.add(s);
  await batcher.flush();
  assert.equal(ready.length, 1);
  const { manifest, dir: batchDir } = ready[0]!;
  assert.deepEqual(manifest.parts.map((p) => [p.batchStart, p.offset, p.duration]), [[0, 0, 1], [1, 3, 1.5], [2.5, 6.5, 2]]);
  assert.equal(manifest.duration, 4.5);
  // Stream copy: the batch's samples are exactly the segments' samples back to back.
  const out = path.join(batchDir, manifest.file);
  const info = (await readWav(out))!;
  const data = (await fs.readFile(out)).subarray(info.dataOffset, info.dataOffset + info.dataBytes);
  assert.ok(data.equals(Buffer.concat(pcm)), 'PCM identical to the concatenated segments');
  await deletion.drain();
  assert.deepEqual(await fs.readdir(path.join(dir, 'segments')), [], 'segments and their metadata deleted');
  assert.deepEqual((await fs.readdir(batchDir)).sort(), ['audio.wav', 'manifest.json']);
});

test('batcher: MP3 by default, a batch every N segments, the partial rest on flush', async () => {
  const dir = path.join(tmp, 'batch-mp3');
  const segs = await segments(path.join(dir, 'segments'), [2, 2, 2, 2, 1]);
  const deletion = new DeletionQueue();
  const batcher = new Batcher('lecture-2', path.join(dir, 'batches'), deletion, { ...DEFAULT_BATCHER_SETTINGS, segmentsPerBatch: 2 });
  const ready: ReadyBatch[] = [];
  batcher.on('batchReady', (b) => ready.push(b));
  for (const s of segs) await batcher.add(s);
  assert.equal(batcher.pendingSegments, 1);
  await batcher.flush();
  assert.deepEqual(ready.map((b) => b.manifest.parts.length), [2, 2, 1]);
  for (const b of ready) {
    assert.equal(b.manifest.format, 'mp3');
    const seconds = await audioDuration(path.join(b.dir, b.manifest.file));
    // MP3 rounds up to whole frames (1152 samples = 72 ms at 16 kHz) plus encoder padding.
    assert.ok(seconds >= b.manifest.duration - 0.01 && seconds - b.manifest.duration < 0.2, `mp3 ${seconds} s vs ${b.manifest.duration} s`);
  }
  assert.equal(new Set(ready.map((b) => b.manifest.batchId)).size, 3, 'batch ids unique (by stream and offset)');
  await deletion.drain();
  assert.deepEqual(await fs.readdir(path.join(dir, 'segments')), []);
});

test('deletion queue: sequential, never throws, reports what it could not delete', async () => {
  const dir = path.join(tmp, 'delete');
  await fs.mkdir(path.join(dir, 'a'), { recursive: true });
  await fs.writeFile(path.join(dir, 'a', 'x'), 'x');
  await fs.writeFile(path.join(dir, 'b'), 'b');
  const failures: string[] = [];
  const queue = new DeletionQueue((p) => failures.push(p));
  queue.enqueue(path.join(dir, 'a'), path.join(dir, 'b'), path.join(dir, 'missing'), '\0bad');
  assert.ok(queue.pending > 0);
  await queue.drain();
  assert.deepEqual(await fs.readdir(dir), []);
  assert.deepEqual(failures, ['\0bad']);
});

test('the service refuses unsafe or invalid configuration and bad requests with typed errors', async () => {
  const manager = await RoomManager.create({ workers: { numWorkers: 1 } });
  // Healthy (the start-up check passes) but never called: no audio reaches it here.
  const engine: SttEngine = { name: 'unused', transcribe: () => Promise.reject(new Error('unused')), healthy: async () => true };
  const code = (c: string) => (e: unknown) => e instanceof LecternError && e.code === c;
  try {
    for (const tapListenIp of ['0.0.0.0', '10.0.0.1', '::']) {
      assert.throws(() => new TranscriptionService(manager, { engine, tapListenIp }), code(ErrorCode.INVALID_CONFIG), tapListenIp);
    }
    assert.throws(() => new TranscriptionService(manager, { engine, transferFormat: 'ogg' as 'mp3' }), code(ErrorCode.INVALID_CONFIG));
    assert.throws(() => new TranscriptionService(manager, { engine, segmentSeconds: 0 }), code(ErrorCode.INVALID_CONFIG));

    const service = new TranscriptionService(manager, { engine, workDir: path.join(tmp, 'svc') });
    await assert.rejects(service.startTranscription('nope'), code(ErrorCode.NOT_FOUND));
    const peer = await RoomTestPeer.join(requester(manager, 'svc', 'lecturer', 'lecturer'));
    for (const lectureId of ['../etc', '', 'a/b', 'x'.repeat(200), '.hidden']) {
      await assert.rejects(service.startTranscription('svc', { lectureId }), code(ErrorCode.INVALID_REQUEST), lectureId);
    }
    await service.startTranscription('svc', { lectureId: 'svc-1' });
    await assert.rejects(service.startTranscription('svc'), code(ErrorCode.INVALID_STATE));
    await assert.rejects(service.stopTranscription('other'), code(ErrorCode.NOT_FOUND));
    // The room closing ends the lecture (its summary is made from an empty transcript).
    const stopped = new Promise((resolve) => service.once('transcriptionStopped', resolve));
    manager.closeRoom('svc');
    await stopped;
    assert.deepEqual(service.activeRooms, []);
    await peer.leave().catch(() => undefined);
    await service.close();
    await assert.rejects(service.startTranscription('svc'), code(ErrorCode.CLOSED));
  } finally {
    await manager.close();
  }
});
