// A light RTP/RTCP packet-counting UDP sink for benchmarks (Linux).
//
// It binds `units × socketsPerUnit` UDP sockets on 127.0.0.1 (OS-chosen ports,
// receive buffer `recvBufferSize`, which the kernel caps at net.core.rmem_max)
// and only counts datagrams: a datagram whose second byte is 192..223 is RTCP
// (RFC 5761 demultiplexing; SRTP/SRTCP leave that byte in the clear), anything
// else RTP. Two engines:
//  - 'recvmmsg' (default): each unit is a tiny python3 process (standard library
//    only, recvmmsg(2) through ctypes) that drains up to 512 datagrams per system
//    call and copies only their first 16 bytes; it sleeps 2 ms after each drain
//    so that calls come back full (the socket buffer holds far more than 2 ms). Counters are uint64 in a shared
//    file the process mmaps; the caller reads them with one pread (same page
//    cache), i.e. at any instant, without messaging. The process exits when its
//    stdin closes, so it cannot outlive the caller.
//  - 'node': each unit is a worker_thread with node:dgram sockets; counters in a
//    SharedArrayBuffer. One JS callback per datagram, so it costs several times
//    more CPU per packet than 'recvmmsg'.
// `cpuSeconds()` gives each unit's own CPU time (/proc/<pid>/stat for a process,
// /proc/self/task/<tid>/stat for a thread), so a benchmark can show the sink is
// not its bottleneck.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { startProcess, type OwnedProcess } from '@lectern/testkit';
import { processCpuSeconds, threadCpuSeconds } from './proc-stat.js';

export type UdpSinkEngine = 'recvmmsg' | 'node';

export interface UdpSinkOptions {
  engine?: UdpSinkEngine;
  /** Processes ('recvmmsg') or threads ('node'); default 2. */
  units?: number;
  socketsPerUnit?: number;
  /** SO_RCVBUF to ask for, in bytes (default 4 MiB). */
  recvBufferSize?: number;
}

export interface UdpSinkCounts {
  /** Per socket (same order as `ports`): RTP datagrams received so far. */
  rtp: number[];
  /** Per socket: RTCP datagrams received so far. */
  rtcp: number[];
}

/**
 * 'recvmmsg' sleeps this long after each drain, so datagrams pile up in the
 * socket buffer and each system call returns many (fewer, fuller calls: the
 * per-call Python cost is shared). Counters lag by at most about this much.
 */
const COALESCE_SECONDS = 0.002;

const PYTHON_SOURCE = String.raw`
import ctypes, json, mmap, select, socket, struct, sys, time
nsock, first, rcvbuf, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
COALESCE = float(sys.argv[5])
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint32), ('iov', ctypes.POINTER(iovec)),
                ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t),
                ('flags', ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [('hdr', msghdr), ('len', ctypes.c_uint)]
VLEN, HEAD, MSG_DONTWAIT = 512, 16, 0x40
buf = ctypes.create_string_buffer(VLEN * HEAD)
base = ctypes.addressof(buf)
iovs = (iovec * VLEN)()
msgs = (mmsghdr * VLEN)()
for i in range(VLEN):
    iovs[i].base = base + i * HEAD
    iovs[i].len = HEAD
    msgs[i].hdr.iov = ctypes.pointer(iovs[i])
    msgs[i].hdr.iovlen = 1
addr = ctypes.addressof(msgs)
recvmmsg = libc.recvmmsg
recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
recvmmsg.restype = ctypes.c_int
RTCP = bytes(1 if 192 <= b <= 223 else 0 for b in range(256))
with open(path, 'r+b') as f:
    mm = mmap.mmap(f.fileno(), 0)
ep = select.epoll()
socks, index = [], {}
for i in range(nsock):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(('127.0.0.1', 0))
    s.setblocking(False)
    socks.append(s)
    index[s.fileno()] = i
    ep.register(s.fileno(), select.EPOLLIN)
ep.register(sys.stdin.fileno(), select.EPOLLIN | select.EPOLLHUP)
rtp, rtcp = [0] * nsock, [0] * nsock
print(json.dumps({'ports': [s.getsockname()[1] for s in socks],
                  'recvBufferSize': socks[0].getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}), flush=True)
while True:
    for fd, _ in ep.poll():
        i = index.get(fd)
        if i is None:
            sys.exit(0)
        while True:
            n = recvmmsg(fd, addr, VLEN, MSG_DONTWAIT, None)
            if n <= 0:
                break
            c = ctypes.string_at(base, n * HEAD)[1::HEAD].translate(RTCP).count(1)
            rtcp[i] += c
            rtp[i] += n - c
            if n < VLEN:
                break
        struct.pack_into('<QQ', mm, (first + i) * 16, rtp[i], rtcp[i])
    time.sleep(COALESCE)
`;

