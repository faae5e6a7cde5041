"""``dsnbench stats RUN_A RUN_B``: paired comparison of two models on the same utterances."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any
from ..results import json_safe

EPILOG = """\
examples:
  dsnbench stats runs/static runs/dsn
  dsnbench stats runs/sweep runs/sweep --model-a static-w1.0 --model-b dsn --metric sdri
  dsnbench stats runs/a runs/b --metric pesqi --dataset wsj0-2mix --json

For one metric (default si_snri), the rows of model A in RUN_A and model B in RUN_B are paired
by utterance id (per dataset): mean of each, mean difference B - A with its 95 % bootstrap
interval (seeded), and paired-test p-values (Wilcoxon signed-rank, paired t). Utterances where
either value is NaN (a failed metric) are left out and counted.

A model, dataset or operating point must be named when a run holds more than one. The two
utterance sets must be identical: otherwise the command says how many ids are only in A and
only in B (with examples) and exits 3 (not comparable).
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
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _pick(values: list, given: Any, what: str, path: Path) -> Any:
    if given is not None:
        if given not in values:
            raise _user_error(f"{path}: no {what} {given!r} (it holds {', '.join(map(str, values)) or 'none'})")
        return given
    if len(values) == 1:
        return values[0]
    raise _user_error(f"{path}: holds {len(values)} {what.split('-')[0]}s ({', '.join(map(str, values))}); "
                      f"choose one with --{what}")


def _user_error(msg: str, code: int | None = None):
    from ..errors import UserError
    return UserError(msg, code)


def _select(tables: Any, path: Path, metric: str, model: str, dataset: str, op: float | None,
            flag: str):
    df = tables.utterances
    if metric not in df.columns:
        raise _user_error(f"{path / 'utterances.parquet'}: no column {metric!r}")
    sel = df[(df["model"] == model) & (df["dataset"] == dataset)]
    ops = sorted({None if (isinstance(v, float) and math.isnan(v)) else float(v) for v in sel["operating_point"]},
                 key=lambda v: (v is not None, v if v is not None else 0.0))
    if op is None and len(ops) > 1:
        raise _user_error(f"{path}: model {model!r} has {len(ops)} operating points "
                          f"({', '.join('none' if o is None else f'{o:g}' for o in ops)}); choose one with --op-{flag}")
    if op is not None:
        if op not in ops:
            raise _user_error(f"{path}: model {model!r} has no operating point {op:g}")
        sel = sel[sel["operating_point"] == op]
    if sel["utt_id"].duplicated().any():
        raise _user_error(f"{path}: utterance ids repeat for model {model!r} on {dataset!r}")
    return model, sel.set_index("utt_id")[metric]


def compare_runs(run_a: Path, run_b: Path, metric: str = "si_snri", model_a: str | None = None,
                 model_b: str | None = None, dataset: str | None = None, op_a: float | None = None,
                 op_b: float | None = None, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """The paired comparison as a dict (what ``--json`` prints). Raises UserError on bad input."""
    from ..metrics.stats import paired_comparison
    from ..results import ResultsError, read_run
    try:
        ta, tb = read_run(run_a), read_run(run_b)
    except ResultsError as exc:
        raise _user_error(str(exc)) from None
    ma = model_a if model_a is not None else _pick(sorted(ta.utterances["model"].unique().tolist()), None, "model-a", run_a)
    mb = model_b if model_b is not None else _pick(sorted(tb.utterances["model"].unique().tolist()), None, "model-b", run_b)
    for m, t, p in ((ma, ta, run_a), (mb, tb, run_b)):
        if m not in set(t.utterances["model"]):
            raise _user_error(f"{p}: no model {m!r} (it holds {', '.join(sorted(t.utterances['model'].unique()))})")
    da = set(ta.utterances.loc[ta.utterances["model"] == ma, "dataset"])
    db = set(tb.utterances.loc[tb.utterances["model"] == mb, "dataset"])
    common = sorted(da & db)
    if not common:
        raise _user_error(f"models {ma!r} and {mb!r} share no dataset ({sorted(da)} vs {sorted(db)})", 3)
    if dataset is None:
        if len(common) > 1:
            raise _user_error(f"the runs share {len(common)} datasets ({', '.join(common)}); choose one with --dataset")
        dataset = common[0]
    elif dataset not in common:
        raise _user_error(f"dataset {dataset!r} is not evaluated for both models (shared: {', '.join(common)})")
    _, sa = _select(ta, run_a, metric, ma, dataset, op_a, "a")
    _, sb = _select(tb, run_b, metric, mb, dataset, op_b, "b")
    ids_a, ids_b = set(sa.index), set(sb.index)
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)

        def ex(ids: list) -> str:
            return f" (e.g. {', '.join(ids[:3])})" if ids else ""
        raise _user_error(f"not comparable: the utterance sets differ on {dataset!r}: {len(only_a)} id(s) only in "
                          f"A{ex(only_a)}, {len(only_b)} only in B{ex(only_b)} ({len(ids_a & ids_b)} shared)", 3)
    ids = sorted(ids_a)
    res = paired_comparison(sa.loc[ids].to_numpy(dtype=float), sb.loc[ids].to_numpy(dtype=float),
                            seed=seed, n_boot=n_boot)
    return {"metric": metric, "dataset": dataset,
            "a": {"run": str(run_a), "model": ma, "operating_point": op_a},
            "b": {"run": str(run_b), "model": mb, "operating_point": op_b},
            "n_utterances": len(ids), **res}


def run(args: argparse.Namespace) -> int:
    res = compare_runs(args.run_a, args.run_b, args.metric, args.model_a, args.model_b, args.dataset,
                       args.op_a, args.op_b, args.seed, args.n_boot)
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
