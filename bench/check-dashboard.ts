// Checks examples/grafana/lectern-dashboard.json against what the server SDK really exports.
//
//   bash scripts/run.sh bench/check-dashboard.ts [--live] [--file path]
//
// 1. The JSON parses and is a well-formed dashboard: schemaVersion, the
//    DS_PROMETHEUS datasource variable, every query on ${DS_PROMETHEUS}, unique
//    panel ids, panels inside the 24-column grid and not overlapping.
// 2. A RoomManager runs real traffic (a lecturer producing Opus, a student
//    consuming it over WebRTC, one refused request), and its registry is scraped
//    with `manager.metrics.registry.metrics()`. Every metric name in every
//    PromQL expression (panels and variables) must appear in that scrape with
//    samples, and every label the dashboard uses (selectors, `by (...)`,
//    `{{legend}}`, label_values) must exist on a metric of that expression
//    (`instance`/`job` are added by Prometheus, `le` by histograms).
// 3. If `promtool` is on PATH, every expression (variables substituted) is
//    parsed by `promtool check rules`.
// 4. With --live (needs `prometheus` on PATH): a throwaway Prometheus on
//    127.0.0.1 scrapes the manager every second for ~12 s while requests keep
//    coming, and every panel expression is evaluated through its HTTP API; each
//    must return at least one series.
// Exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RoomManager } from '@lectern/server-sdk';
import { freeTcpPort, requester, RoomTestPeer } from '@lectern/testkit';

const { values: args } = parseArgs({
  options: {
    live: { type: 'boolean', default: false },
    file: { type: 'string' },
  },
});
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = args.file ?? path.join(root, 'examples/grafana/lectern-dashboard.json');

const failures: string[] = [];
const fail = (msg: string) => failures.push(msg);
const say = (msg: string) => console.log(msg);

// ------------------------------------------------------------------ 1. structure

interface Target {
  expr: string;
  legendFormat?: string;
  refId: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  definition?: string;
  query?: unknown;
  datasource?: { uid?: string };
}

const raw = await fs.readFile(file, 'utf8');
let dashboard: { schemaVersion: number; uid?: string; title?: string; panels: Panel[]; templating: { list: Variable[] } };
try {
  dashboard = JSON.parse(raw);
} catch (error) {
  console.error(`FAIL ${file} is not JSON: ${String(error)}`);
  process.exit(1);
}
say(`${path.relative(root, file)}: "${dashboard.title}" uid ${dashboard.uid}, schemaVersion ${dashboard.schemaVersion}`);
if (typeof dashboard.schemaVersion !== 'number' || dashboard.schemaVersion < 36) fail(`schemaVersion ${dashboard.schemaVersion} is too old`);
const variables = dashboard.templating?.list ?? [];
const dsVar = variables.find((v) => v.name === 'DS_PROMETHEUS');
if (!dsVar || dsVar.type !== 'datasource' || (dsVar as unknown as { query: string }).query !== 'prometheus') {
  fail('no DS_PROMETHEUS datasource variable of type prometheus');
}
const DS = '${DS_PROMETHEUS}';
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const ids = new Set<number>();
for (const p of panels) {
  if (ids.has(p.id)) fail(`panel id ${p.id} is used twice`);
  ids.add(p.id);
  const g = p.gridPos;
  if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1) fail(`panel "${p.title}" is outside the 24-column grid`);
  if (p.type === 'row') continue;
  if (p.datasource?.uid !== DS) fail(`panel "${p.title}" does not use ${DS}`);
  if (!p.targets?.length) fail(`panel "${p.title}" has no query`);
  for (const t of p.targets ?? []) {
    if (t.datasource?.uid !== DS) fail(`panel "${p.title}" query ${t.refId} does not use ${DS}`);
    if (!t.expr) fail(`panel "${p.title}" query ${t.refId} has no expr`);
  }
}
const boxes = panels.map((p) => p.gridPos);
for (let i = 0; i < boxes.length; i++) {
  for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i]!;
    const b = boxes[j]!;
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
      fail(`panels "${panels[i]!.title}" and "${panels[j]!.title}" overlap`);
    }
  }
}

