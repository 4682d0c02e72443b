"""Client-facing errors: one JSON shape and a stable machine-readable code.

Every error response looks like::

    {"error": {"code": "file_too_large", "message": "...", "field": "file"}}

``field`` is present only when a specific form field is to blame. Clients
should branch on ``code``; ``message`` is for humans and may change.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    MISSING_FILE = "missing_file"
    EMPTY_FILE = "empty_file"
    INVALID_AUDIO = "invalid_audio"
    FILE_TOO_LARGE = "file_too_large"
    AUDIO_TOO_LONG = "audio_too_long"
    INVALID_OPTION = "invalid_option"
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_MULTIPART = "invalid_multipart"
    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"
    MODEL_NOT_LOADED = "model_not_loaded"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    CLIENT_DISCONNECTED = "client_disconnected"
    INTERNAL_ERROR = "internal_error"
    # Live captions (GET /v1/stream), sent as {"type": "error", "code": ...} before the close.
    BAD_REQUEST = "bad_request"
    BAD_FRAME = "bad_frame"
    UNSUPPORTED_AUDIO = "unsupported_audio"
    IDLE_TIMEOUT = "idle_timeout"
    INTERNAL = "internal"


class ApiError(Exception):
    """Raised anywhere in request handling; rendered by the app's exception handler."""

    def __init__(
        self,
        status_code: int,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field)


def error_body(code: ErrorCode, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code.value, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}
