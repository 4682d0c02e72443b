"""Helpers shared by the tests: synthesise known English speech and score it."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import jiwer
import pytest

DATA_DIR = Path(__file__).parent / "data"
# Known English text, no digits (Whisper would write them as numerals).
REFERENCE_TEXT = (DATA_DIR / "speech_en.txt").read_text(encoding="utf-8").strip()
MAX_WER = 0.25


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"'{name}' is not installed (Debian packages: flite ffmpeg sox)", pytrace=False)
    return path


def synthesize(text: str, out: Path, voice: str = "slt") -> Path:
    """Speak ``text`` into a WAV file with flite."""
    text_file = out.with_suffix(".txt")
    text_file.write_text(text, encoding="utf-8")
    subprocess.run([require_tool("flite"), "-voice", voice, "-f", str(text_file), "-o", str(out)], check=True)
    return out


def convert(src: Path, out: Path, *args: str) -> Path:
    """Re-encode ``src`` with ffmpeg; the output format follows ``out``'s suffix."""
    subprocess.run(
        [require_tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *args, str(out)],
        check=True,
    )
    return out


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def normalize(text: str) -> str:
    """Lower-case, drop punctuation (hyphens split words), collapse spaces."""
    return " ".join(re.sub(r"[^a-z ]+", " ", text.lower().replace("'", "")).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))