interface Query {
  where: string;
  expr: string;
  /** Labels the query's legend or label_values() reads. */
  readLabels: string[];
}
const queries: Query[] = [];
for (const p of panels) {
  for (const t of p.targets ?? []) {
    queries.push({
      where: `panel "${p.title}" ${t.refId}`,
      expr: t.expr,
      readLabels: [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!),
    });
  }
}
for (const v of variables.filter((v) => v.type === 'query')) {
  if (v.datasource?.uid !== DS) fail(`variable ${v.name} does not use ${DS}`);
  const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query ?? '';
  const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q.trim());
  if (!m) {
    fail(`variable ${v.name}: expected label_values(selector, label), got ${q}`);
    continue;
  }
  queries.push({ where: `variable $${v.name}`, expr: m[1]!, readLabels: [m[2]!] });
}
say(`structure: ${panels.length} panels (${panels.filter((p) => p.type !== 'row').length} with queries), ${queries.length} expressions, ${variables.length} variables`);

// ------------------------------------------------------------------ 2. scrape a real manager

const manager = await RoomManager.create({ workers: { numWorkers: 2 }, room: { maxTransportsPerRouter: 2 } });
const peers: RoomTestPeer[] = [];
let promProcess: ReturnType<typeof spawn> | undefined;
let metricsServer: http.Server | undefined;
let tmpDir: string | undefined;
try {
  const lecturer = await RoomTestPeer.join(requester(manager, 'check', 'lecturer', 'lecturer'));
  peers.push(lecturer);
  const producerId = await lecturer.produceAudio();
  for (const id of ['s1', 's2']) {
    const student = await RoomTestPeer.join(requester(manager, 'check', id, 'student'));
    peers.push(student);
    await student.consume(producerId); // 3 transports, 2 per router: s2 lands on a second router, piped
  }
  await manager.handle({ roomId: 'check', peerId: 's1' }, 'noSuchMethod', {}).catch(() => undefined); // an error sample
  await new Promise((r) => setTimeout(r, 1200)); // one load sample with CPU deltas

  const text = await manager.metrics.registry.metrics();
  const declared = new Map<string, string>(); // name -> type
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) declared.set(m[1]!, m[2]!);
  const sampleLabels = new Map<string, Set<string>>(); // sample name -> label names seen
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? /.exec(line);
    if (!m) continue;
    const labels = sampleLabels.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) labels.add(l[1]!);
    sampleLabels.set(m[1]!, labels);
  }
  say(`scrape: ${declared.size} metrics declared, ${sampleLabels.size} sample names`);

  const used = new Set<string>();
  const targetLabels = new Set(['instance', 'job']);
  for (const q of queries) {
    const names = [...new Set([...q.expr.matchAll(/\blectern_\w+/g)].map((m) => m[0]))];
    if (names.length === 0) fail(`${q.where}: no lectern_ metric in ${q.expr}`);
    const labelsHere = new Set<string>(targetLabels);
    for (const name of names) {
      used.add(name);
      if (!sampleLabels.has(name)) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        fail(
          declared.has(base) || declared.has(name)
            ? `${q.where}: ${name} is declared but has no samples in the scrape`
            : `${q.where}: ${name} is not exported by the SDK`,
        );
        continue;
      }
      for (const l of sampleLabels.get(name)!) labelsHere.add(l);
    }
    // Labels matched in selectors, grouped by, or read by the legend / label_values.
    const selectorLabels = [...q.expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!));
    const groupLabels = [...q.expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()).filter(Boolean));
    for (const label of new Set([...selectorLabels, ...groupLabels, ...q.readLabels])) {
      if (!labelsHere.has(label)) fail(`${q.where}: label "${label}" is on none of ${names.join(', ')}`);
    }
  }
  const unused = [...declared.keys()].filter((n) => n.startsWith('lectern_') && ![...used].some((u) => u === n || u.replace(/_(bucket|sum|count)$/, '') === n));
  say(`metrics used by the dashboard: ${[...used].sort().join(', ')}`);
  say(`SDK metrics the dashboard does not show: ${unused.length ? unused.join(', ') : 'none'}`);

  // ---------------------------------------------------------------- 3. promtool syntax
  const substitute = (expr: string) =>
    expr
      .replaceAll('$__rate_interval', '15s')
      .replaceAll('$__range', '1m')
      .replace(/\$(\w+)/g, '.*');
  const panelQueries = queries.filter((q) => q.where.startsWith('panel'));
  const hasTool = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-dashboard-check-'));
  if (hasTool('promtool')) {
    const rules = {
      groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:expr_${i}`, expr: substitute(q.expr) })) }],
    };
    const rulesFile = path.join(tmpDir, 'rules.yml');
    await fs.writeFile(rulesFile, JSON.stringify(rules)); // JSON is YAML
    const r = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    if (r.status === 0) say(`promtool: all ${queries.length} expressions parse`);
    else fail(`promtool check rules failed:\n${r.stdout}${r.stderr}`);
  } else {
    say('promtool not on PATH: PromQL syntax not checked');
  }

  // ---------------------------------------------------------------- 4. live Prometheus
  if (args.live) {
    if (!hasTool('prometheus')) {
      fail('--live needs prometheus on PATH');
    } else {
      metricsServer = http.createServer(manager.metrics.handler);
      await new Promise<void>((resolve) => metricsServer!.listen(0, '127.0.0.1', resolve));
      const metricsPort = (metricsServer.address() as { port: number }).port;
      const promPort = await freeTcpPort();
      const config = {
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: [{ job_name: 'lectern', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] }],
      };
      await fs.writeFile(path.join(tmpDir, 'prometheus.yml'), JSON.stringify(config));
      promProcess = spawn(
        'prometheus',
        [
          `--config.file=${path.join(tmpDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(tmpDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let promLog = '';
      promProcess.stderr?.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-8000)));
      // Keep requests (and one error a second) coming while Prometheus scrapes.
      const s1 = requester(manager, 'check', 's1', 'student');
      const traffic = setInterval(() => {
        void s1('getRouterRtpCapabilities', {}).catch(() => undefined);
        void s1('resumeConsumer', { consumerId: 'nope' }).catch(() => undefined);
      }, 100);
      const query = async (expr: string) => {
        const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`;
        const res = await fetch(url);
        return (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      };
      try {
        const started = Date.now();
        for (;;) {
          const up = await query('up{job="lectern"}').catch(() => undefined);
          if (up?.data?.result[0]?.value[1] === '1') break;
          if (Date.now() - started > 20_000) throw new Error(`prometheus did not scrape the manager:\n${promLog}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        await new Promise((r) => setTimeout(r, 12_000)); // enough scrapes for rate() over 15s
        let empty = 0;
        for (const q of panelQueries) {
          const expr = substitute(q.expr);
          const r = await query(expr);
          if (r.status !== 'success') fail(`${q.where}: Prometheus refused it: ${r.error}`);
          else if (!r.data?.result.length) {
            empty += 1;
            fail(`${q.where}: no series from live Prometheus: ${expr}`);
          } else {
            const sample = r.data.result
              .slice(0, 3)
              .map((s) => `${q.readLabels.map((l) => s.metric[l] ?? '?').join('/') || 'value'}=${Number(s.value[1]).toPrecision(3)}`)
              .join(' ');
            say(`  live ok  ${q.where}: ${r.data.result.length} series (${sample})`);
          }
        }
        say(`live Prometheus: ${panelQueries.length - empty}/${panelQueries.length} panel expressions returned series`);
      } finally {
        clearInterval(traffic);
      }
    }
  }
} finally {
  await Promise.allSettled(peers.map((p) => p.leave()));
  manager.close();
  if (promProcess && promProcess.exitCode === null) {
    const exited = new Promise((r) => promProcess!.once('exit', r));
    promProcess.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
  if (tmpDir) await fs.rm(tmpDir, { recursive: true, force: true });
}

if (failures.length) {
  console.log(`\nFAIL: ${failures.length} problem(s)`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exitCode = 1;
} else {
  console.log('\nOK: the dashboard parses and every metric and label it uses exists in the SDK\'s scrape');
}
