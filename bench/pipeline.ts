// Cost and latency of the transcription pipeline, with the production defaults
// (30 s segments, 10 segments per batch = 5-minute batches, MP3, whisper-api
// with its default model, or --model, and 2 CPU threads).
//
//   npm run bench:pipeline -- [--minutes 20] [--cpu-window 300] [--baseline 60] [--model tiny.en] [--json]
//
// One room, one lecturer: a real WebRTC peer (werift) whose Opus RTP comes from
// FFmpeg playing a flite lecture (the testkit lecture, repeated to --minutes).
//  1. baseline: --baseline seconds of the lecturer sending, no transcription →
//     this Node process's CPU (werift + SDK) without the pipeline;
//  2. transcription starts; over the first --cpu-window seconds of audio:
//     CPU of the tap's FFmpeg (/proc/<pid>/stat), CPU of finished FFmpeg jobs
//     (batch concat + MP3 encode: this process's cutime/cstime), and this Node
//     process's CPU minus the baseline rate = CPU per tapped stream;
//  3. every batch's STT time / audio time = whisper-api's real-time factor;
//  4. at the end of the lecture: stopTranscription() → summary stored = the
//     lecture-end → summary time (flush of the last partial batch, its STT, the
//     summary); the transcript's WER against the spoken text is reported too.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RoomManager } from '@lectern/server-sdk';
import { MemoryTranscriptStore, TranscriptionService } from '@lectern/server-sdk/transcription';
import {
  LECTURE_TEXT,
  RoomTestPeer,
  audioDuration,
  requester,
  speak,
  startProcess,
  startWhisperApi,
  wordErrorRate,
} from '@lectern/testkit';
import { childrenCpuSeconds, processCpuSeconds } from './lib/proc-stat.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '20' },
    'cpu-window': { type: 'string', default: '300' },
    baseline: { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    // whisper-api's model; empty = its default (base). RESULTS.md's pipeline figures are tiny.en's.
    model: { type: 'string', default: '' },
  },
});
const minutes = Number(args.minutes);
const cpuWindow = Number(args['cpu-window']);
const baselineSeconds = Number(args.baseline);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

/** utime+stime (own) and cutime+cstime (waited-for children) of a process, in seconds. */
async function procCpu(pid: number | 'self'): Promise<{ own: number; children: number }> {
  return { own: await processCpuSeconds(pid), children: await childrenCpuSeconds(pid) };
}

