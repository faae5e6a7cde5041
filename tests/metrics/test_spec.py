"""What a metric is (dsnbench/metrics/spec.py): the registration, the column metadata every
reader asks for, and the compute contract the suite applies (values or reasons, never a crash)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dsnbench.metrics import METRICS, Pairs, column_info, distributions, headline_columns, metric, metric_columns, ordered
from dsnbench.metrics.functional import MetricError
from dsnbench.metrics.suite import MetricSuite


def test_shipped_metrics_in_column_order_with_their_metadata():
    assert METRICS.in_order() == ["si_snr", "sdr", "pesq", "stoi", "estoi"]
    assert ordered(["estoi", "si_snr", "estoi"]) == ["si_snr", "estoi"]
    assert headline_columns() == ["si_snri", "sdri", "pesq", "stoi"]
    assert distributions() == ["numpy", "scipy", "pesq", "pystoi"]
    assert metric_columns(["pesq"]) == ["pesq", "pesq_input", "pesqi"]
    assert [column_info(c).header for c in ("si_snri", "sdri", "pesq", "stoi", "gmacs")] == \
        ["SI-SNRi (dB)", "SDRi (dB)", "PESQ", "STOI", "GMAC/s"]
    assert [column_info(c).decimals for c in ("sdri", "stoi", "estoii")] == [2, 3, 3]
    assert column_info("gmacs_per_s").kind == "cost" and not column_info("gmacs_per_s").spec.higher_is_better
    assert column_info("pesqi").label == "PESQ improvement" and column_info("macs") is None
    with pytest.raises(Exception, match="did you mean 'pesq'"):
        ordered(["pseq"])


def test_shared_computation_runs_once_and_replays_its_failure():
    calls = []

    def both():
        calls.append(1)
        yield (1.0, 2.0)
        raise RuntimeError("stopped")

    pairs = Pairs(np.zeros((2, 4)), np.zeros((2, 4)), 8000)
    for _ in range(2):
        got = []
        with pytest.raises(RuntimeError, match="stopped"):
            for item in pairs.shared("k", both):
                got.append(item)
        assert got == [(1.0, 2.0)]
    assert calls == [1] and len(pairs) == 2


def test_a_metric_yields_values_or_reasons_and_a_crash_keeps_what_came_before():
    def flaky(pairs):
        yield 1.5
        yield MetricError("too quiet")
        raise ValueError("library bug")

    metric("flaky", unit="dB", higher_is_better=True, tolerance=0.1, has_input=False)(flaky)
    try:
        rng = np.random.default_rng(0)
        refs = rng.standard_normal((3, 4000))
        res = MetricSuite(["flaky"]).evaluate(refs + 0.1 * rng.standard_normal(refs.shape), refs, refs.sum(0))
        assert res.per_source["flaky"][0] == 1.5 and math.isnan(res.values["flaky"])
        assert res.errors["flaky"] == "source 1: too quiet; source 2: flaky failed: ValueError: library bug"
    finally:
        METRICS.unregister("flaky")
    with pytest.raises(ValueError, match="headline"):
        metric("x", unit="", higher_is_better=True, tolerance=0.0, headline="best")
