// SDK overhead against raw mediasoup: the same topology built twice in one run and
// measured side by side.
//
//   bash scripts/run.sh bench/sdk-overhead.ts [--consumers 200] [--window 10] [--windows 3] [--rounds 8] [--warmup 40] [--no-srtp] [--control] [--no-pin] [--json]
//
// Topology (×2): one router on one worker; a lecturer producing Opus (48 kbit/s) and VP8
// (1 Mbit/s) from pre-encoded files that FFmpeg loops with `-c copy` into comedia
// PlainTransports; N consumer peers, each on its own PlainTransport with SRTP
// (AES_CM_128_HMAC_SHA1_80, so every forwarded packet pays what a WebRTC consumer's
// encryption costs) consuming audio and video and sending to a counting UDP sink.
//   raw: mediasoup calls directly (createPlainTransport → connect → consume ×2 paused →
//        resume ×2 per consumer peer), on a worker made by mediasoup.createWorker();
//   sdk: the same through RoomManager.handle(): join → createPlainTransport →
//        connectPlainTransport → consume ×2 → resumeConsumer ×2 (validation, per-peer
//        queues, placement, load sampling, metrics, notifications included).
//
// Why side by side: on a shared 2-core machine the CPU a worker needs for the same work
// drifts by several % from one minute to the next, as much as the difference sought.
// So both topologies live at once, each on its own worker process:
//  - setup: peers join alternately (raw i, sdk i, or sdk i, raw i), so both see the same
//    machine and the same growing forwarding load; the figure is the per-peer median
//    and the median of the paired differences. A warm-up (--warmup peers per side,
//    joined and removed first) leaves JIT compilation out of it.
//  - steady state: --windows windows of --window s; in each, both workers' CPU
//    (getResourceUsage deltas) over the same interval; the figure is the ratio
//    sdk/raw per window (its median and spread) and over all windows. CPU per
//    forwarded packet is given too, so a difference in what the generator sent
//    cannot pass as overhead.
//  - rounds: everything is rebuilt with fresh workers each round; each worker is pinned
//    to its own CPU (taskset), the CPUs swap every round and the build order every two
//    rounds, and the result weighs every combination equally (geometric mean).
// --control builds raw twice (an A/A run): what it reports as "overhead" is the
// method's own bias and noise floor.
// Sinks: one recvmmsg counting process per side (bench/lib/udp-sink.ts), so the
// load generator stays light (its CPU is reported).
import * as os from 'node:os';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { DEFAULT_MEDIA_CODECS, RoomManager } from '@lectern/server-sdk';
import { opusRtpParameters, startProcess, type OwnedProcess } from '@lectern/testkit';
import { AUDIO, lecturerOverPlainRtp, plainStudent, prepareMedia, SRTP_SUITE as SUITE, sendMedia, srtpKey, vp8RtpParameters, type BenchCall, type MediaFiles } from './lib/media.js';
import { processCpuSeconds } from './lib/proc-stat.js';
import { watchProducers } from './lib/observe.js';
import { percentile, producedPackets, round, workerCpuSeconds } from './lib/stats.js';
import { UdpCountingSink } from './lib/udp-sink.js';

