"""``dsnbench compare BASELINE NEW``: find regressions between two runs (exit 1 on one)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """\
examples:
  dsnbench compare results/mini/baseline runs/mini
  dsnbench compare old/summary.json new/summary.json --tol si_snri=0.1 --tol gmacs_per_s=0.01
  dsnbench compare results/mini/baseline runs/mini --markdown > comment.md

A value regresses when the new mean is worse than the baseline's by more than the metric's
absolute tolerance in its bad direction (lower SI-SNRi, higher GMAC/s); a number that became
NaN, a failure count that grew and an entry missing from NEW are regressions too.
Tolerances come from the baseline's metrics_meta (else the metric registry); --tol overrides.

exit codes: 0 no regression, 1 regression, 2 usage error, 3 not comparable
(different schema version, dataset manifest or metric settings; the reason is printed).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="compare a new run with a baseline; exit 1 on a regression",
        description="Compare two runs (run folders or summary.json files) per model, dataset, "
                    "operating point and metric, and flag regressions beyond tolerance.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", type=Path, help="baseline run folder or its summary.json")
    p.add_argument("new", type=Path, help="new run folder or its summary.json")
    p.add_argument("--tol", action="append", default=[], metavar="METRIC=VALUE",
                   help="absolute tolerance for one metric, in its unit (repeatable)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the comparison as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print markdown (pull-request comment)")
    p.add_argument("--show", choices=["all", "changed", "regressions"], default="all",
                   help="rows of the terminal table (default: all)")
    p.add_argument("--output", "-o", type=Path, default=None,
                   help="also write the chosen format to this file")
    p.add_argument("--markdown-file", type=Path, default=None, metavar="FILE",
                   help="also append the markdown to FILE (e.g. \"$GITHUB_STEP_SUMMARY\")")
    p.add_argument("--json-file", type=Path, default=None, metavar="FILE", help="also write the JSON to FILE")
    p.add_argument("--allow-precision", action="store_true",
                   help="compare runs whose inference precision differs (fp32 vs bf16/fp16) instead of "
                        "calling them not comparable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compare import compare_paths, parse_tolerances
    comparison = compare_paths(args.baseline, args.new, parse_tolerances(args.tol),
                               allow_precision=args.allow_precision)
    if args.json:
        text = comparison.to_json()
    elif args.markdown:
        text = comparison.to_markdown()
    else:
        text = comparison.to_text(show=args.show)
    sys.stdout.write(text)
    from ..results import atomic_write_bytes
    if args.output is not None:
        atomic_write_bytes(args.output, text.encode())
    if args.json_file is not None:
        atomic_write_bytes(args.json_file, comparison.to_json().encode())
    if args.markdown_file is not None:
        # appended, not replaced: a CI job summary file collects several steps' output
        args.markdown_file.parent.mkdir(parents=True, exist_ok=True)
        with args.markdown_file.open("a") as f:
            f.write(comparison.to_markdown())
    return comparison.exit_code
