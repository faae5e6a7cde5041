"""The one mixing rule of the project: how two utterances (and a noise) become a mixture.

The bundled test sets (:mod:`dsnbench.data.mini`), the variants (:mod:`dsnbench.data.variants`)
and the trainer's on-the-fly examples (:mod:`dsnbench.train.data`) all mix through these
functions, so a training mixture and a test mixture built from the same sources with the same
gains are the same signal.

Mixing "the WSJ0-2mix way" (:func:`mix_wsj0_2mix`), as the published generation does it:

1. each source is normalised to an active level of 0 dB (power 1.0 over its active frames;
   :func:`dsnbench.data.activity.active_level`, the P.56-style level the activity labels use),
2. a level ``level_db`` is drawn uniformly in [0, 2.5] dB; s1 gets ``+level_db`` dB and s2
   ``-level_db`` dB, so s1 is the louder by a relative gain of ``2 * level_db`` in [0, 5] dB,
3. "min" truncates both to the shorter, "max" zero-pads the shorter at its end,
4. mix = s1 + s2, and mixture and sources are scaled together by ``0.9 / peak`` (peak over
   all three), so nothing clips once written as 16-bit PCM.

Noise "at WHAM! levels" (:func:`add_noise_wham`): the noise is scaled so that the SNR of the
louder speaker (s1, by its active level) to the noise (by its mean power over the samples
where the noise is present, :func:`noise_power`) is uniform in [-6, +3] dB, the range of WHAM!
(:func:`wham_noise_gain`). mix_clean = s1 + s2, mix_single = s1 + noise, mix_both = s1 + s2 +
noise. When the noisy mixture would clip (peak above 1.0) everything is scaled together by
``0.9 / peak`` and the scale is returned.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activity import active_level, sample_activity

#: WSJ0-2mix: per-source level drawn in [0, 2.5] dB, i.e. relative gain in [0, 5] dB
WSJ0_LEVEL_RANGE_DB = (0.0, 2.5)
#: WHAM!: SNR of the louder speaker to the noise
WHAM_SNR_RANGE_DB = (-6.0, 3.0)
PEAK = 0.9


def normalise_active(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Scale to an active level of 0 dB (active power 1.0). Raises ValueError on silence.

    Shape: ``x [T]`` -> ``[T]`` (float64).
    """
    x = np.asarray(x, dtype=np.float64)
    level = active_level(x, sample_rate)
    if level <= 0:
        raise ValueError("cannot normalise a silent signal")
    return x / np.sqrt(level)


def noise_power(noise: np.ndarray, sample_rate: int) -> float:
    """Mean power of ``noise`` over the samples where it is present (active, by
    :func:`dsnbench.data.activity.sample_activity`); 0.0 for silence.

    Shape: ``noise [T]``.
    """
    noise = np.asarray(noise, dtype=np.float64)
    act = sample_activity(noise, sample_rate)
    if not act.any():
        return 0.0
    return float(np.mean(noise[act] ** 2))


def wham_noise_gain(noise: np.ndarray, s1: np.ndarray, sample_rate: int, snr_db: float) -> float:
    """The gain that puts ``noise`` at ``snr_db`` below ``s1``: s1 by its active level, the
    noise by its power where present. Raises ValueError on a silent noise or s1.

    Shape: ``noise [T]``, ``s1 [T']``.
    """
    p_noise = noise_power(noise, sample_rate)
    if p_noise <= 0:
        raise ValueError("cannot set the level of a silent noise")
    p_speech = active_level(np.asarray(s1, dtype=np.float64), sample_rate)
    if p_speech <= 0:
        raise ValueError("cannot set a noise level relative to a silent s1")
    return float(np.sqrt(p_speech / p_noise * 10 ** (-snr_db / 10)))


@dataclass
class Mixture:
    """One two-speaker mixture. Shape: ``s1``, ``s2``, ``mix`` are ``[T]``; ``noise`` and the
    noisy mixtures ``[T]`` or None."""

    s1: np.ndarray
    s2: np.ndarray
    mix: np.ndarray
    level_db: float  # s1 at +level_db, s2 at -level_db (relative gain 2 * level_db)
    scale: float  # common scale applied at the end
    noise: np.ndarray | None = None
    mix_both: np.ndarray | None = None
    mix_single: np.ndarray | None = None
    snr_db: float | None = None  # louder speaker (s1) to noise


def mix_wsj0_2mix(a: np.ndarray, b: np.ndarray, rng: np.random.Generator | None, sample_rate: int,
                  mode: str = "min", level_db: float | None = None) -> Mixture:
    """Mix two utterances the WSJ0-2mix way (see the module docstring); ``a`` becomes s1
    (the louder). ``level_db`` fixes the level instead of drawing it from ``rng``.

    Shape: ``a [Ta]``, ``b [Tb]`` -> ``Mixture`` of length ``min`` or ``max`` of the two.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be min or max, got {mode!r}")
    if level_db is None:
        if rng is None:
            raise ValueError("mix_wsj0_2mix needs rng or level_db")
        level_db = round(float(rng.uniform(*WSJ0_LEVEL_RANGE_DB)), 5)
    s1 = normalise_active(a, sample_rate) * 10 ** (level_db / 20)
    s2 = normalise_active(b, sample_rate) * 10 ** (-level_db / 20)
    if mode == "min":
        n = min(s1.shape[0], s2.shape[0])
        s1, s2 = s1[:n], s2[:n]
    else:
        n = max(s1.shape[0], s2.shape[0])
        s1 = np.pad(s1, (0, n - s1.shape[0]))
        s2 = np.pad(s2, (0, n - s2.shape[0]))
    mix = s1 + s2
    scale = PEAK / max(np.abs(mix).max(), np.abs(s1).max(), np.abs(s2).max())
    return Mixture(s1=s1 * scale, s2=s2 * scale, mix=mix * scale, level_db=level_db, scale=scale)


def add_noise_wham(m: Mixture, noise: np.ndarray, rng: np.random.Generator | None, sample_rate: int,
                   snr_db: float | None = None) -> Mixture:
    """Add ``noise`` (already cut to the mixture's length) at a WHAM! level: the SNR of s1
    (active level) to the noise (power where present) uniform in [-6, +3] dB, or ``snr_db``.

    Shape: ``noise [T]`` with ``T`` the mixture length. Returns a new :class:`Mixture`.
    """
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != m.s1.shape:
        raise ValueError(f"noise has {noise.shape[0]} samples, the mixture {m.s1.shape[0]}")
    if snr_db is None:
        if rng is None:
            raise ValueError("add_noise_wham needs rng or snr_db")
        snr_db = round(float(rng.uniform(*WHAM_SNR_RANGE_DB)), 5)
    noise = noise * wham_noise_gain(noise, m.s1, sample_rate, snr_db)
    s1, s2, mix = m.s1, m.s2, m.mix
    mix_both = mix + noise
    mix_single = s1 + noise
    peak = max(np.abs(mix_both).max(), np.abs(mix_single).max(), np.abs(noise).max())
    scale = PEAK / peak if peak > 1.0 else 1.0
    return Mixture(s1=s1 * scale, s2=s2 * scale, mix=mix * scale, level_db=m.level_db,
                   scale=m.scale * scale, noise=noise * scale, mix_both=mix_both * scale,
                   mix_single=mix_single * scale, snr_db=snr_db)