// Plain JavaScript (eval'd worker): no TypeScript loader needed in the thread.
const THREAD_SOURCE = `
const dgram = require('node:dgram');
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const counts = new Uint32Array(workerData.buffer);
const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
const sockets = [];
const ports = [];
let bound = 0;
let recvBufferSize = 0;
for (let i = 0; i < workerData.sockets; i++) {
  const slot = (workerData.firstSocket + i) * 2;
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: workerData.recvBufferSize });
  socket.on('message', (msg) => {
    const b = msg[1];
    Atomics.add(counts, b >= 192 && b <= 223 ? slot + 1 : slot, 1);
  });
  socket.on('error', (error) => parentPort.postMessage({ error: String(error) }));
  socket.bind(0, '127.0.0.1', () => {
    ports[i] = socket.address().port;
    recvBufferSize = socket.getRecvBufferSize();
    if (++bound === workerData.sockets) parentPort.postMessage({ tid, ports, recvBufferSize });
  });
  sockets.push(socket);
}
parentPort.on('message', (msg) => {
  if (msg === 'close') {
    let open = sockets.length;
    for (const s of sockets) s.close(() => { if (--open === 0) parentPort.close(); });
  }
});
`;

interface Ready {
  ports: number[];
  recvBufferSize: number;
}

interface Unit {
  cpuSeconds(): Promise<number>;
  close(): Promise<void>;
}

export class UdpCountingSink {
  private constructor(
    readonly engine: UdpSinkEngine,
    private readonly units: Unit[],
    private readonly readCounters: () => UdpSinkCounts,
    private readonly cleanup: () => Promise<void>,
    /** Ports of all sockets, unit by unit. */
    readonly ports: number[],
    /** SO_RCVBUF the kernel granted (as getsockopt reports it, i.e. doubled). */
    readonly recvBufferSize: number,
  ) {}

  static async start(options: UdpSinkOptions = {}): Promise<UdpCountingSink> {
    const engine = options.engine ?? 'recvmmsg';
    const unitCount = options.units ?? 2;
    const perUnit = options.socketsPerUnit ?? 2;
    const recvBufferSize = options.recvBufferSize ?? 4 * 1024 * 1024;
    return engine === 'recvmmsg'
      ? UdpCountingSink.startProcesses(unitCount, perUnit, recvBufferSize)
      : UdpCountingSink.startThreads(unitCount, perUnit, recvBufferSize);
  }

