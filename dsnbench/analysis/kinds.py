"""The kinds of figure ``dsnbench plot`` draws and the formats ``dsnbench table`` prints,
registered like datasets and models: the CLI lists and dispatches them from here.

A plot kind is a :class:`PlotKind`: its command-line options (as data) and a ``draw`` target,
``"module:function"`` imported only when that kind is drawn, which takes the parsed arguments
and returns the paths it wrote. Adding a kind is one registration here plus its draw function;
``dsnbench/commands/plot.py`` needs no change. A table format is a renderer
``(entries, columns, intervals) -> text`` registered in :data:`TABLES`.

Nothing here imports matplotlib: listing the kinds (building the CLI) stays fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..registry import Entry, Registry

#: an option: (flags, keyword arguments of ``ArgumentParser.add_argument``)
Option = tuple[tuple[str, ...], dict[str, Any]]


@dataclass(frozen=True)
class PlotKind:
    """One kind of figure: its options, its draw target, the help of its sub-command."""

    draw: str
    options: tuple[Option, ...]
    description: str = ""


FORMAT_OPTION: Option = (("--format",), dict(action="append", choices=("png", "pdf", "svg"), default=None,
                                             help="file format (repeatable; default: png and pdf)"))
#: where the figures of run folders go
SAVE_OPTIONS: tuple[Option, ...] = (
    (("--out",), dict(required=True, metavar="DIR", help="folder for the PNG and PDF files")),
    FORMAT_OPTION,
)

PLOTS = Registry("plot kind")
PLOTS.register("pareto", PlotKind(
    "dsnbench.analysis.figures:draw_pareto",
    ((("runs",), dict(nargs="+", metavar="RUN", help="run folder(s); entries of all runs share one figure per dataset")),
     (("--metric",), dict(default="si_snri", help="quality metric of the y axis (default: si_snri)")),
     (("--dataset",), dict(action="append", default=None, help="only this dataset (repeatable; default: each dataset)")),
     (("--reference",), dict(default=None, help="curve the gaps are measured against (default: static, else slim)")),
     *SAVE_OPTIONS)),
    help="quality vs GMAC/s, Pareto fronts, gaps between curves")
PLOTS.register("gates", PlotKind(
    "dsnbench.analysis.figures:draw_gates",
    ((("runs",), dict(nargs=1, metavar="RUN", help="one run folder")),
     (("--utt",), dict(action="append", default=None, metavar="ID",
                       help="utterance id for a timeline (repeatable; default: the 2 with the most varied widths)")),
     (("--model",), dict(default=None, help="model (default: a DSN entry with several widths)")),
     (("--operating-point",), dict(type=float, default=None, metavar="BETA",
                                   help="operating point (default: the one nearest 0)")),
     (("--dataset",), dict(default=None, help="dataset (default: the model's first)")),
     (("--audio-root",), dict(default=None, metavar="DIR",
                              help="corpus root for the waveforms, if it moved since the run (default: as the run read it)")),
     *SAVE_OPTIONS)),
    help="gate decisions: timelines, width share per category, segment SI-SNR by width")
PLOTS.register("overlap", PlotKind(
    "dsnbench.analysis.figures:draw_overlap",
    ((("runs",), dict(nargs="+", metavar="RUN", help="run folder(s) with variant datasets")),
     (("--metric",), dict(default="si_snri", help="quality metric (default: si_snri)")),
     (("--all-entries",), dict(action="store_true",
                               help="a line for every entry (default: static widths and each DSN lambda at beta nearest 0)")),
     *SAVE_OPTIONS)),
    help="GMAC/s and quality vs speaker overlap and noise activity (variant sets)")
PLOTS.register("history", PlotKind(
    "dsnbench.history:draw_history",
    ((("history",), dict(nargs="?", type=Path, default=None, metavar="FILE",
                         help="history file (default: results/history.csv)")),
     (("--out",), dict(type=Path, default=None, metavar="DIR",
                       help="folder for history.png and history.pdf (default: the history file's folder)")),
     (("--metric",), dict(action="append", default=None, metavar="METRIC",
                          help="only this metric (repeatable; default: all tracked)")),
     FORMAT_OPTION),
    "Draw each main metric per model and dataset over the runs of a history file (dsnbench history add), "
    "in the order the runs were made."),
    help="trend of the main metrics per model over the history file")


def plot_kind(name: str) -> tuple[Entry, PlotKind]:
    """The registry entry and the kind of ``name`` (did-you-mean error when unknown)."""
    return PLOTS.entry(name), PLOTS.get(name)


def formats(args: Any) -> tuple[str, ...]:
    """The ``--format`` choices asked for, in order, without repeats (default: png and pdf)."""
    return tuple(dict.fromkeys(args.format)) if getattr(args, "format", None) else ("png", "pdf")


def draw(name: str, args: Any) -> list:
    """Draw the figures of kind ``name`` for the parsed arguments; returns the written paths."""
    from .style import use_headless_backend
    use_headless_backend()
    import importlib
    module, _, attr = PLOTS.get(name).draw.partition(":")
    fn: Callable[[Any], list] = getattr(importlib.import_module(module), attr)
    return fn(args)


#: table formats of ``dsnbench table --format``: renderers (entries, columns, intervals) -> text
TABLES = Registry("table format")
TABLES.register("md", "dsnbench.analysis.tables:markdown_table", help="Markdown (GitHub pipe tables)")
TABLES.register("latex", "dsnbench.analysis.tables:latex_table", help="LaTeX with booktabs rules")
TABLES.register("html", "dsnbench.analysis.tables:html_table", help="an HTML table (as in the report)")
