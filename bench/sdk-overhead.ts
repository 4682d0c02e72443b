// SDK overhead against raw mediasoup: the same topology built twice in one run.
//
//   node --conditions=lectern-source --import tsx bench/sdk-overhead.ts [--consumers 200] [--window 20] [--rounds 2] [--no-srtp] [--json]
//
// Topology: one router on one worker; a lecturer producing Opus (48 kbit/s) and VP8
// (1 Mbit/s, real-time libvpx) from FFmpeg into comedia PlainTransports; N consumer
// peers, each on its own PlainTransport with SRTP (AES_CM_128_HMAC_SHA1_80, so every
// forwarded packet pays what a WebRTC consumer's encryption costs) consuming audio and
// video, sending to local UDP sink sockets that count packets.
//   raw: mediasoup calls directly (createPlainTransport → connect → consume ×2 paused →
//        resume ×2 per consumer peer);
//   sdk: the same through RoomManager.handle(): join → createPlainTransport →
//        connectPlainTransport → consume ×2 → resumeConsumer ×2 (validation, per-peer
//        queues, placement, load tracking, metrics, notifications included).
// Per topology: per-peer setup latency (median/p95), then worker CPU % over --window s
// of steady forwarding (getResourceUsage deltas), packets/s at the sinks, loss.
// Rounds alternate raw/sdk so drift on a noisy machine hits both; ratios are sdk/raw.
import * as os from 'node:os';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { DEFAULT_MEDIA_CODECS, RoomManager } from '@lectern/server-sdk';
import { opusRtpParameters, type OwnedProcess } from '@lectern/testkit';
import { AUDIO, lecturerOverPlainRtp, plainStudent, prepareMedia, Sinks, SRTP_SUITE as SUITE, sendMedia, srtpKey, vp8RtpParameters, type BenchCall, type MediaFiles } from './lib/media.js';

