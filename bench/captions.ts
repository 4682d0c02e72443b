// Live captions through the real path: a lecturer (a real WebRTC peer whose
// Opus RTP comes from FFmpeg playing a flite lecture in real time) → the
// tap's live PCM → whisper-api's /v1/stream → the room's `caption`
// notifications → a student's LectureClient over a real WebSocket. The batch
// path (30 s segments × 10, 5-minute batches) runs beside it, as in production.
//
//   npm run bench:captions -- [--minutes 10] [--model tiny.en] [--noise-minutes 5] [--sweep 2,3,4] [--sweep-minutes 4]
//                             [--phases main,noise,sweep] [--json]
//
// Lag of a word = its arrival at the student − the end of the word in the
// lecture audio. Where a word ends is taken from the batch transcript (word
// timestamps, an independent path over the same audio, placed on the same
// lecture clock): each final word is matched to the batch word with the same
// spelling within ±1.5 s. A word's partial lag is the first partial (or
// final) that shows it, around its time. Reported: partial and final p50/p95,
// final p50 over the last 2 minutes against the first 2 (creep), the stream's
// CPU (whisper-api's measured RTF of the stream, on its one thread; the whole
// whisper-api process and the tap FFmpeg for context), WER of the finals and
// of the batch transcript against the spoken text, lecture end → live summary,
// then --noise-minutes of digital silence and of pink noise (two rooms at
// once, through the same path): captions that came of them, and then --sweep:
// N lectures at once (N rooms, each its own stream, batches of 2 minutes so
// that batch work competes), final p95 per N.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { FakeHandler, testFakeParameters } from 'mediasoup-client';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RoomManager, type Notification } from '@lectern/server-sdk';
import { MemoryTranscriptStore, TranscriptionService, type CaptionInfo, type TranscriptEntry } from '@lectern/server-sdk/transcription';
import { LectureClient } from '@lectern/client-sdk';
import { LECTURE_TEXT, RoomTestPeer, audioDuration, normalizeWords, requester, speak, startProcess, startWhisperApi, wordErrorRate, type TestWhisperApi } from '@lectern/testkit';
import { processCpuSeconds } from './lib/proc-stat.js';
import { percentile, round } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    model: { type: 'string', default: 'tiny.en' },
    sweep: { type: 'string', default: '2,3,4' },
    'sweep-minutes': { type: 'string', default: '4' },
    'noise-minutes': { type: 'string', default: '5' },
    phases: { type: 'string', default: 'main,noise,sweep' },
    json: { type: 'boolean', default: false },
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

/** A caption as the student received it. */
interface Arrival {
  at: number;
  caption: CaptionInfo;
}

/** flite speaking the testkit lecture, repeated to `minutes`. */
async function lectureAudio(tmp: string, minutes: number): Promise<{ file: string; seconds: number; reference: string }> {
  const once = path.join(tmp, 'once.wav');
  if (!(await fs.stat(once).catch(() => undefined))) await speak(LECTURE_TEXT, once);
  const onceSeconds = await audioDuration(once);
  const repeats = Math.ceil((minutes * 60) / onceSeconds);
  const list = path.join(tmp, `list-${minutes}.txt`);
  await fs.writeFile(list, Array.from({ length: repeats }, () => `file '${once}'\n`).join(''));
  const file = path.join(tmp, `lecture-${minutes}.wav`);
  await startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-t', String(minutes * 60), '-c', 'copy', file]).exited;
  const seconds = await audioDuration(file);
  const all = Array.from({ length: repeats }, () => LECTURE_TEXT).join(' ').split(/\s+/);
  const reference = all.slice(0, Math.round((all.length / (repeats * onceSeconds)) * seconds)).join(' ');
  return { file, seconds, reference };
}

/**
 * The host's signaling, minimal but real: a WebSocket server in front of the
 * manager (`{ id, method, data }` → `{ id, result | error }`, notifications
 * `{ notification, data }`), and a student's LectureClient on the other end.
 */
