"""Summary statistics: means with seeded bootstrap intervals, and paired model comparisons.

- :func:`summarize`: mean over utterances and a 95 % percentile-bootstrap interval of the mean
  (resampling utterances with replacement, ``n_boot`` times, from ``numpy.random.default_rng(seed)``:
  the same input and seed give the same interval). NaN values (failed metrics) are left out and
  counted.
- :func:`paired_comparison`: two models on the same utterances. The per-utterance differences
  ``b - a`` give the mean difference, its bootstrap interval (same scheme) and two paired test
  p-values: Wilcoxon signed-rank (``scipy.stats.wilcoxon``, two-sided; no normality assumption)
  and the paired t-test (``scipy.stats.ttest_rel``). Utterances where either value is NaN are
  left out and counted.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def _bootstrap_interval(x: np.ndarray, seed: int, n_boot: int) -> list[float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [float(lo), float(hi)]


def summarize(values: Any, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Mean and seeded 95 % bootstrap interval of the finite values.

    Returns ``{"mean": m, "ci95": [lo, hi], "n": finite count, "n_nan": NaN count}``; with no
    finite value, mean and interval are NaN. Inf counts as a value (it makes the mean Inf).

    Shape: ``values [n_utterances]``.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    nan = np.isnan(x)
    x = x[~nan]
    out: dict[str, Any] = {"mean": math.nan, "ci95": [math.nan, math.nan], "n": int(x.size),
                           "n_nan": int(nan.sum())}
    if x.size == 0:
        return out
    out["mean"] = float(x.mean())
    if not np.all(np.isfinite(x)):
        out["ci95"] = [out["mean"], out["mean"]]
        return out
    out["ci95"] = _bootstrap_interval(x, seed, n_boot)
    return out


def paired_comparison(a: Any, b: Any, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Compare paired values ``b`` against ``a`` (same utterances, same order).

    Returns ``mean_a``, ``mean_b``, ``mean_diff`` (b - a), ``ci95`` of the mean difference,
    ``p_wilcoxon``, ``p_ttest``, ``n`` (pairs used) and ``n_dropped`` (pairs with a NaN).
    p-values are NaN when undefined (fewer than 2 pairs, or all differences zero for the t-test).

    Shape: ``a [n]``, ``b [n]``.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired values differ in length: {x.size} vs {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    d = y - x
    out: dict[str, Any] = {"n": int(d.size), "n_dropped": int((~keep).sum()),
                           "mean_a": math.nan, "mean_b": math.nan, "mean_diff": math.nan,
                           "ci95": [math.nan, math.nan], "p_wilcoxon": math.nan, "p_ttest": math.nan}
    if d.size == 0:
        return out
    out.update(mean_a=float(x.mean()), mean_b=float(y.mean()), mean_diff=float(d.mean()),
               ci95=_bootstrap_interval(d, seed, n_boot))
    if d.size >= 2:
        import warnings

        from scipy import stats
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if np.any(d != 0):
                out["p_wilcoxon"] = float(stats.wilcoxon(y, x).pvalue)
            else:
                out["p_wilcoxon"] = 1.0
            if np.std(d) > 0:
                out["p_ttest"] = float(stats.ttest_rel(y, x).pvalue)
    return out
