"""Choose, per model, one of several runs of the same recipe by validation only.

Each argument is a finished training folder of `dsnbench train` (``config.yaml``, ``log.csv``
and ``<name>.safetensors``). Runs are grouped by the checkpoint's name (``static-0.75``, ...);
within a group the chosen run is the one whose exported weights have the highest validation
SI-SNRi (``provenance.val_si_snri``: the averaged weights when ``average_last`` is set), ties to
the lower seed. Test data plays no part. Prints one row per run, the spread per group, and the
choice; ``--install DEST`` copies each chosen run into DEST as `dsnbench train` exports it.

    .venv/bin/python experiments/train/pick_seed.py runs/train/mini-static-*-phase5 \\
        runs/train/mini-static-*-phase5-s1[67]                      # report only
    .venv/bin/python experiments/train/pick_seed.py ... --install dsnbench/assets/checkpoints

Runs of one group must share everything but the seed (same stage, width, steps, init and
recipe); otherwise picking among them compares recipes, not seeds, and the script refuses.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from dsnbench.errors import UserError
from dsnbench.models.checkpoint import CheckpointError, load_checkpoint
from dsnbench.train.checkpoints import SUFFIX, export

#: training-config keys allowed to differ between the runs of one group
FREE_KEYS = ("seed", "export")


def read_run(folder: Path) -> dict:
    """One finished training folder -> its name, seed, validation figures and recipe."""
    cks = sorted(folder.glob(f"*{SUFFIX}"))
    if len(cks) != 1:
        raise UserError(f"{folder}: expected one finished checkpoint (*{SUFFIX}), found {len(cks)}")
    for need in ("config.yaml", "log.csv"):
        if not (folder / need).is_file():
            raise UserError(f"{folder}: no {need}; not a folder written by dsnbench train")
    try:
        prov = load_checkpoint(cks[0]).provenance
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    val = prov.get("validation", {})
    recipe = {k: v for k, v in prov.get("training_config", {}).items() if k not in FREE_KEYS}
    return {"name": prov["name"], "seed": int(prov["seed"]), "val_si_snri": float(prov["val_si_snri"]),
            "val_clean": val.get("si_snri_clean"), "val_noisy": val.get("si_snri_noisy"),
            "folder": str(folder), "checkpoint": cks[0], "recipe": recipe}


def choose(runs: list[dict]) -> pd.DataFrame:
    """One row per run, sorted by name then seed, with ``chosen`` marking each group's pick."""
    table = pd.DataFrame(runs).sort_values(["name", "seed"], kind="stable").reset_index(drop=True)
    dup = table[table.duplicated(["name", "seed"], keep=False)]
    if len(dup):
        raise UserError(f"two runs of {dup.iloc[0]['name']} with seed {dup.iloc[0]['seed']}: "
                        f"{', '.join(dup['folder'])}")
    table["chosen"] = False
    for name, group in table.groupby("name", sort=True):
        first = group.iloc[0]
        for _, other in group.iloc[1:].iterrows():
            if other["recipe"] != first["recipe"]:
                diff = sorted(k for k in set(first["recipe"]) | set(other["recipe"])
                              if first["recipe"].get(k) != other["recipe"].get(k))
                raise UserError(f"{other['folder']}: not the recipe of {first['folder']} "
                                f"(differs in {', '.join(diff)}); only the seed may differ")
        # highest validation first; among equals the lower seed (the group is sorted by seed)
        best = group["val_si_snri"].idxmax()
        table.loc[best, "chosen"] = True
    return table


def report(table: pd.DataFrame) -> str:
    lines = [f"{'model':<14} {'seed':>4} {'val SI-SNRi':>11} {'clean':>6} {'noisy':>6}  folder"]
    for name, group in table.groupby("name", sort=True):
        for _, r in group.iterrows():
            mark = "  <- chosen" if r["chosen"] else ""
            lines.append(f"{name:<14} {r['seed']:>4} {r['val_si_snri']:>11.3f} {r['val_clean']:>6.2f} "
                         f"{r['val_noisy']:>6.2f}  {r['folder']}{mark}")
        v = group["val_si_snri"]
        sd = v.std(ddof=1) if len(v) > 1 else float("nan")
        lines.append(f"{name:<14} {'all':>4} {v.mean():>11.3f}  sd {sd:.3f}, range {v.max() - v.min():.3f} "
                     f"over {len(v)} seeds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="finished dsnbench train folders")
    ap.add_argument("--install", type=Path, default=None,
                    help="copy each chosen run here (checkpoint + training/<name>.{yaml,csv})")
    args = ap.parse_args(argv)
    try:
        table = choose([read_run(f) for f in args.runs])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(table))
    if args.install is not None:
        for _, r in table[table["chosen"]].iterrows():
            folder = Path(r["folder"])
            target = export(r["checkpoint"], folder / "log.csv", folder / "config.yaml", args.install, r["name"])
            print(f"installed {r['name']} (seed {r['seed']}) -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
