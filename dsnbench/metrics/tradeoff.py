"""Quality against compute with per-utterance pairing: Pareto fronts, the paired gap of a point
to a reference curve, the paired area between two fronts, and hypervolume.

Everything here works on plain arrays (costs in GMAC per second of audio, one row of
per-utterance values per model), so both the run engine (summary.json) and the analysis
package (tables, figures, report) compute the same numbers from the same code.

Conventions:

- A *curve* is the Pareto front of a family's models, judged on their mean quality and mean
  cost, sorted by cost and joined by straight lines in linear GMAC/s.
- The *per-utterance reference* of a point at cost ``c`` is interpolated, on each utterance,
  between the two front members whose costs bracket ``c`` (weights from the costs, values from
  that utterance): its mean over utterances is the mean curve at ``c``. From the front's
  costliest member up to the costliest member of the family (those are dominated: a budget of
  ``c`` buys nothing better) the reference stays at the front's costliest member. Below the
  cheapest member or above the costliest the point is outside the range: :class:`OutsideRange`
  is raised, nothing is extrapolated.
- The *paired gap* is the mean over utterances of (point - reference) (sign flipped for a
  lower-is-better metric, so that positive always means the point is better), with a seeded
  percentile-bootstrap 95 % interval over utterances, Wilcoxon signed-rank and paired-t
  p-values (:func:`dsnbench.metrics.stats.paired_comparison`) and the number of utterances.
- The *area between fronts* A and B: on the overlap ``[lo, hi]`` of their cost ranges, each
  utterance's two curves (the fronts' members' values on that utterance, at the members' mean
  costs) are integrated exactly (both are piecewise linear, so the trapezoid rule on the union
  of break points is exact); the utterance's mean gap is that integral over ``hi - lo``. Their
  mean is the gap between the two mean curves; the bootstrap resamples utterances, so the
  interval keeps the pairing.
- *Hypervolume* of a front against a reference point ``(cost_ref, quality_ref)``: the area of
  the region of the (cost, quality) plane that some front point dominates and that dominates
  the reference point (units: GMAC/s x metric unit). Bigger is better; it is only comparable
  between fronts measured against the same reference point.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .stats import paired_comparison


class OutsideRange(ValueError):
    """A point's cost lies outside the reference curve's compute range (nothing is extrapolated)."""


def pareto_mask(cost: np.ndarray, quality: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Boolean mask of the non-dominated points; NaN points are never on the front.

    A point is dropped if another is at most as costly and at least as good, and strictly
    better in one of the two.

    Shape: ``cost [n]``, ``quality [n]`` -> ``[n]``.
    """
    c = np.asarray(cost, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if c.shape != q.shape or c.ndim != 1:
        raise ValueError(f"cost and quality must be equal 1-D arrays, got {c.shape} and {q.shape}")
    if not higher_is_better:
        q = -q
    ok = np.isfinite(c) & np.isfinite(q)
    mask = np.zeros(c.shape, dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok.copy()
        others[i] = False
        dominated = others & (c <= c[i]) & (q >= q[i]) & ((c < c[i]) | (q > q[i]))
        mask[i] = not dominated.any()
    return mask


def front_indices(cost: np.ndarray, quality: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Indices of the non-dominated points sorted by cost (of equal points, the first once).

    Shape: ``cost [n]``, ``quality [n]`` -> ``[k]``.
    """
    c = np.asarray(cost, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    idx = np.flatnonzero(pareto_mask(c, q, higher_is_better))
    order = np.lexsort((idx, -q[idx] if higher_is_better else q[idx], c[idx]))
    idx = idx[order]
    keep = np.ones(idx.size, dtype=bool)
    keep[1:] = c[idx][1:] != c[idx][:-1]  # equal points: one is enough for a curve
    return idx[keep]


def front(cost: np.ndarray, quality: np.ndarray, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The non-dominated points sorted by cost (ties in cost keep the better quality once).

    Shape: returns ``(cost [k], quality [k])``.
    """
    c = np.asarray(cost, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    i = front_indices(c, q, higher_is_better)
    return c[i], q[i]


def _means(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(v)
        n = ok.sum(axis=1)
        s = np.where(ok, v, 0.0).sum(axis=1)
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def interpolation_weights(cost: float, ref_costs: np.ndarray, ref_values: np.ndarray,
                          higher_is_better: bool = True, hold_above: bool = False) -> np.ndarray:
    """Weights ``w [k]`` with ``w @ ref_values`` = the per-utterance reference at ``cost``.

    The reference curve is the front of the members' mean values (NaN left out of each mean);
    at most two weights are non-zero (the bracketing front members). Raises
    :class:`OutsideRange` (with the range in the message) below the cheapest member or above the
    costliest one; with ``hold_above`` a cost above the range keeps the front's costliest
    member (for a reference that can always spend less than its budget, such as an oracle
    allocation: a larger budget buys at least what its best allocation gave).

    Shape: ``ref_costs [k]``, ``ref_values [k, n_utterances]`` -> ``[k]``.
    """
    rc = np.asarray(ref_costs, dtype=np.float64)
    means = _means(ref_values)
    idx = front_indices(rc, means, higher_is_better)
    if idx.size == 0:
        raise OutsideRange("the reference has no member with a finite cost and quality")
    fc = rc[idx]
    c_max = float(np.nanmax(rc[np.isfinite(means)]))
    c = float(cost)
    if not math.isfinite(c) or c < fc[0] or (c > max(fc[-1], c_max) and not hold_above):
        raise OutsideRange(f"{c:.4g} GMAC/s is outside the reference's range {fc[0]:.4g}-{max(fc[-1], c_max):.4g} GMAC/s")
    w = np.zeros(rc.size)
    if c >= fc[-1]:
        w[idx[-1]] = 1.0
        return w
    j = int(np.searchsorted(fc, c, side="right")) - 1
    t = (c - fc[j]) / (fc[j + 1] - fc[j])
    w[idx[j]] += 1.0 - t
    w[idx[j + 1]] += t
    return w


def paired_gap(point_values: Any, cost: float, ref_costs: Any, ref_values: Any,
               higher_is_better: bool = True, seed: int = 0, n_boot: int = 1000,
               hold_above: bool = False) -> dict[str, Any]:
    """The paired gap of one point to a reference curve at the point's cost (module docstring).

    ``point_values [n]`` and ``ref_values [k, n]`` hold the same utterances in the same order.
    Returns ``gap`` (mean paired difference, positive = the point is better), ``ci95``,
    ``p_wilcoxon``, ``p_ttest``, ``n`` (utterances used), ``n_dropped`` (utterances with a NaN
    in the point or a bracketing member), ``point`` and ``reference`` (their means on those
    utterances) and ``bracket`` (the indices of the members with non-zero weight). Raises
    :class:`OutsideRange` when the cost is outside the reference's range (``hold_above``: see
    :func:`interpolation_weights`).
    """
    x = np.asarray(point_values, dtype=np.float64).ravel()
    rv = np.asarray(ref_values, dtype=np.float64)
    if rv.ndim != 2 or rv.shape[1] != x.size:
        raise ValueError(f"reference values must be [k, {x.size}], got {rv.shape}")
    w = interpolation_weights(cost, np.asarray(ref_costs, dtype=np.float64), rv, higher_is_better, hold_above)
    used = np.flatnonzero(w)
    ref = (w[used, None] * rv[used]).sum(axis=0)  # NaN where a bracketing member is NaN
    if higher_is_better:
        res = paired_comparison(ref, x, seed=seed, n_boot=n_boot)
    else:  # positive = the point is better = lower
        res = paired_comparison(x, ref, seed=seed, n_boot=n_boot)
    keep = np.isfinite(ref) & np.isfinite(x)
    return {"gap": res["mean_diff"], "ci95": res["ci95"], "p_wilcoxon": res["p_wilcoxon"],
            "p_ttest": res["p_ttest"], "n": res["n"], "n_dropped": res["n_dropped"],
            "point": float(x[keep].mean()) if keep.any() else math.nan,
            "reference": float(ref[keep].mean()) if keep.any() else math.nan,
            "bracket": [int(i) for i in used]}


def _curve_operator(xs: np.ndarray, costs: np.ndarray, values: np.ndarray,
                    higher_is_better: bool) -> np.ndarray:
    """Matrix ``M [len(xs), k]``: row i interpolates the members' front (by mean) at ``xs[i]``."""
    return np.stack([interpolation_weights(x, costs, values, higher_is_better) for x in xs])


def front_range(costs: Any, values: Any, higher_is_better: bool = True) -> tuple[float, float]:
    """``(lo, hi)`` cost range a family's curve covers: its cheapest front member up to its
    costliest member (NaN, NaN when it has none)."""
    rc = np.asarray(costs, dtype=np.float64)
    means = _means(np.asarray(values, dtype=np.float64))
    idx = front_indices(rc, means, higher_is_better)
    if idx.size == 0:
        return math.nan, math.nan
    return float(rc[idx[0]]), float(max(rc[idx[-1]], np.nanmax(rc[np.isfinite(means)])))


def paired_area(costs_a: Any, values_a: Any, costs_b: Any, values_b: Any, higher_is_better: bool = True,
                seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Mean gap of curve A over curve B on their shared cost range, per utterance, with its
    bootstrap interval and paired tests (module docstring).

    ``values_a [ka, n]`` and ``values_b [kb, n]`` hold the same utterances in the same order.
    Returns ``mean_gap`` (positive = A better), ``area`` (``mean_gap x (hi - lo)``), ``ci95``
    (of the mean gap), ``p_wilcoxon``, ``p_ttest``, ``n``, ``n_dropped``, ``lo``, ``hi``. With no
    shared range every number is NaN; a shared range of one cost gives the gap at that cost.
    """
    ca, va = np.asarray(costs_a, dtype=np.float64), np.asarray(values_a, dtype=np.float64)
    cb, vb = np.asarray(costs_b, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if va.ndim != 2 or vb.ndim != 2 or va.shape[1] != vb.shape[1]:
        raise ValueError(f"values must be [k, n] with the same n, got {va.shape} and {vb.shape}")
    lo_a, hi_a = front_range(ca, va, higher_is_better)
    lo_b, hi_b = front_range(cb, vb, higher_is_better)
    lo, hi = max(lo_a, lo_b), min(hi_a, hi_b)
    out: dict[str, Any] = {"mean_gap": math.nan, "area": math.nan, "ci95": [math.nan, math.nan],
                           "p_wilcoxon": math.nan, "p_ttest": math.nan, "n": 0, "n_dropped": 0,
                           "lo": lo, "hi": hi}
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        return out
    breaks = np.concatenate([ca[np.isfinite(ca)], cb[np.isfinite(cb)], [lo, hi]])
    xs = np.unique(breaks[(breaks >= lo) & (breaks <= hi)])
    ma = _curve_operator(xs, ca, va, higher_is_better)  # [m, ka]
    mb = _curve_operator(xs, cb, vb, higher_is_better)
    if xs.size == 1:
        ta, tb = ma[0], mb[0]
    else:
        trap = np.zeros(xs.size)
        dx = np.diff(xs)
        trap[:-1] += dx / 2
        trap[1:] += dx / 2
        trap /= hi - lo
        ta, tb = trap @ ma, trap @ mb  # per-member weights of each curve's mean over [lo, hi]
    ua = _weighted(ta, va)
    ub = _weighted(tb, vb)
    res = paired_comparison(ub, ua, seed=seed, n_boot=n_boot) if higher_is_better else \
        paired_comparison(ua, ub, seed=seed, n_boot=n_boot)
    out.update(mean_gap=res["mean_diff"], ci95=res["ci95"], p_wilcoxon=res["p_wilcoxon"],
               p_ttest=res["p_ttest"], n=res["n"], n_dropped=res["n_dropped"],
               area=res["mean_diff"] * (hi - lo))
    return out


def _weighted(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``weights @ values`` over the members with non-zero weight (NaN only where one of them is)."""
    used = np.flatnonzero(weights)
    return (weights[used, None] * values[used]).sum(axis=0)


def hypervolume(cost: Any, quality: Any, reference: tuple[float, float], higher_is_better: bool = True) -> float:
    """Area dominated by the front of the points and dominating ``reference`` = (cost, quality)
    (module docstring); 0 when no point dominates the reference.

    Shape: ``cost [n]``, ``quality [n]``.
    """
    c_ref, q_ref = float(reference[0]), float(reference[1])
    fc, fq = front(cost, quality, higher_is_better)
    sign = 1.0 if higher_is_better else -1.0
    fq, q_ref = sign * fq, sign * q_ref
    keep = (fc <= c_ref) & (fq >= q_ref)
    fc, fq = fc[keep], fq[keep]
    area = 0.0
    for i in range(fc.size):  # the front rises with cost: each point owns a slab to the next
        right = fc[i + 1] if i + 1 < fc.size else c_ref
        area += (right - fc[i]) * (fq[i] - q_ref)
    return float(area)


def significant(ci95: Sequence[float]) -> bool:
    """True when a 95 % interval excludes 0 (both ends finite and of one sign)."""
    lo, hi = float(ci95[0]), float(ci95[1])
    return math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)
