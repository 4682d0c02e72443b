// Try mediasoup's own prebuilt worker download, the way mediasoup's postinstall
// does it (same release URL derived from mediasoup's package.json, same tarball
// name), but with a short timeout and WITHOUT mediasoup's fallback of building
// from source with downloaded subprojects (which cannot work offline).
//
// usage: node fetch-prebuilt-worker.mjs <mediasoup-package-dir> [timeout-ms]
// exit 0: worker/out/Release/mediasoup-worker is in place and runs on this host
// exit 3: no prebuilt could be fetched (offline, 404, wrong libc, ...)
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const [msDir, timeoutArg] = process.argv.slice(2);
if (!msDir) {
  console.error('usage: fetch-prebuilt-worker.mjs <mediasoup-package-dir> [timeout-ms]');
  process.exit(2);
}
const timeoutMs = Number(timeoutArg ?? 20000);
const pkg = JSON.parse(fs.readFileSync(path.join(msDir, 'package.json'), 'utf8'));

let tarName = `mediasoup-worker-${pkg.version}-${os.platform()}-${os.arch()}`;
if (os.platform() === 'linux') tarName += `-kernel${Number(os.release().split('.')[0])}`;
tarName += '.tgz';
const base =
  process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL ??
  `${String(pkg.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '')}/releases/download`;
const url = `${base}/${pkg.version}/${tarName}`;

const releaseDir = path.join(msDir, 'worker', 'out', 'Release');
const bin = path.join(releaseDir, 'mediasoup-worker');

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    console.error(`prebuilt worker not available (${res.status} ${res.statusText})`);
    process.exit(3);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lectern-ms-prebuilt-'));
  try {
    const tgz = path.join(tmp, tarName);
    fs.writeFileSync(tgz, Buffer.from(await res.arrayBuffer()));
    fs.mkdirSync(releaseDir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', releaseDir]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
} catch (error) {
  console.error(`prebuilt worker not reachable: ${error instanceof Error ? error.message : error}`);
  process.exit(3);
}

// mediasoup-worker started without MEDIASOUP_VERSION exits with 41: that proves it
// loads and runs on this host (libc etc.), as mediasoup's own check does.
const probe = spawnSync(bin, [], { env: {}, stdio: 'ignore' });
if (probe.status !== 41) {
  fs.rmSync(bin, { force: true });
  console.error(`prebuilt worker does not run on this host (exit ${probe.status})`);
  process.exit(3);
}
console.log(`prebuilt worker installed: ${bin}`);
