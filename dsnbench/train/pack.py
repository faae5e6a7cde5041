"""The training audio as one compact file: ``dsnbench train`` on a machine without soundfile.

A pack holds every training-clean-100 utterance and noise recording of a data root
(``librispeech/train-clean-100/*.flac`` and ``noise/*.wav``), resampled to one rate and stored
as 8-bit mu-law codes (mu = 255, the companding of ITU-T G.711 in its continuous form; each
recording scaled to a peak of 1 first and the scale kept), compressed with LZMA. Reading needs
numpy and the standard library only. At 8 kHz the quantisation noise sits about 38 dB below the
speech, far below anything the bundled models resolve; the pack is for machines that cannot
read FLAC (the one-shot GPU retraining), not a replacement of the lossless source.

File layout: the magic line ``DSNPACK1\\n``, the header length as 8 bytes little-endian, the
header (JSON: format, sample rate, encoding, and per recording its name, samples and scale),
then one LZMA stream of all codes, recordings one after another in header order.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import struct
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from ..errors import UserError

#: the LibriSpeech subset training reads (test-other is the evaluation corpus)
TRAIN_SUBSET = "train-clean-100"
MAGIC = b"DSNPACK1\n"
#: where the one-shot retraining looks for it (ignored by git; carried to the machine)
DEFAULT_PACK = "experiments/train/pack/train-8k.dsnpack"
MU = 255.0
#: codes 0..254, 127 is exact zero
LEVELS = 127


def load_resampled(path: Path, sample_rate: int) -> np.ndarray:
    """One recording, mono float32, resampled (polyphase) to ``sample_rate``.

    Shape: returns ``[T]``.
    """
    import soundfile as sf  # here, not at the top: a training from a pack runs without it
    x, sr = sf.read(str(path), dtype="float32", always_2d=False)
    if x.ndim != 1:
        x = x.mean(axis=1)
    if sr != sample_rate:
        g = np.gcd(sr, sample_rate)
        x = resample_poly(x.astype(np.float64), sample_rate // g, sr // g)
    return np.ascontiguousarray(x, dtype=np.float32)


def mulaw_encode(x: np.ndarray) -> np.ndarray:
    """Mu-law codes of ``x`` in [-1, 1]. Shape: ``[T]`` -> uint8 ``[T]``."""
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return (np.round(y * LEVELS) + LEVELS).astype(np.uint8)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`mulaw_encode`. Shape: uint8 ``[T]`` -> float32 ``[T]``."""
    y = (codes.astype(np.float64) - LEVELS) / LEVELS
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU).astype(np.float32)


def build_pack(root: Path, out: Path, sample_rate: int = 8000) -> dict[str, Any]:
    """Write the pack of ``root`` (the project's ``../shared/data`` layout) to ``out``; returns
    its header. Reads with soundfile and resamples like the trainer (polyphase)."""
    root = Path(root)
    speech = sorted((root / "librispeech" / TRAIN_SUBSET).glob("*.flac"))
    noise = sorted((root / "noise").glob("*.wav"))
    if not speech:
        raise UserError(f"{root / 'librispeech' / TRAIN_SUBSET}: no .flac files to pack")
    items, chunks = [], []
    for path, kind in [(p, "speech") for p in speech] + [(p, "noise") for p in noise]:
        x = load_resampled(path, sample_rate).astype(np.float64)
        peak = float(np.abs(x).max())
        if peak <= 0:
            raise UserError(f"{path}: silent recording")
        codes = mulaw_encode(x / peak)
        chunks.append(codes.tobytes())
        name = f"librispeech/{TRAIN_SUBSET}/{path.name}" if kind == "speech" else f"noise/{path.name}"
        items.append({"name": name, "kind": kind, "n": int(codes.size), "scale": peak})
    payload = b"".join(chunks)
    header = {"format": 1, "sample_rate": int(sample_rate), "encoding": "mulaw-255-8bit",
              "items": items, "sha256": hashlib.sha256(payload).hexdigest()}
    head = json.dumps(header, sort_keys=True).encode()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<Q", len(head)) + head)
        f.write(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
    tmp.replace(out)
    return header


def read_pack(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and every recording (float32, original scale) by name. A file that is not a
    pack, or whose payload does not match its header, is a UserError naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the training pack ({exc.strerror})") from None
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 8:
        raise UserError(f"{path}: not a dsnbench training pack (no DSNPACK1 header)")
    (n_head,) = struct.unpack("<Q", raw[len(MAGIC):len(MAGIC) + 8])
    start = len(MAGIC) + 8
    try:
        header = json.loads(raw[start:start + n_head])
        payload = lzma.decompress(raw[start + n_head:])
    except (ValueError, lzma.LZMAError) as exc:
        raise UserError(f"{path}: damaged training pack ({exc})") from None
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise UserError(f"{path}: damaged training pack (payload checksum differs from the header)")
    codes = np.frombuffer(payload, dtype=np.uint8)
    out, at = {}, 0
    for item in header["items"]:
        out[item["name"]] = mulaw_decode(codes[at:at + item["n"]]) * np.float32(item["scale"])
        at += item["n"]
    if at != codes.size:
        raise UserError(f"{path}: damaged training pack ({codes.size} codes, the header lists {at})")
    return header, out


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m dsnbench.train.pack",
                                description="Write the training pack of a data root (needs soundfile).")
    p.add_argument("--root", type=Path, default=Path("../shared/data"), help="data root (default ../shared/data)")
    p.add_argument("--out", type=Path, default=Path(DEFAULT_PACK), help=f"pack file (default {DEFAULT_PACK})")
    p.add_argument("--sample-rate", type=int, default=8000)
    args = p.parse_args(argv)
    header = build_pack(args.root, args.out, args.sample_rate)
    n = sum(i["n"] for i in header["items"])
    print(f"{args.out}: {len(header['items'])} recordings, {n / header['sample_rate']:.0f} s, "
          f"{args.out.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
