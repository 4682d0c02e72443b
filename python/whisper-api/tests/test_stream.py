"""Live captions (GET /v1/stream): real server process, real model (tiny.en), real speech, a real WebSocket client."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .server import Server, running_server
from .speech import REFERENCE_TEXT, synthesize, wav_duration, word_error_rate

TOKEN = "stream-test-token-0123456789"
FRAME_BYTES = 3200  # 100 ms of s16le at 16 kHz
MAX_STREAM_WER = 0.35
SHORT_TEXT = "Please send the meeting notes to the whole team."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("stream-uploads")) as server:
        yield server


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One stream at most, a token, a short idle timeout, and the multilingual base for streams only."""
    with running_server(
        tmp_path_factory.mktemp("stream-limited"),
        WHISPER_STREAM_MODEL="base",
        WHISPER_MAX_STREAMS="1",
        WHISPER_API_TOKEN=TOKEN,
        WHISPER_STREAM_IDLE_SECONDS="2",
    ) as server:
        yield server


@pytest.fixture(scope="module")
def short_pcm(audio_dir: Path) -> bytes:
    return pcm16(synthesize(SHORT_TEXT, audio_dir / "stream-short.wav"))


def pcm16(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        return wav.readframes(wav.getnframes())


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/v1/stream"


def open_stream(server: Server, token: str | None = None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return connect(ws_url(server), additional_headers=headers, proxy=None, compression=None, open_timeout=10)


def start_message(**fields: Any) -> str:
    return json.dumps({"type": "start", "sampleRate": 16000, "encoding": "s16le", "language": "en", **fields})


@dataclass
class Transcript:
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    # Seconds of audio sent (the sender's schedule) when each message arrived: how far captions trail.
    sent_at: list[float] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["type"] == kind]

    @property
    def final_text(self) -> str:
        return " ".join(message["text"] for message in self.of("final"))


def stream_audio(
    ws: ClientConnection, pcm: bytes, *, speed: float, offset: float = 0.0, timeout: float = 120, **start: Any
) -> Transcript:
    """Start, send ``pcm`` in 100 ms frames at ``speed`` x real time (from a thread), stop; collect until closed."""
    ws.send(start_message(offset=offset, **start))
    result = Transcript()
    result.messages.append(json.loads(ws.recv(timeout=10)))
    assert result.messages[0]["type"] == "ready", result.messages[0]

    def send() -> None:
        began = time.monotonic()
        try:
            for index, at in enumerate(range(0, len(pcm), FRAME_BYTES)):
                delay = began + index * 0.1 / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                ws.send(pcm[at : at + FRAME_BYTES])
            ws.send(json.dumps({"type": "stop"}))
        except ConnectionClosed:
            pass

    sender = threading.Thread(target=send, daemon=True)
    began = time.monotonic()
    sender.start()
    deadline = began + timeout
    try:
        while True:
            result.messages.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
            result.sent_at.append(min(len(pcm) / 32000, (time.monotonic() - began) * speed))
    except ConnectionClosed:
        pass
    sender.join(timeout=10)
    result.close_code = ws.close_code
    return result


def assert_finals_well_formed(result: Transcript, low: float, high: float) -> None:
    previous_end = low
    for final in result.of("final"):
        assert final["text"] and final["words"], final
        assert final["start"] >= previous_end, f"final overlaps or goes backwards: {final}"
        assert final["start"] <= final["end"] <= high, final
        assert final["text"] == " ".join(word["word"] for word in final["words"])
        for word in final["words"]:
            assert final["start"] <= word["start"] <= word["end"] <= final["end"], word
            assert 0.0 <= word["probability"] <= 1.0
        previous_end = final["end"]
    for partial in result.of("partial"):
        assert low <= partial["start"] <= partial["end"] <= high, partial


def expect_error(ws: ClientConnection, code: str, close_code: int) -> dict[str, Any]:
    """Reads up to the error message, then asserts the close code."""
    while True:
        message = json.loads(ws.recv(timeout=15))
        if message["type"] == "error":
            break
    assert message["code"] == code, message
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)
    assert ws.close_code == close_code
    return message


def streams(server: Server) -> dict[str, Any]:
    body = server.health()["streams"]
    assert isinstance(body, dict)
    return body


def test_health_reports_streams(server: Server) -> None:
    assert streams(server) == {"active": 0, "max": 2, "model": "tiny.en"}


