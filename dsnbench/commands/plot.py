"""``dsnbench plot pareto|gates|overlap``: paper-ready figures (PNG and PDF) from run folders."""
from __future__ import annotations

import argparse

EPILOG = """examples:
  dsnbench plot pareto runs/mini --out figures                      # SI-SNRi vs GMAC/s per dataset
  dsnbench plot pareto runs/static runs/dsn --out figures --metric sdri
  dsnbench plot gates runs/mini --out figures                       # a DSN entry, 2 utterances
  dsnbench plot gates runs/mini --utt ID1 --utt ID2 --model dsn-l0.1 --operating-point 0.5 --out figures
  dsnbench plot overlap runs/variants --out figures                 # vs speaker overlap / noise activity
  dsnbench plot history                                             # metric trend over results/history.csv
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="figures from run folders (pareto, gates, overlap, history)",
                       description="Draw figures from finished run folders and save each as PNG and PDF in --out.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    par = kinds.add_parser("pareto", help="quality vs GMAC/s, Pareto fronts, gaps between curves",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    par.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s); entries of all runs share one figure per dataset")
    par.add_argument("--metric", default="si_snri", help="quality metric of the y axis (default: si_snri)")
    par.add_argument("--dataset", action="append", default=None, help="only this dataset (repeatable; default: each dataset)")
    par.add_argument("--reference", default=None, help="curve the gaps are measured against (default: static, else slim)")

    gat = kinds.add_parser("gates", help="gate decisions: timelines, width share per category, segment SI-SNR by width",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    gat.add_argument("runs", nargs=1, metavar="RUN", help="one run folder")
    gat.add_argument("--utt", action="append", default=None, metavar="ID",
                     help="utterance id for a timeline (repeatable; default: the 2 with the most varied widths)")
    gat.add_argument("--model", default=None, help="model (default: a DSN entry with several widths)")
    gat.add_argument("--operating-point", type=float, default=None, metavar="BETA",
                     help="operating point (default: the one nearest 0)")
    gat.add_argument("--dataset", default=None, help="dataset (default: the model's first)")
    gat.add_argument("--audio-root", default=None, metavar="DIR",
                     help="corpus root for the waveforms, if it moved since the run (default: as the run read it)")

    ov = kinds.add_parser("overlap", help="GMAC/s and quality vs speaker overlap and noise activity (variant sets)",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ov.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s) with variant datasets")
    ov.add_argument("--metric", default="si_snri", help="quality metric (default: si_snri)")
    ov.add_argument("--all-entries", action="store_true",
                    help="a line for every entry (default: static widths and each DSN lambda at beta nearest 0)")

    from .history import add_plot_parser as add_history_parser
    add_history_parser(kinds)  # dsnbench plot history: the CI trend figure (commands/history.py)

    for q in (par, gat, ov):
        q.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG and PDF files")
        q.add_argument("--format", action="append", choices=("png", "pdf", "svg"), default=None,
                       help="file format (repeatable; default: png and pdf)")
        q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.collect import load_runs
    from ..analysis.style import use_headless_backend
    use_headless_backend()
    from ..analysis.figures import gate_figures, overlap_noise_figure, pareto_figures, save_figures
    from ..errors import UserError

    runs = load_runs(args.runs)
    if args.kind == "pareto":
        figs = pareto_figures(runs, args.metric, args.dataset, args.reference)
    elif args.kind == "gates":
        figs = gate_figures(runs[0], utt_ids=args.utt, model=args.model, operating_point=args.operating_point,
                            dataset=args.dataset, audio_root=args.audio_root)
    else:
        figs = overlap_noise_figure(runs, args.metric, args.all_entries)
        if not figs:
            raise UserError("no variant datasets in these runs: none records an overlap ratio or noise activity "
                            "(build them with 'dsnbench data variant')")
    formats = tuple(dict.fromkeys(args.format)) if args.format else ("png", "pdf")
    for path in save_figures(figs, args.out, formats):
        print(path)
    return 0
