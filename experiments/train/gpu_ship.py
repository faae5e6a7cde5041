"""Apply the ship rule of experiments/train/gpu/README.md to a retrained bundle: what a one-shot
GPU retraining returned (``retrained.tar``) or a folder in the bundle's layout (the CPU
lineage's staging folder, ``experiments/train/lineage``), and with ``--install`` copy the
winners into the bundle.

    .venv/bin/python experiments/train/gpu_ship.py OUT/retrained.tar [--install]
    .venv/bin/python experiments/train/gpu_ship.py experiments/train/lineage --whole [--install]

Prints, per model, the clean full-overlap validation SI-SNRi of the bundled and of the new
checkpoint (supernet: at widths 1.0 and 0.25) and the decision. ``--whole`` (the lineage's
rule: its widths are compared with one shared seed, so it ships as a set or not at all): every
model ships when every new static and the new supernet at both widths beat the bundled ones;
otherwise nothing does.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from dsnbench.models.checkpoint import load_checkpoint  # noqa: E402
from dsnbench.train import data as tdata  # noqa: E402
from dsnbench.train.pack import DEFAULT_PACK  # noqa: E402
from dsnbench.train.trainer import evaluate  # noqa: E402

BUNDLE = REPO / "dsnbench" / "assets" / "checkpoints"
STAGE = {"static": "static", "supernet": "supernet", "dsn": "gate"}


def clean_full_score(path: Path, pack: Path, width: float | None = None) -> float:
    """SI-SNRi of a checkpoint on the clean full-overlap validation set of its own config,
    built from ``pack``."""
    ck = load_checkpoint(path)
    d = dict(ck.provenance["training_config"]["data"])
    d["pack"] = str(pack)
    src = tdata.LibriMixSource(tdata.DataConfig.from_dict(d), "val")
    val = tdata.validation_set(src, clean_full=True)
    return evaluate(ck.build_model().eval(), val, STAGE[ck.family], width=width)["mean"]


def decide(new_dir: Path, pack: Path, bundle: Path = BUNDLE, whole: bool = False) -> dict[str, bool]:
    torch.set_num_threads(1)
    verdict: dict[str, bool] = {}
    for path in sorted(new_dir.glob("static-*.safetensors")):
        old = bundle / path.name
        new_s = clean_full_score(path, pack)
        old_s = clean_full_score(old, pack) if old.is_file() else float("-inf")
        verdict[path.stem] = new_s > old_s
        print(f"{path.stem:12s} bundled {old_s:6.2f} dB  new {new_s:6.2f} dB  -> "
              f"{'replace' if verdict[path.stem] else 'keep the bundled one'}")
    sup = new_dir / "supernet.safetensors"
    if sup.is_file():
        better = True
        for w in (1.0, 0.25):
            new_s = clean_full_score(sup, pack, w)
            old_s = clean_full_score(bundle / "supernet.safetensors", pack, w) \
                if (bundle / "supernet.safetensors").is_file() else float("-inf")
            better &= new_s > old_s
            print(f"supernet@{w:<4g} bundled {old_s:6.2f} dB  new {new_s:6.2f} dB")
        verdict["supernet"] = better
        gates = sorted(new_dir.glob("dsn-*.safetensors"))
        print(f"supernet family ({', '.join(g.stem for g in gates) or 'no gates'}) -> "
              f"{'replace' if better else 'keep the bundled ones'}")
        for g in gates:
            verdict[g.stem] = better
    if whole:
        missing = sorted(p.stem for p in bundle.glob("static-*.safetensors")
                         if not (new_dir / p.name).is_file())
        if missing:
            print(f"the new set lacks {', '.join(missing)}: a lineage ships whole")
        ships = ("supernet" in verdict and all(verdict.values()) and not missing
                 and any(n.startswith("dsn-") for n in verdict))
        print(f"whole set ({len(verdict)} models) -> {'replace the bundle' if ships else 'keep the bundle'}")
        verdict = {name: ships for name in verdict}
    return verdict


def install(new_dir: Path, verdict: dict[str, bool], bundle: Path) -> None:
    if verdict.get("supernet"):
        for old in bundle.glob("dsn-*.safetensors"):      # a gate must sit on its own supernet
            old.unlink()
    (bundle / "training").mkdir(parents=True, exist_ok=True)
    for name, ok in verdict.items():
        if ok:
            shutil.copyfile(new_dir / f"{name}.safetensors", bundle / f"{name}.safetensors")
            for ext in ("yaml", "csv"):
                shutil.copyfile(new_dir / "training" / f"{name}.{ext}", bundle / "training" / f"{name}.{ext}")
    print(f"installed: {', '.join(n for n, ok in verdict.items() if ok) or 'nothing'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="retrained.tar or a folder in the bundle's layout")
    p.add_argument("--pack", type=Path, default=REPO / DEFAULT_PACK)
    p.add_argument("--bundle", type=Path, default=BUNDLE, help="the bundle to compare with and install into")
    p.add_argument("--whole", action="store_true", help="ship every model or none (a lineage)")
    p.add_argument("--install", action="store_true", help="copy the winners into the bundle")
    args = p.parse_args(argv)
    if not args.pack.is_file():
        print(f"gpu_ship: {args.pack}: no training pack (build it: .venv/bin/python -m dsnbench.train.pack)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        if args.source.is_dir():
            new_dir = args.source
        else:
            with tarfile.open(args.source) as tar:
                tar.extractall(tmp, filter="data")
            new_dir = Path(tmp)
        verdict = decide(new_dir, args.pack, args.bundle, args.whole)
        if args.install:
            install(new_dir, verdict, args.bundle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