const { values: args } = parseArgs({
  options: {
    consumers: { type: 'string', default: '200' },
    window: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    'no-srtp': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.consumers);
const WINDOW = Number(args.window);
const ROUNDS = Number(args.rounds);
const SRTP = !args['no-srtp'];
const log = (...a: unknown[]) => console.error(`[overhead ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Measured {
  topology: 'raw' | 'sdk';
  setupMs: { median: number; p95: number; mean: number };
  workerCpuPercent: number;
  sinkPacketsPerSecond: number;
  expectedPacketsPerSecond: number;
  lossPercent: number;
  benchProcessCpuPercent: number;
}

async function cpuSeconds(worker: types.Worker): Promise<number> {
  const u = await worker.getResourceUsage();
  return (u.ru_utime + u.ru_stime) / 1000;
}

async function steady(worker: types.Worker, sinks: Sinks, producers: types.Producer[]): Promise<Omit<Measured, 'topology' | 'setupMs'>> {
  await sleep(3_000);
  const producerPackets = async () => {
    let n = 0;
    for (const p of producers) for (const s of await p.getStats()) n += s.packetCount;
    return n;
  };
  const c0 = await cpuSeconds(worker);
  const p0 = sinks.packets;
  const in0 = await producerPackets();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(WINDOW * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const c1 = await cpuSeconds(worker);
  const received = sinks.packets - p0;
  const expected = ((await producerPackets()) - in0) * N;
  const self = process.cpuUsage(self0);
  return {
    workerCpuPercent: round(((c1 - c0) / seconds) * 100),
    sinkPacketsPerSecond: Math.round(received / seconds),
    expectedPacketsPerSecond: Math.round(expected / seconds),
    lossPercent: round(expected > 0 ? Math.max(0, (1 - received / expected) * 100) : 0),
    benchProcessCpuPercent: round(((self.user + self.system) / 1e6 / seconds) * 100),
  };
}

async function raw(media: MediaFiles): Promise<Measured> {
  const worker = await mediasoup.createWorker({ logLevel: 'error' });
  const sinks = await Sinks.open(4);
  const procs: OwnedProcess[] = [];
  try {
    const router = await worker.createRouter({ mediaCodecs: DEFAULT_MEDIA_CODECS });
    const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
    const audioIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
    const videoIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
    const audio = await audioIn.produce({ kind: 'audio', rtpParameters: opusRtpParameters(AUDIO.ssrc, AUDIO.pt) });
    const video = await videoIn.produce({ kind: 'video', rtpParameters: vp8RtpParameters() });
    procs.push(...sendMedia(audioIn.tuple.localPort, videoIn.tuple.localPort, media));
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const t = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, ...(SRTP ? { enableSrtp: true, srtpCryptoSuite: SUITE } : {}) });
      await t.connect({ ip: '127.0.0.1', port: sinks.port(i), ...(SRTP ? { srtpParameters: srtpKey() } : {}) });
      const ca = await t.consume({ producerId: audio.id, rtpCapabilities: router.rtpCapabilities, paused: true });
      const cv = await t.consume({ producerId: video.id, rtpCapabilities: router.rtpCapabilities, paused: true });
      await ca.resume();
      await cv.resume();
      times.push(performance.now() - t0);
    }
    return { topology: 'raw', setupMs: stats(times), ...(await steady(worker, sinks, [audio, video])) };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    sinks.close();
    worker.close();
  }
}

async function sdk(media: MediaFiles): Promise<Measured> {
  const manager = await RoomManager.create({
    workers: { numWorkers: 1 },
    room: { maxTransportsPerRouter: 100_000, maxPeers: 100_000, activeSpeaker: false },
    plainTransport: { enabled: true },
    emptyRoomTimeoutMs: null,
  });
  const sinks = await Sinks.open(4);
  const procs: OwnedProcess[] = [];
  try {
    const roomId = 'bench';
    const call: BenchCall = (peerId, method, data, role = 'student') =>
      manager.handle({ roomId, peerId, role }, method, data) as never;
    const lecturer = await lecturerOverPlainRtp(call, media);
    procs.push(...lecturer.senders);
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await plainStudent(call, `s${i}`, lecturer.rtpCapabilities, lecturer.producerIds, sinks.port(i), SRTP);
      times.push(performance.now() - t0);
    }
    const slot = manager.pool.workers[0]!;
    const room = manager.getRoom(roomId)!;
    const producers = lecturer.producerIds.map((id) => room.producerMedia(id)!.producer);
    return { topology: 'sdk', setupMs: stats(times), ...(await steady(slot.worker, sinks, producers)) };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    sinks.close();
    await manager.close();
  }
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN);
  return { median: at(0.5), p95: at(0.95), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length) };
}
const round = (x: number) => Math.round(x * 100) / 100;

export async function runSdkOverhead() {
  log(`${N} consumer peers (audio + video), SRTP ${SRTP ? SUITE : 'off'}, window ${WINDOW} s, ${ROUNDS} rounds`);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-overhead-'));
  const media = await prepareMedia(tmp);
  const rows: Measured[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const run of r % 2 === 0 ? [raw, sdk] : [sdk, raw]) {
      const m = await run(media);
      log(`${m.topology}: setup median ${m.setupMs.median} ms, worker ${m.workerCpuPercent} %, ${m.sinkPacketsPerSecond} pkt/s, loss ${m.lossPercent} %, bench process ${m.benchProcessCpuPercent} %`);
      rows.push(m);
    }
  }
  const mean = (t: 'raw' | 'sdk', f: (m: Measured) => number) => {
    const xs = rows.filter((m) => m.topology === t).map(f);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  await fs.rm(tmp, { recursive: true, force: true });
  const cpu = { raw: mean('raw', (m) => m.workerCpuPercent), sdk: mean('sdk', (m) => m.workerCpuPercent) };
  // CPU per forwarded packet: robust to small differences in what the generator sent.
  const perKpps = (t: 'raw' | 'sdk') => mean(t, (m) => m.workerCpuPercent / (m.sinkPacketsPerSecond / 1000));
  const perPacket = { raw: perKpps('raw'), sdk: perKpps('sdk') };
  const setup = { raw: mean('raw', (m) => m.setupMs.median), sdk: mean('sdk', (m) => m.setupMs.median) };
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model },
    consumers: N,
    srtp: SRTP ? SUITE : 'off',
    windowSeconds: WINDOW,
    rows,
    workerCpu: { raw: round(cpu.raw), sdk: round(cpu.sdk), ratio: round((cpu.sdk / cpu.raw) * 100) / 100, extraPercent: round((cpu.sdk / cpu.raw - 1) * 100) },
    workerCpuPerKpps: { raw: round(perPacket.raw * 1000) / 1000, sdk: round(perPacket.sdk * 1000) / 1000, extraPercent: round((perPacket.sdk / perPacket.raw - 1) * 100) },
    setupMedianMs: { raw: round(setup.raw), sdk: round(setup.sdk), extraMs: round(setup.sdk - setup.raw) },
    targets: { extraCpuPercentMax: 3, extraMsPerJoinMax: 1 },
  };
  await fs.mkdir(path.join('bench', 'results'), { recursive: true });
  await fs.writeFile(path.join('bench', 'results', 'sdk-overhead.json'), JSON.stringify(result, null, 2));
  return result;
}

runSdkOverhead().then(
  (r) => {
    if (args.json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`consumer peers            ${r.consumers} (audio + video each), SRTP ${r.srtp}`);
      console.log(`worker CPU (mean)         raw ${r.workerCpu.raw} %   sdk ${r.workerCpu.sdk} %   → +${r.workerCpu.extraPercent} % (target ≤ 3 %)`);
      console.log(`worker CPU per 1000 pkt/s raw ${r.workerCpuPerKpps.raw} %  sdk ${r.workerCpuPerKpps.sdk} % → +${r.workerCpuPerKpps.extraPercent} %`);
      console.log(`setup per peer (median)   raw ${r.setupMedianMs.raw} ms  sdk ${r.setupMedianMs.sdk} ms → +${r.setupMedianMs.extraMs} ms (target ≤ 1 ms)`);
    }
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
