// One lecture over three media nodes (issue 13), with real processes and peers:
//
//   npm run bench:cluster -- [--rounds 4] [--students 3] [--kills 3] [--skip-stt] [--json]
//
// Three media-node.ts processes (A, B, C: one mediasoup worker each, their own
// RTC and pipe port ranges, dead after 2500 ms of silence) and a redis-server,
// driven through examples/cluster's harness: this process is the signaling
// gateway and holds every peer (werift WebRTC peers).
//
//  1. Media and remote join time, --rounds rooms: the lecturer joins on A and
//     sends audio (Opus) and video (VP8); then --students students per node join
//     ONE AFTER ANOTHER, nodes interleaved (the order rotates per round so no node
//     is always first). Each student does what a client does — capabilities, join,
//     recv transport, consume audio, client consumer, resume — and records
//     join-to-first-audio: from before its first request to the first RTP packet
//     its WebRTC stack decrypts. Then it consumes the video. The first student on
//     a node is "first" (a remote first student pays for the pipe pair across
//     nodes), the others "later". Reported: per node and kind, the median and
//     spread, and the extra time of B and C over A (the target: a later
//     student on a remote node has <= 50 ms extra). Every student must receive
//     audio and video (packets and at least one keyframe).
//  2. Node death, --kills rounds: a room with the lecturer on A and students on A,
//     B and C; node B is SIGKILLed. Measured: kill -> each of B's peers told
//     (`reconnectRequired` reason node-died, routed to them by the gateway from a
//     surviving node) — target <= 3 s; that nobody else is told; then B's
//     students re-join on C and the time from the re-join to their first audio
//     (target <= 2 s). B is restarted between rounds. Last, the lecturer's node A
//     is killed: students elsewhere see the producer close, the lecturer re-joins
//     on C and publishes again; time from its re-join to the students' first audio.
//  3. STT throughput (unless --skip-stt): runs bench/stt-queue.ts (one vs two
//     whisper-api servers, each on one core and one thread; 100 jobs with a
//     worker killed mid-job) and includes its result.
//
// Needs a quiet machine: the nodes, the peers and FFmpeg share the cores.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ClusterHarness, type HarnessPeer } from '../examples/cluster/src/harness.js';
import { percentile, round } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    students: { type: 'string', default: '3' },
    kills: { type: 'string', default: '3' },
    'dead-after-ms': { type: 'string', default: '2500' },
    'skip-stt': { type: 'boolean', default: false },
    'stt-args': { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds);
const STUDENTS = Number(args.students);
const KILLS = Number(args.kills);
const DEAD_AFTER_MS = Number(args['dead-after-ms']);
const NODES = ['A', 'B', 'C'] as const;
type NodeName = (typeof NODES)[number];
const FIRST_PACKET_TIMEOUT_MS = 15_000;
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TrackLike {
  onReceiveRtp: { subscribe(execute: () => void): { unSubscribe(): void } };
}

interface Consumed {
  packets(): number;
  keyframes(): number;
  /** performance.now() of the first RTP packet after resume. */
  firstAt: Promise<number>;
}

/** consume → client consumer → resume, with the first-packet hook set before the resume. */
async function consumeTimed(peer: HarnessPeer, producerId: string): Promise<Consumed> {
  const rtc = peer.peer;
  const transport = await rtc.recv();
  const reply = (await rtc.request('consume', { producerId, transportId: transport.id })) as {
    consumerId: string;
    producerId: string;
    kind: 'audio' | 'video';
    rtpParameters: unknown;
  };
  const receiving = await rtc.webrtc.consume(transport, { id: reply.consumerId, producerId: reply.producerId, kind: reply.kind, rtpParameters: reply.rtpParameters });
  let resolveFirst: (at: number) => void = () => undefined;
  const first = new Promise<number>((resolve) => (resolveFirst = resolve));
  const sub = (receiving.consumer.track as unknown as TrackLike).onReceiveRtp.subscribe(() => resolveFirst(performance.now()));
  await rtc.request('resumeConsumer', { consumerId: reply.consumerId });
  const firstAt = Promise.race([
    first,
    sleep(FIRST_PACKET_TIMEOUT_MS).then(() => Promise.reject(new Error(`${peer.peerId} on ${peer.nodeId}: no ${reply.kind} RTP within ${FIRST_PACKET_TIMEOUT_MS} ms`))),
  ]).finally(() => sub.unSubscribe());
  firstAt.catch(() => undefined);
  return { packets: receiving.packets, keyframes: receiving.keyframes, firstAt };
}

