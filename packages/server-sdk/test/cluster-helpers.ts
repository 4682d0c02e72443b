/** Shared helpers of the cluster tests (real redis-server, no mocks). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { NodeRegistry, NodeRegistryEvents } from '@lectern/server-sdk/cluster';

/** Every key under `prefix`, found with SCAN (never KEYS). */
export async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\{}]/g, '\\$&')}*`, 'COUNT', 500);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

/** Resolves with the first `event` of `registry` that `match` accepts; rejects after `timeoutMs`. */
export function waitForEvent<K extends keyof NodeRegistryEvents & string>(
  registry: NodeRegistry,
  event: K,
  match: (e: NodeRegistryEvents[K]) => boolean,
  timeoutMs: number,
): Promise<NodeRegistryEvents[K]> {
  return new Promise((resolve, reject) => {
    const listener = (e: NodeRegistryEvents[K]) => {
      if (!match(e)) return;
      clearTimeout(timer);
      registry.off(event, listener as never);
      resolve(e);
    };
    const timer = setTimeout(() => {
      registry.off(event, listener as never);
      reject(new Error(`no ${event} on ${registry.nodeId} within ${timeoutMs} ms`));
    }, timeoutMs);
    registry.on(event, listener as never);
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A node in a child process (cluster-node-child.ts); resolves once it registered. */
export async function spawnNode(url: string, prefix: string, nodeId: string): Promise<{ child: ChildProcess; incarnation: string }> {
  const script = fileURLToPath(new URL('./cluster-node-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', script, url, prefix, nodeId], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const incarnation = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child node ${nodeId} did not start: ${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { ready: string }).ready);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child node ${nodeId} exited (${code ?? signal}): ${err}`));
    });
  });
  return { child, incarnation };
}

/** SIGKILLs the child and waits for its exit. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
