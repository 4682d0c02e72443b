"""Process configuration, read once from ``WHISPER_*`` environment variables.

Every value is validated up front so a typo fails at startup with a message
naming the variable, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from .models import DEFAULT_MODEL, ModelNotInstalled, is_known, model_path

T = TypeVar("T")

DEVICES = ("cpu", "cuda", "auto")
# Compute types accepted by CTranslate2 (``ctranslate2.get_supported_compute_types``
# narrows this per device at load time; here we only reject typos).
COMPUTE_TYPES = (
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
MAX_BEAM_SIZE = 10
MIN_TOKEN_LENGTH = 16
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """One or more ``WHISPER_*`` variables are invalid; the message lists them all."""


def default_model() -> str:
    """Directory of the default model (``models.DEFAULT_MODEL``); raises ``SettingsError`` if it is not installed."""
    try:
        return _resolve_model(DEFAULT_MODEL, None)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    #: What faster-whisper loads: a model directory, or a name / hub id it resolves itself.
    model: str
    #: How the model was asked for: a short name (``base``, ``tiny.en``) or the value of WHISPER_MODEL.
    model_name: str = ""
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    num_workers: int = 1
    beam_size: int = 5
    vad_filter: bool = True
    max_upload_mb: float = 200.0
    # 6 x the SDK's 5-minute batches; decoding and transcription memory do
    # not grow with it (audio is processed in bounded windows), but the time
    # a request holds a slot does: ~2 min with tiny.en on 2 cores (RTF 0.065).
    max_audio_minutes: float = 30.0
    max_concurrency: int = 1
    max_queue: int = 8
    # A request that would wait longer than this for a slot gets 503 busy.
    max_wait_seconds: float = 120.0
    # Processing seconds per audio second assumed until the server has measured its own.
    initial_rtf: float = 0.1
    # Live captions (GET /v1/stream). Empty stream_model = the same model as WHISPER_MODEL,
    # still loaded as a second instance with its own threads so streams are not starved by batch work.
    stream_model: str = ""
    stream_model_name: str = ""
    stream_cpu_threads: int = 1
    max_streams: int = 2
    # A stream that sends no audio for this long is closed (idle_timeout).
    stream_idle_seconds: float = 30.0
    # New audio between two re-transcriptions of a stream's buffer.
    stream_step_seconds: float = 1.0
    # Longest audio a stream re-transcribes; beyond it the oldest words are committed as they are.
    stream_max_buffer_seconds: float = 15.0
    # When set, every endpoint but /health requires "Authorization: Bearer <token>".
    api_token: str | None = field(default=None, repr=False)
    tmp_dir: str | None = None
    host: str = "127.0.0.1"
    port: int = 8765
    log_level: str = "info"

    @property
    def stream_model_path(self) -> str:
        """What the live-caption model loads (``model`` unless WHISPER_STREAM_MODEL says otherwise)."""
        return self.stream_model or self.model

    @property
    def stream_model_label(self) -> str:
        return self.stream_model_name or self.stream_model or self.model_name or self.model

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_audio_seconds(self) -> float:
        return self.max_audio_minutes * 60.0

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``).

        Raises ``SettingsError`` listing every invalid variable at once.
        """
        env = os.environ if environ is None else environ
        errors: list[str] = []

        def get(name: str, parse: Callable[[str], T], default: T, *, secret: bool = False) -> T:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return parse(raw)
            except ValueError as exc:
                errors.append(f"{name}{'' if secret else f'={raw!r}'}: {exc}")
                return default

        model_name = env.get("WHISPER_MODEL", "").strip() or DEFAULT_MODEL
        model = get("WHISPER_MODEL", lambda raw: _resolve_model(raw, env), "")
        settings = cls(
            model=model,
            model_name=model_name,
            device=get("WHISPER_DEVICE", _choice(DEVICES), cls.device),
            compute_type=get("WHISPER_COMPUTE_TYPE", _choice(COMPUTE_TYPES), cls.compute_type),
            cpu_threads=get("WHISPER_CPU_THREADS", _int_range(0, 256), cls.cpu_threads),
            num_workers=get("WHISPER_NUM_WORKERS", _int_range(1, 64), cls.num_workers),
            beam_size=get("WHISPER_BEAM_SIZE", _int_range(1, MAX_BEAM_SIZE), cls.beam_size),
            vad_filter=get("WHISPER_VAD_FILTER", parse_bool, cls.vad_filter),
            max_upload_mb=get("WHISPER_MAX_UPLOAD_MB", _positive_float, cls.max_upload_mb),
            max_audio_minutes=get("WHISPER_MAX_AUDIO_MINUTES", _positive_float, cls.max_audio_minutes),
            max_concurrency=get("WHISPER_MAX_CONCURRENCY", _int_range(1, 64), cls.max_concurrency),
            max_queue=get("WHISPER_MAX_QUEUE", _int_range(0, 10_000), cls.max_queue),
            max_wait_seconds=get("WHISPER_MAX_WAIT_SECONDS", _non_negative_float, cls.max_wait_seconds),
            initial_rtf=get("WHISPER_INITIAL_RTF", _positive_float, cls.initial_rtf),
            stream_model=get("WHISPER_STREAM_MODEL", lambda raw: _resolve_model(raw, env), ""),
            stream_model_name=env.get("WHISPER_STREAM_MODEL", "").strip(),
            stream_cpu_threads=get("WHISPER_STREAM_CPU_THREADS", _int_range(0, 256), cls.stream_cpu_threads),
            max_streams=get("WHISPER_MAX_STREAMS", _int_range(1, 64), cls.max_streams),
            stream_idle_seconds=get("WHISPER_STREAM_IDLE_SECONDS", _positive_float, cls.stream_idle_seconds),
            stream_step_seconds=get("WHISPER_STREAM_STEP_SECONDS", _float_range(0.2, 10.0), cls.stream_step_seconds),
            stream_max_buffer_seconds=get(
                "WHISPER_STREAM_MAX_BUFFER_SECONDS", _float_range(4.0, 30.0), cls.stream_max_buffer_seconds
            ),
            api_token=get("WHISPER_API_TOKEN", parse_token, None, secret=True),
            tmp_dir=get("WHISPER_TMP_DIR", _existing_dir, None),
            host=get("WHISPER_HOST", str, cls.host),
            port=get("WHISPER_PORT", _int_range(0, 65535), cls.port),
            log_level=get("WHISPER_LOG_LEVEL", _choice(LOG_LEVELS, lower=True), cls.log_level),
        )
        if not env.get("WHISPER_MODEL", "").strip():
            try:
                settings = replace(settings, model=_resolve_model(DEFAULT_MODEL, env))
            except ValueError as exc:
                errors.append(f"WHISPER_MODEL unset (default {DEFAULT_MODEL!r}): {exc}")
        if settings.stream_step_seconds * 2 > settings.stream_max_buffer_seconds:
            errors.append(
                "WHISPER_STREAM_STEP_SECONDS: must be at most half of WHISPER_STREAM_MAX_BUFFER_SECONDS "
                f"({settings.stream_max_buffer_seconds:g})"
            )
        if errors:
            raise SettingsError("invalid configuration:\n  " + "\n  ".join(errors))
        return settings


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")


