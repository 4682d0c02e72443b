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


def loop_wav(src: Path, out: Path, min_seconds: float) -> Path:
    """``src`` repeated until it lasts at least ``min_seconds`` (plain sample copy, no re-encoding)."""
    with wave.open(str(src), "rb") as reader:
        params, frames = reader.getparams(), reader.readframes(reader.getnframes())
    times = max(1, int(-(-min_seconds // (params.nframes / params.framerate))))
    with wave.open(str(out), "wb") as writer:
        writer.setparams(params)
        for _ in range(times):
            writer.writeframes(frames)
    return out


def long_low_bitrate_mp3(out: Path, minutes: int) -> Path:
    """``minutes`` of pink noise as an 8 kbit/s MP3: one minute encoded, then stream-copied N times.

    Cheap at any length (3 hours: ~10.8 MB in well under a second); the MP3
    muxer writes a Xing header, so the container states the true duration.
    """
    one = out.with_name(out.stem + "-1min.mp3")
    ffmpeg = require_tool("ffmpeg")
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anoisesrc=d=60:c=pink:r=8000:a=0.3",
         "-ac", "1", "-c:a", "libmp3lame", "-b:a", "8k", str(one)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-stream_loop", str(minutes - 1), "-i", str(one),
         "-c", "copy", str(out)],
        check=True,
    )  # fmt: skip
    return out


def understated_mp3(out: Path, real_seconds: int) -> Path:
    """An MP3 whose container understates its length about 20-fold.

    Two seconds of loud noise at 160 kbit/s, then ``real_seconds`` of quiet
    noise at 8 kbit/s, no Xing header: FFmpeg estimates the duration from the
    first frames' bitrate and the file size, so only decoding tells the truth.
    """
    ffmpeg = require_tool("ffmpeg")
    parts = []
    for name, seconds, amplitude, bitrate in (("loud", 2, 0.5, "160k"), ("quiet", real_seconds, 0.01, "8k")):
        part = out.with_name(f"{out.stem}-{name}.mp3")
        subprocess.run(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"anoisesrc=d={seconds}:r=24000:a={amplitude}", "-ac", "1", "-c:a", "libmp3lame",
             "-b:a", bitrate, "-write_xing", "0", "-id3v2_version", "0", str(part)],
            check=True,
        )  # fmt: skip
        parts.append(part.read_bytes())
    out.write_bytes(b"".join(parts))
    return out


# The phrase the STT notes measured; espeak-ng's Korean is the only Korean voice
# Debian has. Its voice variant m3 at 150 words/min is the clearest of the
# espeak Korean voices for Whisper base (CER ~0.2 here; the plain voice ~0.5).
KOREAN_TEXT = "안녕하세요. 오늘 날씨가 좋습니다. 감사합니다."
KOREAN_VOICE = ("-v", "ko+m3", "-s", "150")


def synthesize_korean(text: str, out: Path) -> Path:
    """Speak Korean ``text`` with espeak-ng into a WAV file."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("'espeak-ng' is not installed (Debian package espeak-ng)", pytrace=False)
    subprocess.run([espeak, *KOREAN_VOICE, "-w", str(out), text], check=True)
    return out


def character_error_rate(reference: str, hypothesis: str) -> float:
    """CER over letters and digits only (punctuation and spaces dropped), e.g. for Korean."""

    def keep(text: str) -> str:
        return "".join(ch for ch in text if ch.isalnum())

    return float(jiwer.cer(keep(reference), keep(hypothesis)))


def hangul_share(text: str) -> float:
    """Share of the letters in ``text`` that are Hangul syllables or jamo."""
    letters = [ch for ch in text if ch.isalpha()]
    hangul = [ch for ch in letters if "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"]
    return len(hangul) / len(letters) if letters else 0.0
