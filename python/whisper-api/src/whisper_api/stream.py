"""``GET /v1/stream``: live captions over a WebSocket (the protocol is in README.md, "Live captions").

Why a separate model and pool: a live stream needs a step of work every second,
while a batch transcription holds its model for minutes. The streams get their
own ``WhisperModel`` instance (``WHISPER_STREAM_MODEL``, by default the batch
model loaded a second time) with ``WHISPER_STREAM_CPU_THREADS`` threads per
step and their own thread pool of ``WHISPER_MAX_STREAMS`` workers, so neither
side waits for the other's slot (they do share the CPU cores).

One connection is three tasks: a receiver (frames → the captioner's queue,
stop, idle timeout), a worker (one ``Captioner.step`` in the pool whenever a
step of audio is queued, then its messages) and a status ticker. Whichever ends
the session (stop, an error, the client leaving) ends all three and frees the
slot at once; a step already running in the pool finishes in the background
and its result is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from faster_whisper import WhisperModel
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from .audio import SAMPLE_RATE
from .captions import Captioner
from .errors import ErrorCode
from .schemas import LANGUAGE_CODES
from .settings import Settings

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
MAX_PROMPT_CHARS = 500
STATUS_INTERVAL_SECONDS = 2.0
# Streams last as long as a lecture, so there is no honest estimate of when a
# slot frees up; this is how soon trying again is reasonable.
BUSY_RETRY_AFTER_SECONDS = 10
START_FIELDS = frozenset({"type", "sampleRate", "encoding", "language", "offset", "prompt", "partials", "committedUntil"})

# WebSocket close codes (RFC 6455 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013


class StreamError(Exception):
    """Ends a stream with ``{"type": "error", ...}`` and a close code."""

    def __init__(self, code: ErrorCode, message: str, close: int = CLOSE_POLICY, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code.value, "message": self.message, **self.extra}


@dataclass(frozen=True)
class Start:
    language: str | None
    offset: float
    prompt: str
    partials: bool
    # Caller's clock: audio before this is already final (a reconnect replays a little of it as context).
    committed_until: float | None = None


class StreamHub:
    """The live-caption model, its thread pool, and the stream slots."""

    def __init__(self, settings: Settings) -> None:
        from .transcriber import ModelLoadError  # deferred: transcriber imports nothing from here

        self.settings = settings
        self.max_streams = settings.max_streams
        self.model_label = settings.stream_model_label
        started = time.perf_counter()
        try:
            self.model = WhisperModel(
                settings.stream_model_path,
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.stream_cpu_threads,
                num_workers=settings.max_streams,
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load the stream model {settings.stream_model_path!r}: {exc}") from exc
        self.multilingual = bool(self.model.model.is_multilingual)
        self.executor = ThreadPoolExecutor(max_workers=settings.max_streams, thread_name_prefix="whisper-stream")
        self._sessions: set[StreamSession] = set()
        logger.info(
            "loaded stream model %s (cpu_threads=%d, max %d streams) in %.2fs",
            self.model_label,
            settings.stream_cpu_threads,
            settings.max_streams,
            time.perf_counter() - started,
        )

    @property
    def active(self) -> int:
        return len(self._sessions)

    def acquire(self, session: StreamSession) -> bool:
        if len(self._sessions) >= self.max_streams:
            return False
        self._sessions.add(session)
        return True

    def release(self, session: StreamSession) -> None:
        self._sessions.discard(session)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the stream pool; cancelling the caller abandons (not interrupts) the call."""
        return await asyncio.wrap_future(self.executor.submit(fn, *args))

    def close(self) -> None:
        for session in list(self._sessions):
            session.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)


