"""``dsnbench report``: one self-contained HTML page (tables, figures, provenance, failures)."""
from __future__ import annotations

import argparse

EPILOG = """examples:
  dsnbench report runs/mini --out report.html
  dsnbench report runs/static runs/dsn runs/variants --out sweep.html --metric sdri
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="self-contained HTML report of one or more run folders",
                       description="Write one static HTML page with the results table, Pareto figures and gaps, "
                                   "gate decisions, the overlap/noise analysis, failed-metric counts and the "
                                   "provenance (config, data hashes, versions). Figures are embedded; the page "
                                   "opens offline.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s)")
    p.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument("--metric", default="si_snri", help="quality metric of the figures (default: si_snri)")
    p.add_argument("--utt", action="append", default=None, metavar="ID", help="utterance for gate timelines (repeatable)")
    p.add_argument("--audio-root", default=None, metavar="DIR", help="corpus root for waveforms, if it moved")
    p.add_argument("--title", default=None, help="page title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.collect import load_runs
    from ..analysis.style import use_headless_backend
    use_headless_backend()
    from ..analysis.report import write_report

    path = write_report(load_runs(args.runs), args.out, metric=args.metric, utt_ids=args.utt,
                        audio_root=args.audio_root, title=args.title)
    print(path)
    return 0
