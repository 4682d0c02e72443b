import { execa, type Options, type ResultPromise } from 'execa';
import { ErrorCode, LecternError } from '../errors.js';

/** How a long-running FFmpeg ended. */
export interface FfmpegExit {
  code: number | undefined;
  signal: string | undefined;
  /** True when Lectern asked it to stop. */
  requested: boolean;
  /** FFmpeg gave up because no RTP arrived for ~10 s (its built-in RTP read timeout). */
  inputTimedOut: boolean;
  /** The end of its stderr, for logs. */
  stderrTail: string;
}

const TAIL = 4096;

const LONG_RUNNING = {
  reject: false,
  stdin: 'ignore',
  stdout: 'pipe',
  stderr: 'pipe',
  buffer: false,
  killSignal: 'SIGINT',
  cleanup: true,
} as const satisfies Options;

/**
 * One long-running FFmpeg process (execa): stderr kept as a bounded tail, stop
 * by SIGINT so FFmpeg finalises its output (the last WAV gets its header), then
 * SIGKILL after `stopTimeoutMs`. execa's `cleanup` kills it if Node exits, so no
 * FFmpeg outlives the host process.
 */
export class FfmpegProcess {
  readonly exited: Promise<FfmpegExit>;
  private readonly child: ResultPromise<typeof LONG_RUNNING>;
  private tail = '';
  private stopRequested = false;
  private done = false;

  /**
   * `onStdout`, when given, receives what FFmpeg writes to its standard output
   * (an output to `pipe:1`), chunk by chunk as it comes.
   */
  constructor(ffmpegPath: string, args: string[], stopTimeoutMs = 5000, onStdout?: (chunk: Buffer) => void) {
    this.child = execa(ffmpegPath, args, { ...LONG_RUNNING, forceKillAfterDelay: stopTimeoutMs });
    // Always read (and by default discard): a full pipe would stall FFmpeg.
    this.child.stdout.on('data', onStdout ?? (() => undefined));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-TAIL);
    });
    this.exited = this.child.then((result) => {
      this.done = true;
      return {
        code: typeof result.exitCode === 'number' ? result.exitCode : undefined,
        signal: result.signal ?? undefined,
        requested: this.stopRequested,
        inputTimedOut: /Connection timed out/i.test(this.tail),
        stderrTail: result.failed && !result.exitCode && !result.signal ? `${this.tail}\n${result.message}` : this.tail,
      };
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /**
   * Graceful stop; resolves when it has exited. The first SIGINT ends FFmpeg's
   * main loop at its next packet; while no packet arrives (a paused producer)
   * FFmpeg sits in a blocking read that only a second signal interrupts, so a
   * second SIGINT follows shortly. Both paths finalise the output files.
   * SIGKILL after the stop timeout.
   */
  stop(): Promise<FfmpegExit> {
    if (!this.stopRequested && !this.done) {
      this.stopRequested = true;
      this.child.kill('SIGINT');
      const again = setTimeout(() => {
        if (!this.done) this.child.kill('SIGINT');
      }, 300);
      void this.exited.then(() => clearTimeout(again));
    }
    this.stopRequested = true;
    return this.exited;
  }
}

/**
 * Runs a short FFmpeg job (concat, encode) to completion. Rejects with the
 * stderr tail on failure; `signal` kills it.
 */
export async function runFfmpeg(ffmpegPath: string, args: string[], signal?: AbortSignal): Promise<void> {
  const result = await execa(ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], {
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    cleanup: true,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  if (result.failed) {
    throw new LecternError(ErrorCode.INTERNAL, `ffmpeg failed (${result.exitCode ?? result.signal ?? 'spawn error'}): ${String(result.stderr).slice(-600) || result.shortMessage}`);
  }
}
