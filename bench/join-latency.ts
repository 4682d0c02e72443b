// Join + consume latency of a Lectern room, and the pipe transports room sharding creates.
//
//   npm run bench:join -- [--peers 50] [--workers N] [--max-transports 20] [--json]
//   bash scripts/run.sh bench/join-latency.ts --peers 50
//
// Part 1: one RoomManager (numWorkers = cores unless --workers), one room, one
// lecturer (a real WebRTC peer sending FFmpeg's Opus sine), then --peers students
// join ONE AFTER ANOTHER. Each student does what a client does, through the
// request API: getRouterRtpCapabilities → join → createWebRtcTransport(recv) →
// consume → client-side consumer (which connects the transport: DTLS) →
// resumeConsumer, then waits for the first RTP packet its WebRTC stack decrypts.
// Per peer it records
//   join+consume   = before getRouterRtpCapabilities → resumeConsumer reply
//   first audio    = before getRouterRtpCapabilities → first RTP packet received
// and the time of every manager.handle() call by method. Students keep receiving
// while later ones join (a real lecture), all in this one Node process.
//
// Part 2: the case the sharding issue names, on its own manager with 3 workers:
// maxTransportsPerRouter = 4, 1 lecturer + 10 students with one recv transport
// each (11 transports → 3 routers), every student consuming the lecturer. Pipe
// transports, pipe producers and pipe consumers are counted from mediasoup's own
// observer events, independent of the SDK's bookkeeping.
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { types as ms } from 'mediasoup';
import { RoomManager, type PeerContext, type PeerRole } from '@lectern/server-sdk';
import { RoomTestPeer, waitFor, workerTotals, type RequestFn } from '@lectern/testkit';
import { percentile } from './lib/stats.js';

