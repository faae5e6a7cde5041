"""Source activity from the references: per-frame masks and per-segment labels.

Each reference signal is measured against **its own active level**, so a quiet speaker is
not labelled silent just because the other one is louder.

Method (frame-based, after the idea of ITU-T P.56 "active speech level"):

1. The signal is cut into non-overlapping frames of ``FRAME_MS`` (20 ms); a frame's power is
   its mean square.
2. The active level ``A`` is the mean power of the frames above a threshold ``c``, where ``c``
   is chosen (searched on a 0.25 dB grid, from low to high) as the lowest threshold for which
   ``A(c)`` is no more than ``MARGIN_DB`` (15.9 dB, P.56's margin) above ``c``. Silence and
   pauses therefore do not dilute the level.
3. A frame is **active** when its power is at least ``A - ACTIVE_THRESHOLD_DB`` (15.9 dB, the
   same margin) and above an absolute floor ``FLOOR_POWER`` (1e-10, about -100 dBFS), so digital
   silence and exact-zero padding are never active.
4. A source is active in a segment when at least ``MIN_ACTIVE_FRACTION`` (25 %) of the segment's
   samples lie in active frames. Per segment, 0 active sources gives ``"silence"``, 1 gives
   ``"one"``, 2 or more give ``"overlap"``. The noise reference, when there is one, is
   labelled with the same rule (``noise_active``).

The segment grid is the one of :class:`dsnbench.types.SegmentTrace`: segment ``s`` covers samples
``[s * hop, s * hop + length)``, clipped to the signal length ``T``. A segment that starts at or
after ``T`` (a trace computed on a padded input) has no samples and is labelled ``"silence"``
with ``noise_active`` False.
"""
from __future__ import annotations

import numpy as np

FRAME_MS = 20.0
MARGIN_DB = 15.9
ACTIVE_THRESHOLD_DB = 15.9
FLOOR_POWER = 1e-10
MIN_ACTIVE_FRACTION = 0.25

CATEGORIES = ("silence", "one", "overlap")


def frame_length(sample_rate: int) -> int:
    """Samples per activity frame (20 ms)."""
    return max(1, int(round(sample_rate * FRAME_MS / 1000.0)))


