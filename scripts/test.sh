#!/usr/bin/env bash
# Runs every test against real parts (expects scripts/setup.sh to have run; `npm test`
# does both): the TypeScript type check, the import rules (no cycles), mediasoup's own
# test suite against the installed worker, the TypeScript tests (node's test runner,
# sources run through tsx with the `lectern-source` export condition), then the
# whisper-api pytest suite. Ends with one summary line: "N passed, N failed".
#
#   bash scripts/test.sh [test files or dirs...]   (default: everything)
# Knobs: LECTERN_SKIP_PYTHON=1, LECTERN_TEST_CONCURRENCY (default 1 file at a time).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib/node-env.sh
OUT="$ROOT/test-output"
mkdir -p "$OUT"
log() { printf '\033[1;32m[test]\033[0m %s\n' "$*"; }
t0=$(date +%s)

passed=0; failed=0; skipped=0
count() { # $1 = regex with one number group, $2 = file
  grep -aoE "$1" "$2" | grep -oE '[0-9]+' | tail -1 # -a: a test may log bytes that are not text
}

ms_dir="$(node scripts/lib/mediasoup-dir.mjs || true)"
log "Node $(node -v) ($(command -v node)), mediasoup $(node -p "require('$ms_dir/package.json').version" 2>/dev/null || echo '?'), worker: $(cat "$ms_dir/worker/out/Release/lectern-build.json" 2>/dev/null || echo '?')"

log "type check (tsc --noEmit)"
if npx --no-install tsc -p tsconfig.json; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); log "type check FAILED"
fi

log "import rules (dependency-cruiser: no cycles, one direction; .dependency-cruiser.cjs)"
if npx --no-install depcruise --config .dependency-cruiser.cjs --output-type err packages/*/src; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); log "import rules FAILED"
fi

if [ "$#" -eq 0 ]; then
  log "mediasoup's own test suite against the installed worker"
  bash scripts/lib/mediasoup-suite.sh 2>&1 | tee "$OUT/mediasoup-suite.log"
  ms_rc=${PIPESTATUS[0]}
  # jest: "Tests:       1 failed, 201 passed, 202 total"
  line="$(grep -E '^Tests:' "$OUT/mediasoup-suite.log" | tail -1)"
  p=$(count '[0-9]+ passed' <(echo "$line")); f=$(count '[0-9]+ failed' <(echo "$line"))
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$ms_rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); log "mediasoup's suite exited $ms_rc"; fi
fi

if [ "$#" -gt 0 ]; then
  ts_files=("$@")
else
  mapfile -t ts_files < <(find test packages examples -name '*.test.ts' -not -path '*/node_modules/*' | sort)
fi
log "TypeScript tests: ${#ts_files[@]} files"
node --conditions=lectern-source --import tsx --test \
  --test-reporter=spec --test-concurrency="${LECTERN_TEST_CONCURRENCY:-1}" --test-timeout=900000 \
  "${ts_files[@]}" 2>&1 | tee "$OUT/ts-tests.log"
ts_rc=${PIPESTATUS[0]}
p=$(count 'ℹ pass [0-9]+' "$OUT/ts-tests.log"); f=$(count 'ℹ fail [0-9]+' "$OUT/ts-tests.log")
s=$(count 'ℹ skipped [0-9]+' "$OUT/ts-tests.log")
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
if [ "$ts_rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); log "node --test exited $ts_rc"; fi

if [ "${LECTERN_SKIP_PYTHON:-0}" != "1" ] && [ "$#" -eq 0 ]; then
  log "whisper-api tests (pytest)"
  (cd python/whisper-api && HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests) 2>&1 \
    | tee "$OUT/pytest.log"
  py_rc=${PIPESTATUS[0]}
  p=$(count '[0-9]+ passed' "$OUT/pytest.log"); f=$(count '[0-9]+ failed' "$OUT/pytest.log")
  e=$(count '[0-9]+ errors?' "$OUT/pytest.log"); s=$(count '[0-9]+ skipped' "$OUT/pytest.log")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${s:-0}))
  if [ "$py_rc" -ne 0 ] && [ $(( ${f:-0} + ${e:-0} )) -eq 0 ]; then failed=$((failed + 1)); log "pytest exited $py_rc"; fi
fi

log "done in $(( $(date +%s) - t0 )) s"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
