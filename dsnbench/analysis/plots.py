"""Figures: Pareto curves, gate decisions, overlap/noise analysis.

Every function returns a matplotlib Figure (drawn with :mod:`.style`); :func:`.style.save_figure`
writes it as PNG and PDF. Functions take the tidy tables of :mod:`.collect`, :mod:`.gates` and
:mod:`.variants`, so notebooks call them without any plotting code of their own.
"""
from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from . import gates as gates_mod
from .audio import UtteranceAudio
from .collect import higher_is_better, metric_label
from .pareto import curve_gap, front, gap_table, oracle_gaps, pareto_mask
from .style import CATEGORY_STYLE, curve_style, family_style, mark_synthetic, style, width_colours
from .variants import as_percent

_WIDTH_HATCHES = ["", "..", "//", "xx", "\\\\", "++", "oo", "--"]


def _err(df: pd.DataFrame, key: str) -> np.ndarray | None:
    lo, hi = f"{key}_lo", f"{key}_hi"
    if lo not in df.columns or hi not in df.columns:
        return None
    mean = df[key].to_numpy(float)
    lower = np.clip(mean - df[lo].to_numpy(float), 0, None)
    upper = np.clip(df[hi].to_numpy(float) - mean, 0, None)
    err = np.vstack([np.nan_to_num(lower), np.nan_to_num(upper)])
    return err if np.any(err > 0) else None


def _curve_styles(entries: pd.DataFrame) -> dict[str, dict]:
    """A style per curve: the family's own for its first curve, variations for the others."""
    styles = {}
    for fam, g in entries.groupby("family", sort=False):
        for i, curve in enumerate(sorted(set(g["curve"]), key=_curve_sort_key)):
            styles[curve] = curve_style(str(fam), i)
    return styles


def _curve_sort_key(curve: str) -> tuple:
    import re
    m = re.search(r"λ=([0-9.e-]+)", curve)
    return (0, float(m.group(1))) if m else (1, curve)


def _curve_label(curve: str, family: str) -> str:
    if curve in ("static", "slim"):
        return family_style(curve)["label"] + (" (individually trained)" if curve == "static" else " supernet")
    return "DSN" + curve[3:] if curve.startswith("dsn") else curve  # not "slim (dsn-l2)"