  private static async startProcesses(unitCount: number, perUnit: number, recvBufferSize: number): Promise<UdpCountingSink> {
    const dir = await fsp.mkdtemp(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'udp-sink-'));
    const file = path.join(dir, 'counters');
    await fsp.writeFile(file, Buffer.alloc(unitCount * perUnit * 16));
    const fd = fs.openSync(file, 'r');
    const raw = Buffer.alloc(unitCount * perUnit * 16);
    const procs: OwnedProcess[] = [];
    const ready: Ready[] = [];
    const removeFile = () => fs.rmSync(dir, { recursive: true, force: true });
    const cleanup = async () => {
      for (const p of procs) p.child.stdin?.end();
      await Promise.all(procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])));
      await Promise.all(procs.map((p) => p.stop('SIGKILL', 500)));
      fs.closeSync(fd);
      removeFile();
    };
    try {
      for (let u = 0; u < unitCount; u++) {
        const proc = startProcess(
          'python3',
          ['-c', PYTHON_SOURCE, String(perUnit), String(u * perUnit), String(recvBufferSize), file, String(COALESCE_SECONDS)],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        procs.push(proc);
        ready.push(await firstJsonLine(proc));
      }
    } catch (error) {
      await cleanup();
      throw error;
    }
    // Every process has mapped the file and we hold it open: unlink it now, so that
    // nothing is left in /dev/shm even if this process is killed.
    removeFile();
    const read = (): UdpSinkCounts => {
      fs.readSync(fd, raw, 0, raw.length, 0);
      const rtp: number[] = [];
      const rtcp: number[] = [];
      for (let i = 0; i < raw.length / 16; i++) {
        rtp.push(Number(raw.readBigUInt64LE(i * 16)));
        rtcp.push(Number(raw.readBigUInt64LE(i * 16 + 8)));
      }
      return { rtp, rtcp };
    };
    const units = procs.map((p) => ({ cpuSeconds: () => processCpuSeconds(p.child.pid!), close: async () => undefined }));
    return new UdpCountingSink('recvmmsg', units, read, cleanup, ready.flatMap((r) => r.ports), Math.min(...ready.map((r) => r.recvBufferSize)));
  }

  private static async startThreads(unitCount: number, perUnit: number, recvBufferSize: number): Promise<UdpCountingSink> {
    const buffer = new SharedArrayBuffer(unitCount * perUnit * 2 * 4);
    const counters = new Uint32Array(buffer);
    const workers: { worker: Worker; exited: Promise<void> }[] = [];
    const ready: (Ready & { tid: number })[] = [];
    const cleanup = async () => {
      await Promise.all(
        workers.map(async ({ worker, exited }) => {
          worker.postMessage('close');
          const timer = setTimeout(() => void worker.terminate(), 2000);
          await exited;
          clearTimeout(timer);
        }),
      );
    };
    try {
      for (let t = 0; t < unitCount; t++) {
        const worker = new Worker(THREAD_SOURCE, {
          eval: true,
          workerData: { buffer, sockets: perUnit, firstSocket: t * perUnit, recvBufferSize },
        });
        workers.push({ worker, exited: new Promise((resolve) => worker.once('exit', () => resolve())) });
        ready.push(
          await new Promise<Ready & { tid: number }>((resolve, reject) => {
            worker.once('error', reject);
            worker.once('message', (msg: (Ready & { tid: number }) | { error: string }) =>
              'error' in msg ? reject(new Error(msg.error)) : resolve(msg),
            );
          }),
        );
      }
    } catch (error) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw error;
    }
    const read = (): UdpSinkCounts => {
      const rtp: number[] = [];
      const rtcp: number[] = [];
      for (let i = 0; i < counters.length / 2; i++) {
        rtp.push(Atomics.load(counters, i * 2));
        rtcp.push(Atomics.load(counters, i * 2 + 1));
      }
      return { rtp, rtcp };
    };
    const units = ready.map((r) => ({ cpuSeconds: () => threadCpuSeconds('self', r.tid), close: async () => undefined }));
    return new UdpCountingSink('node', units, read, cleanup, ready.flatMap((r) => r.ports), Math.min(...ready.map((r) => r.recvBufferSize)));
  }

  /** The counters now (one snapshot, no messaging). */
  read(): UdpSinkCounts {
    return this.readCounters();
  }

  /** Datagrams received between two snapshots (wrap-safe for the node engine's uint32 counters). */
  static delta(a: UdpSinkCounts, b: UdpSinkCounts): { rtp: number; rtcp: number } {
    const d = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + ((y[i]! - v) >>> 0), 0);
    return { rtp: d(a.rtp, b.rtp), rtcp: d(a.rtcp, b.rtcp) };
  }

  /** CPU seconds used so far by each unit (process or thread). */
  async cpuSeconds(): Promise<number[]> {
    return Promise.all(this.units.map((u) => u.cpuSeconds()));
  }

  async close(): Promise<void> {
    await this.cleanup();
  }
}

/** Resolves with the first stdout line of `proc`, parsed as JSON (rejects if it exits first). */
function firstJsonLine(proc: OwnedProcess): Promise<Ready> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      proc.child.stdout?.off('data', onData);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as Ready);
      } catch (error) {
        reject(error as Error);
      }
    };
    proc.child.stdout?.on('data', onData);
    void proc.exited.then((code) => reject(new Error(`sink process exited (${code}): ${proc.stderr()}`)));
  });
}