const { values: args } = parseArgs({
  options: {
    consumers: { type: 'string', default: '200' },
    window: { type: 'string', default: '10' },
    windows: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '40' },
    'no-srtp': { type: 'boolean', default: false },
    control: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.consumers);
const WINDOW = Number(args.window);
const WINDOWS = Number(args.windows);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
const SRTP = !args['no-srtp'];
const CONTROL = args.control;
// Two workers left to the scheduler differ by a few % run to run (which CPU they
// share with the sinks and FFmpeg, migrations); pinned to one CPU each, with the
// CPUs swapped between rounds, that difference cancels out instead.
const PIN = !args['no-pin'] && os.availableParallelism() >= 2;
const log = (...a: unknown[]) => console.error(`[overhead ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One topology: how to add a consumer peer, and what to measure it by. */
interface Side {
  name: 'raw' | 'sdk';
  worker: types.Worker;
  producers: types.Producer[];
  sink: UdpCountingSink;
  /** Adds consumer peer `i` (transport connected to the sink, both consumers resumed). */
  addPeer(i: number): Promise<void>;
  /** Removes every consumer peer added so far (used after the warm-up). */
  removePeers(): Promise<void>;
  close(): Promise<void>;
}

async function rawSide(media: MediaFiles, procs: OwnedProcess[], name: Side['name'] = 'raw'): Promise<Side> {
  // The SDK's pool makes its workers with logLevel 'warn'; the same here.
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const sink = await UdpCountingSink.start({ units: 1, socketsPerUnit: 2 });
  const router = await worker.createRouter({ mediaCodecs: DEFAULT_MEDIA_CODECS });
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  const audioIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
  const videoIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
  const audio = await audioIn.produce({ kind: 'audio', rtpParameters: opusRtpParameters(AUDIO.ssrc, AUDIO.pt) });
  const video = await videoIn.produce({ kind: 'video', rtpParameters: vp8RtpParameters() });
  procs.push(...sendMedia(audioIn.tuple.localPort, videoIn.tuple.localPort, media));
  const peers: types.PlainTransport[] = [];
  return {
    name,
    worker,
    producers: [audio, video],
    sink,
    async addPeer(i) {
      const t = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, ...(SRTP ? { enableSrtp: true, srtpCryptoSuite: SUITE } : {}) });
      peers.push(t);
      await t.connect({ ip: '127.0.0.1', port: sink.ports[i % sink.ports.length]!, ...(SRTP ? { srtpParameters: srtpKey() } : {}) });
      const ca = await t.consume({ producerId: audio.id, rtpCapabilities: router.rtpCapabilities, paused: true });
      const cv = await t.consume({ producerId: video.id, rtpCapabilities: router.rtpCapabilities, paused: true });
      await ca.resume();
      await cv.resume();
    },
    async removePeers() {
      for (const t of peers.splice(0)) t.close();
    },
    async close() {
      await sink.close();
      worker.close();
    },
  };
}

async function sdkSide(media: MediaFiles, procs: OwnedProcess[]): Promise<Side> {
  const manager = await RoomManager.create({
    workers: { numWorkers: 1 },
    room: { maxTransportsPerRouter: 100_000, maxPeers: 100_000, activeSpeaker: false },
    plainTransport: { enabled: true },
    emptyRoomTimeoutMs: null,
  });
  const produced = watchProducers(manager.pool.workers.map((s) => s.worker));
  const sink = await UdpCountingSink.start({ units: 1, socketsPerUnit: 2 });
  const roomId = 'bench';
  const call: BenchCall = (peerId, method, data, role = 'student') => manager.handle({ roomId, peerId, role }, method, data) as never;
  const lecturer = await lecturerOverPlainRtp(call, media);
  procs.push(...lecturer.senders);
  const peers: string[] = [];
  let generation = 0;
  return {
    name: 'sdk',
    worker: manager.pool.workers[0]!.worker,
    producers: lecturer.producerIds.map((id) => produced.get(id)!),
    sink,
    async addPeer(i) {
      const peerId = `s${generation}-${i}`;
      peers.push(peerId);
      await plainStudent(call, peerId, lecturer.rtpCapabilities, lecturer.producerIds, sink.ports[i % sink.ports.length]!, SRTP);
    },
    async removePeers() {
      generation += 1;
      for (const peerId of peers.splice(0)) await call(peerId, 'leave', {});
    },
    async close() {
      await sink.close();
      manager.close();
    },
  };
}

interface Snapshot {
  at: number;
  cpu: number;
  sent: number;
  received: ReturnType<UdpCountingSink['read']>;
  sinkCpu: number;
}

async function snapshot(side: Side): Promise<Snapshot> {
  const [cpu, sent, sinkCpu] = await Promise.all([workerCpuSeconds(side.worker), producedPackets(side.producers), side.sink.cpuSeconds()]);
  return { at: performance.now(), cpu, sent, received: side.sink.read(), sinkCpu: sinkCpu.reduce((a, b) => a + b, 0) };
}

interface WindowFigures {
  workerCpuPercent: number;
  packetsPerSecond: number;
  expectedPacketsPerSecond: number;
  lossPercent: number;
  cpuPerKpps: number;
  sinkCpuPercent: number;
}

function figures(a: Snapshot, b: Snapshot): WindowFigures {
  const seconds = (b.at - a.at) / 1000;
  const received = UdpCountingSink.delta(a.received, b.received).rtp;
  const expected = (b.sent - a.sent) * N;
  const cpu = ((b.cpu - a.cpu) / seconds) * 100;
  return {
    workerCpuPercent: round(cpu),
    packetsPerSecond: Math.round(received / seconds),
    expectedPacketsPerSecond: Math.round(expected / seconds),
    lossPercent: round(expected > 0 ? Math.max(0, (1 - received / expected) * 100) : 0),
    cpuPerKpps: round((cpu / (received / seconds)) * 1000, 4),
    sinkCpuPercent: round(((b.sinkCpu - a.sinkCpu) / seconds) * 100),
  };
}

function quantiles(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: round(percentile(s, 50), 3), p95: round(percentile(s, 95), 3), min: round(s[0] ?? NaN, 3), max: round(s.at(-1) ?? NaN, 3) };
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface SessionResult {
  firstBuilt: 'raw' | 'sdk';
  /** CPU each worker was pinned to (taskset), if pinned. */
  cpus?: { raw: number; sdk: number };
  setup: { raw: number[]; sdk: number[] };
  windows: { raw: WindowFigures; sdk: WindowFigures; ratio: number; ratioPerPacket: number }[];
  ffmpegCpuPercent: number[];
  benchProcessCpuPercent: number;
}

/** Builds both topologies (`first` first), joins the peers alternately, then measures both workers over the same windows. */
async function session(media: MediaFiles, first: 'raw' | 'sdk', cpus: { raw: number; sdk: number } | undefined): Promise<SessionResult> {
  const procs: OwnedProcess[] = [];
  const sides: Side[] = [];
  const build = (name: 'raw' | 'sdk') => (name === 'raw' ? rawSide(media, procs) : CONTROL ? rawSide(media, procs, 'sdk') : sdkSide(media, procs));
  try {
    for (const name of first === 'raw' ? (['raw', 'sdk'] as const) : (['sdk', 'raw'] as const)) sides.push(await build(name));
    const raw = sides.find((x) => x.name === 'raw')!;
    const sdk = sides.find((x) => x.name === 'sdk')!;
    if (cpus) for (const side of sides) await pin(side.worker.pid, cpus[side.name]);

    // Warm-up: the same code paths, then removed (JIT compilation is not what we measure).
    for (let i = 0; i < WARMUP; i++) for (const side of i % 2 === 0 ? [raw, sdk] : [sdk, raw]) await side.addPeer(i);
    for (const side of sides) await side.removePeers();
    await sleep(500);

    const setup = { raw: [] as number[], sdk: [] as number[] };
    for (let i = 0; i < N; i++) {
      for (const side of i % 2 === 0 ? [raw, sdk] : [sdk, raw]) {
        const t0 = performance.now();
        await side.addPeer(i);
        setup[side.name].push(performance.now() - t0);
      }
    }
    const paired = setup.sdk.map((x, i) => x - setup.raw[i]!);
    log(`${first} built first${cpus ? `, raw on CPU ${cpus.raw}, sdk on CPU ${cpus.sdk}` : ''}: setup per peer raw median ${quantiles(setup.raw).median} ms, sdk ${quantiles(setup.sdk).median} ms, paired difference median ${quantiles(paired).median} ms`);

    await sleep(3_000); // consumers settle (first keyframe, RTCP)
    const windows: SessionResult['windows'] = [];
    const self0 = process.cpuUsage();
    const ffmpeg0 = await Promise.all(procs.map((p) => processCpuSeconds(p.child.pid!)));
    const tAll = performance.now();
    for (let w = 0; w < WINDOWS; w++) {
      const [ra, sa] = await Promise.all([snapshot(raw), snapshot(sdk)]);
      await sleep(WINDOW * 1000);
      const [rb, sb] = await Promise.all([snapshot(raw), snapshot(sdk)]);
      const r = figures(ra, rb);
      const x = figures(sa, sb);
      const row = { raw: r, sdk: x, ratio: round(x.workerCpuPercent / r.workerCpuPercent, 4), ratioPerPacket: round(x.cpuPerKpps / r.cpuPerKpps, 4) };
      windows.push(row);
      log(`window ${w + 1}/${WINDOWS}: worker CPU raw ${r.workerCpuPercent} % sdk ${x.workerCpuPercent} % (×${row.ratio}), ${r.packetsPerSecond} / ${x.packetsPerSecond} pkt/s, loss ${r.lossPercent} / ${x.lossPercent} %`);
    }
    const seconds = (performance.now() - tAll) / 1000;
    const self = process.cpuUsage(self0);
    const ffmpeg1 = await Promise.all(procs.map((p) => processCpuSeconds(p.child.pid!)));
    return {
      firstBuilt: first,
      ...(cpus ? { cpus } : {}),
      setup,
      windows,
      ffmpegCpuPercent: ffmpeg1.map((c, i) => round(((c - ffmpeg0[i]!) / seconds) * 100)),
      benchProcessCpuPercent: round(((self.user + self.system) / 1e6 / seconds) * 100),
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    for (const side of sides) await side.close().catch(() => undefined);
  }
}

/** Pins every thread of `pid` to one CPU (util-linux taskset). */
async function pin(pid: number, cpu: number): Promise<void> {
  const proc = startProcess('taskset', ['-a', '-p', '-c', String(cpu), String(pid)]);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`taskset failed (${code}): ${proc.stderr()}`);
}

const geomean = (xs: number[]) => Math.exp(mean(xs.map(Math.log)));
const stddev = (xs: number[]) => {
  const m = mean(xs);
  return xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};

export async function runSdkOverhead() {
  log(`${CONTROL ? 'control (raw vs raw): ' : ''}${N} consumer peers per side (audio + video), SRTP ${SRTP ? SUITE : 'off'}, ` +
    `${ROUNDS} rounds × ${WINDOWS} × ${WINDOW} s windows, warm-up ${WARMUP} peers`);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-overhead-'));
  try {
    const media = await prepareMedia(tmp);
    const sessions: SessionResult[] = [];
    // Rounds alternate which topology is built first and (pinned) which CPU each
    // worker gets: either alone shifts CPU by a few % (see --control); alternating cancels it.
    // CPUs swap every round, the build order every two: 4 rounds cover every combination.
    for (let r = 0; r < ROUNDS; r++) {
      const first = Math.floor(r / 2) % 2 === 0 ? 'raw' : 'sdk';
      const cpus = PIN ? (r % 2 === 0 ? { raw: 0, sdk: 1 } : { raw: 1, sdk: 0 }) : undefined;
      sessions.push(await session(media, first, cpus));
    }

    const windows = sessions.flatMap((x) => x.windows);
    const setupRaw = sessions.flatMap((x) => x.setup.raw);
    const setupSdk = sessions.flatMap((x) => x.setup.sdk);
    const paired = sessions.flatMap((x) => x.setup.sdk.map((v, i) => v - x.setup.raw[i]!));
    const byOrder = (first: 'raw' | 'sdk') => {
      const ws = sessions.filter((x) => x.firstBuilt === first).flatMap((x) => x.windows);
      return ws.length === 0 ? null : { ratio: round(geomean(ws.map((w) => w.ratio)), 4), windows: ws.length };
    };
    const total = (t: 'raw' | 'sdk') => mean(windows.map((w) => w[t].workerCpuPercent));
    // Balanced: every combination of build order and CPUs weighs the same, whatever
    // the number of rounds (geometric mean of each combination's geometric mean).
    const combinations = new Map<string, SessionResult[]>();
    for (const x of sessions) {
      const key = `${x.firstBuilt}/${x.cpus?.raw ?? '-'}`;
      combinations.set(key, [...(combinations.get(key) ?? []), x]);
    }
    const balancedRatio = (pick: (w: SessionResult['windows'][number]) => number) =>
      geomean([...combinations.values()].map((group) => geomean(group.flatMap((x) => x.windows.map(pick)))));
    const balanced = balancedRatio((w) => w.ratio);
    const balancedPerPacket = balancedRatio((w) => w.ratioPerPacket);
    const qRaw = quantiles(setupRaw);
    const qSdk = quantiles(setupSdk);
    return {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mediasoup: mediasoup.version },
      consumers: N,
      control: CONTROL,
      srtp: SRTP ? SUITE : 'off',
      rounds: ROUNDS,
      pinned: PIN,
      windowSeconds: WINDOW,
      workerCpu: {
        raw: round(total('raw')),
        sdk: round(total('sdk')),
        /** sdk/raw, every build order × CPU combination weighted equally (geometric mean of per-window ratios). */
        ratio: round(balanced, 4),
        extraPercent: round((balanced - 1) * 100),
        perPacketExtraPercent: round((balancedPerPacket - 1) * 100),
        byBuildOrder: { rawFirst: byOrder('raw'), sdkFirst: byOrder('sdk') },
        windowRatios: quantiles(windows.map((w) => w.ratio)),
        /** Per round (fresh worker processes each time): the spread between processes, which more windows cannot shrink. */
        sessionRatios: sessions.map((x) => round(geomean(x.windows.map((w) => w.ratio)), 4)),
        standardErrorPercent: round((stddev(sessions.map((x) => Math.log(geomean(x.windows.map((w) => w.ratio))))) / Math.sqrt(sessions.length)) * 100, 2),
      },
      setupMs: {
        raw: qRaw,
        sdk: qSdk,
        pairedDifference: quantiles(paired),
        extraMs: round(qSdk.median - qRaw.median, 3),
        ratio: round(qSdk.median / qRaw.median, 3),
      },
      generator: {
        ffmpegCpuPercent: sessions.map((x) => x.ffmpegCpuPercent),
        sinkCpuPercent: { raw: round(mean(windows.map((w) => w.raw.sinkCpuPercent))), sdk: round(mean(windows.map((w) => w.sdk.sinkCpuPercent))) },
        benchProcessCpuPercent: sessions.map((x) => x.benchProcessCpuPercent),
        hostCpus: os.cpus().length,
      },
      sessions,
      targets: { extraCpuPercentMax: 3, extraMsPerJoinMax: 1 },
    };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

runSdkOverhead().then(
  async (r) => {
    await fs.mkdir(path.join('bench', 'results'), { recursive: true });
    await fs.writeFile(path.join('bench', 'results', r.control ? 'sdk-overhead-control.json' : 'sdk-overhead.json'), JSON.stringify(r, null, 2));
    if (args.json) console.log(JSON.stringify(r, null, 2));
    else {
      const w = r.workerCpu;
      const sign = (x: number) => (x >= 0 ? `+${x}` : String(x));
      console.log(`consumer peers per side   ${r.consumers} (audio + video each), SRTP ${r.srtp}${r.control ? '   CONTROL RUN: "sdk" is a second raw topology' : ''}`);
      console.log(`worker CPU (mean)         raw ${w.raw} %   sdk ${w.sdk} %`);
      console.log(`  sdk/raw, balanced       ×${w.ratio} → ${sign(w.extraPercent)} % (per forwarded packet ${sign(w.perPacketExtraPercent)} %; target ≤ 3 %)`);
      console.log(`  per round               ${w.sessionRatios.map((x) => `×${x}`).join(' ')} (standard error ±${w.standardErrorPercent} %)`);
      console.log(`  by build order          raw first ×${w.byBuildOrder.rawFirst?.ratio ?? '-'}, sdk first ×${w.byBuildOrder.sdkFirst?.ratio ?? '-'}; windows min ×${w.windowRatios.min} max ×${w.windowRatios.max}`);
      console.log(`setup per peer (median)   raw ${r.setupMs.raw.median} ms  sdk ${r.setupMs.sdk.median} ms → ${sign(r.setupMs.extraMs)} ms, paired median ${sign(r.setupMs.pairedDifference.median)} ms (target ≤ 1 ms)`);
      console.log(`generator                 FFmpeg ${r.generator.ffmpegCpuPercent.flat().join(' / ')} %, sinks ${r.generator.sinkCpuPercent.raw} / ${r.generator.sinkCpuPercent.sdk} %, bench process ${r.generator.benchProcessCpuPercent.join(' / ')} % (100 % = one core)`);
    }
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