/** The lecturer on `node` with audio and video; resolves with the two producer ids. */
async function lecturerOn(harness: ClusterHarness, node: NodeName, roomId: string, rejoin?: HarnessPeer) {
  const lecturer = rejoin ? await harness.rejoin(rejoin, node) : await harness.join(node, { roomId, peerId: 'lecturer', role: 'lecturer' });
  const audio = await lecturer.peer.produceAudio();
  const video = await lecturer.peer.produceVideo();
  return { lecturer, audio, video };
}

interface JoinSample {
  round: number;
  node: NodeName;
  order: 'first' | 'later';
  firstAudioMs: number;
}

async function mediaPhase(harness: ClusterHarness) {
  const samples: JoinSample[] = [];
  let allReceived = true;
  const receivedReport: Array<{ round: number; peerId: string; node: string; audioPackets: number; videoPackets: number; keyframes: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const roomId = `lecture-${round}`;
    const { lecturer, audio, video } = await lecturerOn(harness, 'A', roomId);
    await sleep(1000); // the lecturer's media is flowing before students come
    const order = [...NODES.slice(round % 3), ...NODES.slice(0, round % 3)];
    const students: Array<{ peer: HarnessPeer; audio: Consumed; video: Consumed }> = [];
    const seen = new Set<NodeName>();
    for (let i = 0; i < STUDENTS; i++) {
      for (const node of order) {
        const peerId = `s-${node}-${i}`;
        const t0 = performance.now();
        const peer = await harness.join(node, { roomId, peerId, role: 'student' });
        const a = await consumeTimed(peer, audio);
        const firstAudioAt = await a.firstAt;
        samples.push({ round, node, order: seen.has(node) ? 'later' : 'first', firstAudioMs: firstAudioAt - t0 });
        seen.add(node);
        const v = await consumeTimed(peer, video);
        students.push({ peer, audio: a, video: v });
      }
    }
    await sleep(2500); // a keyframe every second: every video consumer has had two
    for (const s of students) {
      const r = { round, peerId: s.peer.peerId, node: s.peer.nodeId, audioPackets: s.audio.packets(), videoPackets: s.video.packets(), keyframes: s.video.keyframes() };
      receivedReport.push(r);
      if (r.audioPackets === 0 || r.videoPackets === 0 || r.keyframes === 0) allReceived = false;
    }
    const last = samples.slice(-STUDENTS * 3).map((s) => `${s.node}/${s.order} ${round1(s.firstAudioMs)}`);
    log(`round ${round}: first audio (ms) ${last.join(', ')}`);
    for (const s of students) await s.peer.leave();
    await lecturer.leave();
  }
  return { samples, allReceived, received: receivedReport };
}

