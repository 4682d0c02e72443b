#!/usr/bin/env bash
# Runs mediasoup's own test suite (it ships compiled in the npm package as
# node/lib/test/test-*.js) against the worker this project's setup installed, so a
# worker built here from source is proven by the same tests mediasoup's CI runs.
#
# The package's node/ folder is copied into test-output/ (the tests write nothing
# into node_modules) beside the DTLS certificate pair test-Worker.js expects; jest,
# pick-port and werift-sctp (the suite's test dependencies) are root devDependencies
# and resolve from the repository's node_modules, as mediasoup's own dependencies do.
#
#   bash scripts/lib/mediasoup-suite.sh [jest args...]   (e.g. -t 'WebRtcServer')
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib/node-env.sh"
cd "$ROOT"

MS_DIR="$(node scripts/lib/mediasoup-dir.mjs)" || { echo "mediasoup is not installed (run npm run setup)" >&2; exit 1; }
WORKER_BIN="$MS_DIR/worker/out/Release/mediasoup-worker"
[ -x "$WORKER_BIN" ] || { echo "no mediasoup worker at $WORKER_BIN (run npm run setup)" >&2; exit 1; }

SUITE="$ROOT/test-output/mediasoup-suite"
rm -rf "$SUITE"
mkdir -p "$SUITE"
cp "$MS_DIR/package.json" "$SUITE/"
cp -r "$MS_DIR/node" "$SUITE/node"
mkdir -p "$SUITE/node/lib/test/data"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=mediasoup-test' \
  -keyout "$SUITE/node/lib/test/data/dtls-key.pem" -out "$SUITE/node/lib/test/data/dtls-cert.pem" 2>/dev/null

echo "mediasoup $(node -p "require('$MS_DIR/package.json').version") suite against $WORKER_BIN ($(cat "$MS_DIR/worker/out/Release/lectern-build.json" 2>/dev/null || echo 'no build record'))"
export MEDIASOUP_WORKER_BIN="$WORKER_BIN"
exec npx --no-install jest --rootDir "$SUITE" --testRegex 'node/lib/test/test-.*\.js$' \
  --testPathIgnorePatterns '/node_modules/' --runInBand --ci --colors=false "$@"
