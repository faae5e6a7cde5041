"""The per-utterance suite (dsnbench/metrics/suite.py): values equal to the peer libraries,
the failure policy (NaN with a reason, never an exception), columns, PESQ modes, segment grids."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dsnbench.metrics import METRICS
from dsnbench.metrics.functional import MetricError, pesq, segmental_si_snr, si_snr
from dsnbench.metrics.suite import MetricSuite, UtteranceMetrics

from tests.metrics.test_functional import _estimates, _mir_eval_sdr


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


def test_one_target_and_two_outputs_scores_the_closest_output():
    """An enhancement task: the separator's output with the best SI-SNR is scored, and named."""
    from dsnbench.metrics.functional import best_permutation
    rng = np.random.default_rng(3)
    target = rng.standard_normal(4000)
    other = rng.standard_normal(4000)
    mixture = target + other
    outputs = np.stack([other + 0.1 * target, target + 0.05 * other])
    got = MetricSuite(["si_snr", "sdr"]).evaluate(outputs, target[None], mixture)
    alone = MetricSuite(["si_snr", "sdr"]).evaluate(outputs[1:], target[None], mixture)
    assert got.permutation == (1,)
    assert got.values == alone.values
    assert best_permutation(np.array([[1.0, 3.0, 2.0], [0.0, 5.0, 1.0]])) == (2, 1)
    mixture_twice = MetricSuite(["si_snr"]).evaluate(np.stack([mixture, mixture]), target[None], mixture)
    assert mixture_twice.values["si_snri"] == 0.0
    bad = MetricSuite(["si_snr"]).evaluate(outputs, np.stack([target, other, target]), mixture)
    assert np.isnan(bad.values["si_snr"]) and "do not match" in bad.errors["si_snr"]
