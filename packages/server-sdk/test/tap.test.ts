// AudioTap against a real worker, real FFmpeg on both ends: an Opus RTP sender
// feeds a PlainTransport producer, the tap records it into WAV segments.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as mediasoup from 'mediasoup';
import { opusRtpParameters, sendOpusRtp, speak, waitFor, type OwnedProcess } from '@lectern/testkit';
import { DEFAULT_MEDIA_CODECS, ErrorCode, LecternError } from '@lectern/server-sdk';
import type { AudioSegment } from '@lectern/server-sdk/transcription';
import { mediasoupCaller } from '../src/rooms/mediasoup-call.js';
import { openServerConsumer, producerWatch } from '../src/rooms/server-consumer.js';
import { AudioTap, DEFAULT_TAP_SETTINGS, type TapSource } from '../src/transcription/tap/audio-tap.js';
import { readWav } from '../src/transcription/tap/wav.js';

let worker: mediasoup.types.Worker;
let router: mediasoup.types.Router;
let tmp: string;
let speech: string;

before(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'warn' });
  router = await worker.createRouter({ mediaCodecs: DEFAULT_MEDIA_CODECS });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-tap-'));
  speech = path.join(tmp, 'speech.wav');
  await speak('The tap records the lecturer into short segments of audio, one after another, without gaps.', speech);
});
after(async () => {
  worker.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

let ssrcSeq = 33330000;
async function liveProducer(seconds?: number): Promise<{ producer: mediasoup.types.Producer; sender: OwnedProcess; transport: mediasoup.types.PlainTransport }> {
  const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  const ssrc = ++ssrcSeq;
  const producer = await transport.produce({ kind: 'audio', rtpParameters: opusRtpParameters(ssrc, 100) });
  const sender = sendOpusRtp({
    port: transport.tuple.localPort, ssrc, payloadType: 100, inputFile: speech, loop: true,
    ...(seconds !== undefined ? { durationSeconds: seconds } : {}),
  });
  return { producer, sender, transport };
}

/** What a room gives a tap, built here from the raw router and producer (no room around them). */
function tapSource(producer: mediasoup.types.Producer): TapSource {
  return {
    producer: producerWatch(producer),
    openConsumer: (options) => openServerConsumer(router, producer.id, options, mediasoupCaller(10_000)),
  };
}

function settings(overrides: Partial<typeof DEFAULT_TAP_SETTINGS> = {}) {
  return { ...DEFAULT_TAP_SETTINGS, segmentSeconds: 2, restart: { minDelayMs: 100, maxDelayMs: 500, maxConsecutiveFailures: 5 }, ...overrides };
}

async function tapDir(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

const sum = (segments: AudioSegment[]) => segments.reduce((a, s) => a + s.duration, 0);
const ffmpegAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a tap that would listen beyond 127.0.0.1 is refused', async () => {
  const { producer, sender, transport } = await liveProducer(1);
  try {
    for (const listenIp of ['0.0.0.0', '192.168.1.10', '::', '::1', '']) {
      assert.throws(
        () => new AudioTap(tapSource(producer), 'x', tmp, Date.now(), settings({ listenIp })),
        (e: unknown) => e instanceof LecternError && e.code === ErrorCode.INVALID_CONFIG,
        listenIp,
      );
    }
  } finally {
    await sender.stop();
    transport.close();
  }
});

test('records a producer into WAV segments on the lecture timeline, transport on 127.0.0.1 only', async () => {
  const dir = await tapDir('basic');
  const lectureStart = Date.now();
  const { producer, sender, transport } = await liveProducer();
  const plains: mediasoup.types.PlainTransport[] = [];
  const onTransport = (t: mediasoup.types.Transport) => {
    if (t.type === 'plain' && t !== transport) plains.push(t as mediasoup.types.PlainTransport);
  };
  router.observer.on('newtransport', onTransport);
  const tap = new AudioTap(tapSource(producer), 'lecturer:microphone', dir, lectureStart, settings());
  const segments: AudioSegment[] = [];
  tap.on('segment', (s) => segments.push(s));
  const runEnds: string[] = [];
  tap.on('runEnded', (e) => runEnds.push(`${e.reason}${e.exit ? ` (code ${e.exit.code}: ${e.exit.stderrTail.slice(-200)})` : ''}${e.error ? ` ${e.error}` : ''}`));
  try {
    tap.start();
    await new Promise((r) => setTimeout(r, 7_200));
    const pid = tap.ffmpegPid;
    assert.ok(pid, 'ffmpeg is running');
    await tap.stop();
    const elapsed = (Date.now() - lectureStart) / 1000;
    assert.ok(!ffmpegAlive(pid), 'ffmpeg has exited after stop');
    assert.equal(plains.length, 1, `one run, no restart; runs ended: ${runEnds.join('; ')}`);
    const plain = plains[0]!;
    assert.equal(plain.tuple.localIp, '127.0.0.1');
    assert.equal(plain.tuple.remoteIp, '127.0.0.1');
    assert.ok(plain.closed, 'the tap closed its transport');

    assert.ok(segments.length >= 3, `segments: ${segments.length}`);
    for (const [i, s] of segments.entries()) {
      const wav = await readWav(s.path);
      assert.ok(wav, `${s.path} is a valid WAV`);
      assert.equal(wav.sampleRate, 16000);
      assert.equal(wav.channels, 1);
      assert.ok(Math.abs(wav.duration - s.duration) < 0.01);
      if (i < segments.length - 1) assert.ok(Math.abs(s.duration - 2) < 0.2, `segment ${i} lasts ${s.duration}`);
      if (i > 0) {
        const prev = segments[i - 1]!;
        assert.ok(s.offset >= prev.offset + prev.duration - 0.05, `offsets increase: ${prev.offset}+${prev.duration} → ${s.offset}`);
      }
      assert.equal(s.partial, false);
    }
    // Everything recorded: the tap started within a second and stopped at `elapsed`.
    const total = sum(segments);
    assert.ok(total > elapsed - 1.5 && total <= elapsed + 0.1, `recorded ${total.toFixed(2)} s of ${elapsed.toFixed(2)} s`);
    assert.ok(segments[0]!.offset < 1, `first offset ${segments[0]!.offset}`);
    const left = (await fs.readdir(dir)).filter((n) => !n.endsWith('.wav'));
    assert.deepEqual(left, [], 'sdp and list files removed');
  } finally {
    router.observer.off('newtransport', onTransport);
    await tap.stop();
    await sender.stop();
    transport.close();
  }
});

test('follows the producer: pause ends the run, resume starts a new one at the right offset, close ends the tap', async () => {
  const dir = await tapDir('pause');
  const lectureStart = Date.now();
  const { producer, sender, transport } = await liveProducer();
  const tap = new AudioTap(tapSource(producer), 'lecturer:microphone', dir, lectureStart, settings());
  const segments: AudioSegment[] = [];
  const ends: string[] = [];
  tap.on('segment', (s) => segments.push(s));
  tap.on('runEnded', (e) => ends.push(e.reason));

  try {
    tap.start();
    await new Promise((r) => setTimeout(r, 3_000));
    await producer.pause();
    const pausedAt = (Date.now() - lectureStart) / 1000;
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(tap.ffmpegPid, undefined, 'no ffmpeg while paused');
    const beforeResume = segments.length;
    await producer.resume();
    const resumedAt = (Date.now() - lectureStart) / 1000;
    await new Promise((r) => setTimeout(r, 3_000));
    const pid = tap.ffmpegPid;
    assert.ok(pid);
    transport.close(); // the producer closes with its transport: the tap ends by itself
    await waitFor('the tap ends with its producer', () => ends.length === 2, 5000);
    await tap.stop();
    assert.ok(!ffmpegAlive(pid));
    assert.deepEqual(ends, ['paused', 'producer-closed']);
    const afterResume = segments.slice(beforeResume);
    assert.ok(afterResume.length >= 1);
    const firstAfter = afterResume[0]!;
    assert.ok(firstAfter.offset >= resumedAt - 0.2 && firstAfter.offset < resumedAt + 1, `resumed at ${resumedAt}, segment at ${firstAfter.offset}`);
    const lastBefore = segments[beforeResume - 1]!;
    assert.ok(lastBefore.offset + lastBefore.duration <= pausedAt + 0.3, 'nothing recorded during the pause');
  } finally {
    await tap.stop();
    await sender.stop();
    transport.close();
  }
});

test('FFmpeg killed mid-segment: restarted on a fresh port, the partial segment is salvaged, loss < 1 segment', async () => {
  const dir = await tapDir('crash');
  const lectureStart = Date.now();
  const { producer, sender, transport } = await liveProducer();
  const tap = new AudioTap(tapSource(producer), 'lecturer:microphone', dir, lectureStart, settings());
  const segments: AudioSegment[] = [];
  const ports: number[] = [];
  tap.on('segment', (s) => segments.push(s));
  tap.on('runStarted', (e) => ports.push(e.port));
  try {
    tap.start();
    await new Promise((r) => setTimeout(r, 3_000));
    const first = tap.ffmpegPid;
    assert.ok(first);
    process.kill(first, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 4_000));
    const second = tap.ffmpegPid;
    assert.ok(second && second !== first, 'a new ffmpeg runs');
    await tap.stop();
    const elapsed = (Date.now() - lectureStart) / 1000;
    assert.equal(tap.restartCount, 1);
    assert.equal(ports.length, 2);
    assert.notEqual(ports[0], ports[1], 'fresh port');
    assert.ok(segments.some((s) => s.partial), 'the interrupted segment was salvaged');
    const total = sum(segments);
    assert.ok(elapsed - total < 2, `lost ${(elapsed - total).toFixed(2)} s (< one 2 s segment)`);
    for (const s of segments) assert.ok(await readWav(s.path), `${path.basename(s.path)} readable`);
    for (let i = 1; i < segments.length; i++) assert.ok(segments[i]!.offset >= segments[i - 1]!.offset);
  } finally {
    await tap.stop();
    await sender.stop();
    transport.close();
  }
});
