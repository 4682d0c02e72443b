import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freeTcpPort } from './ports.js';
import { startProcess, type OwnedProcess } from './process.js';

export interface StartRedisOptions {
  /** Port to listen on (127.0.0.1); a free port when omitted. */
  port?: number;
  /**
   * Keep data across {@link TestRedis.restart}: append-only file with
   * `appendfsync always`, in the server's own temporary directory. Default false
   * (no persistence: a restart starts empty).
   */
  persistent?: boolean;
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** The current redis-server process (a new one after each {@link restart}). */
  readonly process: OwnedProcess;
  /** Whether the server was started with `persistent: true`. */
  readonly persistent: boolean;
  /** Stops the server and removes its working directory. */
  stop(): Promise<void>;
  /**
   * Stops the server with SIGTERM (redis flushes its append-only file) and starts
   * it again on the same port and directory; resolves once it answers PING.
   * `whileDown` runs after the old server has exited and before the new one starts
   * (e.g. to try a write during the outage); the restart waits for it, and starts
   * the server again even when it throws.
   */
  restart(options?: { whileDown?: () => unknown }): Promise<void>;
}

/**
 * Starts a throwaway `redis-server` on 127.0.0.1 (a free port unless `port` is
 * given) in its own temporary directory; no persistence unless `persistent`.
 * Resolves once it answers PING.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const port = options.port ?? (await freeTcpPort());
  const persistent = options.persistent ?? false;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '',
    ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
  ];
  let proc: OwnedProcess;
  try {
    proc = await launch(port, args);
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    persistent,
    get process() {
      return proc;
    },
    async stop() {
      stopped = true;
      await proc.stop('SIGTERM');
      await fs.rm(dir, { recursive: true, force: true });
    },
    async restart(restartOptions = {}) {
      if (stopped) throw new Error('redis-server was stopped; it cannot be restarted');
      await proc.stop('SIGTERM');
      try {
        await restartOptions.whileDown?.();
      } finally {
        if (!stopped) proc = await launch(port, args);
      }
    },
  };
}

/** Spawns redis-server and waits until it answers PING (10 s), killing it otherwise. */
async function launch(port: number, args: string[]): Promise<OwnedProcess> {
  const proc = startProcess('redis-server', args);
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (Date.now() > deadline || proc.child.exitCode !== null || proc.child.signalCode !== null) {
      await proc.stop('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}: ${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
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