// ------------------------------------------------------------------ options

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '50' },
    workers: { type: 'string' },
    'max-transports': { type: 'string', default: '20' },
    'first-packet-timeout-ms': { type: 'string', default: '15000' },
    'skip-three-router': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (args.help) {
  console.log(
    'usage: bench/join-latency.ts [--peers 50] [--workers <cores>] [--max-transports 20]\n' +
      '                             [--first-packet-timeout-ms 15000] [--skip-three-router] [--json]',
  );
  process.exit(0);
}
const positiveInt = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${raw}`);
    process.exit(2);
  }
  return n;
};
const PEERS = positiveInt('peers', args.peers, 50);
const WORKERS = positiveInt('workers', args.workers, os.availableParallelism());
const MAX_TRANSPORTS = positiveInt('max-transports', args['max-transports'], 20);
const FIRST_PACKET_TIMEOUT_MS = positiveInt('first-packet-timeout-ms', args['first-packet-timeout-ms'], 15_000);

const log = (msg: string) => console.error(`[bench] ${msg}`); // progress on stderr, results on stdout

// ------------------------------------------------------------------ statistics

interface Summary {
  n: number;
  median: number;
  p95: number;
  max: number;
  mean: number;
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted.at(-1) ?? NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
  };
}

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(1) : '-');

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

// ------------------------------------------------------------------ mediasoup's own counts

/**
 * Counts what the workers create, from mediasoup observer events (not from the
 * SDK): pipe transports and the producers/consumers on them, and keeps every
 * non-pipe producer so the bench can wait for the lecturer's media to flow.
 */
class MediasoupCounter {
  pipeTransportsCreated = 0;
  pipeTransportsLive = 0;
  pipeProducersCreated = 0;
  pipeConsumersCreated = 0;
  routersCreated = 0;
  readonly producers: ms.Producer[] = [];
  /** Router id of every transport, by transport id. */
  readonly routerOf = new Map<string, string>();

  constructor(manager: RoomManager) {
    for (const slot of manager.pool.workers) {
      slot.worker.observer.on('newrouter', (router) => {
        this.routersCreated += 1;
        router.observer.on('newtransport', (transport) => {
          this.routerOf.set(transport.id, router.id);
          const pipe = transport.type === 'pipe';
          if (pipe) {
            this.pipeTransportsCreated += 1;
            this.pipeTransportsLive += 1;
            transport.observer.once('close', () => (this.pipeTransportsLive -= 1));
            transport.observer.on('newproducer', () => (this.pipeProducersCreated += 1));
            transport.observer.on('newconsumer', () => (this.pipeConsumersCreated += 1));
          } else {
            transport.observer.on('newproducer', (producer) => this.producers.push(producer));
          }
        });
      });
    }
  }
}

// ------------------------------------------------------------------ request timing

/** Wall time of every manager.handle() call, by method, while `recording` is on. */
class RequestTimer {
  recording = false;
  readonly byMethod = new Map<string, number[]>();
  /** Server time of the current student (sum of its handle() calls). */
  perPeer = 0;

  requester(manager: RoomManager, roomId: string, peerId: string, role: PeerRole): RequestFn {
    const context: PeerContext = { roomId, peerId, role };
    return async (method, data) => {
      const started = performance.now();
      try {
        return await manager.handle(context, method, data);
      } finally {
        const ms = performance.now() - started;
        if (this.recording) {
          let list = this.byMethod.get(method);
          if (!list) this.byMethod.set(method, (list = []));
          list.push(ms);
          this.perPeer += ms;
        }
      }
    };
  }
}

/** Waits until the lecturer's producer has received RTP at the server. */
async function waitForProducerMedia(counter: MediasoupCounter, producerId: string): Promise<void> {
  await waitFor(
    'the lecturer producer to receive RTP',
    async () => {
      const producer = counter.producers.find((p) => p.id === producerId);
      if (!producer) return false;
      const stats = await producer.getStats();
      return stats.some((s) => s.packetCount > 0);
    },
    20_000,
    20,
  );
}

/** The histogram's quantile the way Prometheus' histogram_quantile() computes it. */
function histogramQuantile(q: number, buckets: { le: number; count: number }[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe; // the +Inf bucket: the highest finite bound
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount || 1);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

async function histogramByMethod(manager: RoomManager) {
  const metric = manager.metrics.registry.getSingleMetric('lectern_request_duration_seconds');
  if (!metric) return {};
  const { values } = await metric.get();
  const out: Record<string, { count: number; meanMs: number; p50Ms: number; p95Ms: number }> = {};
  const buckets = new Map<string, { le: number; count: number }[]>();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const v of values) {
    const method = String(v.labels.method);
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_bucket')) {
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
      (buckets.get(method) ?? buckets.set(method, []).get(method)!).push({ le, count: v.value });
    } else if (name.endsWith('_sum')) sums.set(method, v.value);
    else if (name.endsWith('_count')) counts.set(method, v.value);
  }
  for (const [method, b] of buckets) {
    const count = counts.get(method) ?? 0;
    out[method] = {
      count,
      meanMs: count ? ((sums.get(method) ?? 0) / count) * 1000 : NaN,
      p50Ms: histogramQuantile(0.5, b) * 1000,
      p95Ms: histogramQuantile(0.95, b) * 1000,
    };
  }
  return out;
}

// ------------------------------------------------------------------ part 1: join latency

interface PeerSample {
  peer: number;
  /** Index of the peer's router in room.stats().routers. */
  router: number;
  joinConsumeMs: number;
  firstAudioMs: number;
  afterResumeMs: number;
  /** Before getRouterRtpCapabilities → the client's recv transport reports ICE+DTLS connected. */
  connectedMs: number;
  connectedToFirstMs: number;
  serverMs: number;
  steps: Record<string, number>;
}

interface TrackLike {
  onReceiveRtp: { subscribe(execute: () => void): { unSubscribe(): void } };
}

async function joinLatency() {
  log(`part 1: ${PEERS} students, ${WORKERS} workers, maxTransportsPerRouter ${MAX_TRANSPORTS}`);
  const manager = await RoomManager.create({
    workers: { numWorkers: WORKERS },
    room: { maxTransportsPerRouter: MAX_TRANSPORTS },
  });
  const counter = new MediasoupCounter(manager);
  const timer = new RequestTimer();
  const roomId = 'bench-join';
  const peers: RoomTestPeer[] = [];
  const samples: PeerSample[] = [];
  try {
    const lecturer = await RoomTestPeer.join(timer.requester(manager, roomId, 'lecturer', 'lecturer'));
    peers.push(lecturer);
    const producerId = await lecturer.produceAudio();
    await waitForProducerMedia(counter, producerId);
    const lecturerRouterId = counter.routerOf.get((await lecturer.send()).id);
    log(`lecturer producing ${producerId}; students join one after another`);

    timer.recording = true;
    for (let i = 0; i < PEERS; i++) {
      timer.perPeer = 0;
      const steps: Record<string, number> = {};
      const t0 = performance.now();
      let mark = t0;
      const step = (name: string) => {
        const now = performance.now();
        steps[name] = now - mark;
        mark = now;
      };
      // getRouterRtpCapabilities + device.load + join
      const peer = await RoomTestPeer.join(timer.requester(manager, roomId, `student-${i}`, 'student'));
      peers.push(peer);
      step('caps+join');
      const transport = await peer.recv(); // createWebRtcTransport(recv)
      step('transport');
      // What RoomTestPeer.consume() does, with a first-packet hook put on the track
      // before the consumer is resumed (it is created paused, so nothing is missed).
      const reply = (await peer.request('consume', { producerId, transportId: transport.id })) as {
        consumerId: string;
        producerId: string;
        kind: 'audio' | 'video';
        rtpParameters: unknown;
      };
      step('consume');
      let connectedAt: number | undefined;
      transport.on('connectionstatechange', (state: string) => {
        if (state === 'connected') connectedAt ??= performance.now();
      });
      const receiving = await peer.webrtc.consume(transport, {
        id: reply.consumerId,
        producerId: reply.producerId,
        kind: reply.kind,
        rtpParameters: reply.rtpParameters,
      }); // the first consume connects the transport (connectTransport request)
      step('client consume');
      let firstAt: number | undefined;
      let onFirst: () => void = () => undefined;
      const first = new Promise<void>((resolve) => (onFirst = resolve));
      const sub = (receiving.consumer.track as unknown as TrackLike).onReceiveRtp.subscribe(() => {
        firstAt ??= performance.now();
        onFirst();
      });
      if (receiving.packets() > 0) throw new Error(`student-${i} received RTP before resume`);
      await peer.request('resumeConsumer', { consumerId: reply.consumerId });
      step('resume');
      const resumedAt = mark;
      const serverMs = timer.perPeer;
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          first,
          new Promise((_, reject) => {
            timeout = setTimeout(
              () => reject(new Error(`student-${i}: no RTP within ${FIRST_PACKET_TIMEOUT_MS} ms of resume`)),
              FIRST_PACKET_TIMEOUT_MS,
            );
          }),
        ]);
      } finally {
        clearTimeout(timeout);
        sub.unSubscribe();
      }
      const routers = manager.getRoom(roomId)!.stats().routers;
      const routerId = counter.routerOf.get(transport.id);
      samples.push({
        peer: i,
        router: routers.findIndex((r) => r.routerId === routerId),
        joinConsumeMs: resumedAt - t0,
        firstAudioMs: firstAt! - t0,
        afterResumeMs: firstAt! - resumedAt,
        connectedMs: (connectedAt ?? NaN) - t0,
        connectedToFirstMs: firstAt! - (connectedAt ?? NaN),
        serverMs,
        steps,
      });
      if ((i + 1) % 10 === 0 || i === PEERS - 1) {
        const last = samples.slice(-10);
        log(
          `${i + 1}/${PEERS} joined; last 10: join+consume median ${fmt(summarize(last.map((s) => s.joinConsumeMs)).median)} ms, ` +
            `first audio median ${fmt(summarize(last.map((s) => s.firstAudioMs)).median)} ms`,
        );
      }
    }
    timer.recording = false;

    // Every student is still receiving (not only its first packet).
    const room = manager.getRoom(roomId)!;
    const stats = room.stats();
    const totals = workerTotals(manager);
    const histogram = await histogramByMethod(manager);
    const requestStats = Object.fromEntries(
      [...timer.byMethod].map(([method, values]) => [method, summarize(values)] as const),
    );
    const stepStats = Object.fromEntries(
      Object.keys(samples[0]?.steps ?? {}).map((k) => [k, summarize(samples.map((s) => s.steps[k]!))] as const),
    );
    const result = {
      config: { peers: PEERS, workers: WORKERS, maxTransportsPerRouter: MAX_TRANSPORTS, cpus: os.availableParallelism() },
      joinConsumeMs: summarize(samples.map((s) => s.joinConsumeMs)),
      firstAudioMs: summarize(samples.map((s) => s.firstAudioMs)),
      firstAudioAfterResumeMs: summarize(samples.map((s) => s.afterResumeMs)),
      transportConnectedMs: summarize(samples.map((s) => s.connectedMs)),
      connectedToFirstAudioMs: summarize(samples.map((s) => s.connectedToFirstMs)),
      lecturerRouter: stats.routers.findIndex((r) => r.routerId === lecturerRouterId),
      byRouter: Object.fromEntries(
        [...new Set(samples.map((s) => s.router))].sort().map((r) => {
          const on = samples.filter((s) => s.router === r);
          return [r, { peers: on.length, joinConsumeMs: summarize(on.map((s) => s.joinConsumeMs)), firstAudioMs: summarize(on.map((s) => s.firstAudioMs)) }] as const;
        }),
      ),
      serverTimePerPeerMs: summarize(samples.map((s) => s.serverMs)),
      steps: stepStats,
      requestsMs: requestStats,
      histogram,
      sharding: {
        routers: stats.routers,
        roomPipes: stats.pipes,
        roomConsumers: stats.consumers,
        pipeTransportsLive: totals.pipeTransports,
        pipeTransportsCreated: counter.pipeTransportsCreated,
        pipeProducersCreated: counter.pipeProducersCreated,
        pipeConsumersCreated: counter.pipeConsumersCreated,
      },
      perPeer: samples.map(({ steps: _s, ...rest }) => rest),
      cleanup: {} as Record<string, unknown>,
    };

    // Leave: the last peers out should take the extra routers and their pipes with them.
    await Promise.all(peers.splice(0).map((p) => p.leave()));
    await waitFor('extra routers to be retired', () => (manager.getRoom(roomId)?.stats().routers.length ?? 0) <= 1, 5000, 20).catch(
      () => undefined,
    );
    result.cleanup = {
      roomRoutersAfterLeave: manager.getRoom(roomId)?.stats().routers.length ?? 0,
      workerTotalsAfterLeave: workerTotals(manager),
    };
    return result;
  } finally {
    timer.recording = false;
    await Promise.allSettled(peers.map((p) => p.leave()));
    manager.close();
  }
}

// ------------------------------------------------------------------ part 2: the 3-router room

async function threeRouterRoom() {
  const students = 10;
  log(`part 2: 3 workers, maxTransportsPerRouter 4, 1 lecturer + ${students} students`);
  const manager = await RoomManager.create({ workers: { numWorkers: 3 }, room: { maxTransportsPerRouter: 4 } });
  const counter = new MediasoupCounter(manager);
  const timer = new RequestTimer();
  const roomId = 'bench-three-routers';
  const peers: RoomTestPeer[] = [];
  try {
    const lecturer = await RoomTestPeer.join(timer.requester(manager, roomId, 'lecturer', 'lecturer'));
    peers.push(lecturer);
    const producerId = await lecturer.produceAudio();
    await waitForProducerMedia(counter, producerId);
    const list: RoomTestPeer[] = [];
    for (let i = 0; i < students; i++) {
      const s = await RoomTestPeer.join(timer.requester(manager, roomId, `student-${i}`, 'student'));
      peers.push(s);
      list.push(s);
      await s.recv(); // one transport each: router placement happens here
    }
    const room = manager.getRoom(roomId)!;
    const beforeConsume = { pipes: room.stats().pipes, pipeTransports: counter.pipeTransportsCreated };
    const received: { packets(): number }[] = [];
    for (const s of list) received.push(await s.consume(producerId));
    await waitFor('every student to receive the lecturer', () => received.every((r) => r.packets() > 0), 15_000, 20);
    const stats = room.stats();
    const totals = workerTotals(manager);
    const text = await manager.metrics.registry.metrics();
    const metricPipeTransports = [...text.matchAll(/^lectern_worker_pipe_transports\{[^}]*\} (\d+)/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    const result = {
      routers: stats.routers,
      workersHostingRouters: new Set(stats.routers.map((r) => r.workerPid)).size,
      consumers: stats.consumers,
      studentsReceiving: received.filter((r) => r.packets() > 0).length,
      pipesBeforeConsume: beforeConsume.pipes,
      pipeTransportsBeforeConsume: beforeConsume.pipeTransports,
      roomPipes: stats.pipes,
      pipeTransportsCreated: counter.pipeTransportsCreated,
      pipeTransportsLive: totals.pipeTransports,
      pipeTransportsMetric: metricPipeTransports,
      pipeProducersCreated: counter.pipeProducersCreated,
      pipeConsumersCreated: counter.pipeConsumersCreated,
      expected: { routers: 3, roomPipes: 2, pipeTransports: 4, pipeProducers: 2 },
      ok: false,
      cleanup: {} as Record<string, unknown>,
    };
    result.ok =
      stats.routers.length === 3 &&
      stats.pipes === 2 &&
      counter.pipeTransportsCreated === 4 &&
      totals.pipeTransports === 4 &&
      counter.pipeProducersCreated === 2;
    await Promise.all(peers.splice(0).map((p) => p.leave()));
    result.cleanup = {
      roomRoutersAfterLeave: manager.getRoom(roomId)?.stats().routers.length ?? 0,
      workerTotalsAfterLeave: workerTotals(manager),
      pipeTransportsLiveAfterLeave: counter.pipeTransportsLive,
    };
    return result;
  } finally {
    await Promise.allSettled(peers.map((p) => p.leave()));
    manager.close();
  }
}

// ------------------------------------------------------------------ report

type JoinResult = Awaited<ReturnType<typeof joinLatency>>;
type ThreeResult = Awaited<ReturnType<typeof threeRouterRoom>>;

function report(join: JoinResult, three: ThreeResult | undefined): string {
  const out: string[] = [];
  const c = join.config;
  out.push(
    `Lectern join latency — ${c.peers} students joining one after another; ${c.workers} mediasoup workers on ${c.cpus} CPUs; ` +
      `maxTransportsPerRouter ${c.maxTransportsPerRouter}; 1 lecturer sending Opus (FFmpeg sine)`,
    '',
  );
  const row = (name: string, s: Summary) => [name, s.n, fmt(s.median), fmt(s.p95), fmt(s.max), fmt(s.mean)];
  out.push(
    table(
      ['per peer (ms)', 'n', 'median', 'p95', 'max', 'mean'],
      [
        row('join+consume (caps → resume reply)', join.joinConsumeMs),
        row('time to first audio (caps → 1st RTP)', join.firstAudioMs),
        row('  of which resume reply → 1st RTP', join.firstAudioAfterResumeMs),
        row('client transport connected (ICE+DTLS)', join.transportConnectedMs),
        row('  connected → 1st RTP', join.connectedToFirstAudioMs),
        row('server time (sum of handle() calls)', join.serverTimePerPeerMs),
        ...Object.entries(join.steps).map(([k, s]) => row(`  step: ${k}`, s)),
      ],
    ),
    '',
  );
  out.push(
    table(
      ['manager.handle() by method (ms)', 'n', 'median', 'p95', 'max', 'hist p50', 'hist p95', 'hist mean'],
      Object.entries(join.requestsMs).map(([method, s]) => {
        const h = join.histogram[method];
        return [method, s.n, fmt(s.median), fmt(s.p95), fmt(s.max), fmt(h?.p50Ms ?? NaN), fmt(h?.p95Ms ?? NaN), fmt(h?.meanMs ?? NaN)];
      }),
    ),
    '  (hist = lectern_request_duration_seconds, students and lecturer, interpolated like histogram_quantile)',
    '',
  );
  out.push(
    table(
      ['by router (index in stats)', 'peers', 'join+consume median', 'p95', 'first audio median', 'p95'],
      Object.entries(join.byRouter).map(([r, b]) => [
        `router ${r}${Number(r) === join.lecturerRouter ? ' (lecturer\'s)' : ' (piped)'}`,
        b.peers,
        fmt(b.joinConsumeMs.median),
        fmt(b.joinConsumeMs.p95),
        fmt(b.firstAudioMs.median),
        fmt(b.firstAudioMs.p95),
      ]),
    ),
    '',
  );
  const sh = join.sharding;
  out.push(
    `Sharding after ${c.peers} students: ${sh.routers.length} routers ` +
      `[${sh.routers.map((r) => `${r.transports} transports on pid ${r.workerPid}`).join('; ')}]`,
    `  room.stats().pipes = ${sh.roomPipes}; PipeTransports live (sum of slot.load.pipeTransports) = ${sh.pipeTransportsLive}; ` +
      `created (mediasoup observer) = ${sh.pipeTransportsCreated}; pipe producers = ${sh.pipeProducersCreated}; ` +
      `pipe consumers = ${sh.pipeConsumersCreated}; consumers = ${sh.roomConsumers}`,
    `  after everyone left: ${JSON.stringify(join.cleanup)}`,
    '',
  );
  if (three) {
    out.push(
      `3-router room (3 workers, maxTransportsPerRouter 4, 1 lecturer + 10 students each consuming): ${three.ok ? 'as expected' : 'NOT AS EXPECTED'}`,
      table(
        ['', 'measured', 'expected'],
        [
          ['routers (transports each)', `${three.routers.length} (${three.routers.map((r) => r.transports).join('/')})`, '3 (4/4/3)'],
          ['workers hosting them', three.workersHostingRouters, 3],
          ['students receiving audio', `${three.studentsReceiving}/10`, '10/10'],
          ['room.stats().pipes', three.roomPipes, 2],
          ['PipeTransports created (observer)', three.pipeTransportsCreated, 4],
          ['PipeTransports live (slot.load)', three.pipeTransportsLive, 4],
          ['lectern_worker_pipe_transports sum', three.pipeTransportsMetric, 4],
          ['pipe producers created', three.pipeProducersCreated, 2],
          ['pipe consumers created', three.pipeConsumersCreated, 2],
          ['PipeTransports before anyone consumed', three.pipeTransportsBeforeConsume, 0],
        ],
      ),
      `  after everyone left: ${JSON.stringify(three.cleanup)}`,
      '',
    );
  }
  return out.join('\n');
}

// ------------------------------------------------------------------ main

let exitCode = 0;
try {
  const join = await joinLatency();
  const three = args['skip-three-router'] ? undefined : await threeRouterRoom();
  console.log(report(join, three));
  if (args.json) console.log(JSON.stringify({ join, threeRouterRoom: three }, null, 2));
  if (three && !three.ok) exitCode = 1;
} catch (error) {
  console.error('[bench] failed:', error);
  exitCode = 1;
}
process.exitCode = exitCode;
// Everything was closed above, so the process ends by itself. If something still
// holds it open, say what (an unref'd timer does not keep it alive itself).
setTimeout(() => {
  console.error('[bench] still running 15 s after the end; open resources:', process.getActiveResourcesInfo());
  process.exit(exitCode || 1);
}, 15_000).unref();
