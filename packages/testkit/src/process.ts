import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A child process the test owns: `stop()` ends it (SIGINT, then SIGKILL) and waits. */
export interface OwnedProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** Everything written to stderr so far (bounded), for failure messages. */
  stderr(): string;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/**
 * Children still running. A test that fails before its cleanup must not leave an
 * FFmpeg or redis-server behind, so they are killed when this process exits.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): OwnedProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-16_384);
  });
  child.stdout?.resume();
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      err += String(error);
      resolve('spawn-error');
    });
  });
  let stopping: Promise<number | string> | undefined;
  return {
    child,
    exited,
    stderr: () => err,
    stop(signal = 'SIGINT', graceMs = 5000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          try {
            return await exited;
          } finally {
            clearTimeout(timer);
          }
        }
        return exited;
      })();
      return stopping;
    },
  };
}
