"""Trade-offs a reviewer can defend, as Markdown: every point against the reference curve
(paired over utterances, with intervals and tests), the area between each curve and the
reference over their shared compute range (paired), and each front's hypervolume against one
stated reference point. What ``dsnbench table --gaps`` prints; the numbers come from
:mod:`dsnbench.analysis.pareto` (and beneath it :mod:`dsnbench.metrics.tradeoff`)."""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from ..results import RunTables
from .collect import higher_is_better, metrics_meta
from .pareto import ORACLE_ALLOCATION, gap_table, hypervolumes, point_gaps, utterance_values
from .tables import format_p, gaps_latex, gaps_markdown


def _f(x: object, fmt: str = "{:+.2f}") -> str:
    return fmt.format(float(x)) if isinstance(x, (int, float)) and math.isfinite(float(x)) else "–"


def areas_markdown(areas: pd.DataFrame, header: str) -> str:
    """Markdown of :func:`dsnbench.analysis.pareto.gap_table` (paired), one block per dataset."""
    lines = []
    for ds, d in areas.groupby("dataset", sort=True):
        lines += [f"**{ds}**: area between each curve and the {d['reference'].iloc[0]} curve", "",
                  f"| Curve | shared GMAC/s | mean gap | 95 % CI | p (Wilcoxon) | p (t) | n | area |",
                  "|:---|:---|---:|---:|---:|---:|---:|---:|"]
        for _, r in d.iterrows():
            span = "none" if not math.isfinite(r["lo"]) or r["lo"] > r["hi"] else f"{r['lo']:.3f}–{r['hi']:.3f}"
            gap = _f(r["mean_gap"]) + ("" if r["significant"] or not math.isfinite(r["mean_gap"]) or not r["n"] else " (n.s.)")
            ci = f"[{_f(r['ci_lo'])}, {_f(r['ci_hi'])}]" if math.isfinite(r["ci_lo"]) else "–"
            lines.append(f"| {r['curve']} | {span} | {gap} | {ci} | {format_p(r['p_wilcoxon'])} | {format_p(r['p_ttest'])} | "
                         f"{int(r['n'])} | {_f(r['area'], '{:+.4f}')} |")
        lines.append("")
    if lines:
        lines += ["Mean gap: the integral of (curve - reference) over the GMAC/s range both cover, divided by "
                  "that range, per utterance and then averaged; CI: seeded bootstrap 95 % over utterances; "
                  "area: mean gap x range (unit x GMAC/s).", ""]
    return "\n".join(lines) + "\n"


def hypervolume_markdown(hv: pd.DataFrame, header: str) -> str:
    lines = []
    for ds, d in hv.groupby("dataset", sort=True):
        r0 = d.iloc[0]
        lines += [f"**{ds}**: hypervolume against the reference point ({r0['ref_gmacs']:.3f} GMAC/s, "
                  f"{r0['ref_quality']:.2f} {header})", "", "| Curve | hypervolume (GMAC/s x unit) |", "|:---|---:|"]
        lines += [f"| {r['curve']} | {r['hypervolume']:.4f} |" for _, r in d.iterrows()]
        lines.append("")
    if lines:
        lines += ["Hypervolume: the area each front dominates up to the reference point (larger is better; "
                  "comparable only against the same point).", ""]
    return "\n".join(lines) + "\n"


def gaps_markdown_for(runs: Sequence[RunTables], entries: pd.DataFrame, metric: str, header: str,
                      reference: str | None = None, seed: int = 0, n_boot: int = 1000) -> str:
    """The three blocks of ``table --gaps`` for ``entries`` (of ``runs``) on one metric."""
    hib = higher_is_better(metric, metrics_meta(runs))
    entries = entries.dropna(subset=[metric])
    values = utterance_values(runs, metric)
    points = point_gaps(entries, metric, hib, reference=reference, values=values, seed=seed, n_boot=n_boot)
    text = "Each point against the reference curve at the same GMAC/s (gap > 0: above it).\n\n"
    text += gaps_markdown(points, metric, header) if not points.empty else "(no reference curve in these runs)\n"
    if reference != "own" and not points.empty:
        areas = gap_table(entries, metric, hib, reference, values=values, seed=seed, n_boot=n_boot)
        if not areas.empty:
            text += "\n" + areas_markdown(areas, header)
    if reference != ORACLE_ALLOCATION and (entries["family"] == ORACLE_ALLOCATION).any():
        own = point_gaps(entries, metric, hib, reference=ORACLE_ALLOCATION, values=values, seed=seed, n_boot=n_boot)
        if not own.empty:
            text += ("\nEach DSN point against the oracle allocation of its own weights (gap < 0: below the best "
                     "allocation found; greedy per segment, exact output).\n\n" + gaps_markdown(own, metric, header))
    hv = hypervolumes(entries, metric, hib)
    if not hv.empty:
        text += "\n" + hypervolume_markdown(hv, header)
    return text


def gaps_latex_for(runs: Sequence[RunTables], entries: pd.DataFrame, metric: str, header: str,
                   reference: str | None = None, seed: int = 0, n_boot: int = 1000) -> str:
    """The point gaps of ``table --gaps`` as a LaTeX table (the areas and hypervolumes stay in
    the Markdown form)."""
    hib = higher_is_better(metric, metrics_meta(runs))
    entries = entries.dropna(subset=[metric])
    points = point_gaps(entries, metric, hib, reference=reference, values=utterance_values(runs, metric),
                        seed=seed, n_boot=n_boot)
    return gaps_latex(points, metric, header) if not points.empty else "% no reference curve in these runs\n"
