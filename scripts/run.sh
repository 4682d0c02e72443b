#!/usr/bin/env bash
# Run one of the project's TypeScript entry points (the demo, a benchmark) on the
# project's Node, with the sources resolved through the `lectern-source` export
# condition. Usage: bash scripts/run.sh <file.ts> [args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib/node-env.sh"
exec node --conditions=lectern-source --import tsx "$@"
