import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from './ports.js';
import { startProcess, type OwnedProcess } from './process.js';

/** The project's whisper-api (python/whisper-api) and the Python of its venv. */
const WHISPER_API_DIR = fileURLToPath(new URL('../../../python/whisper-api/', import.meta.url));
const PYTHON = `${WHISPER_API_DIR}.venv/bin/python`;
/** Printed on stdout once the server accepts connections (whisper_api/cli.py). */
const READY_LINE = 'whisper-api ready on http://';

export interface StartWhisperApiOptions {
  /**
   * Port on 127.0.0.1; default: a free one. Pass the port of a stopped server
   * to bring "the same" server back (uvicorn binds with SO_REUSEADDR).
   */
  port?: number;
  /**
   * Extra environment for the server, e.g. `{ WHISPER_MAX_CONCURRENCY: '1',
   * WHISPER_MAX_QUEUE: '0' }` (see python/whisper-api/README.md for the
   * `WHISPER_*` variables). Host and port come from the command line and
   * override `WHISPER_HOST`/`WHISPER_PORT`.
   */
  env?: Record<string, string>;
  /** How long to wait for `/health` to answer 200, in ms; default 60 000. */
  startTimeoutMs?: number;
}

export interface TestWhisperApi {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly process: OwnedProcess;
  /** Stops the server (SIGTERM, SIGKILL after 10 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the real whisper-api (faster-whisper; its default model, the multilingual
 * base, unless `env.WHISPER_MODEL` names another, e.g. `tiny.en`) on
 * 127.0.0.1, offline (`HF_HUB_OFFLINE=1`), and resolves once `GET /health`
 * answers 200, i.e. the model is loaded and the socket accepts requests.
 * Rejects, with the server's stderr, if it exits or is not up in time.
 */
export async function startWhisperApi(options: StartWhisperApiOptions = {}): Promise<TestWhisperApi> {
  if (!existsSync(PYTHON)) {
    throw new Error(`whisper-api venv not found at ${PYTHON}; run bash python/whisper-api/setup.sh (or npm run setup)`);
  }
  const port = options.port ?? (await freeTcpPort());
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(PYTHON, ['-m', 'whisper_api', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: WHISPER_API_DIR,
    env: { ...process.env, HF_HUB_OFFLINE: '1', ...options.env },
  });
  // The ready line proves that *this* process owns the port (another server
  // answering /health there would otherwise look like success).
  let stdout = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString()).slice(-4_096);
  });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | string | undefined;
  void proc.exited.then((code) => {
    exitCode = code;
  });
  while (!(stdout.includes(READY_LINE) && (await healthOk(url)))) {
    if (exitCode !== undefined) {
      throw new Error(`whisper-api exited (${exitCode}) before it was ready on port ${port}:\n${proc.stderr()}`);
    }
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`whisper-api was not ready on port ${port} within ${timeoutMs} ms:\n${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    url,
    process: proc,
    async stop() {
      await proc.stop('SIGTERM', 10_000);
    },
  };
}

async function healthOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
