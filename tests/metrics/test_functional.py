"""Metric values against peer reference values, mir_eval, pesq and pystoi; argument order;
the failure policy; segmental SI-SNR; the suite's columns and settings."""
from __future__ import annotations

import glob
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsnbench.metrics import METRICS
from dsnbench.metrics.functional import (MetricError, default_grid, pesq, sdr, segmental_si_snr, si_snr,
                                         si_snr_matrix)
from dsnbench.metrics.intelligibility import stoi, stoi_estoi
from dsnbench.metrics.suite import MetricSuite, UtteranceMetrics

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REF = DATA / "reference-values"
needs_data = pytest.mark.skipif(not REF.is_dir(), reason=f"{REF} not present")


def _mir_eval_sdr(refs: np.ndarray, ests: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mir_eval
        return mir_eval.separation.bss_eval_sources(np.atleast_2d(refs), np.atleast_2d(ests),
                                                    compute_permutation=False)[0]


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, np.ndarray]:
    """Two real utterances of different speakers, 1.5 s at 8 kHz (LibriSpeech test-other)."""
    from scipy.signal import resample_poly
    files = [DATA / "librispeech/test-other/3005/3005-163389-0000.flac",
             DATA / "librispeech/test-other/1688/1688-142285-0000.flac"]
    if not all(f.exists() for f in files):
        pytest.skip("LibriSpeech test-other not present")
    out = [resample_poly(sf.read(f)[0], 1, 2)[4000:16000] for f in files]
    return out[0], out[1]


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