def test_speech_becomes_partials_then_finals_on_the_callers_clock(
    server: Server, speech_wav: Path, record_property: Callable[[str, object], None]
) -> None:
    duration = wav_duration(speech_wav)
    started = time.monotonic()
    with open_stream(server) as ws:
        result = stream_audio(ws, pcm16(speech_wav), speed=2.0, offset=1000.0)
    elapsed = time.monotonic() - started
    assert result.messages[-1] == {"type": "done"} and result.close_code == 1000
    assert result.messages[0]["model"] == "tiny.en" and result.messages[0]["language"] == "en"
    assert not result.of("error")

    assert len(result.of("partial")) >= 5 and len(result.of("final")) >= 5
    # The words of the partials come back as finals: every final's first word was in an earlier partial.
    partial_words = {word.lower().strip(".,") for p in result.of("partial") for word in p["text"].split()}
    final_words = [w["word"].lower().strip(".,") for f in result.of("final") for w in f["words"]]
    assert sum(word in partial_words for word in final_words) >= 0.8 * len(final_words)
    assert_finals_well_formed(result, 1000.0, 1000.0 + duration + 0.5)
    assert result.of("status"), "expected status messages about every 2 s"

    wer = word_error_rate(REFERENCE_TEXT, result.final_text)
    record_property("stream_wer", wer)
    last = result.of("status")[-1]
    # Audio seconds between a final's last word and the moment it arrived (before the stop's flush).
    lags = [
        sent - (message["end"] - 1000.0)
        for message, sent in zip(result.messages[1:], result.sent_at)
        if message["type"] == "final" and sent < duration
    ]
    print(
        f"\nstream {duration:.1f}s at 2x: WER {wer:.3f}, {len(result.of('final'))} finals, {elapsed:.1f}s, "
        f"final lag (audio s) median {np.median(lags):.2f} max {max(lags):.2f}, last status {last}"
    )
    assert wer <= MAX_STREAM_WER, result.final_text


def test_silence_and_noise_produce_nothing(server: Server) -> None:
    rng = np.random.default_rng(7)
    silence = np.zeros(60 * 16000, dtype="<i2")
    noise = np.clip(rng.normal(0, 0.1, 60 * 16000) * 32767, -32768, 32767).astype("<i2")
    with open_stream(server) as ws:
        result = stream_audio(ws, silence.tobytes() + noise.tobytes(), speed=10.0)
    assert result.messages[-1] == {"type": "done"} and result.close_code == 1000
    assert result.of("final") == []
    assert [p for p in result.of("partial") if p["text"]] == []
    assert result.of("status")[-1]["audioSeconds"] >= 100


def test_stop_flushes_pending_speech(server: Server, short_pcm: bytes) -> None:
    with open_stream(server) as ws:
        # Sent faster than the server steps, then stop at once: little or nothing is final before the stop.
        result = stream_audio(ws, short_pcm, speed=20.0, offset=5.0, partials=False)
    assert result.messages[-1] == {"type": "done"} and result.close_code == 1000
    assert result.of("partial") == []
    assert word_error_rate(SHORT_TEXT, result.final_text) <= 0.2, result.final_text
    assert_finals_well_formed(result, 5.0, 5.0 + len(short_pcm) / 32000 + 0.5)


@pytest.mark.parametrize(
    ("first", "then", "code", "close_code"),
    [
        (b"\x00\x00", None, "bad_request", 1008),
        ("{not json", None, "bad_request", 1008),
        (json.dumps({"type": "stop"}), None, "bad_request", 1008),
        (start_message(sampleRate=44100), None, "unsupported_audio", 1008),
        (start_message(encoding="f32le"), None, "unsupported_audio", 1008),
        (start_message(language="ko"), None, "unsupported_language", 1008),
        (start_message(), b"\x00\x00\x00", "bad_frame", 1008),
        (start_message(), b"\x00" * (64 * 1024 + 2), "bad_frame", 1009),
        (start_message(), start_message(), "bad_request", 1008),
        (start_message(), json.dumps({"type": "pause"}), "bad_request", 1008),
    ],
    ids=[
        "audio-before-start",
        "bad-json",
        "stop-before-start",
        "sample-rate",
        "encoding",
        "language-on-english-model",
        "odd-frame",
        "oversized-frame",
        "second-start",
        "unknown-type",
    ],
)
def test_protocol_errors(
    server: Server, first: str | bytes, then: str | bytes | None, code: str, close_code: int
) -> None:
    with open_stream(server) as ws:
        ws.send(first)
        if then is not None:
            assert json.loads(ws.recv(timeout=10))["type"] == "ready"
            ws.send(then)
        expect_error(ws, code, close_code)
    # The server keeps serving.
    with open_stream(server) as ws:
        ws.send(start_message())
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
    wait_for_no_streams(server)


