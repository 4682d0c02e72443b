"""The multilingual default model (base): Korean with a pinned language, auto-detection, /health."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from whisper_api.app import create_app
from whisper_api.settings import Settings

from .server import running_server
from .speech import (
    KOREAN_TEXT,
    MAX_WER,
    REFERENCE_TEXT,
    character_error_rate,
    convert,
    hangul_share,
    require_tool,
    synthesize_korean,
    word_error_rate,
)
from .test_transcribe import post_audio

# espeak's robotic Korean: the notes measured CER ~0.16-0.2 with language="ko"
# and temperature 0; anything above this bound means Korean is not understood.
MAX_KOREAN_CER = 0.45


@pytest.fixture(scope="module")
def base_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The default settings (model base), as the product runs them."""
    settings = Settings.from_env({}).with_overrides(tmp_dir=str(tmp_path_factory.mktemp("base-uploads")))
    assert settings.model_name == "base"
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def korean_wav(audio_dir: Path) -> Path:
    return synthesize_korean(KOREAN_TEXT, audio_dir / "korean.wav")


def test_health_names_the_multilingual_model(base_client: TestClient, client: TestClient) -> None:
    body = base_client.get("/health").json()
    assert body["model"] == "base" and body["multilingual"] is True
    assert body["model_path"].endswith("base")
    english = client.get("/health").json()
    assert english["model"] == "tiny.en" and english["multilingual"] is False


def test_korean_with_language_ko(
    base_client: TestClient, korean_wav: Path, record_property: Callable[[str, object], None]
) -> None:
    response = post_audio(base_client, korean_wav, language="ko", temperature="0")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == "ko"
    text = body["text"]
    cer = character_error_rate(KOREAN_TEXT, text)
    record_property("cer_ko", cer)
    print(f"\nKorean: CER {cer:.3f}: {text}")
    assert hangul_share(text) >= 0.9, text
    assert "안녕하세요" in text and "감사합" in text, text
    assert cer <= MAX_KOREAN_CER, text


def test_korean_is_refused_by_the_english_model(client: TestClient, korean_wav: Path) -> None:
    response = post_audio(client, korean_wav, language="ko")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_language" and "tiny.en" in error["message"]


def test_auto_detection_picks_english_in_a_mixed_batch(
    base_client: TestClient, speech_wav: Path, korean_wav: Path, audio_dir: Path
) -> None:
    """English first, then Korean: the first window with speech decides, for the whole file."""
    korean_16k = convert(korean_wav, audio_dir / "korean-16k.wav", "-ar", "16000", "-ac", "1")
    mixed = audio_dir / "mixed.wav"
    subprocess.run([require_tool("sox"), str(speech_wav), str(korean_16k), str(mixed)], check=True)
    response = post_audio(base_client, mixed, temperature="0", beam_size="1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == "en", body["language"]
    assert body["language_probability"] > 0.5
    wer = word_error_rate(REFERENCE_TEXT, body["text"])
    print(f"\nmixed, auto: language {body['language']} ({body['language_probability']}), English WER {wer:.3f}")
    assert wer <= MAX_WER + 0.1, body["text"]


def test_default_server_process_loads_base(tmp_path: Path) -> None:
    """The CLI without WHISPER_MODEL serves the default model and says so."""
    with running_server(tmp_path, WHISPER_MODEL="") as server:
        health = server.health()
        assert health["model"] == "base" and health["multilingual"] is True
