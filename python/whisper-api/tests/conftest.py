from __future__ import annotations

import os

# Before anything imports huggingface_hub: the tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from whisper_api.app import create_app
from whisper_api.settings import Settings

from .speech import REFERENCE_TEXT, convert, synthesize, wav_duration


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def speech_wav(audio_dir: Path) -> Path:
    """>= 30 s of flite speech of REFERENCE_TEXT (16 kHz mono WAV)."""
    path = synthesize(REFERENCE_TEXT, audio_dir / "speech.wav")
    assert wav_duration(path) >= 30.0, "reference speech must be at least 30 s long"
    return path


@pytest.fixture(scope="session")
def speech_mp3(speech_wav: Path) -> Path:
    return convert(speech_wav, speech_wav.with_suffix(".mp3"), "-codec:a", "libmp3lame", "-b:a", "64k")


@pytest.fixture(scope="session")
def short_wav(audio_dir: Path) -> Path:
    """A couple of seconds of speech, for tests that only check plumbing."""
    return synthesize("Please send the meeting notes to the whole team.", audio_dir / "short.wav")


@pytest.fixture(scope="session")
def upload_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spool directory of the shared app, so tests can check nothing is left behind."""
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="session")
def settings(upload_tmp: Path) -> Settings:
    # Start from the documented defaults, not the developer's environment; English
    # tests run on tiny.en (2-3x faster than the default base: CI time), the
    # multilingual ones (test_multilingual.py) on base.
    return Settings.from_env({"WHISPER_MODEL": "tiny.en"}).with_overrides(tmp_dir=str(upload_tmp), cpu_threads=2)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    """One app, one model load, shared by the whole session (lifespan runs on enter)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
