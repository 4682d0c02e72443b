// SFU capacity curve of ONE mediasoup worker, raw mediasoup (no Lectern SDK).
//
//   bash scripts/run.sh bench/capacity.ts \
//     [--modes audio,audio-srtp,video,video-srtp] [--audio-n 100,200,...,4800,6400]
//     [--video-n 25,50,...,3200] [--window 10] [--settle 4] [--stop-cpu 95]
//     [--stop-loss 5] [--max-other 20] [--retries 2] [--sink recvmmsg|node] [--sink-units 2] [--sink-sockets 2]
//     [--srtp-suite AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM|AEAD_AES_256_GCM] [--json]
//
// Per mode (audio|video × plain RTP|SRTP), on a fresh worker:
//  - one router (Opus + VP8) on ONE worker (mediasoup.createWorker, logLevel warn);
//  - ingest: a comedia PlainTransport (unencrypted in every mode: one decrypt per
//    input packet would be noise next to N encrypts) fed by FFmpeg with
//    `-f rtp udp://127.0.0.1:PORT?pkt_size=1200`:
//      20 s clips encoded once before the runs (bench/lib/media.ts prepareMedia),
//      looped with `-re -stream_loop -1 -c copy`: real-time paced, and the generator
//      does not re-encode, so it stays light:
//      audio: a 440 Hz sine, libopus CBR 48 kbit/s, 20 ms = 50 packets/s;
//      video: testsrc2 640x360@30 + noise, libvpx realtime, CBR 1 Mbit/s, keyframe
//        every 60 frames = 2 s, ~110 packets/s;
//  - N consumers, each on its OWN PlainTransport (comedia false, rtcpMux) connected
//    to one of S sink sockets (consumer i → socket i mod S). SRTP modes:
//    `enableSrtp: true, srtpCryptoSuite: <--srtp-suite, default AES_CM_128_HMAC_SHA1_80>` and
//    `connect({ ip, port, srtpParameters })` with a random key, so every forwarded
//    packet is encrypted per consumer, as for a WebRTC consumer. Consumer RTP
//    capabilities: the router's codec for the kind, no header extensions and no
//    transport-cc/REMB (no BWE, no probation padding); video keeps nack/pli/fir
//    (so the worker keeps its per-consumer retransmission buffer, as with a browser).
//  - sinks (bench/lib/udp-sink.ts): S = 2 × 2 UDP sockets (SO_RCVBUF 4 MiB asked,
//    rmem_max caps it) in 2 tiny python3 processes that drain them with recvmmsg(2)
//    (up to 512 datagrams per call, 16 bytes copied each) and count RTP and RTCP
//    apart in a shared mmap'd file; `--sink node` uses node:dgram in worker_threads
//    instead (one JS callback per datagram: several times the CPU per packet);
//  - consumers are added incrementally: N = 100 → 200 adds 100, … with the
//    PRODUCER PAUSED (200 transport+connect+consume in flight at a time): a worker
//    at its limit answers requests slowly (seconds), so creating 3 200 consumers
//    under full load would take minutes. "create s" is therefore the control-plane
//    time on a worker that is not forwarding, not a join under load.
//
// Measurement per N: sweep every consumer's getStats() (paused: counters still)
// and read the sinks; resume the producer; wait --settle s (video: ≥ 3 s, more than
// one keyframe interval, so every new consumer has synced); then a --window s
// window with NO requests to the worker except the samples at its two ends; pause
// the producer, wait 300 ms for datagrams in flight, read the sinks, sweep again.
// At both ends of the window:
//  - worker CPU % = Δ(ru_utime + ru_stime) of worker.getResourceUsage() / Δwall
//    (the same figure the SDK's WorkerLoad uses), 100 % = one core;
//  - the producer's getStats(): Δ(packetCount + packetsLost) = packets FFmpeg sent
//    (RTP sequence numbers), Δ packetsLost = lost before/at the worker's input;
//  - the sinks' RTP / RTCP counters (read instantly, no messaging);
//  - the kernel's drop counters (/proc/net/udp) of the sink sockets (datagrams the
//    sink did not read in time) and of the worker's ingest socket;
//  - CPU (/proc/<pid>[/task/<tid>]/stat) of FFmpeg, of every sink process, of this
//    process, of ksoftirqd (loopback delivery the kernel defers out of the sending
//    worker), and the host total (/proc/stat); "other %" = host busy minus all of
//    these = load from other programs on the machine.
// When "other %" exceeds --max-other (the machine is shared), the window is
// measured again, up to --retries times, and the least disturbed one is kept.
// Figures: packets/s = RTP datagrams the sinks received / window; loss % = 1 − sink
// RTP / (N × packets FFmpeg sent in the window), end to end; "sink/sent %" = RTP
// datagrams the sinks received / Σ consumer packetCount deltas, both counted over
// the same resume → pause span (the worker's own count against the sinks', exact).
// A mode stops after the first N with CPU ≥ --stop-cpu or loss > --stop-loss.
//
// "Largest N below 80 %": the largest measured N with CPU < 80 % and loss < 1 %;
// "N at 80 %" interpolates CPU linearly between the measured N around 80 %.
// "packets/s per core" = packets/s ÷ (CPU % / 100) at that largest N below 80 %
// (the marginal figure, a least-squares slope of packets/s over CPU across the
// rows below 80 %, is in the JSON).
//
// Bottleneck checks, per row: sink socket drops (kernel) must be 0, no sink unit
// may be near a full core, and the host must have idle CPU left (2 cores: busy <
// 190 %). A row failing one is flagged in the "limit" column ("sink", "host") and
// is not used for the summary figures.
//
// Prints a table per mode on stdout (progress on stderr), writes
// bench/results/capacity.json; --json also prints the JSON. `runCapacity(options)`
// returns the same result object for other scripts (bench/run-all.ts).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleepAbortable } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { opusRtpParameters, type OwnedProcess } from '@lectern/testkit';
import { round } from './lib/stats.js';
import { AUDIO, CLIP_SECONDS, prepareMedia, sendRtp, VIDEO, vp8RtpParameters, type MediaFiles } from './lib/media.js';
import { UdpCountingSink, type UdpSinkCounts, type UdpSinkEngine } from './lib/udp-sink.js';
import {
  hostCpuSeconds,
  ksoftirqdPids,
  processAlive,
  processCpuSeconds,
  sumProcessCpuSeconds,
  udpDropsByPort,
  type HostCpu,
} from './lib/proc-stat.js';

