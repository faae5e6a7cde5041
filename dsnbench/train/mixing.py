"""Mixing rules used by the on-the-fly training set (one function boundary, so the shared
``dsnbench.data`` mixing code can replace these without touching the dataset).

- WSJ0-2mix way: both sources normalised to the same active level, then a relative gain drawn
  uniformly in [0, 5] dB split symmetrically (+g/2 on one, -g/2 on the other).
- WHAM! levels: the noise, normalised to its active level, is scaled so that the SNR relative
  to the louder speaker is uniform in [-6, +3] dB.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-10


def active_power(x: np.ndarray, sample_rate: int, frame_s: float = 0.02, floor_db: float = -40.0) -> float:
    """Mean power over the active frames of ``x``: frames within ``floor_db`` of the loudest
    frame (a simple stand-in for ITU-T P.56 active speech level). Shape: ``x [T]``."""
    n = max(1, int(frame_s * sample_rate))
    frames = x[: (x.size // n) * n].reshape(-1, n) if x.size >= n else x.reshape(1, -1)
    energy = (frames.astype(np.float64) ** 2).mean(axis=1)
    if energy.size == 0 or energy.max() <= EPS:
        return 0.0
    active = energy >= energy.max() * 10 ** (floor_db / 10)
    return float(energy[active].mean())


def normalise_active(x: np.ndarray, sample_rate: int, target_power: float = 1.0) -> np.ndarray:
    """Scale ``x`` so its active power is ``target_power`` (silent input returned unchanged)."""
    p = active_power(x, sample_rate)
    return x if p <= EPS else x * np.sqrt(target_power / p)


def wsj0_2mix_gains(s1: np.ndarray, s2: np.ndarray, sample_rate: int,
                    rng: np.random.Generator, max_rel_db: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Active-level normalise both sources, then apply a relative gain uniform in
    [0, max_rel_db] dB (the first returned source is the louder). Shape: ``[T]`` each."""
    g = float(rng.uniform(0.0, max_rel_db))
    a = normalise_active(s1, sample_rate) * 10 ** (g / 40)
    b = normalise_active(s2, sample_rate) * 10 ** (-g / 40)
    return a, b


def wham_noise(noise: np.ndarray, louder_source: np.ndarray, sample_rate: int,
               rng: np.random.Generator, snr_range: tuple[float, float] = (-6.0, 3.0)) -> np.ndarray:
    """Scale ``noise`` to an SNR relative to ``louder_source`` drawn uniformly in ``snr_range``.

    Shape: ``noise [T]``, ``louder_source [T]`` -> ``[T]``.
    """
    snr = float(rng.uniform(*snr_range))
    p_src = active_power(louder_source, sample_rate)
    return normalise_active(noise, sample_rate, target_power=max(p_src, EPS) * 10 ** (-snr / 10))
