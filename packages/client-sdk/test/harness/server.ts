// A tiny host for browser tests of the client SDK against a real RoomManager:
// an HTTP server on 127.0.0.1 serving a page + an esbuild bundle of a browser
// entry, and a WebSocket bridge from the page to `manager.handle()`.
//
//   const harness = await startHarness(manager);
//   await page.goto(harness.pageUrl({ room: 'r1', peer: 'alice', role: 'lecturer' }));
//   ...
//   await harness.close();
//
// Wire format (same as examples/lecture-app): one socket per peer at
// `/ws?room=&peer=&role=`; requests `{id, method, data}`; replies `{id, data}` or
// `{id, error: {code, message, details?}}`; notifications `{notification, data}`.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Notification, PeerContext, PeerRole, RoomOptions } from '@lectern/server-sdk';

/** What the harness needs of a RoomManager. */
export interface HarnessManager {
  handle(context: PeerContext, method: string, data: unknown): Promise<unknown>;
  on(event: 'notification', listener: (notification: Notification) => void): unknown;
  off(event: 'notification', listener: (notification: Notification) => void): unknown;
}

export interface HarnessOptions {
  /** Browser entry to bundle (TypeScript/JS). Default: this folder's `browser-entry.ts` (puts `lecternTest` on `window`). */
  entry?: string;
  /** `PeerContext.roomOptions` for rooms created through the harness. */
  roomOptions?: Partial<RoomOptions>;
  /** Page HTML; must load `/bundle.js` as a module. Default: a blank page that does. */
  html?: string;
  /** Extra static routes (`/path` → body + content type), e.g. assets of an example app. */
  routes?: Record<string, { body: string | Buffer; contentType: string }>;
  /** Handle a request before the manager sees it; return `undefined` to pass it on. */
  intercept?: (context: PeerContext, method: string, data: unknown) => Promise<unknown> | undefined;
}

export interface Harness {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** `ws://127.0.0.1:<port>/ws` (add `?room=&peer=&role=`). */
  wsUrl: string;
  /** The test page for one peer. */
  pageUrl(peer: { room: string; peer: string; role: PeerRole }): string;
  /** Open signaling sockets. */
  readonly connections: number;
  /** Sends a notification to one connected peer (as if the server had). */
  notify(room: string, peer: string, name: string, data: unknown): boolean;
  /** Closes one peer's socket (the peer leaves, like a dropped connection). */
  disconnect(room: string, peer: string): boolean;
  /** Closes sockets, the WebSocket server and the HTTP server. Idempotent. */
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const bundles = new Map<string, Promise<string>>();

/** Bundles `entry` for the browser once per process (source condition: `lectern-source`). */
export function bundle(entry: string): Promise<string> {
  let cached = bundles.get(entry);
  if (!cached) {
    cached = build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      sourcemap: 'inline',
      conditions: ['lectern-source'],
      define: { 'process.env.NODE_ENV': '"development"' },
      logLevel: 'silent',
    }).then((result) => result.outputFiles[0]!.text);
    cached.catch(() => bundles.delete(entry));
    bundles.set(entry, cached);
  }
  return cached;
}

const DEFAULT_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>lectern client test</title></head>
<body><script type="module" src="/bundle.js"></script></body></html>`;

interface Connection {
  socket: WebSocket;
  context: PeerContext;
}

/** Starts the harness on an ephemeral port of 127.0.0.1. */
export async function startHarness(manager: HarnessManager, options: HarnessOptions = {}): Promise<Harness> {
  const code = await bundle(options.entry ?? path.join(here, 'browser-entry.ts'));
  const html = options.html ?? DEFAULT_HTML;
  const routes = options.routes ?? {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = routes[url.pathname];
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (route) send(200, route.contentType, route.body);
    else if (url.pathname === '/' || url.pathname === '/index.html') send(200, 'text/html; charset=utf-8', html);
    else if (url.pathname === '/bundle.js') send(200, 'text/javascript; charset=utf-8', code);
    else send(404, 'text/plain', 'not found');
  });
  const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 256 * 1024 });
  const peers = new Map<string, Connection>();
  const key = (room: string, peer: string) => `${room}/${peer}`;
  const send = (socket: WebSocket, message: unknown) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };

  const onNotification = ({ roomId, to, name, data }: Notification) => {
    for (const peerId of to) {
      const c = peers.get(key(roomId, peerId));
      if (c) send(c.socket, { notification: name, data });
    }
  };
  manager.on('notification', onNotification);

  wss.on('connection', (socket, request) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const roomId = url.searchParams.get('room') ?? '';
    const peerId = url.searchParams.get('peer') ?? '';
    const role = url.searchParams.get('role');
    if (!ID.test(roomId) || !ID.test(peerId) || (role !== 'lecturer' && role !== 'student')) {
      socket.close(4400, 'room, peer and role (lecturer|student) are required');
      return;
    }
    const context: PeerContext = { roomId, peerId, role, ...(options.roomOptions ? { roomOptions: options.roomOptions } : {}) };
    const connection: Connection = { socket, context };
    peers.get(key(roomId, peerId))?.socket.close(4409, 'replaced');
    peers.set(key(roomId, peerId), connection);
    socket.on('message', (raw) => {
      let message: { id: number | string; method: string; data?: unknown };
      try {
        message = JSON.parse(String(raw)) as typeof message;
        if (typeof message?.method !== 'string' || (typeof message.id !== 'number' && typeof message.id !== 'string')) throw new Error();
      } catch {
        send(socket, { id: null, error: { code: 'INVALID_REQUEST', message: 'expected {id, method, data}' } });
        return;
      }
      const intercepted = options.intercept?.(context, message.method, message.data ?? {});
      (intercepted ?? manager.handle(context, message.method, message.data ?? {})).then(
        (data) => send(socket, { id: message.id, data: data ?? {} }),
        (error: unknown) => send(socket, { id: message.id, error: errorJson(error) }),
      );
    });
    socket.on('close', () => {
      if (peers.get(key(roomId, peerId)) !== connection) return;
      peers.delete(key(roomId, peerId));
      manager.handle({ roomId, peerId }, 'leave', {}).catch(() => undefined);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pageUrl: ({ room, peer, role }) =>
      `http://127.0.0.1:${port}/?${new URLSearchParams({ room, peer, role }).toString()}`,
    get connections() {
      return peers.size;
    },
    notify(room, peer, name, data) {
      const c = peers.get(key(room, peer));
      if (c) send(c.socket, { notification: name, data });
      return Boolean(c);
    },
    disconnect(room, peer) {
      const c = peers.get(key(room, peer));
      c?.socket.close(4000, 'disconnected by the test');
      return Boolean(c);
    },
    close() {
      closing ??= (async () => {
        manager.off('notification', onNotification);
        for (const c of peers.values()) c.socket.terminate();
        peers.clear();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/** The error JSON sent to the page: `toJSON()` of a LecternError, else INTERNAL. */
function errorJson(error: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  const json = (error as { toJSON?: () => unknown })?.toJSON?.();
  if (json && typeof json === 'object' && typeof (json as { code?: unknown }).code === 'string') {
    return json as { code: string; message: string; details?: Record<string, unknown> };
  }
  return { code: 'INTERNAL', message: 'internal error' };
}