// ------------------------------------------------------------------ types

export const CAPACITY_MODES = ['audio', 'audio-srtp', 'video', 'video-srtp'] as const;
export const SRTP_SUITES = ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const;
export type SrtpSuite = (typeof SRTP_SUITES)[number];
export type CapacityMode = (typeof CAPACITY_MODES)[number];

export interface CapacityOptions {
  modes?: CapacityMode[];
  audioN?: number[];
  videoN?: number[];
  /** Measurement window per N, seconds. */
  windowSeconds?: number;
  /** Wait after adding consumers before measuring, seconds (video: at least 3). */
  settleSeconds?: number;
  /** Stop a mode after the first N at or above this worker CPU %. */
  stopCpuPercent?: number;
  /** Stop a mode after the first N above this loss %. */
  stopLossPercent?: number;
  /** Measure a window again (up to `retries` times) when other programs used more than this % of the host in it. */
  maxOtherCpuPercent?: number;
  retries?: number;
  /** Sink engine (see bench/lib/udp-sink.ts): 'recvmmsg' python3 processes or 'node' worker_threads. */
  sinkEngine?: UdpSinkEngine;
  /** Sink processes/threads, and sockets in each. */
  sinkUnits?: number;
  sinkSocketsPerUnit?: number;
  /**
   * The SRTP suite of the `-srtp` modes. Default AES_CM_128_HMAC_SHA1_80 (what the
   * earlier figures used); mediasoup's DTLS prefers AEAD_AES_256_GCM, then
   * AEAD_AES_128_GCM, which is what a WebRTC consumer gets when its browser offers them.
   */
  srtpSuite?: SrtpSuite;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface CapacityRow {
  n: number;
  /** Consumers added for this N and the time it took (transport + connect + consume). */
  added: number;
  createSeconds: number;
  windowSeconds: number;
  workerCpuPercent: number;
  /** RTP datagrams the sinks received per second. */
  packetsPerSecond: number;
  /** N × packets FFmpeg sent per second (producer RTP sequence numbers). */
  expectedPacketsPerSecond: number;
  lossPercent: number;
  /** Of the expected packets: lost before or at the worker's input (producer packetsLost). */
  workerInputLossPercent: number;
  /** Kernel drops at the worker's ingest socket in the window. */
  ingestSocketDrops: number;
  /** Kernel drops at the sink sockets in the window (sink too slow to read). */
  sinkSocketDrops: number;
  /**
   * Exact delivery check over the whole run of this N (producer resume → pause):
   * Σ consumer getStats() packetCount deltas (what the worker sent) and the RTP
   * datagrams the sinks received in the same span.
   */
  workerSentPackets: number;
  sinkReceivedPackets: number;
  sinkReceivedOfSentPercent: number;
  sinkRtcpPerSecond: number;
  producerPacketsPerSecond: number;
  producerBitrate: number;
  /** pps ÷ (CPU % / 100). */
  packetsPerSecondPerCore: number;
  /** Sum over the sink's processes/threads, % of one core, and the busiest one. */
  sinkCpuPercent: number;
  sinkUnitMaxCpuPercent: number;
  ffmpegCpuPercent: number;
  /** This Node process (without sink threads, if any; mostly idle during the window). */
  benchCpuPercent: number;
  ksoftirqdCpuPercent: number;
  /** Host busy %, 100 % = one core (so up to cores × 100). */
  hostBusyPercent: number;
  hostSoftirqPercent: number;
  /** Host busy minus everything above: load from other programs on the machine. */
  otherCpuPercent: number;
  /** What limited this row, if not the worker: 'sink' | 'host' | '' */
  limit: string;
  /** Windows measured for this N (re-measured while other programs loaded the host). */
  attempts: number;
}

export interface CapacityModeResult {
  mode: CapacityMode;
  kind: 'audio' | 'video';
  srtp: boolean;
  rows: CapacityRow[];
  stoppedBecause: string;
  /** Largest measured N with CPU < 80 % and loss < 1 % (and no sink/host limit). */
  largestNBelow80: number | null;
  /** N where CPU crosses 80 %, interpolated between measured rows (null if not bracketed). */
  nAt80Interpolated: number | null;
  /** pps per 100 % of a core at largestNBelow80. */
  packetsPerSecondPerCore: number | null;
  /** Least-squares slope of pps over CPU fraction across the rows below 80 % (marginal cost). */
  marginalPacketsPerSecondPerCore: number | null;
  error?: string;
}

export interface CapacityResult {
  date: string;
  machine: { cpus: number; model: string | undefined; memGiB: number; kernel: string };
  mediasoupVersion: string;
  /** The suite of the `-srtp` modes. */
  srtpSuite: SrtpSuite;
  options: Required<Omit<CapacityOptions, 'log' | 'signal'>>;
  sink: { engine: UdpSinkEngine; units: number; sockets: number; recvBufferSize: number };
  modes: CapacityModeResult[];
  runSeconds: number;
}

// ------------------------------------------------------------------ constants

const CREATE_CONCURRENCY = 200;
const SWEEP_CONCURRENCY = 500;
/** Wait after pausing the producer for datagrams in flight to reach the sinks. */
const DRAIN_MS = 300;
/**
 * A worker far past its limit (e.g. 6400 Opus consumers on one core) falls behind
 * its ingest socket for good and stops answering its control channel: a request
 * it has not answered after this long ends the mode with the N marked saturated.
 */
const CONTROL_TIMEOUT_MS = 20_000;
/** Master key + salt length per suite (RFC 3711, RFC 7714). */
const SRTP_KEY_BYTES: Record<SrtpSuite, number> = { AES_CM_128_HMAC_SHA1_80: 30, AEAD_AES_128_GCM: 28, AEAD_AES_256_GCM: 44 };

const MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];

