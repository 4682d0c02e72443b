"""``whisper-api`` / ``python -m whisper_api``: run the server with uvicorn.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for bad
configuration (including a non-loopback address without ``WHISPER_API_TOKEN``),
3 when the server could not start (e.g. the model failed to load).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from types import FrameType

import uvicorn

EXIT_CONFIG = 2
EXIT_STARTUP = 3


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="whisper-api",
        description="Speech-to-text HTTP server (faster-whisper). Configured by WHISPER_* variables.",
    )
    parser.add_argument("--host", help="bind address (env WHISPER_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="bind port, 0 = any free port (env WHISPER_PORT, default 8765)")
    parser.add_argument(
        "--max-audio-minutes",
        type=_positive_number,
        metavar="MIN",
        help="longest audio accepted, in minutes (env WHISPER_MAX_AUDIO_MINUTES, default 30)",
    )
    parser.add_argument(
        "--max-wait-seconds",
        type=_non_negative_number,
        metavar="S",
        help="refuse (503 busy) a request expected to wait longer for a slot (env WHISPER_MAX_WAIT_SECONDS, default 120)",
    )
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        help="(env WHISPER_LOG_LEVEL, default info)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    # Never reach for the Hugging Face hub unless explicitly allowed
    # (HF_HUB_OFFLINE=0); must be set before faster_whisper imports huggingface_hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from .app import create_app
    from .settings import Settings, SettingsError, is_loopback

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"whisper-api: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    flags = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "max_audio_minutes": args.max_audio_minutes,
        "max_wait_seconds": args.max_wait_seconds,
    }
    overrides = {name: value for name, value in flags.items() if value is not None}
    settings = settings.with_overrides(**overrides)
    if not 0 <= settings.port <= 65535:
        print(f"whisper-api: invalid port {settings.port}", file=sys.stderr)
        return EXIT_CONFIG
    if settings.api_token is None and not is_loopback(settings.host):
        print(
            f"whisper-api: refusing to listen on {settings.host!r} without authentication: "
            "set WHISPER_API_TOKEN (clients then send 'Authorization: Bearer <token>'), "
            "or bind to a loopback address (127.0.0.1, ::1, localhost)",
            file=sys.stderr,
        )
        return EXIT_CONFIG

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.log_level != "debug":
        # faster-whisper logs every request at INFO; our own line is enough.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",  # a failed model load must abort startup
        timeout_graceful_shutdown=30,
        # /v1/stream: audio frames are at most 64 KiB (bigger ones get a 'bad_frame' error from the
        # app); beyond 1 MiB the protocol layer closes with 1009 itself. PCM does not compress:
        # per-message deflate would only cost CPU.
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
    )
    server = _ReadyServer(config, settings.model_name or settings.model)

    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores the previous
    # handlers and re-raises the signal; these handlers turn that into exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    try:
        server.run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    if not server.started:
        return EXIT_STARTUP
    return 0


def _positive_number(raw: str) -> float:
    value = float(raw)
    if not 0 < value < float("inf"):
        raise ValueError(raw)
    return value


def _non_negative_number(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < float("inf"):
        raise ValueError(raw)
    return value


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class _ReadyServer(uvicorn.Server):
    """Prints one line to stdout once the socket accepts connections."""

    def __init__(self, config: uvicorn.Config, model: str) -> None:
        super().__init__(config)
        self._model = model

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"whisper-api ready on http://{host}:{port} (model: {self._model})", flush=True)
