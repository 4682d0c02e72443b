"""FastAPI application: routes, lifespan (model loading) and error rendering.

Run with ``whisper-api`` or ``uvicorn --factory whisper_api.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .errors import ApiError, ErrorCode, error_body
from .schemas import ErrorResponse, HealthResponse, TranscribeOptions, TranscriptionResponse
from .settings import Settings
from .transcriber import Transcriber
from .upload import FILE_FIELD, receive_upload


class Runner:
    """Runs blocking transcriptions in worker threads, at most ``max_concurrency``
    at a time, with at most ``max_queue`` more waiting; beyond that, 503."""

    def __init__(self, transcriber: Transcriber, max_concurrency: int, max_queue: int) -> None:
        self.transcriber = transcriber
        self._limiter = anyio.CapacityLimiter(max_concurrency)
        self._capacity = max_concurrency + max_queue
        self._admitted = 0

    @property
    def running(self) -> int:
        return int(self._limiter.borrowed_tokens)

    @property
    def waiting(self) -> int:
        return self._admitted - self.running

    async def transcribe(self, path: Path, options: TranscribeOptions) -> TranscriptionResponse:
        if self._admitted >= self._capacity:
            raise ApiError(
                503,
                ErrorCode.BUSY,
                "server is busy: too many transcriptions in progress, retry later",
                headers={"Retry-After": "5"},
            )
        self._admitted += 1
        try:
            # Not abandoned on cancellation: the temp file must outlive the
            # thread that reads it, and the limiter slot must stay taken
            # until the model is actually free again.
            return await anyio.to_thread.run_sync(self.transcriber.transcribe, path, options, limiter=self._limiter)
        finally:
            self._admitted -= 1


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loading takes a moment and is blocking; keep the loop responsive.
        transcriber = await anyio.to_thread.run_sync(Transcriber, settings)
        app.state.runner = Runner(transcriber, settings.max_concurrency, settings.max_queue)
        try:
            yield
        finally:
            app.state.runner = None

    app = FastAPI(
        title="whisper-api",
        version=__version__,
        summary="Speech-to-text with faster-whisper",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runner = None
    _install_error_handlers(app)

    error_responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in (400, 413, 415, 422, 503)
    }

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": ErrorResponse}})
    async def health(request: Request) -> HealthResponse:
        runner = _runner(request)
        return HealthResponse(
            status="ok",
            model=settings.model,
            device=settings.device,
            compute_type=settings.compute_type,
            running=runner.running,
            waiting=runner.waiting,
        )

    @app.post(
        "/v1/transcribe",
        response_model=TranscriptionResponse,
        response_model_exclude_none=True,  # "words" only appears with word_timestamps
        responses=error_responses,
        openapi_extra={"requestBody": _multipart_schema()},
    )
    async def transcribe(request: Request) -> TranscriptionResponse:
        runner = _runner(request)
        upload = await receive_upload(request, settings.max_upload_bytes, settings.tmp_dir)
        try:
            if upload.path is None:
                raise ApiError(422, ErrorCode.MISSING_FILE, "form field 'file' is required", field=FILE_FIELD)
            if upload.size == 0:
                raise ApiError(400, ErrorCode.EMPTY_FILE, "the uploaded file is empty", field=FILE_FIELD)
            options = parse_options(upload.fields)
            runner.transcriber.check_language(options.language)
            return await runner.transcribe(upload.path, options)
        finally:
            upload.cleanup()

    return app


def parse_options(fields: dict[str, str]) -> TranscribeOptions:
    # HTML forms and many clients send empty strings for unset fields.
    present = {name: value for name, value in fields.items() if value.strip() != ""}
    try:
        return TranscribeOptions.model_validate(present)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        name = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] == "extra_forbidden":
            message = f"unknown form field '{name}'"
        else:
            message = f"invalid value for '{name}': {first['msg']}"
        raise ApiError(422, ErrorCode.INVALID_OPTION, message, field=name) from None


def _runner(request: Request) -> Runner:
    runner: Runner | None = request.app.state.runner
    if runner is None:
        raise ApiError(503, ErrorCode.MODEL_NOT_LOADED, "the model is not loaded")
    return runner


def _multipart_schema() -> dict[str, Any]:
    schema = TranscribeOptions.model_json_schema()
    schema["properties"] = {FILE_FIELD: {"type": "string", "format": "binary"}, **schema["properties"]}
    schema["required"] = [FILE_FIELD]
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        name = ".".join(str(p) for p in first["loc"][1:]) or None
        return JSONResponse(
            error_body(ErrorCode.INVALID_OPTION, f"invalid value for '{name}': {first['msg']}", name),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after sending this, so the server logs the traceback.
        return JSONResponse(error_body(ErrorCode.INTERNAL_ERROR, "internal server error"), status_code=500)