class StreamSession:
    def __init__(self, websocket: WebSocket, hub: StreamHub) -> None:
        self.websocket = websocket
        self.hub = hub
        self.settings = hub.settings
        self.id = str(uuid.uuid4())
        self._send_lock = anyio.Lock()
        self._wake = anyio.Event()
        self._stopping = False
        self._failure: BaseException | None = None
        self._scope: anyio.CancelScope | None = None
        self._captioner: Captioner | None = None
        self._partials = True

    def cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def run(self) -> None:
        await self.websocket.accept()
        try:
            with anyio.CancelScope() as self._scope:
                await self._serve()
        except StreamError as exc:
            logger.info("stream %s: %s (%s)", self.id, exc.code.value, exc.message)
            await self._fail(exc)
        except (WebSocketDisconnect, OSError):  # uvicorn's ClientDisconnected is an OSError
            logger.info("stream %s: client disconnected", self.id)
        except Exception:
            logger.exception("stream %s failed", self.id)
            await self._fail(StreamError(ErrorCode.INTERNAL, "internal server error", CLOSE_INTERNAL))

    async def _serve(self) -> None:
        start = await self._receive_start()
        if not self.hub.acquire(self):
            raise StreamError(
                ErrorCode.BUSY,
                f"the server is at its limit of {self.hub.max_streams} live streams; try again later",
                CLOSE_TRY_AGAIN,
                retryAfterSeconds=BUSY_RETRY_AFTER_SECONDS,
            )
        try:
            self._captioner = Captioner(
                self.hub.model,
                language=start.language,
                offset=start.offset,
                prompt=start.prompt,
                committed_until=start.committed_until,
                step_seconds=self.settings.stream_step_seconds,
                max_buffer_seconds=self.settings.stream_max_buffer_seconds,
            )
            self._partials = start.partials
            await self._send(
                {
                    "type": "ready",
                    "model": self.hub.model_label,
                    "language": self._captioner.language,
                    "maxBufferSeconds": self.settings.stream_max_buffer_seconds,
                    "sessionId": self.id,
                }
            )
            language = self._captioner.language or "auto"
            logger.info("stream %s started (language %s, offset %.3f)", self.id, language, start.offset)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._guard, self._receive_loop, tg)
                tg.start_soon(self._guard, self._work_loop, tg)
                tg.start_soon(self._guard, self._status_loop, tg)
            if self._failure is not None:
                raise self._failure
        finally:
            self.hub.release(self)

    async def _guard(self, task: Callable[[TaskGroup], Awaitable[None]], tg: TaskGroup) -> None:
        """Runs one of the session's tasks; the first to fail ends them all (and its error is the session's)."""
        try:
            await task(tg)
        except Exception as exc:
            if self._failure is None:
                self._failure = exc
            tg.cancel_scope.cancel()

    # -- the three tasks -----------------------------------------------------------------------

    async def _receive_loop(self, tg: TaskGroup) -> None:
        captioner = self._require_captioner()
        idle = self.settings.stream_idle_seconds
        last_audio = time.monotonic()
        while True:
            remaining = idle - (time.monotonic() - last_audio)
            message: Message | None = None
            with anyio.move_on_after(max(0.0, remaining)):
                message = await self._receive()
            if message is None:
                raise StreamError(ErrorCode.IDLE_TIMEOUT, f"no audio for {idle:g} s", CLOSE_NORMAL)
            data = message.get("bytes")
            if data is not None:
                _check_frame(data)
                last_audio = time.monotonic()
                if data:
                    captioner.feed(data)
                    if captioner.pending_samples >= captioner.step_samples:
                        self._wake.set()
                continue
            payload = _json_object(message.get("text") or "")
            kind = payload.get("type")
            if kind == "stop":
                self._stopping = True
                self._wake.set()
                return  # the worker flushes, says done and closes
            if kind == "start":
                raise StreamError(ErrorCode.BAD_REQUEST, "'start' was already sent")
            raise StreamError(ErrorCode.BAD_REQUEST, f"unknown message type {kind!r} (expected 'stop' or audio)")

    async def _work_loop(self, tg: TaskGroup) -> None:
        captioner = self._require_captioner()
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            stopping = self._stopping
            if not stopping and captioner.pending_samples < captioner.step_samples:
                continue
            messages: list[dict[str, Any]] = await self.hub.run(captioner.step, stopping)
            logger.debug(
                "stream %s: step in %.2f s (rtf %.2f, buffer %.1f s)",
                self.id,
                captioner.last_step_seconds,
                captioner.rtf,
                captioner.status()["bufferSeconds"],
            )
            for message in messages:
                if message["type"] != "partial" or self._partials:
                    await self._send(message)
            if not stopping and captioner.pending_samples >= captioner.step_samples:
                self._wake.set()  # a backlog (a replay) is worked through step after step
            if stopping:
                await self._send({"type": "done"})
                await self.websocket.close(CLOSE_NORMAL)
                logger.info("stream %s done (%.1f s of audio)", self.id, captioner.received / SAMPLE_RATE)
                tg.cancel_scope.cancel()
                return

    async def _status_loop(self, tg: TaskGroup) -> None:
        captioner = self._require_captioner()
        while True:
            await anyio.sleep(STATUS_INTERVAL_SECONDS)
            await self._send(captioner.status())

    # -- protocol ------------------------------------------------------------------------------

    async def _receive_start(self) -> Start:
        message: Message | None = None
        with anyio.move_on_after(self.settings.stream_idle_seconds):
            message = await self._receive()
        if message is None:
            raise StreamError(
                ErrorCode.IDLE_TIMEOUT, f"no start message in {self.settings.stream_idle_seconds:g} s", CLOSE_NORMAL
            )
        if message.get("bytes") is not None:
            raise StreamError(ErrorCode.BAD_REQUEST, "audio before the start message")
        return parse_start(_json_object(message.get("text") or ""), self.hub.multilingual, self.hub.model_label)

    async def _receive(self) -> Message:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def _fail(self, error: StreamError) -> None:
        """Best effort: the client may already be gone."""
        try:
            with anyio.fail_after(5):
                await self._send(error.body())
                await self.websocket.close(error.close)
        except Exception:
            pass

    def _require_captioner(self) -> Captioner:
        assert self._captioner is not None
        return self._captioner


