// Test helpers for the hardening tests: a well-behaved signaling peer (the ws
// client library) and a raw one (node:net, WebSocket frames written by hand),
// plus raw HTTP requests whose bytes fetch() would normalise.
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { WebSocket } from 'ws';

export interface Reply {
  id: number | string | null;
  data?: unknown;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}
export interface NotificationMessage {
  notification: string;
  data: unknown;
}

/** Waits until `check` holds (polling), or fails with `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The signaling query for a peer: `room=…&peer=…&role=…` (the tests' shorthand)
 * becomes `token=…` from the app's `/api/join`, as the page does; a query
 * without `role=` is used as it is (to test what the server refuses).
 */
export async function tokenQuery(baseUrlOrPort: string | number, query: string): Promise<string> {
  const params = new URLSearchParams(query);
  if (!params.has('role')) return query;
  const base = typeof baseUrlOrPort === 'number' ? `http://127.0.0.1:${baseUrlOrPort}` : baseUrlOrPort;
  const join = new URLSearchParams({ room: params.get('room') ?? '', peer: params.get('peer') ?? '', role: params.get('role') ?? '', name: params.get('name') ?? params.get('peer') ?? 'test' });
  const response = await fetch(`${base}/api/join?${join}`);
  const body = (await response.json()) as { token?: string };
  if (!response.ok || !body.token) throw new Error(`/api/join refused ${query}: HTTP ${response.status} ${JSON.stringify(body)}`);
  return new URLSearchParams({ token: body.token }).toString();
}

