// Router sharding at lecture scale: 1 lecturer + 300 students, maxTransportsPerRouter
// 100, over 2 workers, through RoomManager.handle() like any host.
//
//   bash scripts/run.sh bench/sharding.ts [--students 300] [--max-transports 100]
//        [--workers 2] [--concurrency 10] [--window 15] [--json]
//
// The lecturer produces Opus 48 kbit/s + VP8 1 Mbit/s from FFmpeg into comedia plain
// transports; each student is a plain-RTP peer with SRTP (AES_CM_128_HMAC_SHA1_80)
// consuming both and sending to local UDP sinks. Students join --concurrency at a time
// (a lecture start is a burst). Reported: time to join all (and per-student setup
// median/p95), routers (transports per router and worker), pipes (room.stats() and the
// PipeTransports mediasoup holds), CPU per worker over --window s, sink packets/s and loss.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { types } from 'mediasoup';
import { RoomManager } from '@lectern/server-sdk';
import type { OwnedProcess } from '@lectern/testkit';
import { lecturerOverPlainRtp, plainStudent, prepareMedia, type BenchCall } from './lib/media.js';
import { processCpuSeconds } from './lib/proc-stat.js';
import { watchProducers } from './lib/observe.js';
import { percentile, producedPackets, round, workerCpuSeconds } from './lib/stats.js';
import { UdpCountingSink } from './lib/udp-sink.js';

const { values: args } = parseArgs({
  options: {
    students: { type: 'string', default: '300' },
    'max-transports': { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '10' },
    window: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
  },
});
const STUDENTS = Number(args.students);
const MAX_TRANSPORTS = Number(args['max-transports']);
const WORKERS = Number(args.workers);
const CONCURRENCY = Number(args.concurrency);
const WINDOW = Number(args.window);
const log = (...a: unknown[]) => console.error(`[sharding ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSharding() {
  const manager = await RoomManager.create({
    workers: { numWorkers: WORKERS },
    room: { maxTransportsPerRouter: MAX_TRANSPORTS, maxPeers: STUDENTS + 10, activeSpeaker: false },
    plainTransport: { enabled: true },
    emptyRoomTimeoutMs: null,
  });
  const produced = watchProducers(manager.pool.workers.map((s) => s.worker));
  const pipeTransports = new Set<types.Transport>();
  for (const slot of manager.pool.workers) {
    slot.worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (t) => {
        if (t.type === 'pipe') pipeTransports.add(t);
      }),
    );
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-bench-sharding-'));
  const media = await prepareMedia(tmp);
  const sinks = await UdpCountingSink.start({ units: 2, socketsPerUnit: 4 });
  const procs: OwnedProcess[] = [];
  const roomId = 'lecture';
  const call: BenchCall = (peerId, method, data, role = 'student') =>
    manager.handle({ roomId, peerId, role }, method, data) as never;
  try {
    const lecturer = await lecturerOverPlainRtp(call, media);
    procs.push(...lecturer.senders);
    await sleep(1_000);

    const times: number[] = [];
    let next = 0;
    const joinOne = async (i: number) => {
      const t0 = performance.now();
      await plainStudent(call, `student-${i}`, lecturer.rtpCapabilities, lecturer.producerIds, sinks.ports[i % sinks.ports.length]!, true);
      times.push(performance.now() - t0);
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < STUDENTS) await joinOne(next++);
    }));
    const joinAllMs = performance.now() - start;
    log(`${STUDENTS} students joined in ${(joinAllMs / 1000).toFixed(2)} s`);

    const room = manager.getRoom(roomId)!;
    await sleep(3_000);
    const producers = lecturer.producerIds.map((id) => produced.get(id)!);
    const cpu0 = await Promise.all(manager.pool.workers.map((s) => workerCpuSeconds(s.worker)));
    const in0 = await producedPackets(producers);
    const p0 = sinks.read();
    const sink0 = await sinks.cpuSeconds();
    const ffmpeg0 = await Promise.all(procs.map((p) => processCpuSeconds(p.child.pid!)));
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(WINDOW * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = await Promise.all(manager.pool.workers.map((s) => workerCpuSeconds(s.worker)));
    const packetsPerSecond = UdpCountingSink.delta(p0, sinks.read()).rtp / seconds;
    const sinkCpu = (await sinks.cpuSeconds()).map((c, i) => round(((c - sink0[i]!) / seconds) * 100));
    const ffmpegCpu = (await Promise.all(procs.map((p) => processCpuSeconds(p.child.pid!)))).map((c, i) => round(((c - ffmpeg0[i]!) / seconds) * 100));
    const self = process.cpuUsage(self0);
    const inPerSecond = ((await producedPackets(producers)) - in0) / seconds;
    const stats = room.stats();
    const sorted = [...times].sort((x, y) => x - y);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model },
      students: STUDENTS,
      maxTransportsPerRouter: MAX_TRANSPORTS,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      joinAllSeconds: round(joinAllMs / 1000),
      setupMs: { median: round(sorted[Math.floor(sorted.length / 2)]!), p95: round(percentile(sorted, 95)) },
      routers: stats.routers.map((r) => ({ workerPid: r.workerPid, transports: r.transports })),
      pipes: stats.pipes,
      pipeTransports: [...pipeTransports].filter((t) => !t.closed).length,
      workerCpuPercent: manager.pool.workers.map((s, i) => ({ worker: i, routers: s.load.routers, transports: s.load.transports, consumers: s.load.consumers, cpuPercent: round(((cpu1[i]! - cpu0[i]!) / seconds) * 100) })),
      sinkPacketsPerSecond: Math.round(packetsPerSecond),
      producerPacketRate: round(inPerSecond),
      lossPercent: round(inPerSecond > 0 ? Math.max(0, (1 - packetsPerSecond / (inPerSecond * STUDENTS)) * 100) : 0),
      generator: { sinkCpuPercent: sinkCpu, ffmpegCpuPercent: ffmpegCpu, benchProcessCpuPercent: round(((self.user + self.system) / 1e6 / seconds) * 100) },
    };
    await fs.mkdir(path.join('bench', 'results'), { recursive: true });
    await fs.writeFile(path.join('bench', 'results', 'sharding.json'), JSON.stringify(result, null, 2));
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await sinks.close();
    await manager.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}


runSharding().then(
  (r) => {
    if (args.json) return console.log(JSON.stringify(r, null, 2));
    console.log(`students                 ${r.students} (SRTP plain peers, audio + video), maxTransportsPerRouter ${r.maxTransportsPerRouter}, ${r.workers} workers`);
    console.log(`time to join all         ${r.joinAllSeconds} s (${r.concurrency} at a time; per student median ${r.setupMs.median} ms, p95 ${r.setupMs.p95} ms)`);
    console.log(`routers                  ${r.routers.map((x) => `${x.transports} transports (pid ${x.workerPid})`).join(', ')}`);
    console.log(`pipes                    ${r.pipes} piped producers, ${r.pipeTransports} PipeTransports`);
    for (const w of r.workerCpuPercent) console.log(`worker ${w.worker}                 ${w.cpuPercent} % CPU, ${w.routers} routers, ${w.transports} transports, ${w.consumers} consumers`);
    console.log(`forwarded                ${r.sinkPacketsPerSecond} packets/s at the sinks, loss ${r.lossPercent} %`);
    console.log(`generator                sinks ${r.generator.sinkCpuPercent.join(' / ')} %, FFmpeg ${r.generator.ffmpegCpuPercent.join(' / ')} %, bench process ${r.generator.benchProcessCpuPercent} % (100 % = one core)`);
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
