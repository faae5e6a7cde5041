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
from typing import Collection, Sequence

import numpy as np
import pandas as pd

from ..results import RunTables
from ..metrics.tradeoff import OutsideRange, front, hypervolume, paired_area, paired_gap, pareto_mask, significant

__all__ = ["CurveGap", "OutsideRange", "curve_gap", "family_fronts", "front", "gap_table", "hypervolume", "oracle_gaps", "ORACLE_ALLOCATION", "hypervolume_reference", "hypervolumes",
           "paired_area", "paired_gap", "pareto_mask", "point_gaps", "significant", "utterance_values"]


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


def _curve_members(d: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The entries behind each curve of one dataset (oracle anchors left out), plus ``dsn (all)``."""
    out = {str(k): g for k, g in d[d["family"] != "oracle"].groupby("curve", sort=True)}
    dsn = d[d["family"] == "dsn"]
    if dsn["curve"].nunique() > 1:
        out["dsn (all)"] = dsn
    return out


def gap_table(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
              reference: str | None = None, values: dict[tuple, pd.Series] | None = None,
              seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Mean gap and area of every curve against a reference curve, per dataset.

    ``reference`` defaults to ``static`` (individually trained networks) when present, else
    ``slim``. Curves are the Pareto fronts of :func:`family_fronts` plus ``dsn (all)``: the
    front over every DSN lambda and beta together. The oracles are anchors, not curves, and a
    curve whose compute range does not meet the reference's has no gap: neither has a row.
    With ``values`` (:func:`utterance_values`) the gap is paired over utterances
    (:func:`dsnbench.metrics.tradeoff.paired_area`: each utterance's two curves integrated over
    the shared range) with ``ci_lo``/``ci_hi`` (seeded bootstrap 95 %), ``p_wilcoxon``,
    ``p_ttest``, ``n`` and ``significant``; without, those are NaN and the gap is between the
    mean curves (the two means agree when no value is missing).
    Columns: dataset, curve, reference, mean_gap, area, lo, hi, ci_lo, ci_hi, p_wilcoxon,
    p_ttest, n, significant.
    """
    cols = ["dataset", "curve", "reference", "mean_gap", "area", "lo", "hi", "ci_lo", "ci_hi",
            "p_wilcoxon", "p_ttest", "n", "significant"]
    rows = []
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d[np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))
              & (d["family"] != "oracle")]
        members = _curve_members(d)
        fronts = {k: front(g["gmacs"].to_numpy(float), g[metric].to_numpy(float), higher_is_better)
                  for k, g in members.items()}
        fronts = {k: v for k, v in fronts.items() if v[0].size}
        ref = _reference_name(fronts, reference)
        if ref is None:
            continue
        for name, curve in fronts.items():
            if name == ref:
                continue
            gap = curve_gap(curve, fronts[ref], higher_is_better)
            if not gap.overlaps:
                continue
            row = {"dataset": dataset, "curve": name, "reference": ref, "ci_lo": math.nan, "ci_hi": math.nan,
                   "p_wilcoxon": math.nan, "p_ttest": math.nan, "n": 0, "significant": False}
            paired = _paired_area(members[name], members[ref], values, higher_is_better, seed, n_boot) \
                if values is not None else None
            if paired is not None:
                row.update(mean_gap=paired["mean_gap"], area=paired["area"], lo=paired["lo"], hi=paired["hi"],
                           ci_lo=paired["ci95"][0], ci_hi=paired["ci95"][1], p_wilcoxon=paired["p_wilcoxon"],
                           p_ttest=paired["p_ttest"], n=paired["n"], significant=significant(paired["ci95"]))
            else:
                row.update(mean_gap=gap.mean_gap, area=gap.area, lo=gap.lo, hi=gap.hi)
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _paired_area(a: pd.DataFrame, b: pd.DataFrame, values: dict[tuple, pd.Series], higher_is_better: bool,
                 seed: int, n_boot: int) -> dict | None:
    va = [_values_of(r, values) for _, r in a.iterrows()]
    vb = [_values_of(r, values) for _, r in b.iterrows()]
    if any(v is None for v in va + vb):
        return None
    ids = sorted(set().union(*[set(v.index) for v in va + vb]))
    mat = lambda vs: np.stack([v.reindex(ids).to_numpy(float) for v in vs])  # noqa: E731
    return paired_area(a["gmacs"].to_numpy(float), mat(va), b["gmacs"].to_numpy(float), mat(vb),
                       higher_is_better, seed=seed, n_boot=n_boot)


