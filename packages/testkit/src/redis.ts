import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeTcpPort } from './ports.js';
import { startProcess, type OwnedProcess } from './process.js';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly process: OwnedProcess;
  /** Stops the server and removes its working directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway `redis-server` on 127.0.0.1 and a free port, with no
 * persistence, in its own temporary directory. Resolves once it answers PING.
 */
export async function startRedis(): Promise<TestRedis> {
  const port = await freeTcpPort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-redis-'));
  const proc = startProcess('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
  ]);
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline || proc.child.exitCode !== null) {
      await proc.stop('SIGKILL');
      await fs.rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}: ${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: proc,
    async stop() {
      await proc.stop('SIGTERM');
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** One inline PING over a raw socket: true when the server answers +PONG. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
