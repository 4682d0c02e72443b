"""Bad input gets a 4xx JSON error with a stable code, and leaves no temp file behind."""

from __future__ import annotations

import random
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from whisper_api.app import create_app
from whisper_api.settings import Settings

from .speech import require_tool

BOUNDARY = "whisper-api-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str] | None = None, files: dict[str, bytes] | None = None) -> bytes:
    """Hand-built body, for shapes httpx will not produce (no file at all, duplicates...)."""
    parts: list[bytes] = []
    for name, value in (fields or {}).items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, content in (files or {}).items():
        header = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name.split("#")[0]}"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(header.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def assert_error(response: Any, status: int, code: str, field: str | None = None, text: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error.get("field") == field
    assert text.lower() in error["message"].lower()


@pytest.fixture(autouse=True)
def stays_healthy_and_clean(client: TestClient, upload_tmp: Path) -> Iterator[None]:
    yield
    assert client.get("/health").status_code == 200
    assert list(upload_tmp.iterdir()) == [], "temp upload files were left behind"


def post_bytes(client: TestClient, content: bytes, **options: str) -> Any:
    return client.post("/v1/transcribe", files={"file": ("upload.bin", content)}, data=options)


# --- not audio -------------------------------------------------------------------


def silent_video(tmp_path: Path) -> bytes:
    out = tmp_path / "video.mp4"
    subprocess.run(
        [require_tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc=duration=1:size=64x64:rate=5", "-c:v", "mpeg4", str(out)],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


def header_only_wav(tmp_path: Path) -> bytes:
    out = tmp_path / "empty.wav"
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
    return out.read_bytes()


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda _: random.Random(1234).randbytes(64 * 1024), "could not be decoded"),
        (lambda _: b"Minutes of the meeting: nothing to report.\n" * 50, "could not be decoded"),
        (silent_video, "no audio stream"),
        (header_only_wav, "no audio samples"),
    ],
    ids=["random-bytes", "text-file", "video-without-audio", "wav-without-samples"],
)
def test_not_audio(client: TestClient, tmp_path: Path, make: Any, text: str) -> None:
    assert_error(post_bytes(client, make(tmp_path)), 400, "invalid_audio", "file", text)


def test_empty_file(client: TestClient) -> None:
    assert_error(post_bytes(client, b""), 400, "empty_file", "file", "empty")


def test_missing_file_field(client: TestClient) -> None:
    response = client.post(
        "/v1/transcribe", content=multipart({"beam_size": "2"}), headers={"content-type": CONTENT_TYPE}
    )
    assert_error(response, 422, "missing_file", "file", "'file' is required")


def test_file_under_another_name(client: TestClient, short_wav: Path) -> None:
    response = client.post("/v1/transcribe", files={"audio": short_wav.read_bytes()})
    assert_error(response, 422, "invalid_option", "audio", "send audio as 'file'")


def test_two_files(client: TestClient, short_wav: Path) -> None:
    body = multipart(files={"file": short_wav.read_bytes(), "file#2": short_wav.read_bytes()})
    response = client.post("/v1/transcribe", content=body, headers={"content-type": CONTENT_TYPE})
    assert_error(response, 400, "invalid_multipart", "file", "only one")


# --- bad options -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("beam_size", "0", "greater than or equal to 1"),
        ("beam_size", "11", "less than or equal to 10"),
        ("beam_size", "abc", "valid integer"),
        ("beam_size", "2.5", "valid integer"),
        ("vad_filter", "maybe", "valid boolean"),
        ("word_timestamps", "perhaps", "valid boolean"),
        ("temperature", "2", "less than or equal to 1"),
        ("language", "xx", "unknown language code"),
        ("colour", "blue", "unknown form field"),
    ],
)
def test_bad_option(client: TestClient, short_wav: Path, name: str, value: str, text: str) -> None:
    response = post_bytes(client, short_wav.read_bytes(), **{name: value})
    assert_error(response, 422, "invalid_option", name, text)
    assert name in response.json()["error"]["message"]


def test_non_english_language_on_english_model(client: TestClient, short_wav: Path) -> None:
    response = post_bytes(client, short_wav.read_bytes(), language="de")
    assert_error(response, 400, "unsupported_language", "language", "english-only")


# --- malformed requests ----------------------------------------------------------


def test_not_multipart(client: TestClient) -> None:
    assert_error(client.post("/v1/transcribe", json={"file": "x"}), 415, "unsupported_media_type", None, "multipart")


def test_truncated_multipart(client: TestClient, short_wav: Path) -> None:
    body = multipart(files={"file": short_wav.read_bytes()})[:-200]
    response = client.post("/v1/transcribe", content=body, headers={"content-type": CONTENT_TYPE})
    assert_error(response, 400, "invalid_multipart", None, "incomplete")


