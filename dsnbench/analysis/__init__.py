"""Analysis of run folders: Pareto fronts, gate decisions, overlap/noise analysis, tables,
figures and a self-contained HTML report.

Typical use (the notebooks do exactly this)::

    from dsnbench import analysis as an
    runs = an.load_runs(["results/mini/baseline"])
    entries = an.entries_frame(runs)
    fig = an.plot_pareto(entries, dataset="mini-2mix")
    an.save_figure(fig, "figures", "pareto-mini-2mix")

Everything here reads the results schema (design section 7) and nothing else. The names below
are imported on first use, so ``import dsnbench.analysis.kinds`` (the CLI's list of plot kinds)
does not load matplotlib.
"""
from __future__ import annotations

from ..registry import lazy_attributes

_EXPORTS = {
    "entries_frame": "collect", "family_of": "collect", "load_runs": "collect", "metrics_meta": "collect",
    "gate_figures": "figures", "overlap_noise_figure": "figures", "pareto_figures": "figures",
    "CurveGap": "pareto", "curve_gap": "pareto", "front": "pareto", "gap_table": "pareto", "pareto_mask": "pareto",
    "plot_gate_timeline": "plots", "plot_overlap_noise": "plots", "plot_pareto": "plots",
    "plot_seg_snr_by_width": "plots", "plot_width_share": "plots",
    "save_figure": "style", "latex_table": "tables", "markdown_table": "tables",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
