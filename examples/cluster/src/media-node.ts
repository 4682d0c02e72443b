// One media node of a cluster, as its own process: a RoomManager, its NodeRegistry
// and RoomDirectory in Redis, a MediaNode that makes rooms span nodes, and the
// internal link (node-link.ts) a signaling gateway reaches it through.
//
//   LECTERN_NODE_ID=media-1 LECTERN_REDIS_URL=redis://127.0.0.1:6379 \
//     bash scripts/run.sh examples/cluster/src/media-node.ts
//
// Configured by environment (see README.md). Prints exactly one line on stdout once
// it serves: {"ready":{"nodeId":…,"incarnation":…,"link":"ws://…","pid":…}}; logs go
// to stderr as JSON lines. SIGTERM/SIGINT: drains (its peers are told to reconnect
// elsewhere), closes, exits 0. A bad environment: one error line, exit 2.
import { pathToFileURL } from 'node:url';
import { ErrorCode, LecternError, RoomManager, type PeerContext } from '@lectern/server-sdk';
import { MediaNode, NodeRegistry, RoomDirectory } from '@lectern/server-sdk/cluster';
import { NodeLinkServer } from './node-link.js';

/** The node's settings, from the environment. */
export interface MediaNodeEnv {
  nodeId: string;
  redisUrl: string;
  keyPrefix: string;
  linkPort: number;
  listenIp: string;
  announcedIp: string | undefined;
  /** What other media nodes reach this one's pipes at (a private address); default: announcedIp. */
  pipeAnnouncedIp: string | undefined;
  rtcPorts: { min: number; max: number };
  pipePorts: { min: number; max: number };
  workers: number;
  deadAfterMs: number;
  idlePipeCloseMs: number | undefined;
}

/** Thrown for a bad environment (exit 2). */
export class EnvError extends Error {}

const NODE_ID = /^[A-Za-z0-9._-]{1,128}$/;
const DRAIN_TIMEOUT_MS = 10_000;