async function studentOverWebSocket(manager: RoomManager, roomId: string, peerId: string, arrivals: Arrival[]) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const sockets = new Map<string, WebSocket>();
  const forward = (n: Notification) => {
    if (n.roomId !== roomId) return;
    for (const to of n.to) sockets.get(to)?.send(JSON.stringify({ notification: n.name, data: n.data }));
  };
  manager.on('notification', forward);
  server.on('connection', (socket) => {
    sockets.set(peerId, socket);
    const request = requester(manager, roomId, peerId, 'student');
    socket.on('message', async (raw) => {
      const { id, method, data } = JSON.parse(String(raw)) as { id: number; method: string; data: unknown };
      try {
        socket.send(JSON.stringify({ id, result: await request(method, data) }));
      } catch (error) {
        socket.send(JSON.stringify({ id, error: { code: (error as { code?: string }).code ?? 'INTERNAL', message: String(error) } }));
      }
    });
  });
  const port = (server.address() as { port: number }).port;
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((r, j) => socket.once('open', r).once('error', j));
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const client = new LectureClient({
    request: (method, data) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, data }));
      }),
    handlerFactory: FakeHandler.createFactory(testFakeParameters),
    autoSubscribe: false,
  });
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as { id?: number; result?: unknown; error?: { message: string }; notification?: string; data?: unknown };
    if (message.notification) {
      client.handleNotification(message.notification, message.data);
      return;
    }
    const waiter = pending.get(message.id!);
    pending.delete(message.id!);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  client.on('caption', (caption) => arrivals.push({ at: Date.now(), caption }));
  await client.join({ displayName: peerId });
  return {
    close: async () => {
      client.close();
      socket.close();
      manager.off('notification', forward);
      await new Promise((r) => server.close(r));
    },
  };
}

interface LagResult {
  matchedWords: number;
  finalWords: number;
  finalLags: number[];
  partialLags: number[];
  /** Final lags of words spoken in the first and last 2 minutes. */
  firstTwoMinutes: number[];
  lastTwoMinutes: number[];
}

/** Matches the student's final words to the batch transcript's words (same spelling, ±1.5 s) and measures each word's lag. */
function lags(arrivals: Arrival[], batch: TranscriptEntry[], lectureStartMs: number, audioSeconds: number, audioStartOffset: number): LagResult {
  const reference = batch.flatMap((e) => e.words ?? []).map((w) => ({ key: normalizeWords(w.word)[0], start: w.start, end: w.end, used: false }));
  const finals = arrivals.filter((a) => a.caption.kind === 'final');
  const partials = arrivals.filter((a) => a.caption.kind === 'partial');
  const result: LagResult = { matchedWords: 0, finalWords: 0, finalLags: [], partialLags: [], firstTwoMinutes: [], lastTwoMinutes: [] };
  for (const arrival of finals) {
    for (const w of arrival.caption.words ?? []) {
      const key = normalizeWords(w.word)[0];
      if (!key) continue;
      result.finalWords += 1;
      const mid = (w.start + w.end) / 2;
      const match = reference.find((r) => !r.used && r.key === key && Math.abs((r.start + r.end) / 2 - mid) <= 1.5);
      if (!match) continue;
      match.used = true;
      result.matchedWords += 1;
      const spokenAt = lectureStartMs + match.end * 1000;
      const finalLag = (arrival.at - spokenAt) / 1000;
      // The first partial (or this final) that showed the word around its time.
      const shown = partials.find(
        (p) => p.at <= arrival.at && p.caption.start - 1.5 <= match.end && p.caption.end + 1.5 >= match.start && normalizeWords(p.caption.text).includes(key),
      );
      const partialLag = ((shown?.at ?? arrival.at) - spokenAt) / 1000;
      result.finalLags.push(finalLag);
      result.partialLags.push(partialLag);
      const intoAudio = match.end - audioStartOffset;
      if (intoAudio <= 120) result.firstTwoMinutes.push(finalLag);
      if (intoAudio >= audioSeconds - 120) result.lastTwoMinutes.push(finalLag);
    }
  }
  for (const list of [result.finalLags, result.partialLags, result.firstTwoMinutes, result.lastTwoMinutes]) list.sort((a, b) => a - b);
  return result;
}

