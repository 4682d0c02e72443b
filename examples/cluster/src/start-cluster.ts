// A whole cluster on one machine, for trying Lectern's multi-node mode: a throwaway
// redis-server, whisper-api servers, one STT queue worker over them, and media
// nodes (media-node.ts) with distinct port ranges. Prints where everything is and
// waits; Ctrl-C / SIGTERM stops everything in reverse order (media nodes first,
// with SIGTERM so they drain) and removes the temp directory.
//
//   npm run cluster                       (from the repository root)
//   bash scripts/run.sh examples/cluster/src/start-cluster.ts [--nodes N] [--whisper N] [--no-whisper]
//
// --nodes N     media nodes (default 3; 0 = only Redis and transcription)
// --whisper N   whisper-api servers (default 2), each pinned to one core (taskset)
//               with WHISPER_CPU_THREADS=1; the STT worker uses all of them
// --no-whisper  no whisper-api servers and no STT worker
//
// Children's logs go to stderr, each line prefixed with the child's name.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE_ARGS = ['--conditions=lectern-source', '--import', 'tsx'];
const CLUSTER_PREFIX = 'lectern:';
/** Media node i gets RTC ports RTC_BASE + i·PORT_STRIDE … +PORTS_PER_RANGE-1, and the pipe range right after. */
const RTC_BASE = 40000;
const PORT_STRIDE = 2000;
const PORTS_PER_RANGE = 1000;
const NODE_STOP_GRACE_MS = 20_000; // a node drains for up to 10 s (media-node.ts), then closes
const STOP_GRACE_MS = 10_000;

interface Options {
  nodes: number;
  whisper: number;
}

function usage(message?: string): never {
  if (message) process.stderr.write(`start-cluster: ${message}\n`);
  process.stderr.write('usage: start-cluster.ts [--nodes N] [--whisper N] [--no-whisper]\n');
  process.exit(message ? 2 : 0);
}

function parseArgs(argv: string[]): Options {
  const options: Options = { nodes: 3, whisper: 2 };
  const count = (flag: string, text: string | undefined, max: number): number => {
    if (text === undefined || !/^\d+$/.test(text) || Number(text) > max) usage(`${flag} needs an integer from 0 to ${max}`);
    return Number(text);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--nodes') options.nodes = count(flag, inline ?? argv[++i], 10);
    else if (flag === '--whisper') options.whisper = count(flag, inline ?? argv[++i], 16);
    else if (flag === '--no-whisper') options.whisper = 0;
    else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  return options;
}

/** A child process of the cluster, with its stderr (and non-JSON stdout) relayed line by line. */
interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | string>;
  /** The first stdout line that parses as JSON with a `ready` key. */
  ready: Promise<Record<string, unknown>>;
  stopGraceMs: number;
}

const children: Child[] = [];
let shuttingDown = false;

function prefixLines(name: string, stream: NodeJS.ReadableStream | null, onLine?: (line: string) => boolean): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    let newline: number;
    while ((newline = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      if (onLine?.(line)) continue;
      if (line !== '') process.stderr.write(`[${name}] ${line}\n`);
    }
  });
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, stopGraceMs = STOP_GRACE_MS): Child {
  if (shuttingDown) throw new Error(`not starting ${name}: stopping`);
  // Own process group: a Ctrl-C in the terminal reaches only this script, which
  // then stops the children in order (nodes first, Redis last).
  const proc = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let resolveReady!: (value: Record<string, unknown>) => void;
  const ready = new Promise<Record<string, unknown>>((resolve) => (resolveReady = resolve));
  prefixLines(name, proc.stdout, (line) => {
    try {
      const parsed = JSON.parse(line) as { ready?: Record<string, unknown> };
      if (parsed && typeof parsed === 'object' && parsed.ready) {
        resolveReady(parsed.ready);
        return true;
      }
    } catch {
      // not JSON: relayed as a log line
    }
    return false;
  });
  prefixLines(name, proc.stderr);
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    proc.once('error', (error) => {
      process.stderr.write(`[${name}] cannot start ${command}: ${error.message}\n`);
      resolve('spawn-error');
    });
  });
  const child: Child = { name, process: proc, exited, ready, stopGraceMs };
  children.push(child);
  void exited.then((code) => {
    if (!shuttingDown) process.stderr.write(`start-cluster: ${name} (pid ${proc.pid}) exited unexpectedly (${code})\n`);
  });
  return child;
}