def plot_pareto(entries: pd.DataFrame, dataset: str, metric: str = "si_snri", meta: dict | None = None,
                summary: dict | None = None, reference: str | None = None, annotate_beta: bool = True,
                values: dict | None = None, seed: int = 0) -> plt.Figure:
    """Quality against GMAC/s for one dataset: every entry with its bootstrap 95 % intervals as
    error bars (both axes), each curve's Pareto front as a line (dominated points hollow), the
    front over all DSN operating points in grey, oracles without a cost as horizontal anchors,
    and the mean gap of each curve to the reference curve (static by default) in a box.

    With ``values`` (:func:`dsnbench.analysis.pareto.utterance_values` of the runs) the gaps
    are paired over utterances (:func:`dsnbench.analysis.pareto.gap_table`): the box shows each
    gap's bootstrap 95 % interval and marks one whose interval covers 0 "n.s."; the area between
    the DSN front and the reference curve is shaded over their shared GMAC/s range."""
    meta = meta or {}
    hib = higher_is_better(metric, meta)
    d = entries[entries["dataset"] == dataset].copy()
    if d.empty:
        raise ValueError(f"no entries for dataset {dataset!r}")
    finite = np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float))
    is_oracle = d["family"] == "oracle"
    # the oracles are anchors (reference lines), never points that set the axes: oracle-irm's
    # compute is not defined and oracle-mixture's 0 would stretch the x axis to 0
    anchors = d[is_oracle & np.isfinite(d[metric].astype(float))
                | (~np.isfinite(d["gmacs"].astype(float)) & np.isfinite(d[metric].astype(float)))]
    pts = d[finite & ~is_oracle]
    if pts.empty:
        pts = d[finite]
    # dominance across every family: a point another model beats at no more compute is hollow
    everyone = pareto_mask(pts["gmacs"].to_numpy(float), pts[metric].to_numpy(float), hib) if len(pts) else np.zeros(0, bool)
    undominated = dict(zip(pts.index, everyone))
    styles = _curve_styles(pts)
    fronts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    any_dominated = False
    point_labels: list[tuple[float, float, str, str]] = []
    with style():
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        dsn = pts[pts["family"] == "dsn"]
        if dsn["curve"].nunique() > 1:
            fc, fq = front(dsn["gmacs"].to_numpy(float), dsn[metric].to_numpy(float), hib)
            ax.plot(fc, fq, color="#999999", linewidth=5, alpha=0.35, solid_capstyle="round", zorder=1,
                    label="DSN front (all λ, β)")
            fronts["dsn (all)"] = (fc, fq)
        for curve in sorted(styles, key=lambda c: (list(styles).index(c))):
            g = pts[pts["curve"] == curve].sort_values("gmacs")
            st = styles[curve]
            fam = str(g["family"].iloc[0])
            x, y = g["gmacs"].to_numpy(float), g[metric].to_numpy(float)
            fc, fq = front(x, y, hib)
            fronts[curve] = (fc, fq)
            on = np.array([any(np.isclose(xx, fc) & np.isclose(yy, fq)) for xx, yy in zip(x, y)])
            on &= np.array([bool(undominated.get(i, True)) for i in g.index])
            ax.errorbar(x, y, xerr=_err(g, "gmacs"), yerr=_err(g, metric), fmt="none", ecolor=st["color"],
                        elinewidth=0.8, alpha=0.8, zorder=2)
            if len(fc) > 1:
                ax.plot(fc, fq, color=st["color"], linestyle=st["linestyle"], zorder=3)
            ax.plot(x[on], y[on], linestyle="none", marker=st["marker"], color=st["color"],
                    markeredgecolor="black", markeredgewidth=0.6, zorder=4, label=_curve_label(curve, fam))
            any_dominated = any_dominated or bool((~on).any())
            if (~on).any():
                ax.plot(x[~on], y[~on], linestyle="none", marker=st["marker"], markerfacecolor="white",
                        markeredgecolor=st["color"], markeredgewidth=1.0, zorder=4)
            if annotate_beta and fam == "dsn":
                for xx, yy, op in zip(x, y, g["operating_point"]):
                    if op is not None and not (isinstance(op, float) and math.isnan(op)):
                        point_labels.append((xx, yy, f"β={op:g}", "#333333"))
            if annotate_beta and fam == "oracle-allocation":
                for xx, yy, op in zip(x, y, g["operating_point"]):
                    if op is not None and not (isinstance(op, float) and math.isnan(op)):
                        point_labels.append((xx, yy, f"μ={op:g}", st["color"]))
            if fam in ("static", "slim"):
                for xx, yy, w in zip(x, y, g["width"]):
                    if w is not None and not (isinstance(w, float) and math.isnan(w)):
                        point_labels.append((xx, yy, f"w={w:g}", st["color"]))
        anchor_notes = []
        for _, a in anchors.iterrows():
            st = family_style(str(a["family"]))
            ax.axhline(float(a[metric]), color=st["color"], linestyle=":", linewidth=1.0, zorder=0)
            anchor_notes.append((float(a[metric]), ax.annotate(
                f"{a['label']} (compute not defined)", (1.0, float(a[metric])), xycoords=("axes fraction", "data"),
                xytext=(-2, 3), textcoords="offset points", ha="right", fontsize=7, color=st["color"])))
        left, right = ax.get_xlim()
        ax.set_xlim(max(left, 0.0) if right > 0 else 0.0, right if right > 0 else 1.0)  # compute is never negative
        off_scale = _zoom_on_models(ax, pts, anchors, metric)
        for v, note in anchor_notes:  # an anchor off the zoomed scale is named in the box instead
            if not ax.get_ylim()[0] <= v <= ax.get_ylim()[1]:
                note.remove()
        _place_labels(ax, point_labels, pts["gmacs"].to_numpy(float), pts[metric].to_numpy(float))
        ax.set_xlabel("Compute (GMAC per second of audio)")
        ax.set_ylabel(metric_label(metric, meta))
        ax.set_title(f"{metric_label(metric, meta, with_unit=False)} against compute: {dataset}")
        ref = reference or ("static" if "static" in fronts else ("slim" if "slim" in fronts else None))
        lines = _gap_lines(pts, fronts, ref, metric, meta, hib, values, seed)
        shade_note = shade_colour = None
        if ref is not None and ref in fronts:
            shaded = "dsn (all)" if "dsn (all)" in fronts else next((k for k in fronts if k.startswith("dsn")), None)
            shade_colour = _shade_between(ax, fronts[shaded], fronts[ref], hib) if shaded is not None else None
            if shade_colour:
                shade_note = f"area: {_curve_label(shaded, 'dsn')} vs {ref}"
        handles, labels = ax.get_legend_handles_labels()
        if any_dominated:
            handles.append(plt.Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="#555555"))
            labels.append("dominated (by any model)")
        if shade_note:
            handles.append(Patch(facecolor=shade_colour, alpha=0.3, edgecolor="none"))
            labels.append(shade_note)
        leg = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                        title="error bars: bootstrap 95 % CI", title_fontsize=7)
        leg._legend_box.align = "left"
        box = (["Mean gap at equal compute"] + lines if lines else []) + (["Off scale (axes zoomed on the models):"]
                                                                        + off_scale if off_scale else [])
        if box:
            ax.text(1.02, 0.0, "\n".join(box), transform=ax.transAxes,
                    ha="left", va="bottom", fontsize=6.5,
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#bbbbbb"})
        mark_synthetic(fig, summary)
    return fig


def _gap_lines(pts: pd.DataFrame, fronts: dict, ref: str | None, metric: str, meta: dict, hib: bool,
               values: dict | None, seed: int) -> list[str]:
    """The gap box's lines: each curve's mean gap to ``ref`` over their shared GMAC/s range, paired
    with its 95 % interval when ``values`` are given (``n.s.``: the interval covers 0)."""
    unit = (meta.get(metric) or {}).get("unit", "dB" if metric.startswith(("si_", "sd")) else "")
    has_ref = ref is not None and ref in fronts
    paired = gap_table(pts, metric, hib, ref, values=values, seed=seed).set_index("curve") \
        if values is not None and has_ref else None
    lines = []
    for name, curve in fronts.items():
        if not has_ref or name == ref or name.startswith("oracle allocation"):
            continue
        gap = curve_gap(curve, fronts[ref], hib)
        if not gap.overlaps:
            continue
        span = f"at {gap.lo:.3g}" if gap.lo == gap.hi else f"{gap.lo:.3g}–{gap.hi:.3g}"
        text = f"{_curve_label(name, name.split(' ')[0])} − {ref}: "
        if paired is not None and name in paired.index and paired.loc[name, "n"] > 0:
            r = paired.loc[name]
            text += (f"{r['mean_gap']:+.2f} {unit} [{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}]"
                     + ("" if r["significant"] else " n.s."))
        else:
            text += f"{gap.mean_gap:+.2f} {unit}"
        lines.append(text + f" ({span} GMAC/s)")
    for _, r in oracle_gaps(pts, metric, hib, values=values, seed=seed).iterrows():
        if not np.isfinite(r["mean_gap"]):
            continue
        ci = f" [{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}]" + ("" if r["significant"] else " n.s.") if r["n"] else ""
        lines.append(f"{_curve_label(r['curve'], 'dsn')} − its {r['oracle']}: {r['mean_gap']:+.2f} {unit}{ci}"
                     f" ({r['lo']:.3g}–{r['hi']:.3g} GMAC/s)")
    if lines and values is not None:
        lines.append("[95 % CI, paired over utterances; n.s.: covers 0]")
    return lines


def _shade_between(ax: plt.Axes, curve: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray],
                   hib: bool) -> str | None:
    """Shade the area between a curve and the reference over their shared GMAC/s range (green
    where the curve is better, vermillion where it is worse); the colour of the larger part, or
    None when they share no range."""
    lo, hi = max(curve[0][0], ref[0][0]), min(curve[0][-1], ref[0][-1])
    if not lo < hi:
        return None
    xs = np.union1d(np.concatenate([curve[0], ref[0]]), [lo, hi])
    xs = np.linspace(lo, hi, 400) if xs.size < 2 else np.union1d(xs[(xs >= lo) & (xs <= hi)], np.linspace(lo, hi, 400))
    qa, qb = np.interp(xs, *curve), np.interp(xs, *ref)
    better = qa >= qb if hib else qa <= qb
    ax.fill_between(xs, qa, qb, where=better, interpolate=True, color="#009E73", alpha=0.15, linewidth=0, zorder=0)
    ax.fill_between(xs, qa, qb, where=~better, interpolate=True, color="#D55E00", alpha=0.15, linewidth=0, zorder=0)
    gain = float(np.trapezoid(np.abs(qa - qb) * better, xs)) >= float(np.trapezoid(np.abs(qa - qb) * ~better, xs))
    return "#009E73" if gain else "#D55E00"


