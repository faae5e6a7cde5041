"""``dsnbench history add RUN``: append a run's main metrics to the history file."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dsnbench history add runs/mini                       (appends to results/history.csv)
  dsnbench history add runs/mini --history my/history.csv
  dsnbench plot history                                 (draws the trend)

One row per model, dataset and operating point: run_id, git_commit, created, n_evaluated and
the mean si_snri, sdri, pesq, stoi and gmacs_per_s. A run already in the file (same run_id) is
not added twice.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "history", help="append a run's main metrics to the history (results/history.csv)",
        description="Keep the metric history of a project: one CSV row per run and entry.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="history_command", metavar="ACTION")
    add = sub.add_parser("add", help="append a finished run (folder or summary.json)",
                         epilog="example: dsnbench history add runs/mini --history results/history.csv",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("run", type=Path, help="run folder or its summary.json")
    add.add_argument("--history", type=Path, default=None,
                     help="history file (default: results/history.csv)")
    add.set_defaults(func=run_add)
    p.set_defaults(func=_usage(p))


def _usage(parser: argparse.ArgumentParser):
    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    return run


def run_add(args: argparse.Namespace) -> int:
    from ..history import DEFAULT_HISTORY, add_run
    history = args.history if args.history is not None else DEFAULT_HISTORY
    added, existed = add_run(args.run, history)
    if existed:
        print(f"{args.run}: already in {history}; nothing added")
    else:
        print(f"{history}: added {added} row{'s' if added != 1 else ''} from {args.run}")
    return 0


PLOT_EPILOG = """\
examples:
  dsnbench plot history                                  (results/history.csv -> results/history.png, .pdf)
  dsnbench plot history my/history.csv --out figures --metric si_snri --metric gmacs_per_s
"""


def add_plot_parser(kinds: argparse._SubParsersAction) -> None:
    """``dsnbench plot history``: registered by ``dsnbench/commands/plot.py`` among its kinds."""
    from ..history import HISTORY_METRICS
    p = kinds.add_parser("history", help="trend of the main metrics per model over the history file",
                         description="Draw each main metric per model and dataset over the runs of a history "
                                     "file (dsnbench history add), in the order the runs were made.",
                         epilog=PLOT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("history", nargs="?", type=Path, default=None, metavar="FILE",
                   help="history file (default: results/history.csv)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="folder for history.png and history.pdf (default: the history file's folder)")
    p.add_argument("--metric", action="append", default=None, choices=HISTORY_METRICS,
                   help="only this metric (repeatable; default: all tracked)")
    p.add_argument("--format", action="append", choices=("png", "pdf", "svg"), default=None,
                   help="file format (repeatable; default: png and pdf)")
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from ..history import DEFAULT_HISTORY, plot_history
    history = args.history if args.history is not None else DEFAULT_HISTORY
    out = args.out if args.out is not None else Path(history).parent
    formats = tuple(dict.fromkeys(args.format)) if args.format else ("png", "pdf")
    for path in plot_history(history, out, args.metric, formats):
        print(path)
    return 0