async function main() {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-pipeline-'));
  const once = path.join(tmp, 'once.wav');
  const lecture = path.join(tmp, 'lecture.wav');
  await speak(LECTURE_TEXT, once);
  const onceSeconds = await audioDuration(once);
  const repeats = Math.ceil((minutes * 60) / onceSeconds);
  const list = path.join(tmp, 'list.txt');
  await fs.writeFile(list, Array.from({ length: repeats }, () => `file '${once}'\n`).join(''));
  const concat = startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-t', String(minutes * 60), '-c', 'copy', lecture]);
  await concat.exited;
  const lectureSeconds = await audioDuration(lecture);
  const reference = Array.from({ length: repeats }, () => LECTURE_TEXT).join(' ');
  log(`lecture: ${lectureSeconds.toFixed(1)} s (${repeats} × ${onceSeconds.toFixed(1)} s flite)`);

  const whisper = await startWhisperApi(args.model ? { env: { WHISPER_MODEL: args.model } } : {});
  const manager = await RoomManager.create({ workers: { numWorkers: 1 } });
  const store = new MemoryTranscriptStore();
  const service = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: whisper.url }),
    store,
    workDir: path.join(tmp, 'work'),
    transcribe: { language: 'en' },
  });
  const batches: { sttSeconds: number; audioSeconds: number }[] = [];
  service.on('batchTranscribed', (e) => {
    batches.push({ sttSeconds: e.sttSeconds, audioSeconds: e.audioSeconds });
    log(`batch ${e.batchId}: ${e.audioSeconds.toFixed(1)} s audio in ${e.sttSeconds.toFixed(1)} s (RTF ${(e.sttSeconds / e.audioSeconds).toFixed(3)})`);
  });
  service.on('pipelineError', (e) => log(`pipeline error (${e.stage}): ${e.error.message}`));

  const peer = await RoomTestPeer.join(requester(manager, 'bench', 'lecturer', 'lecturer'));
  try {
    await peer.produceAudio({ inputFile: lecture });
    const audioStart = Date.now();

    // 1. Baseline: the lecturer sends, nothing is transcribed.
    await sleep(5_000);
    const b0 = await procCpu('self');
    await sleep(baselineSeconds * 1000);
    const b1 = await procCpu('self');
    const baselineRate = (b1.own - b0.own) / baselineSeconds;
    log(`baseline node CPU: ${(baselineRate * 100).toFixed(1)} % of a core`);

    // 2. Transcription on; CPU over the window.
    const { lectureId } = await service.startTranscription('bench', { language: 'en' });
    const transcriptionStart = (Date.now() - audioStart) / 1000;
    await sleep(2_000);
    const pipeline = service.pipeline('bench')!;
    const tapPid = () => pipeline.tappedProducers[0]?.ffmpegPid;
    const pid0 = tapPid();
    if (!pid0) throw new Error('no tap FFmpeg');
    const s0 = await procCpu('self');
    const f0 = await procCpu(pid0);
    const windowStart = Date.now();
    await sleep(cpuWindow * 1000);
    const s1 = await procCpu('self');
    const pid1 = tapPid();
    const f1 = pid1 === pid0 ? await procCpu(pid0) : undefined;
    const windowSeconds = (Date.now() - windowStart) / 1000;
    const tapFfmpeg = f1 ? (f1.own - f0.own) / windowSeconds : NaN;
    const jobs = (s1.children - s0.children) / windowSeconds;
    const nodeRate = (s1.own - s0.own) / windowSeconds;
    const cpu = {
      windowSeconds,
      tapFfmpegPercent: tapFfmpeg * 100,
      batchJobsPercent: jobs * 100,
      nodeWithPipelinePercent: nodeRate * 100,
      nodeBaselinePercent: baselineRate * 100,
      nodePipelinePercent: (nodeRate - baselineRate) * 100,
      perStreamPercent: (tapFfmpeg + jobs + Math.max(0, nodeRate - baselineRate)) * 100,
    };
    log(`CPU per tapped stream: ${cpu.perStreamPercent.toFixed(2)} % of a core (tap FFmpeg ${cpu.tapFfmpegPercent.toFixed(2)}, batch jobs ${cpu.batchJobsPercent.toFixed(2)}, node Δ ${cpu.nodePipelinePercent.toFixed(2)})`);

    // 3/4. Wait for the lecture to end, then stop and time the summary.
    const remaining = lectureSeconds * 1000 + 1500 - (Date.now() - audioStart);
    if (remaining > 0) await sleep(remaining);
    const t0 = performance.now();
    const summary = await service.stopTranscription('bench');
    const endToSummary = (performance.now() - t0) / 1000;
    const entries = await store.getTranscript(lectureId);
    const fullBatches = batches.filter((b) => b.audioSeconds > 250);
    const rtf = fullBatches.map((b) => b.sttSeconds / b.audioSeconds);
    // Transcription started `transcriptionStart` s into the audio: compare with the text from there,
    // aligning the cut within ±20 words of the estimate.
    const text = entries.map((e) => e.text).join(' ');
    const allWords = reference.split(/\s+/);
    const wordsPerSecond = allWords.length / (repeats * onceSeconds);
    const refWords = allWords.slice(0, Math.round(wordsPerSecond * lectureSeconds)); // the audio was cut at --minutes
    const estimate = Math.round(wordsPerSecond * transcriptionStart);
    let wer = Infinity;
    for (let cut = Math.max(0, estimate - 20); cut <= estimate + 20; cut++) {
      wer = Math.min(wer, wordErrorRate(refWords.slice(cut).join(' '), text));
    }
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30) },
      lectureSeconds,
      transcribedSeconds: round(lectureSeconds - transcriptionStart),
      cpu,
      stt: {
        batches: batches.length,
        fullBatches: fullBatches.length,
        rtfMedian: median(rtf),
        rtfMax: Math.max(...rtf),
        batchAudioSeconds: fullBatches.map((b) => round(b.audioSeconds)),
        batchSttSeconds: fullBatches.map((b) => round(b.sttSeconds)),
      },
      lectureEndToSummarySeconds: round(endToSummary),
      summaryGenerator: summary.generator,
      transcriptEntries: entries.length,
      wer: round(wer),
    };
    console.log(args.json ? JSON.stringify(result, null, 2) : table(result));
    await fs.mkdir(path.join('bench', 'results'), { recursive: true });
    await fs.writeFile(path.join('bench', 'results', 'pipeline.json'), JSON.stringify(result, null, 2));
  } finally {
    await peer.leave().catch(() => undefined);
    await service.close();
    await manager.close();
    await whisper.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? round(s[Math.floor(s.length / 2)]!) : NaN;
}

function table(r: { cpu: Record<string, number>; stt: { rtfMedian: number; rtfMax: number; fullBatches: number }; lectureEndToSummarySeconds: number; lectureSeconds: number; wer: number }): string {
  return [
    `lecture                          ${r.lectureSeconds.toFixed(0)} s`,
    `CPU per tapped stream            ${r.cpu.perStreamPercent!.toFixed(2)} % of a core (over ${r.cpu.windowSeconds!.toFixed(0)} s)`,
    `  tap FFmpeg                     ${r.cpu.tapFfmpegPercent!.toFixed(2)} %`,
    `  batch concat + MP3 jobs        ${r.cpu.batchJobsPercent!.toFixed(2)} %`,
    `  node (with − without pipeline) ${r.cpu.nodePipelinePercent!.toFixed(2)} %`,
    `whisper-api RTF, 5-min batches   median ${r.stt.rtfMedian}, max ${r.stt.rtfMax.toFixed(3)} (${r.stt.fullBatches} batches)`,
    `lecture end → summary stored     ${r.lectureEndToSummarySeconds.toFixed(2)} s`,
    `WER of the transcript            ${(r.wer * 100).toFixed(1)} %`,
  ].join('\n');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