def _zoom_on_models(ax: plt.Axes, pts: pd.DataFrame, anchors: pd.DataFrame, metric: str) -> list[str]:
    """When oracle anchors (the mixture at 0 GMAC/s, the IRM far above) would squeeze the models
    into a sliver of the axes, zoom the axes on the models (error bars included) and return one
    line per anchor left off scale, for the box beside the axes; else change nothing."""
    models = pts[pts["family"] != "oracle"]
    if models.empty:
        return []
    lo_col, hi_col = f"{metric}_lo", f"{metric}_hi"
    q = models[metric].astype(float)
    q_lo = pd.to_numeric(models[lo_col], errors="coerce").fillna(q) if lo_col in models else q
    q_hi = pd.to_numeric(models[hi_col], errors="coerce").fillna(q) if hi_col in models else q
    y0, y1 = float(np.nanmin(q_lo)), float(np.nanmax(q_hi))
    c = models["gmacs"].astype(float)
    x0, x1 = float(c.min()), float(c.max())
    bottom, top = ax.get_ylim()
    left, right = ax.get_xlim()
    if (y1 - y0) >= 0.4 * (top - bottom) and (x1 - x0) >= 0.4 * (right - left):
        return []
    ypad = 0.08 * max(y1 - y0, 1e-9)
    xpad = 0.08 * max(x1 - x0, 1e-9)
    ax.set_ylim(y0 - ypad, y1 + 4 * ypad)  # room above the cluster for labels
    ax.set_xlim(max(x0 - xpad, 0.0), x1 + xpad)
    (nx0, nx1), (ny0, ny1) = ax.get_xlim(), ax.get_ylim()
    notes = []
    others = pd.concat([anchors, pts[pts["family"] == "oracle"]])
    for _, a in others.iterrows():
        v, g = float(a[metric]), float(a["gmacs"])
        inside = ny0 <= v <= ny1 and (not np.isfinite(g) or nx0 <= g <= nx1)
        if not inside:
            where = f" at {g:.3g} GMAC/s" if np.isfinite(g) else ""
            notes.append(f"{'↑' if v > ny1 else ('↓' if v < ny0 else '←')} {a['label']}: {v:.2f}{where}")
    return notes


