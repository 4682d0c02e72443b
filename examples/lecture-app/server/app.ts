import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RoomManager, WebhookSender, type RoomManagerOptions, type WebhookSenderOptions } from '@lectern/server-sdk';
import {
  MemoryTranscriptStore,
  RedisTranscriptStore,
  TranscriptionService,
  type TranscriptionServiceOptions,
} from '@lectern/server-sdk/transcription';
import { decodePathname, fileUnder, requestTarget } from './http-paths.js';
import { mintJoin, refuseJoin, serveJoin, TOKEN_AUDIENCE } from './join-api.js';
import { resolveLtiOptions, type LtiOptions } from './lti/config.js';
import { LtiTool } from './lti/tool.js';
import type { Logger } from './log.js';
import { attachSignaling, resolveSignalingLimits, type SignalingLimits } from './signaling.js';
import { serveTranscripts } from './transcripts.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.join(here, '..', 'web');
const mediapipeDir = path.dirname(createRequire(import.meta.url).resolve('@mediapipe/hands/package.json'));
// The client SDK's default gesture detector: tasks-vision's WASM files and the model bundle
// that scripts/setup.sh builds (scripts/lib/gesture-models.py), both under /mediapipe-tasks/.
const tasksWasmDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@mediapipe/tasks-vision')), 'wasm');
const gestureModelsDir = path.join(here, '..', '..', '..', 'packages', 'client-sdk', 'models');

export interface LectureAppOptions {
  /** HTTP port on `host`; 0 = a free one. Default 3000. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** whisper-api base URL. */
  whisperUrl: string;
  /** whisper-api's bearer token, when it requires one (it must when it listens beyond loopback). */
  whisperToken?: string;
  /** Redis URL; without it transcripts live in memory. */
  redisUrl?: string;
  manager?: RoomManagerOptions;
  /**
   * The transcription service's options. Live captions are on by default (the
   * same whisper-api serves them at `/v1/stream`); `captions: false` turns them
   * off, an object replaces the default (e.g. another `maxPartialsPerSecond`).
   */
  transcription?: Partial<Omit<TranscriptionServiceOptions, 'engine' | 'store' | 'captions'>> & {
    captions?: TranscriptionServiceOptions['captions'] | false;
  };
  /** Signaling and connection limits (defaults: `DEFAULT_SIGNALING_LIMITS` in signaling.ts). */
  signaling?: Partial<SignalingLimits>;
  /** Where errors and refused connections are reported. Default: the console. */
  logger?: Logger;
  /**
   * The HS256 secret `/api/join` signs access tokens with and the signaling
   * verifies them with (at least 32 bytes). Default: random per start (tokens
   * do not survive a restart; the page fetches a new one when it joins).
   */
  tokenSecret?: string;
  /** Lifetime of the tokens `/api/join` mints, in seconds. Default 600. */
  tokenTtlSeconds?: number;
  /**
   * Serve `/api/join`, the demo's stand-in for an LMS, which lets anyone pick
   * their room, name and role. Default true (the demo needs it); a deployment
   * whose users come from an LMS (`lti`) turns it off: `/api/join` is then 404
   * and the only way in is a token the app minted after a verified launch.
   */
  demoJoin?: boolean;
  /** LTI 1.3 launches from registered platforms (`/lti/login`, `/lti/launch`; server/lti/). Default: off. */
  lti?: LtiOptions;
  /**
   * Signed webhooks (Standard Webhooks, the SDK's `WebhookSender`) of every room
   * and lecture event to the LMS's backend: room created/closed, peer
   * joined/left, transcription started/stopped, summary ready. At least `url`
   * and `secret` (`whsec_…`, shared with the receiver). Default: off.
   */
  webhooks?: WebhookSenderOptions;
  /** How long `close()` waits for undelivered webhooks before abandoning them. Default 5000 ms. */
  webhooksDrainTimeoutMs?: number;
}

export interface LectureApp {
  url: string;
  manager: RoomManager;
  transcription: TranscriptionService;
  /** The limits in force (the defaults with the options applied). */
  signalingLimits: SignalingLimits;
  /** With `lti`: the URLs to register with the platforms (OIDC login initiation and redirect / launch URL). */
  lti?: { loginUrl: string; launchUrl: string };
  /** With `webhooks`: the sender (its `stats()` and `dropped` events). */
  webhooks?: WebhookSender;
  close(): Promise<void>;
}

