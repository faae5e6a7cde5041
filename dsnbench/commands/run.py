"""``dsnbench run``: evaluate models on datasets into a run folder."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EPILOG = """examples:
  dsnbench run                                   # the bundled default experiment
  dsnbench run --model oracle-mixture --model oracle-irm --dataset mini-2mix --out runs/anchors
  dsnbench run --model oracle-irm --dataset wsj0-2mix --root /data/wsj0-mix/2speakers --out runs/wsj
  dsnbench run --model oracle-irm --dataset wham --task sep_noisy --root /data/wham --limit 20
  dsnbench run experiments/mini.yaml --set limit=5 --out runs/quick
  dsnbench run experiments/sweeps/mini-sweep.yaml --dry-run       # list a sweep's entries
  dsnbench run experiments/sweeps/mini-sweep.yaml --engine dask --workers 2
  dsnbench run experiments/sweeps/mini-sweep.yaml --scheduler tcp://10.0.0.5:8786
  dsnbench run --device auto --batch-size 8 --out runs/gpu         # on the GPU when there is one
  dsnbench run --model dsn-l1 --allocation oracle --mu 0 0.5 1 --dataset mini-2mix --out runs/oracle
"""


class _InOrder(argparse._AppendAction):
    """``append``, and also remember the order of --model and --operating-point, so that an
    operating point belongs to the model it follows."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        super().__call__(parser, namespace, values, option_string)
        order = list(getattr(namespace, "model_order", None) or [])
        order.append((self.dest, values))
        namespace.model_order = order


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="evaluate models on datasets into a run folder",
                       description="Evaluate models on datasets; writes summary.json, utterances.parquet "
                                   "and segments.parquet (schema 1) into --out. Started again with the "
                                   "same --out, a killed run continues where it stopped.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", nargs="?", help="experiment YAML (default: the bundled default experiment "
                   "when no --model/--dataset is given)")
    p.add_argument("--model", action=_InOrder, default=None, metavar="NAME",
                   help="registry name, checkpoint path or adapter:path (repeatable)")
    p.add_argument("--dataset", action="append", default=None, metavar="NAME",
                   help="registered dataset name (repeatable; see 'dsnbench ls datasets')")
    from ..data import add_dataset_arguments
    add_dataset_arguments(p, dataset_flag=None)  # --root, --sample-rate, --mode, --split, --task
    p.add_argument("--operating-point", action=_InOrder, type=float, default=None, metavar="BETA",
                   help="gate operating point(s) of the --model it follows (repeatable); given before "
                        "any --model, of every model that has operating points (the DSNs)")
    p.add_argument("--allocation", choices=("oracle",), default=None,
                   help="run each --model (a supernet or a DSN) with the oracle allocation of its widths per "
                        "segment: greedy per segment on the fixed-width outputs, then the real output with that "
                        "allocation forced (family oracle-allocation; results name <model>+oracle)")
    p.add_argument("--mu", nargs="+", type=float, default=None, metavar="MU",
                   help="with --allocation oracle: the multipliers of relative MACs (default 0 0.5 1 2 4)")
    p.add_argument("--metrics", default=None, help="comma-separated subset (default: all; see 'dsnbench ls metrics')")
    p.add_argument("--pesq-mode", choices=("nb", "wb"), default=None, help="force PESQ mode (wb needs 16 kHz)")
    p.add_argument("--uncounted-ops", choices=("error", "nan"), default=None,
                   help="a model using an op with no MAC rule: refuse (error, default) or run with its MACs "
                        "unknown (nan: NaN MACs, counted as failed[macs], one warning naming the ops)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N utterances of each dataset")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="metric worker processes (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a key of the experiment (dotted path, e.g. datasets.0.root=/data)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<experiment name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # sweeps and the Dask engine (dsnbench/run/sweep.py, dsnbench/run/dask_engine.py)
    p.add_argument("--dry-run", action="store_true",
                   help="list the (model, dataset, operating point) entries and their utterance counts; run nothing")
    from ..run.engines import ENGINES
    p.add_argument("--engine", choices=ENGINES.in_order(), default=None,
                   help="local process pool (default) or Dask distributed (default when --scheduler is given "
                        "or the experiment says engine: dask)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); default with "
                        "--engine dask: a LocalCluster, one single-threaded worker process per CPU")
    p.add_argument("--unit-size", type=int, default=None, metavar="N",
                   help="dask engine: utterances per work unit (default: chunk_size, 8, or fewer so "
                        "that every worker gets about 4 units; at least --batch-size)")
    # inference (dsnbench/run/unit.py, dsnbench/models/separators.py)
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="inference device: cpu (default), cuda, cuda:N or auto (cuda when there is one)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="mixtures per inference batch, bucketed by length (default 1); a model that "
                        "cannot take a batch runs one at a time, with a note")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                   help="inference precision (default fp32); part of the config hash, so compare calls runs "
                        "of different precisions not comparable unless --allow-precision")
    p.set_defaults(func=run)


