"""Audio-length limit, windowed transcription and admission control, in-process (real model, real files)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from whisper_api.app import create_app
from whisper_api.audio import SAMPLE_RATE, WINDOW_SECONDS, probe, windows
from whisper_api.runner import Runner
from whisper_api.settings import Settings

from .speech import (
    MAX_WER,
    REFERENCE_TEXT,
    long_low_bitrate_mp3,
    loop_wav,
    understated_mp3,
    wav_duration,
    word_error_rate,
)


def post(client: TestClient, path: Path, **options: str) -> Any:
    with path.open("rb") as fh:
        return client.post("/v1/transcribe", files={"file": (path.name, fh)}, data=options)


# --- the limit -------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_minute_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app that accepts at most one minute of audio."""
    settings = Settings.from_env(
        {"WHISPER_MODEL": "tiny.en", "WHISPER_MAX_AUDIO_MINUTES": "1", "WHISPER_TMP_DIR": str(tmp_path_factory.mktemp("one-minute"))}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_declared_length_over_the_limit_is_refused_before_decoding(
    client: TestClient, tmp_path: Path, upload_tmp: Path
) -> None:
    three_hours = long_low_bitrate_mp3(tmp_path / "three-hours.mp3", 180)
    started = time.perf_counter()
    response = post(client, three_hours)
    elapsed = time.perf_counter() - started
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("audio_too_long", "file")
    assert "180.4 min" in error["message"] and "limit is 30 min" in error["message"]
    assert elapsed < 2.0, f"refused after {elapsed:.2f} s"
    assert list(upload_tmp.iterdir()) == []


def test_understated_length_is_refused_while_decoding(one_minute_client: TestClient, tmp_path: Path) -> None:
    lying = understated_mp3(tmp_path / "lying.mp3", real_seconds=240)
    declared = probe(lying).duration
    assert declared is not None and declared < 30, f"the container should understate the length, says {declared}"
    started = time.perf_counter()
    response = post(one_minute_client, lying, vad_filter="false", beam_size="1")
    elapsed = time.perf_counter() - started
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "audio_too_long"
    assert "longer than that" in error["message"] and "limit is 1 min" in error["message"]
    # Stops where the limit is passed: one minute transcribed (~4 s), never the four.
    assert elapsed < 30, f"took {elapsed:.1f} s"
    health = one_minute_client.get("/health").json()
    assert (health["running"], health["waiting"]) == (0, 0)


def test_audio_within_the_limit_is_transcribed(one_minute_client: TestClient, short_wav: Path) -> None:
    response = post(one_minute_client, short_wav)
    assert response.status_code == 200, response.text
    assert "meeting notes" in response.json()["text"].lower()


@pytest.mark.parametrize(("under_by", "status"), [(0.5, 200), (1.5, 413)])
def test_a_second_of_grace_for_padding(short_wav: Path, tmp_path: Path, under_by: float, status: int) -> None:
    """A file up to 1 s over the limit passes (encoder padding makes a 5-minute batch a little longer)."""
    seconds = wav_duration(short_wav)
    settings = Settings.from_env(
        {"WHISPER_MODEL": "tiny.en", "WHISPER_MAX_AUDIO_MINUTES": str((seconds - under_by) / 60), "WHISPER_TMP_DIR": str(tmp_path)}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = post(client, short_wav)
    assert response.status_code == status, response.text


# --- windows ---------------------------------------------------------------------


def test_windows_cover_the_audio_and_cut_in_silence() -> None:
    rng = np.random.default_rng(3)
    seconds = 200
    audio = (rng.standard_normal(seconds * SAMPLE_RATE) * 0.2).astype(np.float32)
    # Half a second of silence inside the cut search range of the first window, and one outside it.
    quiet = slice(int(55.0 * SAMPLE_RATE), int(55.5 * SAMPLE_RATE))
    audio[quiet] = 0.0
    audio[int(20 * SAMPLE_RATE) : int(21 * SAMPLE_RATE)] = 0.0
    chunks = np.array_split(audio, seconds * 10)  # like decoder frames

    result = list(windows(chunks))
    assert np.array_equal(np.concatenate([w for _, w in result]), audio)
    offsets = [offset for offset, _ in result]
    assert offsets == [0, *np.cumsum([w.size for _, w in result])[:-1].tolist()]
    assert quiet.start <= result[1][0] <= quiet.stop, "the first cut falls in the silence near 55 s"
    for _, window in result[:-1]:
        assert window.size <= WINDOW_SECONDS * SAMPLE_RATE
    assert result[-1][1].size >= 10 * SAMPLE_RATE, "no tiny tail window"
    assert list(windows([audio[: 30 * SAMPLE_RATE]])) == [(0, pytest.approx(audio[: 30 * SAMPLE_RATE]))]


@pytest.fixture(scope="module")
def three_minutes_of_speech(speech_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loop_wav(speech_wav, tmp_path_factory.mktemp("long") / "speech-3min.wav", 150)


def test_long_audio_is_transcribed_across_windows(client: TestClient, three_minutes_of_speech: Path) -> None:
    with av.open(str(three_minutes_of_speech)) as container:
        seconds = container.duration / av.time_base
    repeats = round(seconds / 43)
    response = post(client, three_minutes_of_speech, beam_size="1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration"] == pytest.approx(seconds, abs=0.05)
    previous_end = 0.0
    for index, segment in enumerate(body["segments"]):
        assert segment["id"] == index
        assert previous_end - 0.01 <= segment["start"] <= segment["end"] <= body["duration"]
        previous_end = segment["end"]
    assert body["segments"][-1]["end"] > seconds - 30, "the last window's segments are on the file's timeline"
    wer = word_error_rate(" ".join([REFERENCE_TEXT] * repeats), body["text"])
    print(f"\n{seconds:.0f} s in {seconds / WINDOW_SECONDS:.1f} windows: WER {wer:.3f}")
    assert wer <= MAX_WER, body["text"]


# --- admission -------------------------------------------------------------------


def test_expected_wait_and_admission(client: TestClient) -> None:
    """The scheduling arithmetic, on the real runner with a hand-driven clock."""
    now = [1000.0]
    runner = Runner(
        client.app.state.runner.transcriber,  # type: ignore[attr-defined]
        max_concurrency=2,
        max_queue=3,
        max_wait_seconds=30,
        initial_rtf=0.1,
        clock=lambda: now[0],
    )
    assert runner.expected_wait() == 0
    a = runner.admit(300)  # 30 s of work
    b = runner.admit(100)  # 10 s
    assert (runner.running, runner.waiting) == (0, 2)
    a.started_at = b.started_at = now[0]
    assert (runner.running, runner.waiting) == (2, 0)
    assert runner.expected_wait() == pytest.approx(10)
    now[0] += 4
    assert runner.expected_wait() == pytest.approx(6)
    c = runner.admit(400)  # takes b's slot at +6 s, needs 40 s
    assert runner.expected_wait() == pytest.approx(26)  # a's slot frees at 26 s
    d = runner.admit(50)  # a's slot at 26 s, 5 s
    assert runner.expected_wait() == pytest.approx(31)
    with pytest.raises(Exception) as refused:
        runner.admit(10)
    assert refused.value.status_code == 503  # type: ignore[attr-defined]
    assert refused.value.code == "busy"  # type: ignore[attr-defined]
    assert refused.value.headers == {"Retry-After": "1"}  # type: ignore[attr-defined]
    now[0] += 5  # 26 s expected: admitted
    e = runner.admit(10)
    assert runner.waiting == 3
    with pytest.raises(Exception) as full:
        runner.admit(1)  # 2 running + max_queue waiting
    assert "3 requests are already waiting" in str(full.value)
    assert full.value.headers == {"Retry-After": "1"}  # type: ignore[attr-defined]  # b is due to end
    assert {a, b, c, d, e} and runner.rtf == 0.1
