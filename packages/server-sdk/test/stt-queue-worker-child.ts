// A SttQueueWorker in its own process, for stt-queue.test.ts and bench/stt-queue.ts
// to kill with SIGKILL mid-job. Configured by one JSON argument; prints
// `ready`, `transcribing <jobId-less batch file>` when a request starts, and
// `stored <jobId>` when a batch is stored, one per line.
import { WhisperApiClient, type SttEngine } from '@lectern/stt-adapter';
import { RedisTranscriptStore, SttQueueWorker } from '@lectern/server-sdk/transcription';

interface ChildConfig {
  redisUrl: string;
  keyPrefix: string;
  queue: string;
  whisperUrls: string[];
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** The worker's temp directory: the parent removes it (a SIGKILLed worker cannot). */
  tmpDir: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const engines: SttEngine[] = config.whisperUrls.map((baseUrl) => {
  const client = new WhisperApiClient({ baseUrl });
  // Tells the parent the moment a transcription starts, so it can kill this process mid-job.
  return {
    name: client.name,
    healthy: () => client.healthy(),
    transcribe: (file, options) => {
      console.log(`transcribing ${file}`);
      return client.transcribe(file, options);
    },
  };
});
const store = new RedisTranscriptStore({ url: config.redisUrl, keyPrefix: config.keyPrefix });
const worker = new SttQueueWorker({
  connection: config.redisUrl,
  name: config.queue,
  engines,
  store,
  tmpDir: config.tmpDir,
  stalled: { lockDurationMs: config.lockDurationMs, stalledIntervalMs: config.stalledIntervalMs },
});
worker.on('batchStored', (e) => console.log(`stored ${e.jobId}`));
await worker.ready();
console.log('ready');
process.on('SIGTERM', () => {
  void worker.close().then(() => store.close()).then(() => process.exit(0));
});
