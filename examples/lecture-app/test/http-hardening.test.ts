// The example app's HTTP side under malformed requests, with raw bytes over
// node:net (fetch would normalise or refuse them first): bad percent-encoding,
// NUL bytes and traversal attempts are 400/404 and never 500; methods other
// than GET/HEAD are 405 with Allow; a request that never completes times out;
// a parse error answers 400. After each, the app still serves /health.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { startLectureApp, type LectureApp } from '../server/app.js';
import type { Logger } from '../server/log.js';
import { rawHttp } from './hardening-helpers.js';

const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);
process.on('uncaughtException', onEscape);
process.on('unhandledRejection', onEscape);

const HANDSHAKE_TIMEOUT_MS = 1_000;
const logged: string[] = [];
const logger: Logger = {
  warn: (...args: unknown[]) => void logged.push(args.map(String).join(' ')),
  error: (...args: unknown[]) => void logged.push(args.map(String).join(' ')),
};

let tmp: string;
let app: LectureApp;
let port: number;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-http-hardening-'));
  app = await startLectureApp({
    port: 0,
    whisperUrl: 'http://127.0.0.1:9', // never called: no transcription runs here
    manager: { workers: { numWorkers: 1 } },
    transcription: { workDir: path.join(tmp, 'work') },
    signaling: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
    logger,
  });
  port = Number(new URL(app.url).port);
});

after(async () => {
  await app?.close();
  await fs.rm(tmp, { recursive: true, force: true });
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

const get = (target: string, method = 'GET') => rawHttp(port, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

async function assertServing(context: string): Promise<void> {
  assert.deepEqual(escaped.splice(0), [], `${context}: an error escaped to the process`);
  assert.equal((await get('/health')).status, 200, `${context}: /health`);
  assert.equal(logged.filter((line) => line.includes('failed')).length, 0, `${context}: no request failed (500): ${logged.join('\n')}`);
}

const refused: { target: string; status: number; why: string }[] = [
  { target: '/mediapipe/%E0%A4%A', status: 400, why: 'truncated percent-encoding (decodeURIComponent throws)' },
  { target: '/%E0%A4%A', status: 400, why: 'bad percent-encoding outside /mediapipe/' },
  { target: '/health%', status: 400, why: 'a lone %' },
  { target: '/mediapipe/%C0%AE%C0%AE/package.json', status: 400, why: 'overlong UTF-8 dots' },
  { target: '/mediapipe/hands.js%00.png', status: 400, why: 'an encoded NUL byte' },
  { target: '/mediapipe/..%2f..%2fpackage.json', status: 400, why: 'an encoded slash turning a segment into ..' },
  { target: '/mediapipe/..%5c..%5cpackage.json', status: 400, why: 'an encoded backslash' },
  { target: '/mediapipe/%2e%2e/%2e%2e/package.json', status: 404, why: 'encoded dot segments (the URL parser resolves them to /package.json)' },
  { target: '/mediapipe/../../../../etc/passwd', status: 404, why: 'literal dot segments (resolved to /etc/passwd)' },
  { target: '/mediapipe/', status: 404, why: 'the directory itself' },
  { target: '/mediapipe/no-such-file.js', status: 404, why: 'a file that does not exist' },
  { target: '//evil.example/health', status: 404, why: 'a path that starts with // is a path, not a host' },
  { target: '*', status: 400, why: 'asterisk-form target' },
];

for (const { target, status, why } of refused) {
  test(`GET ${target} → ${status} (${why})`, async () => {
    const { status: got, response } = await get(target);
    assert.equal(got, status, response.split('\r\n')[0]);
    await assertServing(target);
  });
}

test('methods other than GET and HEAD: 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const { status, response } = await rawHttp(port, `${method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(status, 405, `${method}: ${response.split('\r\n')[0]}`);
    assert.match(response, /\r\nAllow: GET, HEAD\r\n/i, method);
  }
  await assertServing('405');
});

test('a MediaPipe file is streamed whole; HEAD sends its length and no body', async () => {
  const file = path.join(path.dirname(createRequire(import.meta.url).resolve('@mediapipe/hands/package.json')), 'hands.js');
  const size = (await fs.stat(file)).size;
  const response = await fetch(`${app.url}/mediapipe/hands.js`);
  assert.equal(response.status, 200);
  assert.equal(Number(response.headers.get('content-length')), size);
  assert.equal((await response.arrayBuffer()).byteLength, size);
  const head = await get('/mediapipe/hands.js', 'HEAD');
  assert.equal(head.status, 200);
  assert.match(head.response, new RegExp(`\r\ncontent-length: ${size}\r\n`, 'i'));
  assert.ok(head.response.endsWith('\r\n\r\n'), 'no body after the head');
  await assertServing('static file');
});

test('a malformed request line or header: 400 from the client-error path', async () => {
  for (const request of ['\x16\x03\x01\x02\x00 TLS hello\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET /\x00 HTTP/1.1\r\n\r\n']) {
    const { status } = await rawHttp(port, request);
    assert.equal(status, 400, JSON.stringify(request));
  }
  await assertServing('client errors');
});

test('headers that never complete: 408 after the handshake timeout, the connection is dropped', { timeout: 30_000 }, async () => {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'); // and nothing more
  const started = Date.now();
  await new Promise((resolve) => socket.once('close', resolve));
  const elapsed = Date.now() - started;
  assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 408/);
  // Node checks timeouts every connectionsCheckingInterval (= the timeout here): at most two intervals.
  assert.ok(elapsed >= HANDSHAKE_TIMEOUT_MS - 100 && elapsed <= 3 * HANDSHAKE_TIMEOUT_MS + 1_000, `dropped after ${elapsed} ms`);
  await assertServing('slow headers');
});
