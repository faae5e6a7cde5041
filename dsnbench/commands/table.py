"""``dsnbench table``: the results table as papers print it (Markdown or LaTeX)."""
from __future__ import annotations

import argparse

EPILOG = """examples:
  dsnbench table runs/mini                              # Markdown, one block per dataset
  dsnbench table runs/static runs/dsn --format latex > table.tex
  dsnbench table runs/mini --metrics si_snri,sdri,pesq,stoi,estoi --intervals brackets
  dsnbench table runs/mini --gaps                       # + each point against the static curve
  dsnbench table runs/mini --gaps --format latex        # the same as LaTeX tables
  dsnbench table runs/mini --gaps --reference slim      # ... against the supernet's fixed widths
  dsnbench table runs/gvw --gaps --reference own        # each DSN against its own weights at fixed widths
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="results table (Markdown or LaTeX) from run folders",
                       description="Print model, parameters, GMAC/s and quality metrics with bootstrap 95 % "
                                   "intervals, one block per dataset, for one or more run folders.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s)")
    from ..analysis.kinds import TABLES
    p.add_argument("--format", choices=TABLES.in_order(), default="md",
                   help="md (default), latex (booktabs) or another registered table format")
    p.add_argument("--metrics", default=None,
                   help="comma-separated quality columns (default: si_snri,sdri,pesq,stoi)")
    p.add_argument("--intervals", choices=("pm", "brackets", "none"), default="pm",
                   help="pm: mean ± half the 95 %% interval (default); brackets: mean [lo, hi]; none")
    p.add_argument("--dataset", action="append", default=None, help="only this dataset (repeatable)")
    p.add_argument("--gaps", action="store_true",
                   help="also print every slim/DSN point against the static networks' curve (Pareto front, "
                        "piecewise linear in GMAC/s) at the same cost, paired over utterances with a bootstrap "
                        "95 %% CI and Wilcoxon/t p-values; the area between each curve and the reference over "
                        "their shared GMAC/s range (paired CI); each front's hypervolume; for the first metric "
                        "(Markdown only)")
    p.add_argument("--reference", default=None, metavar="FAMILY",
                   help="with --gaps: the family whose curve the points are placed against (static, slim, dsn; "
                        "default static, else slim), or 'own': each DSN against its own checkpoint run at "
                        "fixed widths ({name: dsn-l1, width: w} entries; experiments/gate-vs-weights.yaml)")
    p.add_argument("--seed", type=int, default=0,
                   help="with --gaps: seed of the bootstrap intervals (default 0; the same seed gives the same table)")
    p.add_argument("--out", default=None, metavar="FILE", help="write to FILE instead of printing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.collect import entries_frame, load_runs
    from ..analysis.kinds import TABLES
    from ..analysis.tables import columns_for
    from ..errors import UserError

    runs = load_runs(args.runs)
    entries = entries_frame(runs)
    if entries.empty:
        raise UserError("the runs have no summary entries")
    if args.dataset:
        unknown = [d for d in args.dataset if d not in set(entries["dataset"])]
        if unknown:
            raise UserError(f"dataset {unknown[0]!r} is not in these runs (they have: {', '.join(sorted(set(entries['dataset'])))})")
        entries = entries[entries["dataset"].isin(args.dataset)]
    cols = columns_for([m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None)
    text = TABLES.get(args.format)(entries, cols, args.intervals)
    if args.gaps:
        if args.format not in ("md", "latex"):
            raise UserError(f"--gaps prints Markdown or LaTeX, not {args.format!r}")
        from ..analysis.gaps import gaps_latex_for, gaps_markdown_for
        key, header, _ = next(c for c in cols if c[0] != "gmacs")
        if args.reference and args.reference != "own" and args.reference not in set(entries["family"]):
            raise UserError(f"--reference {args.reference!r} is not a family in these runs "
                            f"(they have: {', '.join(sorted(set(entries['family'])))})")
        gaps_for = gaps_latex_for if args.format == "latex" else gaps_markdown_for
        text += "\n" + gaps_for(runs, entries, key, header, reference=args.reference, seed=args.seed)
    if args.out:
        from pathlib import Path
        from ..results import atomic_write_bytes
        atomic_write_bytes(Path(args.out), text.encode("utf-8"))
        print(args.out)
    else:
        print(text, end="")
    return 0
