"""Real speech and noise from ``../shared/data`` and the two mixing recipes of the corpora.

Used by ``scripts/build_mini.py`` (the bundled mini benchmark, LibriSpeech **test-other**
speakers only) and reusable for on-the-fly training mixtures (LibriSpeech **train-clean-100**
speakers only: never mix the two).

Mixing itself (the WSJ0-2mix gains, the WHAM! noise levels) is :mod:`dsnbench.data.mixing`,
the one rule that the test sets and the trainer share.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

#: speakers for evaluation mixtures only
TEST_SUBSET = "test-other"
#: speakers for training mixtures only
TRAIN_SUBSET = "train-clean-100"


def shared_data_dir() -> Path:
    """``../shared/data`` relative to the repository root (override: ``DSNBENCH_SHARED_DATA``)."""
    env = os.environ.get("DSNBENCH_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def list_utterances(subset: str, data_dir: Path | None = None) -> dict[str, list[Path]]:
    """FLAC files of one LibriSpeech subset by speaker id (sorted), from either the nested
    ``<subset>/<speaker>/<utt>.flac`` or the flat ``<subset>/<utt>.flac`` arrangement."""
    if subset not in (TEST_SUBSET, TRAIN_SUBSET):
        raise ValueError(f"subset must be {TEST_SUBSET} or {TRAIN_SUBSET}, got {subset!r}")
    d = (data_dir or shared_data_dir()) / "librispeech" / subset
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: LibriSpeech folder missing")
    by_speaker: dict[str, list[Path]] = {}
    for p in sorted(d.rglob("*.flac")):
        by_speaker.setdefault(p.stem.split("-")[0], []).append(p)
    if not by_speaker:
        raise FileNotFoundError(f"{d}: no .flac files")
    return by_speaker


def list_noise(data_dir: Path | None = None) -> list[Path]:
    """The real noise recordings (``noise/*.wav``), sorted."""
    d = (data_dir or shared_data_dir()) / "noise"
    files = sorted(d.glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"{d}: no noise .wav files")
    return files


@lru_cache(maxsize=512)
def _read(path: str, sample_rate: int) -> np.ndarray:
    x, rate = sf.read(path, dtype="float64", always_2d=True)
    x = x[:, 0]
    if rate != sample_rate:
        g = np.gcd(rate, sample_rate)
        x = resample_poly(x, sample_rate // g, rate // g)
    x.setflags(write=False)
    return x


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float64 audio resampled (polyphase) to ``sample_rate``; cached, read-only.

    Shape: returns ``[T]``.
    """
    return _read(str(path), int(sample_rate))


def crop(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random excerpt of ``n`` samples (the whole signal when it is shorter).

    Shape: ``x [T]`` -> ``[min(n, T)]``.
    """
    if x.shape[0] <= n:
        return x.copy()
    start = int(rng.integers(0, x.shape[0] - n + 1))
    return x[start: start + n].copy()


def mixture_id(utt1: str, utt2: str, level_db: float) -> str:
    """WSJ0-2mix style id: ``<utt1>_<level>_<utt2>_<-level>``."""
    return f"{utt1}_{level_db:.5f}_{utt2}_{-level_db:.5f}"
