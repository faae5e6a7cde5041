"""``dsnbench stats RUN_A RUN_B``: paired comparison of two models on the same utterances."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from ..results import json_safe

EPILOG = """\
examples:
  dsnbench stats runs/static runs/dsn
  dsnbench stats runs/sweep runs/sweep --model-a static-1.0 --model-b dsn-l1 --metric sdri
  dsnbench stats runs/a runs/b --metric pesqi --dataset wsj0-2mix --json

For one metric (default si_snri), the rows of model A in RUN_A and model B in RUN_B are paired
by utterance id (per dataset): mean of each, mean difference B - A with its 95 % bootstrap
interval (seeded), and paired-test p-values (Wilcoxon signed-rank, paired t). Utterances where
either value is NaN (a failed metric) are left out and counted.

A model, dataset or operating point must be named when a run holds more than one. The two
utterance sets must be identical: otherwise the command says how many ids are only in A and
only in B (with examples) and exits 3 (not comparable). So must the audio behind the ids: runs
whose manifests of the dataset differ (another root, or a variant such as the 50 %-overlap set,
which keeps the ids) exit 3 unless --allow-different-audio.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "stats", help="paired comparison of two models on the same utterances",
        description="Paired comparison of one metric between two models (two runs, or two "
                    "models of one run) on the same utterances.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_a", type=Path, help="run folder of model A")
    p.add_argument("run_b", type=Path, help="run folder of model B (may be the same folder)")
    p.add_argument("--metric", default="si_snri", help="a column of utterances.parquet (default si_snri)")
    p.add_argument("--model-a", default=None, help="model of RUN_A (needed if it holds several)")
    p.add_argument("--model-b", default=None, help="model of RUN_B (needed if it holds several)")
    p.add_argument("--dataset", default=None, help="dataset (needed if the runs share several)")
    p.add_argument("--op-a", type=float, default=None, help="operating point of model A")
    p.add_argument("--op-b", type=float, default=None, help="operating point of model B")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--allow-different-audio", action="store_true",
                   help="pair by utterance id even when the runs' manifests of the dataset differ")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.paired import compare_runs
    res = compare_runs(args.run_a, args.run_b, args.metric, args.model_a, args.model_b, args.dataset,
                       args.op_a, args.op_b, args.seed, args.n_boot, args.allow_different_audio)
    if args.json:
        sys.stdout.write(json.dumps(json_safe(res), indent=2) + "\n")
        return 0
    from ..metrics import column_info
    info = column_info(res["metric"])
    unit = info.spec.unit if info is not None else ""
    f = lambda v: "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"  # noqa: E731
    p = lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"  # noqa: E731
    lines = [
        f"{res['metric']} ({unit}) on {res['dataset']}: {res['n']} paired utterances"
        + (f", {res['n_dropped']} left out (NaN in A or B)" if res["n_dropped"] else ""),
        f"  A  {res['a']['model']:<24} mean {f(res['mean_a'])}   ({res['a']['run']})",
        f"  B  {res['b']['model']:<24} mean {f(res['mean_b'])}   ({res['b']['run']})",
        f"  B - A  mean {f(res['mean_diff'])}  95% CI [{f(res['ci95'][0])}, {f(res['ci95'][1])}]",
        f"  paired tests: Wilcoxon signed-rank p = {p(res['p_wilcoxon'])}, paired t p = {p(res['p_ttest'])}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
