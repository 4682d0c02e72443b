// Every benchmark in one reproducible run: each script runs in its own Node process
// (its own mediasoup workers), one after another so they never share the CPU, with
// --json; this prints one summary table and writes bench/results/all.json.
//
//   npm run bench                      # full run (the pipeline part alone is a 20-minute lecture)
//   npm run bench -- --quick           # small sizes and short windows, a few minutes
//   npm run bench -- --only overhead,sharding
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});

interface Part {
  name: string;
  script: string;
  args: string[];
  quickArgs: string[];
  summarize(result: Record<string, unknown>): string[];
}

// Loose readers for the JSON each script writes (each script documents its own fields).
type Json = Record<string, unknown>;
const signed = (x: unknown) => (typeof x === 'number' && x >= 0 ? `+${x}` : String(x));
const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);

const PARTS: Part[] = [
  {
    name: 'overhead',
    script: 'bench/sdk-overhead.ts',
    args: ['--consumers', '200', '--window', '10', '--windows', '3', '--rounds', '8'],
    quickArgs: ['--consumers', '50', '--window', '5', '--windows', '1', '--rounds', '4', '--warmup', '10'],
    summarize: (r) => [
      `SDK overhead: worker CPU raw ${get(r, 'workerCpu', 'raw')} % vs sdk ${get(r, 'workerCpu', 'sdk')} %: ${signed(get(r, 'workerCpu', 'extraPercent'))} % ` +
        `(±${get(r, 'workerCpu', 'standardErrorPercent')} % s.e., target ≤ 3 %)`,
      `              setup per peer raw ${get(r, 'setupMs', 'raw', 'median')} ms vs sdk ${get(r, 'setupMs', 'sdk', 'median')} ms: ` +
        `${signed(get(r, 'setupMs', 'pairedDifference', 'median'))} ms paired median (target ≤ 1 ms)`,
    ],
  },
  {
    // The same run as raw vs raw (A/A): what it reports as overhead is the method's resolution.
    name: 'overhead-control',
    script: 'bench/sdk-overhead.ts',
    args: ['--control', '--consumers', '200', '--window', '10', '--windows', '3', '--rounds', '8'],
    quickArgs: ['--control', '--consumers', '50', '--window', '5', '--windows', '1', '--rounds', '4', '--warmup', '10'],
    summarize: (r) => [
      `  A/A control (raw vs raw, same method): ${signed(get(r, 'workerCpu', 'extraPercent'))} % (±${get(r, 'workerCpu', 'standardErrorPercent')} % s.e.), ` +
        `setup ${signed(get(r, 'setupMs', 'pairedDifference', 'median'))} ms`,
    ],
  },
  {
    name: 'capacity',
    script: 'bench/capacity.ts',
    args: [],
    quickArgs: ['--audio-n', '100,400', '--video-n', '25,100', '--window', '5'],
    summarize: (r) =>
      ((get(r, 'modes') as Json[] | undefined) ?? []).map(
        (m) =>
          `capacity ${String(m.mode).padEnd(10)}: largest N < 80 % ${m.largestNBelow80 ?? '-'} (≈ ${m.nAt80Interpolated ?? '-'} interpolated), ` +
          `${m.packetsPerSecondPerCore ?? '-'} packets/s per core, stopped: ${m.stoppedBecause}`,
      ),
  },
  {
    name: 'sharding',
    script: 'bench/sharding.ts',
    args: ['--students', '300', '--max-transports', '100', '--workers', '2'],
    quickArgs: ['--students', '60', '--max-transports', '20', '--workers', '2', '--window', '5'],
    summarize: (r) => [
      `sharding: ${get(r, 'students')} students joined in ${get(r, 'joinAllSeconds')} s; routers ${JSON.stringify(get(r, 'routers'))}; pipes ${get(r, 'pipes')} (${get(r, 'pipeTransports')} PipeTransports)`,
      `          worker CPU ${JSON.stringify((get(r, 'workerCpuPercent') as Json[] | undefined)?.map((w) => w.cpuPercent))} %, loss ${get(r, 'lossPercent')} %`,
    ],
  },
  {
    name: 'pipeline',
    script: 'bench/pipeline.ts',
    args: ['--minutes', '20', '--cpu-window', '300', '--baseline', '60'],
    // 6 minutes: transcription starts after the baseline, and one full 5-minute batch gives the RTF.
    quickArgs: ['--minutes', '6', '--cpu-window', '60', '--baseline', '20'],
    summarize: (r) => [
      `pipeline: CPU per tapped stream ${Number(get(r, 'cpu', 'perStreamPercent')).toFixed(2)} % of a core; whisper-api RTF median ${get(r, 'stt', 'rtfMedian')}; lecture end → summary ${get(r, 'lectureEndToSummarySeconds')} s`,
    ],
  },
];

function run(part: Part): Promise<Json> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=lectern-source', '--import', 'tsx', part.script, '--json', ...(args.quick ? part.quickArgs : part.args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${part.script} exited ${code}`));
      try {
        resolve(JSON.parse(out.slice(out.indexOf('{'))) as Json);
      } catch (error) {
        reject(new Error(`${part.script} printed no JSON: ${String(error)}`));
      }
    });
  });
}

async function main() {
  const only = args.only?.split(',');
  const results: Record<string, Json | { error: string }> = {};
  const lines: string[] = [];
  for (const part of PARTS.filter((p) => !only || only.includes(p.name))) {
    console.error(`\n=== ${part.name} (${part.script}) ===`);
    const t0 = Date.now();
    try {
      const r = await run(part);
      results[part.name] = r;
      lines.push(...part.summarize(r), `          (${Math.round((Date.now() - t0) / 1000)} s)`);
    } catch (error) {
      results[part.name] = { error: String(error) };
      lines.push(`${part.name}: FAILED ${String(error)}`);
    }
  }
  const all = { date: new Date().toISOString(), quick: args.quick, machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30) }, results };
  await fs.mkdir(path.join('bench', 'results'), { recursive: true });
  await fs.writeFile(path.join('bench', 'results', 'all.json'), JSON.stringify(all, null, 2));
  console.log(`\nLectern benchmarks ${all.date} (${all.machine.cpus} × ${all.machine.model})${args.quick ? ' — quick' : ''}\n`);
  console.log(lines.join('\n'));
  if (Object.values(results).some((r) => 'error' in r)) process.exitCode = 1;
}

void main();
