"""Tiny datasets written in the exact published layouts, for tests and demos.

The signals are synthetic speech-like sources (harmonic tones with syllable-rate envelopes and
pauses), deterministic from a seed. Ids follow the WSJ0-2mix naming
``<utt1>_<snr1>_<utt2>_<snr2>`` with ``snr2 = -snr1``; s1 is the louder source, as published.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def speechlike(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A deterministic speech-like signal: voiced harmonic bursts separated by pauses.

    Shape: returns ``[n]``, peak about 0.3.
    """
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum((0.6 ** k) * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 8))
    x = x + 0.05 * rng.standard_normal(n)
    env = np.zeros(n)
    pos = 0
    while pos < n:
        on = int(rng.uniform(0.15, 0.5) * sample_rate)
        off = int(rng.uniform(0.05, 0.3) * sample_rate)
        seg = np.hanning(max(on, 2))[: max(0, min(on, n - pos))]
        env[pos: pos + seg.size] = seg
        pos += on + off
    y = x * env
    return 0.3 * y / (np.abs(y).max() + 1e-9)


def _ids(n: int, rng: np.random.Generator) -> list[str]:
    ids = []
    for i in range(n):
        g = round(float(rng.uniform(0, 2.5)), 5)
        ids.append(f"{i:03d}c{rng.integers(1000, 9999)}_{g:.5f}_{i:03d}o{rng.integers(1000, 9999)}_{-g:.5f}")
    return ids


def make_mixtures(n: int, sample_rate: int, seconds: float, seed: int,
                  noise: bool = False) -> list[dict]:
    """Mixtures as dicts with keys id, s1, s2, mix_clean and (with noise) noise, mix_both, mix_single."""
    rng = np.random.default_rng(seed)
    out = []
    for uid in _ids(n, rng):
        length = int(seconds * sample_rate * rng.uniform(0.8, 1.2))
        gain_db = float(uid.split("_")[1])
        s1 = speechlike(length, sample_rate, rng) * 10 ** (gain_db / 40)
        s2 = speechlike(length, sample_rate, rng) * 10 ** (-gain_db / 40)
        item = {"id": uid, "s1": s1, "s2": s2, "mix_clean": s1 + s2}
        if noise:
            nz = 0.05 * rng.standard_normal(length)
            item.update(noise=nz, mix_both=s1 + s2 + nz, mix_single=s1 + nz)
        scale = 0.9 / max(np.abs(v).max() for k, v in item.items() if k != "id")
        for k in list(item):
            if k != "id":
                item[k] = item[k] * min(1.0, scale)
        out.append(item)
    return out


def write_wsj0_2mix(root: Path, n: int = 4, sample_rate: int = 8000, mode: str = "min",
                    split: str = "tt", seconds: float = 1.0, seed: int = 0) -> Path:
    """Write ``<root>/wav{8k,16k}/<mode>/<split>/{mix,s1,s2}`` as 16-bit PCM. Returns root."""
    base = Path(root) / f"wav{sample_rate // 1000}k" / mode / split
    for item in make_mixtures(n, sample_rate, seconds, seed):
        for folder, key in (("mix", "mix_clean"), ("s1", "s1"), ("s2", "s2")):
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{item['id']}.wav"), item[key], sample_rate, subtype="PCM_16")
    return Path(root)


def write_wham(root: Path, n: int = 4, sample_rate: int = 8000, mode: str = "min",
               split: str = "tt", seconds: float = 1.0, seed: int = 0) -> Path:
    """Write ``<root>/wav{8k,16k}/<mode>/<split>/{mix_clean,mix_both,mix_single,s1,s2,noise}``
    as float32 WAV. Returns root."""
    base = Path(root) / f"wav{sample_rate // 1000}k" / mode / split
    for item in make_mixtures(n, sample_rate, seconds, seed, noise=True):
        for folder in ("mix_clean", "mix_both", "mix_single", "s1", "s2", "noise"):
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{item['id']}.wav"), item[folder].astype(np.float32),
                     sample_rate, subtype="FLOAT")
    return Path(root)
