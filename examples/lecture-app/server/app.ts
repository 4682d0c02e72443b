import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { WhisperApiClient } from '@lectern/stt-adapter';
import { RoomManager, type RoomManagerOptions } from '@lectern/server-sdk';
import {
  MemoryTranscriptStore,
  RedisTranscriptStore,
  TranscriptionService,
  type TranscriptionServiceOptions,
} from '@lectern/server-sdk/transcription';
import { attachSignaling } from './signaling.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.join(here, '..', 'web');
const mediapipeDir = path.dirname(createRequire(import.meta.url).resolve('@mediapipe/hands/package.json'));

export interface LectureAppOptions {
  /** HTTP port on `host`; 0 = a free one. Default 3000. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** whisper-api base URL. */
  whisperUrl: string;
  /** Redis URL; without it transcripts live in memory. */
  redisUrl?: string;
  manager?: RoomManagerOptions;
  transcription?: Partial<Omit<TranscriptionServiceOptions, 'engine' | 'store'>>;
}

export interface LectureApp {
  url: string;
  manager: RoomManager;
  transcription: TranscriptionService;
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
  const manager = await RoomManager.create(options.manager ?? {});
  const store = options.redisUrl ? new RedisTranscriptStore({ url: options.redisUrl }) : new MemoryTranscriptStore();
  const transcription = new TranscriptionService(manager, {
    engine: new WhisperApiClient({ baseUrl: options.whisperUrl }),
    store,
    ...options.transcription,
  });
  const script = await bundle();
  const server = http.createServer((req, res) => {
    void serve(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (url.pathname === '/metrics') return manager.metrics.handler(req, res);
    if (url.pathname === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: true, rooms: manager.roomIds.length }));
      return;
    }
    if (url.pathname === '/app.js') {
      res.writeHead(200, { 'Content-Type': TYPES['.js']!, 'Cache-Control': 'no-store' }).end(script);
      return;
    }
    const file = url.pathname === '/' ? path.join(webDir, 'index.html')
      : url.pathname.startsWith('/mediapipe/') ? safeJoin(mediapipeDir, url.pathname.slice('/mediapipe/'.length))
        : url.pathname === '/style.css' ? path.join(webDir, 'style.css') : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await fs.readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  }

  const signaling = attachSignaling(server, manager, transcription);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 3000;
  return {
    url: `http://${host}:${port}`,
    manager,
    transcription,
    async close() {
      signaling.close();
      await transcription.close();
      await store.close();
      await manager.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A path inside `root`, or undefined for `..` tricks. */
function safeJoin(root: string, relative: string): string | undefined {
  const resolved = path.resolve(root, decodeURIComponent(relative));
  return resolved.startsWith(root + path.sep) ? resolved : undefined;
}