def wait_for_no_streams(server: Server, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while streams(server)["active"] != 0:
        assert time.monotonic() < deadline, "a closed stream still holds its slot"
        time.sleep(0.05)


def test_stream_needs_the_token(limited: Server) -> None:
    for headers in (None, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}):
        with pytest.raises(InvalidStatus) as info, connect(ws_url(limited), additional_headers=headers, proxy=None):
            pass
        assert info.value.response.status_code == 401
        assert json.loads(info.value.response.body or b"{}")["error"]["code"] == "unauthorized"
    with open_stream(limited, TOKEN) as ws:
        ws.send(start_message())
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        ws.send(json.dumps({"type": "stop"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "done"}
    wait_for_no_streams(limited)


def test_stream_limit_and_abrupt_disconnect(limited: Server, short_pcm: bytes) -> None:
    with open_stream(limited, TOKEN) as first:
        first.send(start_message())
        assert json.loads(first.recv(timeout=10))["type"] == "ready"
        first.send(bytes(FRAME_BYTES))  # audio keeps it from idling out (2 s here)
        assert streams(limited)["active"] == 1
        with open_stream(limited, TOKEN) as second:
            second.send(start_message())
            busy = expect_error(second, "busy", 1013)
            assert busy["retryAfterSeconds"] > 0
        first.send(bytes(FRAME_BYTES))
        first.send(json.dumps({"type": "stop"}))
        assert json.loads(first.recv(timeout=10)) == {"type": "done"}
    wait_for_no_streams(limited)

    # A client that vanishes mid-stream (no close frame) frees its slot at once.
    with open_stream(limited, TOKEN) as third:
        third.send(start_message())
        assert json.loads(third.recv(timeout=10))["type"] == "ready"
        for at in range(0, len(short_pcm), FRAME_BYTES):
            third.send(short_pcm[at : at + FRAME_BYTES])
        time.sleep(0.5)
        third.socket.shutdown(socket.SHUT_RDWR)
        third.socket.close()
        wait_for_no_streams(limited)
    with open_stream(limited, TOKEN) as fourth:
        fourth.send(start_message())
        assert json.loads(fourth.recv(timeout=10))["type"] == "ready"


def test_language_is_detected_on_a_multilingual_stream_model(limited: Server, short_pcm: bytes) -> None:
    health = limited.health()
    assert health["model"] == "tiny.en" and health["streams"] == {"active": 0, "max": 1, "model": "base"}
    with open_stream(limited, TOKEN) as ws:
        # Silence first: detection waits for speech, and the times still count from the first sample.
        result = stream_audio(ws, bytes(32000) + short_pcm, speed=4.0, offset=60.0, language=None)
    assert result.messages[0]["model"] == "base" and result.messages[0]["language"] is None
    assert result.messages[-1] == {"type": "done"} and result.close_code == 1000
    languages = result.of("language")
    assert len(languages) == 1 and languages[0]["language"] == "en" and languages[0]["probability"] > 0.5
    assert word_error_rate(SHORT_TEXT, result.final_text) <= 0.2, result.final_text
    assert_finals_well_formed(result, 61.0, 61.0 + len(short_pcm) / 32000 + 0.5)
    wait_for_no_streams(limited)


def test_idle_stream_is_closed(limited: Server) -> None:
    with open_stream(limited, TOKEN) as ws:
        ws.send(start_message())
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        started = time.monotonic()
        expect_error(ws, "idle_timeout", 1000)
        assert 1.5 <= time.monotonic() - started <= 6
    wait_for_no_streams(limited)
    assert httpx.get(f"{limited.url}/health").json()["streams"]["max"] == 1


def test_shutdown_closes_open_streams(tmp_path: Path, short_pcm: bytes) -> None:
    # running_server asserts the clean exit (0, lifespan shutdown complete) on the way out.
    with running_server(tmp_path) as srv, open_stream(srv) as ws:
        ws.send(start_message())
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        ws.send(short_pcm[:FRAME_BYTES * 10])
        srv.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=30)
        assert ws.close_code == 1012  # uvicorn: service restart