def test_metric_worker_path_never_imports_torch(tmp_path) -> None:
    """All metrics of one utterance through compute_metrics (the worker's job) in a fresh
    interpreter: torch and torchmetrics stay out of sys.modules, so workers start fast and
    no torch thread pool exists in them (design section 9)."""
    import subprocess
    import sys
    script = (
        "import sys, numpy as np\n"
        "from dsnbench.run.jobs import MetricJob, compute_metrics\n"
        "rng = np.random.default_rng(0)\n"
        "s = rng.standard_normal((2, 8000))\n"
        "job = MetricJob('u', s[::-1] + 0.1 * rng.standard_normal(s.shape), s, s.sum(0), None,\n"
        "                2000, 1000, 7, None, 8000, None, None)\n"
        "r = compute_metrics(job)\n"
        "assert not r.errors and all(np.isfinite(v) for v in r.values.values()), r.errors\n"
        "assert 'sdr' in r.values and 'pesq' in r.values and 'estoi' in r.values\n"
        "print(sorted(m for m in ('torch', 'torchmetrics') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_pesq_and_stoi_equal_the_packages(speech) -> None:
    import pesq as pesq_pkg
    import pystoi
    a, b = speech
    for est in _estimates(a, b)[:4]:
        assert pesq(a, est, 8000) == pytest.approx(pesq_pkg.pesq(8000, a, est, "nb"), abs=1e-6)
        s, e = stoi_estoi(a, est, 8000)
        assert s == pytest.approx(pystoi.stoi(a, est, 8000), abs=1e-9)
        assert e == pytest.approx(pystoi.stoi(a, est, 8000, extended=True), abs=1e-9)


def test_suite_values_equal_the_peer_libraries(speech) -> None:
    import pesq as pesq_pkg
    import pystoi
    a, b = speech
    refs, mix = np.stack([a, b]), a + b
    ests = np.stack([b + 0.25 * a, _estimates(a, b)[1]])  # swapped order: PIT must undo it
    suite = MetricSuite(sample_rate=8000)
    inputs = suite.input_values(mix, refs)
    res = suite.evaluate(ests, refs, mix, inputs)
    assert res.permutation == (1, 0)
    assert not res.errors
    aligned = ests[[1, 0]]
    mix2 = np.stack([mix, mix])
    expected = {
        "si_snr": [si_snr(refs[i], aligned[i]) for i in range(2)],
        "si_snr_input": [si_snr(refs[i], mix) for i in range(2)],
        "sdr": _mir_eval_sdr(refs, aligned), "sdr_input": _mir_eval_sdr(refs, mix2),
        "pesq": [pesq_pkg.pesq(8000, refs[i], aligned[i], "nb") for i in range(2)],
        "pesq_input": [pesq_pkg.pesq(8000, refs[i], mix, "nb") for i in range(2)],
        "stoi": [pystoi.stoi(refs[i], aligned[i], 8000) for i in range(2)],
        "stoi_input": [pystoi.stoi(refs[i], mix, 8000) for i in range(2)],
        "estoi": [pystoi.stoi(refs[i], aligned[i], 8000, extended=True) for i in range(2)],
        "estoi_input": [pystoi.stoi(refs[i], mix, 8000, extended=True) for i in range(2)],
    }
    for col, per in expected.items():
        tol = 1e-6 if col.startswith(("si_snr", "sdr")) else 1e-9
        assert res.values[col] == pytest.approx(float(np.mean(per)), abs=tol), col
        base = col.replace("_input", "")
        assert res.values[f"{base}i"] == pytest.approx(res.values[base] - res.values[f"{base}_input"], abs=1e-12)
    assert list(res.values) == suite.columns()


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

def _check_policy(res: UtteranceMetrics) -> None:
    for col, v in res.values.items():
        assert isinstance(v, float)
        assert math.isfinite(v) or math.isnan(v), (col, v)
        if math.isnan(v):
            assert res.errors.get(col), f"{col} is NaN without a reason"
    assert set(res.errors) <= {c for c, v in res.values.items() if math.isnan(v)}


def test_nan_in_estimate(speech) -> None:
    a, b = speech
    refs, mix = np.stack([a, b]), a + b
    ests = refs + 0.1 * refs[::-1]
    ests[1, 100] = np.nan
    suite = MetricSuite(sample_rate=8000)
    res = suite.evaluate(ests, refs, mix)
    _check_policy(res)
    for n in suite.names:
        assert math.isnan(res.values[n]) and "non-finite" in res.errors[n]
        assert math.isnan(res.values[f"{n}i"])
        assert math.isfinite(res.values[f"{n}_input"])
    ests[1, 100] = np.inf
    _check_policy(suite.evaluate(ests, refs, mix))


def test_silent_estimate_and_silent_reference(speech) -> None:
    a, b = speech
    refs, mix = np.stack([a, b]), a + b
    suite = MetricSuite(sample_rate=8000)
    ests = np.stack([a + 0.1 * b, np.zeros_like(b)])
    res = suite.evaluate(ests, refs, mix)
    _check_policy(res)
    assert res.permutation == (0, 1)  # the defined pair still decides the permutation
    for n in suite.names:
        assert math.isnan(res.values[n]) and "silent estimate" in res.errors[n]
    assert res.per_source["si_snr"][0] == pytest.approx(si_snr(a, a + 0.1 * b))
    # the silent estimate first: the scorable one is still matched to its reference
    res = suite.evaluate(ests[::-1], refs, mix)
    assert res.permutation == (1, 0)
    assert res.per_source["si_snr"][0] == pytest.approx(si_snr(a, a + 0.1 * b))

    silent_refs = np.stack([a, np.zeros_like(b)])
    inputs = suite.input_values(a, silent_refs)
    _check_policy(inputs)
    res = suite.evaluate(np.stack([a, b]), silent_refs, a, inputs)
    _check_policy(res)
    for n in suite.names:
        for col in (n, f"{n}_input", f"{n}i"):
            assert math.isnan(res.values[col]) and "silent reference 1" in res.errors[col]


def test_too_short_for_pesq_and_stoi(speech) -> None:
    a, b = speech
    n = 800  # 0.1 s at 8 kHz
    refs, mix = np.stack([a[:n], b[:n]]), a[:n] + b[:n]
    suite = MetricSuite(sample_rate=8000)
    res = suite.evaluate(refs + 0.1 * refs[::-1], refs, mix)
    _check_policy(res)
    for col in ("pesq", "pesq_input", "stoi", "estoi_input"):
        assert math.isnan(res.values[col])
    assert "pesq" in res.errors["pesq"].lower()
    assert "stoi" in res.errors["stoi"].lower()
    assert math.isfinite(res.values["si_snr"]) and math.isfinite(res.values["sdr"])


def test_pesq_failure_is_a_reason_not_a_crash(monkeypatch) -> None:
    import pesq as pesq_pkg
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(1600)  # 0.2 s: shorter than the 1/4 s pesq needs
    with pytest.raises(MetricError, match="BufferTooShortError"):
        pesq(ref, ref + 0.1 * rng.standard_normal(1600), 8000)
    # the package's other refusals are caught the same way (NoUtterancesError is hard to
    # provoke on purpose, so the library call is replaced by one that raises it)
    def refuse(*args, **kwargs):
        raise pesq_pkg.NoUtterancesError(b"No utterances detected")
    monkeypatch.setattr(pesq_pkg, "pesq", refuse)
    ref = rng.standard_normal(8000)
    with pytest.raises(MetricError, match="NoUtterancesError"):
        pesq(ref, ref, 8000)
    res = MetricSuite(["pesq", "si_snr"], sample_rate=8000).evaluate(ref[None] + 0.1, ref[None], ref)
    assert math.isnan(res.values["pesq"]) and "NoUtterancesError" in res.errors["pesq"]
    assert math.isfinite(res.values["si_snr"])


def test_invalid_shapes_never_raise(speech) -> None:
    a, b = speech
    suite = MetricSuite(sample_rate=8000)
    refs = np.stack([a, b])
    res = suite.evaluate(refs[:1], refs, a + b)  # one estimate for two sources
    _check_policy(res)
    assert all(math.isnan(res.values[n]) for n in suite.names)
    inputs = suite.input_values(a[:100], refs)
    _check_policy(inputs)
    assert all(math.isnan(v) for v in inputs.values.values())


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
# suite settings and columns
# ---------------------------------------------------------------------------------------

def test_columns_and_registry() -> None:
    suite = MetricSuite(sample_rate=8000)
    assert suite.columns() == ["si_snr", "si_snr_input", "si_snri", "sdr", "sdr_input", "sdri",
                               "pesq", "pesq_input", "pesqi", "stoi", "stoi_input", "stoii",
                               "estoi", "estoi_input", "estoii"]
    for n in ("si_snr", "sdr", "pesq", "stoi", "estoi"):
        spec = METRICS.get(n)
        assert spec.higher_is_better and spec.tolerance > 0 and spec.unit
    sub = MetricSuite(["stoi", "si_snr", "stoi"], sample_rate=8000)
    assert sub.names == ["si_snr", "stoi"]
    with pytest.raises(KeyError, match="did you mean"):
        MetricSuite(["sdri"], sample_rate=8000)


def test_pesq_mode_validation() -> None:
    assert MetricSuite(sample_rate=8000).pesq_mode == "nb"
    assert MetricSuite(sample_rate=16000).pesq_mode == "wb"
    assert MetricSuite(sample_rate=16000, pesq_mode="nb").pesq_mode == "nb"
    with pytest.raises(ValueError, match="wide-band"):
        MetricSuite(sample_rate=8000, pesq_mode="wb")
    with pytest.raises(ValueError, match="8000 or 16000"):
        MetricSuite(sample_rate=44100)
    assert MetricSuite(["si_snr", "sdr", "stoi"], sample_rate=44100).pesq_mode is None
    with pytest.raises(ValueError, match="'nb' or 'wb'"):
        MetricSuite(sample_rate=16000, pesq_mode="xx")
    a, b = MetricSuite(sample_rate=16000).settings(), MetricSuite(sample_rate=16000, pesq_mode="nb").settings()
    assert a != b  # the mode is part of the cache key


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


def test_suite_segment_grid(speech) -> None:
    a, b = speech
    refs = np.stack([a, b])
    ests = np.stack([b, a]) + 0.01
    suite = MetricSuite(["si_snr"], sample_rate=8000)
    res = suite.evaluate(ests, refs, a + b, segment_grid=(2000, 1000, 11))
    assert res.permutation == (1, 0)
    assert res.segments is not None
    want = segmental_si_snr(refs, ests[[1, 0]], 2000, 1000, 11)
    assert res.segments[1] == want[1]
    np.testing.assert_allclose(res.segments[0], want[0])


# ---------------------------------------------------------------------------------------
# the STOI reference cache and the warming metric pool
# ---------------------------------------------------------------------------------------

def test_stoi_reference_cache_gives_pystoi_values_and_keeps_its_budget(speech) -> None:
    """Reference-side work is cached per reference content: a second estimate against the same
    reference (a hit) gives exactly pystoi's values, a different reference with the same length
    is a miss, and the caches stay within their byte budgets."""
    import pystoi

    from dsnbench.metrics import intelligibility as intel
    a, b = speech
    rng = np.random.default_rng(3)
    cache = intel._ReferenceCache(compact_bytes=1 << 20, prepared_bytes=1 << 20)
    for ref in (a, b, a, b, a):
        est = ref + 0.3 * rng.standard_normal(ref.shape) * ref.std()
        prepared = cache.get(ref, 8000)
        s, e = intel.estimate_side(prepared, intel.at_stoi_rate(est, 8000))
        assert s == pytest.approx(pystoi.stoi(ref, est, 8000), abs=1e-9)
        assert e == pytest.approx(pystoi.stoi(ref, est, 8000, extended=True), abs=1e-9)
    assert len(cache.compact) == 2                        # a and b, each computed once
    assert cache.get(a, 8000) is cache.get(a, 8000)       # a hit returns the cached entry
    assert cache.get(a, 16000) is not cache.get(a, 8000)  # the rate is part of the key
    small = intel._ReferenceCache(compact_bytes=1, prepared_bytes=1)
    for ref in (a, b):
        small.get(ref, 8000)
    assert len(small.compact) == len(small.prepared) == 1  # over budget: only the newest stays
    assert cache.sizes[0] == sum(intel._nbytes(v) for v in cache.compact.values())


def _square(x: int) -> int:
    return x * x


def test_warming_pool_computes_here_until_its_workers_are_up() -> None:
    """Jobs submitted while the pool starts run in this process (done at once); later ones go
    to the workers; every future has the right result either way."""
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from dsnbench.run.pool import WarmingPool
    gate = threading.Event()

    def factory() -> ProcessPoolExecutor:
        gate.wait(30)  # the pool "starts" only when the test lets it
        return ProcessPoolExecutor(max_workers=1)

    pool = WarmingPool(factory)
    try:
        early = [pool.submit(_square, k) for k in range(3)]
        assert all(f.done() for f in early)               # computed here, not waiting
        gate.set()
        assert pool.worker_pids()                          # waits until a worker answered
        late = [pool.submit(_square, k) for k in range(3, 6)]
        assert [f.result(timeout=60) for f in early + late] == [k * k for k in range(6)]
    finally:
        pool.shutdown()


def test_warming_pool_that_cannot_start_computes_everything_here(capsys) -> None:
    from dsnbench.run.pool import WarmingPool

    def factory():
        raise OSError("no processes here")

    pool = WarmingPool(factory)
    pool.shutdown()  # joins the start thread
    assert pool.submit(_square, 7).result() == 49
    assert "metric workers did not start (OSError: no processes here)" in capsys.readouterr().err
