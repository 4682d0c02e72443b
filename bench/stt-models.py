#!/usr/bin/env python3
"""Speech-to-text per model: WER and real-time factor on one English lecture, Korean CER.

Runs with whisper-api's virtual environment (after `npm run setup`), through the
same ``Transcriber`` the server uses (decode + windows + faster-whisper), one
model loaded at a time:

    python/whisper-api/.venv/bin/python bench/stt-models.py --minutes 5     # the figures in RESULTS.md (~4 min on 2 cores)
    python/whisper-api/.venv/bin/python bench/stt-models.py --quick         # smoke test: a short clip, beam 1

English: flite (voice slt) reads python/whisper-api/tests/data/speech_en.txt,
repeated to ``--minutes`` (5 = one production batch); each model runs it with
beam 1 and beam 5 and the language given ('en'), and multilingual models once
more with auto-detection. Korean: espeak-ng (the only Korean voice on Debian)
reads short phrases, transcribed with language 'ko' and temperature 0 (the
fallback schedule takes longer than real time on such robotic speech);
English-only models are skipped (they refuse 'ko'). Writes
bench/results/stt-models.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before faster_whisper imports huggingface_hub

import argparse
import json
import math
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHISPER_API = ROOT / "python" / "whisper-api"
sys.path.insert(0, str(WHISPER_API / "src"))

import jiwer  # noqa: E402

from whisper_api.models import MODELS  # noqa: E402
from whisper_api.schemas import TranscribeOptions  # noqa: E402
from whisper_api.settings import Settings  # noqa: E402
from whisper_api.transcriber import Transcriber  # noqa: E402

ENGLISH_TEXT = WHISPER_API / "tests" / "data" / "speech_en.txt"
KOREAN_PHRASES = [
    "안녕하세요. 오늘 날씨가 좋습니다. 감사합니다.",
    "안녕하세요. 감사합니다.",
    "오늘은 수업이 있습니다.",
]
# (label, espeak-ng arguments): the plain voice, and the variant the tests use.
KOREAN_VOICES = [("ko", ["-v", "ko"]), ("ko+m3 -s 150", ["-v", "ko+m3", "-s", "150"])]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is not installed (Debian packages: flite espeak-ng ffmpeg sox)")
    return path


def normalize_en(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]+", " ", text.lower().replace("'", "")).split())


def letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def english_clip(tmp: Path, text: str, minutes: float | None) -> tuple[Path, str]:
    clip = tmp / "en.wav"
    (tmp / "en.txt").write_text(text, encoding="utf-8")
    subprocess.run([need("flite"), "-voice", "slt", "-f", str(tmp / "en.txt"), "-o", str(clip)], check=True)
    repeats = max(1, math.ceil(minutes * 60 / wav_seconds(clip))) if minutes else 1
    if repeats == 1:
        return clip, text
    with wave.open(str(clip), "rb") as reader:
        params, frames = reader.getparams(), reader.readframes(reader.getnframes())
    long_clip = tmp / "en-long.wav"
    with wave.open(str(long_clip), "wb") as writer:
        writer.setparams(params)
        for _ in range(repeats):
            writer.writeframes(frames)
    return long_clip, " ".join([text] * repeats)


def korean_clips(tmp: Path, phrases: list[str]) -> dict[str, list[Path]]:
    clips: dict[str, list[Path]] = {}
    for label, args in KOREAN_VOICES:
        clips[label] = []
        for i, phrase in enumerate(phrases):
            raw, out = tmp / f"ko-{len(clips)}-{i}-raw.wav", tmp / f"ko-{len(clips)}-{i}.wav"
            subprocess.run([need("espeak-ng"), *args, "-w", str(raw), phrase], check=True)
            subprocess.run(
                [need("ffmpeg"), "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(out)],
                check=True,
            )
            clips[label].append(out)
    return clips


def run(transcriber: Transcriber, path: Path, **options: object) -> tuple[str, str, float, float]:
    result = transcriber.transcribe(path, TranscribeOptions.model_validate(options), max_seconds=24 * 3600.0)
    return result.text, result.language, result.duration, result.processing_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated short names (default: all)")
    parser.add_argument("--minutes", type=float, help="repeat the English clip to at least this many minutes")
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 cpu_threads (default 2)")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--quick", action="store_true", help="smoke test: one English sentence, beam 1, one Korean phrase")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stt-models.json")
    args = parser.parse_args()

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        if name not in MODELS:
            sys.exit(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    text = ENGLISH_TEXT.read_text(encoding="utf-8").strip()
    beams = [1] if args.quick else [1, 5]
    phrases = KOREAN_PHRASES[:1] if args.quick else KOREAN_PHRASES
    if args.quick:
        text = text.split(". ")[0] + "."

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="stt-models-") as tmp_name:
        tmp = Path(tmp_name)
        clip, reference = english_clip(tmp, text, None if args.quick else args.minutes)
        korean = korean_clips(tmp, phrases)
        print(f"English clip {wav_seconds(clip):.1f} s; Korean: {len(phrases)} phrase(s) x {len(korean)} voices", file=sys.stderr)
        for name in names:
            settings = Settings.from_env({"WHISPER_MODEL": name}).with_overrides(
                cpu_threads=args.threads, compute_type=args.compute_type
            )
            started = time.perf_counter()
            transcriber = Transcriber(settings)
            load = time.perf_counter() - started
            runs: list[tuple[str, dict[str, object]]] = [(f"en, beam {b}", {"language": "en", "beam_size": b}) for b in beams]
            if transcriber.is_multilingual:
                runs.append((f"auto, beam {beams[-1]}", {"beam_size": beams[-1]}))
            for label, options in runs:
                hyp, language, duration, seconds = run(transcriber, clip, **options)
                wer = float(jiwer.wer(normalize_en(reference), normalize_en(hyp)))
                row = {"model": name, "run": label, "language": language, "audio_seconds": round(duration, 1),
                       "processing_seconds": round(seconds, 2), "rtf": round(seconds / duration, 4), "wer": round(wer, 4),
                       "load_seconds": round(load, 2)}  # fmt: skip
                rows.append(row)
                print(f"{name:8} {label:14} RTF {row['rtf']:.3f}  WER {wer:6.1%}  ({language}, {seconds:.1f} s)", file=sys.stderr)
            if not transcriber.is_multilingual:
                rows.append({"model": name, "run": "ko", "skipped": "English-only model refuses 'ko'"})
                continue
            for voice, paths in korean.items():
                hyps, seconds, duration = [], 0.0, 0.0
                for path in paths:
                    hyp, _, d, s = run(transcriber, path, language="ko", temperature=0.0, beam_size=5)
                    hyps.append(hyp)
                    seconds, duration = seconds + s, duration + d
                cer = float(jiwer.cer(letters(" ".join(phrases)), letters(" ".join(hyps))))
                row = {"model": name, "run": f"ko ({voice}), beam 5, T=0", "audio_seconds": round(duration, 1),
                       "processing_seconds": round(seconds, 2), "rtf": round(seconds / duration, 4), "cer": round(cer, 4),
                       "hypothesis": " / ".join(hyps)}  # fmt: skip
                rows.append(row)
                print(f"{name:8} ko {voice:13} RTF {row['rtf']:.3f}  CER {cer:6.1%}  {row['hypothesis']}", file=sys.stderr)
            del transcriber

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "settings": {"threads": args.threads, "compute_type": args.compute_type, "minutes": args.minutes, "quick": args.quick},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print("\n| model | run | RTF | WER / CER |\n| --- | --- | ---: | ---: |")
    for row in rows:
        if "skipped" in row:
            print(f"| {row['model']} | {row['run']} | — | {row['skipped']} |")
        else:
            score = f"WER {float(row['wer']):.1%}" if "wer" in row else f"CER {float(row['cer']):.1%}"
            print(f"| {row['model']} | {row['run']} | {float(row['rtf']):.3f} | {score} |")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
