"""Live captions: turning a growing stream of audio into append-only finals and a replaceable partial.

The policy is LocalAgreement-2 (whisper_streaming, Macháček et al. 2023): the
audio buffer is re-transcribed every ``step_seconds`` of new audio, and the
words two consecutive hypotheses agree on (longest common prefix after what is
already committed, on normalised words) become final; the rest is the partial.
Whisper is not a streaming model, so this is how a word earns enough right
context to be trusted without waiting for the end of a sentence.

On top of it, things that matter on a 2-core CPU and in a lecture hall:

- **VAD gate.** Silero VAD (faster-whisper's) decides whether the buffer holds
  speech at all: silence and noise are never transcribed (no hallucinated
  "Thank you." on an empty room), and only the speech parts are given to Whisper.
- **Endpointing.** Once the speech has been followed by ``ENDPOINT_SILENCE``
  of non-speech, everything pending is committed at once: finals arrive at
  pauses without waiting for a second hypothesis.
- **Bounded buffer.** Once longer than half of ``max_buffer_seconds`` the
  buffer is cut at the end of the last committed segment (or word); if it
  would still exceed ``max_buffer_seconds`` (no agreement, e.g. a loop), the
  oldest hypothesis words are force-committed and, failing that, the oldest
  audio is dropped. Latency and memory stay bounded either way.
- **Filters.** Segments Whisper itself thinks are not speech (no-speech
  probability, log probability, compression ratio) are dropped, as are
  hypotheses that loop on one n-gram or only repeat the committed tail.
- **Prompt.** The last ``PROMPT_CHARS`` of committed text before the buffer
  (starting with the caller's ``prompt``) is the ``initial_prompt``.

Everything here is synchronous and belongs to one stream; ``feed`` may be
called from another thread than ``step``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.vad import VadOptions, get_speech_timestamps

from .audio import SAMPLE_RATE

# Non-speech after the last speech that ends an utterance (everything pending becomes final).
ENDPOINT_SILENCE = 0.8
# Speech needed before a multilingual model's language is detected (then pinned); a
# detection less sure than LANGUAGE_SURE waits for more speech, up to LANGUAGE_MAX_WAIT.
LANGUAGE_DETECT_SECONDS = 2.0
LANGUAGE_SURE = 0.5
LANGUAGE_MAX_WAIT = 6.0
# Tokens a step may decode per second of audio (fast speech is ~5 in English, more in
# Korean or Japanese): a hypothesis stuck in a loop costs a bounded amount of time.
TOKENS_PER_SECOND = 12
MAX_TOKENS = 224
PROMPT_CHARS = 200
# Audio a stream may queue ahead of processing. A reconnecting client replays everything after
# its last final (Lectern's stream client keeps up to 60 s), and that must be taken whole, not
# cut: it is worked through max_buffer/2 at a time. Only beyond this is queued audio given up.
MAX_QUEUED_SECONDS = 75.0
# Committed audio kept before a cut of the buffer. Whisper skips the rest of an utterance whose
# audio starts mid-word (a cut right at a word's end is the next word's onset), so the buffer
# keeps this much before the cut as context; those words are already final and not sent again.
TRIM_CONTEXT = 1.0
# Silence kept at the buffer's start when there is nothing to transcribe: a word
# starting right at a step boundary keeps its onset.
KEEP_SILENCE = 0.5
VAD = VadOptions(threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=500, speech_pad_ms=200)
_PAD = VAD.speech_pad_ms / 1000
# Whisper's own "this is not speech" signals, a little stricter than its defaults
# because a streaming buffer is often a fragment.
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
VERY_LOW_LOGPROB = -1.5
MAX_COMPRESSION_RATIO = 2.4
# Whisper's favourite inventions on non-speech; dropped when Whisper is not confident.
HALLUCINATIONS = frozenset(
    {"you", "thank you", "thanks for watching", "thank you for watching", "bye", "so", "okay", "oh", "uh", "um"}
)
# Words committed without a second hypothesis (at a pause, on stop, forced) must not end in a
# run of words Whisper itself doubts: on a cut-off word it tends to continue with the prompt.
UNSURE_WORD = 0.2
# A hypothesis that repeats one n-gram this many times in a row is looping.
LOOP_REPEATS = 3


@dataclass(frozen=True)
class Word:
    """A word on the stream clock: seconds since the stream's first sample."""

    text: str
    start: float
    end: float
    probability: float
    segment_end: bool = False  # last word of its Whisper segment (a natural cut point)

    @property
    def key(self) -> str:
        return normalise(self.text)


