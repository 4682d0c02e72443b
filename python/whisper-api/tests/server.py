"""Running the real ``whisper-api`` CLI as a subprocess, and reading its memory from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPER_")}
    # tiny.en unless a test asks for another model (the default, base, is 2-3x slower).
    return {**env, "HF_HUB_OFFLINE": "1", "WHISPER_MODEL": "tiny.en", **extra}


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    tmp_dir: Path

    def memory_kib(self) -> dict[str, int]:
        """``VmRSS`` (now) and ``VmHWM`` (peak since start or the last ``reset_peak``), in KiB."""
        return read_memory(self.process.pid)

    def reset_peak(self) -> None:
        reset_peak(self.process.pid)

    def health(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/health", timeout=5)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


def read_memory(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> None:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0, own processes)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@contextmanager
def running_server(tmp_dir: Path, *args: str, host: str = "127.0.0.1", **env: str) -> Iterator[Server]:
    """Start ``python -m whisper_api`` with ``WHISPER_*`` from ``env`` only; stop it with SIGTERM.

    Asserts a clean shutdown: exit 0, the ready line, and the lifespan shutdown.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "whisper_api", "--host", host, "--port", str(port), *args],
        env=server_env(WHISPER_TMP_DIR=str(tmp_dir), **env),
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
    assert process.returncode == 0, stderr
    assert stdout.startswith(f"whisper-api ready on http://{host}:{port}"), stdout
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


def post_file(url: str, path: Path, timeout: float = 120, headers: dict[str, str] | None = None, **data: str) -> httpx.Response:
    with path.open("rb") as fh:
        return httpx.post(
            f"{url}/v1/transcribe",
            files={"file": (path.name, fh, "application/octet-stream")},
            data=data,
            headers=headers,
            timeout=timeout,
        )


def run_cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whisper_api", "--port", str(free_port()), *args],
        env=server_env(**env),
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )
