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
    for _ in range(100):  # 10 s at once, far beyond twice the 4 s buffer
        captioner.feed(bytes(3200))
    assert captioner.received == 160_000
    assert captioner.step() == []
    status = captioner.status()
    assert status["audioSeconds"] == 10.0 and status["backlogSeconds"] == 0.0
    assert status["droppedSeconds"] == 2.0 and status["bufferSeconds"] == 0.5


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