#: label offsets (points) tried around a marker: 8 directions on rings of growing radius; a
#: label away from the first ring gets a thin leader line to its point
_DIRECTIONS = [(1, -1, "left"), (1, 1, "left"), (-1, 1, "right"), (-1, -1, "right"),
               (0, 1, "center"), (0, -1.4, "center"), (1.3, 0, "left"), (-1.3, 0, "right")]
_RINGS = (6.0, 11.0, 17.0, 24.0, 32.0, 42.0, 54.0)
#: marker half-size in points (markersize 6 plus the edge), the clearance labels keep from markers
MARKER_RADIUS_PT = 4.0


def label_offsets() -> list[tuple[float, float, str, bool]]:
    """Candidate (dx, dy, ha, leader) offsets in points, nearest first."""
    out = []
    for i, r in enumerate(_RINGS):
        for ux, uy, ha in _DIRECTIONS:
            out.append((ux * r, uy * r - (3.0 if uy == 0 else 0.0) - (2.5 if uy < 0 else 0.0), ha, i > 0))
    return out


def _place_labels(ax: plt.Axes, labels: list[tuple[float, float, str, str]], xs: np.ndarray, ys: np.ndarray) -> None:
    """Annotate points with small labels, each at the nearest offset (:func:`label_offsets`)
    where it overlaps no other label, no marker and stays inside the axes; far ones get a leader
    line. When no offset is free, the one with the least overlap is used."""
    if not labels:
        return
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    ok = np.isfinite(xs) & np.isfinite(ys)
    markers = np.array([to_px((x, y)) for x, y in zip(xs[ok], ys[ok])]).reshape(-1, 2)
    r = MARKER_RADIUS_PT * fig.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    taken: list = []

    def clash(box) -> float:
        area = 0.0
        for t in taken:
            w = min(box.x1, t.x1) - max(box.x0, t.x0)
            h = min(box.y1, t.y1) - max(box.y0, t.y0)
            if w > 0 and h > 0:
                area += w * h
        if markers.size:
            near = ((markers[:, 0] > box.x0 - r) & (markers[:, 0] < box.x1 + r)
                    & (markers[:, 1] > box.y0 - r) & (markers[:, 1] < box.y1 + r))
            area += 4 * r * r * float(near.sum())
        outside = (box.x0 < frame.x0) or (box.x1 > frame.x1) or (box.y0 < frame.y0) or (box.y1 > frame.y1)
        return area + (1e6 if outside else 0.0)

    for x, y, text, colour in labels:
        best = None
        for dx, dy, ha, leader in label_offsets():
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, va="baseline",
                              fontsize=6.5, color=colour, zorder=5)
            box = ann.get_window_extent(renderer).expanded(1.04, 1.08)
            score = clash(box)
            ann.remove()
            if best is None or score < best[0]:
                best = (score, dx, dy, ha, leader)
            if score == 0:
                break
        _, dx, dy, ha, leader = best
        arrow = {"arrowstyle": "-", "color": colour, "linewidth": 0.5, "alpha": 0.7, "shrinkA": 0, "shrinkB": 3} if leader else None
        ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, va="baseline",
                          fontsize=6.5, color=colour, zorder=5, arrowprops=arrow)
        taken.append(ann.get_window_extent(renderer).expanded(1.04, 1.08))