def parse_start(payload: dict[str, Any], multilingual: bool, model: str) -> Start:
    """Validates a start message; the error code says whose fault it is (see the protocol)."""
    if payload.get("type") != "start":
        raise StreamError(ErrorCode.BAD_REQUEST, "the first message must be {\"type\":\"start\", ...}")
    unknown = sorted(set(payload) - START_FIELDS)
    if unknown:
        raise StreamError(ErrorCode.BAD_REQUEST, f"unknown start field(s): {', '.join(unknown)}")
    if "sampleRate" not in payload or "encoding" not in payload:
        raise StreamError(ErrorCode.BAD_REQUEST, "start needs 'sampleRate' and 'encoding'")
    rate, encoding = payload["sampleRate"], payload["encoding"]
    if not _is_number(rate) or not isinstance(encoding, str):
        raise StreamError(ErrorCode.BAD_REQUEST, "'sampleRate' must be a number and 'encoding' a string")
    if rate != SAMPLE_RATE or encoding != "s16le":
        raise StreamError(
            ErrorCode.UNSUPPORTED_AUDIO,
            f"only sampleRate {SAMPLE_RATE} with encoding 's16le' (mono) is accepted, not {rate!r}/{encoding!r}",
        )
    offset = payload.get("offset", 0.0)
    if not _is_number(offset) or not math.isfinite(offset) or offset < 0:
        raise StreamError(ErrorCode.BAD_REQUEST, "'offset' must be a number of seconds >= 0")
    committed_until = payload.get("committedUntil")
    if committed_until is not None and (
        not _is_number(committed_until) or not math.isfinite(committed_until) or not offset <= committed_until <= offset + 60
    ):
        raise StreamError(ErrorCode.BAD_REQUEST, "'committedUntil' must be a number of seconds within [offset, offset + 60]")
    prompt = payload.get("prompt") or ""
    if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS:
        raise StreamError(ErrorCode.BAD_REQUEST, f"'prompt' must be a string of at most {MAX_PROMPT_CHARS} characters")
    partials = payload.get("partials", True)
    if not isinstance(partials, bool):
        raise StreamError(ErrorCode.BAD_REQUEST, "'partials' must be a boolean")
    language = payload.get("language")
    if language is not None and not isinstance(language, str):
        raise StreamError(ErrorCode.BAD_REQUEST, "'language' must be a string or null")
    language = (language or "").strip().lower() or None
    if language == "auto":
        language = None
    if language is not None and language not in LANGUAGE_CODES:
        raise StreamError(ErrorCode.UNSUPPORTED_LANGUAGE, f"unknown language code '{language}'")
    if language is not None and language != "en" and not multilingual:
        # The batch endpoint's rule (Transcriber.check_language), same wording.
        raise StreamError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"the loaded model ({model}) is English-only; language '{language}' is not supported "
            "(a multilingual model such as WHISPER_STREAM_MODEL=base is)",
        )
    return Start(
        language=language,
        offset=float(offset),
        prompt=prompt,
        partials=partials,
        committed_until=None if committed_until is None else float(committed_until),
    )


def _check_frame(data: bytes) -> None:
    if len(data) > MAX_FRAME_BYTES:
        raise StreamError(
            ErrorCode.BAD_FRAME, f"audio frame of {len(data)} bytes (limit {MAX_FRAME_BYTES})", CLOSE_TOO_BIG
        )
    if len(data) % 2:
        raise StreamError(ErrorCode.BAD_FRAME, f"audio frame of {len(data)} bytes: s16le needs an even length")


def _json_object(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError:
        raise StreamError(ErrorCode.BAD_REQUEST, "text frames must be JSON objects") from None
    if not isinstance(payload, dict):
        raise StreamError(ErrorCode.BAD_REQUEST, "text frames must be JSON objects")
    return payload


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
