"""Metric functions (dsnbench/metrics/functional.py) against peer reference values, mir_eval,
pesq and pystoi; argument order; errors; segmental SI-SNR and the default grid."""
from __future__ import annotations

import glob
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsnbench.metrics.functional import (MetricError, default_grid, pesq, sdr, segmental_si_snr, si_snr,
                                         si_snr_matrix)
from dsnbench.metrics.intelligibility import stoi, stoi_estoi
from dsnbench.metrics.suite import MetricSuite

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REF = DATA / "reference-values"
needs_data = pytest.mark.skipif(not REF.is_dir(), reason=f"{REF} not present")


def _mir_eval_sdr(refs: np.ndarray, ests: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mir_eval
        return mir_eval.separation.bss_eval_sources(np.atleast_2d(refs), np.atleast_2d(ests),
                                                    compute_permutation=False)[0]


# ---------------------------------------------------------------------------------------
# peer reference values
# ---------------------------------------------------------------------------------------

def _bss_cases() -> list[str]:
    cases = []
    for out in sorted(glob.glob(str(REF / "bss_eval_matlab" / "output*.json"))):
        case = Path(out).stem.replace("output", "")
        first = sorted(glob.glob(str(REF / "bss_eval_matlab" / f"ref{case}" / "*.wav")))[0]
        if sf.info(first).channels == 1:  # multichannel cases are for bss_eval_images
            cases.append(case)
    return cases


@needs_data
@pytest.mark.parametrize("case", _bss_cases() if REF.is_dir() else [])
def test_sdr_equals_matlab_bss_eval(case: str) -> None:
    folder = REF / "bss_eval_matlab"
    refs = np.stack([sf.read(f)[0] for f in sorted(glob.glob(str(folder / f"ref{case}" / "*.wav")))])
    ests = np.stack([sf.read(f)[0] for f in sorted(glob.glob(str(folder / f"est{case}" / "*.wav")))])
    expected = json.loads((folder / f"output{case}.json").read_text())["Sources"]
    perm = expected["Source permutation"]
    got = sdr(refs, ests[perm])
    np.testing.assert_allclose(got, expected["Source to Distortion"], atol=1e-2, rtol=0)
    # the suite's permutation (by SI-SNR) finds the same pairing on these cases
    suite = MetricSuite(["si_snr", "sdr"], sample_rate=sf.info(sorted(glob.glob(str(folder / f"ref{case}" / "*.wav")))[0]).samplerate)
    res = suite.evaluate(ests, refs, refs.sum(axis=0))
    assert list(res.permutation) == perm
    assert res.values["sdr"] == pytest.approx(np.mean(expected["Source to Distortion"]), abs=1e-2)


@needs_data
def test_sdr_precision_case_data_issue_5() -> None:
    d = np.load(REF / "data_issue_5.npz")
    got = sdr(d["target"], d["preds"])
    np.testing.assert_allclose(got, [-2.68156071, 44.58523729], atol=1e-6, rtol=0)


@needs_data
def test_pesq_pair_reference_values() -> None:
    ref, _ = sf.read(REF / "pesq_pair" / "speech.wav")
    deg, _ = sf.read(REF / "pesq_pair" / "speech_bab_0dB.wav")
    assert pesq(ref, deg, 16000) == pytest.approx(1.0832337141036987, abs=1e-6)  # wb default at 16 kHz
    assert pesq(ref, deg, 16000, "wb") == pytest.approx(1.0832337141036987, abs=1e-6)
    assert pesq(ref, deg, 16000, "nb") == pytest.approx(1.6072081327438354, abs=1e-6)
    # the README prints 0.2211 (4 decimals): agree to half a unit of the last printed digit,
    # and to mir_eval to 1e-6 dB
    assert sdr(ref, deg) == pytest.approx(0.2211, abs=5e-5)
    assert sdr(ref, deg) == pytest.approx(float(_mir_eval_sdr(ref, deg)[0]), abs=1e-6)
    s, e = stoi_estoi(ref, deg, 16000)
    assert s == pytest.approx(0.6739177, rel=1e-2)
    assert e == pytest.approx(0.39044999103355366, abs=1e-6)
    assert si_snr(ref, deg) == pytest.approx(0.103790, abs=1e-6)
    # the suite at 16 kHz: wb by default, nb when forced; mode recorded in its settings
    for mode, value in ((None, 1.0832337141036987), ("nb", 1.6072081327438354)):
        suite = MetricSuite(["pesq"], sample_rate=16000, pesq_mode=mode)
        assert suite.settings()["pesq_mode"] == (mode or "wb")
        res = suite.evaluate(deg[None], ref[None], deg)
        assert res.values["pesq"] == pytest.approx(value, abs=1e-6)


# ---------------------------------------------------------------------------------------
# equality with mir_eval / pesq / pystoi on our own signals
# ---------------------------------------------------------------------------------------

def _estimates(a: np.ndarray, b: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    kernel = np.array([1.0, 0.4, -0.2, 0.1])
    filt = np.convolve(a, kernel)[: a.size]
    return [a + 0.3 * b, filt + 0.05 * b + 0.01 * rng.standard_normal(a.size), a + b,
            0.2 * a + b, a + 1e-4 * rng.standard_normal(a.size), 1e-3 * a + 0.5 * rng.standard_normal(a.size)]


def test_sdr_equals_mir_eval_on_speech(speech) -> None:
    a, b = speech
    ests = _estimates(a, b)
    for est in ests:
        assert sdr(a, est) == pytest.approx(float(_mir_eval_sdr(a, est)[0]), abs=1e-6)
    # batched: row by row
    refs = np.stack([a, b])
    pair = np.stack([ests[1], b + 0.2 * a])
    np.testing.assert_allclose(sdr(refs, pair), _mir_eval_sdr(refs, pair), atol=1e-6, rtol=0)
    # a quiet reference (the data_issue_5 situation) keeps its precision
    quiet = 1e-3 * a / np.sqrt(np.mean(a ** 2))
    est = quiet + 1e-4 * b
    assert sdr(quiet, est) == pytest.approx(float(_mir_eval_sdr(quiet, est)[0]), abs=1e-6)


def test_sdr_dense_fallback_and_extreme_levels(speech, monkeypatch) -> None:
    """The dense solve that takes over when Levinson fails gives mir_eval's values too, and a
    very loud signal (squares beyond float64 without the exact power-of-two scaling) is fine."""
    import scipy.linalg
    a, b = speech
    est = _estimates(a, b)[1]
    expected = float(_mir_eval_sdr(a, est)[0])
    with np.errstate(over="ignore"):  # the silence check's power overflows to inf: not silent
        loud = sdr(1e200 * a, 1e200 * est)
    assert loud == pytest.approx(expected, abs=1e-6)

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular principal minor")
    monkeypatch.setattr(scipy.linalg, "solve_toeplitz", singular)
    assert sdr(a, est) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="filter length"):
        sdr(a, est, filter_length=0)


def test_pesq_and_stoi_equal_the_packages(speech) -> None:
    import pesq as pesq_pkg
    import pystoi
    a, b = speech
    for est in _estimates(a, b)[:4]:
        assert pesq(a, est, 8000) == pytest.approx(pesq_pkg.pesq(8000, a, est, "nb"), abs=1e-6)
        s, e = stoi_estoi(a, est, 8000)
        assert s == pytest.approx(pystoi.stoi(a, est, 8000), abs=1e-9)
        assert e == pytest.approx(pystoi.stoi(a, est, 8000, extended=True), abs=1e-9)


# ---------------------------------------------------------------------------------------
# argument order: reference first everywhere
# ---------------------------------------------------------------------------------------

def test_reference_first_in_every_function(speech) -> None:
    import pesq as pesq_pkg
    import pystoi
    a, b = speech
    rng = np.random.default_rng(3)
    # strongly asymmetric pair: the estimate is the reference plus loud noise and the other talker
    est = a + 0.7 * b + 0.2 * rng.standard_normal(a.size) * a.std()
    forward, backward = sdr(a, est), sdr(est, a)
    assert forward == pytest.approx(float(_mir_eval_sdr(a, est)[0]), abs=1e-6)
    assert abs(forward - backward) > 1.0
    assert pesq(a, est, 8000) == pytest.approx(pesq_pkg.pesq(8000, a, est, "nb"), abs=1e-6)
    assert abs(pesq(a, est, 8000) - pesq(est, a, 8000)) > 0.05
    assert stoi(a, est, 8000) == pytest.approx(pystoi.stoi(a, est, 8000), abs=1e-9)
    assert abs(stoi(a, est, 8000) - stoi(est, a, 8000)) > 1e-3
    # SI-SNR is symmetric by definition (it depends only on the correlation coefficient)
    assert si_snr(a, est) == pytest.approx(si_snr(est, a), abs=1e-9)
    # the suite passes sources as references (its signature is estimates, sources, mixture)
    suite = MetricSuite(["sdr", "pesq", "stoi"], sample_rate=8000)
    res = suite.evaluate(est[None], a[None], a + b)
    assert res.values["sdr"] == pytest.approx(forward, abs=1e-9)
    assert res.values["pesq"] == pytest.approx(pesq(a, est, 8000), abs=1e-9)
    assert res.values["stoi"] == pytest.approx(stoi(a, est, 8000), abs=1e-12)


# ---------------------------------------------------------------------------------------
# failure policy: NaN + reason, never raise, never 0
# ---------------------------------------------------------------------------------------


def test_functional_errors_are_metric_errors(speech) -> None:
    a, _ = speech
    with pytest.raises(MetricError, match="silent reference"):
        si_snr(np.zeros_like(a), a)
    with pytest.raises(MetricError, match="silent estimate"):
        sdr(a, np.zeros_like(a))
    with pytest.raises(MetricError, match="non-finite"):
        sdr(a, np.full_like(a, np.nan))
    with pytest.raises(MetricError):
        si_snr_matrix(np.stack([a, np.zeros_like(a)]), np.stack([a, a]))
    m = si_snr_matrix(np.stack([a, np.zeros_like(a)]), np.stack([a, a]), strict=False)
    assert np.isnan(m[1]).all() and np.isfinite(m[0]).all()


# ---------------------------------------------------------------------------------------
# segmental SI-SNR
# ---------------------------------------------------------------------------------------

def test_default_grid() -> None:
    assert default_grid(8000) == (2000, 1000)
    assert default_grid(16000) == (4000, 2000)


def test_segmental_si_snr(speech) -> None:
    a, b = speech
    refs = np.stack([a, b]).copy()
    refs[1, 4000:8000] = 0.0  # source 1 pauses for 0.5 s
    rng = np.random.default_rng(1)
    ests = refs + 0.05 * rng.standard_normal(refs.shape) * refs.std(axis=1, keepdims=True)
    length, hop = default_grid(8000)
    n_seg = 1 + int(np.ceil((refs.shape[1] - length) / hop)) + 1  # one segment past the end
    values, reasons = segmental_si_snr(refs, ests, length, hop, n_seg)
    assert len(values) == len(reasons) == n_seg
    for s in range(n_seg):
        lo, hi = s * hop, min(s * hop + length, refs.shape[1])
        if hi - lo < 2:
            assert math.isnan(values[s]) and reasons[s] == "segment shorter than 2 samples"
        elif lo >= 4000 and hi <= 8000:
            assert math.isnan(values[s]) and reasons[s] == "silent reference in segment"
        elif reasons[s] is None:
            want = np.mean([si_snr(refs[i, lo:hi], ests[i, lo:hi]) for i in range(2)])
            assert values[s] == pytest.approx(want, abs=1e-9)
    assert sum(r == "silent reference in segment" for r in reasons) >= 3
    assert sum(r is None for r in reasons) >= 5
    # NaN in the estimate on one segment only affects the segments that contain it
    ests[0, 100] = np.nan
    values2, reasons2 = segmental_si_snr(refs, ests, length, hop, n_seg)
    assert math.isnan(values2[0]) and "non-finite" in reasons2[0]
    assert values2[3] == pytest.approx(values[3]) or math.isnan(values[3])


@pytest.mark.parametrize("length,hop,noise", [(2000, 1000, 0.05), (1500, 500, 0.05), (800, 400, 1e-4),
                                             (2000, 1000, 1e-7)])
def test_segmental_si_snr_matches_each_segment_alone(speech, length, hop, noise) -> None:
    """The block-sum closed form equals SI-SNR of each segment cut out, on grids whose length
    is not twice the hop, with a ragged end, and at very high SI-SNR (> 40 dB: the sample path)."""
    a, b = speech
    refs = np.stack([a, b])[:, : a.size - 333].copy()
    rng = np.random.default_rng(2)
    ests = 0.7 * refs + noise * rng.standard_normal(refs.shape) * refs.std(axis=1, keepdims=True)
    n_seg = 1 + int(np.ceil((refs.shape[1] - length) / hop))
    values, reasons = segmental_si_snr(refs, ests, length, hop, n_seg)
    checked = 0
    for s in range(n_seg):
        lo, hi = s * hop, min(s * hop + length, refs.shape[1])
        if reasons[s] is None:
            want = np.mean([si_snr(refs[i, lo:hi], ests[i, lo:hi]) for i in range(2)])
            assert values[s] == pytest.approx(want, abs=1e-8), (s, values[s], want)
            checked += 1
    assert checked >= n_seg // 2


def test_pesq_refuses_signals_long_enough_to_crash_its_library_with_the_reason():
    """Issue 21: PESQ's C code segfaulted on long utterances and took the run with it; past the
    stated limit it is a MetricError (a counted NaN with this reason), never a call."""
    from dsnbench.metrics.functional import PESQ_MAX_SECONDS, MetricError, pesq
    rng = np.random.default_rng(0)
    n = int((PESQ_MAX_SECONDS + 1) * 8000)
    x = rng.normal(0, 0.1, n)
    with pytest.raises(MetricError, match=r"pesq not computed on 51.0 s: longer than 50 s"):
        pesq(x, x + 0.01 * rng.normal(size=n), 8000)
