// The packages install the way a host gets them: `npm pack` of every public
// package (prepack builds dist/), the tarballs' contents (dist with
// declarations, README, LICENSE, the client's model bundle; @lectern ranges
// ^0.1.0), then an install into a temporary project outside the repository,
// from npm's cache (offline first), a strict type check of a small host against
// the installed packages (their `types`, not the repository's sources), and a
// run of it against a real mediasoup worker (the repository's, through
// MEDIASOUP_WORKER_BIN): a lecturer joins and publishes real audio (FFmpeg's
// Opus RTP into a plain transport, through the public request API), a student
// consumes it on a plain transport whose remote end is the host's UDP socket.
// Prints the time from `npm install` to the first audio at the student (the
// first RTP packet of the consumer's payload type and SSRC; 25 must arrive),
// with the breakdown: install, tsc, start → lecturer joined, joined → audio.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['protocol', 'stt-adapter', 'server-sdk', 'client-sdk'] as const;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lectern-packaging-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const msDir = execFileSync(process.execPath, [path.join(root, 'scripts/lib/mediasoup-dir.mjs')], { cwd: root, encoding: 'utf8' }).trim();
const workerBin = path.join(msDir, 'worker/out/Release/mediasoup-worker');
const msVersion = (JSON.parse(readFileSync(path.join(msDir, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
}
function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.status, 0, `${what} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}
const tarballs = new Map<string, string>();

/** The README's walkthrough, whose ```ts blocks the host also compiles against the installed packages. */
const WALKTHROUGH_HEADING = '## Integrating Lectern into your LMS backend';

/** The walkthrough's ```ts blocks, each with the README line of its first code line. */
function walkthroughBlocks(): { line: number; code: string }[] {
  const lines = readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
  const start = lines.indexOf(WALKTHROUGH_HEADING);
  assert.ok(start >= 0, `README.md has "${WALKTHROUGH_HEADING}"`);
  const blocks: { line: number; code: string }[] = [];
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('## '); i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    blocks.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * The host the test installs the packages for: strict TypeScript against their public API only.
 * A lecturer publishes real audio (FFmpeg's Opus RTP into a plain transport, the route a SIP or
 * RTMP gateway takes) and a student receives it on a plain transport connected to the host's own
 * UDP socket, so "first audio" is the first RTP packet of the consumer's payload type and SSRC that
 * arrives there: audio that went through the worker's router, not only a reply to a request.
 * Written without `${...}` and backticks (it lives in a template literal).
 */
const HOST_MAIN = `import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { RoomManager, WebhookSender, generateWebhookSecret, type PeerContext } from '@lectern/server-sdk';
import { toWebVtt } from '@lectern/server-sdk/transcription';
import { verifyWebhook } from '@lectern/server-sdk/webhooks';
import { WhisperApiClient } from '@lectern/stt-adapter';
import type { LectureClient, TasksVisionHandDetector } from '@lectern/client-sdk';

// What the lecturer's FFmpeg sends (the produce request's rtpParameters must say the same).
const OPUS_PT = 100;
const OPUS_SSRC = 11110001;
// 0.5 s of 20 ms Opus frames: audio that flows, not one stray packet.
const WANTED_PACKETS = 25;
const AUDIO_TIMEOUT_MS = 8000;

// Plain transports are host-enabled: this host is the only one that can reach its request API.
const manager = await RoomManager.create({ workers: { numWorkers: 1 }, plainTransport: { enabled: true } });
let ffmpeg: ChildProcess | undefined;
let socket: dgram.Socket | undefined;
try {
  const ada: PeerContext = { roomId: 'packaged', peerId: 'ada', role: 'lecturer' };
  const bob: PeerContext = { roomId: 'packaged', peerId: 'bob', role: 'student' };
  const { routerRtpCapabilities } = await manager.request(ada, 'getRouterRtpCapabilities', {});
  const joined = await manager.request(ada, 'join', { rtpCapabilities: routerRtpCapabilities, displayName: 'Ada' });
  const firstRequestAt = Date.now();

  // The lecturer's microphone: comedia, so the transport learns FFmpeg's address from its first packet.
  const send = await manager.request(ada, 'createPlainTransport', { comedia: true });
  const { producerId } = await manager.request(ada, 'produce', {
    transportId: send.transportId,
    kind: 'audio',
    source: 'microphone',
    rtpParameters: {
      codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
      encodings: [{ ssrc: OPUS_SSRC }],
    },
  });
  // -t bounds FFmpeg even if this process is killed before its finally runs.
  ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '30',
    '-ac', '2', '-ar', '48000', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', String(OPUS_PT), '-ssrc', String(OPUS_SSRC),
    '-f', 'rtp', 'udp://' + send.ip + ':' + send.port + '?pkt_size=1200',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let ffmpegErrors = '';
  ffmpeg.stderr?.setEncoding('utf8').on('data', (chunk: string) => (ffmpegErrors = (ffmpegErrors + chunk).slice(-2000)));
  // Listened to at once: a missing ffmpeg is an 'error' event on the next tick.
  const ffmpegEnded = new Promise<string>((resolve) => {
    ffmpeg?.once('error', (error) => resolve('ffmpeg failed: ' + error.message));
    ffmpeg?.once('exit', (code, signal) => resolve('ffmpeg exited (' + String(code ?? signal) + '): ' + ffmpegErrors));
  });

  // The student: consumes the lecturer's audio on a plain transport that sends it to this socket.
  await manager.request(bob, 'join', { rtpCapabilities: routerRtpCapabilities, displayName: 'Bob' });
  const udp = dgram.createSocket('udp4');
  socket = udp;
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, '127.0.0.1', () => resolve());
  });
  const recv = await manager.request(bob, 'createPlainTransport', {});
  await manager.request(bob, 'connectPlainTransport', { transportId: recv.transportId, ip: '127.0.0.1', port: udp.address().port });
  const consumer = await manager.request(bob, 'consume', { producerId, transportId: recv.transportId });
  const payloadType = consumer.rtpParameters.codecs[0]?.payloadType;
  const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
  const arrivals: number[] = [];
  let rtpBytes = 0;
  const enough = new Promise<string>((resolve) => {
    udp.on('message', (packet) => {
      // RTP version 2, the consumer's payload type and SSRC (mediasoup's RTCP on the same port is not audio).
      if (packet.length <= 12 || packet.readUInt8(0) >> 6 !== 2) return;
      if ((packet.readUInt8(1) & 0x7f) !== payloadType || packet.readUInt32BE(8) !== ssrc) return;
      arrivals.push(Date.now());
      rtpBytes += packet.length;
      if (arrivals.length === WANTED_PACKETS) resolve('enough');
    });
  });
  await manager.request(bob, 'resumeConsumer', { consumerId: consumer.consumerId });
  const subscribedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    enough,
    ffmpegEnded,
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no audio within ' + AUDIO_TIMEOUT_MS + ' ms'), AUDIO_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  const peers: string[] = manager.listPeers('packaged').map((p) => p.peerId);
  const webhooks = new WebhookSender({ url: 'http://127.0.0.1:9/', secret: generateWebhookSecret() });
  await webhooks.close({ drainTimeoutMs: 0 });
  const unused: [typeof verifyWebhook, typeof toWebVtt, typeof WhisperApiClient, LectureClient | TasksVisionHandDetector | undefined] = [verifyWebhook, toWebVtt, WhisperApiClient, undefined];
  console.log(JSON.stringify({
    outcome, firstRequestAt, subscribedAt, firstAudioAt: arrivals[0], lastAudioAt: arrivals.at(-1), packets: arrivals.length, rtpBytes,
    payloadType, peers, role: joined.role, grants: Object.keys(joined.grants), checked: unused.length,
  }));
} finally {
  ffmpeg?.kill('SIGKILL');
  socket?.close();
  manager.close();
}
`;

test('npm pack ships dist/ with declarations, README and LICENSE; @lectern ranges are ^0.1.0', () => {
  const t0 = performance.now();
  ok(run('npm', ['pack', '--pack-destination', tmp, ...packages.flatMap((p) => ['-w', `packages/${p}`])], root), 'npm pack');
  console.log(`npm pack (prepack builds) of ${packages.length} packages: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const license = readFileSync(path.join(root, 'LICENSE'), 'utf8');
  for (const name of packages) {
    const file = readdirSync(tmp).find((f) => f.startsWith(`lectern-${name}-`) && f.endsWith('.tgz'));
    assert.ok(file, `a tarball for ${name}`);
    tarballs.set(name, path.join(tmp, file));
    const list = execFileSync('tar', ['-tzf', path.join(tmp, file)], { encoding: 'utf8' }).split('\n');
    for (const f of ['package/README.md', 'package/LICENSE', 'package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts']) {
      assert.ok(list.includes(f), `${name}: ${f} in the tarball`);
    }
    assert.ok(!list.some((f) => /\.test\.|tsbuildinfo|(^|\/)test\//.test(f)), `${name}: no tests or build info`);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', path.join(tmp, file), 'package/package.json'], { encoding: 'utf8' })) as {
      license: string;
      dependencies?: Record<string, string>;
      exports: Record<string, Record<string, string> | string>;
    };
    assert.equal(manifest.license, 'MIT');
    assert.equal(execFileSync('tar', ['-xzOf', path.join(tmp, file), 'package/LICENSE'], { encoding: 'utf8' }), license, `${name}: LICENSE is the repository's`);
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
      if (dep.startsWith('@lectern/')) assert.equal(range, '^0.1.0', `${name} → ${dep}`);
    }
    for (const [sub, entry] of Object.entries(manifest.exports)) {
      if (typeof entry === 'string') continue;
      for (const target of [entry.types, entry.import]) assert.ok(list.includes(`package/${target!.slice(2)}`), `${name} ${sub}: ${target} shipped`);
    }
    if (name === 'server-sdk') for (const sub of ['transcription', 'webhooks']) assert.ok(list.includes(`package/dist/${sub}/index.d.ts`));
    if (name === 'client-sdk') assert.ok(list.includes('package/models/hand_landmarker.task'), 'the default gesture model ships');
  }
});

test('a host outside the repository installs the tarballs, type-checks against them, and a student hears a lecturer on a real worker', () => {
  assert.equal(tarballs.size, packages.length, 'packed by the previous test');
  assert.ok(existsSync(workerBin), `the repository's worker at ${workerBin}`);
  const host = path.join(tmp, 'host');
  mkdirSync(path.join(host, 'src'), { recursive: true });
  writeFileSync(
    path.join(host, 'package.json'),
    JSON.stringify({
      name: 'lectern-packaging-host',
      private: true,
      type: 'module',
      // npm >= 11.19 skips dependencies' install scripts unless allowed; mediasoup's fetches or builds its worker
      // (here it is skipped anyway: MEDIASOUP_WORKER_BIN names the repository's worker).
      allowScripts: { mediasoup: true },
      dependencies: { ...Object.fromEntries([...tarballs].map(([n, f]) => [`@lectern/${n}`, `file:${f}`])), mediasoup: msVersion },
    }, null, 2),
  );
  writeFileSync(
    path.join(host, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true,
        lib: ['ES2023', 'DOM'], types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')], skipLibCheck: true,
        outDir: 'dist', rootDir: 'src',
      },
      include: ['src'],
    }, null, 2),
  );
  writeFileSync(path.join(host, 'src/main.ts'), HOST_MAIN);
  // The README's walkthrough compiles as a host's code against what npm installed (never run: it
  // declares the host's own functions); test/readme-examples.test.ts checks it against the sources.
  const walkthrough = walkthroughBlocks();
  assert.ok(walkthrough.length >= 6, `the walkthrough's steps as ts blocks (${walkthrough.length})`);
  walkthrough.forEach((block, i) => writeFileSync(path.join(host, `src/walkthrough-${i + 1}.ts`), `${block.code}\nexport {};\n`));
  const env = { MEDIASOUP_WORKER_BIN: workerBin, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
  const t0 = Date.now();
  // From npm's cache, which the repository's setup filled; only when something is not cached, the registry.
  let install = run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], host, env);
  const offline = install.status === 0;
  if (!offline) {
    // Typically ENOTCACHED for a package's metadata: the repository's lockfile install fetched tarballs, not packuments.
    const reason = install.stderr.split('\n').filter((l) => /ENOTCACHED|request to|code/.test(l)).slice(0, 3).join(' | ');
    console.log(`npm install --offline failed (${reason || install.status}); retrying with --prefer-offline (the registry for what is not cached)`);
    install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], host, env);
  }
  ok(install, 'npm install');
  const installed = Date.now();
  assert.ok(existsSync(path.join(host, 'node_modules/@lectern/server-sdk/dist/index.js')));
  assert.ok(!existsSync(path.join(host, 'node_modules/ioredis')) && !existsSync(path.join(host, 'node_modules/openai')), 'optional peers are not installed');
  assert.ok(!existsSync(path.join(host, 'node_modules/@mediapipe/hands')), '@mediapipe/hands is an optional peer');
  assert.ok(existsSync(path.join(host, 'node_modules/@mediapipe/tasks-vision/wasm')), 'tasks-vision (and its wasm/ to serve) is installed');

  const tsc = run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], host);
  // A walkthrough error names its README line.
  const readmeLine = (text: string) => text.replace(/src\/walkthrough-(\d+)\.ts\((\d+),(\d+)\)/g, (_, block: string, line: string, column: string) =>
    `README.md:${walkthrough[Number(block) - 1]!.line + Number(line) - 1}:${column}`);
  ok({ ...tsc, stdout: readmeLine(tsc.stdout) }, 'tsc against the installed packages');
  const checked = Date.now();
  const out = ok(run(process.execPath, ['dist/main.js'], host, env), 'the host');
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as {
    outcome: string;
    firstRequestAt: number;
    subscribedAt: number;
    firstAudioAt?: number;
    lastAudioAt?: number;
    packets: number;
    rtpBytes: number;
    peers: string[];
    grants: string[];
  };
  assert.deepEqual(result.peers, ['ada', 'bob']);
  assert.ok(result.grants.includes('roomAdmin'));
  // The student's socket got the lecturer's audio: 25 RTP packets of the consumer's payload type and SSRC.
  assert.equal(result.outcome, 'enough', `audio at the student: ${result.outcome} (${result.packets} packets)`);
  assert.ok(result.packets >= 25 && result.firstAudioAt !== undefined && result.lastAudioAt !== undefined);
  assert.ok(result.rtpBytes / result.packets > 12 + 20, `Opus payloads, not empty packets (${result.rtpBytes} bytes)`);
  const s = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)} s`;
  console.log(
    `install → first audio: ${s(t0, result.firstAudioAt)} (npm install ${offline ? '--offline' : '--prefer-offline'} ${s(t0, installed)}, ` +
      `tsc ${s(installed, checked)}, start → lecturer joined ${s(checked, result.firstRequestAt)}, ` +
      `joined → first audio at the student ${s(result.firstRequestAt, result.firstAudioAt)}; ` +
      `${result.packets} packets in ${s(result.firstAudioAt, result.lastAudioAt)})`,
  );
});

test('whisper-api builds as a wheel that installs into a fresh virtual environment with its whisper-api console script', (t) => {
  const here = path.join(root, 'python/whisper-api');
  const venvPython = path.join(here, '.venv/bin/python');
  if (process.env.LECTERN_SKIP_PYTHON === '1') return t.skip('LECTERN_SKIP_PYTHON=1');
  assert.ok(existsSync(venvPython), 'whisper-api\'s virtual environment (scripts/setup.sh)');
  const wheels = path.join(tmp, 'wheels');
  // A copy of the project's files, so the build's own directories stay out of the repository.
  const project = path.join(tmp, 'whisper-api');
  mkdirSync(project);
  for (const f of ['pyproject.toml', 'README.md', 'LICENSE']) cpSync(path.join(here, f), path.join(project, f));
  cpSync(path.join(here, 'src/whisper_api'), path.join(project, 'src/whisper_api'), { recursive: true, filter: (f) => !f.includes('__pycache__') });
  // Built offline with the development environment's setuptools + wheel (the `test` extra).
  ok(run(venvPython, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', wheels, project], tmp, { PIP_DISABLE_PIP_VERSION_CHECK: '1' }), 'pip wheel');
  const wheel = readdirSync(wheels).find((f) => /^whisper_api-0\.1\.0-py3-none-any\.whl$/.test(f));
  assert.ok(wheel, `a pure-Python wheel in ${readdirSync(wheels).join(', ')}`);
  const files = execFileSync(venvPython, ['-c', 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', path.join(wheels, wheel)], { encoding: 'utf8' });
  assert.match(files, /^whisper_api\/cli\.py$/m);
  assert.match(files, /^whisper_api-0\.1\.0\.dist-info\/entry_points\.txt$/m);
  assert.match(files, /^whisper_api-0\.1\.0\.dist-info\/(licenses\/)?LICENSE$/m);
  // A fresh venv gets the wheel (no index); its third-party dependencies are borrowed from the
  // development environment through a .pth line (that directory's own .pth files, among them
  // the editable install of whisper_api, are not run), so the import below is the wheel's.
  const venv = path.join(tmp, 'venv');
  ok(run('python3', ['-m', 'venv', venv], tmp), 'python3 -m venv');
  ok(run(path.join(venv, 'bin/python'), ['-m', 'pip', 'install', '-q', '--no-deps', '--no-index', path.join(wheels, wheel)], tmp, { PIP_DISABLE_PIP_VERSION_CHECK: '1' }), 'pip install the wheel');
  const devSite = execFileSync(venvPython, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], { encoding: 'utf8' }).trim();
  const site = execFileSync(path.join(venv, 'bin/python'), ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(site, 'lectern-dev-deps.pth'), `${devSite}\n`);
  const where = ok(run(path.join(venv, 'bin/python'), ['-c', 'import whisper_api; print(whisper_api.__file__)'], tmp), 'import whisper_api');
  assert.ok(where.trim().startsWith(site), `whisper_api imported from the wheel's install (${where.trim()})`);
  const help = ok(run(path.join(venv, 'bin/whisper-api'), ['--help'], tmp), 'whisper-api --help');
  assert.match(help, /--port/);
});