/** Reads and checks the environment; throws {@link EnvError} naming the first bad variable. */
export function readEnv(env: NodeJS.ProcessEnv): MediaNodeEnv {
  const nodeId = env.LECTERN_NODE_ID ?? '';
  if (!NODE_ID.test(nodeId)) throw new EnvError('LECTERN_NODE_ID must be 1-128 characters of A-Z a-z 0-9 . _ -');
  const redisUrl = env.LECTERN_REDIS_URL ?? '';
  if (!/^rediss?:\/\/.+/.test(redisUrl)) throw new EnvError('LECTERN_REDIS_URL must be a redis:// or rediss:// URL');
  const keyPrefix = env.LECTERN_CLUSTER_PREFIX ?? 'lectern:';
  // The registry refuses braces and control characters (the {cluster} hash tag follows the prefix).
  if (keyPrefix === '' || /[{}\p{Cc}]/u.test(keyPrefix)) throw new EnvError('LECTERN_CLUSTER_PREFIX must be non-empty, without braces or control characters');
  const listenIp = env.LECTERN_LISTEN_IP ?? '127.0.0.1';
  if (listenIp === '') throw new EnvError('LECTERN_LISTEN_IP must be an IP address');
  const announcedIp = env.LECTERN_ANNOUNCED_IP || undefined;
  const rtcPorts = range(env, 'LECTERN_RTC_MIN_PORT', 'LECTERN_RTC_MAX_PORT', { min: 40000, max: 40999 });
  const pipePorts = range(env, 'LECTERN_PIPE_MIN_PORT', 'LECTERN_PIPE_MAX_PORT', { min: 41000, max: 41999 });
  if (rtcPorts.min <= pipePorts.max && pipePorts.min <= rtcPorts.max) {
    throw new EnvError('LECTERN_RTC_MIN_PORT..LECTERN_RTC_MAX_PORT and LECTERN_PIPE_MIN_PORT..LECTERN_PIPE_MAX_PORT must not overlap');
  }
  return {
    nodeId,
    redisUrl,
    keyPrefix,
    linkPort: integer(env, 'LECTERN_LINK_PORT', 0, 0, 65535),
    listenIp,
    announcedIp,
    pipeAnnouncedIp: env.LECTERN_PIPE_ANNOUNCED_IP || announcedIp,
    rtcPorts,
    pipePorts,
    workers: integer(env, 'LECTERN_WORKERS', 1, 1, 64),
    // 2500 ms: a crashed node's peers are told within 3 s (detection is deadAfterMs after its last
    // heartbeat, 1 s apart, plus at most one 250 ms sweep: 1.5–2.75 s after the crash).
    deadAfterMs: integer(env, 'LECTERN_DEAD_AFTER_MS', 2500, 2000, 600_000),
    idlePipeCloseMs: env.LECTERN_IDLE_PIPE_MS === undefined || env.LECTERN_IDLE_PIPE_MS === '' ? undefined : integer(env, 'LECTERN_IDLE_PIPE_MS', 0, 0, 3_600_000),
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) throw new EnvError(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  return value;
}

function range(env: NodeJS.ProcessEnv, minName: string, maxName: string, fallback: { min: number; max: number }) {
  const min = integer(env, minName, fallback.min, 1024, 65535);
  const max = integer(env, maxName, fallback.max, 1024, 65535);
  if (min > max) throw new EnvError(`${maxName} must be >= ${minName} (${min}..${max})`);
  return { min, max };
}

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`);
}

function errorFields(error: unknown): Record<string, unknown> {
  return error instanceof LecternError ? { code: error.code, message: error.message, details: error.details } : { message: String(error) };
}

async function main(): Promise<void> {
  let env: MediaNodeEnv;
  try {
    env = readEnv(process.env);
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    process.stderr.write(`media-node: invalid environment: ${error.message}\n`);
    process.exit(2);
  }

  // A signal before the node serves ends the process at once; later, it drains first.
  // (The SDK's worker pool leaves these signals to the host: the workers live until stop() closes them.)
  let onSignal: (signal: 'SIGTERM' | 'SIGINT') => void = () => process.exit(1);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => onSignal(signal));

  // The link listens first: its URL is the node's registry meta. Until the node
  // is up, requests are refused (UNAVAILABLE).
  let node: MediaNode | undefined;
  let manager: RoomManager | undefined;
  let directory: RoomDirectory | undefined;
  const notReady = () => new LecternError(ErrorCode.UNAVAILABLE, `media node ${env.nodeId} is not serving`);
  const link = await NodeLinkServer.listen({
    host: env.listenIp,
    port: env.linkPort,
    handlers: {
      request: async (peer: PeerContext, method, data) => {
        if (!manager || !node) throw notReady();
        return manager.handle(peer, method, data);
      },
      place: async (roomId) => {
        if (!directory || !node) throw notReady();
        return directory.place(roomId);
      },
      stats: () => {
        if (!manager) throw notReady();
        return { rooms: manager.roomStats(), load: manager.loadEstimate };
      },
    },
  });
  const linkUrl = env.announcedIp ? link.url.replace(/^ws:\/\/[^/]+:/, `ws://${env.announcedIp}:`) : link.url;

  let registry: NodeRegistry | undefined;
  let mediaNode: MediaNode;
  try {
    const m = await RoomManager.create({
      workers: { numWorkers: env.workers, rtcMinPort: env.rtcPorts.min, rtcMaxPort: env.rtcPorts.max },
      webRtcTransport: {
        listenInfos: [
          { protocol: 'udp', ip: env.listenIp, ...(env.announcedIp ? { announcedAddress: env.announcedIp } : {}), portRange: env.rtcPorts },
        ],
      },
    });
    manager = m;
    registry = new NodeRegistry({
      url: env.redisUrl,
      keyPrefix: env.keyPrefix,
      nodeId: env.nodeId,
      load: () => m.loadEstimate,
      meta: { link: linkUrl },
      deadAfterMs: env.deadAfterMs,
    });
    directory = new RoomDirectory(registry);
    m.on('notification', (n) => link.notify(n));
    m.on('workerDied', (e) => log('workerDied', { ...e }));
    mediaNode = await MediaNode.create({
      manager: m,
      registry,
      directory,
      pipeListenInfo: {
        protocol: 'udp',
        ip: env.listenIp,
        ...(env.pipeAnnouncedIp ? { announcedAddress: env.pipeAnnouncedIp } : {}),
        portRange: env.pipePorts,
      },
      ...(env.idlePipeCloseMs === undefined ? {} : { idlePipeCloseMs: env.idlePipeCloseMs }),
    });
  } catch (error) {
    // An SDK option refused (INVALID_CONFIG) is a bad environment too.
    const code = error instanceof LecternError && error.code === ErrorCode.INVALID_CONFIG ? 2 : 1;
    process.stderr.write(`media-node: cannot start ${env.nodeId}: ${error instanceof Error ? error.message : String(error)}\n`);
    await registry?.close().catch(() => {});
    manager?.close();
    await link.close();
    process.exit(code);
  }
  node = mediaNode;
  const nodeRegistry = registry;
  mediaNode.on('notification', (n) => link.notify(n));
  mediaNode.on('peersLost', (event) => {
    log('peersLost', { ...event });
    link.peersLost(event);
  });
  mediaNode.on('clusterError', ({ op, error }) => log('clusterError', { op, ...errorFields(error) }));
  mediaNode.on('listenerError', ({ event, error }) => log('listenerError', { on: event, ...errorFields(error) }));
  nodeRegistry.on('nodeDown', (e) => log('nodeDown', { ...e }));
  nodeRegistry.on('heartbeatFailed', ({ error }) => log('heartbeatFailed', errorFields(error)));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('stopping', { signal, cluster: mediaNode.stats() });
    void (async () => {
      let code = 0;
      try {
        const { remaining } = await mediaNode.drain({ timeoutMs: DRAIN_TIMEOUT_MS });
        log('drained', { remaining });
      } catch (error) {
        log('drainFailed', errorFields(error));
      }
      for (const [what, step] of [
        ['node', () => mediaNode.close()],
        ['registry', () => nodeRegistry.close()],
        ['manager', () => manager?.close()],
        ['link', () => link.close()],
      ] as const) {
        try {
          await step();
        } catch (error) {
          code = 1;
          log('closeFailed', { what, ...errorFields(error) });
        }
      }
      log('stopped', { code });
      process.exit(code);
    })();
  };
  onSignal = stop;

  process.stdout.write(`${JSON.stringify({ ready: { nodeId: env.nodeId, incarnation: nodeRegistry.incarnation, link: linkUrl, pid: process.pid } })}\n`);
}

// Run as a program (not when imported, e.g. to test readEnv).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
