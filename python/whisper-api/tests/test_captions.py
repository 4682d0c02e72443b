"""The live-caption policy's pure parts, without a model (the real thing is in test_stream.py)."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import pytest

from whisper_api.captions import Captioner, Word, _unloop, _without_unsure_tail, normalise
from whisper_api.errors import ErrorCode
from whisper_api.stream import StreamError, parse_start


def words(text: str, probability: float = 0.9) -> list[Word]:
    return [Word(token, index * 0.5, index * 0.5 + 0.4, probability) for index, token in enumerate(text.split())]


def texts(items: list[Word]) -> str:
    return " ".join(word.text for word in items)


def silent_model() -> Any:
    model = MagicMock()
    model.model.is_multilingual = False
    model.transcribe.side_effect = AssertionError("silence must not be transcribed")
    return model


def test_words_compare_without_case_and_punctuation() -> None:
    assert normalise("Hello,") == normalise("hello") == "hello"
    assert normalise("don't") == "dont"


def test_loops_are_cut_where_they_start() -> None:
    assert texts(_unloop(words("a b c c c c d"))) == "a b c"
    assert texts(_unloop(words("we said b c b c b c again"))) == "we said b c"
    assert texts(_unloop(words("no no no that is fine"))) == "no no no that is fine"


def test_unconfirmed_commits_drop_an_unsure_tail() -> None:
    hypothesis = words("told us that") + [Word("the", 2, 2.1, 0.14), Word("mobile", 2.1, 2.5, 0.0005)]
    assert texts(_without_unsure_tail(hypothesis)) == "told us that"


def test_silence_is_never_transcribed_and_memory_stays_bounded() -> None:
    captioner = Captioner(silent_model(), language=None, offset=10.0, max_buffer_seconds=4.0)
    assert captioner.language == "en"  # English-only model
    for _ in range(1000):  # 100 s at once, beyond what a stream may queue (75 s)
        captioner.feed(bytes(3200))
    assert captioner.received == 1_600_000
    assert captioner.queued_samples == 75 * 16_000
    assert captioner.step() == []
    status = captioner.status()
    # The oldest 25 s were given up; one step takes half a buffer (2 s) of the rest.
    assert status["audioSeconds"] == 100.0 and status["droppedSeconds"] == 25.0
    assert status["backlogSeconds"] == 73.0
    assert captioner.step(final=True) == []  # stop works through everything queued
    assert captioner.status()["backlogSeconds"] == 0.0 and captioner.queued_samples == 0


def test_a_replayed_minute_is_taken_whole_half_a_buffer_per_step() -> None:
    captioner = Captioner(silent_model(), language=None, offset=0.0, max_buffer_seconds=15.0)
    captioner.feed(bytes(60 * 32_000))  # a reconnecting client's replay, at once
    steps = 0
    while captioner.pending_samples >= captioner.step_samples:
        captioner.step()
        steps += 1
        assert captioner.status()["bufferSeconds"] <= 15.0
    assert steps == 8 and captioner.status()["droppedSeconds"] == 0.0


START = {"type": "start", "sampleRate": 16000, "encoding": "s16le"}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"type": "stop"}, ErrorCode.BAD_REQUEST),
        ({"sampleRate": 16000}, ErrorCode.BAD_REQUEST),
        ({"sampleRate": "16000"}, ErrorCode.BAD_REQUEST),
        ({"sampleRate": True}, ErrorCode.BAD_REQUEST),
        ({"channels": 1}, ErrorCode.BAD_REQUEST),
        ({"offset": -1}, ErrorCode.BAD_REQUEST),
        ({"prompt": "x" * 501}, ErrorCode.BAD_REQUEST),
        ({"partials": "yes"}, ErrorCode.BAD_REQUEST),
        ({"language": 5}, ErrorCode.BAD_REQUEST),
        ({"sampleRate": 48000}, ErrorCode.UNSUPPORTED_AUDIO),
        ({"encoding": "f32le"}, ErrorCode.UNSUPPORTED_AUDIO),
        ({"language": "xx"}, ErrorCode.UNSUPPORTED_LANGUAGE),
        ({"language": "ko"}, ErrorCode.UNSUPPORTED_LANGUAGE),
        ({"committedUntil": -1}, ErrorCode.BAD_REQUEST),
        ({"offset": 10, "committedUntil": 5}, ErrorCode.BAD_REQUEST),
        ({"offset": 10, "committedUntil": 100}, ErrorCode.BAD_REQUEST),
        ({"committedUntil": "1"}, ErrorCode.BAD_REQUEST),
    ],
)
def test_bad_starts(fields: dict[str, Any], code: ErrorCode) -> None:
    payload = {**START, **fields}
    if fields == {"sampleRate": 16000}:
        del payload["encoding"]
    with pytest.raises(StreamError) as info:
        parse_start(payload, multilingual=False, model="tiny.en")
    assert info.value.code == code and info.value.close == 1008


def test_good_starts() -> None:
    start = parse_start({**START, "offset": 12.5, "prompt": "Hello.", "partials": False}, False, "tiny.en")
    assert (start.language, start.offset, start.prompt, start.partials) == (None, 12.5, "Hello.", False)
    assert parse_start({**START, "language": "auto"}, True, "base").language is None
    assert parse_start({**START, "language": " KO "}, True, "base").language == "ko"
    assert parse_start({**START, "language": "en", "offset": 0}, False, "tiny.en").language == "en"
    replay = parse_start({**START, "offset": 50.0, "committedUntil": 51.0}, False, "tiny.en")
    assert (replay.offset, replay.committed_until) == (50.0, 51.0)
    assert parse_start(START, False, "tiny.en").committed_until is None


def test_a_replays_context_before_committed_until_is_never_final_again() -> None:
    captioner = Captioner(silent_model(), language="en", offset=50.0, committed_until=51.0)
    words = [Word("of", 0.2, 0.5, 0.9), Word("the", 0.6, 0.9, 0.9), Word("night", 1.1, 1.4, 0.9)]
    assert texts(captioner._after_committed(words)) == "night"
