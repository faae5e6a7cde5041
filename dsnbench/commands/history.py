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


def add_plot_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``dsnbench plot history`` (a kind registered in :mod:`dsnbench.analysis.kinds`)."""
    from .plot import add_kind_parser
    return add_kind_parser(kinds, "history")
