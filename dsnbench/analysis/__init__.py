"""Analysis of run folders: Pareto fronts, gate decisions, overlap/noise analysis, tables,
figures and a self-contained HTML report.

Typical use (the notebooks do exactly this)::

    from dsnbench import analysis as an
    runs = an.load_runs(["results/mini/baseline"])
    entries = an.entries_frame(runs)
    fig = an.plot_pareto(entries, dataset="mini-2mix")
    an.save_figure(fig, "figures", "pareto-mini-2mix")

Everything here reads the results schema (design section 7) and nothing else.
"""
from __future__ import annotations

from .collect import entries_frame, family_of, load_runs, metrics_meta
from .figures import gate_figures, overlap_noise_figure, pareto_figures
from .pareto import CurveGap, curve_gap, front, gap_table, pareto_mask
from .plots import plot_gate_timeline, plot_overlap_noise, plot_pareto, plot_seg_snr_by_width, plot_width_share
from .style import save_figure
from .tables import latex_table, markdown_table

__all__ = [
    "CurveGap", "curve_gap", "entries_frame", "family_of", "front", "gap_table", "gate_figures", "latex_table",
    "load_runs", "markdown_table", "metrics_meta", "overlap_noise_figure", "pareto_figures", "pareto_mask",
    "plot_gate_timeline", "plot_overlap_noise", "plot_pareto", "plot_seg_snr_by_width", "plot_width_share",
    "save_figure",
]
