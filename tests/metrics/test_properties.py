"""Property tests (hypothesis) of the metric functions and the suite. Example counts are kept
small: each example runs real PESQ/STOI/SDR computations."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dsnbench.metrics.functional import sdr, si_snr
from dsnbench.metrics.intelligibility import stoi_estoi
from dsnbench.metrics.suite import MetricSuite

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def talkers() -> list[np.ndarray]:
    """Four real utterances at 8 kHz (LibriSpeech test-other), 2 s each."""
    import soundfile as sf
    from scipy.signal import resample_poly
    files = sorted((DATA / "librispeech" / "test-other").glob("*/*-0000.flac"))[:4]
    if len(files) < 4:
        pytest.skip("LibriSpeech test-other not present")
    out = []
    for f in files:
        x = resample_poly(sf.read(f)[0], 1, 2)
        out.append(x[:16000] if x.size >= 16000 else np.pad(x, (0, 16000 - x.size)))
    return out


def _scene(talkers, i: int, j: int, gain: float, residual: float, seed: int):
    a, b = talkers[i % 4], talkers[(i + 1 + j % 3) % 4]
    refs = np.stack([a, gain * b])
    mix = refs.sum(axis=0)
    rng = np.random.default_rng(seed)
    ests = refs + residual * (refs[::-1] + 0.1 * rng.standard_normal(refs.shape) * refs.std())
    return refs, mix, ests


@FAST
@given(i=st.integers(0, 3), j=st.integers(0, 2), gain=st.floats(0.3, 3.0), residual=st.floats(0.0, 0.8),
       seed=st.integers(0, 1000), swap=st.booleans())
def test_permutation_invariance(talkers, i, j, gain, residual, seed, swap) -> None:
    refs, mix, ests = _scene(talkers, i, j, gain, residual, seed)
    suite = MetricSuite(["si_snr", "sdr", "stoi"], sample_rate=8000)
    inputs = suite.input_values(mix, refs)
    base = suite.evaluate(ests, refs, mix, inputs)
    order = [1, 0] if swap else [0, 1]
    moved = suite.evaluate(ests[order], refs, mix, inputs)
    for k, v in base.values.items():
        assert moved.values[k] == pytest.approx(v, abs=1e-9, nan_ok=True), k
    # the recorded permutation follows the estimates
    assert [order[p] for p in moved.permutation] == list(base.permutation)


@FAST
@given(scale_est=st.floats(1e-3, 1e3), scale_ref=st.floats(1e-3, 1e3), shift=st.integers(0, 8000))
def test_si_snr_and_sdr_scale_invariance(talkers, scale_est, scale_ref, shift) -> None:
    a, b = talkers[0], talkers[1]
    est = a + 0.3 * np.roll(b, shift)
    assert si_snr(scale_ref * a, scale_est * est) == pytest.approx(si_snr(a, est), abs=1e-9)
    assert sdr(scale_ref * a, scale_est * est) == pytest.approx(sdr(a, est), abs=1e-6)


@FAST
@given(i=st.integers(0, 3), j=st.integers(0, 2), gain=st.floats(0.3, 3.0))
def test_oracle_mixture_improvement_is_zero(talkers, i, j, gain) -> None:
    refs, mix, _ = _scene(talkers, i, j, gain, 0.0, 0)
    suite = MetricSuite(sample_rate=8000)
    res = suite.evaluate(np.stack([mix, mix]), refs, mix)
    assert not res.errors
    for n in suite.names:  # the same arithmetic on the same samples: exactly 0
        assert res.values[f"{n}i"] == 0.0, n


@FAST
@given(i=st.integers(0, 3), residual=st.floats(0.0, 5.0), noise=st.floats(0.0, 3.0), seed=st.integers(0, 99))
def test_stoi_bounds(talkers, i, residual, noise, seed) -> None:
    a, b = talkers[i], talkers[(i + 1) % 4]
    rng = np.random.default_rng(seed)
    est = a + residual * b + noise * a.std() * rng.standard_normal(a.size)
    s, e = stoi_estoi(a, est, 8000)
    # the bounds hold up to float rounding: an estimate equal to its reference gives
    # 1 +- 1e-15 (e.g. ESTOI 1.0000000000000004 for the second talker, on any version)
    slack = 1e-12
    assert -1.0 - slack <= s <= 1.0 + slack and -1.0 - slack <= e <= 1.0 + slack
    s1, e1 = stoi_estoi(a, a, 8000)
    assert s1 == pytest.approx(1.0, abs=1e-9) and e1 == pytest.approx(1.0, abs=1e-9)


_finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=15, deadline=None)
@given(data=st.data(), n_src=st.integers(1, 3), n=st.sampled_from([1, 7, 300, 2100, 4000]))
def test_no_exception_on_any_finite_input(data, n_src, n) -> None:
    shape = (n_src, n)
    elements = data.draw(st.sampled_from(["noise", "drawn", "zeros", "const"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    if elements == "noise":
        refs = rng.standard_normal(shape) * data.draw(st.sampled_from([1e-9, 1e-3, 1.0, 1e3]))
        ests = rng.standard_normal(shape)
    elif elements == "drawn":
        refs = data.draw(arrays(np.float64, shape, elements=_finite))
        ests = data.draw(arrays(np.float64, shape, elements=_finite))
    elif elements == "zeros":
        refs, ests = rng.standard_normal(shape), np.zeros(shape)
    else:
        refs, ests = np.ones(shape), rng.standard_normal(shape)
    mix = refs.sum(axis=0)
    suite = MetricSuite(sample_rate=8000)
    inputs = suite.input_values(mix, refs)
    res = suite.evaluate(ests, refs, mix, inputs, segment_grid=(2000, 1000, 4))
    assert list(res.values) == suite.columns()
    for col, v in res.values.items():
        assert math.isfinite(v) or math.isnan(v), (col, v)
        if math.isnan(v):
            assert res.errors.get(col), f"{col} NaN without a reason"
    assert res.segments is not None and len(res.segments[0]) == 4
    for v, r in zip(*res.segments):
        assert (math.isnan(v) and r) or (math.isfinite(v) and r is None)
