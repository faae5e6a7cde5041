"""Bootstrap means and paired comparisons (dsnbench/metrics/stats.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dsnbench.metrics.stats import paired_comparison, summarize


def test_summarize_bootstrap_is_deterministic_and_counts_nan() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(10.0, 2.0, 200)
    x[:7] = np.nan
    a, b = summarize(x, seed=0), summarize(x, seed=0)
    assert a == b
    assert a["n"] == 193 and a["n_nan"] == 7
    assert a["mean"] == pytest.approx(np.nanmean(x))
    lo, hi = a["ci95"]
    assert lo < a["mean"] < hi
    # the interval is about +-1.96 standard errors wide
    se = np.nanstd(x) / np.sqrt(193)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert summarize(x, seed=1)["ci95"] != a["ci95"]
    empty = summarize([math.nan, math.nan])
    assert math.isnan(empty["mean"]) and empty["n_nan"] == 2 and empty["n"] == 0
    assert summarize([3.0])["ci95"] == [3.0, 3.0]


def test_paired_comparison() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(10, 3, 100)
    b = a + 0.5 + rng.normal(0, 0.2, 100)
    res = paired_comparison(a, b, seed=0)
    assert res["mean_diff"] == pytest.approx(np.mean(b - a))
    assert res["ci95"][0] < res["mean_diff"] < res["ci95"][1]
    assert res["ci95"][0] > 0
    assert res["p_wilcoxon"] < 1e-6 and res["p_ttest"] < 1e-6
    same = paired_comparison(a, a)
    assert same["mean_diff"] == 0 and same["p_wilcoxon"] == 1.0
    b2 = b.copy()
    b2[3] = np.nan
    assert paired_comparison(a, b2)["n_dropped"] == 1
    noise = paired_comparison(a, a + rng.normal(0, 0.2, 100))
    assert noise["ci95"][0] < 0 < noise["ci95"][1]  # no true difference: the interval holds 0
    assert noise["p_wilcoxon"] > 0.05 and noise["p_ttest"] > 0.05
    with pytest.raises(ValueError):
        paired_comparison(a, b[:-1])
