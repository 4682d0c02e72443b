"""Streaming ``multipart/form-data`` reader with a hard size limit.

Starlette's form parser has no limit for file parts, so we drive
python-multipart ourselves: the ``file`` part is written straight to a temp
file while its size is counted, and the request is rejected (413) the moment
it passes the limit, without reading the rest of the body. Small text fields
are kept in memory, with their own count and size limits.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from .errors import ApiError, ErrorCode

FILE_FIELD = "file"
MAX_FIELDS = 32
MAX_FIELD_BYTES = 64 * 1024
# Names and values of one part's headers together (Content-Disposition, Content-Type...).
MAX_PART_HEADER_BYTES = 8 * 1024
# Allowance on top of the file limit for boundaries, part headers and fields,
# used only for the early Content-Length check.
BODY_OVERHEAD_BYTES = MAX_FIELDS * MAX_FIELD_BYTES


@dataclass
class Upload:
    """A received form: the spooled audio file (if any) and the text fields."""

    path: Path | None = None
    filename: str | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)

    def cleanup(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


class _FormSink:
    """python-multipart callbacks; raises ``ApiError`` to abort parsing early."""

    def __init__(self, upload: Upload, max_file_bytes: int, tmp_dir: str | None) -> None:
        self.upload = upload
        self.max_file_bytes = max_file_bytes
        self.tmp_dir = tmp_dir
        self.finished = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._file: BinaryIO | None = None
        self._value = bytearray()
        self._part_count = 0
        self._header_bytes = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._part_count += 1
        if self._part_count > MAX_FIELDS:
            raise ApiError(400, ErrorCode.INVALID_MULTIPART, f"too many form fields (max {MAX_FIELDS})")
        self._headers = {}
        self._header_bytes = 0
        self._name = None
        self._value.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise ApiError(
                400, ErrorCode.INVALID_MULTIPART, f"form part headers exceed {MAX_PART_HEADER_BYTES // 1024} KiB"
            )

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition"))
        raw_name = params.get(b"name")
        if raw_name is None:
            raise ApiError(400, ErrorCode.INVALID_MULTIPART, "form part without a name")
        name = raw_name.decode("utf-8", errors="replace")
        is_file = b"filename" in params
        if name == FILE_FIELD:
            if self.upload.path is not None:
                raise ApiError(400, ErrorCode.INVALID_MULTIPART, "only one 'file' part is allowed", field=FILE_FIELD)
            fd, path = tempfile.mkstemp(prefix="whisper-api-", suffix=".upload", dir=self.tmp_dir)
            # Record the path first so cleanup() removes it whatever happens next.
            self.upload.path = Path(path)
            self._file = os.fdopen(fd, "wb")
            filename = params.get(b"filename")
            self.upload.filename = filename.decode("utf-8", errors="replace") if filename else None
        elif is_file:
            raise ApiError(
                422, ErrorCode.INVALID_OPTION, f"unexpected file field '{name}'; send audio as 'file'", field=name
            )
        elif name in self.upload.fields:
            raise ApiError(422, ErrorCode.INVALID_OPTION, f"field '{name}' given more than once", field=name)
        self._name = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None:
            self.upload.size += len(chunk)
            if self.upload.size > self.max_file_bytes:
                raise ApiError(
                    413,
                    ErrorCode.FILE_TOO_LARGE,
                    f"file exceeds the upload limit of {_human_bytes(self.max_file_bytes)}",
                    field=FILE_FIELD,
                )
            # Plain buffered write: chunks are <= 64 KiB and land in the page
            # cache, so this does not stall the event loop measurably.
            self._file.write(chunk)
        else:
            self._value += chunk
            if len(self._value) > MAX_FIELD_BYTES:
                raise ApiError(422, ErrorCode.INVALID_OPTION, f"field '{self._name}' is too long", field=self._name)

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._name is not None:
            try:
                self.upload.fields[self._name] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(
                    422, ErrorCode.INVALID_OPTION, f"field '{self._name}' is not valid UTF-8", field=self._name
                ) from None
        self._name = None

    def on_end(self) -> None:
        self.finished = True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive_upload(request: Request, max_file_bytes: int, tmp_dir: str | None) -> Upload:
    """Parse the request body into an ``Upload``.

    On any error the temp file is removed before the exception propagates; on
    success the caller owns the upload and must call ``Upload.cleanup()``.
    """
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "expected a multipart/form-data request body")
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, ErrorCode.INVALID_MULTIPART, "multipart boundary is missing")

    # Cheap early rejection when the client declares an oversized body.
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_file_bytes + BODY_OVERHEAD_BYTES:
        raise ApiError(
            413,
            ErrorCode.FILE_TOO_LARGE,
            f"request body exceeds the upload limit of {_human_bytes(max_file_bytes)}",
            field=FILE_FIELD,
        )

    upload = Upload()
    sink = _FormSink(upload, max_file_bytes, tmp_dir)
    try:
        parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
        async for chunk in _body(request):
            parser.write(chunk)
        parser.finalize()
        if not sink.finished:
            raise ApiError(400, ErrorCode.INVALID_MULTIPART, "multipart body is incomplete")
    except FormParserError as exc:
        sink.close()
        upload.cleanup()
        raise ApiError(400, ErrorCode.INVALID_MULTIPART, f"malformed multipart body: {exc}") from None
    except BaseException:
        # Includes ApiError, ClientDisconnect and cancellation.
        sink.close()
        upload.cleanup()
        raise
    return upload


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise ApiError(400, ErrorCode.INVALID_MULTIPART, "client disconnected during upload") from None


def _human_bytes(n: int) -> str:
    # Same unit as WHISPER_MAX_UPLOAD_MB, so the message matches the setting.
    return f"{n / (1024 * 1024):.4g} MB"
