"""The one faster-whisper model of this process and the blocking transcription call.

Everything here is synchronous; the web layer runs ``Transcriber.transcribe``
in a worker thread behind a concurrency limiter.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import av
import numpy as np
from faster_whisper import WhisperModel, decode_audio

from .errors import ApiError, ErrorCode
from .schemas import Segment, TranscribeOptions, TranscriptionResponse, Word
from .settings import Settings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


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
            "loaded model %s (device=%s, compute_type=%s, cpu_threads=%d) in %.2fs",
            settings.model,
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
                f"the loaded model is English-only; language '{language}' is not supported",
                field="language",
            )

    def transcribe(self, path: Path, options: TranscribeOptions) -> TranscriptionResponse:
        """Decode ``path`` and transcribe it. Blocking; call from a worker thread."""
        self.check_language(options.language)
        started = time.perf_counter()
        audio = load_audio(path)
        beam_size = options.beam_size if options.beam_size is not None else self.settings.beam_size
        vad_filter = options.vad_filter if options.vad_filter is not None else self.settings.vad_filter
        kwargs: dict[str, object] = {}
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        segments_iter, info = self.model.transcribe(
            audio,
            language=options.language,
            beam_size=beam_size,
            vad_filter=vad_filter,
            word_timestamps=options.word_timestamps,
            initial_prompt=options.initial_prompt or None,
            **kwargs,
        )
        # ``segments_iter`` is lazy: the actual decoding happens while iterating,
        # so it must be consumed here, inside the worker thread.
        duration = float(info.duration)

        def clamp(t: float) -> float:
            # Whisper timestamps are quantised to 20 ms and can overshoot the end.
            return round(min(max(t, 0.0), duration), 3)

        segments = [
            Segment(
                id=index,
                start=clamp(seg.start),
                end=clamp(seg.end),
                text=seg.text.strip(),
                words=(
                    [
                        Word(
                            start=clamp(w.start),
                            end=clamp(w.end),
                            word=w.word.strip(),
                            probability=round(w.probability, 4),
                        )
                        for w in seg.words or ()
                    ]
                    if options.word_timestamps
                    else None
                ),
            )
            for index, seg in enumerate(segments_iter)
        ]
        elapsed = time.perf_counter() - started
        logger.info(
            "transcribed %.1fs of audio in %.2fs (rtf %.3f, %d segments)",
            duration,
            elapsed,
            elapsed / duration if duration else 0.0,
            len(segments),
        )
        return TranscriptionResponse(
            language=info.language,
            language_probability=round(float(info.language_probability), 4),
            duration=round(duration, 3),
            processing_seconds=round(elapsed, 3),
            segments=segments,
            text=" ".join(s.text for s in segments if s.text),
        )


def load_audio(path: Path) -> np.ndarray:
    """Decode any PyAV-readable file to 16 kHz mono float32, or raise a 400 ``ApiError``."""
    try:
        # Probe first: decode_audio() fails with a bare IndexError on files
        # without an audio stream (e.g. a silent video).
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise ApiError(400, ErrorCode.INVALID_AUDIO, "the file contains no audio stream", field="file")
        audio: np.ndarray = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except av.error.FFmpegError as exc:
        raise ApiError(
            400,
            ErrorCode.INVALID_AUDIO,
            f"the file could not be decoded as audio ({_ffmpeg_reason(exc)})",
            field="file",
        ) from None
    if audio.size == 0:
        raise ApiError(400, ErrorCode.INVALID_AUDIO, "the file contains no audio samples", field="file")
    return audio


def _ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    # str(exc) embeds the temp file path, which means nothing to the client.
    return exc.strerror or type(exc).__name__