def default_experiment_path() -> Path:
    return Path(__file__).resolve().parent.parent / "experiments" / "default.yaml"


def build_document(args: argparse.Namespace) -> tuple[dict, str]:
    """The experiment document from the file (if any) and the CLI options; and its name."""
    from ..data import DATASET_OPTIONS, dataset_options
    from ..documents import load_document
    from ..errors import UserError

    if args.experiment:
        doc, name = load_document(args.experiment), Path(args.experiment).stem
    elif args.model or args.dataset:
        doc, name = {}, "run"
    else:
        doc, name = load_document(default_experiment_path()), "default"
    leading_ops: list[float] = []  # operating points given before any --model
    if args.model:
        doc["models"] = []
        for dest, value in getattr(args, "model_order", None) or []:
            if dest == "model":
                doc["models"].append({"name": value})
            elif doc["models"]:
                doc["models"][-1].setdefault("operating_points", []).append(value)
            else:
                leading_ops.append(value)
    elif args.operating_point:
        leading_ops = list(args.operating_point)
    ds_opts = dataset_options(args)
    if args.dataset:
        doc["datasets"] = [dict(name=d, **ds_opts) for d in args.dataset]
    elif ds_opts:
        if not doc.get("datasets"):
            flags = "/".join(f"--{o.replace('_', '-')}" for o in DATASET_OPTIONS)
            raise UserError(f"{flags} need --dataset")
        doc["datasets"] = [dict({"name": d} if isinstance(d, str) else d, **ds_opts) for d in doc["datasets"]]
    if args.mu is not None and not args.allocation:
        raise UserError("--mu needs --allocation oracle")
    if args.allocation:
        if not args.model:
            raise UserError("--allocation needs --model (the slimmable model(s) to allocate)")
        doc["models"] = [dict(m, allocation=args.allocation, **({"operating_points": args.mu} if args.mu else {}))
                         for m in doc["models"]]
    args.leading_operating_points = leading_ops
    if args.metrics:
        doc["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    for key in ("pesq_mode", "limit", "workers", "device", "batch_size", "precision", "uncounted_ops"):
        v = getattr(args, key)
        if v is not None:
            doc[key] = v
    return doc, name


def run(args: argparse.Namespace) -> int:
    from ..run.config import build_config
    from ..run.engines import engine_options, run_experiment_with

    doc, name = build_document(args)
    engine = engine_options(doc, args)  # takes engine/scheduler/unit_size out of the document
    cfg = build_config(doc, args.overrides, where=args.experiment or "command line")
    if args.leading_operating_points:
        from ..run.plan import with_operating_points
        cfg = with_operating_points(cfg, args.leading_operating_points)
    out = Path(args.out) if args.out else Path("runs") / name
    if args.dry_run:  # list the entries, evaluate nothing
        from ..run.plan import format_plan, plan_entries
        print(format_plan(plan_entries(cfg, out), show_done=(out / "parts").is_dir()))
        return 0
    summary = run_experiment_with(cfg, out, engine, progress=not args.no_progress)
    print_summary(summary, out)
    from ..run.summary import entries_with_no_result
    problem = entries_with_no_result(summary, out)
    if problem:
        print(f"dsnbench run: error: {problem}", file=sys.stderr)
        return 1
    return 0


def _fmt(x: object) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.2f}" if isinstance(x, float) else str(x)


def print_summary(summary: dict, out: Path, file=None) -> None:
    """One short table of means, then the run folder's path."""
    file = file if file is not None else sys.stdout
    from ..metrics import headline_columns
    main = [m for m in headline_columns() if any(m in e["metrics"] for e in summary["entries"])]
    header = ["model", "dataset", "op"] + main + ["GMAC/s", "n", "failed"]
    rows = []
    for e in summary["entries"]:
        failed = sum(v for k, v in e["n_utterances"]["failed"].items() if k in ("separation",) or k in main)
        rows.append([e["model"], e["dataset"], "-" if e["operating_point"] is None else f"{e['operating_point']:g}"]
                    + [_fmt(e["metrics"].get(m, {}).get("mean")) for m in main]
                    + [_fmt(e["gmacs_per_s"]["mean"]), str(e["n_utterances"]["evaluated"]), str(failed)])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(header), file=file)
    for r in rows:
        print(line(r), file=file)
    print(f"\nrun folder: {out}", file=file)