def test_missing_boundary(client: TestClient) -> None:
    response = client.post("/v1/transcribe", content=b"x", headers={"content-type": "multipart/form-data"})
    assert_error(response, 400, "invalid_multipart", None, "boundary")


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.get("/v1/transcribe"), 405, "method_not_allowed")


# --- size limit ------------------------------------------------------------------

LIMIT_MB = 0.2


@pytest.fixture(scope="module")
def small_limit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("small-uploads")


@pytest.fixture(scope="module")
def small_client(small_limit_dir: Path) -> Iterator[TestClient]:
    """A second app instance configured through the environment with a tiny limit."""
    settings = Settings.from_env(
        {"WHISPER_MODEL": "tiny.en", "WHISPER_MAX_UPLOAD_MB": str(LIMIT_MB), "WHISPER_TMP_DIR": str(small_limit_dir), "WHISPER_BEAM_SIZE": "1"}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_too_large_is_rejected_while_streaming(
    small_client: TestClient, small_limit_dir: Path, speech_wav: Path
) -> None:
    content = speech_wav.read_bytes()
    assert len(content) > LIMIT_MB * 1024 * 1024
    assert_error(post_bytes(small_client, content), 413, "file_too_large", "file", "0.2 MB")
    assert list(small_limit_dir.iterdir()) == []


def test_too_large_without_content_length(small_client: TestClient, small_limit_dir: Path, speech_wav: Path) -> None:
    body = multipart(files={"file": speech_wav.read_bytes()})

    def chunks() -> Iterator[bytes]:  # an iterator makes httpx send chunked, no Content-Length
        for start in range(0, len(body), 32 * 1024):
            yield body[start : start + 32 * 1024]

    response = small_client.post("/v1/transcribe", content=chunks(), headers={"content-type": CONTENT_TYPE})
    assert_error(response, 413, "file_too_large", "file")
    assert list(small_limit_dir.iterdir()) == []


def test_too_large_declared_content_length(small_client: TestClient) -> None:
    body = multipart(files={"file": bytes(4 * 1024 * 1024)})
    response = small_client.post("/v1/transcribe", content=body, headers={"content-type": CONTENT_TYPE})
    assert_error(response, 413, "file_too_large", "file", "request body exceeds")


def test_under_the_limit_is_accepted(small_client: TestClient, small_limit_dir: Path, short_wav: Path) -> None:
    assert short_wav.stat().st_size < LIMIT_MB * 1024 * 1024
    response = post_bytes(small_client, short_wav.read_bytes())
    assert response.status_code == 200, response.text
    assert "meeting notes" in response.json()["text"].lower()
    assert list(small_limit_dir.iterdir()) == []
    assert small_client.get("/health").status_code == 200


# --- malformed requests, continued -------------------------------------------------


def test_part_headers_are_bounded(client: TestClient) -> None:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        + "".join(f"X-Padding-{i}: {'a' * 3000}\r\n" for i in range(3))  # each under python-multipart's own limit
        + f"\r\nabc\r\n--{BOUNDARY}--\r\n"
    ).encode()
    response = client.post("/v1/transcribe", content=body, headers={"content-type": CONTENT_TYPE})
    assert_error(response, 400, "invalid_multipart", None, "part headers exceed")


@pytest.mark.parametrize("path", ["/v1/transcribe/", "/v1/%E0%A4%A", "/%ff", "/health/"])
def test_odd_paths_are_404(client: TestClient, path: str) -> None:
    assert_error(client.post(path), 404, "not_found")


def test_mutated_multipart_bodies_never_get_a_5xx(client: TestClient) -> None:
    """Random byte edits of a valid form: every answer is a 4xx with a stable code."""
    rng = random.Random(20261130)
    valid = multipart({"beam_size": "2"}, {"file": b"these are not audio bytes" * 4})
    inserts = [b"\r\n", b"--", b'"', b";", b"\xff\xfe", b":", b"=", b"\x00", BOUNDARY.encode()]
    codes: dict[str, int] = {}
    for _ in range(200):
        body = bytearray(valid)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(body))
            operation = rng.random()
            if operation < 0.3:
                del body[at : at + rng.randint(1, 8)]
            elif operation < 0.6:
                body[at:at] = rng.choice(inserts)
            else:
                body[at] = rng.randrange(256)
        response = client.post("/v1/transcribe", content=bytes(body), headers={"content-type": CONTENT_TYPE})
        assert 400 <= response.status_code < 500, (bytes(body), response.text)
        code = response.json()["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    assert set(codes) <= {"invalid_multipart", "invalid_audio", "invalid_option", "missing_file", "empty_file"}
    assert codes.get("invalid_multipart", 0) > 50 and codes.get("invalid_audio", 0) > 10, codes