def oracle_gaps(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
                values: dict[tuple, pd.Series] | None = None, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Each DSN curve against the oracle allocation of its own model (entries named
    ``<name>+oracle``, family ``oracle-allocation``) over their shared GMAC/s range: the mean
    gap (negative = the gate is below the oracle), paired over utterances when ``values`` are
    given (as :func:`gap_table`). Columns: dataset, curve, oracle, mean_gap, lo, hi, ci_lo,
    ci_hi, n, significant."""
    cols = ["dataset", "curve", "oracle", "mean_gap", "lo", "hi", "ci_lo", "ci_hi", "n", "significant"]
    rows = []
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d[np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))]
        for (run_path, curve), g in d[d["family"] == "dsn"].groupby(["run_path", "curve"], sort=True):
            names = set(g["name"])
            orc = d[(d["family"] == ORACLE_ALLOCATION) & (d["run_path"] == run_path)
                    & d["name"].isin({f"{n}+oracle" for n in names})]
            if orc.empty:
                continue
            row = {"dataset": dataset, "curve": curve, "oracle": str(orc["curve"].iloc[0]), "ci_lo": math.nan,
                   "ci_hi": math.nan, "n": 0, "significant": False}
            res = _paired_area(g, orc, values, higher_is_better, seed, n_boot) if values is not None else None
            if res is not None:
                row.update(mean_gap=res["mean_gap"], lo=res["lo"], hi=res["hi"], ci_lo=res["ci95"][0],
                           ci_hi=res["ci95"][1], n=res["n"], significant=significant(res["ci95"]))
            else:
                gap = curve_gap(front(g["gmacs"].to_numpy(float), g[metric].to_numpy(float), higher_is_better),
                                front(orc["gmacs"].to_numpy(float), orc[metric].to_numpy(float), higher_is_better),
                                higher_is_better)
                row.update(mean_gap=gap.mean_gap, lo=gap.lo, hi=gap.hi)
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def hypervolume_reference(d: pd.DataFrame, metric: str, higher_is_better: bool = True) -> tuple[float, float]:
    """The stated reference point of :func:`hypervolumes` for one dataset's entries: the
    costliest point's GMAC/s, and 0 for an improvement column (``*i``: no better than the
    mixture itself) or else the worst point's quality."""
    c = d["gmacs"].astype(float)
    q = d[metric].astype(float)
    ok = np.isfinite(c) & np.isfinite(q) & (d["family"] != "oracle")
    worst = float(q[ok].min() if higher_is_better else q[ok].max())
    q_ref = min(0.0, worst) if (metric.endswith("i") and higher_is_better) else worst
    return float(c[ok].max()), q_ref


def hypervolumes(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
                 reference_point: tuple[float, float] | None = None) -> pd.DataFrame:
    """Hypervolume of every curve's front (and ``dsn (all)``) per dataset against one reference
    point (``reference_point``, else :func:`hypervolume_reference`), in GMAC/s x metric unit.
    Columns: dataset, curve, hypervolume, ref_gmacs, ref_quality."""
    rows = []
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d[np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))]
        if d[d["family"] != "oracle"].empty:
            continue
        ref = reference_point or hypervolume_reference(d, metric, higher_is_better)
        for name, g in _curve_members(d).items():
            hv = hypervolume(g["gmacs"].to_numpy(float), g[metric].to_numpy(float), ref, higher_is_better)
            rows.append({"dataset": dataset, "curve": name, "hypervolume": hv,
                         "ref_gmacs": float(ref[0]), "ref_quality": float(ref[1])})
    return pd.DataFrame(rows, columns=["dataset", "curve", "hypervolume", "ref_gmacs", "ref_quality"])


