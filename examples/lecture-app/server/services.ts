import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa, type ResultPromise } from 'execa';

/** A child service the demo started and must stop. */
export interface ChildService {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(what: string, child: ResultPromise, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.then(() => (exited = true), () => (exited = true));
  while (!(await check())) {
    if (exited) throw new Error(`${what} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts python/whisper-api from its virtual environment (set up by scripts/setup.sh). */
export async function startWhisperApi(repoRoot: string): Promise<ChildService> {
  const port = await freePort();
  const python = path.join(repoRoot, 'python', 'whisper-api', '.venv', 'bin', 'python');
  const child = execa(python, ['-m', 'whisper_api', '--host', '127.0.0.1', '--port', String(port)], {
    env: { HF_HUB_OFFLINE: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
    reject: false,
    cleanup: true,
    forceKillAfterDelay: 10_000,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('whisper-api', child, async () => {
    try {
      return (await fetch(`${url}/health`)).ok;
    } catch {
      return false;
    }
  }, 120_000);
  return { url, stop: async () => void (child.kill('SIGTERM'), await child) };
}

/** Starts a throwaway redis-server (127.0.0.1, free port, own directory) when the binary exists. */
export async function startRedisIfAvailable(): Promise<ChildService | undefined> {
  const which = await execa('sh', ['-c', 'command -v redis-server'], { reject: false });
  if (which.exitCode !== 0) return undefined;
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-demo-redis-'));
  const child = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    reject: false,
    cleanup: true,
  });
  await waitUntil('redis-server', child, () => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  }), 10_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await child;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