def _choice(options: tuple[str, ...], *, lower: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower() if lower else raw
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer between {low} and {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected an integer between {low} and {high}")
        return value

    return parse


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a positive number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number")
    return value


def _float_range(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number between {low:g} and {high:g}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a number between {low:g} and {high:g}")
        return value

    return parse


def _non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number >= 0") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a number >= 0")
    return value


def parse_token(raw: str) -> str:
    """A bearer token: at least ``MIN_TOKEN_LENGTH`` visible ASCII characters (no spaces)."""
    if len(raw) < MIN_TOKEN_LENGTH or not all("!" <= char <= "~" for char in raw):
        # The message must not echo the value: it is a secret.
        raise ValueError(f"expected at least {MIN_TOKEN_LENGTH} visible ASCII characters without spaces")
    return raw


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1, ``localhost``."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _existing_dir(raw: str) -> str:
    if not Path(raw).is_dir():
        raise ValueError("directory does not exist")
    return raw


def _resolve_model(raw: str, env: Mapping[str, str] | None) -> str:
    """A short name Lectern installs (``models.MODELS``) → its directory; otherwise a path or hub id, checked."""
    if is_known(raw):
        try:
            return str(model_path(raw, env))
        except ModelNotInstalled as exc:
            raise ValueError(str(exc)) from None
        except ImportError as exc:
            raise ValueError(f"the package bundling '{raw}' is not installed ({exc})") from None
    # Otherwise a local directory or a faster-whisper name / hub id
    # ("Systran/faster-whisper-small", needs the hub); only a path that exists can be checked here.
    path = Path(raw).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ValueError("path exists but contains no CTranslate2 model.bin")
        return str(path)
    if raw.startswith((".", "/", "~")):
        raise ValueError("model directory does not exist")
    return raw
