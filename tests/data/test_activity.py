"""Segment labels on constructed signals with known activity."""
from __future__ import annotations

import numpy as np
import pytest

from dsnbench.data.activity import (
    active_extent,
    active_level_db,
    frame_activity,
    label_segments,
    segment_bounds,
)

SR = 8000


def burst(n: int, start: int, end: int, amp: float, seed: int) -> np.ndarray:
    """Noise-like 'speech' of amplitude amp in [start, end), exact zeros elsewhere."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    t = np.arange(end - start) / SR
    x[start:end] = amp * (np.sin(2 * np.pi * 180 * t) + 0.3 * rng.standard_normal(end - start))
    return x


def test_active_level_ignores_pauses():
    n = 4 * SR
    x = burst(n, 0, SR, 0.5, 0)
    y = burst(n, 0, 3 * SR, 0.5, 0)  # same level, longer: same active level
    assert active_level_db(x, SR) == pytest.approx(active_level_db(y, SR), abs=0.3)
    assert active_level_db(np.zeros(n), SR) == float("-inf")


def test_quiet_source_measured_against_its_own_level():
    n = 2 * SR
    quiet = burst(n, SR // 2, SR, 0.001, 1)  # -60 dB, still active where it speaks
    act = frame_activity(quiet, SR)
    frames = SR // 50
    assert act[(SR // 2) // frames: SR // frames].all()
    assert not act[: (SR // 2) // frames].any()


def test_labels_on_known_activity():
    # s1 active 0-1.0 s, s2 active 0.5-1.5 s, nothing 1.5-2.0 s; segments of 0.25 s, hop 0.25 s
    n = 2 * SR
    s1 = burst(n, 0, SR, 0.3, 2)
    s2 = burst(n, SR // 2, 3 * SR // 2, 0.05, 3)
    length = hop = SR // 4
    cats, noise = label_segments(np.stack([s1, s2]), None, length, hop, 8, SR)
    assert cats == ["one", "one", "overlap", "overlap", "one", "one", "silence", "silence"]
    assert noise == [None] * 8


def test_noise_activity_and_overlapping_grid():
    n = 2 * SR
    s1 = burst(n, 0, n, 0.3, 4)
    noise = burst(n, SR, n, 0.1, 5)  # noise in the second half only
    length, hop = SR // 2, SR // 4  # 50 % overlapping segments
    cats, noise_active = label_segments(np.stack([s1]), noise, length, hop, 7, SR)
    assert cats == ["one"] * 7
    # segment starts 0, .25, .5, .75, 1.0, 1.25, 1.5 s; each 0.5 s long
    assert noise_active == [False, False, False, True, True, True, True]


def test_segment_grid_clipped_and_past_end():
    assert segment_bounds(100, 50, 4, 160) == [(0, 100), (50, 150), (100, 160), (150, 160)]
    n = SR
    s = burst(n, 0, n, 0.3, 6)
    cats, noise = label_segments(np.stack([s, s]), np.zeros(n), SR // 2, SR // 2, 4, SR)
    assert cats == ["overlap", "overlap", "silence", "silence"]  # the last two are past the end
    assert noise == [False] * 4


def test_short_clipped_segment_and_extent():
    n = SR + 37
    s = burst(n, 800, 4000, 0.3, 7)
    start, end = active_extent(s, SR)
    frame = SR // 50
    assert abs(start - 800) < frame and abs(end - 4000) < frame
    assert active_extent(np.zeros(100), SR) is None


def test_rejects_bad_grid():
    with pytest.raises(ValueError):
        label_segments(np.zeros((2, 100)), None, 0, 10, 1, SR)


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=25, deadline=None)
@given(gain_db=st.floats(-60, 20), length=st.integers(200, 4000), hop=st.integers(100, 4000),
       seed=st.integers(0, 10))
def test_labels_invariant_to_each_sources_own_gain(gain_db, length, hop, seed):
    """Each source is measured against its own level: rescaling one source changes nothing."""
    n = 2 * SR
    rng = np.random.default_rng(seed)
    a, b = sorted(rng.integers(0, n, size=2))
    s1 = burst(n, int(a), int(b) + 1, 0.3, seed)
    s2 = burst(n, n // 4, 3 * n // 4, 0.3, seed + 1)
    n_seg = 1 + max(0, -(-(n - length) // hop))
    cats, _ = label_segments(np.stack([s1, s2]), None, length, hop, n_seg, SR)
    scaled, _ = label_segments(np.stack([s1 * 10 ** (gain_db / 20), s2]), None, length, hop, n_seg, SR)
    assert len(cats) == n_seg and cats == scaled
    assert set(cats) <= {"silence", "one", "overlap"}
