// STT on the BullMQ queue (TranscriptionService `sttQueue` + SttQueueWorker):
//
//   npm run bench:stt-queue -- [--batches 12] [--batch-seconds 60] [--rounds 2] [--kill-jobs 100] [--kill-batch-seconds 5] [--model tiny.en] [--json]
//
//  1. Throughput: --batches MP3 batches of --batch-seconds of flite speech go
//     through the queue, served by 1 whisper-api server, then by 2 (one
//     SttQueueWorker per server), alternating 1, 2, 1, 2 ... for --rounds
//     rounds; each server is limited to one core (taskset, core 0 and core 1)
//     and one thread (WHISPER_CPU_THREADS=1, WHISPER_MAX_CONCURRENCY=1).
//     Reported: batches per minute per variant (mean and spread over the
//     rounds) and the ratio 2 servers / 1 server (target >= 1.8).
//  2. Crash: --kill-jobs short batches, one worker in a child process killed
//     with SIGKILL mid-job, another in this process: every batch must end up
//     stored exactly once (the store's batch ids compared with the enqueued).
//
// Needs a quiet machine with >= 2 cores: the two servers each take one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RedisTranscriptStore, SttQueueWorker, type BatchManifest } from '@lectern/server-sdk/transcription';
import { LECTURE_TEXT, audioDuration, speak, startProcess, startRedis, startWhisperApi, type TestWhisperApi } from '@lectern/testkit';
import { SttQueueProducer } from '../packages/server-sdk/src/transcription/queue/producer.js';

const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '12' },
    'batch-seconds': { type: 'string', default: '60' },
    rounds: { type: 'string', default: '2' },
    'kill-jobs': { type: 'string', default: '100' },
    'kill-batch-seconds': { type: 'string', default: '5' },
    model: { type: 'string', default: 'tiny.en' },
    json: { type: 'boolean', default: false },
  },
});
const batches = Number(args.batches);
const batchSeconds = Number(args['batch-seconds']);
const rounds = Number(args.rounds);
const killJobs = Number(args['kill-jobs']);
const killBatchSeconds = Number(args['kill-batch-seconds']);
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('../packages/server-sdk/test/stt-queue-worker-child.ts', import.meta.url));
const HAS_TASKSET = spawnSync('which', ['taskset']).status === 0;

interface Batch {
  batchId: string;
  manifest: BatchManifest;
  file: string;
}

/** `count` MP3 batches of `seconds` each, cut from the spoken lecture (looped), with their manifests. */
async function makeBatches(dir: string, wav: string, wavSeconds: number, lectureId: string, count: number, seconds: number): Promise<Batch[]> {
  await fs.mkdir(dir, { recursive: true });
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) {
    const batchId = `lecturer_microphone-${String(i * seconds * 1000).padStart(10, '0')}`;
    const file = path.join(dir, `${batchId}.mp3`);
    const start = (i * seconds) % Math.max(1, wavSeconds - seconds);
    const p = startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-stream_loop', '-1', '-ss', String(start), '-t', String(seconds), '-i', wav, '-ac', '1', '-ar', '16000', '-c:a', 'libmp3lame', '-b:a', '48k', '-y', file]);
    if ((await p.exited) !== 0) throw new Error(p.stderr());
    const duration = await audioDuration(file);
    const offset = i * seconds;
    out.push({
      batchId,
      file,
      manifest: {
        version: 1, lectureId, batchId, streamKey: 'lecturer:microphone', file: path.basename(file), format: 'mp3',
        createdAt: new Date().toISOString(), duration, offset, parts: [{ batchStart: 0, offset, duration, partial: false }],
      },
    });
  }
  return out;
}

/** Enqueues every batch and resolves when all are stored (or failed), with the wall time. */
async function runThrough(producer: SttQueueProducer, lectureId: string, list: Batch[]): Promise<{ seconds: number; failed: number }> {
  const t0 = performance.now();
  const results = await Promise.allSettled(
    list.map(async (b) => {
      const job = await producer.enqueue({ lectureId, batchId: b.batchId, manifest: { ...b.manifest, lectureId }, language: 'en', transcribe: { temperature: 0 } }, b.file);
      return producer.finished(job);
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, failed: results.filter((r) => r.status === 'rejected').length };
}

async function pin(server: TestWhisperApi, core: number): Promise<void> {
  if (!HAS_TASKSET || os.cpus().length < 2) return;
  const pid = server.process.child.pid;
  if (pid === undefined) return;
  // -a: every thread of the running server (the model's threads already exist).
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)]);
  if (r.status !== 0) log(`taskset failed: ${r.stderr.toString()}`);
}

