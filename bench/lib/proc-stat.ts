// Generic /proc readers for benchmarks (Linux only): CPU time of a process or of
// one of its threads, the host's CPU time split, and the kernel's per-socket UDP
// drop counters. All CPU figures are in seconds (utime + stime, USER_HZ = 100).
import * as fs from 'node:fs/promises';

const TICK = 100; // USER_HZ on Linux

/** Fields of a /proc/.../stat line after the "(comm)" part; index = field number (1-based) − 3. */
async function statFields(file: string): Promise<string[]> {
  const stat = await fs.readFile(file, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a whole process (all its threads), in seconds. */
export async function processCpuSeconds(pid: number | 'self'): Promise<number> {
  const f = await statFields(`/proc/${pid}/stat`);
  return (Number(f[14 - 3]) + Number(f[15 - 3])) / TICK;
}

/** cutime + cstime: CPU of a process's children that have exited and been waited for, in seconds. */
export async function childrenCpuSeconds(pid: number | 'self'): Promise<number> {
  const f = await statFields(`/proc/${pid}/stat`);
  return (Number(f[16 - 3]) + Number(f[17 - 3])) / TICK;
}

/** utime + stime of one thread (`tid` as in /proc/<pid>/task/<tid>), in seconds. */
export async function threadCpuSeconds(pid: number | 'self', tid: number): Promise<number> {
  const f = await statFields(`/proc/${pid}/task/${tid}/stat`);
  return (Number(f[14 - 3]) + Number(f[15 - 3])) / TICK;
}

/** The calling thread's id (works inside worker_threads too): /proc/thread-self → "<pid>/task/<tid>". */
export async function currentThreadId(): Promise<number> {
  return Number((await fs.readlink('/proc/thread-self')).split('/').pop());
}

/** True while the process exists and is not a zombie. */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const f = await statFields(`/proc/${pid}/stat`);
    return f[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Host CPU time from the first line of /proc/stat, in seconds summed over all cores. */
export interface HostCpu {
  busy: number;
  idle: number;
  softirq: number;
  total: number;
}

export async function hostCpuSeconds(): Promise<HostCpu> {
  const line = (await fs.readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number) => v[i] ?? 0;
  const idle = at(3) + at(4);
  const total = at(0) + at(1) + at(2) + at(3) + at(4) + at(5) + at(6) + at(7); // guest is inside user
  return { busy: (total - idle) / TICK, idle: idle / TICK, softirq: at(6) / TICK, total: total / TICK };
}

/** Pids of the kernel's ksoftirqd/N threads (softirq work the kernel defers out of the task that raised it). */
export async function ksoftirqdPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await fs.readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.startsWith('ksoftirqd/')) pids.push(Number(entry));
  }
  return pids;
}

/** Sum of utime + stime over `pids` (processes that vanished count 0), in seconds. */
export async function sumProcessCpuSeconds(pids: number[]): Promise<number> {
  const values = await Promise.all(pids.map((pid) => processCpuSeconds(pid).catch(() => 0)));
  return values.reduce((a, b) => a + b, 0);
}

/**
 * The kernel's receive-drop counter of every IPv4 UDP socket bound to one of
 * `ports` (the last column of /proc/net/udp: datagrams that reached the socket
 * but found its receive buffer full). Ports with no socket are absent.
 */
export async function udpDropsByPort(ports: Iterable<number>): Promise<Map<number, number>> {
  const wanted = new Set(ports);
  const drops = new Map<number, number>();
  const text = await fs.readFile('/proc/net/udp', 'utf8');
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const port = parseInt(cols[1]!.split(':')[1]!, 16);
    if (!wanted.has(port)) continue;
    drops.set(port, (drops.get(port) ?? 0) + Number(cols[cols.length - 1]));
  }
  return drops;
}
