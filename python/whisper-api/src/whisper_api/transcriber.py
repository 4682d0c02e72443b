"""The one faster-whisper model of this process and the blocking transcription call.

Everything here is synchronous; the web layer runs ``Transcriber.transcribe``
in a worker thread behind a concurrency limiter.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment as FwSegment

from .audio import SAMPLE_RATE, Cancelled, decode, windows
from .errors import ApiError, ErrorCode
from .schemas import Segment, TranscribeOptions, TranscriptionResponse, Word
from .settings import Settings

logger = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    pass


class Transcriber:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        started = time.perf_counter()
        try:
            self.model = WhisperModel(
                settings.model,
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                num_workers=settings.num_workers,
            )
        except Exception as exc:  # CTranslate2/HF raise assorted types; normalise them
            raise ModelLoadError(f"cannot load Whisper model {settings.model!r}: {exc}") from exc
        logger.info(
            "loaded model %s from %s (%s, device=%s, compute_type=%s, cpu_threads=%d) in %.2fs",
            settings.model_name,
            settings.model,
            "multilingual" if self.is_multilingual else "English only",
            settings.device,
            settings.compute_type,
            settings.cpu_threads,
            time.perf_counter() - started,
        )

    @property
    def is_multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def check_language(self, language: str | None) -> None:
        """Reject a language this model cannot transcribe (before any heavy work)."""
        if language is not None and not self.is_multilingual and language != "en":
            raise ApiError(
                400,
                ErrorCode.UNSUPPORTED_LANGUAGE,
                f"the loaded model ({self.settings.model_name or self.settings.model}) is English-only; "
                f"language '{language}' is not supported (a multilingual model such as WHISPER_MODEL=base is)",
                field="language",
            )

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions,
        max_seconds: float | None = None,
        cancel: threading.Event | None = None,
    ) -> TranscriptionResponse:
        """Decode ``path`` and transcribe it, window by window. Blocking; call from a worker thread.

        Memory stays bounded whatever the length: audio is decoded as a stream
        and transcribed in windows of at most ``audio.WINDOW_SECONDS`` (+10 s),
        so faster-whisper never builds features for more than one window.
        Raises 413 ``audio_too_long`` once more than ``max_seconds`` (default:
        the setting) have been decoded, and ``Cancelled`` at the next segment
        (or decoded frame) after ``cancel`` is set.
        """
        self.check_language(options.language)
        limit = self.settings.max_audio_seconds if max_seconds is None else max_seconds
        started = time.perf_counter()
        beam_size = options.beam_size if options.beam_size is not None else self.settings.beam_size
        vad_filter = options.vad_filter if options.vad_filter is not None else self.settings.vad_filter
        kwargs: dict[str, object] = {}
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        language = options.language
        decided = False
        language_info = ("", 0.0)  # (code, probability) as the deciding window reported them
        segments: list[Segment] = []
        total_samples = 0

        for offset, window in windows(decode(path, limit, cancel)):
            total_samples = offset + window.size
            start, end = offset / SAMPLE_RATE, total_samples / SAMPLE_RATE
            segments_iter, info = self.model.transcribe(
                window,
                language=language,
                beam_size=beam_size,
                vad_filter=vad_filter,
                word_timestamps=options.word_timestamps,
                initial_prompt=options.initial_prompt or None,
                **kwargs,
            )
            # ``segments_iter`` is lazy: the model runs while it is consumed,
            # one 30 s chunk at a time, so a cancel is honoured between chunks.
            count = len(segments)
            for seg in segments_iter:
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                segments.append(_segment(len(segments), seg, start, end, options.word_timestamps))
            if not decided:
                # The first window with speech decides the language for the rest,
                # so one file does not come back in several languages.
                language_info = (info.language, float(info.language_probability))
                decided = len(segments) > count or language is not None
                language = info.language if decided else None
            if cancel is not None and cancel.is_set():
                raise Cancelled

        duration = total_samples / SAMPLE_RATE
        language_code, probability = language_info
        elapsed = time.perf_counter() - started
        logger.info(
            "transcribed %.1fs of audio in %.2fs (rtf %.3f, %d segments)",
            duration,
            elapsed,
            elapsed / duration if duration else 0.0,
            len(segments),
        )
        return TranscriptionResponse(
            language=language_code,
            language_probability=round(probability, 4),
            duration=round(duration, 3),
            processing_seconds=round(elapsed, 3),
            segments=segments,
            text=" ".join(s.text for s in segments if s.text),
        )


def _segment(index: int, seg: FwSegment, start: float, end: float, with_words: bool) -> Segment:
    """A faster-whisper segment of the window [``start``, ``end``) seconds, on the file's timeline."""

    def at(t: float) -> float:
        # Whisper timestamps are quantised to 20 ms and can overshoot the window's end.
        return round(min(max(start + t, start), end), 3)

    return Segment(
        id=index,
        start=at(seg.start),
        end=at(seg.end),
        text=seg.text.strip(),
        words=(
            [
                Word(start=at(w.start), end=at(w.end), word=w.word.strip(), probability=round(w.probability, 4))
                for w in seg.words or ()
            ]
            if with_words
            else None
        ),
    )
