"""The real CLI entry point as a separate process, over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .speech import MAX_WER, REFERENCE_TEXT, word_error_rate

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPER_")}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    tmp_dir: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    tmp_dir = tmp_path_factory.mktemp("server-uploads")
    # No queue: a second request while one runs must get 503 immediately.
    env = server_env(WHISPER_MAX_QUEUE="0", WHISPER_TMP_DIR=str(tmp_dir))
    process = subprocess.Popen(
        [sys.executable, "-m", "whisper_api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, url)
        yield Server(process, url, tmp_dir)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"server did not stop on SIGTERM\n{stderr}")
    # Clean shutdown: exit 0, the ready line printed, and lifespan shutdown ran.
    assert process.returncode == 0, stderr
    assert stdout.startswith(f"whisper-api ready on {url}"), stdout
    assert "Application shutdown complete" in stderr


def wait_healthy(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("server did not become healthy in time")


def post_file(url: str, path: Path, **data: str) -> httpx.Response:
    with path.open("rb") as fh:
        return httpx.post(f"{url}/v1/transcribe", files={"file": (path.name, fh, "audio/wav")}, data=data, timeout=120)


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


def run_cli(timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whisper_api", "--port", str(free_port())],
        env=server_env(**env),
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


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
