/** The page's side of the example's ws signaling (see server/signaling.ts). */
export interface ServerError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

type Pending = { resolve: (data: unknown) => void; reject: (error: ServerError) => void };

/**
 * One WebSocket to the app server: `request(method, data)` resolves with the
 * reply's data or rejects with the server's `{code, message}`; notifications go
 * to `onNotification`. The Lectern client SDK only needs `request`.
 */
export class WsSignaling {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly socket: WebSocket;
  readonly opened: Promise<void>;
  onNotification: (name: string, data: unknown) => void = () => undefined;
  onClose: (code: number, reason: string) => void = () => undefined;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener('open', () => resolve(), { once: true });
      this.socket.addEventListener('error', () => reject(new Error('signaling connection failed')), { once: true });
    });
    this.socket.addEventListener('message', (event) => this.onMessage(String(event.data)));
    this.socket.addEventListener('close', (event) => {
      for (const p of this.pending.values()) p.reject({ code: 'CLOSED', message: 'signaling connection closed' });
      this.pending.clear();
      this.onClose(event.code, event.reason);
    });
  }

  readonly request = <T = unknown>(method: string, data: unknown = {}): Promise<T> => {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, data }));
    });
  };

  close(): void {
    this.socket.close();
  }

  private onMessage(text: string): void {
    const message = JSON.parse(text) as { id?: number; data?: unknown; error?: ServerError; notification?: string };
    if (message.notification) {
      this.onNotification(message.notification, message.data);
      return;
    }
    const pending = message.id !== undefined ? this.pending.get(message.id) : undefined;
    if (!pending || message.id === undefined) return;
    this.pending.delete(message.id);
    if (message.error) pending.reject(message.error);
    else pending.resolve(message.data);
  }
}
