// A lecture's language: 'auto' detects once (the first batch with speech) and
// pins it for the rest; an explicit code goes with every batch; the record,
// lecture.json (recovery) and the summary all see it. Batches are real
// directories the pipeline resumes; the engine is a scripted SttEngine that
// records what each call asked for.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { SttEngine, TranscribeOptions, Transcription } from '@lectern/stt-adapter';
import {
  AUTO_LANGUAGE,
  LecturePipeline,
  MemoryTranscriptStore,
  OfflineSummarizer,
  type BatchManifest,
  type LecturePipelineEvents,
  type SummarizeInput,
} from '@lectern/server-sdk/transcription';
import { DEFAULT_BATCHER_SETTINGS } from '../src/transcription/batch/batcher.js';
import { parseRequestedLanguage } from '../src/transcription/pipeline/lecture-language.js';
import { DEFAULT_STT_STAGE_SETTINGS } from '../src/transcription/pipeline/stt-stage.js';
import { DEFAULT_TAP_SETTINGS } from '../src/transcription/tap/audio-tap.js';

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-language-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** What the engine "hears" in each batch: its language and text (empty = no speech). */
type Heard = Record<string, { language: string; text: string }>;

class ScriptedEngine implements SttEngine {
  readonly name = 'scripted';
  readonly calls: { batch: string; language: string | undefined }[] = [];
  /** Requests wait until the test has subscribed to the pipeline (recovery submits batches at once). */
  readonly open: () => void;
  readonly #gate: Promise<void>;
  constructor(private readonly heard: Heard) {
    let open = () => {};
    this.#gate = new Promise<void>((resolve) => (open = resolve));
    this.open = open;
  }
  async transcribe(filePath: string, options: TranscribeOptions = {}): Promise<Transcription> {
    await this.#gate;
    const batch = path.basename(path.dirname(filePath));
    this.calls.push({ batch, language: options.language });
    const { language, text } = this.heard[batch] ?? { language: 'en', text: '' };
    // An engine told the language answers in it; otherwise it reports what it detected.
    const segments = text ? [{ id: 0, start: 0, end: 5, text }] : [];
    return { language: options.language ?? language, languageProbability: 0.9, duration: 300, segments, text };
  }
  async healthy(): Promise<boolean> {
    return true;
  }
}

class RecordingSummarizer extends OfflineSummarizer {
  readonly inputs: SummarizeInput[] = [];
  override summarize(input: SummarizeInput, options?: { signal?: AbortSignal }) {
    this.inputs.push(input);
    return super.summarize(input, options);
  }
}

/** A lecture directory a process left behind: lecture.json and complete batches b1, b2, ... 5 minutes apart. */
async function leftLecture(name: string, file: Record<string, unknown>, batches: number): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.mkdir(path.join(dir, 'segments'), { recursive: true });
  await fs.writeFile(path.join(dir, 'lecture.json'), JSON.stringify({ version: 1, lectureId: name, roomId: 'room', startedAtMs: Date.now(), ...file }));
  for (let i = 1; i <= batches; i++) {
    const batchDir = path.join(dir, 'batches', `b${i}`);
    await fs.mkdir(batchDir, { recursive: true });
    await fs.writeFile(path.join(batchDir, 'audio.wav'), Buffer.alloc(64));
    const offset = (i - 1) * 300;
    const manifest: BatchManifest = {
      version: 1, lectureId: name, batchId: `b${i}`, streamKey: 's', file: 'audio.wav', format: 'wav', createdAt: '', duration: 300, offset,
      parts: [{ batchStart: 0, offset, duration: 300, partial: false }],
    };
    await fs.writeFile(path.join(batchDir, 'manifest.json'), JSON.stringify(manifest));
  }
  return dir;
}

async function run(dir: string, heard: Heard) {
  const engine = new ScriptedEngine(heard);
  const store = new MemoryTranscriptStore();
  const summarizer = new RecordingSummarizer();
  const settings = {
    tap: DEFAULT_TAP_SETTINGS,
    batch: DEFAULT_BATCHER_SETTINGS,
    stt: { ...DEFAULT_STT_STAGE_SETTINGS, retryMinDelayMs: 10, retryMaxDelayMs: 20 },
    finalizeTimeoutMs: 20_000,
  };
  const pipeline = await LecturePipeline.recover(dir, { engine, store, summarizer, settings });
  assert.ok(pipeline);
  const detected: LecturePipelineEvents['languageDetected'][] = [];
  const errors: LecturePipelineEvents['pipelineError'][] = [];
  pipeline.on('languageDetected', (e) => detected.push(e));
  pipeline.on('pipelineError', (e) => errors.push(e));
  engine.open();
  const summary = await pipeline.stop();
  assert.deepEqual(errors, []);
  return { engine, store, summarizer, pipeline, detected, summary };
}