/** Bundles the web page (TypeScript sources of the SDK included) once, in memory. */
async function bundle(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [path.join(webDir, 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['lectern-source'],
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.data': 'application/octet-stream',
  '.tflite': 'application/octet-stream',
  '.binarypb': 'application/octet-stream',
};

/**
 * The example lecture app: RoomManager + TranscriptionService + an HTTP server
 * (page, bundle, MediaPipe's model files served locally, `/metrics`) with ws
 * signaling at `/ws`.
 */
export async function startLectureApp(options: LectureAppOptions): Promise<LectureApp> {
  const logger = options.logger ?? console;
  const limits = resolveSignalingLimits(options.signaling); // refused before anything starts
  const ltiOptions = options.lti ? resolveLtiOptions(options.lti) : undefined; // likewise
  let lti: LtiTool | undefined; // created once the app's URL is known
  // A bad URL or secret is INVALID_CONFIG here, before anything starts.
  const webhooks = options.webhooks ? new WebhookSender(options.webhooks) : undefined;
  const tokenSecret = options.tokenSecret ?? randomBytes(32).toString('base64url');
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 600;
  const demoJoin = options.demoJoin ?? true;
  const manager = await RoomManager.create({ ...options.manager, auth: { secret: tokenSecret, audience: TOKEN_AUDIENCE } });
  const store = options.redisUrl ? new RedisTranscriptStore({ url: options.redisUrl }) : new MemoryTranscriptStore();
  // One client for both paths: batches (`/v1/transcribe`) and live captions (`/v1/stream`).
  const engine = new WhisperApiClient({ baseUrl: options.whisperUrl, ...(options.whisperToken ? { token: options.whisperToken } : {}) });
  const { captions = { engine }, ...transcriptionOptions } = options.transcription ?? {};
  const transcription = new TranscriptionService(manager, {
    engine,
    store,
    ...transcriptionOptions,
    ...(captions ? { captions } : {}),
  });
  if (webhooks) {
    webhooks.attachRooms(manager);
    webhooks.attachTranscription(transcription);
    // Neither the event nor the LMS's answer is logged (a receiver's error page may echo the body).
    webhooks.on('dropped', ({ type, roomId, reason }) => logger.warn(`[webhooks] ${type} of room ${roomId} not delivered: ${reason}`));
  }
  const script = await bundle();
  const server = http.createServer({
    // A client that never finishes its request (or WebSocket handshake) is answered 408 and dropped.
    headersTimeout: limits.handshakeTimeoutMs,
    requestTimeout: limits.handshakeTimeoutMs,
    connectionsCheckingInterval: Math.min(limits.handshakeTimeoutMs, 30_000),
  }, (req, res) => {
    serve(req, res).catch((error: unknown) => {
      logger.error(`[http] ${req.method} ${req.url}: failed`, error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  // Parse errors, timeouts and resets of one client connection end that connection only.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // LTI's routes take POST (the platform's form posts); everything else below is GET/HEAD only.
    const ltiTarget = lti ? requestTarget(req.url) : undefined;
    if (lti && ltiTarget?.pathname.startsWith('/lti/') && await lti.handle(req, res, ltiTarget.pathname, ltiTarget)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const url = requestTarget(req.url);
    const decoded = url ? decodePathname(url.pathname) : { ok: false as const, reason: 'bad request target' };
    if (!decoded.ok) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${decoded.reason}\n`);
      return;
    }
    const pathname = `/${decoded.segments.join('/')}`;
    if (pathname === '/metrics') return manager.metrics.handler(req, res);
    if (pathname === '/api/join' && url) return demoJoin ? serveJoin(url, res, tokenSecret, tokenTtlSeconds) : refuseJoin(res);
    if (url && await serveTranscripts(req, res, url, decoded.segments, { manager, transcription })) return;
    if (pathname === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: true, rooms: manager.roomIds.length }));
      return;
    }
    if (pathname === '/app.js') {
      res.writeHead(200, { 'Content-Type': TYPES['.js']!, 'Cache-Control': 'no-store' }).end(script);
      return;
    }
    const [first, ...rest] = decoded.segments;
    const file = pathname === '/' ? path.join(webDir, 'index.html')
      : pathname === '/style.css' ? path.join(webDir, 'style.css')
        : first === 'mediapipe' ? fileUnder(mediapipeDir, rest)
          : first === 'mediapipe-tasks' ? tasksFile(rest) : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    await sendFile(req, res, file);
  }

  /** `/mediapipe-tasks/wasm/<file>` (tasks-vision's WASM) or `/mediapipe-tasks/<name>.task` (a model bundle). */
  function tasksFile(segments: readonly string[]): string | undefined {
    if (segments.length === 2 && segments[0] === 'wasm') return fileUnder(tasksWasmDir, segments.slice(1));
    if (segments.length === 1 && segments[0]!.endsWith('.task')) return fileUnder(gestureModelsDir, segments);
    return undefined;
  }

  /** Streams a regular file (MediaPipe's model files are megabytes: not read into memory per request). */
  async function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: string): Promise<void> {
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': stat.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // pipeline destroys both ends on any error; a client that went away is not worth a log line.
    pipeline(createReadStream(file), res, (error) => {
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        logger.warn(`[http] ${req.url}: sending ${file} failed`, error);
      }
    });
  }

  const signaling = attachSignaling(server, manager, transcription, { limits, logger });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After start-up (e.g. EMFILE on accept): reported; the server keeps serving the connections it has.
  server.on('error', (error) => logger.error('[http] server error', error));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 3000;
  const url = `http://${host}:${port}`;
  if (ltiOptions) lti = new LtiTool(ltiOptions, url, (who) => mintJoin(tokenSecret, tokenTtlSeconds, who));
  return {
    url,
    ...(lti ? { lti: { loginUrl: new URL('/lti/login', lti.launchUrl).href, launchUrl: lti.launchUrl } } : {}),
    ...(webhooks ? { webhooks } : {}),
    manager,
    transcription,
    signalingLimits: signaling.limits,
    async close() {
      signaling.close();
      await transcription.close();
      await store.close();
      await manager.close();
      // After the manager: the rooms' last events (transcription stopped, room closed) are queued by now.
      await webhooks?.close({ drainTimeoutMs: options.webhooksDrainTimeoutMs ?? 5000 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
