// Transcripts out of the service: a room's lectures (status through a real
// start → stop), WebVTT / SRT exports checked by a strict parser, and the
// engine check at startTranscription (nothing starts when the engine is down
// or English-only for a non-English lecture).
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, LecternError, RoomManager } from '@lectern/server-sdk';
import { MemoryTranscriptStore, TranscriptionService, type TranscriptEntry } from '@lectern/server-sdk/transcription';
import { WhisperApiClient, type SttEngine } from '@lectern/stt-adapter';
import { RoomTestPeer } from '@lectern/testkit';
import { requester } from './helpers.js';
import { SubtitleSyntaxError, parseSrt, parseWebVtt } from './subtitle-parser.js';

let manager: RoomManager;
let tmp: string;
before(async () => {
  manager = await RoomManager.create({ workers: { numWorkers: 1 } });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-transcript-out-'));
});
after(async () => {
  await manager?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const engine = (healthy: () => Promise<boolean>, extra: Partial<SttEngine> = {}): SttEngine => ({
  name: 'fake-stt',
  transcribe: () => Promise.reject(new Error('no audio reaches this engine')),
  healthy,
  ...extra,
});

const entry = (batchId: string, index: number, start: number, end: number, text: string): TranscriptEntry => ({ batchId, index, start, end, text });

function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<LecternError> {
  return promise.then(
    () => assert.fail(`expected ${code}`),
    (error: unknown) => {
      assert.ok(error instanceof LecternError, String(error));
      assert.equal(error.code, code, error.message);
      return error;
    },
  );
}

describe('the strict subtitle parser (control: it rejects what players reject)', () => {
  const bad: [string, string, (t: string) => unknown][] = [
    ['no header', '00:00:00.000 --> 00:00:01.000\nhi\n', parseWebVtt],
    ['comma in a WebVTT time', 'WEBVTT\n\n00:00:00,000 --> 00:00:01.000\nhi\n', parseWebVtt],
    ['empty cue', 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n', parseWebVtt],
    ['overlap', 'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\na\n\n00:00:01.000 --> 00:00:03.000\nb\n', parseWebVtt],
    ['out of order', 'WEBVTT\n\n00:00:05.000 --> 00:00:06.000\na\n\n00:00:01.000 --> 00:00:02.000\nb\n', parseWebVtt],
    ['zero length', 'WEBVTT\n\n00:00:01.000 --> 00:00:01.000\na\n', parseWebVtt],
    ['61 seconds', 'WEBVTT\n\n00:00:61.000 --> 00:01:02.000\na\n', parseWebVtt],
    ['a tag', 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<b>a</b>\n', parseWebVtt],
    ['SRT counter from 0', '0\n00:00:00,000 --> 00:00:01,000\na\n', parseSrt],
    ['SRT dot time', '1\n00:00:00.000 --> 00:00:01.000\na\n', parseSrt],
    ['SRT blank line in a cue', '1\n00:00:00,000 --> 00:00:01,000\na\n\n\nb\n', parseSrt],
  ];
  for (const [what, text, parse] of bad) {
    test(what, () => assert.throws(() => parse(text), SubtitleSyntaxError));
  }
  test('accepts a valid file', () => {
    assert.deepEqual(parseWebVtt('WEBVTT\n\n00:00:00.000 --> 00:00:01.000\na &amp; b\n\nid\n00:00:01.000 --> 01:00:00.500\nc\nd\n'), [
      { startMs: 0, endMs: 1000, lines: ['a &amp; b'] },
      { startMs: 1000, endMs: 3_600_500, lines: ['c', 'd'] },
    ]);
  });
});

describe('TranscriptionService.exportTranscript', () => {
  let store: MemoryTranscriptStore;
  let service: TranscriptionService;
  before(async () => {
    store = new MemoryTranscriptStore();
    service = new TranscriptionService(manager, { engine: engine(async () => true), store, workDir: path.join(tmp, 'export') });
    // Two streams (lecturer microphone and a second source) whose entries overlap,
    // an engine segment that overlaps the next, two entries with one start, an empty one.
    await store.putLecture({ lectureId: 'bio-1', roomId: 'bio', startedAt: '2024-05-01T09:00:00.000Z', endedAt: '2024-05-01T10:00:00.000Z', language: 'en' });
    await store.putBatch('bio-1', 'mic-0', [
      entry('mic-0', 0, 0, 4.2, 'Good morning, everyone.'),
      entry('mic-0', 1, 4, 9, 'Today: cells & <membranes> --> transport.'),
      entry('mic-0', 2, 9, 9.5, '   '),
      entry('mic-0', 3, 12, 70, 'A very long explanation that goes on and on about how the phospholipid bilayer lets small molecules through while it keeps ions out, which needs many lines of subtitles to show.'),
    ]);
    await store.putBatch('bio-1', 'screen-0', [entry('screen-0', 0, 2, 6, 'Slide audio.'), entry('screen-0', 1, 12, 13, 'Same start.')]);
    await store.putLecture({ lectureId: 'ko-1', roomId: 'bio', startedAt: '2024-05-02T09:00:00.000Z', language: 'ko' });
    await store.putBatch('ko-1', 'b0', [entry('b0', 0, 0, 8, '안녕하세요 여러분 오늘은 광합성에 대해 배웁니다 식물은 햇빛으로 양분을 만듭니다')]);
    await store.putLecture({ lectureId: 'empty-1', roomId: 'bio', startedAt: '2024-05-03T09:00:00.000Z' });
  });
  after(async () => {
    await service.close();
    await store.close();
  });

  test('WebVTT and SRT of the same lecture: valid, ordered, never overlapping, the same cues and text', async () => {
    const vtt = await service.exportTranscript('bio-1', 'vtt');
    const srt = await service.exportTranscript('bio-1', 'srt');
    assert.deepEqual(
      [vtt.contentType, vtt.fileName, srt.contentType, srt.fileName],
      ['text/vtt; charset=utf-8', 'bio-1.vtt', 'application/x-subrip; charset=utf-8', 'bio-1.srt'],
    );
    const vttCues = parseWebVtt(vtt.text);
    const srtCues = parseSrt(srt.text);
    assert.deepEqual(srtCues, vttCues);
    assert.equal(vtt.cues, vttCues.length);
    assert.ok(vttCues.length >= 6, `the long entry is split: ${vttCues.length} cues`);
    // Every word of every non-empty entry is there, escaped, in time order of the entries.
    const all = vttCues.flatMap((c) => c.lines).join(' ');
    for (const words of ['Good morning, everyone.', 'Today: cells &amp; &lt;membranes&gt; --&gt; transport.', 'Slide audio.', 'Same start.', 'phospholipid bilayer']) {
      assert.ok(all.includes(words), `${words} in ${all}`);
    }
    assert.equal(vttCues[0]!.startMs, 0);
    assert.equal(vttCues[0]!.endMs, 2000, 'the first cue ends where the overlapping one starts');
    assert.equal(vttCues.at(-1)!.endMs, 70_000);
  });

  test("the lecture's language sets the line length (Korean: 16 graphemes)", async () => {
    const cues = parseWebVtt((await service.exportTranscript('ko-1', 'vtt')).text);
    assert.ok(cues.flatMap((c) => c.lines).every((l) => [...new Intl.Segmenter('ko', { granularity: 'grapheme' }).segment(l)].length <= 16));
    assert.equal(cues.flatMap((c) => c.lines).join(' '), '안녕하세요 여러분 오늘은 광합성에 대해 배웁니다 식물은 햇빛으로 양분을 만듭니다');
  });

  test('a lecture with no transcript yet exports as files without cues; unknown lectures and formats are refused', async () => {
    const vtt = await service.exportTranscript('empty-1', 'vtt');
    assert.equal(vtt.text, 'WEBVTT\n');
    assert.deepEqual(parseWebVtt(vtt.text), []);
    assert.equal(vtt.cues, 0);
    assert.equal((await service.exportTranscript('empty-1', 'srt')).text, '');
    await rejectsWith(service.exportTranscript('nope', 'vtt'), ErrorCode.NOT_FOUND);
    await rejectsWith(service.exportTranscript('bio-1', 'txt' as 'vtt'), ErrorCode.INVALID_REQUEST);
    await rejectsWith(service.exportTranscript('../bio-1', 'srt'), ErrorCode.INVALID_REQUEST);
  });
});

describe('startTranscription checks the engine first', () => {
  /** A whisper-api stand-in answering GET /health with `body` (or not at all). */
  async function healthServer(body: Record<string, unknown>): Promise<{ url: string; close(): Promise<void> }> {
    const server = http.createServer((request, response) => {
      if (request.url === '/health') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  /** Asserts nothing of a lecture exists: no pipeline, no working directory, no store record. */
  async function assertNothingStarted(service: TranscriptionService, roomId: string, workDir: string): Promise<void> {
    assert.equal(service.pipeline(roomId), undefined, 'no pipeline (so no tap, no FFmpeg)');
    assert.deepEqual(service.activeRooms, []);
    assert.deepEqual(await fs.readdir(workDir).catch(() => []), [], 'no lecture directory');
    assert.deepEqual(await service.listLectures(roomId), [], 'no store record');
    assert.equal(manager.getRoom(roomId)?.stats().serverConsumers ?? 0, 0, 'no server consumer');
  }

  test('an unhealthy, failing or silent engine: UNAVAILABLE with details.engine, within the time limit, nothing started', async () => {
    const peer = await RoomTestPeer.join(requester(manager, 'check', 'lecturer', 'lecturer'));
    try {
      const cases: [string, SttEngine, string][] = [
        ['unhealthy', engine(async () => false), 'unhealthy'],
        ['throws', engine(() => Promise.reject(new Error('connection refused'))), 'error'],
        ['never answers', engine(() => new Promise<boolean>(() => undefined)), 'timeout'],
      ];
      for (const [what, stt, reason] of cases) {
        const workDir = path.join(tmp, `check-${reason}`);
        const service = new TranscriptionService(manager, { engine: stt, workDir, engineCheck: { timeoutMs: 300 } });
        try {
          const t0 = Date.now();
          const error = await rejectsWith(service.startTranscription('check', { lectureId: `check-${reason}` }), ErrorCode.UNAVAILABLE);
          assert.ok(Date.now() - t0 < 2000, `${what}: bounded (${Date.now() - t0} ms)`);
          assert.deepEqual(error.details, { engine: 'fake-stt', reason }, what);
          assert.match(error.message, /fake-stt/);
          await assertNothingStarted(service, 'check', workDir);
        } finally {
          await service.close();
        }
      }
      // A real client with nothing listening: the same, through WhisperApiClient.healthy().
      const down = new TranscriptionService(manager, { engine: new WhisperApiClient({ baseUrl: 'http://127.0.0.1:9' }), workDir: path.join(tmp, 'down') });
      try {
        const error = await rejectsWith(down.startTranscription('check'), ErrorCode.UNAVAILABLE);
        assert.equal(error.details?.engine, 'whisper-api');
        await assertNothingStarted(down, 'check', path.join(tmp, 'down'));
      } finally {
        await down.close();
      }
    } finally {
      await peer.leave().catch(() => undefined);
    }
  });

  test('an English-only engine refuses a Korean lecture up front; English and auto start; a multilingual one takes Korean', async () => {
    const englishOnly = await healthServer({ status: 'ok', model: 'tiny.en', multilingual: false });
    const multilingual = await healthServer({ status: 'ok', model: 'base', multilingual: true });
    const peer = await RoomTestPeer.join(requester(manager, 'langs', 'lecturer', 'lecturer'));
    const workDir = path.join(tmp, 'langs');
    try {
      // One service per manager at a time (each registers its metrics on the manager's registry).
      const english = new TranscriptionService(manager, { engine: new WhisperApiClient({ baseUrl: englishOnly.url }), workDir });
      try {
        const error = await rejectsWith(english.startTranscription('langs', { lectureId: 'langs-ko', language: 'ko-KR' }), ErrorCode.INVALID_REQUEST);
        assert.deepEqual(error.details, { engine: 'whisper-api', reason: 'unsupported-language', language: 'ko', model: 'tiny.en' });
        assert.match(error.message, /English-only/);
        await assertNothingStarted(english, 'langs', workDir);
        for (const language of ['en', 'auto'] as const) {
          const started = await english.startTranscription('langs', { lectureId: `langs-${language}`, language });
          assert.equal(started.requestedLanguage, language);
          await english.stopTranscription('langs');
        }
        assert.deepEqual(
          (await english.listLectures('langs')).map((l) => `${l.lectureId} ${l.status}`).sort(),
          ['langs-auto summarised', 'langs-en summarised'],
        );
      } finally {
        await english.close();
      }
      const multi = new TranscriptionService(manager, { engine: new WhisperApiClient({ baseUrl: multilingual.url }), workDir });
      try {
        await multi.startTranscription('langs', { lectureId: 'langs-ko', language: 'ko' });
        assert.deepEqual((await multi.listLectures('langs')).map((l) => [l.lectureId, l.status, l.requestedLanguage]), [['langs-ko', 'running', 'ko']]);
        await multi.stopTranscription('langs');
        assert.deepEqual((await multi.listLectures('langs', { status: 'summarised' })).map((l) => l.lectureId), ['langs-ko']);
      } finally {
        await multi.close();
      }
    } finally {
      await peer.leave().catch(() => undefined);
      await Promise.all([englishOnly.close(), multilingual.close()]);
    }
  });

  test('engineCheck: false skips the check; a bad time limit is INVALID_CONFIG', async () => {
    assert.throws(
      () => new TranscriptionService(manager, { engine: engine(async () => true), engineCheck: { timeoutMs: 0 } }),
      (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_CONFIG,
    );
    const peer = await RoomTestPeer.join(requester(manager, 'nocheck', 'lecturer', 'lecturer'));
    let asked = 0;
    const service = new TranscriptionService(manager, {
      engine: engine(async () => (asked++, false)),
      workDir: path.join(tmp, 'nocheck'),
      engineCheck: false,
    });
    try {
      await service.startTranscription('nocheck', { lectureId: 'nocheck-1' });
      assert.equal(asked, 0, 'healthy() was not called');
      assert.deepEqual((await service.listLectures('nocheck')).map((l) => l.status), ['running']);
      await service.stopTranscription('nocheck');
      assert.deepEqual((await service.listLectures('nocheck')).map((l) => l.status), ['summarised']);
    } finally {
      await peer.leave().catch(() => undefined);
      await service.close();
    }
  });
});
