// One STT queue worker, as its own process: takes the transcription jobs that media
// nodes' TranscriptionServices (with `sttQueue`) put in Redis, transcribes each with
// the least busy of its whisper-api servers, and stores the entries in the shared
// Redis transcript store.
//
//   LECTERN_REDIS_URL=redis://127.0.0.1:6379 LECTERN_WHISPER_URLS=http://127.0.0.1:8765,http://127.0.0.1:8766 \
//     bash scripts/run.sh examples/cluster/src/stt-worker.ts
//
// Environment: LECTERN_REDIS_URL (required), LECTERN_WHISPER_URLS (required, comma-
// separated), LECTERN_WHISPER_TOKEN (the servers' WHISPER_API_TOKEN, when set),
// LECTERN_STT_QUEUE (default lectern-stt), LECTERN_TRANSCRIPT_PREFIX (the transcript
// store's key prefix, default the store's), LECTERN_STT_CONCURRENCY (jobs per
// server at once, default 1), LECTERN_STT_TMP_DIR (default the OS temp directory).
// Prints one line on stdout once it takes jobs: {"ready":{"queue","whisper":[…],"pid"}};
// logs go to stderr as JSON lines. SIGTERM/SIGINT: finishes the jobs in progress,
// closes, exits 0. A bad environment: one error line, exit 2.
import { WhisperApiClient } from '@lectern/stt-adapter';
import { DEFAULT_STT_QUEUE_NAME, RedisTranscriptStore, SttQueueWorker } from '@lectern/server-sdk/transcription';

function fail(message: string): never {
  process.stderr.write(`stt-worker: invalid environment: ${message}\n`);
  process.exit(2);
}

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`);
}

const env = process.env;
const redisUrl = env.LECTERN_REDIS_URL ?? '';
if (!/^rediss?:\/\/.+/.test(redisUrl)) fail('LECTERN_REDIS_URL must be a redis:// or rediss:// URL');
const whisperUrls = (env.LECTERN_WHISPER_URLS ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '');
if (whisperUrls.length === 0) fail('LECTERN_WHISPER_URLS must list at least one whisper-api URL (comma-separated)');
const queue = env.LECTERN_STT_QUEUE || DEFAULT_STT_QUEUE_NAME;
const concurrencyText = env.LECTERN_STT_CONCURRENCY || '1';
if (!/^[1-9]\d{0,2}$/.test(concurrencyText)) fail(`LECTERN_STT_CONCURRENCY must be an integer from 1 to 999 (got ${JSON.stringify(concurrencyText)})`);
const token = env.LECTERN_WHISPER_TOKEN || undefined;

let worker: SttQueueWorker;
let store: RedisTranscriptStore;
try {
  const engines = whisperUrls.map((baseUrl) => new WhisperApiClient({ baseUrl, ...(token ? { token } : {}) }));
  store = new RedisTranscriptStore({ url: redisUrl, ...(env.LECTERN_TRANSCRIPT_PREFIX ? { keyPrefix: env.LECTERN_TRANSCRIPT_PREFIX } : {}) });
  worker = new SttQueueWorker({
    connection: redisUrl,
    name: queue,
    engines,
    store,
    concurrency: Number(concurrencyText),
    ...(env.LECTERN_STT_TMP_DIR ? { tmpDir: env.LECTERN_STT_TMP_DIR } : {}),
  });
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
worker.on('batchStored', (e) => log('batchStored', { ...e }));
worker.on('jobError', ({ error, ...e }) => log('jobError', { ...e, code: error.code, message: error.message }));
worker.on('error', ({ error }) => log('error', { code: error.code, message: error.message }));
worker.on('listenerError', ({ event, error }) => log('listenerError', { on: event, message: String(error) }));

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log('stopping', { signal });
  void (async () => {
    let code = 0;
    for (const [what, step] of [['worker', () => worker.close()], ['store', () => store.close()]] as const) {
      try {
        await step();
      } catch (error) {
        code = 1;
        log('closeFailed', { what, message: String(error) });
      }
    }
    log('stopped', { code });
    process.exit(code);
  })();
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

await worker.ready();
process.stdout.write(`${JSON.stringify({ ready: { queue, whisper: whisperUrls, pid: process.pid } })}\n`);