interface LectureRun {
  roomId: string;
  arrivals: Arrival[];
  batch: TranscriptEntry[];
  lectureStartMs: number;
  audioStartOffset: number;
  finalsText: string;
  batchText: string;
  liveSummaryAfterStopMs: number | undefined;
  liveSummaryAfterAudioEndMs: number | undefined;
}

/** N lectures at once on one manager and one whisper-api; resolves when all are stopped and summarised. */
async function runLectures(
  whisper: TestWhisperApi,
  manager: RoomManager,
  audio: { file: string; seconds: number } | { file: string; seconds: number }[],
  count: number,
  batching: { segmentSeconds: number; segmentsPerBatch: number },
  workDir: string,
  onPlaying?: (service: TranscriptionService) => Promise<void>,
): Promise<LectureRun[]> {
  const engine = new WhisperApiClient({ baseUrl: whisper.url });
  const store = new MemoryTranscriptStore();
  const service = new TranscriptionService(manager, {
    engine,
    store,
    workDir,
    ...batching,
    transcribe: { language: 'en', wordTimestamps: true },
    captions: { engine },
  });
  service.on('pipelineError', (e) => log(`pipeline error (${e.stage}, ${e.roomId}): ${e.error.message}`));
  const rooms = Array.from({ length: count }, (_, i) => `captions-${count}-${i}`);
  const runs = new Map<string, LectureRun & { lectureId: string; lecturer: RoomTestPeer }>();
  const summaries = new Map<string, number>();
  service.on('summaryReady', ({ roomId, summary }) => {
    if (summary.source === 'live') summaries.set(roomId, Date.now());
  });
  const cleanups: (() => Promise<void>)[] = [];
  try {
    for (const roomId of rooms) {
      const lecturer = await RoomTestPeer.join(requester(manager, roomId, 'lecturer', 'lecturer'));
      cleanups.push(() => lecturer.leave().catch(() => undefined));
      const arrivals: Arrival[] = [];
      const student = await studentOverWebSocket(manager, roomId, 'student', arrivals);
      cleanups.push(student.close);
      const { lectureId } = await service.startTranscription(roomId, { language: 'en' });
      const lectureStartMs = service.pipeline(roomId)!.startedAtMs;
      runs.set(roomId, {
        roomId,
        lectureId,
        lecturer,
        arrivals,
        batch: [],
        lectureStartMs,
        audioStartOffset: 0,
        finalsText: '',
        batchText: '',
        liveSummaryAfterStopMs: undefined,
        liveSummaryAfterAudioEndMs: undefined,
      });
    }
    // All lecturers start speaking together.
    const playing = Date.now();
    const files = Array.isArray(audio) ? audio : rooms.map(() => audio);
    await Promise.all(
      rooms.map(async (roomId, i) => {
        const run = runs.get(roomId)!;
        run.audioStartOffset = (Date.now() - run.lectureStartMs) / 1000;
        await run.lecturer.produceAudio({ inputFile: files[i]!.file });
      }),
    );
    await onPlaying?.(service);
    const audioEnd = playing + Math.max(...files.map((f) => f.seconds)) * 1000 + 1000;
    await sleep(Math.max(0, audioEnd - Date.now()));
    const stopAt = Date.now();
    await Promise.all(rooms.map((roomId) => service.stopTranscription(roomId)));
    for (const roomId of rooms) {
      const run = runs.get(roomId)!;
      run.batch = await store.getTranscript(run.lectureId);
      run.batchText = run.batch.map((e) => e.text).join(' ');
      run.finalsText = run.arrivals.filter((a) => a.caption.kind === 'final').map((a) => a.caption.text).join(' ');
      const live = summaries.get(roomId);
      run.liveSummaryAfterStopMs = live === undefined ? undefined : live - stopAt;
      run.liveSummaryAfterAudioEndMs = live === undefined ? undefined : live - (audioEnd - 1000);
    }
    return [...runs.values()];
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await service.close();
  }
}

