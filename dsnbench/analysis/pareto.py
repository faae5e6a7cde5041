"""Pareto analysis: quality against compute, non-dominated fronts, gaps between curves.

Conventions:

- A point is (cost, quality) with cost in GMAC per second of audio (lower is better) and the
  quality metric's own direction (``higher_is_better``, SI-SNRi by default).
- :func:`pareto_mask` keeps the non-dominated points: a point is dropped if another is at most
  as costly and at least as good, and strictly better in one of the two.
- A family's *curve* is its Pareto front sorted by cost, joined by straight lines
  (piecewise-linear interpolation in linear GMAC/s).
- :func:`point_gaps` places single points against a reference curve: the gap of a point at
  cost ``c`` is its quality minus the curve's interpolated quality at ``c`` (same sign rule as
  below). Between the front's costliest point and the costliest member of the reference family
  (members there are dominated) the curve stays flat at that point's quality: a budget of ``c``
  buys nothing better than it. Below the cheapest member and above the costliest, the gap is NaN
  (nothing is extrapolated).
- :func:`curve_gap` compares two curves at equal cost: on the overlap of their cost ranges
  ``[lo, hi]`` it integrates ``qa(c) - qb(c)`` exactly (the difference of two piecewise-linear
  functions is linear between the union of their break points, so the trapezoid rule on that
  union is exact). ``area`` is that integral (dB x GMAC/s for SI-SNRi), ``mean_gap`` is the
  area divided by ``hi - lo`` (dB): the average quality advantage of curve A over curve B at
  the same compute. Positive means A is better (for a lower-is-better metric the sign is
  flipped so that positive still means A is better). Outside the overlap nothing is
  extrapolated; no overlap gives NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Collection

import numpy as np
import pandas as pd


def pareto_mask(cost: np.ndarray, quality: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Boolean mask of the non-dominated points; NaN points are never on the front.

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


def front(cost: np.ndarray, quality: np.ndarray, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The non-dominated points sorted by cost (ties in cost keep the better quality once).

    Shape: returns ``(cost [k], quality [k])``.
    """
    c = np.asarray(cost, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    m = pareto_mask(c, q, higher_is_better)
    fc, fq = c[m], q[m]
    order = np.lexsort((-fq if higher_is_better else fq, fc))
    fc, fq = fc[order], fq[order]
    keep = np.ones(fc.size, dtype=bool)
    keep[1:] = fc[1:] != fc[:-1]  # equal points: one is enough for a curve
    return fc[keep], fq[keep]


@dataclass(frozen=True)
class CurveGap:
    """Gap between curve A and curve B on their common cost range (A better = positive)."""

    mean_gap: float  # in the metric's unit (dB for SI-SNRi)
    area: float      # metric unit x GMAC/s
    lo: float        # GMAC/s
    hi: float        # GMAC/s

    @property
    def overlaps(self) -> bool:
        return math.isfinite(self.mean_gap)


def curve_gap(curve_a: tuple[np.ndarray, np.ndarray], curve_b: tuple[np.ndarray, np.ndarray],
              higher_is_better: bool = True) -> CurveGap:
    """Area and mean gap between two piecewise-linear curves at equal cost (module docstring).

    Each curve is ``(cost [k], quality [k])`` sorted by cost with distinct costs (as
    :func:`front` returns). A single-point curve covers only its own cost: against a longer
    curve the gap is the difference at that cost, with zero area.
    """
    ca, qa = (np.asarray(x, dtype=np.float64) for x in curve_a)
    cb, qb = (np.asarray(x, dtype=np.float64) for x in curve_b)
    if ca.size == 0 or cb.size == 0:
        return CurveGap(math.nan, math.nan, math.nan, math.nan)
    for c in (ca, cb):
        if np.any(np.diff(c) <= 0):
            raise ValueError("curve costs must be strictly increasing (use pareto.front)")
    lo, hi = max(ca[0], cb[0]), min(ca[-1], cb[-1])
    sign = 1.0 if higher_is_better else -1.0
    if lo > hi:
        return CurveGap(math.nan, math.nan, float(lo), float(hi))
    if lo == hi:
        d = sign * (np.interp(lo, ca, qa) - np.interp(lo, cb, qb))
        return CurveGap(float(d), 0.0, float(lo), float(hi))
    xs = np.union1d(np.concatenate([ca, cb]), [lo, hi])
    xs = xs[(xs >= lo) & (xs <= hi)]
    diff = sign * (np.interp(xs, ca, qa) - np.interp(xs, cb, qb))
    area = float(np.sum(0.5 * (diff[1:] + diff[:-1]) * np.diff(xs)))
    return CurveGap(area / (hi - lo), area, float(lo), float(hi))


def family_fronts(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
                  by: str = "curve") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Pareto front of each group (``by``: ``curve``, ``family``) of one dataset's entries."""
    out = {}
    for key, g in entries.groupby(by, sort=True):
        c, q = front(g["gmacs"].to_numpy(float), g[metric].to_numpy(float), higher_is_better)
        if c.size:
            out[str(key)] = (c, q)
    return out


def gap_table(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
              reference: str | None = None) -> pd.DataFrame:
    """Mean gap and area of every curve against a reference curve, per dataset.

    ``reference`` defaults to ``static`` (individually trained networks) when present, else
    ``slim``. Curves are the Pareto fronts of :func:`family_fronts` plus ``dsn (all)``: the
    front over every DSN lambda and beta together. The oracles are anchors, not curves, and a
    curve whose compute range does not meet the reference's has no gap: neither has a row.
    Columns: dataset, curve, reference, mean_gap, area, lo, hi.
    """
    rows = []
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d[np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))
              & (d["family"] != "oracle")]
        fronts = family_fronts(d, metric, higher_is_better)
        dsn = d[d["family"] == "dsn"]
        if dsn["curve"].nunique() > 1:
            fronts["dsn (all)"] = front(dsn["gmacs"].to_numpy(float), dsn[metric].to_numpy(float), higher_is_better)
        ref = _reference_name(fronts, reference)
        if ref is None:
            continue
        for name, curve in fronts.items():
            if name == ref:
                continue
            gap = curve_gap(curve, fronts[ref], higher_is_better)
            if not gap.overlaps:
                continue
            rows.append({"dataset": dataset, "curve": name, "reference": ref, "mean_gap": gap.mean_gap,
                         "area": gap.area, "lo": gap.lo, "hi": gap.hi})
    return pd.DataFrame(rows, columns=["dataset", "curve", "reference", "mean_gap", "area", "lo", "hi"])


