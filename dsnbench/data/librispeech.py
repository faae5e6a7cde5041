"""Real speech and noise from ``../shared/data`` and the two mixing recipes of the corpora.

Used by ``scripts/build_mini.py`` (the bundled mini benchmark, LibriSpeech **test-other**
speakers only) and reusable for on-the-fly training mixtures (LibriSpeech **train-clean-100**
speakers only: never mix the two).

Mixing "the WSJ0-2mix way" (:func:`mix_wsj0_2mix`), as the published generation does it:

1. each source is normalised to an active level of 0 dB (power 1.0 over its active frames;
   :func:`dsnbench.data.activity.active_level`, the P.56-style level the activity labels use),
2. a level ``snr`` is drawn uniformly in [0, 2.5] dB; s1 gets ``+snr`` dB and s2 ``-snr`` dB,
   so s1 is the louder by a relative gain of ``2 * snr`` in [0, 5] dB,
3. "min" truncates both to the shorter, "max" zero-pads the shorter at its end,
4. mix = s1 + s2, and mixture and sources are scaled together by ``0.9 / peak`` (peak over
   all three), so nothing clips once written as 16-bit PCM.

The id is ``<utt1>_<snr>_<utt2>_<-snr>`` with the level written to 5 decimals, like WSJ0-2mix.

Noise "at WHAM! levels" (:func:`add_noise_wham`): the noise is scaled so that the SNR of the
louder speaker (s1, by its active level) to the noise (by its mean power over the samples
where the noise is present) is uniform in [-6, +3] dB, the range of WHAM!. mix_clean = s1 + s2,
mix_single = s1 + noise, mix_both = s1 + s2 + noise. When the noisy mixture would clip (peak
above 1.0) everything is scaled together by ``0.9 / peak`` and the scale is returned.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .activity import active_level, sample_activity

#: speakers for evaluation mixtures only
TEST_SUBSET = "test-other"
#: speakers for training mixtures only
TRAIN_SUBSET = "train-clean-100"
#: WSJ0-2mix: per-source level drawn in [0, 2.5] dB, i.e. relative gain in [0, 5] dB
WSJ0_LEVEL_RANGE_DB = (0.0, 2.5)
#: WHAM!: SNR of the louder speaker to the noise
WHAM_SNR_RANGE_DB = (-6.0, 3.0)
PEAK = 0.9


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


def normalise_active(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Scale to an active level of 0 dB (active power 1.0). Raises on a silent signal."""
    level = active_level(x, sample_rate)
    if level <= 0:
        raise ValueError("cannot normalise a silent signal")
    return x / np.sqrt(level)


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


def mix_wsj0_2mix(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, sample_rate: int,
                  mode: str = "min", level_db: float | None = None) -> Mixture:
    """Mix two utterances the WSJ0-2mix way (see the module docstring); ``a`` becomes s1
    (the louder). ``level_db`` fixes the level instead of drawing it from ``rng``.

    Shape: ``a [Ta]``, ``b [Tb]`` -> ``Mixture`` of length ``min`` or ``max`` of the two.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be min or max, got {mode!r}")
    if level_db is None:
        level_db = round(float(rng.uniform(*WSJ0_LEVEL_RANGE_DB)), 5)
    s1 = normalise_active(np.asarray(a, dtype=np.float64), sample_rate) * 10 ** (level_db / 20)
    s2 = normalise_active(np.asarray(b, dtype=np.float64), sample_rate) * 10 ** (-level_db / 20)
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


def noise_power(noise: np.ndarray, sample_rate: int) -> float:
    """Mean power of ``noise`` over the samples where it is present (active, by
    :func:`dsnbench.data.activity.sample_activity`); 0.0 for silence."""
    act = sample_activity(noise, sample_rate)
    if not act.any():
        return 0.0
    return float(np.mean(noise[act] ** 2))


def add_noise_wham(m: Mixture, noise: np.ndarray, rng: np.random.Generator, sample_rate: int,
                   snr_db: float | None = None) -> Mixture:
    """Add ``noise`` (already cut to the mixture's length) at a WHAM! level: the SNR of s1
    (active level) to the noise (power where present) uniform in [-6, +3] dB, or ``snr_db``.

    Shape: ``noise [T]`` with ``T`` the mixture length. Returns a new :class:`Mixture`.
    """
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != m.s1.shape:
        raise ValueError(f"noise has {noise.shape[0]} samples, the mixture {m.s1.shape[0]}")
    if snr_db is None:
        snr_db = round(float(rng.uniform(*WHAM_SNR_RANGE_DB)), 5)
    p_noise = noise_power(noise, sample_rate)
    if p_noise <= 0:
        raise ValueError("cannot set the level of a silent noise")
    p_speech = active_level(m.s1, sample_rate)
    noise = noise * np.sqrt(p_speech / p_noise * 10 ** (-snr_db / 10))
    s1, s2, mix = m.s1, m.s2, m.mix
    mix_both = mix + noise
    mix_single = s1 + noise
    peak = max(np.abs(mix_both).max(), np.abs(mix_single).max(), np.abs(noise).max())
    scale = PEAK / peak if peak > 1.0 else 1.0
    return Mixture(s1=s1 * scale, s2=s2 * scale, mix=mix * scale, level_db=m.level_db,
                   scale=m.scale * scale, noise=noise * scale, mix_both=mix_both * scale,
                   mix_single=mix_single * scale, snr_db=snr_db)


def mixture_id(utt1: str, utt2: str, level_db: float) -> str:
    """WSJ0-2mix style id: ``<utt1>_<level>_<utt2>_<-level>``."""
    return f"{utt1}_{level_db:.5f}_{utt2}_{-level_db:.5f}"


def random_training_mixture(rng: np.random.Generator, sample_rate: int = 8000, seconds: float = 4.0,
                            noisy: bool = False, data_dir: Path | None = None) -> Mixture:
    """One on-the-fly training mixture from **train-clean-100** speakers only: two different
    speakers, random excerpts of ``seconds``, WSJ0-2mix mixing (min), optionally real noise
    at WHAM! levels from a random excerpt of a random ``noise/`` recording.
    """
    speakers = list_utterances(TRAIN_SUBSET, data_dir)
    names = sorted(speakers)
    i, j = rng.choice(len(names), size=2, replace=False)
    n = int(seconds * sample_rate)
    a = crop(read_audio(speakers[names[i]][int(rng.integers(len(speakers[names[i]])))], sample_rate), n, rng)
    b = crop(read_audio(speakers[names[j]][int(rng.integers(len(speakers[names[j]])))], sample_rate), n, rng)
    m = mix_wsj0_2mix(a, b, rng, sample_rate, "min")
    if noisy:
        files = list_noise(data_dir)
        nz = crop(read_audio(files[int(rng.integers(len(files)))], sample_rate), m.s1.shape[0], rng)
        m = add_noise_wham(m, nz, rng, sample_rate)
    return m