def normalise(word: str) -> str:
    """Case and punctuation do not make two hypotheses disagree."""
    return re.sub(r"[^\w]+", "", word.lower())


class Captioner:
    """One stream's state: the audio buffer, committed words, and the last hypothesis."""

    def __init__(
        self,
        model: WhisperModel,
        *,
        language: str | None,
        offset: float,
        prompt: str = "",
        committed_until: float | None = None,
        step_seconds: float = 1.0,
        max_buffer_seconds: float = 15.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        multilingual = bool(model.model.is_multilingual)
        self.language = language if multilingual else "en"
        self.offset = offset
        self.step_samples = int(step_seconds * SAMPLE_RATE)
        self.max_buffer = int(max_buffer_seconds * SAMPLE_RATE)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._skipped = 0  # queued samples given up (see feed)
        self.received = 0  # samples fed
        self.processed = 0  # samples that went through a finished step
        self.dropped = 0  # samples given up untranscribed because processing fell too far behind
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # stream sample index of the buffer's first sample
        self._context = " ".join(prompt.split())  # committed text before the buffer (bounded)
        self._committed: list[Word] = []  # committed words still inside the buffer (plus a short tail)
        # End of the last final (stream clock). A reconnecting client starts its replay a little
        # before its last final: Whisper skips the rest of an utterance whose audio starts
        # mid-word, so the words up to committed_until are context, never sent again.
        self._last_end = max(0.0, (committed_until or offset) - offset)
        self._hypothesis: list[Word] = []  # the previous iteration's uncommitted words
        self._partial: tuple[str, float, float] | None = None  # last partial sent
        self.rtf = 0.0
        self.last_step_seconds = 0.0

    # -- input (event loop thread) ------------------------------------------------------------

    def feed(self, pcm: bytes) -> None:
        """Queue s16le mono samples; the next ``step`` consumes them."""
        with self._lock:
            self._pending.append(pcm)
            self._pending_bytes += len(pcm)
            self.received += len(pcm) // 2
            # Memory stays bounded even for a client that sends far faster than real time:
            # queued audio beyond MAX_QUEUED_SECONDS is given up before it is ever converted.
            while self._pending_bytes > int(MAX_QUEUED_SECONDS * SAMPLE_RATE) * 2 and len(self._pending) > 1:
                oldest = self._pending.pop(0)
                self._pending_bytes -= len(oldest)
                self._skipped += len(oldest) // 2

    @property
    def pending_samples(self) -> int:
        return self.received - self.processed

    def status(self) -> dict[str, Any]:
        return {
            "type": "status",
            "audioSeconds": round(self.received / SAMPLE_RATE, 3),
            "backlogSeconds": round(self.pending_samples / SAMPLE_RATE, 3),
            "rtf": round(self.rtf, 3),
            "bufferSeconds": round(self._buffer.size / SAMPLE_RATE, 3),
            "droppedSeconds": round(self.dropped / SAMPLE_RATE, 3),
        }

    # -- processing (worker thread) -----------------------------------------------------------

    @property
    def queued_samples(self) -> int:
        """Samples fed but not yet taken into the buffer."""
        with self._lock:
            return self._pending_bytes // 2

    def step(self, final: bool = False) -> list[dict[str, Any]]:
        """Take up to half a buffer of queued audio, re-transcribe, and return the messages to send.

        A backlog (a replay after a reconnect, a slow step) is worked through half a buffer per
        step, so no step's buffer outgrows ``max_buffer_seconds`` and nothing queued is lost;
        the caller steps again while a step's worth is queued. ``final`` (the client's stop)
        works through everything queued and commits everything still pending.
        """
        messages: list[dict[str, Any]] = []
        while final and self.queued_samples > self.max_buffer // 2:
            messages += self._step(False)
        return messages + self._step(final)

    def _step(self, final: bool) -> list[dict[str, Any]]:
        started = self._clock()
        intake = max(self.step_samples, self.max_buffer // 2) * 2
        with self._lock:
            chunks: list[bytes] = []
            size = 0
            while self._pending and size < intake:
                chunk = self._pending.pop(0)
                if size + len(chunk) > intake:
                    cut = intake - size
                    self._pending.insert(0, chunk[cut:])
                    chunk = chunk[:cut]
                chunks.append(chunk)
                size += len(chunk)
            self._pending_bytes -= size
            skipped, self._skipped = self._skipped, 0
            taken = size // 2 + skipped
        if skipped:
            # The skipped audio came after the buffer and before the queued chunks: all of the
            # buffer goes, and the clock jumps over the gap.
            self.dropped += self._buffer.size + skipped
            self._cut(self._buffer_start + self._buffer.size)
            self._buffer_start += skipped
            self._hypothesis = []
        if chunks:
            pcm = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float32) / 32768.0
            self._buffer = np.concatenate([self._buffer, pcm])
        if self._buffer.size > 2 * self.max_buffer:
            # Far behind (the CPU cannot keep up): bigger steps alone would make every step slower
            # still, so the oldest audio is given up and the newest max_buffer seconds are kept.
            drop = self._buffer.size - self.max_buffer
            self.dropped += drop
            self._cut(self._buffer_start + drop)
            start = self._buffer_start / SAMPLE_RATE
            self._hypothesis = [word for word in self._hypothesis if word.start >= start]
        messages = self._iterate(final)
        self.processed += taken
        elapsed = self._clock() - started
        self.last_step_seconds = elapsed
        if taken:
            measured = elapsed / (taken / SAMPLE_RATE)
            self.rtf = measured if self.rtf == 0.0 else self.rtf + 0.3 * (measured - self.rtf)
        return messages

    def _iterate(self, final: bool) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        speech = get_speech_timestamps(self._buffer, VAD) if self._buffer.size else []
        if not speech:
            # Nothing to transcribe; whatever the last hypothesis held was not confirmed as speech.
            self._hypothesis = []
            self._cut(self._buffer_start + max(0, self._buffer.size - int(KEEP_SILENCE * SAMPLE_RATE)))
            self._partial_message(messages, [])
            return messages

        # Raw trailing non-speech: VAD pads each chunk's end by speech_pad_ms.
        speech_end = speech[-1]["end"]
        trailing = (self._buffer.size - speech_end) / SAMPLE_RATE + _PAD
        endpoint = final or (trailing >= ENDPOINT_SILENCE and speech_end < self._buffer.size)

        language = self.language
        if language is None:
            speech_samples = sum(chunk["end"] - chunk["start"] for chunk in speech)
            if speech_samples < LANGUAGE_DETECT_SECONDS * SAMPLE_RATE and not endpoint:
                return messages  # wait for enough speech to tell the language
            language = self._detect_language(speech, speech_samples, messages)
            if self.language is None and not endpoint:
                return messages  # unsure: wait for more speech
            # At a pause or stop an unsure guess still transcribes what is there, without being pinned.

        audio = self._buffer[:speech_end] if endpoint else self._buffer
        words = self._transcribe(audio, language)

        if endpoint:
            committed = self._commit(_without_unsure_tail(words), messages)
            self._hypothesis = []
            self._cut(self._buffer_start + max(speech_end, self._buffer.size - int(0.3 * SAMPLE_RATE)))
            self._partial_message(messages, [], after_final=committed)
            return messages

        agreed = 0
        for previous, current in zip(self._hypothesis, words):
            if previous.key != current.key:
                break
            agreed += 1
        committed = words[:agreed]
        rest = words[agreed:]
        buffer_end = (self._buffer_start + self._buffer.size) / SAMPLE_RATE
        if self._buffer.size > self.max_buffer:
            # No agreement for a whole buffer: commit the oldest words as they are, keep the newest half.
            keep_from = buffer_end - self.max_buffer / SAMPLE_RATE / 2
            forced = [word for word in rest if word.end <= keep_from]
            committed, rest = committed + _without_unsure_tail(forced), rest[len(forced) :]
        self._commit(committed, messages)
        self._hypothesis = rest
        self._trim()
        self._partial_message(messages, rest, after_final=bool(committed))
        return messages

    def _detect_language(self, speech: list[dict[str, int]], samples: int, messages: list[dict[str, Any]]) -> str:
        """The buffer's most likely language; pinned (and announced) once there is enough speech to trust it:
        ``LANGUAGE_DETECT_SECONDS`` and a sure guess, or ``LANGUAGE_MAX_WAIT`` (or a full buffer) and any guess.
        """
        audio = np.concatenate([self._buffer[chunk["start"] : chunk["end"]] for chunk in speech])
        language, probability, _ = self.model.detect_language(audio=audio[: 30 * SAMPLE_RATE])
        enough = samples >= LANGUAGE_DETECT_SECONDS * SAMPLE_RATE and probability >= LANGUAGE_SURE
        waited = samples >= LANGUAGE_MAX_WAIT * SAMPLE_RATE or self._buffer.size > self.max_buffer
        if enough or waited:
            self.language = language
            messages.append({"type": "language", "language": language, "probability": round(float(probability), 4)})
        return str(language)

    def _transcribe(self, audio: np.ndarray, language: str) -> list[Word]:
        """The hypothesis for ``audio`` (the buffer's first samples): filtered words after the committed ones."""
        segments, _ = self.model.transcribe(
            audio,
            language=language,
            beam_size=1,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            word_timestamps=True,
            without_timestamps=False,
            initial_prompt=self._prompt() or None,
            vad_filter=True,
            vad_parameters=VAD,
            no_speech_threshold=NO_SPEECH_PROB,
            log_prob_threshold=LOW_LOGPROB,
            compression_ratio_threshold=MAX_COMPRESSION_RATIO,
            max_new_tokens=min(MAX_TOKENS, 16 + int(TOKENS_PER_SECOND * audio.size / SAMPLE_RATE)),
        )
        base = self._buffer_start / SAMPLE_RATE
        limit = base + audio.size / SAMPLE_RATE
        words: list[Word] = []
        for segment in segments:
            if _not_speech(segment.text, segment.no_speech_prob, segment.avg_logprob, segment.compression_ratio):
                # The hypothesis ends here: words after a dropped segment must not be committed, or
                # the buffer would be cut past that audio and its words lost for good. The next
                # step sees it again with more context; a buffer that stays stuck is bounded below.
                break
            seg_words = [w for w in segment.words or () if w.word.strip()]
            for index, w in enumerate(seg_words):
                start = min(max(base + w.start, base), limit)
                end = min(max(base + w.end, start), limit)
                words.append(Word(w.word.strip(), start, end, float(w.probability), index == len(seg_words) - 1))
        return self._after_committed(_unloop(words))

    def _after_committed(self, words: list[Word]) -> list[Word]:
        """Drop what is already final: words centred before the last final's end, then a repeated tail."""
        words = [word for word in words if (word.start + word.end) / 2 > self._last_end]
        if words and self._committed and words[0].start - self._last_end < 1.0:
            tail = [word.key for word in self._committed]
            for size in range(min(5, len(tail), len(words)), 0, -1):
                if tail[-size:] == [word.key for word in words[:size]]:
                    return words[size:]
        return words

    def _commit(self, words: list[Word], messages: list[dict[str, Any]]) -> bool:
        if not words:
            return False
        out: list[dict[str, Any]] = []
        previous = self._last_end
        fixed: list[Word] = []
        for word in words:
            start = max(word.start, previous)
            end = max(word.end, start)
            fixed.append(Word(word.text, start, end, word.probability, word.segment_end))
            out.append(
                {
                    "word": word.text,
                    "start": self._t(start),
                    "end": self._t(end),
                    "probability": round(word.probability, 4),
                }
            )
            previous = end
        self._committed = (self._committed + fixed)[-50:]
        self._last_end = previous
        messages.append(
            {
                "type": "final",
                "text": _join(word.text for word in fixed),
                "start": out[0]["start"],
                "end": out[-1]["end"],
                "words": out,
            }
        )
        return True

    def _trim(self) -> None:
        """Keep the buffer bounded: cut at committed text once it is long, drop audio if it must."""
        if self._buffer.size <= self.max_buffer // 2 or not self._committed:
            cut = None
        else:
            segment_ends = [word.end for word in self._committed if word.segment_end]
            cut = segment_ends[-1] if segment_ends and segment_ends[-1] > self._buffer_start / SAMPLE_RATE else None
            if cut is None:
                cut = self._committed[-1].end
        if cut is not None:
            self._cut(int(round((cut - TRIM_CONTEXT) * SAMPLE_RATE)))
        if self._buffer.size > self.max_buffer:
            # Nothing committed to cut at (no words at all, e.g. VAD speech Whisper drops as noise).
            drop = self._buffer.size - self.max_buffer // 2
            self._cut(self._buffer_start + drop)
            start = self._buffer_start / SAMPLE_RATE
            self._hypothesis = [word for word in self._hypothesis if word.start >= start]

    def _cut(self, sample: int) -> None:
        """Drop buffer audio before stream sample ``sample``; committed words before it move into the prompt."""
        drop = min(max(0, sample - self._buffer_start), self._buffer.size)
        if drop == 0:
            return
        self._buffer = self._buffer[drop:].copy()
        self._buffer_start += drop
        start = self._buffer_start / SAMPLE_RATE
        gone = [word for word in self._committed if word.end <= start]
        if gone:
            self._context = (self._context + " " + _join(word.text for word in gone)).strip()[-4 * PROMPT_CHARS :]
            self._committed = [word for word in self._committed if word.end > start]

    def _prompt(self) -> str:
        text = self._context[-PROMPT_CHARS:]
        if len(self._context) > PROMPT_CHARS and " " in text:
            text = text.split(" ", 1)[1]  # start at a word
        return text

    def _partial_message(self, messages: list[dict[str, Any]], words: list[Word], after_final: bool = False) -> None:
        if words:
            partial = (_join(word.text for word in words), self._t(words[0].start), self._t(words[-1].end))
        else:
            at = self._t(max(self._last_end, self._buffer_start / SAMPLE_RATE))
            partial = ("", at, at)
        previous = self._partial
        # After a final, the partial is always (re)sent: it now follows that final.
        if after_final or previous is None and partial[0] or previous is not None and previous[0] != partial[0]:
            self._partial = partial
            messages.append({"type": "partial", "text": partial[0], "start": partial[1], "end": partial[2]})

    def _t(self, seconds: float) -> float:
        """Stream clock → the caller's clock (``offset`` + sample position), ms precision."""
        return round(self.offset + seconds, 3)


def _join(words: Any) -> str:
    return " ".join(words)


def _not_speech(text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float) -> bool:
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < -0.5:
        return True
    if avg_logprob < VERY_LOW_LOGPROB or compression_ratio > MAX_COMPRESSION_RATIO:
        return True
    key = " ".join(normalise(word) for word in text.split())
    return key in HALLUCINATIONS and (no_speech_prob > 0.2 or avg_logprob < -0.7)


def _without_unsure_tail(words: list[Word]) -> list[Word]:
    end = len(words)
    while end and words[end - 1].probability < UNSURE_WORD:
        end -= 1
    return words[:end]


def _unloop(words: list[Word]) -> list[Word]:
    """Cut a hypothesis where it starts repeating one n-gram ``LOOP_REPEATS`` times in a row."""
    keys = [word.key for word in words]
    for start in range(len(keys)):
        for size in range(1, 5):
            gram = keys[start : start + size]
            if len(gram) < size:
                break
            repeats = 1
            while keys[start + repeats * size : start + (repeats + 1) * size] == gram:
                repeats += 1
            if repeats >= LOOP_REPEATS and (size > 1 or repeats > LOOP_REPEATS):
                return words[: start + size]
    return words
