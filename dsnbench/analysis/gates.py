"""Gate decisions of dynamic models, from ``segments.parquet``.

- :func:`width_share_by_category`: for each segment category (silence / one / overlap) and,
  where the data has noise, noise active or not, the share of segments run at each width.
- :func:`seg_snr_by_width`: segmental SI-SNR grouped by the width the gate chose.
- :func:`utterance_segments`: the segment rows of one utterance, with the centre span of each
  segment (segments overlap by 50 %; the span ``[centre - hop/2, centre + hop/2)`` tiles time
  without overlap, which is what a timeline draws).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import UserError

CATEGORIES = ["silence", "one", "overlap"]


def select_entry(segments: pd.DataFrame, model: str | None = None, operating_point: float | None = None,
                 dataset: str | None = None) -> pd.DataFrame:
    """Segment rows of one model (and operating point, and dataset) with a one-line error."""
    seg = segments
    if model is not None:
        if model not in set(seg["model"]):
            raise UserError(f"model {model!r} has no segments in this run (it has: {', '.join(sorted(set(seg['model'])))})")
        seg = seg[seg["model"] == model]
    if dataset is not None:
        if dataset not in set(seg["dataset"]):
            raise UserError(f"dataset {dataset!r} has no segments for this model (it has: {', '.join(sorted(set(seg['dataset'])))})")
        seg = seg[seg["dataset"] == dataset]
    if operating_point is not None:
        ops = seg["operating_point"].astype(float)
        keep = np.isclose(ops, float(operating_point))
        if not keep.any():
            have = sorted({float(x) for x in ops.dropna()})
            raise UserError(f"operating point {operating_point} not in these segments (have: {have})")
        seg = seg[keep]
    return seg


def dynamic_entries(segments: pd.DataFrame) -> list[tuple[str, str, float | None]]:
    """(model, dataset, operating_point) of entries whose segments use more than one width."""
    out = []
    key = segments["operating_point"].fillna(-1e300)
    for (m, d, _), g in segments.groupby([segments["model"], segments["dataset"], key], sort=True):
        if g["width"].nunique(dropna=True) > 1:
            op = g["operating_point"].iloc[0]
            out.append((str(m), str(d), None if pd.isna(op) else float(op)))
    return out


def default_entry(segments: pd.DataFrame, families: dict[str, str] | None = None) -> tuple[str, str, float | None]:
    """The entry a gate figure shows by default: a dynamic (multi-width) entry, preferring a DSN
    model, and among its operating points the one nearest 0 (the gate as trained)."""
    dyn = dynamic_entries(segments)
    if not dyn:
        raise UserError("no entry in this run has segments at more than one width (no gate decisions to plot)")
    fam = families or {}
    dyn.sort(key=lambda e: (fam.get(e[0], e[0].split("-")[0]) != "dsn", e[0], e[1],
                            abs(e[2]) if e[2] is not None else 0.0))
    return dyn[0]


def _noise_label(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return "noise" if bool(v) else "no noise"


def width_share_by_category(segments: pd.DataFrame, split_noise: bool = True) -> pd.DataFrame:
    """Share of segments at each width per category (and noise state).

    Returns a frame indexed by ``group`` ("overlap", or "overlap, noise" when the noise column
    has values and ``split_noise``) with one column per width (shares summing to 1) and ``n``.
    Categories are in the order silence, one, overlap; unknown categories come after.
    """
    seg = segments.dropna(subset=["width"]).copy()
    if seg.empty:
        return pd.DataFrame(columns=["n"])
    seg["category"] = seg["category"].where(seg["category"].notna(), "unlabelled")  # counted, never dropped
    cats = [c for c in CATEGORIES if c in set(seg["category"])] + sorted(set(seg["category"].dropna()) - set(CATEGORIES))
    has_noise = split_noise and seg["noise_active"].notna().any()
    seg["group"] = seg["category"].astype(str)
    if has_noise:
        seg["group"] = seg["group"] + ", " + seg["noise_active"].map(_noise_label)
    counts = seg.pivot_table(index="group", columns="width", values="segment", aggfunc="count", fill_value=0)
    counts = counts.reindex(columns=sorted(counts.columns))
    order = []
    for c in cats:
        for lab in (["no noise", "noise", "n/a"] if has_noise else [None]):
            g = c if lab is None else f"{c}, {lab}"
            if g in counts.index:
                order.append(g)
    counts = counts.loc[order]
    n = counts.sum(axis=1)
    share = counts.div(n, axis=0)
    share["n"] = n.astype(int)
    share.columns.name = "width"
    return share


def seg_snr_by_width(segments: pd.DataFrame) -> pd.DataFrame:
    """Segmental SI-SNR per chosen width: n, mean, median, q25, q75 (NaN segments left out, counted in ``n_nan``)."""
    rows = []
    for w, g in segments.dropna(subset=["width"]).groupby("width", sort=True):
        v = g["seg_si_snr"].astype(float)
        ok = v[np.isfinite(v)]
        rows.append({"width": float(w), "n": int(ok.size), "n_nan": int(v.size - ok.size),
                     "mean": float(ok.mean()) if ok.size else math.nan,
                     "median": float(ok.median()) if ok.size else math.nan,
                     "q25": float(ok.quantile(0.25)) if ok.size else math.nan,
                     "q75": float(ok.quantile(0.75)) if ok.size else math.nan})
    return pd.DataFrame(rows, columns=["width", "n", "n_nan", "mean", "median", "q25", "q75"])


def utterance_segments(segments: pd.DataFrame, utt_id: str) -> pd.DataFrame:
    """Segments of one utterance sorted by index, with ``span_start_s`` / ``span_end_s`` columns
    (the non-overlapping centre span of each segment)."""
    g = segments[segments["utt_id"] == utt_id].sort_values("segment")
    if g.empty:
        raise UserError(f"utterance {utt_id!r} has no segments for this entry")
    g = g.copy()
    start = g["start_s"].to_numpy(float)
    end = g["end_s"].to_numpy(float)
    hop = float(np.median(np.diff(start))) if start.size > 1 else float(end[0] - start[0])
    length = float(np.median(end - start))
    centre = start + length / 2 if start.size > 1 else (start + end) / 2
    lo = np.maximum(centre - hop / 2, 0.0)
    lo[0] = 0.0 if start[0] <= 0 else lo[0]
    hi = centre + hop / 2
    hi[-1] = max(hi[-1], float(end[-1]))
    g["span_start_s"] = lo
    g["span_end_s"] = hi
    return g


#: the categories of :func:`oracle_agreement` (noise-only: no speaker active, noise present)
AGREEMENT_CATEGORIES = ["silence", "noise-only", "one", "overlap"]


def _agreement_category(seg: pd.DataFrame) -> pd.Series:
    cat = seg["category"].astype(str)
    noise = seg["noise_active"] if "noise_active" in seg.columns else pd.Series(False, index=seg.index)
    noisy = noise.map(lambda v: bool(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else False)
    return cat.where(~((cat == "silence") & noisy), "noise-only")


def oracle_agreement(segments: pd.DataFrame, model: str, operating_point: float | None, dataset: str,
                     oracle_model: str | None = None) -> tuple[pd.DataFrame, float | None]:
    """How often a DSN entry's gate chose the width the oracle allocation chose, per segment
    category (silence / noise-only / one / overlap, then ``all``), at matched mean compute.

    The oracle entry is ``oracle_model`` (default ``<model>+oracle``) on the same dataset at
    the multiplier mu whose mean MACs per segment is nearest the DSN entry's (both run on the
    same segment grid, so that is matched mean compute). Segments are paired by (utterance,
    segment). Returns the frame (index: category; columns ``agreement`` (share), ``n``,
    ``dsn_mean_width``, ``oracle_mean_width``) and the mu used; an empty frame and None when
    the run has no oracle allocation of this model.
    """
    oracle_model = oracle_model or f"{model}+oracle"
    mine = select_entry(segments, model, operating_point, dataset)
    orc = segments[(segments["model"] == oracle_model) & (segments["dataset"] == dataset)]
    cols = ["agreement", "n", "dsn_mean_width", "oracle_mean_width"]
    if orc.empty or mine.empty:
        return pd.DataFrame(columns=cols), None
    target = float(mine["macs"].astype(float).mean())
    per_mu = orc.groupby("operating_point")["macs"].mean().astype(float)
    mu = float((per_mu - target).abs().idxmin())
    orc = orc[np.isclose(orc["operating_point"].astype(float), mu)]
    both = mine[["utt_id", "segment", "width", "category"] + (["noise_active"] if "noise_active" in mine else [])].merge(
        orc[["utt_id", "segment", "width"]], on=["utt_id", "segment"], suffixes=("", "_oracle"))
    both = both.dropna(subset=["width", "width_oracle"])
    both["group"] = _agreement_category(both)
    both["agree"] = np.isclose(both["width"].astype(float), both["width_oracle"].astype(float))
    rows = {}
    order = AGREEMENT_CATEGORIES + sorted(set(both["group"]) - set(AGREEMENT_CATEGORIES))
    for name in order:
        g = both[both["group"] == name]
        if len(g):
            rows[name] = {"agreement": float(g["agree"].mean()), "n": int(len(g)),
                          "dsn_mean_width": float(g["width"].mean()), "oracle_mean_width": float(g["width_oracle"].mean())}
    if len(both):
        rows["all"] = {"agreement": float(both["agree"].mean()), "n": int(len(both)),
                       "dsn_mean_width": float(both["width"].mean()), "oracle_mean_width": float(both["width_oracle"].mean())}
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols), mu