async function killPhase(harness: ClusterHarness) {
  const rounds: Array<{ round: number; toldMs: number[]; toldOthers: number; rejoinFirstAudioMs: number[] }> = [];
  for (let k = 0; k < KILLS; k++) {
    const roomId = `kill-${k}`;
    const { lecturer, audio } = await lecturerOn(harness, 'A', roomId);
    const students: HarnessPeer[] = [];
    for (const node of NODES) {
      for (let i = 0; i < 2; i++) {
        const peer = await harness.join(node, { roomId, peerId: `s-${node}-${i}`, role: 'student' });
        await (await consumeTimed(peer, audio)).firstAt;
        students.push(peer);
      }
    }
    const onB = students.filter((s) => s.nodeId === 'B');
    const others = [lecturer, ...students.filter((s) => s.nodeId !== 'B')];
    const told = onB.map((peer) => peer.waitForReceived('reconnectRequired', (d) => d.reason === 'node-died', 15_000));
    const killedAt = await harness.kill('B');
    const toldAt = await Promise.all(told);
    const toldMs = toldAt.map((entry) => entry.at - killedAt);
    await sleep(500); // anyone else wrongly told would have been by now
    const toldOthers = others.filter((p) => p.notifications.some((n) => n.name === 'reconnectRequired')).length;
    // B's students re-join on C: time to their first audio.
    const rejoinFirstAudioMs: number[] = [];
    const moved: HarnessPeer[] = [];
    for (const peer of onB) {
      const t0 = performance.now();
      const again = await harness.rejoin(peer, 'C');
      const a = await consumeTimed(again, audio);
      rejoinFirstAudioMs.push((await a.firstAt) - t0);
      moved.push(again);
    }
    rounds.push({ round: k, toldMs, toldOthers, rejoinFirstAudioMs });
    log(`kill ${k}: told after ${toldMs.map(round1).join(', ')} ms; others told: ${toldOthers}; re-join → first audio ${rejoinFirstAudioMs.map(round1).join(', ')} ms`);
    for (const p of [...moved, ...students.filter((s) => s.nodeId !== 'B'), lecturer]) await p.leave().catch(() => undefined);
    await harness.restart('B');
  }
  // The lecturer's node dies.
  const roomId = 'kill-lecturer';
  const { lecturer } = await lecturerOn(harness, 'A', roomId);
  const students: HarnessPeer[] = [];
  for (const node of ['B', 'C'] as const) {
    const peer = await harness.join(node, { roomId, peerId: `s-${node}`, role: 'student' });
    students.push(peer);
  }
  for (const s of students) {
    const producers = (s.peer.joined.producers ?? []).filter((p) => p.kind === 'audio');
    await (await consumeTimed(s, producers[0]!.producerId)).firstAt;
  }
  const closed = students.map((s) => s.waitForReceived('producerClosed', undefined, 15_000));
  const killedAt = await harness.kill('A');
  const closedMs = (await Promise.all(closed)).map((e) => e.at - killedAt);
  const t0 = performance.now();
  const back = await harness.rejoin(lecturer, 'C');
  const audio = await back.peer.produceAudio();
  const backMs: number[] = [];
  for (const s of students) {
    await s.waitFor('newProducer', (d) => d.producerId === audio, 10_000);
    backMs.push((await (await consumeTimed(s, audio)).firstAt) - t0);
  }
  log(`lecturer's node killed: producer closed for students after ${closedMs.map(round1).join(', ')} ms; lecturer re-join → students' first audio ${backMs.map(round1).join(', ')} ms`);
  for (const p of [...students, back]) await p.leave().catch(() => undefined);
  await harness.restart('A');
  return { rounds, lecturerNode: { producerClosedMs: closedMs, rejoinToStudentsFirstAudioMs: backMs } };
}

function runSttBench(): Promise<unknown> {
  const script = fileURLToPath(new URL('./stt-queue.ts', import.meta.url));
  const extra = String(args['stt-args']).split(' ').filter(Boolean);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', script, '--json', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench/stt-queue.ts exited ${code}`));
      try {
        resolve(JSON.parse(out));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

const round1 = (x: number) => round(x, 1);
function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, median: round1(percentile(sorted, 50)), min: round1(sorted[0] ?? NaN), max: round1(sorted.at(-1) ?? NaN) };
}