def _reference_name(fronts: Collection[str], reference: str | None) -> str | None:
    if reference:
        return reference if reference in fronts else None
    return "static" if "static" in fronts else ("slim" if "slim" in fronts else None)


def _reaching_front(members: pd.DataFrame, metric: str, higher_is_better: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The members' Pareto front (costs, qualities) and the cost of the costliest member."""
    rc, rq = front(members["gmacs"].to_numpy(float), members[metric].to_numpy(float), higher_is_better)
    return rc, rq, float(members["gmacs"].astype(float).max())


def point_gaps(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
               reference: str | None = None) -> pd.DataFrame:
    """Every non-reference, non-oracle point against the reference curve, per dataset.

    ``reference`` defaults as in :func:`gap_table` (``static``, else ``slim``). The ``static`` and
    ``slim`` references are those curves only (a DSN's weights run at fixed widths form curves of
    their own, ``slim (<name>)``). ``reference="own"`` places each DSN point against the curve of
    its own checkpoint's weights at fixed widths (the entries with the same ``source``): what the
    gate's allocation gives over running the same weights at one width everywhere; other points
    are left out. ``gap`` is the point's quality minus the reference curve's (piecewise linear in
    GMAC/s) at the point's cost, positive = the point is better; flat from the front's costliest
    point up to the costliest reference member (those are dominated), NaN below the cheapest
    member and above the costliest.
    Columns: dataset, label, family, gmacs, <metric>, reference, reference_at_cost, gap.
    """
    cols = ["dataset", "label", "family", "gmacs", metric, "reference", "reference_at_cost", "gap"]
    rows = []
    sign = 1.0 if higher_is_better else -1.0
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d[np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))]
        if reference == "own":
            todo = []
            for _, r in d[d["family"] == "dsn"].iterrows():
                mine = d[(d["family"] == "slim") & (d["source"] == r["source"]) & (d["run_path"] == r["run_path"])]
                if len(mine):
                    todo.append((r, mine["curve"].iloc[0], _reaching_front(mine, metric, higher_is_better)))
        else:
            # static and slim by curve (so a DSN's fixed-width curve is not the supernet's), dsn by family
            group = d["curve"].where(d["family"].isin(["static", "slim"]), d["family"])
            ref = _reference_name(set(group), reference)
            if ref is None:
                continue
            ref_curve = _reaching_front(d[group == ref], metric, higher_is_better)
            todo = [(r, ref, ref_curve) for _, r in d[(group != ref) & (d["family"] != "oracle")].iterrows()]
        for r, ref, (rc, rq, c_max) in todo:
            c = float(r["gmacs"])
            inside = rc.size > 0 and rc[0] <= c <= max(rc[-1], c_max)
            at = float(np.interp(c, rc, rq)) if inside else math.nan  # np.interp holds the last value
            rows.append({"dataset": dataset, "label": r["label"], "family": r["family"], "gmacs": c,
                         metric: float(r[metric]), "reference": ref, "reference_at_cost": at,
                         "gap": sign * (float(r[metric]) - at) if inside else math.nan})
    return pd.DataFrame(rows, columns=cols)