def _shade_categories(ax: plt.Axes, seg: pd.DataFrame) -> None:
    for _, r in seg.iterrows():
        st = CATEGORY_STYLE.get(str(r["category"]))
        if st is None or str(r["category"]) == "silence":
            continue
        ax.axvspan(r["span_start_s"], r["span_end_s"], facecolor=st["color"], hatch=st["hatch"],
                   edgecolor="#aaaaaa", linewidth=0, alpha=0.6, zorder=0)


def plot_gate_timeline(segments: pd.DataFrame, utt_id: str, audio: UtteranceAudio | str | None = None,
                       title: str | None = None, summary: dict | None = None,
                       widths: Sequence[float] | None = None) -> plt.Figure:
    """One utterance: mixture and sources over time (if ``audio`` is given; a string is the reason
    it is not), the width the gate chose for each segment beneath, and segmental SI-SNR, with
    segment categories shaded (one speaker dotted, overlap hatched). ``segments`` are one
    entry's rows (see :func:`.gates.select_entry`)."""
    seg = gates_mod.utterance_segments(segments, utt_id)
    all_widths = sorted(set(widths) if widths is not None else set(segments["width"].dropna().astype(float)))
    colours = width_colours(all_widths)
    has_audio = isinstance(audio, UtteranceAudio)
    n_wave = (1 + audio.sources.shape[0]) if has_audio else 1
    noise = seg["noise_active"]
    has_noise = bool(noise.notna().any())
    with style():
        ratios = [1.0] * n_wave + ([0.3] if has_noise else []) + [1.1, 1.1]
        fig, axes = plt.subplots(len(ratios), 1, sharex=True, figsize=(7.0, 1.0 + 0.85 * len(ratios)),
                                 gridspec_kw={"height_ratios": ratios, "hspace": 0.12})
        wave_axes, ax_w, ax_q = axes[:n_wave], axes[-2], axes[-1]
        if has_noise:
            ax_n = axes[n_wave]
            for _, r in seg.iterrows():
                if pd.notna(r["noise_active"]) and bool(r["noise_active"]):
                    ax_n.axvspan(r["span_start_s"], r["span_end_s"], facecolor="#444444", edgecolor="none")
            ax_n.set_yticks([])
            ax_n.set_ylabel("noise\nactive", rotation=0, ha="right", va="center")
            ax_n.grid(False)
        if has_audio:
            t = np.arange(audio.mixture.size) / audio.sample_rate
            names = ["mixture"] + [f"source {i + 1}" for i in range(audio.sources.shape[0])]
            signals = [audio.mixture] + list(audio.sources)
            peak = max(float(np.abs(s).max()) for s in signals) or 1.0
            for ax, name, sig in zip(wave_axes, names, signals):
                _shade_categories(ax, seg)
                ax.plot(t, sig, color="#222222" if name == "mixture" else "#0072B2", linewidth=0.4, zorder=2)
                ax.set_ylim(-1.05 * peak, 1.05 * peak)
                ax.set_ylabel(name, rotation=0, ha="right", va="center")
                ax.set_yticks([])
                ax.grid(False)
        else:
            ax = wave_axes[0]
            _shade_categories(ax, seg)
            reason = audio if isinstance(audio, str) else "no audio given"
            ax.text(0.5, 0.5, f"waveform not available: {reason}", transform=ax.transAxes, ha="center",
                    va="center", fontsize=7.5, wrap=True,
                    bbox={"facecolor": "white", "edgecolor": "#bbbbbb"})
            ax.set_yticks([])
            ax.set_ylabel("audio", rotation=0, ha="right", va="center")
            ax.grid(False)
        _shade_categories(ax_w, seg)
        dense = len(seg) > 60  # many narrow segments: outlines and hatches would hide the fill
        for _, r in seg.iterrows():
            w = float(r["width"]) if pd.notna(r["width"]) else math.nan
            if math.isnan(w):
                continue
            i = all_widths.index(w) if w in all_widths else 0
            ax_w.bar(r["span_start_s"], w, width=r["span_end_s"] - r["span_start_s"], align="edge",
                     color=colours.get(w, "#777777"), edgecolor="black" if not dense else colours.get(w, "#777777"),
                     linewidth=0.5 if not dense else 0.0,
                     hatch=_WIDTH_HATCHES[i % len(_WIDTH_HATCHES)] if not dense else None, zorder=2)
        ax_w.set_ylim(0, max(all_widths + [1.0]) * 1.08)
        ax_w.set_yticks(all_widths)
        ax_w.set_ylabel("width\n(fraction)")
        _shade_categories(ax_q, seg)
        centres = (seg["span_start_s"] + seg["span_end_s"]) / 2
        ax_q.plot(centres, seg["seg_si_snr"].astype(float), marker="o" if not dense else None, markersize=3,
                  linewidth=1.4 if not dense else 0.8, color="#D55E00", zorder=3)
        ax_q.set_ylabel("segment\nSI-SNR (dB)")
        ax_q.set_xlabel("Time (s)")
        ax_q.set_xlim(0, float(seg["span_end_s"].max()))
        handles = [Patch(facecolor=CATEGORY_STYLE[c]["color"], hatch=CATEGORY_STYLE[c]["hatch"], edgecolor="#888888",
                         label=CATEGORY_STYLE[c]["label"]) for c in ("silence", "one", "overlap")]
        handles += [Patch(facecolor=colours[w], hatch=_WIDTH_HATCHES[i % len(_WIDTH_HATCHES)], edgecolor="black",
                          label=f"width {w:g}") for i, w in enumerate(all_widths)]
        fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 7), frameon=False,
                   bbox_to_anchor=(0.5, 0.955), fontsize=7)
        fig.suptitle(title or f"Gate decisions: {utt_id}", y=0.985)
        mark_synthetic(fig, summary)
    return fig


