"""The paper's overlap and noise analysis: compute and quality against the share of speaker
overlap (e.g. 100 / 50 / 25 %) and of noise activity (e.g. 100 / 50 %).

Each dataset's overlap ratio and noise activity come from, in this order:

1. ``summary["datasets"][name]["overlap"]`` / ``["noise_activity"]`` (also accepted inside a
   nested ``"info"`` dict, as the run loop copies the manifest's info), as fractions (0.5) or
   percentages (50);
2. the dataset name: ``...-ov50`` / ``overlap0.5`` / ``ovl50`` for overlap and ``...-na50`` /
   ``noise0.5`` / ``noise-activity-50`` for noise activity.

3. a dataset with neither whose name is a variant's name without its factor (``wsj0-2mix``
   beside ``wsj0-2mix-ov50``) is the unmodified set: overlap (or noise activity) 1.0.

A dataset with none of these is not a variant and is left out (:func:`left_out` names them).
Values are stored as fractions.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pandas as pd

from ..results import RunTables

_OVERLAP_RE = re.compile(r"(?:^|[-_])(?:ov|ovl|overlap)[-_]?([0-9]*\.?[0-9]+)(?=$|[-_%])", re.I)
_NOISE_RE = re.compile(r"(?:^|[-_])(?:na|noise[-_]?activity|noise)[-_]?([0-9]*\.?[0-9]+)(?=$|[-_%])", re.I)


def _fraction(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    return x / 100.0 if x > 1.0 else x


def dataset_factors(name: str, info: dict | None) -> tuple[float | None, float | None]:
    """(overlap, noise_activity) of a dataset as fractions, None where unknown."""
    info = dict(info or {})
    if isinstance(info.get("info"), dict):
        info = {**info["info"], **{k: v for k, v in info.items() if k != "info"}}
    ov = _fraction(info.get("overlap", info.get("overlap_ratio")))
    na = _fraction(info.get("noise_activity"))
    if ov is None:
        m = _OVERLAP_RE.search(name)
        ov = _fraction(m.group(1)) if m else None
    if na is None:
        m = _NOISE_RE.search(name)
        na = _fraction(m.group(1)) if m else None
    return ov, na


def factors_frame(runs: Sequence[RunTables]) -> pd.DataFrame:
    """Columns run, dataset, overlap, noise_activity for every dataset of the runs."""
    from .collect import run_label
    rows = []
    for run in runs:
        for name, info in (run.summary.get("datasets") or {}).items():
            ov, na = dataset_factors(str(name), info if isinstance(info, dict) else None)
            rows.append({"run": run_label(run), "dataset": str(name), "overlap": ov, "noise_activity": na})
    # the unmodified set of a family of variants: the variants' name without the factor token
    for factor, pattern in (("overlap", _OVERLAP_RE), ("noise_activity", _NOISE_RE)):
        bases = {pattern.sub("", r["dataset"]) for r in rows if r[factor] is not None and pattern.search(r["dataset"])}
        for r in rows:
            if r[factor] is None and r["overlap"] is None and r["noise_activity"] is None and r["dataset"] in bases:
                r[factor] = 1.0
    return pd.DataFrame(rows, columns=["run", "dataset", "overlap", "noise_activity"])


def left_out(factors: pd.DataFrame) -> list[str]:
    """The datasets that record neither factor and are no variant's unmodified set."""
    none = factors[factors["overlap"].isna() & factors["noise_activity"].isna()]
    return sorted(set(none["dataset"]))


def variant_table(entries: pd.DataFrame, factors: pd.DataFrame, factor: str,
                  metrics: Sequence[str] = ("gmacs", "si_snri")) -> pd.DataFrame:
    """Entries of the datasets that vary ``factor`` (``overlap`` or ``noise_activity``).

    When datasets vary both factors, the other one is held fixed, so each line changes one
    thing: at "not varied" (e.g. clean sets for the overlap axis) if that gives the most
    distinct values of ``factor``, else at the value that does (largest on a tie). Returns one row per (entry, factor
    value): run, model, label, family, curve, operating_point, ``factor``, and the metric
    columns with their ``_lo`` / ``_hi`` intervals, sorted by label and factor.
    """
    other = "noise_activity" if factor == "overlap" else "overlap"
    f = factors.dropna(subset=[factor])
    if f.empty:
        return pd.DataFrame()
    if f[other].notna().any():
        # hold the other factor at one value: the group (NaN = not varied at all) with the most
        # distinct values of this factor; ties go to "not varied", then to the largest value
        key = f[other].fillna(-1.0)
        counts = f.groupby(key)[factor].nunique()
        best = sorted(counts.index, key=lambda v: (-counts[v], v != -1.0, -v))[0]
        f = f[key == best]
    df = entries.merge(f[["run", "dataset", factor]], on=["run", "dataset"], how="inner")
    cols = ["run", "model", "label", "family", "curve", "operating_point", "lam", "width", factor]
    for m in metrics:
        for suffix in ("", "_lo", "_hi"):
            cols.append(m + suffix) if m + suffix in df.columns else None
    df = df[[c for c in cols if c in df.columns]]
    return df.sort_values(["family", "label", factor], kind="mergesort").reset_index(drop=True)


def default_lines(table: pd.DataFrame) -> pd.DataFrame:
    """Which entries to draw as lines, so a figure stays readable: every static (or, without
    static entries, slimmable) width, every other non-DSN entry, and per DSN lambda the
    operating point nearest 0 (the gate as trained). Slimmable widths cost exactly what static
    ones do, so with both present their compute lines would lie on top of each other."""
    if table.empty:
        return table
    keep = ~table["family"].isin(["dsn", "slim"])
    if not (table["family"] == "static").any():
        keep |= table["family"] == "slim"
    dsn = table[table["family"] == "dsn"]
    if not dsn.empty:
        op = dsn["operating_point"].astype(float).fillna(0.0).abs()
        best = op.groupby(dsn["curve"]).transform("min")
        keep |= (table["family"] == "dsn") & (op.reindex(table.index) == best.reindex(table.index)).fillna(False).astype(bool)
    return table[keep]


def has_variants(factors: pd.DataFrame) -> dict[str, bool]:
    """Which factors have at least two distinct values among the datasets."""
    return {k: int(factors[k].dropna().nunique()) >= 2 for k in ("overlap", "noise_activity")}


def as_percent(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:g} %"
