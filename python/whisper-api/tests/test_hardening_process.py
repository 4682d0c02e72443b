"""The hardening, checked on the real server process over real sockets:
audio-length limit and memory, bad requests, disconnect cancellation, busy, bearer token."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .server import Server, post_file, run_cli, running_server
from .speech import long_low_bitrate_mp3, loop_wav

TOKEN = "test-token-0123456789abcdef"


def raw_request(url: str, head: bytes, body: bytes = b"", timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these bytes (httpx would normalise a malformed path) and read one response."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        header_block, _, rest = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(lines[0].split()[1]), headers, rest


def multipart_body(path: Path, boundary: str = "hardening-boundary") -> tuple[bytes, str]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- a server with the default settings ----------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("default-uploads")) as server:
        yield server


def test_three_hours_at_8_kbits_refused_in_under_a_second_without_memory_growth(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mp3 = long_low_bitrate_mp3(tmp_path_factory.mktemp("three-hours") / "three-hours.mp3", 180)
    assert 10_000_000 < mp3.stat().st_size < 12_000_000
    before = server.memory_kib()
    server.reset_peak()
    started = time.perf_counter()
    response = post_file(server.url, mp3)
    elapsed = time.perf_counter() - started
    after = server.memory_kib()

    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "audio_too_long"
    assert elapsed < 1.0, f"refused after {elapsed:.2f} s"
    peak_growth_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    rss_growth_mib = (after["VmRSS"] - before["VmRSS"]) / 1024
    print(f"\n3 h MP3 refused in {elapsed * 1000:.0f} ms; peak +{peak_growth_mib:.1f} MiB, RSS +{rss_growth_mib:.1f} MiB")
    assert peak_growth_mib < 64, f"peak RSS grew by {peak_growth_mib:.0f} MiB"
    assert rss_growth_mib < 32
    assert list(server.tmp_dir.iterdir()) == []


# Requests whose bytes are wrong in some way; every one gets a 4xx (JSON from the
# app; a plain-text 400 when the HTTP parser itself refuses the request).
BAD_REQUESTS: list[tuple[str, bytes, int, str | None]] = [
    ("bad percent-encoding", b"GET /v1/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
    ("invalid UTF-8 path", b"GET /%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
    ("NUL in path", b"GET /v1/transcribe%00 HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
    ("trailing slash", b"POST /v1/transcribe/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "not_found"),
    ("dot segments", b"GET /v1/../health/.. HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
    ("HEAD", b"HEAD /v1/transcribe HTTP/1.1\r\nHost: x\r\n\r\n", 405, None),
    ("GET upload route", b"GET /v1/transcribe?beam_size=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
    (
        "bad query, no body",
        b"POST /v1/transcribe?x=%E0%A4%A&&== HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 0\r\n\r\n",
        400,
        "invalid_multipart",
    ),
    (
        "non-latin content type",
        b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=\xe9\xff\r\n"
        b"Content-Length: 4\r\n\r\nabcd",
        400,
        "invalid_multipart",
    ),
    (
        "text body",
        b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        415,
        "unsupported_media_type",
    ),
    (
        "no content type",
        b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        415,
        "unsupported_media_type",
    ),
    ("bad Content-Length", b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400, None),
    ("huge header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n", 400, None),
    ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, 400, None),
]


@pytest.mark.parametrize(("head", "status", "code"), [r[1:] for r in BAD_REQUESTS], ids=[r[0] for r in BAD_REQUESTS])
def test_bad_requests_get_a_4xx(server: Server, head: bytes, status: int, code: str | None) -> None:
    got, headers, body = raw_request(server.url, head)
    assert got == status, body[:300]
    if code is not None:
        assert headers["content-type"] == "application/json"
        assert f'"code":"{code}"'.encode() in body
    assert server.health()["status"] == "ok"


def test_query_junk_on_health_is_ignored(server: Server) -> None:
    got, _, body = raw_request(server.url, b"GET /health?x=%ZZ&%E0%A4%A=1&= HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == 200, body


# --- a server that refuses to queue for more than 5 s -----------------------------


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("impatient-uploads"), "--max-wait-seconds", "5") as server:
        yield server


@pytest.fixture(scope="module")
def ten_minutes_of_speech(speech_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loop_wav(speech_wav, tmp_path_factory.mktemp("ten-minutes") / "speech-10min.wav", 600)


def wait_until(what: str, condition: object, timeout: float) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_busy_then_disconnect_frees_the_slot(impatient_server: Server, ten_minutes_of_speech: Path, short_wav: Path) -> None:
    server = impatient_server
    long_request = send_upload(server, ten_minutes_of_speech)
    try:
        wait_until("the long transcription to start", lambda: server.health()["running"] == 1, 30)

        # ~10 min of audio ahead (>= 40 s of work by the estimate): a new request would wait > 5 s.
        health = server.health()
        assert (health["running"], health["waiting"]) == (1, 0)
        assert float(health["expected_wait_seconds"]) > 5  # type: ignore[arg-type]
        started = time.perf_counter()
        refused = post_file(server.url, short_wav)
        assert time.perf_counter() - started < 2.0, "refused at once, not after waiting"
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "busy"
        assert int(refused.headers["retry-after"]) >= 1
        assert "would wait about" in refused.json()["error"]["message"]
    finally:
        long_request.close()  # the client goes away mid-transcription

    # Freed at the next segment (one 30 s chunk of audio is ~2 s of work), not in ~40 s.
    freed_after = wait_until("the slot to be freed", lambda: server.health()["running"] == 0, 12)
    print(f"\nslot freed {freed_after:.1f} s after the disconnect")
    health = server.health()
    assert (health["running"], health["waiting"], health["expected_wait_seconds"]) == (0, 0, 0)
    started = time.perf_counter()
    follow_up = post_file(server.url, short_wav)
    assert follow_up.status_code == 200, follow_up.text
    assert "meeting notes" in follow_up.json()["text"].lower()
    assert time.perf_counter() - started < 15
    wait_until("the spooled upload to be deleted", lambda: list(server.tmp_dir.iterdir()) == [], 5)


def send_upload(server: Server, path: Path) -> socket.socket:
    """Send a whole transcription request on a socket of its own and return it unread."""
    body, content_type = multipart_body(path)
    head = (
        f"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(head + body)
    return sock


def test_a_waiting_request_leaves_the_line_when_its_client_goes(
    server: Server, ten_minutes_of_speech: Path, short_wav: Path
) -> None:
    """Default settings (max wait 120 s): a short request is admitted behind a 10-minute one and waits."""
    running = send_upload(server, ten_minutes_of_speech)
    waiting: socket.socket | None = None
    try:
        wait_until("the long transcription to start", lambda: server.health()["running"] == 1, 30)
        waiting = send_upload(server, short_wav)
        wait_until("the second request to wait", lambda: server.health()["waiting"] == 1, 10)
        waiting.close()
        left_after = wait_until("the line to empty", lambda: server.health()["waiting"] == 0, 3)
        assert server.health()["running"] == 1, "the running one is unaffected"
        print(f"\nleft the line {left_after:.2f} s after the disconnect")
    finally:
        running.close()
        if waiting is not None:
            waiting.close()
    wait_until("the slot to be freed", lambda: server.health()["running"] == 0, 12)
    wait_until("the spooled uploads to be deleted", lambda: list(server.tmp_dir.iterdir()) == [], 5)


# --- bearer token ------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Listening on every interface is allowed once a token is set.
    with running_server(tmp_path_factory.mktemp("token-uploads"), host="0.0.0.0", WHISPER_API_TOKEN=TOKEN) as server:
        yield server


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        (f"Bearer {TOKEN}x", 'Bearer error="invalid_token"'),
        (f"Bearer {TOKEN[:-1]}", 'Bearer error="invalid_token"'),
        (f"Basic {TOKEN}", 'Bearer error="invalid_token"'),
        ("Bearer", 'Bearer error="invalid_token"'),
    ],
    ids=["missing", "longer", "shorter", "other-scheme", "empty"],
)
def test_token_required(token_server: Server, short_wav: Path, authorization: str | None, challenge: str) -> None:
    headers = {"authorization": authorization} if authorization is not None else None
    for response in (
        post_file(token_server.url, short_wav, headers=headers),
        httpx.get(f"{token_server.url}/openapi.json", headers=headers),
        httpx.get(f"{token_server.url}/no/such/path", headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == challenge
    assert list(token_server.tmp_dir.iterdir()) == []


def test_token_accepted_and_health_open(token_server: Server, short_wav: Path) -> None:
    assert token_server.health()["status"] == "ok"  # no token
    ok = post_file(token_server.url, short_wav, headers={"Authorization": f"bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert "meeting notes" in ok.json()["text"].lower()
    assert httpx.get(f"{token_server.url}/nothing", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_unauthenticated_upload_is_refused_before_the_body_is_read(token_server: Server) -> None:
    """The answer comes after the headers: a client still sending 50 MB gets its 401."""
    head = (
        b"POST /v1/transcribe HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 52428800\r\n\r\n"
    )
    started = time.perf_counter()
    status, headers, body = raw_request(token_server.url, head, b"--b\r\n")
    assert status == 401, body
    assert headers["www-authenticate"] == "Bearer"
    assert time.perf_counter() - started < 2.0
    assert list(token_server.tmp_dir.iterdir()) == []


# --- startup --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.org"])
def test_refuses_a_non_loopback_address_without_a_token(host: str) -> None:
    result = run_cli("--host", host, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"refusing to listen on '{host}' without authentication" in result.stderr
    assert "WHISPER_API_TOKEN" in result.stderr
    assert result.stdout == ""


def test_a_weak_token_is_refused_without_echoing_it() -> None:
    result = run_cli(WHISPER_API_TOKEN="short secret", timeout=30)
    assert result.returncode == 2
    assert "WHISPER_API_TOKEN" in result.stderr and "at least 16" in result.stderr
    assert "short secret" not in result.stderr
