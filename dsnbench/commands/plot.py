"""``dsnbench plot KIND``: paper-ready figures (PNG and PDF) from run folders.

The kinds (pareto, gates, overlap, history, ...) are registered in
:mod:`dsnbench.analysis.kinds`; this command gives each its sub-command and draws it.
"""
from __future__ import annotations

import argparse

EPILOG = """examples:
  dsnbench plot pareto runs/mini --out figures                      # SI-SNRi vs GMAC/s per dataset
  dsnbench plot pareto runs/static runs/dsn --out figures --metric sdri
  dsnbench plot gates runs/mini --out figures                       # a DSN entry, 2 utterances
  dsnbench plot gates runs/mini --utt ID1 --utt ID2 --model dsn-l1 --operating-point 0.5 --out figures
  dsnbench plot overlap runs/variants --out figures                 # vs speaker overlap / noise activity
  dsnbench plot history                                             # metric trend over results/history.csv
  dsnbench plot history my/history.csv --out figures --metric si_snri --metric gmacs_per_s
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..analysis.kinds import PLOTS
    p = sub.add_parser("plot", help=f"figures from run folders ({', '.join(PLOTS.in_order())})",
                       description="Draw figures from finished run folders and save each as PNG and PDF in --out.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name in PLOTS.in_order():
        add_kind_parser(kinds, name)


def add_kind_parser(kinds: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    """The sub-command of one registered plot kind."""
    from ..analysis.kinds import plot_kind
    entry, kind = plot_kind(name)
    q = kinds.add_parser(name, help=entry.help, description=kind.description or None, epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    for flags, options in kind.options:
        q.add_argument(*flags, **options)
    q.set_defaults(func=run)
    return q


def run(args: argparse.Namespace) -> int:
    from ..analysis.kinds import draw
    for path in draw(args.kind, args):
        print(path)
    return 0