async function main() {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-stt-queue-'));
  const redis = await startRedis();
  const env = { WHISPER_MODEL: args.model, WHISPER_CPU_THREADS: '1', WHISPER_MAX_CONCURRENCY: '1' };
  const servers: TestWhisperApi[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  try {
    servers.push(await startWhisperApi({ env }), await startWhisperApi({ env }));
    await pin(servers[0]!, 0);
    await pin(servers[1]!, 1);
    log(`2 whisper-api servers (${args.model}, 1 thread each${HAS_TASKSET ? ', pinned to cores 0 and 1' : ', taskset not available: not pinned'}), redis on ${redis.port}`);
    const wav = path.join(tmp, 'lecture.wav');
    await speak(LECTURE_TEXT, wav);
    const wavSeconds = await audioDuration(wav);
    const list = await makeBatches(path.join(tmp, 'batches'), wav, wavSeconds, 'bench', batches, batchSeconds);
    const store = new RedisTranscriptStore({ url: redis.url, keyPrefix: 'bench:' });
    closers.push(() => store.close());

    // 1. Throughput, 1 vs 2 servers, alternating.
    const perMinute: Record<'1' | '2', number[]> = { '1': [], '2': [] };
    const variants = Array.from({ length: rounds }, () => [1, 2] as const).flat();
    let run = 0;
    for (const n of [0, ...variants]) {
      const warmup = n === 0;
      const name = `bench-tp-${run}`;
      const workers = servers.slice(0, warmup ? 2 : n).map((s) => new SttQueueWorker({ connection: redis.url, name, engines: [new WhisperApiClient({ baseUrl: s.url })], store }));
      const producer = new SttQueueProducer({ connection: redis.url, name });
      try {
        await Promise.all(workers.map((w) => w.ready()));
        const lectureId = `tp-${run}`;
        // Warm-up: one batch per server, so no model load or first-request cost lands in a measured round.
        const { seconds, failed } = await runThrough(producer, lectureId, warmup ? list.slice(0, 2) : list);
        if (failed > 0) throw new Error(`${failed} batches failed in run ${run}`);
        if (!warmup) {
          const rate = (list.length / seconds) * 60;
          perMinute[String(n) as '1' | '2'].push(rate);
          log(`${n} server(s): ${list.length} × ${batchSeconds} s batches in ${seconds.toFixed(1)} s = ${rate.toFixed(2)} batches/min`);
        }
        await store.deleteLecture(lectureId);
      } finally {
        await producer.close();
        await Promise.all(workers.map((w) => w.close()));
      }
      run += 1;
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const one = mean(perMinute['1']);
    const two = mean(perMinute['2']);
    const ratio = two / one;

    // 2. 100 jobs, one worker killed mid-job.
    const killList = await makeBatches(path.join(tmp, 'kill'), wav, wavSeconds, 'kill', killJobs, killBatchSeconds);
    const name = 'bench-kill';
    const producer = new SttQueueProducer({ connection: redis.url, name });
    closers.push(() => producer.close());
    const config = { redisUrl: redis.url, keyPrefix: 'bench:', queue: name, whisperUrls: [servers[0]!.url], lockDurationMs: 2000, stalledIntervalMs: 1000, tmpDir: tmp };
    const child: ChildProcess = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', CHILD, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const childExited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    closers.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await childExited;
    });
    let childStored = 0;
    let killed = false;
    let ready!: () => void;
    const childReady = new Promise<void>((r) => (ready = r));
    let buffered = '';
    const killAfter = Math.min(10, Math.floor(killJobs / 3));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') ready();
        if (line.startsWith('stored ')) childStored += 1;
        // Killed while it transcribes, after it stored a few: mid-job by construction.
        if (line.startsWith('transcribing ') && childStored >= killAfter && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    await childReady;
    const survivor = new SttQueueWorker({ connection: redis.url, name, engines: [new WhisperApiClient({ baseUrl: servers[1]!.url })], store, stalled: { stalledIntervalMs: 1000 } });
    closers.push(() => survivor.close());
    let survivorStored = 0;
    survivor.on('batchStored', () => (survivorStored += 1));
    const crash = await runThrough(producer, 'kill', killList);
    const storedIds = await store.getBatchIds('kill');
    const exactlyOnce = storedIds.length === killJobs && new Set(storedIds).size === killJobs && crash.failed === 0;
    log(`${killJobs} jobs, worker killed: ${killed}; stored by the killed worker ${childStored}, by the survivor ${survivorStored}; batch ids in the store ${storedIds.length}; failed ${crash.failed}; ${crash.seconds.toFixed(1)} s`);

    const spread = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}` : 'n/a');
    const result = {
      model: args.model,
      pinned: HAS_TASKSET,
      batches,
      batchSeconds,
      rounds,
      batchesPerMinute: { oneServer: { mean: one, runs: perMinute['1'] }, twoServers: { mean: two, runs: perMinute['2'] } },
      ratio,
      target: 1.8,
      crash: { jobs: killJobs, killed, storedByKilled: childStored, storedBySurvivor: survivorStored, batchIdsStored: storedIds.length, failed: crash.failed, exactlyOnce },
    };
    if (args.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`STT queue throughput (${args.model}, ${batches} × ${batchSeconds} s batches, ${rounds} round(s) alternating):`);
      console.log(`  1 server : ${one.toFixed(2)} batches/min (runs ${spread(perMinute['1'])})`);
      console.log(`  2 servers: ${two.toFixed(2)} batches/min (runs ${spread(perMinute['2'])})`);
      console.log(`  ratio    : ${ratio.toFixed(2)}× (target >= 1.8×)${ratio >= 1.8 ? '' : '  BELOW TARGET'}`);
      console.log(`Crash: ${killJobs} jobs, a worker killed mid-job: ${storedIds.length} batches stored, each once: ${exactlyOnce ? 'yes' : 'NO'}`);
    }
    if (!exactlyOnce) process.exitCode = 1;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