async function stopChild(child: Child, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
  const { process: proc } = child;
  if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
    proc.kill(signal);
    const timer = setTimeout(() => {
      process.stderr.write(`start-cluster: ${child.name} did not stop within ${child.stopGraceMs} ms: SIGKILL\n`);
      killGroup(proc, 'SIGKILL');
    }, child.stopGraceMs);
    try {
      return await child.exited;
    } finally {
      clearTimeout(timer);
      // Whatever the child left in its group (e.g. a mediasoup worker of a node that was killed).
      killGroup(proc, 'SIGKILL');
    }
  }
  return child.exited;
}

/** Signals the child's whole process group (it was started as a group leader). */
function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

/** Resolves with what the child prints once ready; rejects if it exits first or takes too long. */
async function whenReady<T>(child: Child, ready: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      ready,
      child.exited.then((code) => Promise.reject(new Error(`${child.name} exited during start-up (${code})`))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${child.name} was not ready within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function poll(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 200));
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

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => resolve(false));
  });
}

async function whisperHealthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

interface NodeRow {
  nodeId: string;
  pid: number;
  link: string;
  rtc: string;
  pipe: string;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (!hasCommand('redis-server')) throw new Error('redis-server is not installed (scripts/setup.sh installs it)');
  const python = path.join(ROOT, 'python', 'whisper-api', '.venv', 'bin', 'python');
  if (options.whisper > 0 && !fs.existsSync(python)) throw new Error(`${python} is missing: run scripts/setup.sh (or use --no-whisper)`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lectern-cluster-'));
  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string, code: number) => {
    stopping ??= (async () => {
      shuttingDown = true;
      process.stderr.write(`start-cluster: ${reason}: stopping ${children.length} processes in reverse order\n`);
      // Reverse start order: media nodes drain while Redis and transcription still run.
      // Nodes stop together (each drains its own peers), then the rest one by one.
      const nodes = children.filter((c) => c.name.startsWith('media-'));
      await Promise.all([...nodes].reverse().map(async (c) => report(c, await stopChild(c))));
      for (const c of [...children].reverse()) {
        if (!nodes.includes(c)) report(c, await stopChild(c));
      }
      fs.rmSync(tmp, { recursive: true, force: true });
      process.stderr.write(`start-cluster: stopped; removed ${tmp}\n`);
      process.exit(code);
    })();
    return stopping;
  };
  const report = (c: Child, code: number | string) => process.stderr.write(`start-cluster: ${c.name} (pid ${c.process.pid}) stopped (${code})\n`);
  process.on('SIGINT', () => void stopAll('SIGINT', 0));
  process.on('SIGTERM', () => void stopAll('SIGTERM', 0));
  process.on('SIGHUP', () => void stopAll('SIGHUP', 0));
  // Last resort (an exception in this script): nothing it started outlives it.
  process.once('exit', () => {
    for (const c of children) killGroup(c.process, 'SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  try {
    // 1. Redis: one primary, no persistence, noeviction (BullMQ needs it).
    const redisPort = await freePort();
    const redisDir = path.join(tmp, 'redis');
    fs.mkdirSync(redisDir);
    const redis = start('redis', 'redis-server', [
      '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir,
      '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning',
    ], {});
    await whenReady(redis, poll(() => redisPing(redisPort)), 10_000);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    // 2. whisper-api servers, each on one core, started together (the model loads take seconds).
    const cpus = os.availableParallelism();
    const taskset = hasCommand('taskset');
    const whisperUrls: string[] = [];
    const whisperStarts: Promise<unknown>[] = [];
    for (let i = 0; i < options.whisper; i++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const dir = path.join(tmp, `whisper-${i + 1}`);
      fs.mkdirSync(dir);
      const args = ['-m', 'whisper_api', '--host', '127.0.0.1', '--port', String(port)];
      const child = start(
        `whisper-${i + 1}`,
        taskset ? 'taskset' : python,
        taskset ? ['-c', String(i % cpus), python, ...args] : args,
        { HF_HUB_OFFLINE: '1', WHISPER_CPU_THREADS: '1', WHISPER_STREAM_CPU_THREADS: '1', WHISPER_TMP_DIR: dir },
      );
      whisperUrls.push(url);
      whisperStarts.push(whenReady(child, poll(() => whisperHealthy(url)), 180_000));
    }
    await Promise.all(whisperStarts);

    // 3. One STT queue worker over every whisper-api server.
    if (whisperUrls.length > 0) {
      const sttDir = path.join(tmp, 'stt-worker');
      fs.mkdirSync(sttDir);
      const worker = start('stt-worker', process.execPath, [...NODE_ARGS, path.join(HERE, 'stt-worker.ts')], {
        LECTERN_REDIS_URL: redisUrl,
        LECTERN_WHISPER_URLS: whisperUrls.join(','),
        LECTERN_STT_TMP_DIR: sttDir,
      });
      await whenReady(worker, worker.ready, 60_000);
    }

    // 4. Media nodes, each with its own RTC and pipe port ranges.
    const rows: NodeRow[] = [];
    const nodeStarts: Promise<void>[] = [];
    for (let i = 0; i < options.nodes; i++) {
      const nodeId = `media-${i + 1}`;
      const rtcMin = RTC_BASE + i * PORT_STRIDE;
      const pipeMin = rtcMin + PORTS_PER_RANGE;
      const rtc = `${rtcMin}-${rtcMin + PORTS_PER_RANGE - 1}`;
      const pipe = `${pipeMin}-${pipeMin + PORTS_PER_RANGE - 1}`;
      const child = start(nodeId, process.execPath, [...NODE_ARGS, path.join(HERE, 'media-node.ts')], {
        LECTERN_NODE_ID: nodeId,
        LECTERN_REDIS_URL: redisUrl,
        LECTERN_CLUSTER_PREFIX: CLUSTER_PREFIX,
        LECTERN_LINK_PORT: String(await freePort()),
        LECTERN_LISTEN_IP: '127.0.0.1',
        LECTERN_RTC_MIN_PORT: String(rtcMin),
        LECTERN_RTC_MAX_PORT: String(rtcMin + PORTS_PER_RANGE - 1),
        LECTERN_PIPE_MIN_PORT: String(pipeMin),
        LECTERN_PIPE_MAX_PORT: String(pipeMin + PORTS_PER_RANGE - 1),
        LECTERN_WORKERS: '1',
      }, NODE_STOP_GRACE_MS);
      nodeStarts.push(whenReady(child, child.ready, 60_000).then((ready) => {
        rows[i] = { nodeId, pid: Number(ready.pid), link: String(ready.link), rtc, pipe };
      }));
    }
    await Promise.all(nodeStarts);

    printTable(rows, redisUrl, whisperUrls, children.find((c) => c.name === 'stt-worker'), tmp);
  } catch (error) {
    await stopAll(`start-up failed: ${error instanceof Error ? error.message : String(error)}`, 1);
  }
}

function printTable(rows: NodeRow[], redisUrl: string, whisperUrls: string[], worker: Child | undefined, tmp: string): void {
  const table = [
    ['node', 'pid', 'link', 'RTC ports (udp)', 'pipe ports (udp)'],
    ...rows.map((r) => [r.nodeId, String(r.pid), r.link, r.rtc, r.pipe]),
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  const line = (row: string[]) => row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd();
  const out = [
    '',
    'Lectern cluster on this machine',
    '',
    ...(rows.length > 0 ? [line(table[0]!), line(widths.map((w) => '-'.repeat(w))), ...table.slice(1).map(line)] : ['(no media nodes: --nodes 0)']),
    '',
    `redis         ${redisUrl}  (cluster prefix ${CLUSTER_PREFIX})`,
    ...(whisperUrls.length > 0
      ? [...whisperUrls.map((url, i) => `whisper-${i + 1}     ${url}`), `stt-worker    pid ${worker?.process.pid}, queue lectern-stt over ${whisperUrls.length} server(s)`]
      : ['whisper       (none: --no-whisper)']),
    `temp dir      ${tmp}`,
    '',
    'Ctrl-C stops everything (media nodes drain first).',
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