async function main() {
  log(`starting 3 media nodes and redis (dead after ${DEAD_AFTER_MS} ms)`);
  const harness = await ClusterHarness.start({ nodeIds: [...NODES], deadAfterMs: DEAD_AFTER_MS });
  let media: Awaited<ReturnType<typeof mediaPhase>>;
  let kills: Awaited<ReturnType<typeof killPhase>>;
  try {
    media = await mediaPhase(harness);
    kills = await killPhase(harness);
  } catch (error) {
    log(harness.diagnostics());
    throw error;
  } finally {
    await harness.close();
  }
  const byKey = (node: NodeName, order: 'first' | 'later') => media.samples.filter((s) => s.node === node && s.order === order).map((s) => s.firstAudioMs);
  const firstAudio: Record<string, ReturnType<typeof summary>> = {};
  for (const node of NODES) for (const order of ['first', 'later'] as const) firstAudio[`${node}/${order}`] = summary(byKey(node, order));
  // Extra time of a remote node over A, per round (same room, same moment): medians of the per-round differences.
  const extra = (node: NodeName, order: 'first' | 'later') => {
    const diffs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const a = media.samples.filter((s) => s.round === r && s.node === 'A' && s.order === order).map((s) => s.firstAudioMs);
      const b = media.samples.filter((s) => s.round === r && s.node === node && s.order === order).map((s) => s.firstAudioMs);
      if (a.length && b.length) diffs.push(percentile([...b].sort((x, y) => x - y), 50) - percentile([...a].sort((x, y) => x - y), 50));
    }
    return summary(diffs);
  };
  const extras = { 'B-A/first': extra('B', 'first'), 'C-A/first': extra('C', 'first'), 'B-A/later': extra('B', 'later'), 'C-A/later': extra('C', 'later') };
  const told = kills.rounds.flatMap((r) => r.toldMs);
  const rejoin = kills.rounds.flatMap((r) => r.rejoinFirstAudioMs);
  let stt: unknown;
  if (!args['skip-stt']) {
    log('STT queue throughput (bench/stt-queue.ts)');
    stt = await runSttBench();
  }
  const result = {
    rounds: ROUNDS,
    studentsPerNode: STUDENTS,
    deadAfterMs: DEAD_AFTER_MS,
    everyStudentReceivedAudioAndVideo: media.allReceived,
    firstAudioMs: firstAudio,
    extraOverNodeAMs: extras,
    kill: {
      toldMs: summary(told),
      othersTold: kills.rounds.reduce((n, r) => n + r.toldOthers, 0),
      rejoinToFirstAudioMs: summary(rejoin),
      lecturerNode: kills.lecturerNode,
    },
    ...(stt === undefined ? {} : { stt }),
  };
  if (args.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`Cluster: lecturer on A (audio + video), ${STUDENTS} students per node on A, B, C, ${ROUNDS} rounds`);
  console.log(`  every student received audio and video (with keyframes): ${media.allReceived ? 'yes' : 'NO'}`);
  for (const [key, s] of Object.entries(firstAudio)) console.log(`  join → first audio ${key.padEnd(8)} median ${s.median} ms (${s.min}–${s.max}, n=${s.n})`);
  for (const [key, s] of Object.entries(extras)) console.log(`  extra ${key.padEnd(10)} median ${s.median} ms (${s.min}–${s.max}, n=${s.n})${key.endsWith('later') && s.median > 50 ? '  ABOVE 50 ms' : ''}`);
  console.log(`Node B killed (${KILLS}×, dead after ${DEAD_AFTER_MS} ms): its peers told after median ${result.kill.toldMs.median} ms (${result.kill.toldMs.min}–${result.kill.toldMs.max}); others told: ${result.kill.othersTold}`);
  console.log(`  re-join on C → first audio: median ${result.kill.rejoinToFirstAudioMs.median} ms (${result.kill.rejoinToFirstAudioMs.min}–${result.kill.rejoinToFirstAudioMs.max})`);
  console.log(`Lecturer's node killed: producer closed for students after ${kills.lecturerNode.producerClosedMs.map(round1).join(', ')} ms; lecturer re-join → students' first audio ${kills.lecturerNode.rejoinToStudentsFirstAudioMs.map(round1).join(', ')} ms`);
  if (stt !== undefined) console.log(`STT queue: ${JSON.stringify(stt)}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
