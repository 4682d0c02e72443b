"""Real model, real (synthesised) speech, through the FastAPI app in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .speech import MAX_WER, REFERENCE_TEXT, wav_duration, word_error_rate


def post_audio(client: TestClient, path: Path, **options: str) -> Any:
    with path.open("rb") as fh:
        return client.post("/v1/transcribe", files={"file": (path.name, fh)}, data=options)


def assert_segments_monotonic(segments: list[dict[str, Any]], duration: float) -> None:
    assert segments, "expected at least one segment"
    previous_end = 0.0
    for index, segment in enumerate(segments):
        assert segment["id"] == index
        assert 0.0 <= segment["start"] <= segment["end"] <= duration
        assert segment["start"] >= previous_end - 0.01, "segments overlap or go backwards"
        previous_end = segment["end"]


def test_health_reports_loaded_model(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"] == "tiny.en" and body["multilingual"] is False
    assert body["model_path"].endswith("model") and body["device"] == "cpu" and body["compute_type"] == "int8"
    assert body["running"] == 0 and body["waiting"] == 0


def test_wav_transcription_is_accurate(
    client: TestClient, speech_wav: Path, record_property: Callable[[str, object], None]
) -> None:
    response = post_audio(client, speech_wav)
    assert response.status_code == 200, response.text
    body = response.json()

    duration = wav_duration(speech_wav)
    assert body["language"] == "en"
    assert body["duration"] == pytest.approx(duration, abs=0.05)
    assert body["processing_seconds"] > 0
    assert_segments_monotonic(body["segments"], body["duration"])
    assert all("words" not in segment for segment in body["segments"])
    assert body["text"] == " ".join(segment["text"] for segment in body["segments"])

    wer = word_error_rate(REFERENCE_TEXT, body["text"])
    record_property("wer_wav", wer)
    print(f"\nWAV {duration:.1f}s: WER {wer:.3f}, processing {body['processing_seconds']:.2f}s")
    assert wer <= MAX_WER, body["text"]


def test_mp3_transcription_is_accurate(client: TestClient, speech_mp3: Path, speech_wav: Path) -> None:
    response = post_audio(client, speech_mp3)
    assert response.status_code == 200, response.text
    body = response.json()
    # MP3 adds encoder padding, so the duration is only roughly the WAV's.
    assert body["duration"] == pytest.approx(wav_duration(speech_wav), abs=0.2)
    assert_segments_monotonic(body["segments"], body["duration"])
    wer = word_error_rate(REFERENCE_TEXT, body["text"])
    print(f"\nMP3: WER {wer:.3f}")
    assert wer <= MAX_WER, body["text"]


def test_word_timestamps(client: TestClient, speech_wav: Path) -> None:
    response = post_audio(client, speech_wav, word_timestamps="true", vad_filter="false", beam_size="1")
    assert response.status_code == 200, response.text
    body = response.json()
    duration = body["duration"]
    assert_segments_monotonic(body["segments"], duration)

    words = [word for segment in body["segments"] for word in segment["words"]]
    assert len(words) >= 100
    previous_start = 0.0
    for word in words:
        assert word["word"].strip()
        assert 0.0 <= word["start"] <= word["end"] <= duration
        assert word["start"] >= previous_start, "word timestamps go backwards"
        assert 0.0 <= word["probability"] <= 1.0
        previous_start = word["start"]
    for segment in body["segments"]:
        for word in segment["words"]:
            assert segment["start"] - 0.05 <= word["start"] <= segment["end"] + 0.05

    # The words alone must still spell out the transcript.
    assert word_error_rate(REFERENCE_TEXT, " ".join(w["word"] for w in words)) <= MAX_WER


def test_explicit_options_are_accepted(client: TestClient, short_wav: Path) -> None:
    response = post_audio(
        client,
        short_wav,
        language="EN",
        beam_size="1",
        vad_filter="off",
        temperature="0",
        initial_prompt="Meeting notes.",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == "en"
    assert word_error_rate("Please send the meeting notes to the whole team.", body["text"]) <= MAX_WER


def test_empty_optional_fields_mean_default(client: TestClient, short_wav: Path) -> None:
    response = post_audio(client, short_wav, language="", beam_size="", initial_prompt="")
    assert response.status_code == 200, response.text


def test_openapi_documents_the_upload(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/transcribe"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["file"]["format"] == "binary"
    assert "beam_size" in body["schema"]["properties"]