def plot_width_share(segments: pd.DataFrame, title: str | None = None, summary: dict | None = None,
                     all_widths: Sequence[float] | None = None) -> plt.Figure:
    """Share of segments at each width per segment category (and noise state): stacked bars.
    ``all_widths`` (the model's whole width set) keeps colours equal across figures."""
    share = gates_mod.width_share_by_category(segments)
    widths = [c for c in share.columns if c != "n"]
    palette = sorted(set(float(w) for w in (all_widths if all_widths is not None else widths)) | set(float(w) for w in widths))
    colours = width_colours(palette)
    with style():
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.42 * max(len(share), 1)))
        left = np.zeros(len(share))
        y = np.arange(len(share))[::-1]
        for i, w in enumerate(widths):
            vals = share[w].to_numpy(float)
            hatch = _WIDTH_HATCHES[palette.index(float(w)) % len(_WIDTH_HATCHES)]
            ax.barh(y, vals, left=left, color=colours[float(w)], edgecolor="black", linewidth=0.5,
                    hatch=hatch, label=f"{float(w):g}")
            for yy, l, v in zip(y, left, vals):
                if v >= 0.08:
                    lum = np.dot(colours[float(w)][:3], [0.299, 0.587, 0.114])
                    ax.text(l + v / 2, yy, f"{100 * v:.0f} %", ha="center", va="center", fontsize=7,
                            color="white" if lum < 0.5 else "black",
                            bbox={"facecolor": colours[float(w)], "edgecolor": "none", "pad": 0.6})
            left += vals
        labels = [f"{g.replace('one', 'one speaker')}  (n={n})" for g, n in zip(share.index, share["n"])]
        ax.set_yticks(y, labels)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}"))
        ax.set_xlabel("Share of segments (%)")
        ax.grid(axis="y", visible=False)
        ax.legend(title="width", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(title or "Width chosen per segment category")
        mark_synthetic(fig, summary)
    return fig


def plot_seg_snr_by_width(segments: pd.DataFrame, title: str | None = None, summary: dict | None = None) -> plt.Figure:
    """Segmental SI-SNR against the chosen width: box plots per width, split by category
    (boxes: quartiles; whiskers: 1.5 IQR; diamond: mean; n under each box)."""
    seg = segments.dropna(subset=["width"])
    seg = seg[np.isfinite(seg["seg_si_snr"].astype(float))]
    widths = sorted(set(seg["width"].astype(float)))
    cats = [c for c in gates_mod.CATEGORIES if c in set(seg["category"])]
    with style():
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        k = max(len(cats), 1)
        step = 0.8 / k
        for j, cat in enumerate(cats):
            st = CATEGORY_STYLE[cat]
            data, pos = [], []
            for i, w in enumerate(widths):
                v = seg[(seg["width"].astype(float) == w) & (seg["category"] == cat)]["seg_si_snr"].astype(float)
                if v.size:
                    data.append(v.to_numpy())
                    pos.append(i - 0.4 + step * (j + 0.5))
            if not data:
                continue
            bp = ax.boxplot(data, positions=pos, widths=step * 0.85, patch_artist=True, showmeans=True,
                            meanprops={"marker": "D", "markerfacecolor": "black", "markeredgecolor": "black", "markersize": 3.5},
                            medianprops={"color": "black"}, flierprops={"marker": ".", "markersize": 3, "markeredgecolor": "#555555"})
            for box in bp["boxes"]:
                box.set(facecolor=st["color"] if cat != "silence" else "#eeeeee", hatch=st["hatch"], edgecolor="black")
            for p, v in zip(pos, data):
                ax.annotate(f"{v.size}", (p, 0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=6, color="#555555")
        ax.set_xticks(range(len(widths)), [f"{w:g}" for w in widths])
        ax.set_xlim(-0.6, len(widths) - 0.4)
        ax.set_xlabel("Width chosen by the gate (fraction of full width)")
        ax.set_ylabel("Segmental SI-SNR (dB)")
        handles = [Patch(facecolor=CATEGORY_STYLE[c]["color"] if c != "silence" else "#eeeeee", hatch=CATEGORY_STYLE[c]["hatch"],
                         edgecolor="black", label=CATEGORY_STYLE[c]["label"]) for c in cats]
        handles.append(plt.Line2D([], [], marker="D", linestyle="none", color="black", markersize=3.5, label="mean"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  title="n = segments under each box", title_fontsize=6.5)
        ax.set_title(title or "Segmental SI-SNR by chosen width")
        mark_synthetic(fig, summary)
    return fig


def plot_overlap_noise(tables: dict[str, pd.DataFrame], metric: str = "si_snri", meta: dict | None = None,
                       summary: dict | None = None) -> plt.Figure:
    """Mean GMAC/s (top) and the quality metric (bottom) against speaker-overlap ratio and/or
    noise activity (one column each), one line per model entry, styled by family, with
    bootstrap 95 % intervals. Note: less overlap makes longer mixtures, and a dual-path
    network's inter-chunk attention costs more per second on longer inputs, so even a static
    model's GMAC/s can change along the overlap axis; compare against the static lines. ``tables`` maps ``overlap`` / ``noise_activity`` to
    :func:`.variants.variant_table` output (an empty table leaves its column out)."""
    meta = meta or {}
    factors = [f for f in ("overlap", "noise_activity") if f in tables and not tables[f].empty]
    if not factors:
        raise ValueError("no variant datasets: the runs have no dataset with an overlap or noise-activity value")
    xlabels = {"overlap": "Speaker overlap (% of the shorter source)", "noise_activity": "Noise activity (% of the mixture)"}
    with style():
        fig, axes = plt.subplots(2, len(factors), figsize=(3.6 * len(factors) + 1.8, 5.0), squeeze=False, sharey="row")
        legend: dict[str, object] = {}
        for col, factor in enumerate(factors):
            tab = tables[factor]
            counters: dict[str, int] = {}
            for label, g in tab.groupby("label", sort=False):
                g = g.sort_values(factor)
                fam = str(g["family"].iloc[0])
                st = curve_style(fam, counters.get(fam, 0))
                counters[fam] = counters.get(fam, 0) + 1
                x = 100 * g[factor].to_numpy(float)
                for row, key in enumerate(("gmacs", metric)):
                    if key not in g.columns:
                        continue
                    h = axes[row, col].errorbar(x, g[key].to_numpy(float), yerr=_err(g, key), color=st["color"],
                                                marker=st["marker"], linestyle=st["linestyle"], markeredgecolor="black",
                                                markeredgewidth=0.5, capsize=2)
                    legend.setdefault(str(label), h)
            for row, key in enumerate(("gmacs", metric)):
                ax = axes[row, col]
                vals = sorted(set(100 * tab[factor].astype(float)))
                ax.set_xticks(vals, [as_percent(v / 100) for v in vals])
                if row == 1:
                    ax.set_xlabel(xlabels[factor])
                if col == 0:
                    ax.set_ylabel("Compute (GMAC/s)" if key == "gmacs" else metric_label(metric, meta))
        fig.legend(list(legend.values()), list(legend.keys()), loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
                   title="error bars: bootstrap 95 % CI", title_fontsize=7)
        what = " and ".join({"overlap": "speaker overlap", "noise_activity": "noise activity"}[f] for f in factors)
        fig.suptitle(f"Compute and quality against {what}")
        fig.tight_layout()
        mark_synthetic(fig, summary)
    return fig


def plot_oracle_agreement(agreement: pd.DataFrame, title: str, mu: float | None = None,
                          summary: dict | None = None) -> plt.Figure:
    """Share of segments where the gate chose the oracle allocation's width, per segment
    category (:func:`dsnbench.analysis.gates.oracle_agreement`), with each bar's segment count
    and the mean width each chose."""
    with style():
        fig, ax = plt.subplots(figsize=(5.2, 3.0))
        names = list(agreement.index)
        x = np.arange(len(names))
        colours = [CATEGORY_STYLE.get(n, {"color": "#cccccc"})["color"] if n != "all" else "#999999" for n in names]
        hatches = [CATEGORY_STYLE.get(n, {"hatch": ""})["hatch"] for n in names]
        bars = ax.bar(x, agreement["agreement"].to_numpy(float), color=colours, edgecolor="#555555", linewidth=0.6)
        for b, h in zip(bars, hatches):
            b.set_hatch(h)
        for xi, (_, r) in zip(x, agreement.iterrows()):
            ax.annotate(f"n={int(r['n'])}\nw̄ {r['dsn_mean_width']:.2f} / {r['oracle_mean_width']:.2f}",
                        (xi, float(r["agreement"])), xytext=(0, 3), textcoords="offset points", ha="center",
                        va="bottom", fontsize=6.5)
        ax.set_xticks(x, names)
        ax.set_ylim(0, 1.25)
        ax.set_ylabel("gate = oracle width (share)")
        ax.set_title(title + (f"\n(oracle at μ={mu:g}, matched mean compute; w̄: mean width gate / oracle)" if mu is not None else ""),
                     fontsize=8)
        mark_synthetic(fig, summary)
    return fig
