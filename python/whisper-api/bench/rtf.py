#!/usr/bin/env python3
"""Real-time-factor benchmark of the whisper-api transcription path (not a test).

Synthesises English speech with flite from a known text (optionally repeated
to reach ``--minutes``), transcribes it with the same ``Transcriber`` the
server uses, and prints audio duration, processing time, RTF and WER.

    .venv/bin/python bench/rtf.py                 # the >= 30 s test clip
    .venv/bin/python bench/rtf.py --minutes 5 --json
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before faster_whisper imports huggingface_hub

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import jiwer

from whisper_api.schemas import TranscribeOptions
from whisper_api.settings import Settings
from whisper_api.transcriber import Transcriber

DEFAULT_TEXT = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech_en.txt"


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]+", " ", text.lower().replace("'", "")).split())


def synthesize(text: str, out: Path, voice: str) -> None:
    if shutil.which("flite") is None:
        sys.exit("flite is not installed (apt-get install flite)")
    text_file = out.with_suffix(".txt")
    text_file.write_text(text, encoding="utf-8")
    subprocess.run(["flite", "-voice", voice, "-f", str(text_file), "-o", str(out)], check=True)


def repeat_wav(src: Path, out: Path, times: int) -> None:
    """Concatenate ``src`` with itself; flite once + copy is much faster than flite on N x text."""
    with wave.open(str(src), "rb") as reader:
        params, frames = reader.getparams(), reader.readframes(reader.getnframes())
    with wave.open(str(out), "wb") as writer:
        writer.setparams(params)
        for _ in range(times):
            writer.writeframes(frames)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="reference text file")
    parser.add_argument("--minutes", type=float, help="repeat the clip to at least this many minutes")
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 cpu_threads (default 2)")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--no-vad", action="store_true", help="disable the VAD filter")
    parser.add_argument("--model", help="model short name (base, tiny.en) or path (default: the server's default, base)")
    parser.add_argument("--voice", default="slt", help="flite voice (default slt)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    env = {"WHISPER_MODEL": args.model} if args.model else {}
    settings = Settings.from_env(env).with_overrides(
        cpu_threads=args.threads,
        compute_type=args.compute_type,
        beam_size=args.beam_size,
        vad_filter=not args.no_vad,
    )
    text = args.text.read_text(encoding="utf-8").strip()

    with tempfile.TemporaryDirectory(prefix="whisper-bench-") as tmp:
        clip = Path(tmp) / "clip.wav"
        synthesize(text, clip, args.voice)
        repeats = 1
        if args.minutes:
            repeats = max(1, math.ceil(args.minutes * 60 / wav_duration(clip)))
            long_clip = Path(tmp) / "long.wav"
            repeat_wav(clip, long_clip, repeats)
            clip = long_clip
        reference = " ".join([text] * repeats)

        load_started = time.perf_counter()
        transcriber = Transcriber(settings)
        load_seconds = time.perf_counter() - load_started
        result = transcriber.transcribe(clip, TranscribeOptions(), max_seconds=24 * 3600.0)

    wer = float(jiwer.wer(normalize(reference), normalize(result.text)))
    figures = {
        "model": settings.model,
        "compute_type": settings.compute_type,
        "cpu_threads": settings.cpu_threads,
        "beam_size": settings.beam_size,
        "vad_filter": settings.vad_filter,
        "audio_seconds": round(result.duration, 2),
        "processing_seconds": round(result.processing_seconds, 2),
        "rtf": round(result.processing_seconds / result.duration, 4),
        "wer": round(wer, 4),
        "model_load_seconds": round(load_seconds, 2),
        "segments": len(result.segments),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"audio {figures['audio_seconds']:.1f}s  processing {figures['processing_seconds']:.2f}s  "
            f"RTF {figures['rtf']:.3f}  WER {figures['wer']:.1%}  "
            f"(threads={settings.cpu_threads}, {settings.compute_type}, beam={settings.beam_size}, "
            f"vad={settings.vad_filter}, load {figures['model_load_seconds']:.2f}s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
