#!/usr/bin/env python3
"""Peak memory of the whisper-api server against audio length (not a test).

For each length, a fresh server process (``python -m whisper_api``, default
settings) transcribes one MP3 of that many minutes over HTTP; the table shows
the server's RSS when idle (model loaded), its peak RSS during the request
(``VmHWM`` after resetting it through ``/proc/<pid>/clear_refs``), the growth,
and the processing time. ``--baseline`` adds what faster-whisper's whole-file
path takes for the same file (what whisper-api did before it transcribed in
windows: ``decode_audio`` of the whole file, then ``WhisperModel.transcribe``
on all of it, same model and settings), in a subprocess of its own.

    .venv/bin/python bench/memory.py                      # 1 5 10 20 30 min of flite speech
    .venv/bin/python bench/memory.py --baseline
    .venv/bin/python bench/memory.py --kind noise --minutes 10 30
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
TEXT = HERE.parent / "tests" / "data" / "speech_en.txt"

BASELINE = """
import json, sys, time
from pathlib import Path
from faster_whisper import WhisperModel, decode_audio
from whisper_api.settings import Settings

def kib(name):
    for line in open('/proc/self/status'):
        if line.startswith(name + ':'):
            return int(line.split()[1])

settings = Settings.from_env()
model = WhisperModel(settings.model, device=settings.device, compute_type=settings.compute_type,
                     cpu_threads=settings.cpu_threads, num_workers=settings.num_workers)
idle = kib('VmRSS')
Path('/proc/self/clear_refs').write_text('5')
started = time.perf_counter()
segments, info = model.transcribe(decode_audio(sys.argv[1]), beam_size=settings.beam_size,
                                  vad_filter=settings.vad_filter)
list(segments)
print(json.dumps({'idle': idle, 'peak': kib('VmHWM'), 'seconds': time.perf_counter() - started}))
"""


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def make_audio(kind: str, minutes: float, out: Path, work: Path) -> Path:
    """An MP3 of ``minutes``: one clip encoded once, then stream-copied (cheap at any length)."""
    clip = work / f"{kind}-clip.mp3"
    if not clip.exists():
        if kind == "speech":
            wav = work / "speech.wav"
            run("flite", "-voice", "slt", "-f", str(TEXT), "-o", str(wav))
            source = ["-i", str(wav)]
        else:
            source = ["-f", "lavfi", "-i", "anoisesrc=d=60:c=pink:r=16000:a=0.2"]
        run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *source, "-ac", "1", "-ar", "16000",
            "-c:a", "libmp3lame", "-b:a", "32k", str(clip))  # fmt: skip
    clip_seconds = float(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(clip)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    )
    loops = max(1, round(minutes * 60 / clip_seconds))
    run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", str(loops - 1), "-i", str(clip),
        "-c", "copy", str(out))  # fmt: skip
    return out


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_server(audio: Path, env: dict[str, str]) -> dict[str, float]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "whisper_api", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "ready on" not in line:
            raise SystemExit(f"server did not start: {line!r}")
        idle = memory_kib(process.pid)["VmRSS"]
        Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        with audio.open("rb") as fh:
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/transcribe", files={"file": (audio.name, fh)}, timeout=3600
            )
        if response.status_code != 200:
            raise SystemExit(f"transcription failed: {response.status_code} {response.text}")
        body = response.json()
        peak = memory_kib(process.pid)["VmHWM"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return {
        "audio_seconds": body["duration"],
        "idle_mib": idle / 1024,
        "peak_mib": peak / 1024,
        "growth_mib": (peak - idle) / 1024,
        "processing_seconds": body["processing_seconds"],
        "rtf": body["processing_seconds"] / body["duration"],
        "segments": len(body["segments"]),
    }


def measure_baseline(audio: Path, env: dict[str, str]) -> float:
    """Peak growth over the idle (model loaded) RSS, in MiB, of the whole-file path."""
    out = subprocess.run([sys.executable, "-c", BASELINE, str(audio)], env=env, check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout)
    return float(figures["peak"] - figures["idle"]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10, 20, 30])
    parser.add_argument("--kind", choices=("speech", "noise"), default="speech")
    parser.add_argument(
        "--baseline", action="store_true", help="also measure faster-whisper's whole-file path (doubles the run time)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per length")
    args = parser.parse_args()
    for tool in ("ffmpeg", "ffprobe", *(["flite"] if args.kind == "speech" else [])):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install ffmpeg flite)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPER_")}
    env["HF_HUB_OFFLINE"] = "1"
    # Looping a clip overshoots the asked length a little; the limit is not what is measured here.
    env["WHISPER_MAX_AUDIO_MINUTES"] = str(max(args.minutes) + 1)

    if not args.json:
        header = f"{'audio':>8} {'idle RSS':>9} {'peak RSS':>9} {'growth':>8} {'processing':>11} {'RTF':>6}"
        print(f"{args.kind}, fresh server per length, default settings (beam 5, VAD on, 2 threads; limit raised)")
        print(header + (f" {'whole-file growth':>18}" if args.baseline else ""))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="whisper-memory-") as tmp:
        work = Path(tmp)
        for minutes in args.minutes:
            audio = make_audio(args.kind, minutes, work / f"{args.kind}-{minutes:g}min.mp3", work)
            row = measure_server(audio, env)
            if args.baseline:
                row["baseline_growth_mib"] = measure_baseline(audio, env)
            audio.unlink()
            if args.json:
                print(json.dumps({"kind": args.kind, "minutes": minutes, **{k: round(v, 3) for k, v in row.items()}}))
                continue
            line = (
                f"{row['audio_seconds'] / 60:>6.1f} m {row['idle_mib']:>5.0f} MiB {row['peak_mib']:>5.0f} MiB "
                f"{row['growth_mib']:>+5.0f} MiB {row['processing_seconds']:>9.1f} s {row['rtf']:>6.3f}"
            )
            if args.baseline:
                line += f" {row['baseline_growth_mib']:>+14.0f} MiB"
            print(line, flush=True)
    if not args.json:
        print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