function summarise(run: LectureRun, audioSeconds: number, reference: string) {
  const l = lags(run.arrivals, run.batch, run.lectureStartMs, audioSeconds, run.audioStartOffset);
  const p = (xs: number[], q: number) => round(percentile(xs, q));
  return {
    captions: { partials: run.arrivals.filter((a) => a.caption.kind === 'partial').length, finals: run.arrivals.filter((a) => a.caption.kind === 'final').length },
    words: { final: l.finalWords, matchedToBatch: l.matchedWords },
    partialLag: { p50: p(l.partialLags, 50), p95: p(l.partialLags, 95) },
    finalLag: { p50: p(l.finalLags, 50), p95: p(l.finalLags, 95), max: round(l.finalLags.at(-1) ?? NaN) },
    creep: {
      firstTwoMinutesP50: p(l.firstTwoMinutes, 50),
      lastTwoMinutesP50: p(l.lastTwoMinutes, 50),
      seconds: round(percentile(l.lastTwoMinutes, 50) - percentile(l.firstTwoMinutes, 50)),
    },
    wer: { finals: round(wordErrorRate(reference, run.finalsText), 3), batch: round(wordErrorRate(reference, run.batchText), 3) },
    liveSummary: { afterStopMs: run.liveSummaryAfterStopMs, afterAudioEndMs: run.liveSummaryAfterAudioEndMs },
  };
}