def _reference_name(fronts: Collection[str], reference: str | None) -> str | None:
    if reference:
        return reference if reference in fronts else None
    return "static" if "static" in fronts else ("slim" if "slim" in fronts else None)


def _reaching_front(members: pd.DataFrame, metric: str, higher_is_better: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The members' Pareto front (costs, qualities) and the cost of the costliest member."""
    rc, rq = front(members["gmacs"].to_numpy(float), members[metric].to_numpy(float), higher_is_better)
    return rc, rq, float(members["gmacs"].astype(float).max())


#: the family of oracle-allocation entries (dsnbench.run.allocation)
ORACLE_ALLOCATION = "oracle-allocation"


def _op_key(op: object) -> float | None:
    return None if op is None or (isinstance(op, float) and math.isnan(op)) else float(op)


def utterance_values(runs: Sequence[RunTables], metric: str) -> dict[tuple, pd.Series]:
    """Each entry's per-utterance values of ``metric``, keyed ``(run_path, model, dataset,
    operating_point)`` (as :func:`dsnbench.analysis.collect.entries_frame` names them), indexed
    by utterance id. Entries without the column are absent."""
    out: dict[tuple, pd.Series] = {}
    for run in runs:
        u = run.utterances
        if metric not in u.columns or u.empty:
            continue
        ops = u["operating_point"].map(_op_key)
        for (model, dataset, op), g in u.assign(_op=ops.astype(object)).groupby(
                ["model", "dataset", "_op"], sort=False, dropna=False):
            out[(str(run.path), str(model), str(dataset), _op_key(op))] = pd.Series(
                g[metric].to_numpy(float), index=g["utt_id"].astype(str).to_numpy())
    return out


def _values_of(row: pd.Series, values: dict[tuple, pd.Series]) -> pd.Series | None:
    return values.get((str(row["run_path"]), str(row["model"]), str(row["dataset"]), _op_key(row["operating_point"])))


def _point_plan(d: pd.DataFrame, reference: str | None) -> list[tuple[pd.Series, str, pd.DataFrame]]:
    """(point row, reference curve name, reference members) of every point of one dataset."""
    if reference == "own":
        todo = []
        for _, r in d[d["family"] == "dsn"].iterrows():
            mine = d[(d["family"] == "slim") & (d["source"] == r["source"]) & (d["run_path"] == r["run_path"])]
            if len(mine):
                todo.append((r, str(mine["curve"].iloc[0]), mine))
        return todo
    if reference == ORACLE_ALLOCATION:  # each DSN point against the oracle allocation of its own weights
        todo = []
        for _, r in d[d["family"] == "dsn"].iterrows():
            mine = d[(d["family"] == ORACLE_ALLOCATION) & (d["name"] == f"{r['name']}+oracle")
                     & (d["run_path"] == r["run_path"])]
            if len(mine):
                todo.append((r, str(mine["curve"].iloc[0]), mine))
        return todo
    # static and slim by curve (so a DSN's fixed-width curve is not the supernet's), others by family
    group = d["curve"].where(d["family"].isin(["static", "slim"]), d["family"])
    ref = _reference_name(set(group), reference)
    if ref is None:
        return []
    members = d[group == ref]
    return [(r, ref, members) for _, r in d[(group != ref) & (d["family"] != "oracle")].iterrows()]


def point_gaps(entries: pd.DataFrame, metric: str = "si_snri", higher_is_better: bool = True,
               reference: str | None = None, values: dict[tuple, pd.Series] | None = None,
               seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Every non-reference, non-oracle point against the reference curve, per dataset.

    ``reference`` defaults as in :func:`gap_table` (``static``, else ``slim``); any family (or
    curve name) may be given. The ``static`` and ``slim`` references are those curves only (a
    DSN's weights run at fixed widths form curves of their own, ``slim (<name>)``).
    ``reference="own"`` places each DSN point against the curve of its own checkpoint's weights
    at fixed widths (the entries with the same ``source``): what the gate's allocation gives
    over running the same weights at one width everywhere; other points are left out.
    ``reference="oracle-allocation"`` places each DSN point against the oracle allocation of
    its own model (the entries named ``<name>+oracle``): the gate's distance to the best
    allocation its weights allow (negative = below it); above the oracle's costliest point the
    oracle curve stays flat (a larger budget buys at least its best allocation). ``gap``
    is the point's quality minus the reference curve's (piecewise linear in GMAC/s) at the
    point's cost, positive = the point is better; flat from the front's costliest point up to
    the costliest reference member (those are dominated); outside the reference's range the
    gap is NaN and ``note`` says so.

    With ``values`` (:func:`utterance_values` of the runs) the gap is *paired*
    (:func:`dsnbench.metrics.tradeoff.paired_gap`): the mean over utterances of the point minus
    the reference interpolated on that utterance, with ``ci_lo``/``ci_hi`` (seeded bootstrap
    95 %), ``p_wilcoxon``, ``p_ttest``, ``n`` (utterances paired) and ``significant`` (the
    interval excludes 0); without, those columns are NaN and the gap is between the means.
    Columns: dataset, label, family, gmacs, <metric>, reference, reference_at_cost, gap, ci_lo,
    ci_hi, p_wilcoxon, p_ttest, n, significant, note.
    """
    cols = ["dataset", "label", "family", "gmacs", metric, "reference", "reference_at_cost", "gap",
            "ci_lo", "ci_hi", "p_wilcoxon", "p_ttest", "n", "significant", "note"]
    rows = []
    sign = 1.0 if higher_is_better else -1.0
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d[np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))]
        for r, ref, members in _point_plan(d, reference):
            c = float(r["gmacs"])
            row = {"dataset": dataset, "label": r["label"], "family": r["family"], "gmacs": c,
                   metric: float(r[metric]), "reference": ref, "reference_at_cost": math.nan, "gap": math.nan,
                   "ci_lo": math.nan, "ci_hi": math.nan, "p_wilcoxon": math.nan, "p_ttest": math.nan,
                   "n": 0, "significant": False, "note": ""}
            if values is not None:
                row.update(_paired_row(r, members, values, metric, higher_is_better, seed, n_boot,
                                       hold_above=reference == ORACLE_ALLOCATION))
            else:
                rc, rq, c_max = _reaching_front(members, metric, higher_is_better)
                if rc.size > 0 and rc[0] <= c <= max(rc[-1], c_max):
                    at = float(np.interp(c, rc, rq))  # np.interp holds the last value
                    row.update(reference_at_cost=at, gap=sign * (float(r[metric]) - at))
                else:
                    row["note"] = "outside the reference's compute range"
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _paired_row(r: pd.Series, members: pd.DataFrame, values: dict[tuple, pd.Series], metric: str,
                higher_is_better: bool, seed: int, n_boot: int, hold_above: bool = False) -> dict:
    mine = _values_of(r, values)
    refs = [(float(m["gmacs"]), _values_of(m, values)) for _, m in members.iterrows()]
    if mine is None or any(v is None for _, v in refs):
        return {"note": "no per-utterance values"}
    ids = mine.index
    res = None
    try:
        res = paired_gap(mine.to_numpy(float), float(r["gmacs"]), [c for c, _ in refs],
                         np.stack([v.reindex(ids).to_numpy(float) for _, v in refs]),
                         higher_is_better, seed=seed, n_boot=n_boot, hold_above=hold_above)
    except OutsideRange as exc:
        return {"note": f"outside the reference's compute range: {exc}"}
    note = f"{res['n_dropped']} utterance(s) not paired" if res["n_dropped"] else ""
    return {"reference_at_cost": res["reference"], "gap": res["gap"], "ci_lo": res["ci95"][0],
            "ci_hi": res["ci95"][1], "p_wilcoxon": res["p_wilcoxon"], "p_ttest": res["p_ttest"],
            "n": res["n"], "significant": significant(res["ci95"]), "note": note}
