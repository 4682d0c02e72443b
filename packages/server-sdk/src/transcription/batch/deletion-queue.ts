import * as fs from 'node:fs/promises';

/**
 * Deletes files and directories one at a time in the background, so cleanup
 * never blocks (or fails) the pipeline stage that hands the paths over. A path
 * that cannot be removed is reported and dropped; `drain()` waits for the queue.
 */
export class DeletionQueue {
  private readonly paths: string[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly onError: (path: string, error: unknown) => void = () => undefined) {}

  get pending(): number {
    return this.paths.length + (this.running ? 1 : 0);
  }

  enqueue(...paths: string[]): void {
    this.paths.push(...paths);
    this.running ??= this.work();
  }

  /** Resolves once every path queued so far is gone. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async work(): Promise<void> {
    // Start on a later tick: enqueue() returns before any deletion happens.
    await Promise.resolve();
    try {
      for (let next = this.paths.shift(); next !== undefined; next = this.paths.shift()) {
        try {
          await fs.rm(next, { recursive: true, force: true });
        } catch (error) {
          this.onError(next, error);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