/** Digital silence and pink noise (FFmpeg's lavfi sources), `minutes` each, as WAVs. */
async function nonSpeech(tmp: string, minutes: number): Promise<{ silence: { file: string; seconds: number }; noise: { file: string; seconds: number } }> {
  const make = async (name: string, source: string) => {
    const file = path.join(tmp, `${name}.wav`);
    await startProcess('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source, '-t', String(minutes * 60), '-ac', '1', '-ar', '48000', file]).exited;
    return { file, seconds: await audioDuration(file) };
  };
  return { silence: await make('silence', 'anullsrc=r=48000:cl=mono'), noise: await make('noise', 'anoisesrc=color=pink:amplitude=0.2:r=48000') };
}

async function main() {
  const phases = new Set((args.phases ?? '').split(','));
  const minutes = Number(args.minutes);
  const sweep = phases.has('sweep') ? (args.sweep ?? '').split(',').filter(Boolean).map(Number) : [];
  const sweepMinutes = Number(args['sweep-minutes']);
  const noiseMinutes = Number(args['noise-minutes']);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-captions-'));
  const whisper = await startWhisperApi({
    env: { WHISPER_MODEL: args.model!, WHISPER_MAX_STREAMS: String(Math.max(2, ...sweep)), WHISPER_MAX_QUEUE: '64' },
  });
  const manager = await RoomManager.create({ workers: { numWorkers: 1 } });
  const whisperPid = whisper.process.child.pid!;
  // Phases run separately keep each other's figures: the file collects the latest of each.
  const resultsFile = path.join('bench', 'results', 'captions.json');
  const result = JSON.parse(await fs.readFile(resultsFile, 'utf8').catch(() => '{}')) as Partial<Results>;
  const stamp = { date: new Date().toISOString(), machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model }, model: args.model! };
  try {
    if (phases.has('main')) {
      // 1. One lecture of --minutes, production batching beside the captions.
      const main = await lectureAudio(tmp, minutes);
      log(`lecture: ${main.seconds.toFixed(1)} s of flite, model ${args.model}`);
      let tapCpu = NaN;
      let streamCpu = NaN;
      const cpu0 = await processCpuSeconds(whisperPid);
      const t0 = Date.now();
      const [run] = await runLectures(whisper, manager, main, 1, { segmentSeconds: 30, segmentsPerBatch: 10 }, path.join(tmp, 'work-main'), async (service) => {
        // Two minutes early in the lecture, before the first 5-minute batch exists:
        // whisper-api works for the stream alone then. The tap FFmpeg's CPU likewise.
        await sleep(20_000);
        const pid = service.pipeline('captions-1-0')?.tappedProducers[0]?.ffmpegPid;
        const w0 = await processCpuSeconds(whisperPid);
        const c0 = pid ? await processCpuSeconds(pid) : NaN;
        await sleep(120_000);
        streamCpu = ((await processCpuSeconds(whisperPid)) - w0) / 120;
        tapCpu = pid ? ((await processCpuSeconds(pid).catch(() => NaN)) - c0) / 120 : NaN;
      });
      const whisperCpu = ((await processCpuSeconds(whisperPid)) - cpu0) / ((Date.now() - t0) / 1000);
      const single = summarise(run!, main.seconds, main.reference);
      log(`1 stream: final p50 ${single.finalLag.p50} s, p95 ${single.finalLag.p95} s; partial p50 ${single.partialLag.p50} s`);
      result.main = {
        ...stamp,
        lectureSeconds: round(main.seconds),
        ...single,
        cpu: { streamCores: round(streamCpu, 3), whisperApiProcessCores: round(whisperCpu, 3), tapFfmpegCores: round(tapCpu, 4) },
      };
    }
    if (phases.has('noise')) {
      // 2. Silence and pink noise, one room each, at once, through the same path.
      const { silence, noise } = await nonSpeech(tmp, noiseMinutes);
      log(`non-speech: ${silence.seconds.toFixed(0)} s of silence and of pink noise`);
      const runs = await runLectures(whisper, manager, [silence, noise], 2, { segmentSeconds: 30, segmentsPerBatch: 10 }, path.join(tmp, 'work-noise'));
      const count = (r: LectureRun, kind: 'partial' | 'final') => r.arrivals.filter((a) => a.caption.kind === kind && a.caption.text.trim() !== '').length;
      result.nonSpeech = {
        ...stamp,
        seconds: round(silence.seconds),
        silence: { finals: count(runs[0]!, 'final'), partials: count(runs[0]!, 'partial'), text: runs[0]!.finalsText },
        pinkNoise: { finals: count(runs[1]!, 'final'), partials: count(runs[1]!, 'partial'), text: runs[1]!.finalsText },
      };
      log(`non-speech: silence ${result.nonSpeech.silence.finals} finals, noise ${result.nonSpeech.pinkNoise.finals} finals`);
    }
    if (sweep.length > 0) {
      // 3. N lectures at once.
      const sweepAudio = await lectureAudio(tmp, sweepMinutes);
      const concurrency: Concurrency[] = [];
      for (const n of sweep) {
        const runs = await runLectures(whisper, manager, sweepAudio, n, { segmentSeconds: 30, segmentsPerBatch: 4 }, path.join(tmp, `work-${n}`));
        const all = runs.map((r) => lags(r.arrivals, r.batch, r.lectureStartMs, sweepAudio.seconds, r.audioStartOffset));
        const finals = all.flatMap((l) => l.finalLags).sort((a, b) => a - b);
        const partials = all.flatMap((l) => l.partialLags).sort((a, b) => a - b);
        const werFinals = runs.reduce((a, r) => a + wordErrorRate(sweepAudio.reference, r.finalsText), 0) / runs.length;
        concurrency.push({ streams: n, finalP50: round(percentile(finals, 50)), finalP95: round(percentile(finals, 95)), partialP50: round(percentile(partials, 50)), werFinals: round(werFinals, 3) });
        log(`${n} streams: final p50 ${concurrency.at(-1)!.finalP50} s, p95 ${concurrency.at(-1)!.finalP95} s, WER ${(werFinals * 100).toFixed(1)} %`);
      }
      result.concurrency = { ...stamp, lectureSeconds: round(sweepAudio.seconds), runs: concurrency };
    }
    // The most streams such that every count up to it kept final p95 within 5 s.
    const byCount = [...(result.main ? [{ streams: 1, finalP95: result.main.finalLag.p95 }] : []), ...(result.concurrency?.runs ?? [])].sort((a, b) => a.streams - b.streams);
    let sustained = 0;
    for (const c of byCount) {
      if (c.finalP95 > 5) break;
      sustained = c.streams;
    }
    result.maxStreamsWithFinalP95Under5s = sustained;
    console.log(args.json ? JSON.stringify(result, null, 2) : table(result));
    await fs.mkdir(path.dirname(resultsFile), { recursive: true });
    await fs.writeFile(resultsFile, JSON.stringify(result, null, 2));
  } finally {
    await manager.close();
    await whisper.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

interface Concurrency {
  streams: number;
  finalP50: number;
  finalP95: number;
  partialP50: number;
  werFinals: number;
}

interface Stamp {
  date: string;
  model: string;
}

interface Results {
  main: Stamp & { lectureSeconds: number; cpu: { streamCores: number; whisperApiProcessCores: number; tapFfmpegCores: number } } & ReturnType<typeof summarise>;
  nonSpeech: Stamp & { seconds: number; silence: { finals: number; partials: number; text: string }; pinkNoise: { finals: number; partials: number; text: string } };
  concurrency: Stamp & { lectureSeconds: number; runs: Concurrency[] };
  maxStreamsWithFinalP95Under5s: number;
}

function table(r: Partial<Results>): string {
  const lines: string[] = [];
  const s = r.main;
  if (s) {
    lines.push(
      `lecture                         ${s.lectureSeconds.toFixed(0)} s of flite, ${s.model}, one stream beside 5-minute batches (${s.date})`,
      `captions                        ${s.captions.partials} partials, ${s.captions.finals} finals; ${s.words.matchedToBatch}/${s.words.final} final words placed against the batch transcript`,
      `partial lag                     p50 ${s.partialLag.p50} s, p95 ${s.partialLag.p95} s`,
      `final lag                       p50 ${s.finalLag.p50} s, p95 ${s.finalLag.p95} s, max ${s.finalLag.max} s`,
      `creep (final p50)               first 2 min ${s.creep.firstTwoMinutesP50} s, last 2 min ${s.creep.lastTwoMinutesP50} s: ${s.creep.seconds} s`,
      `WER                             finals ${(s.wer.finals * 100).toFixed(1)} %, batch ${(s.wer.batch * 100).toFixed(1)} %`,
      `live summary                    ${s.liveSummary.afterStopMs} ms after stop, ${s.liveSummary.afterAudioEndMs} ms after the audio ended`,
      `CPU of the stream               whisper-api ${s.cpu.streamCores} cores (2 min before the first batch), tap FFmpeg ${s.cpu.tapFfmpegCores} cores`,
      `CPU, whole lecture              whisper-api ${s.cpu.whisperApiProcessCores} cores (stream + batches)`,
    );
  }
  const n = r.nonSpeech;
  if (n) {
    lines.push(
      `${(n.seconds / 60).toFixed(0)} min of silence               ${n.silence.finals} finals, ${n.silence.partials} partials${n.silence.text ? `: "${n.silence.text}"` : ''}`,
      `${(n.seconds / 60).toFixed(0)} min of pink noise            ${n.pinkNoise.finals} finals, ${n.pinkNoise.partials} partials${n.pinkNoise.text ? `: "${n.pinkNoise.text}"` : ''}`,
    );
  }
  for (const c of r.concurrency?.runs ?? []) {
    lines.push(`${c.streams} streams at once           final p50 ${c.finalP50} s, p95 ${c.finalP95} s; partial p50 ${c.partialP50} s; WER ${(c.werFinals * 100).toFixed(1)} %`);
  }
  lines.push(`streams with final p95 ≤ 5 s    ${r.maxStreamsWithFinalP95Under5s}`);
  return lines.join('\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
