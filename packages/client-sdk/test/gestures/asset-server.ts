// A tiny HTTP server on 127.0.0.1 for the gesture browser tests, the fixture recorder and
// the gesture benchmark: one esbuild bundle of a page (the SDK's TypeScript sources
// through the `lectern-source` condition) and the detectors' files, all local:
//   /mediapipe/hands/*      node_modules/@mediapipe/hands/        (legacy MediaPipeHandsDetector)
//   /mediapipe-tasks/*.task packages/client-sdk/models/           (built by scripts/lib/gesture-models.py)
//   /mediapipe-tasks/wasm/* node_modules/@mediapipe/tasks-vision/wasm/
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../../../..');
const require = createRequire(import.meta.url);
export const HANDS_DIR = path.dirname(require.resolve('@mediapipe/hands/package.json'));
export const TASKS_WASM_DIR = path.join(path.dirname(require.resolve('@mediapipe/tasks-vision')), 'wasm');
export const MODELS_DIR = path.join(REPO_ROOT, 'packages/client-sdk/models');
/** The default bundle of TasksVisionHandDetector. */
export const HAND_LANDMARKER_TASK = path.join(MODELS_DIR, 'hand_landmarker.task');

const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.html': 'text/html',
  '.json': 'application/json',
};

export interface AssetServer {
  url: string;
  /** Files served so far, by URL path, with how often. */
  requested: Map<string, number>;
  close(): Promise<void>;
}

/** Where a request path maps to on disk, or undefined. */
function assetFile(pathname: string): string | undefined {
  const name = path.basename(pathname);
  if (name.startsWith('.')) return undefined;
  if (pathname === `/mediapipe/hands/${name}`) return path.join(HANDS_DIR, name);
  if (pathname === `/mediapipe-tasks/wasm/${name}`) return path.join(TASKS_WASM_DIR, name);
  if (pathname === `/mediapipe-tasks/${name}` && name.endsWith('.task')) return path.join(MODELS_DIR, name);
  return undefined;
}

/**
 * Bundles `pageSource` (resolved from the repository root) and serves it at `/` with the
 * detectors' files. Throws when the model bundle has not been built (run scripts/setup.sh).
 */
export async function startAssetServer(pageSource: string): Promise<AssetServer> {
  await fs.access(HAND_LANDMARKER_TASK).catch(() => {
    throw new Error(`${path.relative(REPO_ROOT, HAND_LANDMARKER_TASK)} is missing: run scripts/setup.sh (or python3 scripts/lib/gesture-models.py)`);
  });
  const built = await esbuild.build({
    stdin: { contents: pageSource, resolveDir: REPO_ROOT, sourcefile: 'gesture-page.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    conditions: ['lectern-source'],
    write: false,
    logLevel: 'warning',
  });
  const bundle = built.outputFiles[0]!.text;
  const requested = new Map<string, number>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><meta charset="utf-8"><title>gestures</title><body style="margin:0"><script type="module" src="/page.js"></script>');
        return;
      }
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      if (url.pathname === '/page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(bundle);
        return;
      }
      const file = assetFile(url.pathname);
      const body = file ? await fs.readFile(file).catch(() => undefined) : undefined;
      const key = body ? url.pathname : `${url.pathname} (404)`;
      requested.set(key, (requested.get(key) ?? 0) + 1);
      if (!file || !body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    requested,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