const KOREAN = { language: 'ko', text: '오늘은 광합성에 대해 배웁니다 식물은 햇빛으로 양분을 만듭니다' };
const KOREAN_2 = { language: 'ko', text: '광합성의 결과로 산소가 만들어집니다 감사합니다' };

test("'auto': a batch without speech decides nothing; the first with speech pins the language for every later batch", async () => {
  // b2 is Korean; b3 would be misdetected as Japanese if it were asked again.
  const dir = await leftLecture('auto', { requestedLanguage: 'auto' }, 3);
  const { engine, store, summarizer, pipeline, detected, summary } = await run(dir, {
    b1: { language: 'en', text: '' },
    b2: KOREAN,
    b3: { ...KOREAN_2, language: 'ja' },
  });
  assert.deepEqual(engine.calls, [
    { batch: 'b1', language: undefined },
    { batch: 'b2', language: undefined },
    { batch: 'b3', language: 'ko' },
  ]);
  assert.deepEqual(detected, [{ lectureId: 'auto', batchId: 'b2', language: 'ko', probability: 0.9 }]);
  assert.equal(pipeline.language, 'ko');
  assert.equal(pipeline.requestedLanguage, AUTO_LANGUAGE);
  const record = await store.getLecture('auto');
  assert.equal(record?.language, 'ko');
  assert.equal(record?.requestedLanguage, 'auto');
  assert.ok(record?.endedAt);
  assert.equal(summarizer.inputs[0]?.language, 'ko', 'the summary is made in the detected language');
  assert.ok(summary.keyPoints.length >= 1 && summary.keyPoints.every((p) => /[가-힣]/u.test(p)), JSON.stringify(summary));
});

test('an explicit language goes with every batch and nothing is detected', async () => {
  const dir = await leftLecture('explicit', { requestedLanguage: 'ko', language: 'ko' }, 2);
  const { engine, store, detected } = await run(dir, { b1: KOREAN, b2: KOREAN_2 });
  assert.deepEqual(engine.calls.map((c) => c.language), ['ko', 'ko']);
  assert.deepEqual(detected, []);
  assert.equal((await store.getLecture('explicit'))?.language, 'ko');
});

test('a recovered lecture keeps the language it detected before the crash (lecture.json)', async () => {
  // What a lecture interrupted after detection leaves behind:
  const again = await leftLecture('recovered', { requestedLanguage: 'auto', language: 'ko' }, 1);
  const { engine, detected } = await run(again, { b1: { ...KOREAN_2, language: 'ja' } });
  assert.deepEqual(engine.calls.map((c) => c.language), ['ko']);
  assert.deepEqual(detected, []);
});

test("lecture.json of a lecture running with 'auto' records the detected language as soon as it is known", async () => {
  const dir = await leftLecture('file', { requestedLanguage: 'auto' }, 2);
  const engine = new ScriptedEngine({ b1: KOREAN, b2: KOREAN_2 });
  const settings = { tap: DEFAULT_TAP_SETTINGS, batch: DEFAULT_BATCHER_SETTINGS, stt: DEFAULT_STT_STAGE_SETTINGS, finalizeTimeoutMs: 20_000 };
  const pipeline = await LecturePipeline.recover(dir, { engine, store: new MemoryTranscriptStore(), summarizer: new OfflineSummarizer(), settings });
  assert.ok(pipeline);
  const seen = new Promise<void>((resolve) => pipeline.once('languageDetected', () => resolve()));
  engine.open();
  await seen;
  // Written right after the event (atomic write), before the lecture ends.
  let file: { language?: string; requestedLanguage?: string } = {};
  for (let i = 0; i < 50 && file.language === undefined; i++) {
    await new Promise((r) => setTimeout(r, 10));
    file = JSON.parse(await fs.readFile(path.join(dir, 'lecture.json'), 'utf8').catch(() => '{}')) as typeof file;
  }
  assert.deepEqual({ language: file.language, requestedLanguage: file.requestedLanguage }, { language: 'ko', requestedLanguage: 'auto' });
  await pipeline.stop();
});

test('requested languages: auto or an ISO 639-1 code, anything else refused', () => {
  assert.equal(parseRequestedLanguage(' KO '), 'ko');
  assert.equal(parseRequestedLanguage('auto'), 'auto');
  assert.equal(parseRequestedLanguage('haw'), 'haw');
  assert.equal(parseRequestedLanguage('ko-KR'), 'ko', 'a BCP 47 tag is reduced to its language');
  for (const bad of ['korean', 'ko_KR', '', 'k', '한국어']) {
    assert.throws(() => parseRequestedLanguage(bad), (e: { code?: string }) => e.code === 'INVALID_REQUEST', bad);
  }
});