const DEFAULTS = {
  modes: [...CAPACITY_MODES] as CapacityMode[],
  // A step between the last doublings, so a curve ends in a measured row rather than
  // at 2× the worker's limit (where it stops answering: see CONTROL_TIMEOUT_MS).
  audioN: [100, 200, 400, 800, 1600, 3200, 4800, 6400],
  videoN: [25, 50, 100, 200, 400, 800, 1600, 2400, 3200],
  windowSeconds: 10,
  settleSeconds: 4,
  stopCpuPercent: 95,
  stopLossPercent: 5,
  maxOtherCpuPercent: 20,
  retries: 2,
  sinkEngine: 'recvmmsg' as UdpSinkEngine,
  sinkUnits: 2,
  sinkSocketsPerUnit: 2,
  srtpSuite: 'AES_CM_128_HMAC_SHA1_80' as SrtpSuite,
};

// ------------------------------------------------------------------ helpers


async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(runners);
  return out;
}

/** The consumer's RTP capabilities: the router's codec(s) of `kind`, no BWE feedback, no header extensions. */
function consumerCapabilities(router: types.Router, kind: 'audio' | 'video'): types.RtpCapabilities {
  const codecs = (router.rtpCapabilities.codecs ?? [])
    .filter((c) => c.kind === kind)
    .map((c) => ({
      ...c,
      rtcpFeedback: (c.rtcpFeedback ?? []).filter(
        (fb) => kind === 'video' && fb.type !== 'transport-cc' && fb.type !== 'goog-remb',
      ),
    }));
  return { codecs, headerExtensions: [] };
}

