"""Request options and response bodies (pydantic models, also used for OpenAPI)."""

from __future__ import annotations

from faster_whisper.tokenizer import _LANGUAGE_CODES
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .settings import MAX_BEAM_SIZE

# faster-whisper keeps its language table private; copying it into a public
# constant keeps the private import in one place.
LANGUAGE_CODES: frozenset[str] = frozenset(_LANGUAGE_CODES)


class TranscribeOptions(BaseModel):
    """Form fields of ``POST /v1/transcribe`` (besides ``file``).

    Unset values fall back to the server defaults. Unknown fields are rejected
    so that a misspelt option is not silently ignored.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    language: str | None = Field(
        default=None,
        description="ISO 639-1 code, e.g. 'en'. Omit to auto-detect (English-only models always use 'en').",
    )
    beam_size: int | None = Field(default=None, ge=1, le=MAX_BEAM_SIZE)
    vad_filter: bool | None = Field(default=None, description="Skip non-speech with the Silero VAD.")
    word_timestamps: bool = False
    initial_prompt: str | None = Field(default=None, max_length=2000)
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Fixed sampling temperature. Omit for Whisper's fallback schedule 0.0..1.0.",
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if value not in LANGUAGE_CODES:
            raise ValueError(f"unknown language code '{value}'")
        return value


class Word(BaseModel):
    start: float
    end: float
    word: str
    probability: float


class Segment(BaseModel):
    id: int
    start: float
    end: float
    text: str
    words: list[Word] | None = None


class TranscriptionResponse(BaseModel):
    language: str
    language_probability: float
    duration: float = Field(description="Audio duration in seconds.")
    processing_seconds: float = Field(description="Decode + transcription wall time.")
    segments: list[Segment]
    text: str


class StreamsHealth(BaseModel):
    active: int = Field(description="Live-caption streams open now (GET /v1/stream).")
    max: int = Field(description="WHISPER_MAX_STREAMS: more are refused with 'busy'.")
    model: str = Field(description="The live-caption model (WHISPER_STREAM_MODEL, by default WHISPER_MODEL).")


class HealthResponse(BaseModel):
    status: str
    model: str = Field(description="The model as configured: a short name ('base', 'tiny.en'), a path or a hub id.")
    model_path: str = Field(description="What was loaded (the model directory, or the name faster-whisper resolved).")
    multilingual: bool = Field(description="False for English-only models, which refuse any language but 'en'.")
    device: str
    compute_type: str
    running: int = Field(description="Transcriptions holding a slot (decoding or in the model).")
    waiting: int = Field(description="Admitted transcriptions waiting for a slot.")
    expected_wait_seconds: float = Field(
        description="Estimated seconds a request arriving now would wait for a slot (0 = a slot is free)."
    )
    rtf: float = Field(description="Processing seconds per audio second the wait estimate uses (measured).")
    streams: StreamsHealth


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