/** A signaling peer as a browser would be: the ws client library, one request at a time or many. */
export class SignalingPeer {
  readonly notifications: NotificationMessage[] = [];
  /** Every message in arrival order (replies and notifications), to check ordering. */
  readonly received: (Reply | NotificationMessage)[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiting = new Map<number | string, (reply: Reply) => void>();
  private readonly unmatched: Reply[] = [];
  private nextId = 1;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as Reply | NotificationMessage;
      this.received.push(message);
      if ('notification' in message) {
        this.notifications.push(message);
        return;
      }
      const resolve = message.id === null ? undefined : this.waiting.get(message.id);
      if (resolve && message.id !== null) {
        this.waiting.delete(message.id);
        resolve(message);
      } else {
        this.unmatched.push(message);
      }
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
    });
  }

  /** Connects to `/ws`; a `room=&peer=&role=` query gets its token from `/api/join` first ({@link tokenQuery}). */
  static async connect(baseUrl: string, query: string): Promise<SignalingPeer> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws?${await tokenQuery(baseUrl, query)}`);
    const peer = new SignalingPeer(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => undefined); // surfaced through `closed`
    return peer;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends `{id, method, data}` and resolves with the reply (data or error). */
  request(method: string, data: unknown = {}, timeoutMs = 15_000): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.socket.send(JSON.stringify({ id, method, data }));
    });
  }

  /** Sends anything as one text (or binary) message. */
  sendRaw(payload: string | Buffer, binary = false): void {
    this.socket.send(payload, { binary });
  }

  /** The next reply that matched no request of ours (replies to raw sends), in order. */
  async nextUnmatched(timeoutMs = 10_000): Promise<Reply> {
    await until('an unmatched reply', () => this.unmatched.length > 0, timeoutMs);
    return this.unmatched.shift()!;
  }

  async closeAndWait(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const done = new Promise((resolve) => this.socket.once('close', resolve));
    this.socket.close();
    await done;
  }
}

export interface FrameSpec {
  opcode: number;
  payload?: Buffer;
  fin?: boolean;
  /** RSV1..3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  /** Clients must mask; false writes an unmasked frame. */
  masked?: boolean;
}

/** One WebSocket frame, byte by byte (RFC 6455 §5.2). */
export function frame({ opcode, payload = Buffer.alloc(0), fin = true, rsv = 0, masked = true }: FrameSpec): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? Buffer.alloc(0) : length < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (length >= 126 && length < 65536) lengthBytes.writeUInt16BE(length);
  if (length >= 65536) lengthBytes.writeBigUInt64BE(BigInt(length));
  const header = Buffer.from([
    (fin ? 0x80 : 0) | ((rsv & 0b111) << 4) | (opcode & 0x0f),
    (masked ? 0x80 : 0) | (length < 126 ? length : length < 65536 ? 126 : 127),
  ]);
  if (!masked) return Buffer.concat([header, lengthBytes, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, lengthBytes, mask, body]);
}

export const textFrame = (text: string) => frame({ opcode: 0x1, payload: Buffer.from(text) });

/** A close frame's payload: the code, then the reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return payload;
}

/** Frames a server sent (unmasked), parsed from the byte stream. */
interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client written by hand over node:net: it does the handshake,
 * writes whatever bytes it is told to, and parses what the server sends. It
 * answers pings and the server's close frame like a browser, unless
 * `answerPings` is false (then it plays a dead peer).
 */
export class RawPeer {
  readonly frames: ServerFrame[] = [];
  /** The server's close frame code, if it sent one. */
  closeCode: number | undefined;
  /** The TCP connection ended (either side). */
  ended = false;
  private buffer = Buffer.alloc(0);
  private handshakeDone = false;
  responseHead = '';
  answerPings = true;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => undefined); // a reset after a refused frame is expected; `ended` reports it
  }

  static async open(port: number, localAddress?: string): Promise<RawPeer> {
    const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  /** The HTTP upgrade request for `/ws?query` (plus anything to send in the same write). */
  static handshakeRequest(port: number, query: string, after: Buffer = Buffer.alloc(0)): Buffer {
    const request = [
      `GET /ws?${query} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n');
    return Buffer.concat([Buffer.from(request), after]);
  }

  /** Connects and completes the handshake; resolves once the 101 arrived. */
  static async connect(port: number, query: string, localAddress?: string): Promise<RawPeer> {
    const resolved = await tokenQuery(port, query); // before the socket opens: it may count against the caps
    const peer = await RawPeer.open(port, localAddress);
    peer.write(RawPeer.handshakeRequest(port, resolved));
    await until('the 101 response', () => peer.handshakeDone || peer.ended, 10_000);
    if (!peer.responseHead.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${peer.responseHead.split('\r\n')[0]}`);
    return peer;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The JSON text messages the server sent, parsed. */
  get messages(): (Reply | NotificationMessage)[] {
    return this.frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString('utf8')) as Reply | NotificationMessage);
  }

  replies(): Reply[] {
    return this.messages.filter((m): m is Reply => !('notification' in m));
  }

  /** Sends one request as a masked text frame and waits for its reply. */
  async request(id: number, method: string, data: unknown = {}): Promise<Reply> {
    this.write(textFrame(JSON.stringify({ id, method, data })));
    let reply: Reply | undefined;
    await until(`reply to ${method}`, () => (reply = this.replies().find((r) => r.id === id)) !== undefined, 15_000);
    return reply!;
  }

  async waitEnded(timeoutMs = 10_000): Promise<void> {
    await until('the server to end the TCP connection', () => this.ended, timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.handshakeDone) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) {
        this.responseHead = this.buffer.toString('latin1');
        return;
      }
      this.responseHead = this.buffer.subarray(0, end).toString('latin1');
      this.buffer = this.buffer.subarray(end + 4);
      this.handshakeDone = true;
    }
    for (;;) {
      if (this.buffer.length < 2) return;
      const opcode = this.buffer[0]! & 0x0f;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      this.frames.push({ opcode, payload });
      if (opcode === 0x9 && this.answerPings && !this.socket.writableEnded) this.socket.write(frame({ opcode: 0xa, payload }));
      if (opcode === 0x8) {
        if (payload.length >= 2) this.closeCode = payload.readUInt16BE(0);
        // Completes the close handshake, as a browser would; the server then ends the TCP connection.
        if (!this.socket.writableEnded) this.socket.end(frame({ opcode: 0x8, payload: payload.subarray(0, 2) }));
      }
    }
  }
}

/** One raw HTTP exchange: writes `request` as is and resolves with the status line's code and the whole response. */
export async function rawHttp(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<{ status: number; response: string }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.write(request);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms; got: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.once('close', done);
    // Connection: close is not honoured by every path; a complete head with Content-Length 0 is enough.
    socket.on('data', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = /content-length:\s*(\d+)/i.exec(text.slice(0, headEnd))?.[1];
      if (length !== undefined && text.length - headEnd - 4 >= Number(length)) {
        socket.destroy();
        done();
      }
    });
  });
  const response = Buffer.concat(chunks).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
  return { status, response };
}