interface Sample {
  wall: number; // ms, performance.now()
  workerCpu: number; // s
  producerPackets: number;
  producerLost: number;
  producerBitrate: number;
  sink: UdpSinkCounts;
  sinkDrops: number;
  ingestDrops: number;
  ffmpegCpu: number;
  sinkUnitCpu: number[];
  selfCpu: number;
  ksoftirqdCpu: number;
  host: HostCpu;
}

function leastSquaresSlope(xs: number[], ys: number[]): number | null {
  if (xs.length < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den > 0 ? num / den : null;
}

// ------------------------------------------------------------------ one mode

async function runMode(
  mode: CapacityMode,
  nList: number[],
  opts: typeof DEFAULTS,
  sink: UdpCountingSink,
  media: MediaFiles,
  softirqPids: number[],
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<CapacityModeResult> {
  const kind: 'audio' | 'video' = mode.startsWith('video') ? 'video' : 'audio';
  const srtp = mode.endsWith('-srtp');
  const result: CapacityModeResult = {
    mode, kind, srtp, rows: [], stoppedBecause: 'N list done',
    largestNBelow80: null, nAt80Interpolated: null, packetsPerSecondPerCore: null, marginalPacketsPerSecondPerCore: null,
  };
  const sleep = (ms: number) => sleepAbortable(ms, undefined, { signal });

  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const workerPid = worker.pid;
  let ffmpeg: OwnedProcess | undefined;
  try {
    worker.on('died', (error) => log(`${mode}: worker died: ${error.message}`));
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const ingest = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: true,
    });
    const producer = await ingest.produce({
      kind,
      rtpParameters: kind === 'audio' ? opusRtpParameters(AUDIO.ssrc, AUDIO.pt) : vp8RtpParameters(),
    });
    const ingestPort = ingest.tuple.localPort;
    ffmpeg = sendRtp(media[kind], ingestPort, kind === 'audio' ? AUDIO : VIDEO);
    const ffmpegPid = ffmpeg.child.pid!;
    const ffmpegExit = ffmpeg.exited.then((code) => code);

    // Wait for the producer to receive media.
    const producerStats = async () => {
      const s = (await producer.getStats())[0];
      return { packets: s?.packetCount ?? 0, lost: Math.max(0, s?.packetsLost ?? 0), bitrate: s?.bitrate ?? 0 };
    };
    const startWait = Date.now();
    while ((await producerStats()).packets === 0) {
      if (Date.now() - startWait > 10_000) throw new Error(`no media from FFmpeg: ${ffmpeg.stderr()}`);
      await sleep(100);
    }
    await sleep(2000); // let FFmpeg reach its steady rate

    const caps = consumerCapabilities(router, kind);
    const consumers: types.Consumer[] = [];

    const addConsumer = async (index: number): Promise<void> => {
      const transport = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
        comedia: false,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: opts.srtpSuite } : {}),
      });
      await transport.connect({
        ip: '127.0.0.1',
        port: sink.ports[index % sink.ports.length]!,
        ...(srtp
          ? { srtpParameters: { cryptoSuite: opts.srtpSuite, keyBase64: randomBytes(SRTP_KEY_BYTES[opts.srtpSuite]).toString('base64') } }
          : {}),
      });
      consumers.push(await transport.consume({ producerId: producer.id, rtpCapabilities: caps }));
    };

    let currentN = 0;
    const answered = async <T>(request: Promise<T>, what: string): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`worker saturated at N = ${currentN}: ${what} not answered within ${CONTROL_TIMEOUT_MS / 1000} s`)),
          CONTROL_TIMEOUT_MS,
        );
      });
      try {
        return await Promise.race([request, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    const sweep = async (): Promise<{ packets: number }> => {
      const counts = await answered(
        mapLimit(consumers, SWEEP_CONCURRENCY, async (c) => {
          const stats = await c.getStats();
          return stats.find((s) => s.type === 'outbound-rtp')?.packetCount ?? 0;
        }),
        'the consumers\' getStats',
      );
      return { packets: counts.reduce((a, b) => a + b, 0) };
    };

    const sinkPorts = sink.ports;
    const sample = async (): Promise<Sample> => {
      // Instant readings first, around the worker's reply.
      const [usage, prod] = await answered(Promise.all([worker.getResourceUsage(), producerStats()]), 'getResourceUsage');
      const wall = performance.now();
      const sinkCounts = sink.read();
      const [drops, ffmpegCpu, sinkUnitCpu, selfCpu, ksoftirqdCpu, host] = await Promise.all([
        udpDropsByPort([...sinkPorts, ingestPort]),
        processCpuSeconds(ffmpegPid).catch(() => NaN),
        sink.cpuSeconds(),
        processCpuSeconds('self'),
        sumProcessCpuSeconds(softirqPids),
        hostCpuSeconds(),
      ]);
      return {
        wall,
        workerCpu: (usage.ru_utime + usage.ru_stime) / 1000,
        producerPackets: prod.packets,
        producerLost: prod.lost,
        producerBitrate: prod.bitrate,
        sink: sinkCounts,
        sinkDrops: sinkPorts.reduce((sum, p) => sum + (drops.get(p) ?? 0), 0),
        ingestDrops: drops.get(ingestPort) ?? 0,
        ffmpegCpu,
        sinkUnitCpu,
        selfCpu,
        ksoftirqdCpu,
        host,
      };
    };

    for (const n of nList) {
      if (n <= consumers.length) continue;
      const add = n - consumers.length;
      currentN = n;
      // The producer is paused while consumers are added and while their stats are
      // swept: a worker at its limit answers requests slowly, and paused counters
      // make the worker-sent vs sink-received comparison exact.
      await producer.pause();
      log(`${mode}: adding ${add} consumers → N = ${n}`);
      const c0 = performance.now();
      const progress = setInterval(() => log(`${mode}: … ${consumers.length} consumers so far`), 5000);
      try {
        await mapLimit(
          Array.from({ length: add }, (_, i) => consumers.length + i),
          CREATE_CONCURRENCY,
          addConsumer,
        );
      } catch (error) {
        result.stoppedBecause = `creating consumers failed at N = ${n}: ${(error as Error).message}`;
        log(`${mode}: ${result.stoppedBecause}`);
        break;
      } finally {
        clearInterval(progress);
      }
      const createSeconds = (performance.now() - c0) / 1000;
      let row: CapacityRow | undefined;
      for (let attempt = 1; attempt <= 1 + opts.retries; attempt++) {
        await sleep(DRAIN_MS);
        const sw0 = await sweep();
        const a0 = sink.read();
        await answered(producer.resume(), 'producer.resume');
        await sleep(Math.max(opts.settleSeconds, kind === 'video' ? 3 : 0) * 1000);

        const s0 = await sample();
        await sleep(opts.windowSeconds * 1000);
        const s1 = await sample();

        await answered(producer.pause(), 'producer.pause');
        await sleep(DRAIN_MS);
        const a1 = sink.read();
        const sw1 = await sweep();
        if (worker.died) throw new Error('worker died');
        const ffmpegState = await Promise.race([ffmpegExit, Promise.resolve('running')]);
        if (ffmpegState !== 'running') throw new Error(`FFmpeg exited (${ffmpegState}): ${ffmpeg.stderr()}`);

        const dt = (s1.wall - s0.wall) / 1000;
        const pct = (a: number, b: number) => ((b - a) / dt) * 100;
        const sinkDelta = UdpCountingSink.delta(s0.sink, s1.sink);
        const sent = (s1.producerPackets + s1.producerLost) - (s0.producerPackets + s0.producerLost);
        const expected = sent * n;
        const cpu = pct(s0.workerCpu, s1.workerCpu);
        const unitCpu = s1.sinkUnitCpu.map((v, i) => pct(s0.sinkUnitCpu[i]!, v));
        const sinkCpu = unitCpu.reduce((a, b) => a + b, 0);
        const unitMax = Math.max(...unitCpu);
        const pps = sinkDelta.rtp / dt;
        const sinkSocketDrops = s1.sinkDrops - s0.sinkDrops;
        const hostBusy = pct(s0.host.busy, s1.host.busy);
        const ffmpegCpu = pct(s0.ffmpegCpu, s1.ffmpegCpu);
        const benchCpu = pct(s0.selfCpu, s1.selfCpu) - (sink.engine === 'node' ? sinkCpu : 0);
        const ksoftirqdCpu = pct(s0.ksoftirqdCpu, s1.ksoftirqdCpu);
        const workerSent = sw1.packets - sw0.packets;
        const sinkGot = UdpCountingSink.delta(a0, a1).rtp;
        const cores = os.availableParallelism();
        const limit = sinkSocketDrops > 0 || unitMax >= 90 ? 'sink' : hostBusy >= cores * 100 - 10 ? 'host' : '';
        const measured: CapacityRow = {
          n,
          added: add,
          createSeconds: round(createSeconds),
          windowSeconds: round(dt),
          workerCpuPercent: round(cpu),
          packetsPerSecond: round(pps, 0),
          expectedPacketsPerSecond: round(expected / dt, 0),
          lossPercent: round(expected > 0 ? Math.max(0, (1 - sinkDelta.rtp / expected) * 100) : NaN, 3),
          workerInputLossPercent: round(sent > 0 ? ((s1.producerLost - s0.producerLost) / sent) * 100 : NaN, 3),
          ingestSocketDrops: s1.ingestDrops - s0.ingestDrops,
          sinkSocketDrops,
          workerSentPackets: workerSent,
          sinkReceivedPackets: sinkGot,
          sinkReceivedOfSentPercent: round(workerSent > 0 ? (sinkGot / workerSent) * 100 : NaN, 3),
          sinkRtcpPerSecond: round(sinkDelta.rtcp / dt, 0),
          producerPacketsPerSecond: round(sent / dt, 1),
          producerBitrate: Math.round(s1.producerBitrate),
          packetsPerSecondPerCore: round(cpu > 0 ? pps / (cpu / 100) : NaN, 0),
          sinkCpuPercent: round(sinkCpu),
          sinkUnitMaxCpuPercent: round(unitMax),
          ffmpegCpuPercent: round(ffmpegCpu),
          benchCpuPercent: round(benchCpu),
          ksoftirqdCpuPercent: round(ksoftirqdCpu),
          hostBusyPercent: round(hostBusy),
          hostSoftirqPercent: round(pct(s0.host.softirq, s1.host.softirq)),
          otherCpuPercent: round(hostBusy - cpu - sinkCpu - ffmpegCpu - benchCpu - ksoftirqdCpu),
          limit,
          attempts: attempt,
        };
        if (!row || measured.otherCpuPercent < row.otherCpuPercent) row = measured;
        if (measured.otherCpuPercent <= opts.maxOtherCpuPercent) break;
        log(`${mode}: N=${n}: other programs used ${measured.otherCpuPercent.toFixed(0)} % of the host during the window${attempt <= opts.retries ? ', measuring again' : ''}`);
      }
      if (!row) break;
      result.rows.push(row);
      log(
        `${mode}: N=${n} cpu ${row.workerCpuPercent.toFixed(1)} % | ${row.packetsPerSecond} pkt/s ` +
          `(expected ${row.expectedPacketsPerSecond}) | loss ${row.lossPercent} % | sink got ${row.sinkReceivedOfSentPercent} % of worker-sent ` +
          `| sink ${row.sinkCpuPercent.toFixed(1)} % drops ${row.sinkSocketDrops} | ffmpeg ${row.ffmpegCpuPercent.toFixed(1)} % ` +
          `| host ${row.hostBusyPercent.toFixed(0)} % (other ${row.otherCpuPercent.toFixed(0)} %) | created in ${row.createSeconds} s${row.limit ? ` | LIMIT ${row.limit}` : ''}`,
      );
      if (row.workerCpuPercent >= opts.stopCpuPercent) {
        result.stoppedBecause = `worker CPU ${row.workerCpuPercent} % ≥ ${opts.stopCpuPercent} % at N = ${n}`;
        break;
      }
      if (row.lossPercent > opts.stopLossPercent) {
        result.stoppedBecause = `loss ${row.lossPercent} % > ${opts.stopLossPercent} % at N = ${n}`;
        break;
      }
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    const message = (error as Error).message;
    if (message.startsWith('worker saturated')) {
      result.stoppedBecause = message; // the end of the curve, not a failure of the bench
    } else {
      result.error = message;
      result.stoppedBecause = `error: ${message}`;
    }
    log(`${mode}: ${result.stoppedBecause}`);
  } finally {
    await ffmpeg?.stop('SIGKILL', 1000);
    worker.close();
    for (let i = 0; i < 50 && (await processAlive(workerPid)); i++) await new Promise((r) => setTimeout(r, 100));
  }
  summarize(result);
  return result;
}

function summarize(result: CapacityModeResult): void {
  const clean = result.rows.filter((r) => r.limit === '');
  const below = clean.filter((r) => r.workerCpuPercent < 80 && r.lossPercent < 1);
  const best = below.at(-1);
  result.largestNBelow80 = best?.n ?? null;
  result.packetsPerSecondPerCore = best ? best.packetsPerSecondPerCore : null;
  const slope = leastSquaresSlope(below.map((r) => r.workerCpuPercent / 100), below.map((r) => r.packetsPerSecond));
  result.marginalPacketsPerSecondPerCore = slope === null ? null : Math.round(slope);
  const rows = result.rows;
  for (let i = 0; i + 1 < rows.length; i++) {
    const a = rows[i]!;
    const b = rows[i + 1]!;
    if (a.workerCpuPercent < 80 && b.workerCpuPercent >= 80) {
      result.nAt80Interpolated = Math.round(a.n + ((80 - a.workerCpuPercent) * (b.n - a.n)) / (b.workerCpuPercent - a.workerCpuPercent));
    }
  }
}

// ------------------------------------------------------------------ entry point

export async function runCapacity(options: CapacityOptions = {}): Promise<CapacityResult> {
  const opts = {
    modes: options.modes ?? DEFAULTS.modes,
    audioN: options.audioN ?? DEFAULTS.audioN,
    videoN: options.videoN ?? DEFAULTS.videoN,
    windowSeconds: options.windowSeconds ?? DEFAULTS.windowSeconds,
    settleSeconds: options.settleSeconds ?? DEFAULTS.settleSeconds,
    stopCpuPercent: options.stopCpuPercent ?? DEFAULTS.stopCpuPercent,
    stopLossPercent: options.stopLossPercent ?? DEFAULTS.stopLossPercent,
    maxOtherCpuPercent: options.maxOtherCpuPercent ?? DEFAULTS.maxOtherCpuPercent,
    retries: options.retries ?? DEFAULTS.retries,
    sinkEngine: options.sinkEngine ?? DEFAULTS.sinkEngine,
    sinkUnits: options.sinkUnits ?? DEFAULTS.sinkUnits,
    sinkSocketsPerUnit: options.sinkSocketsPerUnit ?? DEFAULTS.sinkSocketsPerUnit,
    srtpSuite: options.srtpSuite ?? DEFAULTS.srtpSuite,
  };
  const log = options.log ?? ((line: string) => console.error(`[capacity ${new Date().toISOString().slice(11, 19)}] ${line}`));
  const started = performance.now();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-capacity-'));
  let sink: UdpCountingSink | undefined;
  try {
    log(`encoding ${CLIP_SECONDS} s of Opus (48 kbit/s) and VP8 (1 Mbit/s, keyframe every 2 s) to loop`);
    const media = await prepareMedia(tmp, { audio: opts.modes.some((m) => !m.startsWith('video')), video: opts.modes.some((m) => m.startsWith('video')) });
    sink = await UdpCountingSink.start({ engine: opts.sinkEngine, units: opts.sinkUnits, socketsPerUnit: opts.sinkSocketsPerUnit });
    log(`sink: ${opts.sinkEngine}, ${sink.ports.length} sockets in ${opts.sinkUnits} ${opts.sinkEngine === 'node' ? 'threads' : 'processes'}, SO_RCVBUF ${sink.recvBufferSize} bytes`);
    const softirqPids = await ksoftirqdPids();
    const modes: CapacityModeResult[] = [];
    for (const mode of opts.modes) {
      options.signal?.throwIfAborted();
      modes.push(
        await runMode(mode, mode.startsWith('video') ? opts.videoN : opts.audioN, opts, sink, media, softirqPids, log, options.signal),
      );
    }
    return {
      date: new Date().toISOString(),
      machine: {
        cpus: os.availableParallelism(),
        model: os.cpus()[0]?.model,
        memGiB: Math.round(os.totalmem() / 2 ** 30),
        kernel: os.release(),
      },
      mediasoupVersion: mediasoup.version,
      srtpSuite: opts.srtpSuite,
      options: opts,
      sink: { engine: opts.sinkEngine, units: opts.sinkUnits, sockets: sink.ports.length, recvBufferSize: sink.recvBufferSize },
      modes,
      runSeconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    await sink?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ output

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function formatCapacity(result: CapacityResult): string {
  const out: string[] = [];
  for (const m of result.modes) {
    const first = m.rows[0];
    const ingest = first ? ` (ingest ${first.producerPacketsPerSecond} pkt/s, ${Math.round(first.producerBitrate / 1000)} kbit/s)` : '';
    out.push(`\n${m.mode}: ${m.kind}${m.srtp ? `, SRTP ${result.srtpSuite}` : ', plain RTP'} consumers on one worker${ingest}`);
    out.push(
      table(
        ['N', 'create s', 'worker CPU %', 'pkt/s', 'loss %', 'pkt/s per core', 'sink/sent %', 'sink CPU %', 'sink drops', 'FFmpeg CPU %', 'host %', 'other %', 'limit'],
        m.rows.map((r) => [
          r.n,
          r.createSeconds.toFixed(1),
          r.workerCpuPercent.toFixed(1),
          r.packetsPerSecond,
          r.lossPercent.toFixed(2),
          r.packetsPerSecondPerCore,
          r.sinkReceivedOfSentPercent.toFixed(2),
          r.sinkCpuPercent.toFixed(1),
          r.sinkSocketDrops,
          r.ffmpegCpuPercent.toFixed(1),
          r.hostBusyPercent.toFixed(0),
          r.otherCpuPercent.toFixed(0),
          r.limit || '-',
        ]),
      ),
    );
    out.push(
      `largest N below 80 % CPU: ${m.largestNBelow80 ?? '-'}` +
        (m.nAt80Interpolated !== null ? ` (80 % crossed at N ≈ ${m.nAt80Interpolated})` : '') +
        ` | pkt/s per core: ${m.packetsPerSecondPerCore ?? '-'} (marginal ${m.marginalPacketsPerSecondPerCore ?? '-'})` +
        ` | stopped: ${m.stoppedBecause}`,
    );
  }
  out.push(`\nrun time ${result.runSeconds} s, mediasoup ${result.mediasoupVersion}, ${result.machine.cpus} × ${result.machine.model}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      modes: { type: 'string' },
      'audio-n': { type: 'string' },
      'video-n': { type: 'string' },
      window: { type: 'string' },
      settle: { type: 'string' },
      'stop-cpu': { type: 'string' },
      'stop-loss': { type: 'string' },
      'max-other': { type: 'string' },
      retries: { type: 'string' },
      sink: { type: 'string' },
      'sink-units': { type: 'string' },
      'sink-sockets': { type: 'string' },
      'srtp-suite': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (args.help) {
    console.log(
      'usage: bench/capacity.ts [--modes audio,audio-srtp,video,video-srtp] [--audio-n 100,200,...]\n' +
        '                         [--video-n 25,50,...] [--window 10] [--settle 4] [--stop-cpu 95] [--stop-loss 5]\n' +
        '                         [--max-other 20] [--retries 2]\n' +
        '                         [--sink recvmmsg|node] [--sink-units 2] [--sink-sockets 2]\n' +
        '                         [--srtp-suite AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM|AEAD_AES_256_GCM] [--json]',
    );
    return;
  }
  const fail = (msg: string): never => {
    console.error(msg);
    process.exit(2);
  };
  const num = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    return Number.isFinite(n) && n > 0 ? n : fail(`--${name} must be a positive number, got ${raw}`);
  };
  const list = (name: string, raw: string | undefined): number[] | undefined =>
    raw?.split(',').map((s) => {
      const n = Number(s);
      return Number.isInteger(n) && n > 0 ? n : fail(`--${name}: bad N ${s}`);
    });
  const modes = args.modes?.split(',').map((m) =>
    (CAPACITY_MODES as readonly string[]).includes(m) ? (m as CapacityMode) : fail(`--modes: unknown mode ${m} (${CAPACITY_MODES.join(', ')})`),
  );
  const controller = new AbortController();
  const onSignal = () => {
    console.error('interrupted: cleaning up');
    controller.abort();
    // A request to a worker at its limit can take long; exiting kills FFmpeg and the
    // sinks (testkit / stdin EOF) and the worker follows its closed channel.
    setTimeout(() => process.exit(130), 10_000).unref();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await runCapacity({
    modes,
    audioN: list('audio-n', args['audio-n']),
    videoN: list('video-n', args['video-n']),
    windowSeconds: num('window', args.window),
    settleSeconds: num('settle', args.settle),
    stopCpuPercent: num('stop-cpu', args['stop-cpu']),
    stopLossPercent: num('stop-loss', args['stop-loss']),
    maxOtherCpuPercent: num('max-other', args['max-other']),
    retries: args.retries === undefined ? undefined : Number.isInteger(Number(args.retries)) && Number(args.retries) >= 0 ? Number(args.retries) : fail(`--retries: ${args.retries}`),
    sinkEngine: args.sink === undefined ? undefined : args.sink === 'node' || args.sink === 'recvmmsg' ? args.sink : fail(`--sink: recvmmsg or node, got ${args.sink}`),
    sinkUnits: num('sink-units', args['sink-units']),
    sinkSocketsPerUnit: num('sink-sockets', args['sink-sockets']),
    srtpSuite:
      args['srtp-suite'] === undefined
        ? undefined
        : (SRTP_SUITES as readonly string[]).includes(args['srtp-suite'])
          ? (args['srtp-suite'] as SrtpSuite)
          : fail(`--srtp-suite: one of ${SRTP_SUITES.join(', ')}`),
    signal: controller.signal,
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // With --json, stdout carries only the JSON (bench/run-all.ts parses it); the table goes to stderr.
  if (args.json) {
    console.error(formatCapacity(result));
    console.log(JSON.stringify(result, null, 2));
  } else console.log(formatCapacity(result));
  await fs.mkdir(path.join('bench', 'results'), { recursive: true });
  await fs.writeFile(path.join('bench', 'results', 'capacity.json'), JSON.stringify(result, null, 2) + '\n');
  console.error('wrote bench/results/capacity.json');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    if ((error as Error).name === 'AbortError') {
      console.error('interrupted: everything is closed');
      process.exitCode = 130;
      return;
    }
    console.error(error);
    process.exitCode = 1;
  });
}
