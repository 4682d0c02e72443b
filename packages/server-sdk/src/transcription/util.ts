import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';

/** A file-name-safe, collision-resistant form of an id chosen by a host or client. */
export function fileSlug(id: string): string {
  const readable = id.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40);
  return `${readable}-${createHash('sha1').update(id).digest('hex').slice(0, 8)}`;
}

/** Writes a file atomically (temp file + rename), so a reader never sees half of it. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, path);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** A level-triggered wake-up: `wait()` resolves on the next `notify()`. */
export class Wakeup {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
