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
from .pareto import curve_gap, front, pareto_mask
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
                summary: dict | None = None, reference: str | None = None, annotate_beta: bool = True) -> plt.Figure:
    """Quality against GMAC/s for one dataset: every entry with its bootstrap 95 % intervals as
    error bars (both axes), each curve's Pareto front as a line (dominated points hollow), the
    front over all DSN operating points in grey, oracles without a cost as horizontal anchors,
    and the mean gap of each curve to the reference curve (static by default) in a box."""
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
            if fam in ("static", "slim"):
                for xx, yy, w in zip(x, y, g["width"]):
                    if w is not None and not (isinstance(w, float) and math.isnan(w)):
                        point_labels.append((xx, yy, f"w={w:g}", st["color"]))
        # the axes fit the models (with their intervals); an anchor inside that range is a
        # dotted line, one outside it a label at the edge it lies beyond, with its value
        ylo, yhi = ax.get_ylim()
        xlo, xhi = ax.get_xlim()
        for _, a in anchors.iterrows():
            st = family_style(str(a["family"]))
            value = float(a[metric])
            cost = float(a["gmacs"])
            what = "compute not defined" if not math.isfinite(cost) else f"{cost:g} GMAC/s"
            text = f"{a['label']}: {value:.2f} ({what})"
            if ylo <= value <= yhi:
                ax.axhline(value, color=st["color"], linestyle=":", linewidth=1.0, zorder=0)
                ax.annotate(text, (1.0, value), xycoords=("axes fraction", "data"), xytext=(-2, 3),
                            textcoords="offset points", ha="right", fontsize=7, color=st["color"])
            else:
                above = value > yhi
                ax.annotate(("↑ " if above else "↓ ") + text + (" above" if above else " below"),
                            (1.0, 1.0 if above else 0.0), xycoords="axes fraction", xytext=(-2, -9 if above else 3),
                            textcoords="offset points", ha="right", fontsize=7, color=st["color"])
        ax.set_ylim(ylo, yhi)
        ax.set_xlim(max(xlo, 0.0), xhi)  # compute is never negative
        _place_labels(ax, point_labels, pts["gmacs"].to_numpy(float), pts[metric].to_numpy(float))
        ax.set_xlabel("Compute (GMAC per second of audio)")
        ax.set_ylabel(metric_label(metric, meta))
        ax.set_title(f"{metric_label(metric, meta, with_unit=False)} against compute: {dataset}")
        ref = reference or ("static" if "static" in fronts else ("slim" if "slim" in fronts else None))
        lines = []
        if ref is not None:
            for name, curve in fronts.items():
                if name == ref:
                    continue
                gap = curve_gap(curve, fronts[ref], hib)
                if gap.overlaps:
                    unit = (meta.get(metric) or {}).get("unit", "dB" if metric.startswith(("si_", "sd")) else "")
                    span = f"at {gap.lo:.3g}" if gap.lo == gap.hi else f"{gap.lo:.3g}–{gap.hi:.3g}"
                    lines.append(f"{_curve_label(name, name.split(' ')[0])} − {ref}: {gap.mean_gap:+.2f} {unit}"
                                 f" ({span} GMAC/s)")
        handles, labels = ax.get_legend_handles_labels()
        if any_dominated:
            handles.append(plt.Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="#555555"))
            labels.append("dominated (by any model)")
        leg = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                        title="error bars: bootstrap 95 % CI", title_fontsize=7)
        leg._legend_box.align = "left"
        if lines:
            ax.text(1.02, 0.0, "Mean gap at equal compute\n" + "\n".join(lines), transform=ax.transAxes,
                    ha="left", va="bottom", fontsize=6.5,
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#bbbbbb"})
        mark_synthetic(fig, summary)
    return fig


#: candidate label offsets (points) around a marker, tried in order
_OFFSETS = [(5, -10, "left"), (5, 4, "left"), (-5, 4, "right"), (-5, -10, "right"),
            (0, 8, "center"), (0, -14, "center"), (9, -3, "left"), (-9, -3, "right")]


def _place_labels(ax: plt.Axes, labels: list[tuple[float, float, str, str]], xs: np.ndarray, ys: np.ndarray) -> None:
    """Annotate points with small labels, each at the first offset where it overlaps neither
    another label nor a marker (greedy; falls back to the first offset)."""
    if not labels:
        return
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    ok = np.isfinite(xs) & np.isfinite(ys)
    markers = [to_px((x, y)) for x, y in zip(xs[ok], ys[ok])]
    r = 4.5 * fig.dpi / 72.0  # marker half-size in pixels
    taken: list = []
    for x, y, text, colour in labels:
        placed = None
        for dx, dy, ha in _OFFSETS:
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha,
                              fontsize=6.5, color=colour, zorder=5)
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            hit = any(box.overlaps(t) for t in taken) or any(
                box.x0 - r < mx < box.x1 + r and box.y0 - r < my < box.y1 + r for mx, my in markers)
            if not hit:
                placed = (ann, box)
                break
            ann.remove()
        if placed is None:
            dx, dy, ha = _OFFSETS[0]
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha,
                              fontsize=6.5, color=colour, zorder=5)
            placed = (ann, ann.get_window_extent(renderer))
        taken.append(placed[1])


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
