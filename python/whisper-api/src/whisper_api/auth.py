"""Optional bearer-token authentication for every endpoint but ``/health``.

A pure ASGI middleware, so it answers before anything reads the request body
(an unauthenticated 200 MB upload is refused after its headers) and it covers
every path, including unknown ones, the OpenAPI pages and WebSockets
(``/v1/stream``: refused on the handshake with the same 401, before the
connection is accepted, so nothing is streamed unauthenticated). ``/health`` stays
open: load balancers and orchestrators probe it without credentials, and it
tells only whether the model is loaded and how busy the server is.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ErrorCode, error_body

PUBLIC_PATHS = frozenset({"/health"})


class BearerAuth:
    """Requires ``Authorization: Bearer <token>``; compares in constant time."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        presented = _bearer(scope)
        if presented is not None and hmac.compare_digest(presented, self._expected):
            await self.app(scope, receive, send)
            return
        if presented is None:
            challenge, message = b"Bearer", "missing bearer token (Authorization: Bearer <token>)"
        else:
            challenge, message = b'Bearer error="invalid_token"', "invalid bearer token"
        body = json.dumps(error_body(ErrorCode.UNAUTHORIZED, message)).encode()
        prefix = "http"
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            if "websocket.http.response" not in scope.get("extensions", {}):
                # The server cannot answer a handshake with a response: refuse it (HTTP 403, close 1008).
                await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
                return
            prefix = "websocket.http"
        await send(
            {
                "type": f"{prefix}.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge),
                ],
            }
        )
        await send({"type": f"{prefix}.response.body", "body": body})


def _bearer(scope: Scope) -> bytes | None:
    """The token of the first ``Authorization: Bearer ...`` header, as raw bytes."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header: bytes = value
            scheme, _, token = header.strip().partition(b" ")
            if scheme.lower() != b"bearer":
                return b""  # another scheme: a wrong credential, not a missing one
            return token.strip()
    return None
