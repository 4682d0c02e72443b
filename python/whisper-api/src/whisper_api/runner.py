"""Admission and execution of transcriptions: slots, a bounded wait, cancellation.

At most ``max_concurrency`` transcriptions run at once (each in a worker
thread); others wait in line, first come first served. A new request is
admitted only if both hold:

- fewer than ``max_queue`` requests are already waiting, and
- its expected wait is at most ``max_wait_seconds``.

The expected wait is a list-scheduling estimate over the jobs the server
holds: each running job still needs ``audio seconds x RTF - elapsed``, each
waiting one ``audio seconds x RTF``; waiting jobs take the earliest free slot
in order, and the new request gets the next one. The RTF starts at
``initial_rtf`` and then follows what this server measures (an exponential
moving average of processing seconds per audio second). A refusal is 503
``busy`` with ``Retry-After``: the seconds until the estimate would admit it.

A transcription whose client goes away is cancelled: in line it leaves at
once; running, it stops at its next segment (or decoded frame) and frees its
slot.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from .audio import Cancelled
from .errors import ApiError, ErrorCode
from .schemas import TranscribeOptions, TranscriptionResponse
from .transcriber import Transcriber

logger = logging.getLogger(__name__)

# How often a running request checks whether its client is still there.
DISCONNECT_POLL_SECONDS = 0.25
# Jobs shorter than this say more about fixed overheads than about the RTF.
MIN_RTF_SAMPLE_SECONDS = 5.0
RTF_SMOOTHING = 0.3
MAX_RETRY_AFTER_SECONDS = 3600


@dataclass(eq=False)
class Job:
    """One admitted transcription."""

    audio_seconds: float
    started_at: float | None = None  # set when it gets a slot
    cancel: threading.Event = field(default_factory=threading.Event)


class Runner:
    def __init__(
        self,
        transcriber: Transcriber,
        *,
        max_concurrency: int,
        max_queue: int,
        max_wait_seconds: float,
        initial_rtf: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transcriber = transcriber
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.max_wait_seconds = max_wait_seconds
        self._rtf = initial_rtf
        self._clock = clock
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._jobs: list[Job] = []  # admitted, in arrival order

    @property
    def running(self) -> int:
        return sum(1 for job in self._jobs if job.started_at is not None)

    @property
    def waiting(self) -> int:
        return len(self._jobs) - self.running

    @property
    def rtf(self) -> float:
        """Processing seconds per audio second the estimates use."""
        return self._rtf

    def expected_wait(self) -> float:
        """Seconds a request arriving now would wait for a slot (0 when one is free)."""
        now = self._clock()
        free_at = [0.0] * self.max_concurrency
        waiting: list[Job] = []
        slot = 0
        for job in self._jobs:
            if job.started_at is None:
                waiting.append(job)
            elif slot < self.max_concurrency:
                free_at[slot] = max(0.0, job.audio_seconds * self._rtf - (now - job.started_at))
                slot += 1
        heapq.heapify(free_at)
        for job in waiting:
            heapq.heappush(free_at, heapq.heappop(free_at) + job.audio_seconds * self._rtf)
        return free_at[0]

    def admit(self, audio_seconds: float) -> Job:
        """Take a request in, or refuse it with 503 ``busy``."""
        if len(self._jobs) >= self.max_concurrency + self.max_queue:
            # Every slot taken and max_queue in line: come back when a slot frees up.
            raise _busy(f"{self.waiting} requests are already waiting", self._first_start())
        wait = self.expected_wait()
        if wait > self.max_wait_seconds:
            raise _busy(
                f"a new request would wait about {wait:.0f} s (limit {self.max_wait_seconds:g} s)",
                wait - self.max_wait_seconds,
            )
        job = Job(audio_seconds=audio_seconds)
        self._jobs.append(job)
        return job

    async def run(
        self,
        job: Job,
        path: Path,
        options: TranscribeOptions,
        disconnected: Callable[[], Awaitable[bool]],
    ) -> TranscriptionResponse:
        """Wait for a slot, transcribe, and release it; gives up when ``disconnected()`` turns true."""
        result: TranscriptionResponse | None = None
        error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    while not await disconnected():
                        await anyio.sleep(DISCONNECT_POLL_SECONDS)
                    job.cancel.set()  # the worker thread stops at its next check
                    tg.cancel_scope.cancel()  # leaves the line at once

                tg.start_soon(watch)
                try:
                    # Not abandoned on cancellation: the temp file must outlive the
                    # thread that reads it, and the slot stays taken until the
                    # model is actually free again.
                    result = await anyio.to_thread.run_sync(self._work, job, path, options, limiter=self._limiter)
                except Cancelled:
                    pass
                except Exception as exc:  # re-raised below: a task group would wrap it in a group
                    error = exc
                tg.cancel_scope.cancel()
        finally:
            self._jobs.remove(job)
        if error is not None:
            raise error
        if result is None:
            logger.info("client disconnected; transcription %s", "stopped" if job.started_at else "dropped from line")
            raise ApiError(499, ErrorCode.CLIENT_DISCONNECTED, "the client disconnected")
        self._observe(result)
        return result

    def _work(self, job: Job, path: Path, options: TranscribeOptions) -> TranscriptionResponse:
        job.started_at = self._clock()
        if job.cancel.is_set():
            raise Cancelled
        return self.transcriber.transcribe(path, options, cancel=job.cancel)

    def _observe(self, result: TranscriptionResponse) -> None:
        if result.duration >= MIN_RTF_SAMPLE_SECONDS:
            measured = result.processing_seconds / result.duration
            self._rtf += RTF_SMOOTHING * (measured - self._rtf)

    def _first_start(self) -> float:
        """Seconds until the first slot frees up (by the estimate)."""
        now = self._clock()
        remaining = [
            max(0.0, job.audio_seconds * self._rtf - (now - job.started_at))
            for job in self._jobs
            if job.started_at is not None
        ]
        return min(remaining, default=0.0)


def _busy(reason: str, retry_after: float) -> ApiError:
    seconds = min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(retry_after)))
    return ApiError(
        503,
        ErrorCode.BUSY,
        f"server is busy: {reason}; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