def frame_powers(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square of each non-overlapping 20 ms frame (the last one may be shorter).

    Shape: ``x`` is ``[T]``; returns ``[ceil(T / frame)]``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {x.shape}")
    n = frame_length(sample_rate)
    if x.size == 0:
        return np.zeros(0)
    n_frames = -(-x.size // n)
    padded = np.zeros(n_frames * n)
    padded[: x.size] = x ** 2
    sums = padded.reshape(n_frames, n).sum(axis=1)
    counts = np.full(n_frames, n, dtype=np.float64)
    counts[-1] = x.size - (n_frames - 1) * n
    return sums / counts


def active_level(x: np.ndarray, sample_rate: int) -> float:
    """Active power of ``x`` (mean square over its active frames, linear); 0.0 for silence.

    Shape: ``x`` is ``[T]``.
    """
    p = frame_powers(x, sample_rate)
    p = p[p > FLOOR_POWER]
    if p.size == 0:
        return 0.0
    desc = np.sort(p)[::-1]
    mean_of_top = np.cumsum(desc) / np.arange(1, desc.size + 1)  # mean of the k+1 loudest
    desc_db = 10 * np.log10(desc)
    top = float(desc_db[0])
    grid = np.arange(top - 120.0, top + 0.125, 0.25)
    # number of frames at or above each threshold (desc_db is descending)
    counts = np.searchsorted(-desc_db, -grid, side="right")
    ok = counts > 0
    grid, counts = grid[ok], counts[ok]
    levels = mean_of_top[counts - 1]
    hit = np.flatnonzero(10 * np.log10(levels) - grid <= MARGIN_DB)
    if hit.size:
        return float(levels[hit[0]])
    return float(p.mean())


def active_level_db(x: np.ndarray, sample_rate: int) -> float:
    """:func:`active_level` in dB (relative to full scale 1.0); ``-inf`` for silence."""
    a = active_level(x, sample_rate)
    return 10 * np.log10(a) if a > 0 else float("-inf")


def frame_activity(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Which 20 ms frames of ``x`` are active relative to its own active level.

    Shape: ``x`` is ``[T]``; returns bool ``[ceil(T / frame)]``.
    """
    p = frame_powers(x, sample_rate)
    level = active_level(x, sample_rate)
    if level <= 0:
        return np.zeros(p.shape, dtype=bool)
    return (p >= level * 10 ** (-ACTIVE_THRESHOLD_DB / 10)) & (p > FLOOR_POWER)


def sample_activity(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Frame activity expanded to samples.

    Shape: ``x`` is ``[T]``; returns bool ``[T]``.
    """
    x = np.asarray(x)
    return np.repeat(frame_activity(x, sample_rate), frame_length(sample_rate))[: x.shape[0]]


def active_extent(x: np.ndarray, sample_rate: int) -> tuple[int, int] | None:
    """``(start, end)`` samples from the first to the end of the last active frame, or None.

    Shape: ``x`` is ``[T]``.
    """
    act = frame_activity(x, sample_rate)
    idx = np.flatnonzero(act)
    if idx.size == 0:
        return None
    n = frame_length(sample_rate)
    return int(idx[0] * n), int(min((idx[-1] + 1) * n, np.asarray(x).shape[0]))


def segment_bounds(length: int, hop: int, n_segments: int, n_samples: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each segment of the grid, clipped to ``n_samples``."""
    if length <= 0 or hop <= 0:
        raise ValueError(f"segment length and hop must be positive, got {length}, {hop}")
    out = []
    for s in range(n_segments):
        start = min(s * hop, n_samples)
        out.append((start, min(s * hop + length, n_samples)))
    return out


def _segment_fraction(mask: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    csum = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    frac = np.zeros(len(bounds))
    for i, (a, b) in enumerate(bounds):
        if b > a:
            frac[i] = (csum[b] - csum[a]) / (b - a)
    return frac


def segment_active_sources(sources: np.ndarray, length: int, hop: int, n_segments: int,
                           sample_rate: int) -> np.ndarray:
    """Which sources are active in each segment.

    Shape: ``sources`` is ``[n_src, T]``; returns bool ``[n_segments, n_src]``.
    """
    sources = np.asarray(sources)
    if sources.ndim != 2:
        raise ValueError(f"sources must be [n_src, T], got shape {sources.shape}")
    bounds = segment_bounds(length, hop, n_segments, sources.shape[1])
    cols = [_segment_fraction(sample_activity(s, sample_rate), bounds) >= MIN_ACTIVE_FRACTION
            for s in sources]
    return np.stack(cols, axis=1) if cols else np.zeros((n_segments, 0), dtype=bool)


def label_segments(sources: np.ndarray, noise: np.ndarray | None, length: int, hop: int,
                   n_segments: int, sample_rate: int) -> tuple[list[str], list[bool | None]]:
    """Category (``"silence"`` / ``"one"`` / ``"overlap"``) and noise activity per segment.

    ``noise_active`` is None for every segment when there is no noise reference.

    Shape: ``sources`` is ``[n_src, T]``, ``noise`` is ``[T]`` or None.
    """
    sources = np.asarray(sources, dtype=np.float64)
    active = segment_active_sources(sources, length, hop, n_segments, sample_rate)
    n_active = active.sum(axis=1)
    categories = [CATEGORIES[min(int(k), 2)] for k in n_active]
    if noise is None:
        return categories, [None] * n_segments
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape[0] != sources.shape[1]:
        raise ValueError(f"noise has {noise.shape[0]} samples, sources have {sources.shape[1]}")
    bounds = segment_bounds(length, hop, n_segments, noise.shape[0])
    frac = _segment_fraction(sample_activity(noise, sample_rate), bounds)
    return categories, [bool(f >= MIN_ACTIVE_FRACTION) for f in frac]
