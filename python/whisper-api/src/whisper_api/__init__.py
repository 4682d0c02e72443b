"""whisper-api: an HTTP transcription service around faster-whisper."""

__version__ = "0.1.0"
