"""Byte-for-byte reproducible WAV writing.

libsndfile adds a ``PEAK`` chunk with a *timestamp* to float WAV files, so writing the same
float32 signal twice gives different bytes. :func:`write_wav` turns that chunk off (libsndfile
command ``SFC_SET_ADD_PEAK_CHUNK``), and if that is unavailable zeroes the timestamp
afterwards, so built datasets (the mini benchmark, variants) are deterministic files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def write_wav(path: Path, x: np.ndarray, sample_rate: int, subtype: str) -> None:
    """Write mono ``x`` as WAV with ``subtype`` (``PCM_16``, ``FLOAT``...), reproducibly.

    Shape: ``x [T]``.
    """
    x = np.asarray(x, dtype=np.float32 if subtype == "FLOAT" else np.float64)
    with sf.SoundFile(str(path), "w", int(sample_rate), 1, subtype, format="WAV") as f:
        try:
            f._check_if_closed()
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)  # SF_FALSE
        except Exception:  # private API moved: fall back to patching the timestamp below
            pass
        f.write(x)
    if subtype in ("FLOAT", "DOUBLE"):
        _zero_peak_timestamp(Path(path))


def _zero_peak_timestamp(path: Path) -> None:
    data = bytearray(path.read_bytes())
    pos = 12
    while pos + 8 <= len(data):
        cid, size = bytes(data[pos: pos + 4]), int.from_bytes(data[pos + 4: pos + 8], "little")
        if cid == b"PEAK" and size >= 8:
            data[pos + 12: pos + 16] = b"\0\0\0\0"  # version (4 bytes), then timestamp (4 bytes)
            path.write_bytes(bytes(data))
            return
        if cid == b"data":
            return
        pos += 8 + size + (size & 1)
