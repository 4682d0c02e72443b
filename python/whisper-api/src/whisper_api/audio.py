"""Audio input: probe a file's duration, decode it as a bounded stream, cut it into windows.

Nothing here holds a whole file's samples. ``decode`` yields 16 kHz mono
float32 chunks as PyAV produces them and counts them, so a file whose header
understates its length (or has no duration at all) is refused the moment the
decoded audio passes the limit; ``windows`` regroups the chunks into
transcription windows of at most ``WINDOW_SECONDS``, cut at the quietest
moment near the end so that a cut rarely falls inside a word.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.audio.resampler
import numpy as np

from .errors import ApiError, ErrorCode

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 60.0
# The cut between two windows is the quietest 100 ms within the window's last CUT_SEARCH_SECONDS.
CUT_SEARCH_SECONDS = 10.0
_CUT_FRAME = SAMPLE_RATE // 10
FILE_FIELD = "file"
# Encoder padding and resampling make a file a few ms longer than what was
# recorded; a 5-minute batch must pass a 5-minute limit.
LIMIT_GRACE_SECONDS = 1.0


class Cancelled(Exception):
    """The request was given up (client gone); raised between chunks or segments."""


@dataclass(frozen=True)
class Probe:
    """What the container says before anything is decoded."""

    duration: float | None  # seconds; None when the container does not say


def probe(path: Path) -> Probe:
    """Open ``path`` and read its declared audio duration, or raise a 400 ``invalid_audio``.

    Cheap: FFmpeg reads the header and a few packets, never the whole file.
    """
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise ApiError(400, ErrorCode.INVALID_AUDIO, "the file contains no audio stream", field=FILE_FIELD)
            stream = container.streams.audio[0]
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
    except av.error.FFmpegError as exc:
        raise _undecodable(exc) from None
    if duration is not None and not duration >= 0:
        duration = None
    return Probe(duration=duration)


def over_limit(seconds: float, max_seconds: float) -> bool:
    return seconds > max_seconds + LIMIT_GRACE_SECONDS


def too_long(max_seconds: float, seconds: float | None = None) -> ApiError:
    """The one ``audio_too_long`` refusal (413): before decoding (declared) and during it (counted)."""
    what = f"is {seconds / 60:.4g} min long" if seconds is not None else "is longer than that"
    return ApiError(
        413,
        ErrorCode.AUDIO_TOO_LONG,
        f"the audio {what}; the limit is {max_seconds / 60:.4g} min (split it into shorter files)",
        field=FILE_FIELD,
    )


def decode(path: Path, max_seconds: float, cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
    """Yield the first audio stream of ``path`` as 16 kHz mono float32 chunks.

    Raises ``too_long`` as soon as more than ``max_seconds`` have been decoded,
    ``Cancelled`` when ``cancel`` is set, and 400 ``invalid_audio`` when the
    file cannot be decoded or holds no samples.
    """
    max_samples = int((max_seconds + LIMIT_GRACE_SECONDS) * SAMPLE_RATE)
    total = 0
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise ApiError(400, ErrorCode.INVALID_AUDIO, "the file contains no audio stream", field=FILE_FIELD)
            stream = container.streams.audio[0]
            resampler = av.audio.resampler.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in _frames(container, stream):
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                frame.pts = None  # the resampler must not care about gaps or jumps in timestamps
                for chunk in _samples(resampler.resample(frame)):
                    total += chunk.size
                    if total > max_samples:
                        raise too_long(max_seconds)
                    yield chunk
            for chunk in _samples(resampler.resample(None)):  # flush
                total += chunk.size
                if total > max_samples:
                    raise too_long(max_seconds)
                yield chunk
    except av.error.FFmpegError as exc:
        raise _undecodable(exc) from None
    except (ApiError, Cancelled):
        raise
    except Exception as exc:
        # Whatever a hostile file makes PyAV raise is still the file's fault: a 400, not a 500.
        logger.warning("decoder failed on an upload: %r", exc, exc_info=True)
        raise ApiError(
            400, ErrorCode.INVALID_AUDIO, "the file could not be decoded as audio", field=FILE_FIELD
        ) from None
    finally:
        # PyAV's resampler graph is only freed by the cycle collector
        # (https://github.com/SYSTRAN/faster-whisper/issues/390).
        gc.collect()
    if total == 0:
        raise ApiError(400, ErrorCode.INVALID_AUDIO, "the file contains no audio samples", field=FILE_FIELD)


def windows(
    chunks: Iterable[np.ndarray], window_seconds: float = WINDOW_SECONDS
) -> Iterator[tuple[int, np.ndarray]]:
    """Regroup ``chunks`` into ``(offset_samples, window)`` pairs of at most ``window_seconds``
    (the last one up to ``CUT_SEARCH_SECONDS`` more).

    A window ends at the quietest 100 ms of its last ``CUT_SEARCH_SECONDS``;
    the rest carries over into the next one. A cut is made only once another
    ``CUT_SEARCH_SECONDS`` have arrived, so no window but a short file's only
    one is shorter than that (Whisper tends to invent words for a tiny tail).
    Memory: about one window plus one chunk.
    """
    size = int(window_seconds * SAMPLE_RATE)
    search = min(int(CUT_SEARCH_SECONDS * SAMPLE_RATE), size // 2)
    pending: list[np.ndarray] = []
    pending_samples = 0
    offset = 0
    for chunk in chunks:
        pending.append(chunk)
        pending_samples += chunk.size
        while pending_samples >= size + search:
            buffer = np.concatenate(pending)
            cut = quietest_cut(buffer[size - search : size]) + size - search
            yield offset, buffer[:cut]
            offset += cut
            rest = buffer[cut:].copy()  # a view would keep the whole buffer alive
            pending, pending_samples = [rest], rest.size
    if pending_samples:
        yield offset, np.concatenate(pending)


def quietest_cut(audio: np.ndarray) -> int:
    """Index of the middle of the quietest 100 ms frame of ``audio``."""
    frames = audio.size // _CUT_FRAME
    if frames == 0:
        return audio.size
    energy = np.square(audio[: frames * _CUT_FRAME].reshape(frames, _CUT_FRAME)).sum(axis=1)
    return int(np.argmin(energy)) * _CUT_FRAME + _CUT_FRAME // 2


def _frames(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[av.AudioFrame]:
    """Decoded frames; corrupt packets are skipped, as FFmpeg's own tools do."""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue


def _samples(frames: Iterable[av.AudioFrame]) -> Iterator[np.ndarray]:
    for frame in frames:
        array = frame.to_ndarray().reshape(-1)
        if array.size:
            yield array


def _undecodable(exc: av.error.FFmpegError) -> ApiError:
    # str(exc) embeds the temp file path, which means nothing to the client.
    reason = exc.strerror or type(exc).__name__
    return ApiError(400, ErrorCode.INVALID_AUDIO, f"the file could not be decoded as audio ({reason})", field=FILE_FIELD)
