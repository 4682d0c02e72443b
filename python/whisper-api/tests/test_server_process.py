"""The real CLI entry point as a separate process, over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server import Server, post_file, run_cli, running_server
from .speech import MAX_WER, REFERENCE_TEXT, word_error_rate


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No queue: a second request while one runs must get 503 immediately.
    with running_server(tmp_path_factory.mktemp("server-uploads"), WHISPER_MAX_QUEUE="0") as server:
        yield server


def test_transcribe_over_http(server: Server, speech_wav: Path) -> None:
    response = post_file(server.url, speech_wav)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == "en" and body["duration"] > 30
    assert word_error_rate(REFERENCE_TEXT, body["text"]) <= MAX_WER
    assert list(server.tmp_dir.iterdir()) == []


def test_bad_input_over_http_keeps_server_healthy(server: Server) -> None:
    response = httpx.post(f"{server.url}/v1/transcribe", files={"file": ("notes.txt", b"not audio at all")})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_audio"
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"


def test_busy_server_answers_503(server: Server, speech_wav: Path, short_wav: Path) -> None:
    first: dict[str, httpx.Response] = {}
    worker = threading.Thread(target=lambda: first.setdefault("response", post_file(server.url, speech_wav)))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/health").json()["running"] == 0:
            assert time.monotonic() < deadline, "first transcription never started"
            time.sleep(0.02)
        second = post_file(server.url, short_wav)
        assert second.status_code == 503, second.text
        assert second.json()["error"]["code"] == "busy"
        assert second.headers["retry-after"]
    finally:
        worker.join(timeout=120)
    assert first["response"].status_code == 200
    assert list(server.tmp_dir.iterdir()) == []


def test_bad_configuration_exits_with_clear_message() -> None:
    result = run_cli(WHISPER_BEAM_SIZE="99", WHISPER_DEVICE="gpu")
    assert result.returncode == 2
    assert "WHISPER_BEAM_SIZE='99'" in result.stderr and "WHISPER_DEVICE='gpu'" in result.stderr


def test_unloadable_model_fails_startup(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"definitely not a CTranslate2 model")
    result = run_cli(WHISPER_MODEL=str(tmp_path))
    assert result.returncode == 3
    assert "cannot load Whisper model" in result.stderr
    assert result.stdout == ""
