"""FastAPI application: routes, lifespan (model loading) and error rendering.

Run with ``whisper-api`` or ``uvicorn --factory whisper_api.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .audio import over_limit, probe, too_long
from .auth import BearerAuth
from .errors import ApiError, ErrorCode, error_body
from .runner import Runner
from .schemas import ErrorResponse, HealthResponse, StreamsHealth, TranscribeOptions, TranscriptionResponse
from .settings import Settings
from .stream import StreamHub, StreamSession
from .transcriber import Transcriber
from .upload import FILE_FIELD, receive_upload


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loading takes a moment and is blocking; keep the loop responsive.
        transcriber = await anyio.to_thread.run_sync(Transcriber, settings)
        app.state.runner = Runner(
            transcriber,
            max_concurrency=settings.max_concurrency,
            max_queue=settings.max_queue,
            max_wait_seconds=settings.max_wait_seconds,
            initial_rtf=settings.initial_rtf,
        )
        # Live captions: a second model instance with its own threads and pool (see stream.py).
        app.state.streams = await anyio.to_thread.run_sync(StreamHub, settings)
        try:
            yield
        finally:
            app.state.runner = None
            hub, app.state.streams = app.state.streams, None
            hub.close()

    app = FastAPI(
        title="whisper-api",
        version=__version__,
        summary="Speech-to-text with faster-whisper",
        lifespan=lifespan,
        # "/v1/transcribe/" is a 404 like any other unknown path, not a redirect.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.runner = None
    app.state.streams = None
    _install_error_handlers(app)
    if settings.api_token is not None:
        app.add_middleware(BearerAuth, token=settings.api_token)

    error_responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in (400, 401, 413, 415, 422, 503)
    }

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": ErrorResponse}})
    async def health(request: Request) -> HealthResponse:
        runner = _runner(request)
        return HealthResponse(
            status="ok",
            model=settings.model_name or settings.model,
            model_path=settings.model,
            multilingual=runner.transcriber.is_multilingual,
            device=settings.device,
            compute_type=settings.compute_type,
            running=runner.running,
            waiting=runner.waiting,
            expected_wait_seconds=round(runner.expected_wait(), 1),
            rtf=round(runner.rtf, 4),
            streams=_streams_health(request, settings),
        )

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        hub: StreamHub | None = websocket.app.state.streams
        if hub is None:  # only between shutdown and the last connection closing
            await websocket.close(1013)
            return
        await StreamSession(websocket, hub).run()

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
            # Refuse what is declared too long before decoding anything; decoding
            # counts samples too, for files whose header understates the length.
            declared = (await anyio.to_thread.run_sync(probe, upload.path)).duration
            if declared is not None and over_limit(declared, settings.max_audio_seconds):
                raise too_long(settings.max_audio_seconds, declared)
            job = runner.admit(declared if declared is not None else settings.max_audio_seconds)
            return await runner.run(job, upload.path, options, request.is_disconnected)
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


def _streams_health(request: Request, settings: Settings) -> StreamsHealth:
    hub: StreamHub | None = request.app.state.streams
    return StreamsHealth(
        active=hub.active if hub is not None else 0,
        max=settings.max_streams,
        model=settings.stream_model_label,
    )


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
